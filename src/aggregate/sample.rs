//! Samples: the fields (images) of one aliquot pooled into the numbers a
//! counter reports, concentration with its 95 % interval above all.
//!
//! cells/mL = cells counted / imaged volume × dilution factor, where the
//! imaged volume is the analysed field area (pixels × pixel size², less the
//! excluded unlit area, or the counting region) × the chamber depth, and the
//! dilution factor is the pre-dilution × the stain dilution (1:1 → 2).
//! Counts are pooled before dividing, so every field weighs by its area.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::confidence::{CallConfidence, ConfidenceTally, SampleDiameter};
use super::interval::{cells_for_precision, poisson_95, wilson_95};
use super::quality::{flag_tally, QualityFlag};
use super::size::{MeanDiameters, SizeHistogram, SizeTally};
use super::spec::SampleVerdict;
use super::Counts;
use crate::aggregate::record::{round, ImageRecord};
use crate::config::Config;

/// µm³ per mL.
const CUBIC_UM_PER_ML: f64 = 1e12;

/// A value with its 95 % confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Estimate {
    pub value: f64,
    pub ci95: [f64; 2],
}

/// Concentrations in the original sample, cells/mL.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Concentration {
    pub total: Estimate,
    pub live: Estimate,
    pub dead: Estimate,
}

/// Everything reported for one sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SampleResult {
    pub sample_id: String,
    /// Extra manifest columns (donor, batch, ...).
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub metadata: BTreeMap<String, String>,
    pub fields: u32,
    pub fields_failed: u32,
    /// Analysed fields with at least one image-quality flag.
    #[serde(default)]
    pub fields_flagged: u32,
    /// How many fields raised each flag.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub quality_flags: BTreeMap<QualityFlag, u32>,
    pub counts: Counts,
    /// live / (live + dead) with its Wilson 95 % interval.
    pub viability: Option<Estimate>,
    /// Pre-dilution × stain dilution.
    pub dilution_factor: f64,
    pub chamber_depth_um: f64,
    /// Analysed area, mm² (needs the pixel size).
    pub imaged_area_mm2: Option<f64>,
    /// Imaged volume, µL.
    pub imaged_volume_ul: Option<f64>,
    /// cells/mL in the original sample, with exact Poisson 95 % intervals.
    pub concentration_per_ml: Option<Concentration>,
    /// Mean equivalent diameters in µm (null without a pixel size).
    pub mean_diameter_um: MeanDiameters,
    /// The same in pixels.
    pub mean_diameter_px: MeanDiameters,
    /// Live and dead cells by size: in µm, or in pixels without a pixel size.
    pub size_histogram: Option<SizeHistogram>,
    /// Cells in aggregates of two or more / cells.
    pub aggregate_fraction: Option<f64>,
    /// Debris / (debris + cells).
    pub debris_fraction: Option<f64>,
    /// The cell diameter ranges the fields were segmented with.
    #[serde(default)]
    pub diameter: Option<SampleDiameter>,
    /// How sure the model's live/dead calls are ([`super::confidence`]).
    #[serde(default)]
    pub call_confidence: Option<CallConfidence>,
    pub warnings: Vec<String>,
    /// Against the release spec, when one was given.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub verdict: Option<SampleVerdict>,
}

/// Running totals of one sample's fields, in input order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SampleAccumulator {
    fields: u32,
    fields_failed: u32,
    fields_flagged: u32,
    quality_flags: BTreeMap<QualityFlag, u32>,
    counts: Counts,
    /// Analysed area of the fields that were analysed, pixels.
    area_px: f64,
    sizes: SizeTally,
    confidence: ConfidenceTally,
}

impl SampleAccumulator {
    /// Adds one field's record.
    pub fn add(&mut self, record: &ImageRecord, config: &Config) {
        self.fields += 1;
        let (Some(counts), Some(w), Some(h)) = (record.counts, record.width, record.height) else {
            self.fields_failed += 1;
            return;
        };
        self.counts.add(&counts);
        self.confidence.add(record);
        if !record.quality_flags.is_empty() {
            self.fields_flagged += 1;
        }
        for &flag in &record.quality_flags {
            *self.quality_flags.entry(flag).or_default() += 1;
        }
        let excluded = record.quality.map_or(0.0, |q| q.excluded_fraction);
        let area_px = match &config.gate.counting_region {
            Some(r) => {
                let span = |lo: f64, hi: f64, n: u32| {
                    let clip = |v: f64| v.clamp(-0.5, f64::from(n) - 0.5);
                    (clip(hi) - clip(lo)).max(0.0)
                };
                span(r.x_min, r.x_max, w) * span(r.y_min, r.y_max, h) * (1.0 - excluded)
            }
            None => f64::from(w) * f64::from(h) * (1.0 - excluded),
        };
        self.area_px += area_px;
        self.sizes
            .add(&record.cells, config.sample.histogram_bin_um);
    }

    /// The sample's results; `pre_dilution` overrides the config's (from a
    /// manifest).
    ///
    /// ```
    /// use cellvia::aggregate::{sample::SampleAccumulator, Counts};
    /// use cellvia::aggregate::record::ImageRecord;
    /// let mut config = cellvia::Config::default();
    /// config.pixel_size_um = Some(1.0);
    /// // One 1000×1000 µm field, 100 µm deep = 0.1 µL, with 100 cells (80 live).
    /// let mut record = ImageRecord::failed("f.png", String::new());
    /// record.error = None;
    /// (record.width, record.height) = (Some(1000), Some(1000));
    /// record.counts = Some(Counts { total: 100, live: 80, dead: 20, ..Default::default() });
    /// let mut acc = SampleAccumulator::default();
    /// acc.add(&record, &config);
    /// let s = acc.finish("A", None, &config);
    /// // 100 / 1e-4 mL × 2 (1:1 stain) = 2e6 cells/mL.
    /// assert_eq!(s.concentration_per_ml.unwrap().total.value, 2.0e6);
    /// ```
    pub fn finish(
        &self,
        sample_id: &str,
        pre_dilution: Option<f64>,
        config: &Config,
    ) -> SampleResult {
        let sc = &config.sample;
        let dilution = pre_dilution.unwrap_or(sc.pre_dilution) * sc.stain_dilution;
        let depth = sc.depth_um().unwrap_or(f64::NAN);
        let c = self.counts;
        let mut warnings = Vec::new();
        let ok_fields = self.fields - self.fields_failed;
        if self.fields_failed > 0 {
            warnings.push(format!(
                "{} of {} fields could not be analysed",
                self.fields_failed, self.fields
            ));
        }
        if self.fields_flagged > 0 {
            warnings.push(format!(
                "{} of {} fields have image-quality flags ({})",
                self.fields_flagged,
                self.fields,
                flag_tally(&self.quality_flags)
            ));
        }
        let area_um2 = config
            .pixel_size_um
            .filter(|_| ok_fields > 0)
            .map(|p| self.area_px * p * p);
        let volume_ml = area_um2
            .filter(|&a| a > 0.0)
            .map(|a| a * depth / CUBIC_UM_PER_ML);
        if config.pixel_size_um.is_none() && ok_fields > 0 {
            warnings.push("no pixel size: concentration cannot be computed".into());
        }
        let estimate = |n: u32, per_count: f64| {
            let (lo, hi) = poisson_95(u64::from(n));
            Estimate {
                value: round(f64::from(n) * per_count, 1),
                ci95: [round(lo * per_count, 1), round(hi * per_count, 1)],
            }
        };
        let concentration = volume_ml.map(|v| {
            let per_count = dilution / v;
            Concentration {
                total: estimate(c.total, per_count),
                live: estimate(c.live, per_count),
                dead: estimate(c.dead, per_count),
            }
        });
        if let Some(v) = volume_ml {
            let in_chamber = f64::from(c.total) / v;
            if in_chamber > sc.max_linear_cells_per_ml {
                warnings.push(format!(
                    "over-dense: {in_chamber:.3e} cells/mL in the chamber is above the linear range ({:.1e}); dilute and recount",
                    sc.max_linear_cells_per_ml
                ));
            }
        }
        let needed = cells_for_precision(sc.target_precision);
        if ok_fields > 0 && u64::from(c.total) < needed {
            warnings.push(format!(
                "{} cells counted: ±{:.0} % precision (95 % interval) needs at least {needed}",
                c.total,
                100.0 * sc.target_precision
            ));
        }
        let viability = wilson_95(u64::from(c.live), u64::from(c.total)).map(|(lo, hi)| Estimate {
            value: round(f64::from(c.live) / f64::from(c.total), 4),
            ci95: [round(lo, 4), round(hi, 4)],
        });
        let (diameter, call_confidence, confidence_warnings) = self.confidence.finish(
            sc.max_diameter_ratio,
            config.classify.max_uncertain_fraction,
            config.classify.max_novel_fraction,
        );
        warnings.extend(confidence_warnings);
        warnings.extend(super::confidence::debris_warning(
            c.debris,
            c.total + c.debris,
            config.classify.max_debris_fraction,
        ));
        if config.pixel_size_um.is_some() {
            warnings.extend(super::plausibility::size_warning(
                self.sizes.bins(),
                sc.histogram_bin_um,
            ));
        }
        let (mean_diameter_um, mean_diameter_px) = self.sizes.means();
        let objects = c.total + c.debris;
        SampleResult {
            sample_id: sample_id.to_string(),
            metadata: BTreeMap::new(),
            fields: self.fields,
            fields_failed: self.fields_failed,
            fields_flagged: self.fields_flagged,
            quality_flags: self.quality_flags.clone(),
            counts: c,
            viability,
            dilution_factor: dilution,
            chamber_depth_um: depth,
            imaged_area_mm2: area_um2.map(|a| round(a * 1e-6, 6)),
            imaged_volume_ul: volume_ml.map(|v| round(v * 1e3, 6)),
            concentration_per_ml: concentration,
            mean_diameter_um,
            mean_diameter_px,
            size_histogram: Some(
                self.sizes
                    .histogram(config.pixel_size_um.is_some(), sc.histogram_bin_um),
            ),
            aggregate_fraction: c.aggregate_fraction().map(|f| round(f, 4)),
            debris_fraction: (objects > 0)
                .then(|| round(f64::from(c.debris) / f64::from(objects), 4)),
            diameter,
            call_confidence,
            warnings,
            verdict: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::record::{CellRecord, ImageQuality};
    use crate::aggregate::size::SizeUnit;
    use crate::classify::CellClass;
    use crate::gate::CountingRegion;

    fn field(w: u32, h: u32, live: u32, dead: u32, excluded: f64) -> ImageRecord {
        let mut r = ImageRecord::failed("f.png", String::new());
        r.error = None;
        (r.width, r.height) = (Some(w), Some(h));
        r.counts = Some(Counts {
            total: live + dead,
            live,
            dead,
            ..Default::default()
        });
        r.quality = Some(ImageQuality {
            background_mean: 0.5,
            noise_sigma: 0.01,
            excluded_fraction: excluded,
            edge_width_px: Some(3.0),
            illumination_spread: Some(0.05),
            saturated_fraction: 0.0,
            cell_coverage: 0.05,
        });
        r
    }

    fn config(pixel_um: f64) -> Config {
        Config {
            pixel_size_um: Some(pixel_um),
            ..Config::default()
        }
    }

    /// By hand: two 1024×768 fields at 0.5 µm/px, one with 25 % excluded:
    /// area = 0.25 µm² × 786,432 × 1.75 = 344,064 µm²; × 100 µm = 3.44064e7
    /// µm³ = 3.44064e-5 mL. 300 cells, pre-dilution 5, stain 1:1 (×2):
    /// 300 / 3.44064e-5 × 10 = 8.71931e7 cells/mL.
    #[test]
    fn concentration_by_hand_with_dilution_and_excluded_area() {
        let c = config(0.5);
        let mut acc = SampleAccumulator::default();
        acc.add(&field(1024, 768, 150, 50, 0.0), &c);
        acc.add(&field(1024, 768, 60, 40, 0.25), &c);
        let s = acc.finish("A", Some(5.0), &c);
        assert_eq!(s.dilution_factor, 10.0);
        assert_eq!(s.imaged_area_mm2, Some(0.344064));
        assert_eq!(s.imaged_volume_ul, Some(0.034406));
        let conc = s.concentration_per_ml.unwrap();
        let per_count = 10.0 / 3.44064e-5;
        assert!((conc.total.value - 300.0 * per_count).abs() < 0.1);
        assert!((conc.live.value - 210.0 * per_count).abs() < 0.1);
        let (lo, hi) = poisson_95(300);
        assert!((conc.total.ci95[0] - lo * per_count).abs() < 0.1);
        assert!((conc.total.ci95[1] - hi * per_count).abs() < 0.1);
        assert_eq!(s.viability.unwrap().value, 0.7);
        // 300 < 385 cells for ±10 %.
        assert!(
            s.warnings.iter().any(|w| w.contains("385")),
            "{:?}",
            s.warnings
        );
    }

    #[test]
    fn counting_region_sets_the_area_and_depth_the_volume() {
        let mut c = config(1.0);
        c.gate.counting_region = Some(CountingRegion {
            x_min: -0.5,
            y_min: -0.5,
            x_max: 99.5,
            y_max: 1e9, // clipped to the image
        });
        c.sample.chamber = crate::config::Chamber::CellometerSd025;
        let mut acc = SampleAccumulator::default();
        acc.add(&field(400, 200, 10, 0, 0.0), &c);
        let s = acc.finish("B", None, &c);
        assert_eq!(s.imaged_area_mm2, Some(0.02)); // 100 × 200 µm²
        assert_eq!(s.chamber_depth_um, 25.0);
        // 10 cells / (2e4 µm² × 25 µm = 5e5 µm³ = 5e-7 mL) × 2 = 4e7 cells/mL.
        assert_eq!(s.concentration_per_ml.unwrap().total.value, 4.0e7);
        // 2e7/mL in the chamber is above the 1e7 linear range.
        assert!(s.warnings.iter().any(|w| w.starts_with("over-dense")));
    }

    #[test]
    fn failed_fields_and_unknown_pixel_size_are_reported() {
        let c = Config::default();
        let mut acc = SampleAccumulator::default();
        acc.add(&field(100, 100, 400, 100, 0.0), &c);
        acc.add(&ImageRecord::failed("bad.png", "truncated".into()), &c);
        let s = acc.finish("C", None, &c);
        assert_eq!((s.fields, s.fields_failed), (2, 1));
        assert!(s.concentration_per_ml.is_none());
        // Without a pixel size, sizes are in pixels.
        assert_eq!(s.size_histogram.map(|h| h.unit), Some(SizeUnit::Px));
        assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
        assert_eq!(s.counts.total, 500);
    }

    #[test]
    fn sizes_are_averaged_and_binned_per_class() {
        let c = config(0.5);
        let mut r = field(100, 100, 2, 1, 0.0);
        let cell = |d: f64, label| CellRecord {
            diameter_um: Some(d),
            label,
            ..serde_json::from_str::<CellRecord>(
                r#"{"id":1,"x":1.0,"y":1.0,"area_px":3,"diameter_px":2.0,"circularity":1.0,
                "mean_intensity":0.5,"min_intensity":0.1,"max_intensity":0.9,"bbox":[0,0,1,1],
                "label":"live","p_live":0.9,"p_cell":0.99,"touches_border":false}"#,
            )
            .unwrap()
        };
        r.cells = vec![
            cell(11.0, CellClass::Live),
            cell(13.0, CellClass::Live),
            cell(7.9, CellClass::Dead),
        ];
        let mut acc = SampleAccumulator::default();
        acc.add(&r, &c);
        let s = acc.finish("D", None, &c);
        assert_eq!(s.mean_diameter_um.live, Some(12.0));
        assert_eq!(s.mean_diameter_um.dead, Some(7.9));
        let h = s.size_histogram.unwrap();
        assert_eq!((h.unit, h.bin_width), (SizeUnit::Um, 2.0));
        assert_eq!(h.live, [0, 0, 0, 0, 0, 1, 1]);
        assert_eq!(h.dead, [0, 0, 0, 1, 0, 0, 0]);
    }
}
