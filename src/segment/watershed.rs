//! Marker-controlled watershed on the distance transform: splits touching
//! cells along the necks between them.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::seeds::Seed;
use crate::image_types::{FloatImage, LabelImage, Mask};

/// Distances are ordered on a fixed-point grid so the queue's order is exact
/// and identical on every machine.
const PRIORITY_SCALE: f32 = 256.0;

/// Floods the mask from the seeds in order of decreasing distance to the
/// background, so each object pixel joins the seed whose basin reaches it
/// first. Seed `i` gets label `i + 1`. Mask pixels no seed reaches (objects
/// without a seed) keep label 0; see [`super::segment`] for how they are kept.
///
/// ```
/// use cellvia::segment::{distance::distance_to_background, seeds::find_seeds, watershed::watershed};
/// let m = image::GrayImage::from_fn(40, 20, |x, y| {
///     let d = |cx: f32| ((x as f32 - cx).powi(2) + (y as f32 - 10.0).powi(2)).sqrt();
///     image::Luma([if d(13.0) <= 6.0 || d(25.0) <= 6.0 { 255 } else { 0 }])
/// });
/// let dist = distance_to_background(&m);
/// let labels = watershed(&m, &dist, &find_seeds(&dist, 2.0, 4.0));
/// assert_ne!(labels.get_pixel(13, 10).0[0], labels.get_pixel(25, 10).0[0]);
/// ```
pub fn watershed(mask: &Mask, distance: &FloatImage, seeds: &[Seed]) -> LabelImage {
    let (w, h) = mask.dimensions();
    let (wi, hi) = (w as usize, h as usize);
    let inside = mask.as_raw();
    let dist = distance.as_raw();
    let mut labels = LabelImage::new(w, h);
    let out = labels.as_mut();
    // (priority, insertion order) → FIFO among equal distances.
    let mut queue: BinaryHeap<(u32, Reverse<u64>, usize)> = BinaryHeap::new();
    let mut order = 0u64;
    let priority = |i: usize| (dist[i] * PRIORITY_SCALE) as u32;
    for (n, s) in seeds.iter().enumerate() {
        let i = s.y as usize * wi + s.x as usize;
        if inside[i] != 0 && out[i] == 0 {
            out[i] = n as u32 + 1;
            queue.push((priority(i), Reverse(order), i));
            order += 1;
        }
    }
    while let Some((_, _, i)) = queue.pop() {
        let label = out[i];
        for j in super::neighbours4(i, wi, hi).into_iter().flatten() {
            if inside[j] != 0 && out[j] == 0 {
                out[j] = label;
                queue.push((priority(j), Reverse(order), j));
                order += 1;
            }
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::{distance::distance_to_background, seeds::find_seeds};

    fn discs(centres: &[(f32, f32)], r: f32) -> Mask {
        Mask::from_fn(64, 40, |x, y| {
            let hit = centres
                .iter()
                .any(|&(cx, cy)| (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2) <= r * r);
            image::Luma([if hit { 255 } else { 0 }])
        })
    }

    #[test]
    fn splits_two_touching_discs_into_two() {
        let m = discs(&[(20.0, 20.0), (36.0, 20.0)], 8.5);
        let d = distance_to_background(&m);
        let seeds = find_seeds(&d, 2.0, 4.0);
        assert_eq!(seeds.len(), 2);
        let labels = watershed(&m, &d, &seeds);
        let count = |l: u32| labels.as_raw().iter().filter(|&&v| v == l).count();
        let (a, b) = (count(1), count(2));
        assert!(a > 150 && b > 150, "{a} {b}");
        assert_eq!(a + b, m.as_raw().iter().filter(|&&v| v != 0).count());
        // The cut runs near x = 28, midway between the centres.
        assert_ne!(labels.get_pixel(26, 20).0[0], labels.get_pixel(30, 20).0[0]);
    }

    #[test]
    fn does_not_split_a_single_disc() {
        let m = discs(&[(30.0, 20.0)], 10.0);
        let d = distance_to_background(&m);
        assert_eq!(find_seeds(&d, 2.0, 4.0).len(), 1);
    }
}
