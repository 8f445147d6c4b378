//! One batch, start to finish: the library entry point that the CLI, the
//! service and the hot folder all call.
//!
//! A [`BatchRequest`] (inputs, settings, spec, output folder) goes in;
//! results.json, the CSVs, overlays, report.html and the ASM document come
//! out in its folder, committed by one run-log record, and a
//! [`BatchOutcome`] comes back. Fields that fail become error records; only
//! what stops the whole batch is a [`BatchError`].

mod assemble;
mod fields;
mod grid;
mod merge;
mod outputs;
mod plan;
mod run;
mod shard;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::aggregate::record::ImageRecord;
use crate::aggregate::sample::SampleResult;
use crate::aggregate::spec::SpecUsed;
use crate::aggregate::BatchSummary;
use crate::audit::signature::RecordSigner;
use crate::audit::AuditError;
use crate::classify::ClassifyError;
use crate::config::ConfigError;
use crate::io::commit::CommitError;
use crate::io::manifest::ManifestSample;
use crate::io::IoError;
use crate::scheduler::SchedulerError;
use crate::Config;

pub use assemble::thumbnail_name;
pub use merge::{merge, MergeRequest};
pub use plan::samples_by_folder;
use plan::SamplePlan;
pub use run::run;
pub(crate) use run::unix_now;
pub use shard::{Shard, ShardFile, SHARD_FILE};

/// Exit code: every input analysed (and, with a spec, every sample PASS).
pub const EXIT_OK: u8 = 0;
/// Exit code: some inputs failed (each has an error record; the rest have
/// results), or a sample did not PASS the release spec.
pub const EXIT_SOME_FAILED: u8 = 1;
/// Exit code: nothing could be done (bad settings, model missing, output
/// folder not writable, run log broken).
pub const EXIT_FATAL: u8 = 2;

/// The run log in the output folder when no other is named.
pub const RUN_LOG_NAME: &str = "run-log.jsonl";

/// What a batch analyses.
#[derive(Debug, Clone)]
pub enum Inputs {
    /// Image files and folders (searched recursively); each folder is a sample.
    Paths(Vec<PathBuf>),
    /// A parsed sample manifest: its images, grouped into its samples.
    Manifest(Vec<ManifestSample>),
}

/// Lets a caller stop a running batch: set it, and the batch stops before
/// its next field and commits nothing.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// Asks the batch to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Everything one batch needs.
#[derive(Debug, Clone)]
pub struct BatchRequest {
    pub inputs: Inputs,
    /// Settings with every override applied; checked by the run once the
    /// files may have given the pixel size.
    pub config: Config,
    pub spec: Option<SpecUsed>,
    /// Run metadata (`--meta KEY=VALUE`); a manifest's columns win per sample.
    pub metadata: BTreeMap<String, String>,
    pub operator: Option<String>,
    /// The output folder (created if missing; locked for the run).
    pub out: PathBuf,
    /// The hash-chained run log; `OUT/`[`RUN_LOG_NAME`] when `None`.
    pub run_log: Option<PathBuf>,
    /// Replace results already in `out` (the log records the replacement).
    pub overwrite: bool,
    /// Signs the run record.
    pub signer: Option<RecordSigner>,
    /// Worker threads for the fields.
    pub threads: usize,
    /// Analyse only this part of the fields, for a later [`merge`].
    pub shard: Option<Shard>,
    pub cancel: Cancel,
}

/// What the caller hears while a batch runs; every method has a no-op default.
pub trait Observer {
    /// Files left out because their extension is not an image's.
    fn skipped(&mut self, _count: usize) {}
    /// The number of fields, before the first is analysed.
    fn started(&mut self, _fields: usize) {}
    /// Field `index` (in input order) is analysed; its record goes into the results.
    fn field_done(&mut self, _index: usize, _fields: usize, _record: &ImageRecord) {}
}

/// An observer that hears nothing.
#[derive(Debug, Default)]
pub struct Silent;

impl Observer for Silent {}

/// A committed batch.
#[derive(Debug, Clone)]
pub struct BatchOutcome {
    pub summary: BatchSummary,
    pub samples: Vec<SampleResult>,
    /// One line per sample that did not PASS its spec.
    pub not_passed: Vec<String>,
    /// [`EXIT_OK`] or [`EXIT_SOME_FAILED`], as the run record says.
    pub exit_code: u8,
    pub run_log: PathBuf,
    /// SHA-256 of the run-log record that commits the batch.
    pub record_sha256: String,
    /// Output file name -> SHA-256, as the record lists them.
    pub outputs: BTreeMap<String, String>,
}

/// Why a whole batch stopped (a failing field is only an error record).
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("no images found in the given paths")]
    NoImages,
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Commit(#[from] CommitError),
    #[error(transparent)]
    Classify(#[from] ClassifyError),
    #[error(transparent)]
    Scheduler(#[from] SchedulerError),
    #[error("cannot write results: {0}")]
    Csv(#[from] csv::Error),
    #[error("cannot encode an overlay: {0}")]
    Overlay(#[from] image::ImageError),
    #[error("{} already holds results (results.json); choose another output folder, or overwrite them (--overwrite; the run log records the replacement)", out.display())]
    ResultsExist { out: PathBuf },
    #[error("run log {} does not verify; {consequence}: {source}", path.display())]
    LogBroken {
        path: PathBuf,
        consequence: &'static str,
        source: AuditError,
    },
    #[error("the output folder holds the staged files of an interrupted run whose run log {} is missing; restore the log (then rerun), or delete {} to discard that run", log.display(), crate::io::commit::STAGING_DIR)]
    LogMissing { log: PathBuf },
    #[error("run log {} cannot be appended to: {source}", path.display())]
    LogNotAppendable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("run log {}: {source}", path.display())]
    Append { path: PathBuf, source: AuditError },
    #[error("the run is logged but its files could not be moved into place; the next run into this folder finishes the move: {0}")]
    Publish(IoError),
    #[error("the run was cancelled before its results were committed")]
    Cancelled,
    #[error("cannot merge: {0}")]
    Merge(String),
}
