//! Everything before classification: decode, preprocess, segment, measure
//! and cut the model's crops.

use std::time::Instant;

use ndarray::Array4;

use super::parked::{Decoded, Kept, Objects, Parked, Restored};
use super::{isolated, within_budget, FieldError, Source, StageTimes};
use crate::aggregate::record::{round, ImageQuality};
use crate::classify::field_mode::wrong_assay;
use crate::config::{Assay, Config};
use crate::image_types::{FloatImage, LabelImage};
use crate::io::decode::decode;
use crate::measure::crop::{crops, CropSource, CropSpec, FlattenedContrast, CROP_CHANNELS};
use crate::measure::focus::edge_widths;
use crate::measure::{measure, object_means, ObjectMeasurement, StainSignal};
use crate::preprocess::{flatten, flatten_fluorescence, to_intensity, Fluorescence};
use crate::segment::scale::{object_diameters, FieldDiameter};
use crate::segment::{segment, Appearance};

/// Intensities at or above this are saturated: the top code of every bit
/// depth maps to 1.0 (less float rounding).
const SATURATED: f32 = 1.0 - 1e-6;

/// Segmented, measured candidates of one field, with model crops (trypan)
/// or stain signals (AO/PI).
#[derive(Debug, Clone)]
pub struct Candidates {
    /// Brightfield: the analysed channel; AO/PI: the mean of AO and PI.
    pub intensity: FloatImage,
    pub labels: LabelImage,
    pub objects: Vec<ObjectMeasurement>,
    /// `clusters[i]`: the touching group object `i` was split from.
    pub clusters: Vec<u32>,
    /// The diameter range the field was segmented with, and how it was found.
    pub diameter: FieldDiameter,
    /// Model crops `[n, 3, S, S]` (empty unless a crop spec was given).
    pub crops: Array4<f32>,
    /// AO/PI: each object's stains (empty for trypan).
    pub stains: Vec<StainSignal>,
    /// Each object's edge width, pixels ([`crate::measure::focus`]).
    pub edge_widths: Vec<f32>,
    /// The field's quality figures; `edge_width_px` and `cell_coverage` need
    /// the classes and are filled in by [`analyze`].
    pub quality: ImageQuality,
}

/// The intensity image a field is segmented on (brightfield: the analysed
/// channel; AO/PI: the mean of AO and PI), with the decoded image (trypan)
/// or the decoded AO/PI field its channels are made from.
fn intensity_of(source: Source, config: &Config) -> Result<(FloatImage, Decoded), FieldError> {
    Ok(match (config.assay, source) {
        (Assay::Trypan, Source::Image(bytes)) => {
            let image = decode(bytes, config.max_image_pixels)?;
            let intensity = to_intensity(&image, config.channel, config.bit_depth);
            (intensity, Decoded::Brightfield(image))
        }
        (Assay::Trypan, Source::Pair { .. }) => return Err(FieldError::PairWithoutAopi),
        (Assay::Aopi, source) => {
            let (green, red) = match source {
                Source::Image(bytes) => (decode(bytes, config.max_image_pixels)?, None),
                Source::Pair { ao, pi } => (
                    decode(ao, config.max_image_pixels).map_err(FieldError::DecodeAo)?,
                    Some(decode(pi, config.max_image_pixels).map_err(FieldError::DecodePi)?),
                ),
            };
            let field =
                Fluorescence::new(green, red, config.bit_depth).map_err(FieldError::Channels)?;
            (field.mean(), Decoded::Fluorescence(field))
        }
    })
}

fn appearance(assay: Assay) -> Appearance {
    match assay {
        Assay::Trypan => Appearance::Brightfield,
        Assay::Aopi => Appearance::Fluorescent,
    }
}

/// The first pass of `--diameter auto`: the diameters of the objects a
/// field shows before anything assumes a cell size
/// ([`crate::segment::scale`]), to be pooled over its sample.
pub fn first_pass_diameters(source: Source, config: &Config) -> Result<Vec<f64>, FieldError> {
    isolated(|| {
        let t = Instant::now();
        let (intensity, _) = intensity_of(source, config)?;
        let diameters = object_diameters(&intensity, appearance(config.assay));
        let times = StageTimes {
            decode: t.elapsed(),
            ..StageTimes::default()
        };
        within_budget(&times, config)?;
        Ok(diameters)
    })
}

/// Decodes and segments a field and, for trypan with a crop spec, cuts the
/// model's crops: everything before classification (also used to build
/// training data). `diameter` is the field's range when the caller measured
/// it over the field's sample ([`crate::segment::scale::pool_by_sample`]);
/// `None` takes the settings' fixed range or measures the field alone.
pub fn candidates(
    source: Source,
    config: &Config,
    spec: Option<&CropSpec>,
    diameter: Option<&FieldDiameter>,
    times: &mut StageTimes,
) -> Result<Candidates, FieldError> {
    let appearance = appearance(config.assay);
    let t = Instant::now();
    let (intensity, decoded) = intensity_of(source, config)?;
    // Parked before the first pass of `--diameter auto`, which runs beside
    // it (see [`Parked`]).
    let kept = Kept::of(decoded);
    // Decoding is timed with the intensity conversion (both are the input side).
    times.decode += t.elapsed();
    within_budget(times, config)?;
    let t = Instant::now();
    let diameter = match (diameter, config.fixed_diameter()) {
        (Some(d), _) => *d,
        (None, Some(fixed)) => FieldDiameter::resolve(Some(fixed), None, &[]),
        (None, None) => {
            FieldDiameter::resolve(None, None, &object_diameters(&intensity, appearance))
        }
    };
    let typical = diameter.range().typical();
    let flat = match appearance {
        Appearance::Brightfield => flatten(&intensity, typical),
        Appearance::Fluorescent => flatten_fluorescence(&intensity, typical),
    };
    let parked = Parked::new(intensity, kept);
    times.preprocess += t.elapsed();
    within_budget(times, config)?;
    if let Some(why) = wrong_assay(config.assay, f64::from(flat.background_mean)) {
        return Err(FieldError::WrongAssay(why));
    }

    let t = Instant::now();
    let seg = segment(&flat.z, diameter.range(), &config.segment, appearance);
    times.segment += t.elapsed();
    within_budget(times, config)?;

    let t = Instant::now();
    // What reads z runs first, so its plane is freed before the intensity
    // comes back: the two never coexist with the labels.
    let z_means = match appearance {
        Appearance::Brightfield => Vec::new(),
        Appearance::Fluorescent => object_means(&seg.labels, seg.regions.len(), &flat.z),
    };
    let edge_widths = edge_widths(&flat.z, &seg.regions);
    let quality = ImageQuality {
        background_mean: round(f64::from(flat.background_mean), 4),
        noise_sigma: round(f64::from(flat.noise_sigma), 5),
        excluded_fraction: round(f64::from(flat.excluded_fraction), 4),
        edge_width_px: None,
        illumination_spread: flat.illumination_spread.map(|v| round(f64::from(v), 4)),
        saturated_fraction: 0.0,
        cell_coverage: 0.0,
    };
    let contrast = flat.contrast;
    drop(flat.z);
    times.measure += t.elapsed();

    // Timed as decoding: converting the parked image again (AO/PI: with
    // each channel's background subtraction, the channels' only use).
    let t = Instant::now();
    let Restored {
        intensity,
        dye,
        signals,
    } = parked.restore(
        config,
        &Objects {
            labels: &seg.labels,
            count: seg.regions.len(),
            typical_diameter: typical,
        },
    );
    times.decode += t.elapsed();

    let t = Instant::now();
    let stains = match signals {
        Some((ao, pi)) => ao
            .into_iter()
            .zip(pi)
            .zip(z_means)
            .map(|((ao, pi), z)| StainSignal { ao, pi, z })
            .collect(),
        None => Vec::new(),
    };
    let objects = measure(&seg.labels, &seg.regions, &intensity);
    let crops = match spec {
        Some(spec) if appearance == Appearance::Brightfield => crops(
            &CropSource {
                contrast: &FlattenedContrast {
                    contrast: &contrast,
                    intensity: &intensity,
                },
                dye: dye.as_deref(),
                labels: &seg.labels,
            },
            &objects,
            spec,
        ),
        _ => Array4::zeros((0, CROP_CHANNELS, 0, 0)),
    };
    let saturated = intensity
        .as_raw()
        .iter()
        .filter(|&&v| v >= SATURATED)
        .count();
    let saturated_fraction = saturated as f64 / intensity.as_raw().len().max(1) as f64;
    times.measure += t.elapsed();
    Ok(Candidates {
        intensity,
        labels: seg.labels,
        objects,
        clusters: seg.clusters,
        diameter,
        crops,
        stains,
        edge_widths,
        quality: ImageQuality {
            saturated_fraction: round(saturated_fraction, 5),
            ..quality
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::decode::DecodeError;
    use crate::measure::crop::DEFAULT_CROP_SPEC;
    use proptest::prelude::*;

    fn png(width: u32, height: u32, pixels: &[u8]) -> Vec<u8> {
        let img = image::GrayImage::from_fn(width, height, |x, y| {
            image::Luma([pixels[((y * width + x) as usize) % pixels.len()]])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Any shape down to 1×1 and any content is analysed without panicking
        /// (or refused as too narrow), and every candidate lies inside the image.
        #[test]
        fn any_small_image_is_handled(
            width in 1u32..70,
            height in 1u32..70,
            pixels in proptest::collection::vec(any::<u8>(), 1..64),
        ) {
            let source = png(width, height, &pixels);
            if width.min(height) < crate::io::decode::MIN_FIELD_SIDE_PX {
                let refused = candidates(Source::Image(&source), &Config::default(), None, None, &mut StageTimes::default());
                let too_narrow = matches!(refused, Err(FieldError::Decode(DecodeError::TooNarrow { .. })));
                prop_assert!(too_narrow, "a {}x{} field is refused as too narrow", width, height);
                return Ok(());
            }
            let c = match candidates(Source::Image(&source), &Config::default(), Some(&DEFAULT_CROP_SPEC), None, &mut StageTimes::default()) {
                Ok(c) => c,
                // A dark field is refused as the wrong assay: handled too.
                Err(FieldError::WrongAssay(_)) => return Ok(()),
                Err(e) => return Err(TestCaseError::fail(e.to_string())),
            };
            prop_assert_eq!(c.crops.shape()[0], c.objects.len());
            for o in &c.objects {
                prop_assert!(o.x >= 0.0 && o.x < f64::from(width) && o.y >= 0.0 && o.y < f64::from(height));
            }
        }
    }

    #[test]
    fn an_unlit_field_under_trypan_is_refused_as_too_dark() {
        let refused = candidates(
            Source::Image(&png(100, 100, &[0])),
            &Config::default(),
            Some(&DEFAULT_CROP_SPEC),
            None,
            &mut StageTimes::default(),
        );
        let Err(FieldError::WrongAssay(why)) = refused else {
            panic!("not refused: {refused:?}");
        };
        assert!(
            why.starts_with("wrong_assay: the background is dark"),
            "{why}"
        );
    }
}
