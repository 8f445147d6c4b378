//! Serialisations of the analysis' records ([`crate::aggregate::record`]):
//! `results.json`, `images.csv`, `cells.csv`, overlay pictures, exports,
//! report.html and the Allotrope document.
//!
//! Everything here is a pure function of the analysis; run facts that differ
//! between identical runs (times, host, threads) live only in [`RunFacts`], so
//! the rest of a results file is byte-identical for identical inputs.

pub mod asm;
pub mod canvas;
pub mod csv;
pub mod export;
pub mod font;
pub mod html;
mod method;
pub mod overlay;
pub mod png;
pub mod stream;
pub mod thumbnail;

use serde::{Deserialize, Serialize};

use crate::aggregate::quality::QualityFlag;
use crate::aggregate::record::{ImageQuality, ImageRecord};
use crate::aggregate::sample::SampleResult;
use crate::aggregate::spec::SpecUsed;
use crate::aggregate::{BatchSummary, Counts};
use crate::classify::ModelInfo;
use crate::config::Config;

/// Version of the `results.json` layout; bumped on any incompatible change.
pub const RESULTS_SCHEMA: &str = "cellvia.results/1";

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
