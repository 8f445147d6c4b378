//! One image through every stage: decode → preprocess → segment → measure →
//! classify → aggregate → report records. Failures become error records.

use std::time::{Duration, Instant};

use image::RgbImage;
use ndarray::Array4;

use crate::aggregate::confidence::CallTally;
use crate::aggregate::record::{
    round, CellRecord, DebrisReport, ImageQuality, ImageRecord, StainRecord, Status,
};
use crate::aggregate::{clusters_of_cells, Counts};
use crate::classify::field_mode::wrong_assay;
use crate::classify::{CellClass, ClassifyError, Score, Viability};
use crate::config::{Assay, Config, ExportKind};
use crate::gate::GateReason;
use crate::image_types::{FloatImage, LabelImage};
use crate::io::decode::{decode, DecodeError};
use crate::measure::crop::{crops, CropSource, CropSpec, CROP_CHANNELS};
use crate::measure::focus::{edge_widths, median_finite};
use crate::measure::{measure, stain_signals, ObjectMeasurement, StainSignal};
use crate::preprocess::dye::dye_excess;
use crate::preprocess::{
    flatten, flatten_fluorescence, fluorescence_channels, subtract_background, to_intensity,
};
use crate::report::overlay::Outline;
use crate::segment::scale::{object_diameters, FieldDiameter};
use crate::segment::{segment, Appearance};

/// Wall time spent in each stage for one image (for `bench`; never written
/// into results, which must not depend on timing).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    pub decode: Duration,
    pub preprocess: Duration,
    pub segment: Duration,
    pub measure: Duration,
    pub classify: Duration,
    pub report: Duration,
    /// Drawing (and, where the caller encodes it, encoding) the overlay.
    pub overlay: Duration,
}

impl StageTimes {
    /// Adds another image's times.
    pub fn add(&mut self, o: &StageTimes) {
        self.decode += o.decode;
        self.preprocess += o.preprocess;
        self.segment += o.segment;
        self.measure += o.measure;
        self.classify += o.classify;
        self.report += o.report;
        self.overlay += o.overlay;
    }

    /// Time spent in all stages so far.
    pub fn total(&self) -> Duration {
        self.decode
            + self.preprocess
            + self.segment
            + self.measure
            + self.classify
            + self.report
            + self.overlay
    }
}

/// Stops a field whose stages so far took longer than the per-image budget
/// (checked between stages: each stage is linear in the pixels, and
/// `max_image_pixels` bounds those).
fn within_budget(times: &StageTimes, config: &Config) -> Result<(), FieldError> {
    if times.total().as_secs_f64() > config.max_seconds_per_image {
        return Err(FieldError::TimedOut(config.max_seconds_per_image));
    }
    Ok(())
}

/// The encoded image(s) of one field.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// One image file: brightfield, or an AO/PI RGB composite.
    Image(&'a [u8]),
    /// Single-channel AO (green) and PI (red) image files of one field.
    Pair { ao: &'a [u8], pi: &'a [u8] },
}

/// Why a field could not be analysed.
#[derive(Debug, thiserror::Error)]
pub enum FieldError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("AO image: {0}")]
    DecodeAo(DecodeError),
    #[error("PI image: {0}")]
    DecodePi(DecodeError),
    #[error("{0}")]
    Channels(String),
    #[error("a pair of AO/PI files needs the aopi assay (--assay aopi)")]
    PairWithoutAopi,
    #[error("the config's assay is {config:?} but the viability stage scores {stage:?}")]
    AssayMismatch { config: Assay, stage: Assay },
    #[error(transparent)]
    Classify(#[from] ClassifyError),
    #[error(transparent)]
    Export(#[from] crate::report::export::ExportError),
    #[error("{0}")]
    WrongAssay(String),
    #[error(
        "internal error while analysing this field (a bug; please report it with the file): {0}"
    )]
    Panicked(String),
    #[error("analysis took longer than max_seconds_per_image = {0} s and was stopped")]
    TimedOut(f64),
}

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
/// channel; AO/PI: the mean of AO and PI), with the decoded colour image
/// (trypan) or AO and PI channels (AO/PI).
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
            let (ao, pi) = fluorescence_channels(&green, red.as_ref(), config.bit_depth)
                .map_err(FieldError::Channels)?;
            let (w, h) = ao.dimensions();
            let mean: Vec<f32> = ao
                .as_raw()
                .iter()
                .zip(pi.as_raw())
                .map(|(a, p)| 0.5 * (a + p))
                .collect();
            let intensity =
                FloatImage::from_raw(w, h, mean).unwrap_or_else(|| FloatImage::new(w, h));
            (intensity, Decoded::Fluorescence { ao, pi })
        }
    })
}

/// What [`intensity_of`] keeps of the decoded field besides its intensity.
enum Decoded {
    Brightfield(image::DynamicImage),
    Fluorescence { ao: FloatImage, pi: FloatImage },
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

/// Runs one field's work so that a panic (a decoder's bug on a hostile
/// file, or ours) becomes that field's error instead of ending the batch.
/// The work only reads shared state and owns what it builds, so nothing a
/// panic interrupts is seen again.
pub(crate) fn isolated<T>(work: impl FnOnce() -> Result<T, FieldError>) -> Result<T, FieldError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        Err(FieldError::Panicked(message))
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
    let (channels, flat, dye) = match decoded {
        Decoded::Brightfield(image) => {
            let dye = dye_excess(&image);
            drop(image);
            (None, flatten(&intensity, typical), dye)
        }
        Decoded::Fluorescence { ao, pi } => {
            let flat = flatten_fluorescence(&intensity, typical);
            let signals = (
                subtract_background(&ao, typical),
                subtract_background(&pi, typical),
            );
            (Some(signals), flat, None)
        }
    };
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
    let objects = measure(&seg.labels, &seg.regions, &intensity);
    let crops = match spec {
        Some(spec) if appearance == Appearance::Brightfield => crops(
            &CropSource {
                contrast: &flat.contrast,
                dye: dye.as_ref(),
                labels: &seg.labels,
            },
            &objects,
            spec,
        ),
        _ => Array4::zeros((0, CROP_CHANNELS, 0, 0)),
    };
    let stains = match &channels {
        Some((ao, pi)) => stain_signals(&seg.labels, objects.len(), ao, pi, &flat.z),
        None => Vec::new(),
    };
    let edge_widths = edge_widths(&flat.z, &objects);
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
            background_mean: round(f64::from(flat.background_mean), 4),
            noise_sigma: round(f64::from(flat.noise_sigma), 5),
            excluded_fraction: round(f64::from(flat.excluded_fraction), 4),
            edge_width_px: None,
            illumination_spread: flat.illumination_spread.map(|v| round(f64::from(v), 4)),
            saturated_fraction: round(saturated_fraction, 5),
            cell_coverage: 0.0,
        },
    })
}

/// The full analysis of one image.
#[derive(Debug, Clone)]
pub struct ImageAnalysis {
    pub record: ImageRecord,
    pub overlay: Option<RgbImage>,
    /// The field's `report.exports`, encoded.
    pub exports: Vec<(ExportKind, Vec<u8>)>,
    pub times: StageTimes,
}

/// What [`analyze_field`] makes of one field.
type FieldOutput = (ImageRecord, Option<RgbImage>, Vec<(ExportKind, Vec<u8>)>);

/// Analyses one field; `path` labels the record, `diameter` is as for
/// [`candidates`]. Never fails: problems become an error record naming the
/// file.
pub fn analyze(
    path: &str,
    source: Source,
    config: &Config,
    viability: &Viability,
    want_overlay: bool,
    diameter: Option<&FieldDiameter>,
) -> ImageAnalysis {
    let mut times = StageTimes::default();
    let field = isolated(|| {
        analyze_field(
            path,
            source,
            config,
            viability,
            want_overlay,
            diameter,
            &mut times,
        )
    });
    let (mut record, overlay, exports) = match field {
        Ok(done) => done,
        Err(e) => (
            ImageRecord::failed(path, format!("{path}: {e}")),
            None,
            Vec::new(),
        ),
    };
    (record.sha256, record.pi_sha256) = match source {
        Source::Image(bytes) => (Some(crate::sha256_hex(bytes)), None),
        Source::Pair { ao, pi } => (Some(crate::sha256_hex(ao)), Some(crate::sha256_hex(pi))),
    };
    ImageAnalysis {
        record,
        overlay,
        exports,
        times,
    }
}

/// Scores every candidate: the model on crops (with each crop's novelty
/// where the model gives one), or the rule on stains.
fn score(
    cands: &Candidates,
    viability: &Viability,
) -> Result<(Vec<CellClass>, Vec<Score>), ClassifyError> {
    Ok(match viability {
        Viability::Model(classifier) => {
            let scores = classifier.classify(&cands.crops)?;
            (
                scores.iter().map(|s| s.probabilities.class()).collect(),
                scores,
            )
        }
        Viability::AopiRule(rule) => cands
            .stains
            .iter()
            .map(|s| {
                let (class, probabilities) = rule.score(s);
                let novelty = None;
                (
                    class,
                    Score {
                        probabilities,
                        novelty,
                    },
                )
            })
            .unzip(),
    })
}

fn analyze_field(
    path: &str,
    source: Source,
    config: &Config,
    viability: &Viability,
    want_overlay: bool,
    diameter: Option<&FieldDiameter>,
    times: &mut StageTimes,
) -> Result<FieldOutput, FieldError> {
    if config.assay != viability.assay() {
        return Err(FieldError::AssayMismatch {
            config: config.assay,
            stage: viability.assay(),
        });
    }
    let spec = viability.crop_spec();
    let cands = candidates(source, config, spec.as_ref(), diameter, times)?;
    let t = Instant::now();
    within_budget(times, config)?;
    let (classes, scores) = score(&cands, viability)?;
    times.classify += t.elapsed();
    within_budget(times, config)?;

    let report_start = Instant::now();
    let gates: Vec<Option<GateReason>> = cands
        .objects
        .iter()
        .zip(&classes)
        .map(|(obj, &class)| match class {
            CellClass::Debris => None,
            _ => config.gate.check(obj, config.pixel_size_um),
        })
        .collect();
    // What is counted: gated-out cells are clustered like debris.
    let counted: Vec<CellClass> = classes
        .iter()
        .zip(&gates)
        .map(|(&class, gate)| {
            if gate.is_some() {
                CellClass::Debris
            } else {
                class
            }
        })
        .collect();
    let (cluster_sizes, cluster_ids) = clusters_of_cells(&cands.clusters, &counted);
    let mut counts = Counts::from_classes(
        classes
            .iter()
            .zip(&gates)
            .filter(|(_, gate)| gate.is_none())
            .map(|(&class, _)| class),
    );
    counts.aggregated = cluster_sizes.iter().filter(|&&s| s >= 2).count() as u32;
    counts.gated = gates.iter().flatten().count() as u32;
    let mut cells = Vec::new();
    let mut gated = Vec::new();
    let mut debris = DebrisReport::default();
    for (i, (obj, score)) in cands.objects.iter().zip(&scores).enumerate() {
        let mut record = cell_record(obj, score, classes[i], config.pixel_size_um);
        if let Some(stain) = cands.stains.get(i) {
            record.stain = Some(StainRecord::from(stain));
        }
        record.cluster = cluster_ids[i];
        record.cluster_size = cluster_sizes[i];
        record.gated_out = gates[i];
        if gates[i].is_some() {
            gated.push(record);
        } else if classes[i] == CellClass::Debris {
            debris.count += 1;
            if config.report.list_debris {
                debris.objects.push(record);
            }
        } else {
            cells.push(record);
        }
    }
    let overlay_start = Instant::now();
    let overlay = want_overlay.then(|| {
        let outlines: Vec<Outline> = classes
            .iter()
            .zip(&gates)
            .map(|(&class, &gate)| Outline::of(class, gate))
            .collect();
        let region = config.gate.counting_region.as_ref();
        crate::report::overlay::render(&cands.intensity, &cands.labels, &outlines, &counts, region)
    });
    let drawing = overlay_start.elapsed();
    times.overlay += drawing;
    // Every object cells.csv lists, with its id.
    let exports = if config.report.exports.is_empty() {
        Vec::new()
    } else {
        let listed: Vec<&CellRecord> = cells.iter().chain(&gated).chain(&debris.objects).collect();
        crate::report::export::encode(&config.report.exports, &cands.labels, &listed)?
    };
    // Focus and crowding are properties of the picture: every cell counts,
    // gated out or not.
    let is_cell = |i: &usize| classes[*i] != CellClass::Debris;
    let mut quality = cands.quality;
    quality.edge_width_px = median_finite(
        (0..classes.len())
            .filter(is_cell)
            .map(|i| cands.edge_widths[i]),
    )
    .map(|v| round(f64::from(v), 3));
    let cell_area: u64 = (0..classes.len())
        .filter(is_cell)
        .map(|i| u64::from(cands.objects[i].area_px))
        .sum();
    let analysed_area = f64::from(cands.intensity.width())
        * f64::from(cands.intensity.height())
        * (1.0 - quality.excluded_fraction);
    quality.cell_coverage = round(cell_area as f64 / analysed_area.max(1.0), 4);
    let quality_flags = config.quality.flags(&quality, config.assay);
    let calls = matches!(viability, Viability::Model(_)).then(|| {
        CallTally::of(
            scores.iter().map(|s| s.novelty),
            cells.iter().map(|c| c.p_live),
        )
    });
    let record = ImageRecord {
        path: path.to_string(),
        pi_path: None,
        sha256: None,
        pi_sha256: None,
        status: Status::Ok,
        error: None,
        width: Some(cands.intensity.width()),
        height: Some(cands.intensity.height()),
        counts: Some(counts),
        viability: counts.viability().map(|v| round(v, 4)),
        aggregate_fraction: counts.aggregate_fraction().map(|v| round(v, 4)),
        debris: Some(debris),
        quality: Some(quality),
        diameter: Some(cands.diameter),
        calls,
        quality_flags,
        cells,
        gated,
    };
    times.report += report_start.elapsed().saturating_sub(drawing);
    Ok((record, overlay, exports))
}

/// [`analyze`] of one image file without an overlay, returning only the record.
pub fn analyze_bytes(
    path: &str,
    bytes: &[u8],
    config: &Config,
    viability: &Viability,
) -> ImageRecord {
    analyze(path, Source::Image(bytes), config, viability, false, None).record
}

fn cell_record(
    obj: &ObjectMeasurement,
    score: &Score,
    class: CellClass,
    pixel_size_um: Option<f64>,
) -> CellRecord {
    let p = &score.probabilities;
    CellRecord {
        id: obj.id,
        x: round(obj.x, 2),
        y: round(obj.y, 2),
        area_px: obj.area_px,
        diameter_px: round(obj.diameter_px, 2),
        diameter_um: pixel_size_um.map(|s| round(obj.diameter_px * s, 2)),
        circularity: round(obj.circularity, 3),
        mean_intensity: round(obj.mean_intensity, 4),
        min_intensity: round(obj.min_intensity, 4),
        max_intensity: round(obj.max_intensity, 4),
        bbox: obj.bbox,
        label: class,
        p_live: round(f64::from(p.p_live_given_cell()), 4),
        p_cell: round(f64::from(p.live + p.dead), 4),
        touches_border: obj.touches_border,
        cluster: 0,
        cluster_size: 0,
        gated_out: None,
        stain: None,
        novelty: score.novelty.map(|v| round(f64::from(v), 3)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
    fn a_panic_in_a_field_is_its_error() {
        let caught = isolated::<()>(|| panic!("decoder bug at {}", 74));
        let Err(FieldError::Panicked(message)) = caught else {
            panic!("not caught: {caught:?}");
        };
        assert_eq!(message, "decoder bug at 74");
        assert!(
            matches!(isolated::<()>(|| panic!("static")), Err(FieldError::Panicked(m)) if m == "static")
        );
        assert_eq!(isolated(|| Ok(5)).unwrap(), 5);
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
