//! Any decoded image to one channel of intensities in 0..=1 (brightfield),
//! or to AO and PI channels (fluorescence).

use image::{DynamicImage, GenericImageView};

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

/// The AO (green) and PI (red) channels of a fluorescence field, in 0..=1 of
/// one common full scale, so their ratio means the same in every field:
/// from one RGB composite (`red` = `None`: red = PI, green = AO, as
/// instruments export it) or from two single-channel files.
///
/// ```
/// use cellvia::{config::BitDepth, preprocess::fluorescence_channels};
/// let rgb = image::DynamicImage::ImageRgb16(image::ImageBuffer::from_pixel(2, 2, image::Rgb([4000u16, 1000, 0])));
/// let (ao, pi) = fluorescence_channels(&rgb, None, BitDepth::Auto).unwrap();
/// // One 12-bit scale for both channels, not one per channel.
/// assert!((pi.get_pixel(0, 0).0[0] - 4000.0 / 4095.0).abs() < 1e-6);
/// assert!((ao.get_pixel(0, 0).0[0] - 1000.0 / 4095.0).abs() < 1e-6);
/// ```
pub fn fluorescence_channels(
    green: &DynamicImage,
    red: Option<&DynamicImage>,
    bit_depth: BitDepth,
) -> Result<(FloatImage, FloatImage), String> {
    let (ao, pi) = match red {
        None => (
            channel_samples(green, ChannelMode::Green),
            channel_samples(green, ChannelMode::Red),
        ),
        Some(red) => {
            if red.dimensions() != green.dimensions() {
                return Err(format!(
                    "the AO image is {}x{} but the PI image is {}x{}",
                    green.width(),
                    green.height(),
                    red.width(),
                    red.height()
                ));
            }
            (
                channel_samples(green, ChannelMode::Luminance),
                channel_samples(red, ChannelMode::Luminance),
            )
        }
    };
    if ao.kind != pi.kind {
        return Err("the AO and PI images have different bit depths".into());
    }
    // Auto depth from the brighter channel: a dim channel must not be
    // stretched to a scale of its own.
    let full_scale = ao.kind.full_scale(bit_depth, || ao.max().max(pi.max()));
    Ok((ao.into_intensity(full_scale), pi.into_intensity(full_scale)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SampleKind {
    Eight,
    Sixteen,
    Float,
}

impl SampleKind {
    /// The sample value that maps to 1.0; `max` (the largest sample) is only
    /// computed for 16-bit data under `BitDepth::Auto`.
    fn full_scale(self, bit_depth: BitDepth, max: impl FnOnce() -> f32) -> f32 {
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
struct ChannelSamples {
    width: u32,
    height: u32,
    kind: SampleKind,
    raw: Vec<f32>,
}

impl ChannelSamples {
    fn max(&self) -> f32 {
        self.raw.iter().copied().fold(0.0f32, f32::max)
    }

    fn into_intensity(self, full_scale: f32) -> FloatImage {
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

fn channel_samples(image: &DynamicImage, channel: ChannelMode) -> ChannelSamples {
    let is_16bit = matches!(
        image,
        DynamicImage::ImageLuma16(_)
            | DynamicImage::ImageLumaA16(_)
            | DynamicImage::ImageRgb16(_)
            | DynamicImage::ImageRgba16(_)
    );
    let is_float = matches!(
        image,
        DynamicImage::ImageRgb32F(_) | DynamicImage::ImageRgba32F(_)
    );
    let pick = |rgb: [f32; 3]| -> f32 {
        match channel {
            ChannelMode::Luminance => {
                LUMA_WEIGHTS[0] * rgb[0] + LUMA_WEIGHTS[1] * rgb[1] + LUMA_WEIGHTS[2] * rgb[2]
            }
            ChannelMode::Red => rgb[0],
            ChannelMode::Green => rgb[1],
            ChannelMode::Blue => rgb[2],
        }
    };
    let (kind, raw): (SampleKind, Vec<f32>) = if is_float {
        (
            SampleKind::Float,
            image.to_rgb32f().pixels().map(|p| pick(p.0)).collect(),
        )
    } else if is_16bit {
        let raw = match image {
            DynamicImage::ImageLuma16(g) => g.as_raw().iter().map(|&v| f32::from(v)).collect(),
            other => other
                .to_rgb16()
                .pixels()
                .map(|p| pick(p.0.map(f32::from)))
                .collect(),
        };
        (SampleKind::Sixteen, raw)
    } else {
        let raw = match image {
            DynamicImage::ImageLuma8(g) => g.as_raw().iter().map(|&v| f32::from(v)).collect(),
            other => other
                .to_rgb8()
                .pixels()
                .map(|p| pick(p.0.map(f32::from)))
                .collect(),
        };
        (SampleKind::Eight, raw)
    };
    ChannelSamples {
        width: image.width(),
        height: image.height(),
        kind,
        raw,
    }
}
