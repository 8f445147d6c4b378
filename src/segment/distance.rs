//! Euclidean distance from each object pixel to the nearest background pixel.

use image::Luma;
use imageproc::distance_transform::euclidean_squared_distance_transform;

use crate::image_types::{FloatImage, Mask};

/// Exact Euclidean distance transform of a mask: 0 on background, for object
/// pixels the distance to the nearest background pixel (the image edge is not
/// background, so objects cut by the edge keep their inner distances).
///
/// ```
/// let m = image::GrayImage::from_raw(5, 1, vec![0, 255, 255, 255, 0]).unwrap();
/// let d = cellvia::segment::distance::distance_to_background(&m);
/// assert_eq!(d.as_raw(), &[0.0, 1.0, 2.0, 1.0, 0.0]);
/// ```
pub fn distance_to_background(mask: &Mask) -> FloatImage {
    let background = Mask::from_fn(mask.width(), mask.height(), |x, y| {
        Luma([if mask.get_pixel(x, y).0[0] == 0 {
            255
        } else {
            0
        }])
    });
    let squared = euclidean_squared_distance_transform(&background);
    let data = squared
        .as_raw()
        .iter()
        .map(|&d| (d as f32).sqrt())
        .collect();
    FloatImage::from_raw(mask.width(), mask.height(), data)
        .unwrap_or_else(|| FloatImage::new(mask.width(), mask.height()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference(mask: &Mask) -> Vec<f32> {
        let bg: Vec<(i64, i64)> = mask
            .enumerate_pixels()
            .filter(|(_, _, p)| p.0[0] == 0)
            .map(|(x, y, _)| (i64::from(x), i64::from(y)))
            .collect();
        mask.enumerate_pixels()
            .map(|(x, y, p)| {
                if p.0[0] == 0 {
                    return 0.0;
                }
                bg.iter()
                    .map(|&(bx, by)| {
                        (((bx - i64::from(x)).pow(2) + (by - i64::from(y)).pow(2)) as f32).sqrt()
                    })
                    .fold(f32::INFINITY, f32::min)
            })
            .collect()
    }

    proptest! {
        #[test]
        fn matches_brute_force(bits in proptest::collection::vec(proptest::bool::weighted(0.7), 100)) {
            let mut mask = Mask::from_fn(10, 10, |x, y| Luma([if bits[(y * 10 + x) as usize] { 255 } else { 0 }]));
            mask.put_pixel(0, 0, Luma([0])); // at least one background pixel
            let fast = distance_to_background(&mask);
            for (a, b) in fast.as_raw().iter().zip(reference(&mask)) {
                prop_assert!((a - b).abs() < 1e-4);
            }
        }
    }
}
