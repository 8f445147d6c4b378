//! Hole filling: background regions enclosed by an object become part of it.

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
    let data = mask.as_mut();
    let mut seen = vec![false; data.len()];
    let mut runs = Vec::new();
    // 1. Background reachable from the edge is never a hole: mark it.
    let edge = (0..w)
        .flat_map(|x| [(x, 0), (x, h - 1)])
        .chain((0..h).flat_map(|y| [(0, y), (w - 1, y)]));
    for (x, y) in edge {
        flood(data, w, h, &mut seen, (x, y), &mut runs);
    }
    // 2. Every other background region is enclosed: fill it if small enough.
    for start in 0..data.len() {
        if data[start] != 0 || seen[start] {
            continue;
        }
        flood(data, w, h, &mut seen, (start % w, start / w), &mut runs);
        let area: usize = runs.iter().map(|&(_, x0, x1)| x1 - x0 + 1).sum();
        if area > 0 && area <= max_hole_area {
            for &(y, x0, x1) in &runs {
                data[y * w + x0..=y * w + x1].fill(MASK_ON);
            }
        }
    }
}

/// Scanline flood fill over unseen background from `start` (nothing if that
/// pixel is set or seen): marks it seen and leaves its horizontal runs
/// `(y, x_first, x_last)` in `runs`. 4-connected.
fn flood(
    data: &[u8],
    w: usize,
    h: usize,
    seen: &mut [bool],
    start: (usize, usize),
    runs: &mut Vec<(usize, usize, usize)>,
) {
    runs.clear();
    let open = |seen: &[bool], i: usize| data[i] == 0 && !seen[i];
    if !open(seen, start.1 * w + start.0) {
        return;
    }
    let mut stack = vec![start];
    while let Some((x, y)) = stack.pop() {
        if !open(seen, y * w + x) {
            continue;
        }
        let row = y * w;
        let (mut x0, mut x1) = (x, x);
        while x0 > 0 && open(seen, row + x0 - 1) {
            x0 -= 1;
        }
        while x1 + 1 < w && open(seen, row + x1 + 1) {
            x1 += 1;
        }
        seen[row + x0..=row + x1].fill(true);
        runs.push((y, x0, x1));
        for ny in [y.wrapping_sub(1), y + 1] {
            if ny >= h {
                continue;
            }
            let mut nx = x0;
            while nx <= x1 {
                if open(seen, ny * w + nx) {
                    stack.push((nx, ny));
                    while nx <= x1 && open(seen, ny * w + nx) {
                        nx += 1;
                    }
                } else {
                    nx += 1;
                }
            }
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
