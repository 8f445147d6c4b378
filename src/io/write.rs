//! Atomic writes: a result file is either absent or complete, never half written.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::IoError;

/// Writes `bytes` to `path` through a temporary file in the same folder and a
/// rename, so readers (a LIMS polling the folder) never see a partial file.
///
/// ```no_run
/// cellvia::io::write::write_atomic("out/results.json".as_ref(), b"{}")?;
/// # Ok::<(), cellvia::io::IoError>(())
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    let mut file = AtomicFile::create(path)?;
    file.write(bytes)?;
    file.commit().map(drop)
}

/// A file written piece by piece (results streamed per image) that appears
/// under its name only when [`AtomicFile::commit`] succeeds; dropped
/// uncommitted, it leaves nothing behind.
///
/// ```no_run
/// use cellvia::io::write::AtomicFile;
/// let mut f = AtomicFile::create("out/cells.csv".as_ref())?;
/// f.write(b"id\n")?;
/// f.write(b"1\n")?;
/// f.commit()?;
/// # Ok::<(), cellvia::io::IoError>(())
/// ```
#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<BufWriter<File>>,
    hash: sha2::Sha256,
}

impl AtomicFile {
    /// Opens a temporary file beside `path`.
    pub fn create(path: &Path) -> Result<Self, IoError> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        // A short name of its own: the target's name may already be near
        // the 255-byte limit, and threads of one process must not collide.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!(".cellvia-{}-{n}.tmp", std::process::id()));
        let file = File::create(&tmp).map_err(|source| IoError::Write {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            tmp,
            file: Some(BufWriter::new(file)),
            hash: sha2::Digest::new(),
        })
    }

    fn error(&self, source: std::io::Error) -> IoError {
        IoError::Write {
            path: self.path.clone(),
            source,
        }
    }

    /// Appends bytes.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), IoError> {
        sha2::Digest::update(&mut self.hash, bytes);
        let result = match self.file.as_mut() {
            Some(f) => f.write_all(bytes),
            None => Ok(()),
        };
        result.map_err(|e| self.error(e))
    }

    /// Flushes, syncs and renames the file into place; returns the SHA-256
    /// of what was written (for the run log).
    pub fn commit(mut self) -> Result<String, IoError> {
        let hash = format!("{:x}", sha2::Digest::finalize(self.hash.clone()));
        let Some(file) = self.file.take() else {
            return Ok(hash);
        };
        let result = file
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)
            .and_then(|f| f.sync_all())
            .and_then(|()| std::fs::rename(&self.tmp, &self.path));
        if result.is_err() {
            // Best effort: the temp file is ours and useless now.
            let _ = std::fs::remove_file(&self.tmp);
        }
        result.map(|()| hash).map_err(|e| self.error(e))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// What [`append_locked`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The line appended.
    pub line: String,
    /// An unfinished line found at the end (an append cut short by a full
    /// disk or a crash, never committed), moved to `<log>.torn`.
    pub torn: Option<Vec<u8>>,
}

/// Appends to a log file under an exclusive lock: `line_for` gets the file's
/// current text (empty when it does not exist yet) and returns what to append,
/// or an error that appends nothing. Concurrent runs sharing one log
/// take turns, so each sees the record the previous one appended.
///
/// An append either lands whole or not at all: if writing fails (a full
/// disk) the file is cut back to its old length. A partial last line left by
/// a crash mid-write (every committed line ends with a newline, written in
/// the same write as the line) is moved to `<log>.torn` first, even when
/// `line_for` then refuses, so a torn append never blocks later runs.
///
/// ```no_run
/// use cellvia::io::write::append_locked;
/// let appended = append_locked("runs.jsonl".as_ref(), |text| {
///     Ok::<_, String>(format!("{{\"seq\":{}}}\n", text.lines().count()))
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn append_locked<E>(
    path: &Path,
    line_for: impl FnOnce(&str) -> Result<String, E>,
) -> Result<Result<Appended, E>, IoError> {
    use std::io::{Read, Seek};
    let error = |source| IoError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(error)?;
    file.lock().map_err(error)?;
    let mut bytes = Vec::new();
    file.seek(std::io::SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(|source| IoError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    // A torn tail may end inside a multi-byte character: split as bytes.
    let (done, tail) = crate::audit::split_torn(&bytes);
    let committed = done.len();
    let torn = tail.map(<[u8]>::to_vec);
    if let Some(tail) = &torn {
        let mut aside = path.as_os_str().to_owned();
        aside.push(".torn");
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&aside)
            .and_then(|mut f| f.write_all(tail).and_then(|()| f.write_all(b"\n")))
            .and_then(|()| file.set_len(committed as u64))
            .map_err(error)?;
    }
    bytes.truncate(committed);
    let text = String::from_utf8(bytes).map_err(|e| IoError::Read {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })?;
    let line = match line_for(&text) {
        Ok(line) => line,
        Err(e) => return Ok(Err(e)),
    };
    if let Err(e) = file
        .write_all(line.as_bytes())
        .and_then(|()| file.sync_all())
    {
        // Best effort: cut the partial line off again so the log stays valid.
        let _ = file
            .set_len(text.len() as u64)
            .and_then(|()| file.sync_all());
        return Err(error(e));
    }
    Ok(Ok(Appended { line, torn }))
}

/// Writes a new file only its owner can read (a secret key); refuses to
/// replace an existing one.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let key = dir.path().join("lab.key");
/// cellvia::io::write::write_new_private(&key, b"secret")?;
/// assert!(cellvia::io::write::write_new_private(&key, b"again").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_new_private(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .map_err(|source| IoError::Write {
            path: path.to_path_buf(),
            source,
        })
}

/// Creates a folder and its parents; checks it can be written to.
pub fn ensure_dir(path: &Path) -> Result<(), IoError> {
    std::fs::create_dir_all(path).map_err(|source| IoError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    let probe: PathBuf = path.join(format!(".cellvia-write-test.{}", std::process::id()));
    std::fs::write(&probe, b"")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|source| IoError::Write {
            path: path.to_path_buf(),
            source,
        })
}

/// Checks that `path` can be appended to, creating it empty if missing:
/// run before the work whose record it will take.
pub fn check_appendable(path: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("r.json");
        write_atomic(&target, b"first version").unwrap();
        write_atomic(&target, b"2").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"2");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn uncommitted_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("r.json");
        let mut f = AtomicFile::create(&target).unwrap();
        f.write(b"half").unwrap();
        drop(f);
        let mut g = AtomicFile::create(&target).unwrap();
        g.write(b"ab").unwrap();
        g.write(b"c").unwrap();
        assert_eq!(g.commit().unwrap(), crate::sha256_hex(b"abc"));
        std::fs::remove_file(&target).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn appends_see_what_came_before_and_refusals_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("runs.jsonl");
        for _ in 0..3 {
            append_locked(&log, |text| {
                Ok::<_, ()>(format!("{}\n", text.lines().count()))
            })
            .unwrap()
            .unwrap();
        }
        let refused = append_locked(&log, |_| Err::<String, _>("no")).unwrap();
        assert_eq!(refused, Err("no"));
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "0\n1\n2\n");
    }

    #[test]
    fn a_torn_last_line_is_moved_aside_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("runs.jsonl");
        std::fs::write(&log, "0\n1\n{\"half").unwrap();
        let appended = append_locked(&log, |text| {
            Ok::<_, ()>(format!("{}\n", text.lines().count()))
        })
        .unwrap()
        .unwrap();
        assert_eq!(appended.torn.as_deref(), Some(&b"{\"half"[..]));
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "0\n1\n2\n");
        let aside = dir.path().join("runs.jsonl.torn");
        assert_eq!(std::fs::read_to_string(aside).unwrap(), "{\"half\n");
    }

    #[test]
    fn unwritable_target_is_an_error_naming_it() {
        let err = write_atomic("/proc/cellvia/x.json".as_ref(), b"x").unwrap_err();
        assert!(err.to_string().contains("/proc/cellvia/x.json"));
    }
}
