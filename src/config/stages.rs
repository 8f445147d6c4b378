//! Settings of the analysis stages: segmentation, the viability model and
//! the AO/PI rule, with their documented defaults.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How object pixels are told from background.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ThresholdMethod {
    /// Seed at `seed_sigma`, extend to `extent_sigma` (robust on sparse fields).
    Hysteresis,
    /// One global level on |z| chosen by Otsu's method, never below
    /// `extent_sigma` (suits dense fields where cells are a large share of pixels).
    Otsu,
}

/// Segmentation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SegmentConfig {
    pub threshold: ThresholdMethod,
    /// Hysteresis high threshold, in robust noise sigmas of the flattened image:
    /// an object must reach this contrast somewhere to be a candidate.
    pub seed_sigma: f32,
    /// Hysteresis low threshold in sigmas: how far out from a seed the object extends.
    pub extent_sigma: f32,
    /// Split touching cells with a distance-transform marker watershed.
    pub declump: bool,
    /// Two seeds closer than this fraction of the minimum diameter are one cell.
    pub seed_separation: f64,
    /// Objects with circularity (4π·area/perimeter²) below this are dropped
    /// before classification (grid-line fragments, fibres).
    pub min_circularity: f64,
    /// Drop objects that touch the image edge (their size and class are uncertain).
    pub discard_border_objects: bool,
}

impl Default for SegmentConfig {
    fn default() -> Self {
        Self {
            threshold: ThresholdMethod::Hysteresis,
            seed_sigma: 6.0,
            extent_sigma: 3.0,
            declump: true,
            seed_separation: 0.6,
            min_circularity: 0.3,
            discard_border_objects: false,
        }
    }
}

/// Classification settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifyConfig {
    /// ONNX model file; empty means the shipped default model.
    pub model: Option<PathBuf>,
    /// Crops per inference call.
    pub batch_size: usize,
    /// A sample with a larger share of uncertain calls (P(live) 0.2–0.8) gets
    /// a `low confidence` warning (INVALID under a spec).
    pub max_uncertain_fraction: f64,
    /// A sample with a larger share of cells unlike the model's training
    /// crops (novelty > 1) gets a `low confidence` warning.
    pub max_novel_fraction: f64,
    /// A sample whose objects were mostly called debris gets a `low
    /// confidence` warning.
    pub max_debris_fraction: f64,
}

/// Default limit of uncertain calls: 1.5 times the most measured on data
/// like the training data (v3: 11.8 % of held-out LDC cells, 13–20 % of the
/// held-out groups resampled ×0.5–×3, 0.9 % of unseen synthetic fields;
/// crop-level figures of single upright scores. With second opinions,
/// counted cells end to end: held-out LDC 5.7 % instead of 7.0 %, 40
/// domain-randomised fields 0.6 % instead of 0.3 %).
pub const DEFAULT_MAX_UNCERTAIN_FRACTION: f64 = 0.3;
/// Default limit of novel objects: held-out LDC 0.04 %, resampled up to
/// 0.2 %, unseen synthetic fields 0.3 % (v3); an AO/PI composite analysed
/// as trypan 100 %.
pub const DEFAULT_MAX_NOVEL_FRACTION: f64 = 0.2;
/// Default limit of objects called debris: 1.5 times the most measured on
/// whole samples analysed correctly (held-out LDC 57 %, the rest of LDC
/// 49 %, unseen synthetic fields at most 49 %), rounded down; a dense AO/PI
/// sample whose noise was mismeasured had 98 %.
pub const DEFAULT_MAX_DEBRIS_FRACTION: f64 = 0.85;

impl Default for ClassifyConfig {
    fn default() -> Self {
        Self {
            model: None,
            batch_size: 64,
            max_uncertain_fraction: DEFAULT_MAX_UNCERTAIN_FRACTION,
            max_novel_fraction: DEFAULT_MAX_NOVEL_FRACTION,
            max_debris_fraction: DEFAULT_MAX_DEBRIS_FRACTION,
        }
    }
}

/// The staining, which decides preprocessing, declumping and viability scoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Assay {
    /// Trypan-blue brightfield; the ONNX model scores viability.
    Trypan,
    /// Acridine orange / propidium iodide fluorescence: an RGB composite
    /// (red = PI, green = AO) or a pair of single-channel files; the
    /// two-channel rule ([`crate::classify::aopi`]) scores viability.
    Aopi,
}

/// Settings of the AO/PI assay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AopiConfig {
    /// Single-channel files pair by name: `STEM<ao_suffix>.ext` with
    /// `STEM<pi_suffix>.ext` (case-insensitive); other images are composites.
    pub ao_suffix: String,
    pub pi_suffix: String,
    /// Objects with at least this PI / (AO + PI) are dead.
    pub dead_pi_fraction: f64,
    /// Objects whose mean stain is below this many noise sigmas are debris.
    pub min_cell_sigma: f64,
}

/// PI fraction at which a cell counts as dead: halfway between a live cell
/// (AO only, fraction near 0 plus crosstalk) and a dead one (PI quenches AO,
/// fraction 0.8+ on synthetic fields and in published AO/PI spectra).
pub const DEFAULT_DEAD_PI_FRACTION: f64 = 0.5;

/// Mean stain, in robust noise sigmas, below which an object is not a
/// stained cell. Segmentation already needs a 6σ peak, so this only drops
/// objects barely above detection (weakly stained fragments); stained nuclei
/// are far brighter (on synthetic AO/PI fields, even with 4x the shot noise,
/// vignetting 0.5 and 30 % defocused cells, the dimmest cell averaged 20σ).
pub const DEFAULT_MIN_CELL_SIGMA: f64 = 8.0;

impl Default for AopiConfig {
    fn default() -> Self {
        Self {
            ao_suffix: "_AO".into(),
            pi_suffix: "_PI".into(),
            dead_pi_fraction: DEFAULT_DEAD_PI_FRACTION,
            min_cell_sigma: DEFAULT_MIN_CELL_SIGMA,
        }
    }
}
