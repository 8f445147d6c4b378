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
    file.commit()
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
}

impl AtomicFile {
    /// Opens a temporary file beside `path`.
    pub fn create(path: &Path) -> Result<Self, IoError> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let file = File::create(&tmp).map_err(|source| IoError::Write {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            tmp,
            file: Some(BufWriter::new(file)),
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
        let result = match self.file.as_mut() {
            Some(f) => f.write_all(bytes),
            None => Ok(()),
        };
        result.map_err(|e| self.error(e))
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> Result<(), IoError> {
        let Some(file) = self.file.take() else {
            return Ok(());
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
        result.map_err(|e| self.error(e))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
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
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn unwritable_target_is_an_error_naming_it() {
        let err = write_atomic("/proc/cellvia/x.json".as_ref(), b"x").unwrap_err();
        assert!(err.to_string().contains("/proc/cellvia/x.json"));
    }
}
