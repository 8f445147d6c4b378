//! Removal of counting-chamber rulings: straight runs far longer than any cell.

use crate::image_types::Mask;

/// Clears every pixel that lies on a horizontal or vertical run of set pixels
/// at least `min_length` long (a one-dimensional opening with a line). Grid
/// lines of hemocytometers are such runs; no cell or small clump is, so a cell
/// touching a ruling loses only the ruling.
///
/// ```
/// let mut m = image::GrayImage::from_fn(20, 20, |x, y| image::Luma([if y == 3 || (x == 10 && y > 8 && y < 13) { 255 } else { 0 }]));
/// cellvia::segment::lines::remove_long_runs(&mut m, 10);
/// assert_eq!(m.get_pixel(5, 3).0[0], 0);     // the 20 px ruling is gone
/// assert_eq!(m.get_pixel(10, 10).0[0], 255); // the short mark stays
/// ```
pub fn remove_long_runs(mask: &mut Mask, min_length: usize) {
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    let min = min_length.max(1);
    // Lengths above u32::MAX cannot occur in an image `Mask` can index.
    let min_u32 = u32::try_from(min).unwrap_or(u32::MAX);
    let data = mask.as_raw();
    // Runs found in both directions are cleared only at the end, so a
    // vertical run crossing a horizontal one is measured whole.
    let mut runs: Vec<(usize, usize, usize)> = Vec::new(); // (first index, step, length)
    for y in 0..h {
        let row = &data[y * w..(y + 1) * w];
        // Most rows have fewer set pixels than one long run: counted in a
        // pass that vectorises, they are not scanned run by run.
        if row.iter().map(|&v| usize::from(v != 0)).sum::<usize>() < min {
            continue;
        }
        let mut start = 0;
        // A virtual clear pixel after the row ends its last run.
        for (x, &v) in row.iter().chain(std::iter::once(&0)).enumerate() {
            if v != 0 {
                continue;
            }
            if x - start >= min {
                runs.push((y * w + start, 1, x - start));
            }
            start = x + 1;
        }
    }
    // Vertical runs, scanned row by row (a running length per column) so the
    // image is read in memory order. Both passes over a row vectorise; the
    // columns are searched for ending runs only in rows where a long one ends.
    let mut length = vec![0u32; w];
    for y in 0..h {
        let row = &data[y * w..(y + 1) * w];
        let long_run_ends = row
            .iter()
            .zip(&length)
            .fold(false, |found, (&v, &l)| found | ((v == 0) & (l >= min_u32)));
        if long_run_ends {
            for (x, (&v, &l)) in row.iter().zip(&length).enumerate() {
                if v == 0 && l >= min_u32 {
                    runs.push(((y - l as usize) * w + x, w, l as usize));
                }
            }
        }
        for (l, &v) in length.iter_mut().zip(row) {
            *l = (*l + 1) * u32::from(v != 0);
        }
    }
    // Runs that reach the bottom edge.
    for (x, &l) in length.iter().enumerate() {
        if l >= min_u32 {
            runs.push(((h - l as usize) * w + x, w, l as usize));
        }
    }
    let out = mask.as_mut();
    for (first, step, n) in runs {
        for k in 0..n {
            out[first + k * step] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition, directly: walk every row and column, clear long runs.
    fn reference(mask: &Mask, min_length: usize) -> Mask {
        let (w, h) = (mask.width() as usize, mask.height() as usize);
        let on = |x: usize, y: usize| mask.get_pixel(x as u32, y as u32).0[0] != 0;
        let mut out = mask.clone();
        for y in 0..h {
            for x in 0..w {
                let horizontal = (0..=x).rev().take_while(|&i| on(i, y)).count()
                    + (x + 1..w).take_while(|&i| on(i, y)).count();
                let vertical = (0..=y).rev().take_while(|&j| on(x, j)).count()
                    + (y + 1..h).take_while(|&j| on(x, j)).count();
                if on(x, y) && (horizontal >= min_length || vertical >= min_length) {
                    out.put_pixel(x as u32, y as u32, image::Luma([0]));
                }
            }
        }
        out
    }

    proptest! {
        #[test]
        fn matches_reference(
            w in 1u32..20,
            h in 1u32..20,
            min_length in 1usize..8,
            bits in proptest::collection::vec(proptest::bool::weighted(0.75), 400),
        ) {
            let mask = crate::image_types::mask_from_bits(w, h, &bits);
            let mut fast = mask.clone();
            remove_long_runs(&mut fast, min_length);
            prop_assert_eq!(fast, reference(&mask, min_length));
        }
    }
}
