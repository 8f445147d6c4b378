//! Hole filling: background regions enclosed by an object become part of it.

use super::runs::{Components, Connectivity};
use crate::image_types::{Mask, MASK_ON};

/// Fills 4-connected background regions that do not touch the image edge and
/// have at most `max_hole_area` pixels.
///
/// The area bound matters on counting chambers: a grid square closed by grid
/// lines is "enclosed" too, and filling it would swallow the cells inside.
///
/// ```
/// let mut m = image::GrayImage::from_raw(5, 5, vec![
///     0, 0, 0, 0, 0,
///     0, 255, 255, 255, 0,
///     0, 255, 0, 255, 0,
///     0, 255, 255, 255, 0,
///     0, 0, 0, 0, 0]).unwrap();
/// cellvia::segment::fill::fill_holes(&mut m, 10);
/// assert_eq!(m.get_pixel(2, 2).0[0], 255);
/// assert_eq!(m.get_pixel(0, 0).0[0], 0);
/// ```
pub fn fill_holes(mask: &mut Mask, max_hole_area: usize) {
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    if w == 0 || h == 0 {
        return;
    }
    let background = Components::of(mask.as_raw(), w, |&v| v == 0, Connectivity::Four);
    // Per background region: its area, and whether it reaches the image edge
    // (then it is never a hole).
    let mut area = vec![0usize; background.count as usize];
    let mut open = vec![false; background.count as usize];
    for (run, &c) in background.runs.iter().zip(&background.component) {
        area[c as usize] += run.x1 - run.x0;
        open[c as usize] |= run.y == 0 || run.y == h - 1 || run.x0 == 0 || run.x1 == w;
    }
    let data = mask.as_mut();
    for (run, &c) in background.runs.iter().zip(&background.component) {
        if !open[c as usize] && area[c as usize] <= max_hole_area {
            data[run.y * w + run.x0..run.y * w + run.x1].fill(MASK_ON);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(size: u32, inner: f32, outer: f32) -> Mask {
        let c = (size as f32 - 1.0) / 2.0;
        Mask::from_fn(size, size, |x, y| {
            let r = ((x as f32 - c).powi(2) + (y as f32 - c).powi(2)).sqrt();
            image::Luma([if r >= inner && r <= outer { MASK_ON } else { 0 }])
        })
    }

    #[test]
    fn small_hole_filled_large_hole_kept() {
        let mut small = ring(31, 4.0, 7.0);
        fill_holes(&mut small, 100);
        assert_eq!(small.get_pixel(15, 15).0[0], MASK_ON);
        let mut large = ring(31, 4.0, 7.0);
        fill_holes(&mut large, 10);
        assert_eq!(large.get_pixel(15, 15).0[0], 0);
    }

    #[test]
    fn region_open_to_the_edge_is_not_a_hole() {
        let mut m = Mask::from_fn(6, 6, |x, _| image::Luma([if x == 2 { MASK_ON } else { 0 }]));
        let before = m.clone();
        fill_holes(&mut m, 100);
        assert_eq!(m, before);
    }

    /// The definition, slowly: flood each background region breadth-first.
    fn reference(mask: &mut Mask, max_hole_area: usize) {
        let (w, h) = (mask.width() as usize, mask.height() as usize);
        let data = mask.as_mut();
        let mut seen = vec![false; data.len()];
        for start in 0..data.len() {
            if data[start] != 0 || seen[start] {
                continue;
            }
            let (mut region, mut queue) = (vec![], std::collections::VecDeque::from([start]));
            seen[start] = true;
            while let Some(i) = queue.pop_front() {
                region.push(i);
                for j in crate::segment::neighbours4(i, w, h).into_iter().flatten() {
                    if data[j] == 0 && !seen[j] {
                        seen[j] = true;
                        queue.push_back(j);
                    }
                }
            }
            let enclosed = region
                .iter()
                .all(|&i| i % w != 0 && i % w != w - 1 && i / w != 0 && i / w != h - 1);
            if enclosed && region.len() <= max_hole_area {
                for i in region {
                    data[i] = MASK_ON;
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn matches_reference(
            w in 1u32..24,
            h in 1u32..24,
            max_hole_area in 0usize..40,
            bits in proptest::collection::vec(proptest::bool::weighted(0.6), 576),
        ) {
            let mask = crate::image_types::mask_from_bits(w, h, &bits);
            let (mut fast, mut slow) = (mask.clone(), mask);
            fill_holes(&mut fast, max_hole_area);
            reference(&mut slow, max_hole_area);
            proptest::prop_assert_eq!(fast, slow);
        }
    }
}
