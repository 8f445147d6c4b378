//! The hot folder: a QC system drops a sample folder (with a `READY` file)
//! or a manifest `*.csv` into INBOX; results go to `OUTBOX/<name>/`, the
//! drop moves to `INBOX/.done/<name>` (or `.failed/<name>` with
//! `<name>.reason.txt`).
//!
//! Crash-safe: a drop is claimed by moving it to `INBOX/.work/` (an atomic
//! rename). After a restart, what is there is redone; one whose results
//! were already committed to the outbox is only moved on, never analysed
//! twice.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::aggregate::spec::SpecUsed;
use crate::audit::signature::RecordSigner;
use crate::batch::{self, BatchError, BatchRequest, Cancel, Inputs, Silent};
use crate::io::discover::discover;
use crate::io::folders::{self, Entry};
use crate::io::manifest::{parse_manifest, ManifestSample};
use crate::io::{self, IoError};
use crate::Config;

/// The file that marks a sample folder complete.
pub const READY_FILE: &str = "READY";
/// Where drops wait while they are analysed, and where they end.
pub const WORK_DIR: &str = ".work";
pub const DONE_DIR: &str = ".done";
pub const FAILED_DIR: &str = ".failed";
/// A manifest is taken once it has not changed for this long, so a file
/// still being written is not read half-way (writers should still write
/// under another name and rename).
pub const MANIFEST_SETTLE: Duration = Duration::from_secs(2);

/// How the hot folder runs.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    pub inbox: PathBuf,
    pub outbox: PathBuf,
    /// Settings for every drop.
    pub config: Config,
    pub spec: Option<SpecUsed>,
    /// The run log's operator.
    pub operator: String,
    pub signer: Option<RecordSigner>,
    /// How often the inbox is looked at.
    pub poll: Duration,
    /// Analyse what is there (and what a stop left in `.work`), then return.
    pub once: bool,
}

/// A drop: a sample folder or a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Drop {
    Folder(String),
    Manifest(String),
}

impl Drop {
    /// The outbox folder name.
    fn name(&self) -> &str {
        match self {
            Drop::Folder(name) | Drop::Manifest(name) => name,
        }
    }

    /// Its file or folder name in the inbox.
    fn file_name(&self) -> String {
        match self {
            Drop::Folder(name) => name.clone(),
            Drop::Manifest(name) => format!("{name}.csv"),
        }
    }

    /// The drop `entry` is, if it is one and is complete: a folder with
    /// `READY` in it (unless claimed already), or a manifest unchanged for
    /// `settle`.
    fn of(entry: &Entry, claimed: bool, settle: Duration) -> Option<Self> {
        if entry.name.starts_with('.') {
            return None;
        }
        if entry.is_dir {
            let ready = claimed || entry.path.join(READY_FILE).is_file();
            return ready.then(|| Drop::Folder(entry.name.clone()));
        }
        let stem = entry.name.strip_suffix(".csv")?;
        let settled = claimed || entry.age >= settle;
        (settled && !stem.is_empty()).then(|| Drop::Manifest(stem.to_string()))
    }
}

/// The samples of a folder drop: images directly in it are sample NAME,
/// those in a subfolder SUB are sample NAME/SUB.
fn folder_samples(name: &str, folder: &Path) -> Vec<ManifestSample> {
    let found = discover(&[folder.to_path_buf()], &[]);
    batch::samples_by_folder(&found.images, &[folder.to_path_buf()], name)
}

/// Why a drop was not analysed.
#[derive(Debug, thiserror::Error)]
enum DropError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Manifest(#[from] crate::io::manifest::ManifestError),
    #[error("the folder holds no image (.png .tif .tiff .jpg .jpeg .bmp)")]
    NoImages,
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error("the manifest names {}, which is not in the inbox's own folders (outside it, or in .work, .done or .failed)", .0.display())]
    Outside(PathBuf),
    #[error(
        "not one image could be analysed (see results.json in the outbox for each one's error)"
    )]
    NothingAnalysed,
}

/// A manifest drop may name only images in the inbox's own folders: not
/// outside it (`..`, absolute paths, links) and not in another drop's
/// `.work`, `.done` or `.failed`.
fn check_manifest_images(inbox: &Path, samples: &[ManifestSample]) -> Result<(), DropError> {
    let inbox = folders::canonical(inbox)?;
    for image in samples.iter().flat_map(|s| &s.images) {
        // A missing image becomes the batch's error record.
        let Ok(resolved) = folders::canonical(image) else {
            continue;
        };
        let inside = resolved.strip_prefix(&inbox).ok().and_then(|rest| {
            let first = rest.components().next()?;
            (!first.as_os_str().to_string_lossy().starts_with('.')).then_some(())
        });
        if inside.is_none() {
            return Err(DropError::Outside(image.clone()));
        }
    }
    Ok(())
}

/// Analyses a claimed drop (in `.work`) into the outbox.
fn analyse(
    options: &WatchOptions,
    drop: &Drop,
    run_log: &Path,
    threads: usize,
    stop: &Cancel,
) -> Result<(), DropError> {
    let work = options.inbox.join(WORK_DIR).join(drop.file_name());
    let samples = match drop {
        Drop::Folder(name) => folder_samples(name, &work),
        // Relative paths are taken from the inbox, where it was dropped.
        Drop::Manifest(_) => parse_manifest(
            &options.inbox.join(drop.file_name()),
            &io::read_text(&work)?,
        )?,
    };
    if samples.is_empty() {
        return Err(DropError::NoImages);
    }
    if let Drop::Manifest(_) = drop {
        check_manifest_images(&options.inbox, &samples)?;
    }
    let request = BatchRequest {
        inputs: Inputs::Manifest(samples),
        config: options.config.clone(),
        spec: options.spec.clone(),
        metadata: [("drop".to_string(), drop.file_name())].into(),
        operator: Some(options.operator.clone()),
        out: options.outbox.join(drop.name()),
        run_log: Some(run_log.to_path_buf()),
        overwrite: false,
        signer: options.signer.clone(),
        threads,
        shard: None,
        cancel: stop.clone(),
    };
    let outcome = batch::run(request, &mut Silent)?;
    if outcome.summary.images_failed == outcome.summary.images {
        return Err(DropError::NothingAnalysed);
    }
    tracing::info!(
        "hot folder: {} analysed ({} images, {} failed) into {}",
        drop.file_name(),
        outcome.summary.images,
        outcome.summary.images_failed,
        options.outbox.join(drop.name()).display()
    );
    Ok(())
}

/// `dir/NAME` (or `NAME.csv`), or `NAME-2`, `NAME-3`… if taken: a name
/// dropped twice keeps both.
fn free_name(dir: &Path, drop: &Drop) -> PathBuf {
    let mut candidate = dir.join(drop.file_name());
    let mut n = 2;
    while candidate.exists() {
        let name = match drop {
            Drop::Folder(name) => format!("{name}-{n}"),
            Drop::Manifest(name) => format!("{name}-{n}.csv"),
        };
        candidate = dir.join(name);
        n += 1;
    }
    candidate
}

/// Moves a claimed drop on: to `.done`, or to `.failed` with its reason.
fn settle(options: &WatchOptions, drop: &Drop, failure: Option<&str>) -> Result<(), IoError> {
    let work = options.inbox.join(WORK_DIR).join(drop.file_name());
    let Some(reason) = failure else {
        return folders::move_to(&work, &free_name(&options.inbox.join(DONE_DIR), drop));
    };
    tracing::warn!("hot folder: {} failed: {reason}", drop.file_name());
    let to = free_name(&options.inbox.join(FAILED_DIR), drop);
    // The reason first: a stop between the two leaves it, not a bare drop.
    let mut reason_file = to.clone().into_os_string();
    reason_file.push(".reason.txt");
    io::write::write_atomic(Path::new(&reason_file), format!("{reason}\n").as_bytes())?;
    folders::move_to(&work, &to)
}

/// Analyses one claimed drop and settles it. `resumed`: it was found in
/// `.work` after a stop, so results already in the outbox are its own.
fn process(
    options: &WatchOptions,
    drop: &Drop,
    resumed: bool,
    run_log: &Path,
    threads: usize,
    stop: &Cancel,
) -> Result<(), IoError> {
    match analyse(options, drop, run_log, threads, stop) {
        Ok(()) => settle(options, drop, None),
        Err(DropError::Batch(BatchError::ResultsExist { .. })) if resumed => {
            tracing::info!(
                "hot folder: {} was analysed before the stop; moved on",
                drop.file_name()
            );
            settle(options, drop, None)
        }
        // A stop asked for: the drop stays in .work and is redone next start.
        Err(DropError::Batch(BatchError::Cancelled)) => Ok(()),
        Err(e) => settle(options, drop, Some(&e.to_string())),
    }
}

/// A drop that cannot be moved on stays where it is (in `.work`, redone at
/// the next start); the hot folder goes on with the others.
fn keep_going(outcome: Result<(), IoError>, drop: &Drop) {
    if let Err(e) = outcome {
        tracing::error!("hot folder: {}: {e}", drop.file_name());
    }
}

/// Runs the hot folder until `stop` (or, with `once`, until the inbox is
/// empty). Drops are analysed one at a time, in name order.
pub fn run(
    options: &WatchOptions,
    run_log: &Path,
    threads: usize,
    stop: &Cancel,
) -> Result<(), IoError> {
    for dir in [WORK_DIR, DONE_DIR, FAILED_DIR] {
        io::write::ensure_dir(&options.inbox.join(dir))?;
    }
    io::write::ensure_dir(&options.outbox)?;
    // What a stop left claimed is redone first.
    for entry in folders::list(&options.inbox.join(WORK_DIR))? {
        if let Some(drop) = Drop::of(&entry, true, Duration::ZERO) {
            keep_going(process(options, &drop, true, run_log, threads, stop), &drop);
        }
    }
    // A single pass has no later look to wait for.
    let settle_time = if options.once {
        Duration::ZERO
    } else {
        MANIFEST_SETTLE
    };
    while !stop.is_cancelled() {
        let mut taken = 0;
        for entry in folders::list(&options.inbox)? {
            let Some(drop) = Drop::of(&entry, false, settle_time) else {
                continue;
            };
            let claimed = options.inbox.join(WORK_DIR).join(drop.file_name());
            if let Err(e) = folders::move_to(&entry.path, &claimed) {
                tracing::warn!("hot folder: cannot claim {}: {e}", drop.file_name());
                continue;
            }
            taken += 1;
            // Results of that name in the outbox are another drop's: after
            // this check, results found for a resumed drop are its own.
            let outcome = if options
                .outbox
                .join(drop.name())
                .join("results.json")
                .exists()
            {
                let reason = format!(
                    "{} already holds results of an earlier drop of that name; rename the drop",
                    options.outbox.join(drop.name()).display()
                );
                settle(options, &drop, Some(&reason))
            } else {
                process(options, &drop, false, run_log, threads, stop)
            };
            keep_going(outcome, &drop);
            if stop.is_cancelled() {
                return Ok(());
            }
        }
        if options.once && taken == 0 {
            return Ok(());
        }
        if taken == 0 {
            std::thread::sleep(options.poll);
        }
    }
    Ok(())
}
