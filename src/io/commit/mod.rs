//! How a run's results become final: the run-log record is the commit point.
//!
//! 1. The run takes an advisory lock on its output folder ([`lock_output`]),
//!    so two runs never write one folder; a second one is refused at once.
//! 2. Before anything else it finishes or discards what a killed run left
//!    ([`recover`]).
//! 3. Every output file is written, synced, into a private staging folder
//!    (`OUT/.cellvia-staging`, hidden from input discovery), with a
//!    `PENDING.json` naming the run log and the files' hashes.
//! 4. The run appends its record to the run log. This is the commit: before
//!    it, the staged files are discarded by the next run; after it, they are
//!    moved into place ([`Staging::publish`], also redone by [`recover`] if
//!    the run dies while moving them).
//!
//! So a final file in `OUT` is always one a log record vouches for, and an
//! `--overwrite` run removes the previous run's outputs that it does not
//! write again (no longer vouched for by the latest record).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

mod recover;

pub use recover::{recover, Pending, Recovery};

use super::folders::remove_all;
use super::published::{checksum_list, publish_folder, Folder};
use super::write::AtomicFile;
use super::IoError;

/// The lock file in every output folder.
pub const LOCK_FILE: &str = ".cellvia.lock";
/// The staging folder inside the output folder.
pub const STAGING_DIR: &str = ".cellvia-staging";
/// What the staging folder says about the run it holds.
const PENDING_FILE: &str = "PENDING.json";
/// Every file a run may write at the top of its output folder.
pub const OUTPUT_NAMES: &[&str] = &[
    "results.json",
    "images.csv",
    "cells.csv",
    "samples.csv",
    "report.html",
    "results.asm.json",
    "shard.json",
];

/// Why an output folder cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("{out} is being written by another cellvia run ({lock} is locked); wait for it to finish or choose another --out")]
    Busy { out: PathBuf, lock: PathBuf },
    #[error(transparent)]
    Io(#[from] IoError),
}

/// An exclusive advisory lock on an output folder, held until dropped.
#[derive(Debug)]
pub struct OutputLock {
    _file: File,
    out: PathBuf,
}

/// Creates `out` if needed and locks it; refuses at once if another run
/// holds it. The operating system drops the lock when the process dies, so
/// a killed run never leaves a folder locked.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let lock = cellvia::io::commit::lock_output(dir.path())?;
/// assert!(cellvia::io::commit::lock_output(dir.path()).is_err());
/// drop(lock);
/// assert!(cellvia::io::commit::lock_output(dir.path()).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn lock_output(out: &Path) -> Result<OutputLock, CommitError> {
    let write_error = |source| IoError::Write {
        path: out.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(out).map_err(write_error)?;
    let lock = out.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(write_error)?;
    match file.try_lock() {
        Ok(()) => Ok(OutputLock {
            _file: file,
            out: out.to_path_buf(),
        }),
        Err(std::fs::TryLockError::WouldBlock) => Err(CommitError::Busy {
            out: out.to_path_buf(),
            lock,
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(write_error(e).into()),
    }
}

/// The output files of a run being written, in the staging folder.
/// Dropped without [`Staging::publish`] (the run failed before its
/// commit), it removes them.
#[derive(Debug)]
pub struct Staging {
    out: PathBuf,
    dir: PathBuf,
    outputs: BTreeMap<String, String>,
    /// Per published folder: file name -> SHA-256.
    folders: BTreeMap<Folder, BTreeMap<String, String>>,
    /// Set once `PENDING.json` is written: from then on only [`recover`],
    /// reading the log, may decide the files' fate (an append that failed
    /// may still have landed).
    keep: bool,
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.keep {
            let _ = remove_all(&self.dir);
        }
    }
}

impl Staging {
    /// A fresh staging folder in `lock`'s folder (call [`recover`] first).
    pub fn create(lock: &OutputLock) -> Result<Self, IoError> {
        let dir = lock.out.join(STAGING_DIR);
        remove_all(&dir)?;
        for folder in Folder::ALL {
            std::fs::create_dir_all(dir.join(folder.dir())).map_err(|source| IoError::Write {
                path: dir.clone(),
                source,
            })?;
        }
        Ok(Self {
            out: lock.out.clone(),
            dir,
            outputs: BTreeMap::new(),
            folders: BTreeMap::new(),
            keep: false,
        })
    }

    /// A file streamed into the staging folder; give its hash to
    /// [`Staging::add`] when committed.
    pub fn file(&self, name: &str) -> Result<AtomicFile, IoError> {
        AtomicFile::create(&self.dir.join(name))
    }

    /// Records a staged file's hash (from [`AtomicFile::commit`]).
    pub fn add(&mut self, name: &str, sha256: String) {
        self.outputs.insert(name.to_string(), sha256);
    }

    /// Stages a whole output file.
    pub fn write(&mut self, name: &str, bytes: &[u8]) -> Result<(), IoError> {
        let mut file = self.file(name)?;
        file.write(bytes)?;
        let hash = file.commit()?;
        self.add(name, hash);
        Ok(())
    }

    /// Stages one file of a published folder (a plain name, no folders).
    pub fn write_in(&mut self, folder: Folder, name: &str, bytes: &[u8]) -> Result<(), IoError> {
        let mut file = AtomicFile::create(&self.dir.join(folder.dir()).join(name))?;
        file.write(bytes)?;
        let hash = file.commit()?;
        self.folders
            .entry(folder)
            .or_default()
            .insert(name.to_string(), hash);
        Ok(())
    }

    /// Stages the checksum list of every published folder that has files;
    /// their hashes join the outputs.
    pub fn seal_folders(&mut self) -> Result<(), IoError> {
        for (folder, files) in std::mem::take(&mut self.folders) {
            self.write(folder.sums(), checksum_list(&files).as_bytes())?;
        }
        Ok(())
    }

    /// The staged outputs: file name -> SHA-256.
    pub fn outputs(&self) -> &BTreeMap<String, String> {
        &self.outputs
    }

    /// Writes and syncs `PENDING.json`: the last step before the commit.
    /// From here on the staged files are left for [`recover`] if the run
    /// fails, since only the log can tell whether it committed.
    pub fn prepare(&mut self, run_log: &Path, out: &str) -> Result<(), IoError> {
        let pending = Pending {
            run_log: std::path::absolute(run_log).unwrap_or_else(|_| run_log.to_path_buf()),
            out: out.to_string(),
            outputs: self.outputs.clone(),
        };
        let json = serde_json::to_vec_pretty(&pending).unwrap_or_default();
        let mut file = AtomicFile::create(&self.dir.join(PENDING_FILE))?;
        file.write(&json)?;
        file.commit()?;
        for folder in Folder::ALL {
            sync_dir(&self.dir.join(folder.dir()))?;
        }
        sync_dir(&self.dir)?;
        self.keep = true;
        Ok(())
    }

    /// After the commit: moves the staged files into place. If that fails
    /// they stay staged, and the next run into the folder finishes the move.
    pub fn publish(mut self) -> Result<(), IoError> {
        self.keep = true;
        publish(&self.out, &self.dir, &self.outputs)
    }
}

/// Moves what is still staged into `out`, removes outputs of earlier runs
/// that `outputs` does not list, and removes the staging folder. Each step
/// can be redone, so a run killed here is finished by [`recover`].
fn publish(out: &Path, staging: &Path, outputs: &BTreeMap<String, String>) -> Result<(), IoError> {
    let write_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| IoError::Write { path, source }
    };
    // The old results.json goes first: under --overwrite, a results.json in
    // place always belongs with the other files in place.
    let results = out.join("results.json");
    if staging.join("results.json").exists() && results.exists() {
        std::fs::remove_file(&results).map_err(write_error(&results))?;
    }
    for name in OUTPUT_NAMES {
        let stale = out.join(name);
        if !outputs.contains_key(*name) && stale.exists() {
            std::fs::remove_file(&stale).map_err(write_error(&stale))?;
        }
    }
    for folder in Folder::ALL {
        publish_folder(out, staging, outputs, folder)?;
    }
    // results.json goes last: where it is in place, every other file is too.
    let mut names: Vec<&String> = outputs
        .keys()
        .filter(|n| Folder::of_sums(n).is_none())
        .collect();
    names.sort_by_key(|n| n.as_str() == "results.json");
    for name in names {
        let staged = staging.join(name);
        if staged.exists() {
            let target = out.join(name);
            std::fs::rename(&staged, &target).map_err(write_error(&target))?;
        }
    }
    sync_dir(out)?;
    remove_all(staging)
}

/// Makes renames and new names in `dir` durable (best effort where a
/// filesystem cannot sync folders).
fn sync_dir(dir: &Path) -> Result<(), IoError> {
    match File::open(dir).and_then(|d| d.sync_all()) {
        Err(e) if e.kind() != std::io::ErrorKind::InvalidInput => Err(IoError::Write {
            path: dir.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged_run(out: &Path, lock: &OutputLock, text: &str, overlay: bool) -> Staging {
        let mut staging = Staging::create(lock).unwrap();
        staging.write("results.json", text.as_bytes()).unwrap();
        if overlay {
            staging
                .write_in(Folder::Overlays, "00000_a.png", b"png")
                .unwrap();
        }
        staging.seal_folders().unwrap();
        staging.prepare(&out.join("log"), "out").unwrap();
        staging
    }

    #[test]
    fn a_run_that_fails_before_prepare_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let lock = lock_output(dir.path()).unwrap();
        let mut staging = Staging::create(&lock).unwrap();
        staging.write("results.json", b"x").unwrap();
        drop(staging);
        assert!(!dir.path().join(STAGING_DIR).exists());
    }

    #[test]
    fn nothing_is_final_before_publish_and_everything_after() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        let lock = lock_output(out).unwrap();
        let staging = staged_run(out, &lock, "one", true);
        assert!(!out.join("results.json").exists());
        staging.publish().unwrap();
        assert_eq!(std::fs::read(out.join("results.json")).unwrap(), b"one");
        assert_eq!(
            std::fs::read(out.join("overlays/00000_a.png")).unwrap(),
            b"png"
        );
        let sums = std::fs::read_to_string(out.join(Folder::Overlays.sums())).unwrap();
        assert_eq!(
            crate::io::published::parse_checksum_list(&sums)["00000_a.png"],
            crate::sha256_hex(b"png")
        );
        assert!(!out.join(STAGING_DIR).exists());
        // A second run without overlays removes the first run's.
        staged_run(out, &lock, "two", false).publish().unwrap();
        assert!(!out.join(Folder::Overlays.dir()).exists());
        assert_eq!(std::fs::read(out.join("results.json")).unwrap(), b"two");
    }

    #[test]
    fn recovery_completes_a_committed_run_and_discards_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        let lock = lock_output(out).unwrap();
        // Killed after its record: prepared staging stays.
        drop(staged_run(out, &lock, "committed", true));
        let done = recover(&lock, |p| {
            Ok::<_, ()>(p.outputs.contains_key("results.json"))
        });
        assert_eq!(done.unwrap(), Ok(Recovery::Completed));
        assert_eq!(
            std::fs::read(out.join("results.json")).unwrap(),
            b"committed"
        );
        assert!(out.join("overlays/00000_a.png").exists());
        drop(staged_run(out, &lock, "never logged", false));
        let done = recover(&lock, |_| Ok::<_, ()>(false));
        assert_eq!(done.unwrap(), Ok(Recovery::Discarded));
        assert_eq!(
            std::fs::read(out.join("results.json")).unwrap(),
            b"committed"
        );
        assert!(!out.join(STAGING_DIR).exists());
        assert_eq!(
            recover(&lock, |_| Ok::<_, ()>(true)).unwrap(),
            Ok(Recovery::Nothing)
        );
    }
}
