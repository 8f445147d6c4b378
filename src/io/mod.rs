//! Everything that touches the filesystem: discovering inputs, reading bytes,
//! decoding images, and writing results atomically.
//!
//! Other modules work on bytes and image buffers only, so the pipeline can be
//! fed from memory (a future service) as well as from disk.

pub mod calibration;
pub mod commit;
pub mod decode;
pub mod discover;
pub mod folders;
pub mod manifest;
pub mod published;
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
    #[error("{path} is not a regular file but {kind}")]
    NotAFile { path: PathBuf, kind: &'static str },
    #[error("{path} is {bytes} bytes, over the limit of {limit} bytes for one input")]
    TooLarge {
        path: PathBuf,
        bytes: u64,
        limit: u64,
    },
    #[error("{path}: file name is not valid UTF-8; rename the file so its recorded name can be opened again")]
    NotUtf8Name { path: PathBuf },
}

/// Reads a whole regular file (of any size).
///
/// ```no_run
/// let bytes = cellvia::io::read_bytes("sample-images/ldc/cell (1).png".as_ref())?;
/// # Ok::<(), cellvia::io::IoError>(())
/// ```
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, IoError> {
    read_limited(path, u64::MAX)
}

/// Reads an input image: a regular file (a FIFO would block forever, a
/// device never end) no larger than `max_bytes`, checked before reading so
/// a huge or sparse file is never loaded. The name must be UTF-8, so the
/// path recorded in the results opens the same file again.
///
/// ```
/// use cellvia::io::{read_input, IoError};
/// assert!(matches!(read_input("Cargo.toml".as_ref(), 10), Err(IoError::TooLarge { .. })));
/// assert!(matches!(read_input("src".as_ref(), 10), Err(IoError::NotAFile { kind: "a folder", .. })));
/// assert!(read_input("Cargo.toml".as_ref(), 1 << 20).is_ok());
/// ```
pub fn read_input(path: &Path, max_bytes: u64) -> Result<Vec<u8>, IoError> {
    if path.to_str().is_none() {
        return Err(IoError::NotUtf8Name {
            path: path.to_path_buf(),
        });
    }
    read_limited(path, max_bytes)
}

fn read_limited(path: &Path, max_bytes: u64) -> Result<Vec<u8>, IoError> {
    use std::io::Read;
    let read_error = |source| IoError::Read {
        path: path.to_path_buf(),
        source,
    };
    let check = |meta: &std::fs::Metadata| -> Result<(), IoError> {
        if !meta.is_file() {
            return Err(IoError::NotAFile {
                path: path.to_path_buf(),
                kind: file_kind(&meta.file_type()),
            });
        }
        if meta.len() > max_bytes {
            return Err(IoError::TooLarge {
                path: path.to_path_buf(),
                bytes: meta.len(),
                limit: max_bytes,
            });
        }
        Ok(())
    };
    // Checked before opening: opening a FIFO blocks until a writer comes.
    check(&std::fs::metadata(path).map_err(read_error)?)?;
    let file = std::fs::File::open(path).map_err(read_error)?;
    let meta = file.metadata().map_err(read_error)?;
    check(&meta)?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // A file growing while read is cut at the limit and refused.
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > max_bytes {
        return Err(IoError::TooLarge {
            path: path.to_path_buf(),
            bytes: bytes.len() as u64,
            limit: max_bytes,
        });
    }
    Ok(bytes)
}

/// What a non-regular file is, in words.
fn file_kind(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    if kind.is_dir() {
        "a folder"
    } else {
        "not a regular file"
    }
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
