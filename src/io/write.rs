//! Atomic writes: a result file is either absent or complete, never half written.

use std::io::Write;
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
    let err = |source| IoError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        // Best effort: the temp file is ours and useless now.
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
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
    fn unwritable_target_is_an_error_naming_it() {
        let err = write_atomic("/proc/cellvia/x.json".as_ref(), b"x").unwrap_err();
        assert!(err.to_string().contains("/proc/cellvia/x.json"));
    }
}
