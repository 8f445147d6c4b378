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

/// Rows converted to float RGB at a time. A whole-image conversion was the
/// peak of a colour field: 12 bytes a pixel beside the decoded image, the
/// intensity and the excess (one 10000×10000 RGB field, 1 thread: 3.0 GB
/// peak RSS, 2.3 GB in strips). Strips before the first coloured one are
/// converted twice; colour usually shows in the first.
const STRIP_ROWS: u32 = 64;

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
    let mut excess = blue_excesses(image)?;
    let cast = median_of(&excess);
    excess.iter_mut().for_each(|v| *v -= cast);
    FloatImage::from_raw(image.width(), image.height(), excess)
}

/// The colour cast [`dye_excess`] subtracts (the field's median blue
/// excess), or `None` for gray images: with it, [`DyeWindows`] gives the
/// dye a window at a time.
pub fn dye_cast(image: &DynamicImage) -> Option<f32> {
    blue_excesses(image).map(|excess| median_of(&excess))
}

/// The blue excess of every pixel, in raster order, or `None` for gray
/// images.
fn blue_excesses(image: &DynamicImage) -> Option<Vec<f32>> {
    if !image.color().has_color() {
        return None;
    }
    let (w, h) = (image.width(), image.height());
    let strip = |y: u32| image.crop_imm(0, y, w, STRIP_ROWS.min(h - y)).to_rgb32f();
    let strips = (0..h).step_by(STRIP_ROWS as usize);
    let colour = match image {
        DynamicImage::ImageRgb8(rgb) => rgb8_coloured(rgb.as_raw()),
        _ => strips
            .clone()
            .any(|y| strip(y).pixels().any(|p| coloured(p.0))),
    };
    if !colour {
        return None;
    }
    let mut excess: Vec<f32> = Vec::with_capacity(w as usize * h as usize);
    match image {
        // From the bytes, scaled as `to_rgb32f` scales them: `crop_imm`
        // copied each strip pixel by pixel (`cargo bench --bench decode --
        // dye_excess_colour_rgb`: 225×219 385 → 181 µs, 2048×1536 21.4 →
        // 11.4 ms).
        DynamicImage::ImageRgb8(rgb) => {
            let (pixels, _) = rgb.as_raw().as_chunks::<3>();
            excess.extend(pixels.iter().map(|p| blue_excess(p.map(unit))));
        }
        _ => {
            for y in strips {
                excess.extend(strip(y).pixels().map(|p| blue_excess(p.0)));
            }
        }
    }
    Some(excess)
}

/// An 8-bit sample on the 0..=1 scale of `to_rgb32f`.
fn unit(v: u8) -> f32 {
    (f32::from(v) / f32::from(u8::MAX)).clamp(0.0, 1.0)
}

/// The dye channel of a colour field read a window at a time from its
/// decoded image, bit for bit the plane [`dye_excess`] makes. Crops read
/// only windows around objects, so the field keeps its decoded image (3
/// bytes a pixel for 8-bit RGB) instead of a float plane of dye (4) beside
/// its intensity and labels, which was a colour field's peak.
#[derive(Debug)]
pub struct DyeWindows {
    image: DynamicImage,
    cast: f32,
}

impl DyeWindows {
    /// The dye of `image`, whose cast is `cast` ([`dye_cast`]).
    ///
    /// ```
    /// use cellvia::preprocess::dye::{dye_cast, dye_excess, DyeWindows};
    /// use image::{DynamicImage, Rgb, RgbImage};
    /// let mut img = RgbImage::from_pixel(5, 4, Rgb([200, 200, 180]));
    /// img.put_pixel(2, 2, Rgb([80, 90, 150]));
    /// let image = DynamicImage::ImageRgb8(img);
    /// let plane = dye_excess(&image).unwrap();
    /// let dye = DyeWindows::new(image.clone(), dye_cast(&image).unwrap());
    /// let window = dye.window(1, 1, 4, 3);
    /// assert_eq!(window.dimensions(), (3, 2));
    /// assert_eq!(window.get_pixel(1, 1), plane.get_pixel(2, 2));
    /// ```
    pub fn new(image: DynamicImage, cast: f32) -> Self {
        DyeWindows { image, cast }
    }

    /// The field's width and height.
    pub fn dimensions(&self) -> (u32, u32) {
        (self.image.width(), self.image.height())
    }

    /// The dye of columns `x0..x1`, rows `y0..y1` (within the field).
    pub fn window(&self, x0: u32, y0: u32, x1: u32, y1: u32) -> FloatImage {
        let (ww, wh) = (x1 - x0, y1 - y0);
        let values: Vec<f32> = match &self.image {
            DynamicImage::ImageRgb8(rgb) => {
                let row = 3 * rgb.width() as usize;
                let mut values = Vec::with_capacity(ww as usize * wh as usize);
                for line in rgb
                    .as_raw()
                    .chunks_exact(row)
                    .skip(y0 as usize)
                    .take(wh as usize)
                {
                    let (pixels, _) = line[3 * x0 as usize..3 * x1 as usize].as_chunks::<3>();
                    values.extend(pixels.iter().map(|p| blue_excess(p.map(unit)) - self.cast));
                }
                values
            }
            other => other
                .crop_imm(x0, y0, ww, wh)
                .to_rgb32f()
                .pixels()
                .map(|p| blue_excess(p.0) - self.cast)
                .collect(),
        };
        FloatImage::from_raw(ww, wh, values).unwrap_or_else(|| FloatImage::new(ww, wh))
    }
}

/// Whether a pixel's channels differ beyond [`GRAY_TOLERANCE`].
fn coloured([r, g, b]: [f32; 3]) -> bool {
    (r - g).abs() > GRAY_TOLERANCE || (b - g).abs() > GRAY_TOLERANCE
}

/// [`coloured`] for any pixel of packed 8-bit RGB, on the bytes: channels
/// 1 step apart are within [`GRAY_TOLERANCE`] (1.5 steps), 2 are beyond.
/// Each byte is compared with the next (R with G and G with B; B with the
/// next pixel's R is masked off), in blocks without an early exit inside,
/// which vectorises. `cargo bench --bench decode -- dye_excess_grey_rgb` (a
/// grey field as RGB): 225×219 180 → 15 µs, 2048×1536 8.6 → 1.2 ms
/// (strips converted to float and tested pixel by pixel before).
fn rgb8_coloured(raw: &[u8]) -> bool {
    const BLOCK: usize = 3 * 256;
    let within_pixel: [bool; BLOCK] = std::array::from_fn(|i| i % 3 != 2);
    let next = raw.get(1..).unwrap_or_default();
    raw.chunks(BLOCK)
        .zip(next.chunks(BLOCK))
        .any(|(this, next)| {
            this.iter()
                .zip(next)
                .zip(&within_pixel)
                .fold(false, |found, ((&a, &b), &inside)| {
                    found | (inside & (a.abs_diff(b) > 1))
                })
        })
}

/// `(B − (R + G) / 2) / luma` of one pixel (see the module documentation).
fn blue_excess([r, g, b]: [f32; 3]) -> f32 {
    let luma = (super::intensity::LUMA_WEIGHTS[0] * r
        + super::intensity::LUMA_WEIGHTS[1] * g
        + super::intensity::LUMA_WEIGHTS[2] * b)
        .max(MIN_LUMA);
    (b - 0.5 * (r + g)) / luma
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    /// Slow reference: the whole image converted at once.
    fn reference(image: &DynamicImage) -> Option<Vec<f32>> {
        let rgb = image.to_rgb32f();
        let colour = rgb.pixels().any(|p| coloured(p.0));
        let excess: Vec<f32> = rgb.pixels().map(|p| blue_excess(p.0)).collect();
        let cast = median_of(&excess);
        colour.then(|| excess.iter().map(|v| v - cast).collect())
    }

    proptest::proptest! {
        /// Strip by strip gives the whole-image bits, over strip edges, and
        /// finds colour wherever it is (also in the last strip only).
        #[test]
        fn strips_equal_the_whole_image(
            w in 1u32..12,
            h in 1u32..(3 * STRIP_ROWS),
            seed in proptest::num::u64::ANY,
            colour_row in proptest::option::of(0u32..(3 * STRIP_ROWS)),
        ) {
            let mut state = seed | 1;
            let mut next = || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 56) as u8
            };
            let mut img = RgbImage::from_fn(w, h, |_, _| {
                let v = next();
                Rgb([v, v, v])
            });
            if let Some(y) = colour_row.filter(|&y| y < h) {
                img.put_pixel(w / 2, y, Rgb([40, 60, next().max(90)]));
            }
            // Channels 0-3 steps apart somewhere: near the gray tolerance.
            let (x, y) = (u32::from(next()) % w, u32::from(next()) % h);
            let v = next().min(250);
            img.put_pixel(x, y, Rgb([v, v + next() % 4, v + next() % 4]));
            let image = DynamicImage::ImageRgb8(img);
            let fast = dye_excess(&image).map(|d| d.as_raw().iter().map(|v| v.to_bits()).collect::<Vec<_>>());
            let slow = reference(&image).map(|d| d.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
            proptest::prop_assert_eq!(fast, slow);
        }

        /// A window of [`DyeWindows`] holds the bits of the same window of
        /// [`dye_excess`]'s plane, from 8-bit RGB bytes or through
        /// `to_rgb32f` (16-bit).
        #[test]
        fn windows_equal_the_plane(
            w in 1u32..40,
            h in 1u32..40,
            corners in (0u32..40, 0u32..40, 0u32..40, 0u32..40),
            seed in proptest::num::u64::ANY,
            sixteen in proptest::bool::ANY,
        ) {
            let mut state = seed | 1;
            let mut next = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 48) as u16
            };
            let rgb16 = image::ImageBuffer::<Rgb<u16>, Vec<u16>>::from_fn(w, h, |_, _| {
                Rgb([next(), next(), next()])
            });
            let image = if sixteen {
                DynamicImage::ImageRgb16(rgb16)
            } else {
                DynamicImage::ImageRgb8(DynamicImage::ImageRgb16(rgb16).to_rgb8())
            };
            let (xa, xb) = (corners.0 % w, corners.1 % w);
            let (ya, yb) = (corners.2 % h, corners.3 % h);
            let (x0, x1, y0, y1) = (xa.min(xb), xa.max(xb) + 1, ya.min(yb), ya.max(yb) + 1);
            if let (Some(plane), Some(cast)) = (dye_excess(&image), dye_cast(&image)) {
                let want: Vec<u32> = image::imageops::crop_imm(&plane, x0, y0, x1 - x0, y1 - y0)
                    .to_image().as_raw().iter().map(|v| v.to_bits()).collect();
                let got: Vec<u32> = DyeWindows::new(image, cast).window(x0, y0, x1, y1)
                    .as_raw().iter().map(|v| v.to_bits()).collect();
                proptest::prop_assert_eq!(got, want);
            }
        }
    }
}
