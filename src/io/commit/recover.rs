//! Finishing or discarding what a killed run left in its staging folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{publish, OutputLock, PENDING_FILE, STAGING_DIR};
use crate::io::folders::remove_all;
use crate::io::IoError;

/// What a staging folder records before the run's commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The run log the record goes to.
    pub run_log: PathBuf,
    /// The output folder as the record names it.
    pub out: String,
    /// File name -> SHA-256, as the record lists them.
    pub outputs: BTreeMap<String, String>,
}

/// What [`recover`] did with a killed run's staging folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// There was none.
    Nothing,
    /// Its record is in the log: its files were moved into place.
    Completed,
    /// It never committed: its files were removed.
    Discarded,
}

/// Finishes or discards a staging folder a killed run left in `lock`'s
/// folder. `committed` says whether the log holds the record `Pending`
/// describes (read the log it names, [`crate::audit`]-verify it, compare
/// the outputs).
pub fn recover<E>(
    lock: &OutputLock,
    committed: impl FnOnce(&Pending) -> Result<bool, E>,
) -> Result<Result<Recovery, E>, IoError> {
    let staging = lock.out.join(STAGING_DIR);
    if !staging.exists() {
        return Ok(Ok(Recovery::Nothing));
    }
    let pending = std::fs::read(staging.join(PENDING_FILE))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Pending>(&bytes).ok());
    let Some(pending) = pending else {
        remove_all(&staging)?;
        return Ok(Ok(Recovery::Discarded));
    };
    match committed(&pending) {
        Err(e) => Ok(Err(e)),
        Ok(true) => {
            check_staged(&staging, &pending.outputs)?;
            publish(&lock.out, &staging, &pending.outputs)?;
            Ok(Ok(Recovery::Completed))
        }
        Ok(false) => {
            remove_all(&staging)?;
            Ok(Ok(Recovery::Discarded))
        }
    }
}

/// Refuses to publish staged files that differ from what the record lists
/// (a power loss after the commit that lost synced data, or tampering).
fn check_staged(staging: &Path, outputs: &BTreeMap<String, String>) -> Result<(), IoError> {
    for (name, logged) in outputs {
        let path = staging.join(name);
        if let Ok(bytes) = std::fs::read(&path) {
            if crate::sha256_hex(&bytes) != *logged {
                return Err(IoError::Write {
                    path,
                    source: std::io::Error::other(
                        "a staged file differs from what the run log recorded; not published",
                    ),
                });
            }
        }
    }
    Ok(())
}
