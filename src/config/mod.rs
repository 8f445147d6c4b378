//! Analysis settings: one serialisable [`Config`] with documented defaults.
//!
//! A config file (TOML or JSON) may give any subset of the settings; the rest
//! take their defaults. Unknown keys are an error, so a misspelt setting never
//! passes silently. [`Config::validate`] checks ranges before any work starts.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::gate::GateConfig;

mod chamber;
mod docs;
mod export;
mod validate;

pub use chamber::{Chamber, GRID_PITCH_UM};
pub use docs::{SettingDoc, SETTING_DOCS};
pub use export::ExportKind;

/// Diameter range used when the diameter is estimated (`--diameter auto`)
/// but a field holds too few objects to measure, read from LDC trypan-blue
/// fields (hemocytometer, 10x-class magnification): segmented cells there
/// measure 20–33 px (10th–90th percentile of equivalent diameter, rim and
/// halo included), labelled boxes 15–29 px.
pub const FALLBACK_DIAMETER_PX: DiameterRange = DiameterRange {
    min: 12.0,
    max: 40.0,
};

/// File name of the viability model shipped in `models/`.
pub const DEFAULT_MODEL_FILE: &str = "cellvia-viability-v3.onnx";

/// Images larger than this many pixels are refused before decoding (a 2048×1536
/// field is 3.1 Mpx; this leaves room for stitched scans, not for absurd headers).
pub const DEFAULT_MAX_IMAGE_PIXELS: u64 = 100_000_000;

/// The default per-image time budget, seconds. A 100 Mpx field (the default
/// pixel limit) takes about 30 s on one 2024 laptop core; 120 s leaves room
/// for a slow or busy machine while stopping a runaway field.
pub const DEFAULT_MAX_SECONDS_PER_IMAGE: f64 = 120.0;

/// Which part of a colour image is analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChannelMode {
    /// Rec. 601 luma, 0.299 R + 0.587 G + 0.114 B (trypan-blue brightfield).
    Luminance,
    Red,
    Green,
    Blue,
}

/// How many significant bits the stored samples carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BitDepth {
    /// From the container (8 or 16 bit), except 16-bit files whose largest
    /// sample fits in 10, 12 or 14 bits: those are scaled by that depth, as
    /// cameras store 12-bit data in 16-bit files.
    Auto,
    /// Use the container's full range whatever the data.
    Container,
    /// 12 significant bits in a 16-bit container.
    Twelve,
}

/// A typical cell diameter range, CellProfiler's "typical diameter (min,max)".
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiameterRange {
    pub min: f64,
    pub max: f64,
}

impl DiameterRange {
    /// Middle of the range: the scale crops and seeds are tied to.
    ///
    /// ```
    /// let d = cellvia::config::DiameterRange { min: 10.0, max: 30.0 };
    /// assert_eq!(d.typical(), 20.0);
    /// ```
    pub fn typical(&self) -> f64 {
        0.5 * (self.min + self.max)
    }
}

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

/// Every setting of an analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The staining: trypan-blue brightfield or AO/PI fluorescence.
    pub assay: Assay,
    /// Channel analysed in colour images (trypan).
    pub channel: ChannelMode,
    pub bit_depth: BitDepth,
    /// Typical cell diameter in pixels; ignored when `diameter_um` and
    /// `pixel_size_um` are set; unset (the default): measured from each field.
    pub diameter_px: Option<DiameterRange>,
    /// Pixel size in µm/px, needed for `diameter_um`.
    pub pixel_size_um: Option<f64>,
    /// Typical cell diameter in µm.
    pub diameter_um: Option<DiameterRange>,
    /// Refuse images with more pixels than this.
    pub max_image_pixels: u64,
    /// A field whose analysis takes longer than this (checked between
    /// stages) becomes an error record instead of stalling the batch.
    pub max_seconds_per_image: f64,
    pub segment: SegmentConfig,
    pub classify: ClassifyConfig,
    pub aopi: AopiConfig,
    pub sample: SampleConfig,
    /// Criteria a classified cell must meet to be counted (all off by default).
    pub gate: GateConfig,
    /// Limits beyond which a field gets an image-quality flag.
    pub quality: crate::aggregate::quality::QualityLimits,
    pub report: ReportConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            assay: Assay::Trypan,
            channel: ChannelMode::Luminance,
            bit_depth: BitDepth::Auto,
            diameter_px: None,
            pixel_size_um: None,
            diameter_um: None,
            max_image_pixels: DEFAULT_MAX_IMAGE_PIXELS,
            max_seconds_per_image: DEFAULT_MAX_SECONDS_PER_IMAGE,
            segment: SegmentConfig::default(),
            classify: ClassifyConfig::default(),
            aopi: AopiConfig::default(),
            sample: SampleConfig::default(),
            gate: GateConfig::default(),
            quality: Default::default(),
            report: ReportConfig::default(),
        }
    }
}

/// A setting out of range or inconsistent with another.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid setting `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
}

impl Config {
    /// Parses a config from TOML or JSON text; the format is taken from the extension.
    ///
    /// ```
    /// use cellvia::Config;
    /// let c = Config::from_text("lab.toml", "[segment]\ndeclump = false\n").unwrap();
    /// assert!(!c.segment.declump);
    /// assert_eq!(c.classify.batch_size, 64);
    /// ```
    pub fn from_text(path: impl AsRef<Path>, text: &str) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let parsed = if is_json {
            serde_json::from_str(text).map_err(|e| e.to_string())
        } else {
            toml::from_str(text).map_err(|e| e.to_string())
        };
        parsed.map_err(|message| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        })
    }
    /// The diameter range the settings fix, in pixels: `diameter_um`
    /// converted when a pixel size is set, else `diameter_px`; `None` (the
    /// default, `--diameter auto`) measures it from each field.
    ///
    /// ```
    /// use cellvia::{Config, config::DiameterRange};
    /// let mut c = Config::default();
    /// assert_eq!(c.fixed_diameter(), None);
    /// c.pixel_size_um = Some(0.5);
    /// c.diameter_um = Some(DiameterRange { min: 5.0, max: 15.0 });
    /// assert_eq!(c.fixed_diameter(), Some(DiameterRange { min: 10.0, max: 30.0 }));
    /// ```
    pub fn fixed_diameter(&self) -> Option<DiameterRange> {
        match (self.pixel_size_um, self.diameter_um) {
            (Some(p), Some(d)) => Some(DiameterRange {
                min: d.min / p,
                max: d.max / p,
            }),
            _ => self.diameter_px,
        }
    }

    /// SHA-256 of the config as compact JSON (fields in declaration order):
    /// the same settings always give the same hash.
    ///
    /// ```
    /// let a = cellvia::Config::default();
    /// let mut b = a.clone();
    /// b.segment.declump = false;
    /// assert_eq!(a.sha256(), cellvia::Config::default().sha256());
    /// assert_ne!(a.sha256(), b.sha256());
    /// ```
    pub fn sha256(&self) -> String {
        crate::sha256_hex(&serde_json::to_vec(self).unwrap_or_default())
    }

    /// The model file: the configured one, else the shipped default.
    pub fn model_path(&self) -> PathBuf {
        self.classify
            .model
            .clone()
            .unwrap_or_else(default_model_path)
    }
}

/// The shipped model: `models/` next to the executable's install prefix if
/// present, else this source tree's `models/` (a development build).
pub fn default_model_path() -> PathBuf {
    let source_tree = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(DEFAULT_MODEL_FILE);
    let installed = std::env::current_exe().ok().and_then(|exe| {
        exe.parent()
            .map(|dir| dir.join("models").join(DEFAULT_MODEL_FILE))
    });
    crate::io::first_existing_file(installed).unwrap_or(source_tree)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        Config::default().validate().expect("defaults are valid");
    }

    #[test]
    fn documented_defaults_parse_back_to_defaults() {
        let text = Config::default_toml_documented();
        let parsed = Config::from_text("d.toml", &text).expect("documented defaults parse");
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn every_setting_is_documented() {
        let text = Config::default_toml_documented();
        for doc in SETTING_DOCS {
            assert!(text.contains(doc.meaning), "{} missing", doc.key);
        }
        // And every key of the serialised defaults has a doc entry.
        let value = toml::Value::try_from(Config::default()).unwrap();
        for (key, v) in value.as_table().unwrap() {
            let paths: Vec<String> = match v.as_table() {
                Some(t) if !key.starts_with("diameter") => {
                    t.keys().map(|k| format!("{key}.{k}")).collect()
                }
                _ => vec![key.clone()],
            };
            for path in paths {
                assert!(
                    SETTING_DOCS.iter().any(|d| d.key == path),
                    "{path} undocumented"
                );
            }
        }
        // Each key that appears as `key = ` has a doc line right above it.
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !line.starts_with('#') && line.contains(" = ") {
                assert!(
                    i > 0 && lines[i - 1].starts_with('#'),
                    "undocumented: {line}"
                );
            }
        }
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = Config::from_text("c.toml", "diamter_px = 3").unwrap_err();
        assert!(err.to_string().contains("diamter_px"), "{err}");
    }

    #[test]
    fn json_config_is_accepted() {
        let c = Config::from_text("c.json", r#"{"classify": {"batch_size": 8}}"#).unwrap();
        assert_eq!(c.classify.batch_size, 8);
    }

    #[test]
    fn micrometre_diameter_needs_pixel_size() {
        let mut c = Config {
            diameter_um: Some(DiameterRange {
                min: 5.0,
                max: 10.0,
            }),
            ..Default::default()
        };
        assert!(c.validate().is_err());
        c.pixel_size_um = Some(0.5);
        c.validate().unwrap();
        assert_eq!(c.fixed_diameter().unwrap().min, 10.0);
    }

    #[test]
    fn inverted_range_is_rejected() {
        let c = Config {
            diameter_px: Some(DiameterRange {
                min: 20.0,
                max: 10.0,
            }),
            ..Default::default()
        };
        assert!(c.validate().is_err());
    }
}
