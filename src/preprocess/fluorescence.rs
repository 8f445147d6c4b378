//! A fluorescence field's AO and PI channels, and their mean, from its
//! decoded composite or file pair.

use image::{DynamicImage, GenericImageView};

use super::intensity::{channel_samples, samples_in_rows, ChannelSamples, SampleKind};
use crate::config::{BitDepth, ChannelMode};
use crate::image_types::FloatImage;

/// A decoded fluorescence field: one RGB composite (red = PI, green = AO,
/// as instruments export it) or two single-channel files, and the one full
/// scale both channels are read in, so their ratio means the same in every
/// field. Each channel, or their mean, is made on its own: a field need not
/// hold both channels' planes to have either or their mean.
///
/// ```
/// use cellvia::{config::BitDepth, preprocess::Fluorescence};
/// let rgb = image::DynamicImage::ImageRgb16(image::ImageBuffer::from_pixel(2, 2, image::Rgb([4000u16, 1000, 0])));
/// let field = Fluorescence::new(rgb, None, BitDepth::Auto).unwrap();
/// // One 12-bit scale for both channels, not one per channel.
/// assert!((field.pi().get_pixel(0, 0).0[0] - 4000.0 / 4095.0).abs() < 1e-6);
/// assert!((field.ao().get_pixel(0, 0).0[0] - 1000.0 / 4095.0).abs() < 1e-6);
/// assert!((field.mean().get_pixel(0, 0).0[0] - 2500.0 / 4095.0).abs() < 1e-6);
/// ```
#[derive(Debug, Clone)]
pub struct Fluorescence {
    green: DynamicImage,
    red: Option<DynamicImage>,
    full_scale: f32,
}

/// Rows converted at a time where a result needs both channels: the mean,
/// and the largest sample of 16-bit data.
const STRIP_ROWS: u32 = 64;

impl Fluorescence {
    /// `red` = `None`: `green` is an RGB composite; else two single-channel
    /// images of the same size and bit depth.
    pub fn new(
        green: DynamicImage,
        red: Option<DynamicImage>,
        bit_depth: BitDepth,
    ) -> Result<Self, String> {
        if let Some(red) = &red {
            if red.dimensions() != green.dimensions() {
                return Err(format!(
                    "the AO image is {}x{} but the PI image is {}x{}",
                    green.width(),
                    green.height(),
                    red.width(),
                    red.height()
                ));
            }
            if SampleKind::of(red) != SampleKind::of(&green) {
                return Err("the AO and PI images have different bit depths".into());
            }
        }
        let kind = SampleKind::of(&green);
        let mut field = Fluorescence {
            green,
            red,
            full_scale: 1.0,
        };
        // Auto depth from the brighter channel: a dim channel must not be
        // stretched to a scale of its own.
        field.full_scale = kind.full_scale(bit_depth, || {
            field
                .strips(|ao, pi| ao.max().max(pi.max()))
                .fold(0.0f32, f32::max)
        });
        Ok(field)
    }

    /// The AO channel, 0..=1.
    pub fn ao(&self) -> FloatImage {
        let (image, channel) = self.ao_source();
        channel_samples(image, channel).into_intensity(self.full_scale)
    }

    /// The PI channel, 0..=1.
    pub fn pi(&self) -> FloatImage {
        let (image, channel) = self.pi_source();
        channel_samples(image, channel).into_intensity(self.full_scale)
    }

    /// The mean of AO and PI, the intensity AO/PI fields are segmented on:
    /// the bits of [`Self::ao`] and [`Self::pi`] averaged, made in strips
    /// without either channel's plane.
    pub fn mean(&self) -> FloatImage {
        let (w, h) = self.green.dimensions();
        let mut mean = Vec::with_capacity(w as usize * h as usize);
        for strip in self.strips(|ao, pi| {
            let (ao, pi) = (
                ao.into_intensity(self.full_scale),
                pi.into_intensity(self.full_scale),
            );
            ao.as_raw()
                .iter()
                .zip(pi.as_raw())
                .map(|(a, p)| 0.5 * (a + p))
                .collect::<Vec<f32>>()
        }) {
            mean.extend(strip);
        }
        FloatImage::from_raw(w, h, mean).unwrap_or_else(|| FloatImage::new(w, h))
    }

    /// Bytes a pixel of the decoded image or images.
    pub fn bytes_per_pixel(&self) -> usize {
        let bytes = |image: &DynamicImage| usize::from(image.color().bytes_per_pixel());
        bytes(&self.green) + self.red.as_ref().map_or(0, bytes)
    }

    fn ao_source(&self) -> (&DynamicImage, ChannelMode) {
        match &self.red {
            None => (&self.green, ChannelMode::Green),
            Some(_) => (&self.green, ChannelMode::Luminance),
        }
    }

    fn pi_source(&self) -> (&DynamicImage, ChannelMode) {
        match &self.red {
            None => (&self.green, ChannelMode::Red),
            Some(red) => (red, ChannelMode::Luminance),
        }
    }

    /// `f` of each strip's raw AO and PI samples, top to bottom.
    fn strips<'s, T: 's>(
        &'s self,
        f: impl Fn(ChannelSamples, ChannelSamples) -> T + 's,
    ) -> impl Iterator<Item = T> + 's {
        let h = self.green.height();
        let samples = move |(image, channel): (&DynamicImage, ChannelMode), y: u32| {
            samples_in_rows(image, channel, y..(y + STRIP_ROWS).min(h))
        };
        (0..h)
            .step_by(STRIP_ROWS as usize)
            .map(move |y| f(samples(self.ao_source(), y), samples(self.pi_source(), y)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::{random_rgb16, xorshift};
    use image::Luma;

    #[test]
    fn fluorescence_pairs_must_match_in_size_and_depth() {
        let gray8 =
            |w, h| DynamicImage::ImageLuma8(image::ImageBuffer::from_pixel(w, h, Luma([9u8])));
        let gray16 =
            DynamicImage::ImageLuma16(image::ImageBuffer::from_pixel(4, 4, Luma([900u16])));
        let err = Fluorescence::new(gray8(4, 4), Some(gray8(4, 5)), BitDepth::Auto)
            .err()
            .unwrap();
        assert!(err.contains("4x4") && err.contains("4x5"), "{err}");
        let err = Fluorescence::new(gray8(4, 4), Some(gray16), BitDepth::Auto)
            .err()
            .unwrap();
        assert!(err.contains("bit depths"), "{err}");
        let field = Fluorescence::new(gray8(4, 4), Some(gray8(4, 4)), BitDepth::Auto).unwrap();
        assert_eq!(field.ao().get_pixel(0, 0).0[0], 9.0 / 255.0);
        assert_eq!(field.ao(), field.pi());
    }

    proptest::proptest! {
        /// The mean made in strips is the mean of the whole channels, bit for
        /// bit, and a 16-bit field's scale comes from its largest sample
        /// wherever it lies (here possibly only in the last strip).
        #[test]
        fn fluorescence_mean_in_strips_equals_the_channels_mean(
            w in 1u32..6,
            h in 1u32..200,
            seed in proptest::num::u64::ANY,
            sixteen in proptest::bool::ANY,
            pair in proptest::bool::ANY,
        ) {
            let mut next = xorshift(seed);
            let mut rgb16 = random_rgb16(w, h, &mut next, [4000, 4000, 50]);
            // Beyond 12 bits only in the last row, sometimes.
            let beyond_12_bits = next().is_multiple_of(2);
            if beyond_12_bits {
                rgb16.put_pixel(w - 1, h - 1, image::Rgb([9000, 0, 0]));
            }
            let composite = if sixteen {
                DynamicImage::ImageRgb16(rgb16)
            } else {
                DynamicImage::ImageRgb8(DynamicImage::ImageRgb16(rgb16).to_rgb8())
            };
            let (green, red) = if pair {
                let channel = |c: usize| {
                    let rgb = composite.to_rgb16();
                    DynamicImage::ImageLuma16(image::ImageBuffer::from_fn(w, h, |x, y| {
                        Luma([rgb.get_pixel(x, y).0[c]])
                    }))
                };
                (channel(1), Some(channel(0)))
            } else {
                (composite, None)
            };
            let field = Fluorescence::new(green, red, BitDepth::Auto).unwrap();
            let (ao, pi) = (field.ao(), field.pi());
            let whole: Vec<u32> = ao
                .as_raw()
                .iter()
                .zip(pi.as_raw())
                .map(|(a, p)| (0.5 * (a + p)).to_bits())
                .collect();
            let strips: Vec<u32> = field.mean().as_raw().iter().map(|v| v.to_bits()).collect();
            proptest::prop_assert_eq!(strips, whole);
            if sixteen && beyond_12_bits {
                proptest::prop_assert_eq!(pi.get_pixel(w - 1, h - 1).0[0], 9000.0 * (1.0 / 16383.0));
            }
        }
    }
}
