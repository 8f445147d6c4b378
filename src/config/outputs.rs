//! Settings of what a run pools and writes: the sample (chamber, pooling)
//! and the reports (overlays, exports, report.html).

use serde::{Deserialize, Serialize};

use super::{Chamber, ExportKind};

/// How fields are pooled into a sample's concentration and viability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SampleConfig {
    pub chamber: Chamber,
    /// Chamber depth in µm; overrides the preset (required for `custom`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chamber_depth_um: Option<f64>,
    /// Pitch in µm of the rulings the fields show (improved Neubauer: 50,
    /// 200, 250 or 1000): with no pixel size given or declared, the pixel
    /// size is this over the rulings' measured spacing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chamber_grid_pitch_um: Option<f64>,
    /// Dilution of the sample before staining (a manifest's `dilution` column
    /// overrides it per sample).
    pub pre_dilution: f64,
    /// Dilution by mixing with the stain: 2 for the usual 1:1 mix.
    pub stain_dilution: f64,
    /// Wanted relative half-width of the 95 % interval of the total count:
    /// fewer cells than that needs get a warning.
    pub target_precision: f64,
    /// Upper end of the linear counting range (cells/mL, total, before
    /// dilution factors): above it cells overlap and the count is low.
    pub max_linear_cells_per_ml: f64,
    /// Bin width of the size histograms, µm.
    pub histogram_bin_um: f64,
    /// Fields of one sample whose measured cell diameters differ by more
    /// than this factor get a warning (other magnification, other cells, or
    /// a failed measurement).
    pub max_diameter_ratio: f64,
}

impl Default for SampleConfig {
    fn default() -> Self {
        Self {
            chamber: Chamber::NeubauerImproved,
            chamber_depth_um: None,
            chamber_grid_pitch_um: None,
            pre_dilution: 1.0,
            stain_dilution: 2.0,
            target_precision: 0.1,
            max_linear_cells_per_ml: 1.0e7,
            histogram_bin_um: 2.0,
            max_diameter_ratio: 1.5,
        }
    }
}

impl SampleConfig {
    /// The chamber depth in µm, from the override or the preset.
    pub fn depth_um(&self) -> Option<f64> {
        self.chamber_depth_um.or(self.chamber.depth_um())
    }
}

/// When overlay pictures are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OverlayMode {
    /// Only for batches of at most [`AUTO_OVERLAY_MAX_IMAGES`] images.
    Auto,
    Always,
    Never,
}

/// `OverlayMode::Auto` writes overlays up to this many images (a small batch a
/// person will look at; larger batches are for machines).
pub const AUTO_OVERLAY_MAX_IMAGES: usize = 50;

/// Output settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    pub overlays: OverlayMode,
    /// List debris objects (not only their count) in results.json.
    pub list_debris: bool,
    /// Write report.html.
    pub html: bool,
    /// Overlay thumbnails per sample in report.html (its first fields).
    pub html_thumbnails: u32,
    /// Write results.asm.json (Allotrope Simple Model, cell-counting REC/2024/09).
    pub asm: bool,
    /// Per-image files for other tools, in `exports/` (none by default;
    /// left out of the resolved settings when empty, so older settings
    /// hashes still hold).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<ExportKind>,
}

/// Thumbnails per sample in report.html: enough to see a sample's fields at a
/// glance while a 2,000-image run's report stays a few MB.
pub const DEFAULT_HTML_THUMBNAILS: u32 = 12;

impl Default for ReportConfig {
    fn default() -> Self {
        Self {
            overlays: OverlayMode::Auto,
            list_debris: false,
            html: true,
            html_thumbnails: DEFAULT_HTML_THUMBNAILS,
            asm: false,
            exports: Vec::new(),
        }
    }
}
