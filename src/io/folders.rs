//! Folder operations for the service and the hot folder: canonical paths,
//! listing an inbox, and moving what it holds.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::IoError;

/// `path` with symbolic links, `.` and `..` resolved; the path must exist.
///
/// ```
/// let here = cellvia::io::folders::canonical("src/../src".as_ref())?;
/// assert!(here.ends_with("src") && here.is_absolute());
/// # Ok::<(), cellvia::io::IoError>(())
/// ```
pub fn canonical(path: &Path) -> Result<PathBuf, IoError> {
    std::fs::canonicalize(path).map_err(|source| IoError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// One entry of a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: PathBuf,
    /// The file name, when it is UTF-8 (others are left out of listings).
    pub name: String,
    pub is_dir: bool,
    /// Time since the entry was last modified (zero if in the future).
    pub age: Duration,
}

/// The entries of `dir` with UTF-8 names, sorted by name.
///
/// ```
/// let entries = cellvia::io::folders::list("src".as_ref())?;
/// assert!(entries.iter().any(|e| e.name == "lib.rs" && !e.is_dir));
/// # Ok::<(), cellvia::io::IoError>(())
/// ```
pub fn list(dir: &Path) -> Result<Vec<Entry>, IoError> {
    let read_error = |source| IoError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        // An entry removed while listing is simply not there.
        let Ok(meta) = entry.metadata() else { continue };
        let age = meta
            .modified()
            .ok()
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .unwrap_or_default();
        entries.push(Entry {
            path: entry.path(),
            name,
            is_dir: meta.is_dir(),
            age,
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// Moves a file or folder (a rename: atomic within one filesystem),
/// creating the destination's parent; refuses to replace what is there.
pub fn move_to(from: &Path, to: &Path) -> Result<(), IoError> {
    let write_error = |source| IoError::Write {
        path: to.to_path_buf(),
        source,
    };
    if to.exists() {
        return Err(write_error(std::io::Error::from(
            std::io::ErrorKind::AlreadyExists,
        )));
    }
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(write_error)?;
    }
    std::fs::rename(from, to).map_err(write_error)
}

/// Removes a folder and everything in it; a missing folder is no error.
pub fn remove_all(dir: &Path) -> Result<(), IoError> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(IoError::Write {
            path: dir.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}
