//! The dark core of each object: what declumping measures shapes on.
//!
//! In trypan-blue brightfield every cell has dark material at its edge (the
//! rim of a live cell, the dye of a dead one), while live cells also carry a
//! faint bright halo just outside the rim. The halo is part of the object mask
//! (|z| counts both signs) and, in a clump, fuses neighbours into one fat blob
//! whose distance transform has a single maximum. The dark core leaves the
//! halo out: dark pixels, with the holes they enclose (bright centres) filled.

use crate::config::SegmentConfig;
use crate::image_types::{FloatImage, Mask};

/// Pixels of `mask` that are dark in `z` (below −threshold, same method and
/// levels as the mask), after a 1 px closing and filling of holes up to
/// `max_hole_area` pixels.
///
/// ```
/// use cellvia::{config::SegmentConfig, image_types::FloatImage};
/// // A live cell: bright centre (r < 4), dark rim (4..8), bright halo (8..11).
/// let z = FloatImage::from_fn(30, 30, |x, y| {
///     let r = ((x as f32 - 15.0).powi(2) + (y as f32 - 15.0).powi(2)).sqrt();
///     image::Luma([if r < 4.0 { 20.0 } else if r < 8.0 { -20.0 } else if r < 11.0 { 5.0 } else { 0.0 }])
/// });
/// let mask = image::GrayImage::from_fn(30, 30, |x, y| image::Luma([if z.get_pixel(x, y).0[0] != 0.0 { 255 } else { 0 }]));
/// let core = cellvia::segment::core::dark_core(&z, &mask, &SegmentConfig::default(), 500);
/// assert_eq!(core.get_pixel(15, 15).0[0], 255); // centre filled
/// assert_eq!(core.get_pixel(15, 24).0[0], 0);   // halo left out
/// ```
pub fn dark_core(z: &FloatImage, mask: &Mask, cfg: &SegmentConfig, max_hole_area: usize) -> Mask {
    // The dark part of z, max(-z, 0), is read on the fly by the threshold.
    let mut core =
        super::filled_objects(z, cfg, max_hole_area, usize::MAX, |v| (-v).max(0.0).abs());
    for (c, m) in core.as_mut().iter_mut().zip(mask.as_raw()) {
        if *m == 0 {
            *c = 0;
        }
    }
    core
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    #[test]
    fn touching_cells_fused_by_halos_have_separate_cores() {
        // Two live cells 17 px apart (radius 8): halos overlap, rims barely touch.
        let z = FloatImage::from_fn(60, 30, |x, y| {
            let v = [21.5f32, 38.5]
                .iter()
                .map(|&cx| {
                    let r = ((x as f32 - cx).powi(2) + (y as f32 - 15.0).powi(2)).sqrt();
                    if r < 4.0 {
                        20.0
                    } else if r < 8.0 {
                        -20.0
                    } else if r < 12.0 {
                        5.0
                    } else {
                        0.0
                    }
                })
                .fold(
                    0.0f32,
                    |a: f32, b: f32| if b.abs() > a.abs() { b } else { a },
                );
            Luma([v])
        });
        let mask = Mask::from_fn(60, 30, |x, y| {
            Luma([if z.get_pixel(x, y).0[0].abs() >= 3.0 {
                255
            } else {
                0
            }])
        });
        let core = dark_core(&z, &mask, &SegmentConfig::default(), 400);
        // The mask is one blob across the gap row; the core is narrow there.
        let mask_width = (0..30).filter(|&y| mask.get_pixel(30, y).0[0] != 0).count();
        let core_width = (0..30).filter(|&y| core.get_pixel(30, y).0[0] != 0).count();
        assert!(mask_width > 2 * core_width, "{mask_width} vs {core_width}");
        assert_eq!(core.get_pixel(21, 15).0[0], 255);
    }
}
