//! A submitted run as the store keeps it ([`Job`]), what the service says
//! of a finished one ([`Outcome`]), and the batch request a job becomes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::aggregate::sample::{Concentration, Estimate, SampleResult};
use crate::aggregate::spec::{ReleaseSpec, SpecError, SpecUsed};
use crate::aggregate::BatchSummary;
use crate::audit::signature::RecordSigner;
use crate::batch::{samples_by_folder, BatchOutcome, BatchRequest, Cancel, Inputs};
use crate::config::{Assay, ConfigError};
use crate::io::discover::discover;
use crate::io::folders::canonical;
use crate::io::manifest::{parse_manifest, ManifestError};
use crate::Config;

/// The file name a submitted manifest is parsed as: its relative image
/// paths are taken from [`ManifestText::base`].
pub const MANIFEST_NAME: &str = "manifest.csv";
/// The name a submitted spec is recorded under in results.json.
pub const SPEC_NAME: &str = "spec.toml (submitted)";

/// A submitted manifest and the folder its relative paths start from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestText {
    pub text: String,
    pub base: PathBuf,
}

/// A submitted run, checked at submission (paths resolved under the
/// roots, settings, spec and manifest parsed) and stored as JSON.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Job {
    /// Image files and folders, resolved.
    #[serde(default)]
    pub inputs: Vec<PathBuf>,
    /// Samples are the inputs' folders, named relative to the first of
    /// these that holds them (the roots, or the upload folder)…
    #[serde(default)]
    pub sample_bases: Vec<PathBuf>,
    /// …and this name for images directly in one.
    #[serde(default)]
    pub sample_top: String,
    /// The folders its images must be in (the roots, or the upload
    /// folder): checked again when the run starts, since a symbolic link
    /// may have changed since it was submitted.
    #[serde(default)]
    pub allowed: Vec<PathBuf>,
    #[serde(default)]
    pub manifest: Option<ManifestText>,
    /// Config keys, as in a JSON config file.
    #[serde(default)]
    pub settings: Option<serde_json::Value>,
    /// Release spec, TOML text.
    #[serde(default)]
    pub spec: Option<String>,
    #[serde(default)]
    pub assay: Option<Assay>,
    pub operator: String,
    #[serde(default)]
    pub meta: BTreeMap<String, String>,
}

/// Why a job's settings, spec or manifest cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("settings: {0}")]
    Settings(#[from] ConfigError),
    #[error(
        "settings may not name a model: this service analyses with the model it was started with"
    )]
    ModelInSettings,
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("{}: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("{} is outside the folders this service may read (changed since the run was submitted)", .0.display())]
    Outside(PathBuf),
}

impl Job {
    /// The settings: the submitted keys over the defaults, and the assay.
    pub fn config(&self) -> Result<Config, JobError> {
        let mut config = match &self.settings {
            Some(keys) => Config::from_text("settings.json", &keys.to_string())?,
            None => Config::default(),
        };
        if config.classify.model.is_some() {
            return Err(JobError::ModelInSettings);
        }
        if let Some(assay) = self.assay {
            config.assay = assay;
        }
        Ok(config)
    }

    /// The release spec, with its hash.
    pub fn spec_used(&self) -> Result<Option<SpecUsed>, JobError> {
        self.spec
            .as_ref()
            .map(|text| {
                Ok(SpecUsed {
                    path: SPEC_NAME.into(),
                    sha256: crate::sha256_hex(text.as_bytes()),
                    criteria: ReleaseSpec::from_toml(text)?,
                })
            })
            .transpose()
    }

    /// What the batch analyses: the manifest's samples, else the inputs'
    /// images by folder ([`samples_by_folder`]).
    pub fn inputs(&self) -> Result<Inputs, JobError> {
        let samples = match &self.manifest {
            Some(m) => parse_manifest(&m.base.join(MANIFEST_NAME), &m.text)?,
            None => {
                let found = discover(&self.inputs, &[]);
                if let Some((path, reason)) = found.unreadable.into_iter().next() {
                    return Err(JobError::Unreadable { path, reason });
                }
                samples_by_folder(&found.images, &self.sample_bases, &self.sample_top)
            }
        };
        let allowed: Vec<PathBuf> = self
            .allowed
            .iter()
            .filter_map(|p| canonical(p).ok())
            .collect();
        for image in samples.iter().flat_map(|s| &s.images) {
            // A missing file becomes the batch's error record.
            if let Ok(resolved) = canonical(image) {
                if !allowed.iter().any(|root| resolved.starts_with(root)) {
                    return Err(JobError::Outside(image.clone()));
                }
            }
        }
        Ok(Inputs::Manifest(samples))
    }

    /// The batch request of this job, into `out`, logged in `run_log`.
    pub fn request(
        &self,
        out: &Path,
        run_log: &Path,
        threads: usize,
        signer: Option<RecordSigner>,
        cancel: Cancel,
    ) -> Result<BatchRequest, JobError> {
        Ok(BatchRequest {
            inputs: self.inputs()?,
            config: self.config()?,
            spec: self.spec_used()?,
            metadata: self.meta.clone(),
            operator: Some(self.operator.clone()),
            out: out.to_path_buf(),
            run_log: Some(run_log.to_path_buf()),
            // A run redone after a restart replaces what its first try
            // committed; the log records the replacement.
            overwrite: true,
            signer,
            threads,
            shard: None,
            cancel,
        })
    }
}

/// One sample of a finished run, as the API reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleBrief {
    pub sample_id: String,
    /// PASS, FAIL or INVALID under a spec.
    pub verdict: Option<String>,
    pub reasons: Vec<String>,
    pub fields: u32,
    pub cells: u32,
    pub viability: Option<Estimate>,
    pub viable_cells_per_ml: Option<Estimate>,
    pub warnings: Vec<String>,
}

impl SampleBrief {
    fn of(sample: &SampleResult) -> Self {
        Self {
            sample_id: sample.sample_id.clone(),
            verdict: sample
                .verdict
                .as_ref()
                .map(|v| v.verdict.as_str().to_string()),
            reasons: sample
                .verdict
                .as_ref()
                .map(|v| v.reasons.clone())
                .unwrap_or_default(),
            fields: sample.fields,
            cells: sample.counts.total,
            viability: sample.viability,
            viable_cells_per_ml: sample.concentration_per_ml.map(|c: Concentration| c.live),
            warnings: sample.warnings.clone(),
        }
    }
}

/// A finished run, as the API reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub summary: BatchSummary,
    pub samples: Vec<SampleBrief>,
    pub exit_code: u8,
    /// SHA-256 of the run-log record that commits the run.
    pub record_sha256: String,
    /// The files the run wrote (overlays listed in `overlays/SHA256SUMS`).
    pub files: Vec<String>,
}

impl Outcome {
    pub fn of(batch: &BatchOutcome) -> Self {
        Self {
            summary: batch.summary.clone(),
            samples: batch.samples.iter().map(SampleBrief::of).collect(),
            exit_code: batch.exit_code,
            record_sha256: batch.record_sha256.clone(),
            files: batch.outputs.keys().cloned().collect(),
        }
    }
}
