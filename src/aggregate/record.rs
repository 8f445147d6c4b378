//! What the analysis finds, per image and per object: the records the
//! aggregation pools and the report serialises (`results.json`, the CSVs).
//! They live below `aggregate` so that data flows one way, from the
//! analysis through the aggregation to the report.

use serde::{Deserialize, Serialize};

use crate::aggregate::quality::QualityFlag;
use crate::aggregate::Counts;
use crate::classify::CellClass;
use crate::gate::GateReason;
use crate::measure::StainSignal;

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

/// Rounds to `digits` decimals so results do not carry float noise.
///
/// ```
/// assert_eq!(cellvia::aggregate::record::round(1.23456, 2), 1.23);
/// ```
pub fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}
