//! The dye channel of a colour brightfield image: how much bluer a pixel is
//! than the field's background.
//!
//! Trypan blue enters dead cells and absorbs red and green light far more
//! than blue, so a stained cell is *blue*, not only dark; a live cell
//! refracts light but absorbs no dye and keeps the lamp's colour. The blue
//! excess `(B − (R + G) / 2) / luma` is a ratio, so it does not change with
//! lamp brightness or vignetting; subtracting its field median removes the
//! lamp's or camera's colour cast (white balance). Gray images (one channel,
//! or R = G = B) carry no colour: they get no dye channel, and the model sees 0.

use image::DynamicImage;

use super::median_of;
use crate::image_types::FloatImage;

/// Below this luma (of full scale) the ratio is mostly noise; clamped.
const MIN_LUMA: f32 = 0.05;

/// An RGB image whose channels differ by less than this (of full scale) at
/// every sampled pixel is gray: exports of gray cameras as RGB, or LDC's
/// R = G = B files. 1.5 8-bit steps allows for JPEG chroma noise.
const GRAY_TOLERANCE: f32 = 1.5 / 255.0;

/// Blue excess of every pixel relative to the field's median, or `None` for
/// gray images.
///
/// ```
/// use cellvia::preprocess::dye::dye_excess;
/// use image::{DynamicImage, Rgb, RgbImage};
/// // A pale lamp (slightly yellow) with one blue-stained pixel.
/// let mut img = RgbImage::from_pixel(5, 5, Rgb([200, 200, 180]));
/// img.put_pixel(2, 2, Rgb([80, 90, 150]));
/// let dye = dye_excess(&DynamicImage::ImageRgb8(img)).unwrap();
/// assert_eq!(dye.get_pixel(0, 0).0[0], 0.0); // background: the cast is removed
/// assert!(dye.get_pixel(2, 2).0[0] > 0.5);
/// let gray = DynamicImage::ImageLuma8(image::GrayImage::new(5, 5));
/// assert!(dye_excess(&gray).is_none());
/// ```
pub fn dye_excess(image: &DynamicImage) -> Option<FloatImage> {
    if !image.color().has_color() {
        return None;
    }
    let rgb = image.to_rgb32f();
    let mut colour = false;
    let excess: Vec<f32> = rgb
        .pixels()
        .map(|p| {
            let [r, g, b] = p.0;
            colour |= (r - g).abs() > GRAY_TOLERANCE || (b - g).abs() > GRAY_TOLERANCE;
            let luma = (super::intensity::LUMA_WEIGHTS[0] * r
                + super::intensity::LUMA_WEIGHTS[1] * g
                + super::intensity::LUMA_WEIGHTS[2] * b)
                .max(MIN_LUMA);
            (b - 0.5 * (r + g)) / luma
        })
        .collect();
    if !colour {
        return None;
    }
    let cast = median_of(&excess);
    let (w, h) = rgb.dimensions();
    FloatImage::from_raw(w, h, excess.into_iter().map(|v| v - cast).collect())
}
