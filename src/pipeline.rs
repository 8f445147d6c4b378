//! One image through every stage: decode → preprocess → segment → measure →
//! classify → aggregate → report records. Failures become error records.

use std::time::{Duration, Instant};

use image::RgbImage;
use ndarray::Array4;

use crate::aggregate::{clusters_of_cells, Counts};
use crate::classify::{CellClass, ClassProbabilities, Classifier};
use crate::config::Config;
use crate::gate::GateReason;
use crate::image_types::{FloatImage, LabelImage};
use crate::io::decode::{decode, DecodeError};
use crate::measure::crop::{crops, CropSpec};
use crate::measure::{measure, ObjectMeasurement};
use crate::preprocess::{flatten, to_intensity};
use crate::report::overlay::Outline;
use crate::report::{round, CellRecord, DebrisReport, ImageQuality, ImageRecord, Status};
use crate::segment::segment;

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
    }
}

/// Segmented, measured candidates of one image with their model crops.
#[derive(Debug, Clone)]
pub struct Candidates {
    pub intensity: FloatImage,
    pub labels: LabelImage,
    pub objects: Vec<ObjectMeasurement>,
    /// `clusters[i]`: the touching group object `i` was split from.
    pub clusters: Vec<u32>,
    pub crops: Array4<f32>,
    pub quality: ImageQuality,
}

/// Decodes and segments an image and cuts crops to `spec`: everything before
/// classification (also used to build training data).
pub fn candidates(
    bytes: &[u8],
    config: &Config,
    spec: &CropSpec,
    times: &mut StageTimes,
) -> Result<Candidates, DecodeError> {
    let t = Instant::now();
    let image = decode(bytes, config.max_image_pixels)?;
    times.decode += t.elapsed();

    let t = Instant::now();
    let diameter = config.diameter();
    let intensity = to_intensity(&image, config.channel, config.bit_depth);
    drop(image);
    let flat = flatten(&intensity, diameter.typical());
    times.preprocess += t.elapsed();

    let t = Instant::now();
    let seg = segment(&flat.z, diameter, &config.segment);
    times.segment += t.elapsed();

    let t = Instant::now();
    let objects = measure(&seg.labels, &seg.regions, &intensity);
    let crops = crops(
        &flat.contrast,
        &seg.labels,
        &objects,
        diameter.typical(),
        spec,
    );
    times.measure += t.elapsed();
    Ok(Candidates {
        intensity,
        labels: seg.labels,
        objects,
        clusters: seg.clusters,
        crops,
        quality: ImageQuality {
            background_mean: round(f64::from(flat.background_mean), 4),
            noise_sigma: round(f64::from(flat.noise_sigma), 5),
            excluded_fraction: round(f64::from(flat.excluded_fraction), 4),
        },
    })
}

/// The full analysis of one image.
#[derive(Debug, Clone)]
pub struct ImageAnalysis {
    pub record: ImageRecord,
    pub overlay: Option<RgbImage>,
    pub times: StageTimes,
}

/// Analyses one image; `path` labels the record. Never fails: problems
/// become an error record naming the file.
pub fn analyze(
    path: &str,
    bytes: &[u8],
    config: &Config,
    classifier: &Classifier,
    want_overlay: bool,
) -> ImageAnalysis {
    let mut times = StageTimes::default();
    let failed = |message: String, times| ImageAnalysis {
        record: ImageRecord::failed(path, format!("{path}: {message}")),
        overlay: None,
        times,
    };
    let cands = match candidates(bytes, config, &classifier.crop_spec(), &mut times) {
        Ok(c) => c,
        Err(e) => return failed(e.to_string(), times),
    };
    let t = Instant::now();
    let probs = match classifier.classify(&cands.crops) {
        Ok(p) => p,
        Err(e) => return failed(e.to_string(), times),
    };
    times.classify += t.elapsed();

    let t = Instant::now();
    let classes: Vec<CellClass> = probs.iter().map(ClassProbabilities::class).collect();
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
    for (i, (obj, p)) in cands.objects.iter().zip(&probs).enumerate() {
        let mut record = cell_record(obj, p, classes[i], config.pixel_size_um);
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
    let overlay = want_overlay.then(|| {
        let outlines: Vec<Outline> = classes
            .iter()
            .zip(&gates)
            .map(|(&class, gate)| match gate {
                Some(_) => Outline::Gated,
                None => Outline::from(class),
            })
            .collect();
        let region = config.gate.counting_region.as_ref();
        crate::report::overlay::render(&cands.intensity, &cands.labels, &outlines, &counts, region)
    });
    let record = ImageRecord {
        path: path.to_string(),
        status: Status::Ok,
        error: None,
        width: Some(cands.intensity.width()),
        height: Some(cands.intensity.height()),
        counts: Some(counts),
        viability: counts.viability().map(|v| round(v, 4)),
        aggregate_fraction: counts.aggregate_fraction().map(|v| round(v, 4)),
        debris: Some(debris),
        quality: Some(cands.quality),
        cells,
        gated,
    };
    times.report += t.elapsed();
    ImageAnalysis {
        record,
        overlay,
        times,
    }
}

/// [`analyze`] without an overlay, returning only the record.
pub fn analyze_bytes(
    path: &str,
    bytes: &[u8],
    config: &Config,
    classifier: &Classifier,
) -> ImageRecord {
    analyze(path, bytes, config, classifier, false).record
}

fn cell_record(
    obj: &ObjectMeasurement,
    p: &ClassProbabilities,
    class: CellClass,
    pixel_size_um: Option<f64>,
) -> CellRecord {
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
        /// Any shape down to 1×1 and any content is analysed without panicking,
        /// and every candidate lies inside the image.
        #[test]
        fn any_small_image_is_handled(
            width in 1u32..70,
            height in 1u32..70,
            pixels in proptest::collection::vec(any::<u8>(), 1..64),
        ) {
            let c = candidates(&png(width, height, &pixels), &Config::default(), &DEFAULT_CROP_SPEC, &mut StageTimes::default()).unwrap();
            prop_assert_eq!(c.crops.shape()[0], c.objects.len());
            for o in &c.objects {
                prop_assert!(o.x >= 0.0 && o.x < f64::from(width) && o.y >= 0.0 && o.y < f64::from(height));
            }
        }
    }

    #[test]
    fn unlit_field_is_reported_as_excluded() {
        let c = candidates(
            &png(100, 100, &[0]),
            &Config::default(),
            &DEFAULT_CROP_SPEC,
            &mut StageTimes::default(),
        )
        .unwrap();
        assert!(c.objects.is_empty());
        assert_eq!(c.quality.excluded_fraction, 1.0);
    }
}
