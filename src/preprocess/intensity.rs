//! Any decoded image to one channel of intensities in 0..=1, and the raw
//! samples of one channel (also read by [`super::Fluorescence`]).

use image::DynamicImage;

use crate::config::{BitDepth, ChannelMode};
use crate::image_types::FloatImage;

/// Rec. 601 luma weights, the usual gray conversion of microscope RGB exports.
pub(super) const LUMA_WEIGHTS: [f32; 3] = [0.299, 0.587, 0.114];

/// Converts a decoded image to one channel of intensities in 0..=1.
///
/// ```
/// use cellvia::{config::{BitDepth, ChannelMode}, preprocess::to_intensity};
/// let img = image::DynamicImage::ImageLuma16(image::ImageBuffer::from_pixel(2, 2, image::Luma([4095u16])));
/// let f = to_intensity(&img, ChannelMode::Luminance, BitDepth::Auto);
/// assert_eq!(f.get_pixel(0, 0).0[0], 1.0); // 12-bit data in a 16-bit file
/// ```
pub fn to_intensity(image: &DynamicImage, channel: ChannelMode, bit_depth: BitDepth) -> FloatImage {
    let samples = channel_samples(image, channel);
    let full_scale = samples.kind.full_scale(bit_depth, || samples.max());
    samples.into_intensity(full_scale)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SampleKind {
    Eight,
    Sixteen,
    Float,
}

impl SampleKind {
    pub(super) fn of(image: &DynamicImage) -> Self {
        match image {
            DynamicImage::ImageLuma16(_)
            | DynamicImage::ImageLumaA16(_)
            | DynamicImage::ImageRgb16(_)
            | DynamicImage::ImageRgba16(_) => SampleKind::Sixteen,
            DynamicImage::ImageRgb32F(_) | DynamicImage::ImageRgba32F(_) => SampleKind::Float,
            _ => SampleKind::Eight,
        }
    }

    /// The sample value that maps to 1.0; `max` (the largest sample) is only
    /// computed for 16-bit data under `BitDepth::Auto`.
    pub(super) fn full_scale(self, bit_depth: BitDepth, max: impl FnOnce() -> f32) -> f32 {
        match self {
            SampleKind::Float => 1.0,
            SampleKind::Eight => 255.0,
            SampleKind::Sixteen => match bit_depth {
                BitDepth::Container => 65535.0,
                BitDepth::Twelve => 4095.0,
                BitDepth::Auto => {
                    let max = max();
                    [1023.0, 4095.0, 16383.0]
                        .into_iter()
                        .find(|&full| max <= full)
                        .unwrap_or(65535.0)
                }
            },
        }
    }
}

/// One channel's raw samples, before scaling to 0..=1.
pub(super) struct ChannelSamples {
    width: u32,
    height: u32,
    kind: SampleKind,
    raw: Vec<f32>,
}

impl ChannelSamples {
    pub(super) fn max(&self) -> f32 {
        self.raw.iter().copied().fold(0.0f32, f32::max)
    }

    pub(super) fn into_intensity(self, full_scale: f32) -> FloatImage {
        let scale = 1.0 / full_scale;
        let data = self
            .raw
            .into_iter()
            .map(|v| (v * scale).clamp(0.0, 1.0))
            .collect();
        FloatImage::from_raw(self.width, self.height, data)
            .unwrap_or_else(|| FloatImage::new(self.width, self.height))
    }
}

pub(super) fn channel_samples(image: &DynamicImage, channel: ChannelMode) -> ChannelSamples {
    samples_in_rows(image, channel, 0..image.height())
}

/// One channel's raw samples of the rows `rows`. The common layouts (grey
/// and RGB, 8 and 16 bits) are read in place: `to_rgb8` copied the image
/// first and its pixel iterator branched on the mode per pixel (LDC fields:
/// 5 % of `bench` CPU), and `crop_imm` copies pixel by pixel.
pub(super) fn samples_in_rows(
    image: &DynamicImage,
    channel: ChannelMode,
    rows: std::ops::Range<u32>,
) -> ChannelSamples {
    let width = image.width();
    let span = |channels: usize| {
        let row = width as usize * channels;
        rows.start as usize * row..rows.end as usize * row
    };
    let kind = SampleKind::of(image);
    let raw = match image {
        DynamicImage::ImageLuma8(g) => g.as_raw()[span(1)].iter().map(|&v| f32::from(v)).collect(),
        DynamicImage::ImageLuma16(g) => g.as_raw()[span(1)].iter().map(|&v| f32::from(v)).collect(),
        DynamicImage::ImageRgb8(rgb) => rgb_samples(&rgb.as_raw()[span(3)], channel),
        DynamicImage::ImageRgb16(rgb) => rgb_samples(&rgb.as_raw()[span(3)], channel),
        other => {
            // A whole image is converted as it is: `crop_imm` would copy it
            // first, pixel by pixel.
            let strip;
            let part = if rows == (0..other.height()) {
                other
            } else {
                strip = other.crop_imm(0, rows.start, width, rows.len() as u32);
                &strip
            };
            match kind {
                SampleKind::Float => rgb_samples(part.to_rgb32f().as_raw(), channel),
                SampleKind::Sixteen => rgb_samples(part.to_rgb16().as_raw(), channel),
                SampleKind::Eight => rgb_samples(part.to_rgb8().as_raw(), channel),
            }
        }
    };
    ChannelSamples {
        width,
        height: rows.len() as u32,
        kind,
        raw,
    }
}

/// One channel of packed RGB as floats, the mode chosen once; luminance
/// by [`LUMA_WEIGHTS`]. Mapped over 3-sample arrays: `cargo bench --bench
/// decode -- to_intensity_grey_rgb`, 225×219 134 µs through `to_rgb8`, 102
/// µs over `chunks_exact(3)`, 40–44 µs so; 2048×1536 8.1 → 2.9 ms.
fn rgb_samples<T: Copy>(raw: &[T], channel: ChannelMode) -> Vec<f32>
where
    f32: From<T>,
{
    let (pixels, _) = raw.as_chunks::<3>();
    match channel {
        ChannelMode::Luminance => each_pixel(pixels, |[r, g, b]| {
            LUMA_WEIGHTS[0] * r + LUMA_WEIGHTS[1] * g + LUMA_WEIGHTS[2] * b
        }),
        ChannelMode::Red => each_pixel(pixels, |p| p[0]),
        ChannelMode::Green => each_pixel(pixels, |p| p[1]),
        ChannelMode::Blue => each_pixel(pixels, |p| p[2]),
    }
}

/// `f` of every pixel's samples as floats (generic, so `f` is inlined: a
/// function pointer here was ten times slower).
fn each_pixel<T: Copy>(pixels: &[[T; 3]], f: impl Fn([f32; 3]) -> f32) -> Vec<f32>
where
    f32: From<T>,
{
    pixels.iter().map(|p| f(p.map(f32::from))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::{random_rgb16, xorshift};

    proptest::proptest! {
        /// RGB read in place (8 and 16 bits) gives the bits of the generic
        /// path (the same pixels as RGBA, converted through `to_rgb8` or
        /// `to_rgb16`), every mode.
        #[test]
        fn rgb_in_place_equals_the_generic_conversion(
            w in 1u32..9,
            h in 1u32..9,
            seed in proptest::num::u64::ANY,
        ) {
            let rgb16 = random_rgb16(w, h, &mut xorshift(seed), [1 << 16; 3]);
            let rgb16 = DynamicImage::ImageRgb16(rgb16);
            let rgb8 = DynamicImage::ImageRgb8(rgb16.to_rgb8());
            let pairs = [
                (DynamicImage::ImageRgba8(rgb8.to_rgba8()), rgb8),
                (DynamicImage::ImageRgba16(rgb16.to_rgba16()), rgb16),
            ];
            for (rgba, rgb) in &pairs {
                for mode in [ChannelMode::Luminance, ChannelMode::Red, ChannelMode::Green, ChannelMode::Blue] {
                    let bits = |img: &DynamicImage| -> Vec<u32> {
                        to_intensity(img, mode, BitDepth::Container).as_raw().iter().map(|v| v.to_bits()).collect()
                    };
                    proptest::prop_assert_eq!(bits(rgb), bits(rgba));
                }
            }
        }
    }

    #[test]
    fn eight_bit_rgb_luminance_and_channels() {
        let img = DynamicImage::ImageRgb8(image::ImageBuffer::from_pixel(
            1,
            1,
            image::Rgb([255, 0, 0]),
        ));
        let lum = to_intensity(&img, ChannelMode::Luminance, BitDepth::Auto);
        assert!((lum.get_pixel(0, 0).0[0] - 0.299).abs() < 1e-6);
        let red = to_intensity(&img, ChannelMode::Red, BitDepth::Auto);
        assert_eq!(red.get_pixel(0, 0).0[0], 1.0);
    }

    #[test]
    fn twelve_bit_in_sixteen_matches_eight_bit() {
        let g8 = DynamicImage::ImageLuma8(image::ImageBuffer::from_fn(4, 1, |x, _| {
            image::Luma([x as u8 * 60])
        }));
        let g16 = DynamicImage::ImageLuma16(image::ImageBuffer::from_fn(4, 1, |x, _| {
            image::Luma([(f32::from(x as u8 * 60) / 255.0 * 4095.0).round() as u16])
        }));
        let a = to_intensity(&g8, ChannelMode::Luminance, BitDepth::Auto);
        let b = to_intensity(&g16, ChannelMode::Luminance, BitDepth::Auto);
        for (p, q) in a.pixels().zip(b.pixels()) {
            assert!((p.0[0] - q.0[0]).abs() < 1e-3);
        }
        let full = to_intensity(&g16, ChannelMode::Luminance, BitDepth::Container);
        assert!(full.get_pixel(3, 0).0[0] < 0.1);
    }
}
