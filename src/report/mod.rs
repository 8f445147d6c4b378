//! Result records and their serialisations: `results.json`, `images.csv`,
//! `cells.csv` and overlay pictures.
//!
//! Everything here is a pure function of the analysis; run facts that differ
//! between identical runs (times, host, threads) live only in [`RunFacts`], so
//! the rest of a results file is byte-identical for identical inputs.

pub mod asm;
pub mod csv;
pub mod font;
pub mod html;
mod method;
pub mod overlay;
pub mod stream;

use serde::{Deserialize, Serialize};

use crate::aggregate::quality::QualityFlag;
use crate::aggregate::sample::SampleResult;
use crate::aggregate::spec::SpecUsed;
use crate::aggregate::{BatchSummary, Counts};
use crate::classify::{CellClass, ModelInfo};
use crate::config::Config;
use crate::gate::GateReason;
use crate::measure::StainSignal;

/// Version of the `results.json` layout; bumped on any incompatible change.
pub const RESULTS_SCHEMA: &str = "cellvia.results/1";

/// Outcome of one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Error,
}

/// One counted cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CellRecord {
    pub id: u32,
    /// Centroid, pixels from the top-left pixel's centre.
    pub x: f64,
    pub y: f64,
    pub area_px: u32,
    /// Equivalent diameter, pixels.
    pub diameter_px: f64,
    /// Equivalent diameter in µm, when the pixel size is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diameter_um: Option<f64>,
    pub circularity: f64,
    /// Mean, min and max intensity of the cell's pixels, 0..=1 of full scale.
    pub mean_intensity: f64,
    pub min_intensity: f64,
    pub max_intensity: f64,
    /// Inclusive bounding box [x_min, y_min, x_max, y_max], pixels.
    pub bbox: [u32; 4],
    pub label: CellClass,
    /// P(live | cell) from the model.
    pub p_live: f64,
    /// P(this object is a cell, not debris) from the model.
    pub p_cell: f64,
    pub touches_border: bool,
    /// Cluster of touching cells this cell belongs to, numbered 1.. per image
    /// (0 for debris).
    #[serde(default)]
    pub cluster: u32,
    /// Counted cells in that cluster: 1 for a single cell, 2+ for an aggregate.
    #[serde(default)]
    pub cluster_size: u32,
    /// For a cell left out of the count: the gate it failed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub gated_out: Option<GateReason>,
    /// AO/PI: the object's stains (absent for trypan).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stain: Option<StainRecord>,
    /// How unlike the model's training crops this cell's crop is (above 1:
    /// rarer than 1 in 100 training crops; [`crate::classify::novelty`]).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub novelty: Option<f64>,
}

/// AO/PI stains of one object, as reported.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StainRecord {
    /// Mean background-subtracted AO (green) signal, 0..=1 of full scale.
    pub ao: f64,
    /// Mean background-subtracted PI (red) signal, 0..=1 of full scale.
    pub pi: f64,
    /// PI / (AO + PI): what the rule calls dead at `aopi.dead_pi_fraction`.
    pub pi_fraction: f64,
    /// Mean stain in robust noise sigmas: debris below `aopi.min_cell_sigma`.
    pub sigma: f64,
}

impl From<&StainSignal> for StainRecord {
    fn from(s: &StainSignal) -> Self {
        Self {
            ao: round(s.ao, 5),
            pi: round(s.pi, 5),
            pi_fraction: round(s.pi_fraction(), 4),
            sigma: round(s.z, 2),
        }
    }
}

/// Debris: objects the model judged not to be cells.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DebrisReport {
    pub count: u32,
    /// Listed only with `report.list_debris`.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub objects: Vec<CellRecord>,
}

/// Facts about the image itself, for quality checks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ImageQuality {
    /// Mean background intensity, 0..=1.
    pub background_mean: f64,
    /// Robust noise sigma of the flattened, smoothed image (Weber contrast units).
    pub noise_sigma: f64,
    /// Fraction of the image too dark to analyse (excluded from counting).
    pub excluded_fraction: f64,
    /// Median edge width of the cells (gated out or not), pixels
    /// ([`crate::measure::focus`]): grows with defocus; null without cells.
    #[serde(default)]
    pub edge_width_px: Option<f64>,
    /// Brightfield: (p95 − p5) / median of the lit background; null for fluorescence.
    #[serde(default)]
    pub illumination_spread: Option<f64>,
    /// Fraction of pixels at full scale (over-exposed).
    #[serde(default)]
    pub saturated_fraction: f64,
    /// Cells' area (gated out or not) / analysed area: how crowded the field is.
    #[serde(default)]
    pub cell_coverage: f64,
}

/// The result for one input file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ImageRecord {
    /// The path as discovered from the user's arguments (of an AO/PI pair:
    /// the AO file).
    pub path: String,
    /// Of an AO/PI pair: the PI file.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pi_path: Option<String>,
    /// SHA-256 of the file's bytes (of a pair: the AO file), for the audit trail.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sha256: Option<String>,
    /// Of an AO/PI pair: SHA-256 of the PI file.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pi_sha256: Option<String>,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub counts: Option<Counts>,
    /// live / (live + dead), 0..=1; null without cells or on error.
    pub viability: Option<f64>,
    /// Fraction of cells in aggregates (clusters of two or more), 0..=1.
    #[serde(default)]
    pub aggregate_fraction: Option<f64>,
    pub debris: Option<DebrisReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<ImageQuality>,
    /// The diameter range the field was segmented with, and how it was found.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub diameter: Option<crate::segment::scale::FieldDiameter>,
    /// How sure the model was of this field's objects (trypan).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub calls: Option<crate::aggregate::confidence::CallTally>,
    /// Image-quality flags raised by the `[quality]` limits.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub quality_flags: Vec<QualityFlag>,
    pub cells: Vec<CellRecord>,
    /// Cells the model called live or dead that a gate left out of the count.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub gated: Vec<CellRecord>,
}

impl ImageRecord {
    /// The record of an image that could not be analysed.
    pub fn failed(path: &str, error: String) -> Self {
        Self {
            path: path.to_string(),
            pi_path: None,
            sha256: None,
            pi_sha256: None,
            status: Status::Error,
            error: Some(error),
            width: None,
            height: None,
            counts: None,
            viability: None,
            aggregate_fraction: None,
            debris: None,
            quality: None,
            diameter: None,
            calls: None,
            quality_flags: Vec::new(),
            cells: Vec::new(),
            gated: Vec::new(),
        }
    }
}

/// Name and version of the software that made a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Software {
    pub name: String,
    pub version: String,
}

impl Default for Software {
    fn default() -> Self {
        Self {
            name: crate::SOFTWARE_NAME.to_string(),
            version: crate::SOFTWARE_VERSION.to_string(),
        }
    }
}

/// Facts of one run that legitimately differ between identical analyses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunFacts {
    /// Seconds since the Unix epoch, UTC.
    pub started_unix_s: f64,
    pub finished_unix_s: f64,
    pub host: String,
    pub threads: usize,
    /// Who ran it (`--operator`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub operator: Option<String>,
    /// Run metadata given on the command line (`--meta KEY=VALUE`).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty", default)]
    pub metadata: std::collections::BTreeMap<String, String>,
    /// Where `pixel_size_um` came from: `flag` (`--pixel-size` or the
    /// config), `metadata` (the files' TIFF/ImageJ/OME tags) or `grid` (the
    /// chamber's rulings at `sample.chamber_grid_pitch_um`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pixel_size_source: Option<String>,
}

/// One field as run-level reports (HTML, Allotrope) list it: the record's
/// outcome without its cells, plus an optional overlay thumbnail.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSummary {
    /// Index into the run's samples.
    pub sample: usize,
    pub path: String,
    pub sha256: Option<String>,
    pub error: Option<String>,
    pub counts: Option<Counts>,
    pub viability: Option<f64>,
    pub quality: Option<ImageQuality>,
    pub quality_flags: Vec<QualityFlag>,
    /// PNG bytes of a small overlay, when the report shows one.
    pub thumbnail_png: Option<Vec<u8>>,
}

impl FieldSummary {
    /// The summary of `record`, a field of sample `sample`.
    pub fn of(record: &ImageRecord, sample: usize, thumbnail_png: Option<Vec<u8>>) -> Self {
        Self {
            sample,
            path: record.path.clone(),
            sha256: record.sha256.clone(),
            error: record.error.clone(),
            counts: record.counts,
            viability: record.viability,
            quality: record.quality,
            quality_flags: record.quality_flags.clone(),
            thumbnail_png,
        }
    }
}

/// Everything a run-level report shows, borrowed from the finished run.
#[derive(Debug, Clone, Copy)]
pub struct RunSummary<'a> {
    pub software: &'a Software,
    pub model: &'a ModelInfo,
    pub config: &'a Config,
    pub config_sha256: &'a str,
    pub spec: Option<&'a SpecUsed>,
    pub samples: &'a [SampleResult],
    pub fields: &'a [FieldSummary],
    pub summary: &'a BatchSummary,
    pub run: &'a RunFacts,
    /// The output folder as given.
    pub out_dir: &'a str,
    /// SHA-256 of the run's results.json (shown on every printed page of
    /// report.html).
    pub results_sha256: Option<&'a str>,
}

/// The whole `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Results {
    pub schema: String,
    pub software: Software,
    pub model: ModelInfo,
    pub config: Config,
    /// SHA-256 of the resolved config's compact JSON ([`Config::sha256`]).
    #[serde(default)]
    pub config_sha256: String,
    /// One record per input image, in input order.
    pub images: Vec<ImageRecord>,
    pub summary: BatchSummary,
    /// Per-sample results (fields pooled), in order of first appearance.
    #[serde(default)]
    pub samples: Vec<SampleResult>,
    /// The release spec applied, when one was given.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub spec: Option<SpecUsed>,
    /// Files found in input folders that are not images.
    pub skipped: Vec<String>,
    pub run: RunFacts,
}

/// The JSON Schema (draft 2020-12) of `results.json`, generated from
/// [`Results`]; shipped as `schemas/results.schema.json`.
///
/// ```
/// let schema = cellvia::report::results_schema();
/// assert_eq!(schema["title"], "Results");
/// assert!(schema["properties"]["images"].is_object());
/// ```
pub fn results_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Results)).unwrap_or_default()
}

impl Results {
    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        pretty_json(self) + "\n"
    }
}

/// Pretty JSON (two-space indent); a value that cannot be serialised becomes
/// an `{"error": ...}` object rather than a panic.
pub fn pretty_json(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// Seconds since the Unix epoch as ISO 8601 UTC with milliseconds.
///
/// ```
/// assert_eq!(cellvia::report::utc_iso8601(0.0), "1970-01-01T00:00:00.000Z");
/// assert_eq!(cellvia::report::utc_iso8601(1_795_400_000.25), "2026-11-23T02:13:20.250Z");
/// ```
pub fn utc_iso8601(unix_s: f64) -> String {
    let millis = (unix_s * 1000.0).round() as i64;
    let (days, ms_of_day) = (millis.div_euclid(86_400_000), millis.rem_euclid(86_400_000));
    // Civil date from days since 1970-01-01 (H. Hinnant's days_from_civil inverse).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let s = ms_of_day / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        s / 60 % 60,
        s % 60,
        ms_of_day % 1000
    )
}

/// Rounds to `digits` decimals so results do not carry float noise.
///
/// ```
/// assert_eq!(cellvia::report::round(1.23456, 2), 1.23);
/// ```
pub fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}
