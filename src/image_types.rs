//! Image types shared by the stages.

use image::{ImageBuffer, Luma};

/// A single-channel `f32` image (intensities, z-scores, distances).
pub type FloatImage = ImageBuffer<Luma<f32>, Vec<f32>>;

/// A label image: 0 is background, objects are numbered 1..=n.
pub type LabelImage = ImageBuffer<Luma<u32>, Vec<u32>>;

/// A binary mask stored as 0 / 255, the convention imageproc's morphology uses.
pub type Mask = image::GrayImage;

/// Value of a set pixel in a [`Mask`].
pub const MASK_ON: u8 = 255;

/// A `w`×`h` mask set where `bits` (row-major, at least `w * h` long) is true:
/// how the property tests build arbitrary masks.
#[cfg(test)]
pub(crate) fn mask_from_bits(w: u32, h: u32, bits: &[bool]) -> Mask {
    Mask::from_fn(w, h, |x, y| {
        Luma([if bits[(y * w + x) as usize] {
            MASK_ON
        } else {
            0
        }])
    })
}
