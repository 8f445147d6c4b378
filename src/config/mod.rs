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
mod outputs;
mod stages;
mod validate;

pub use chamber::{Chamber, GRID_PITCH_UM};
pub use docs::{SettingDoc, SETTING_DOCS};
pub use export::ExportKind;
pub use outputs::{
    OverlayMode, ReportConfig, SampleConfig, AUTO_OVERLAY_MAX_IMAGES, DEFAULT_HTML_THUMBNAILS,
};
pub use stages::{
    AopiConfig, Assay, ClassifyConfig, SegmentConfig, ThresholdMethod, DEFAULT_DEAD_PI_FRACTION,
    DEFAULT_MAX_DEBRIS_FRACTION, DEFAULT_MAX_NOVEL_FRACTION, DEFAULT_MAX_UNCERTAIN_FRACTION,
    DEFAULT_MIN_CELL_SIGMA,
};

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
