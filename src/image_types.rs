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
