//! Everything that touches the filesystem: discovering inputs, reading bytes,
//! decoding images, and writing results atomically.
//!
//! Other modules work on bytes and image buffers only, so the pipeline can be
//! fed from memory (a future service) as well as from disk.

pub mod decode;
pub mod discover;
pub mod manifest;
pub mod write;

use std::path::{Path, PathBuf};

/// A filesystem operation that failed, with the path it was about.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Reads a whole file.
///
/// ```no_run
/// let bytes = cellvia::io::read_bytes("sample-images/ldc/cell (1).png".as_ref())?;
/// # Ok::<(), cellvia::io::IoError>(())
/// ```
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, IoError> {
    std::fs::read(path).map_err(|source| IoError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a UTF-8 text file (configs, truth files).
pub fn read_text(path: &Path) -> Result<String, IoError> {
    std::fs::read_to_string(path).map_err(|source| IoError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// The first of `candidates` that is an existing file.
///
/// ```
/// let found = cellvia::io::first_existing_file(["/no/such/file".into(), "Cargo.toml".into()]);
/// assert_eq!(found, Some("Cargo.toml".into()));
/// ```
pub fn first_existing_file(candidates: impl IntoIterator<Item = PathBuf>) -> Option<PathBuf> {
    candidates.into_iter().find(|p| p.is_file())
}

/// This machine's host name, for run records ("unknown" if it cannot be read).
pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Peak resident memory of this process so far (Linux `VmHWM`), in bytes;
/// `None` where the kernel does not report it.
///
/// ```
/// if let Some(bytes) = cellvia::io::peak_rss_bytes() {
///     assert!(bytes > 0);
/// }
/// ```
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Restarts the peak-memory mark at the current use (Linux; best effort), so
/// a measurement excludes what came before, e.g. generating test images.
///
/// ```
/// cellvia::io::reset_peak_rss();
/// let _after = cellvia::io::peak_rss_bytes();
/// ```
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", b"5");
}
