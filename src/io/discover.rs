//! Expands the paths a user gives into a sorted list of image files.

use std::path::{Path, PathBuf};

use super::IoError;

/// File extensions read as images (compared case-insensitively).
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "tif", "tiff", "jpg", "jpeg", "bmp"];

/// What discovery found: images to analyse and files passed over.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// Images in input order: each argument in turn, a folder's files sorted by path.
    pub images: Vec<PathBuf>,
    /// Files inside folders that are not images by extension.
    pub skipped: Vec<PathBuf>,
}

/// Whether a path has one of [`IMAGE_EXTENSIONS`].
///
/// ```
/// use cellvia::io::discover::is_image_path;
/// assert!(is_image_path("a/B (1).TIFF".as_ref()));
/// assert!(!is_image_path("a/b.xml".as_ref()));
/// ```
pub fn is_image_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Expands files and folders (recursively) into image paths.
///
/// A path named explicitly is taken whatever its extension, and even when it
/// does not exist, so that a bad or missing file a user points at becomes an
/// error record in the results rather than vanishing or aborting the batch.
pub fn discover(inputs: &[PathBuf]) -> Result<Discovered, IoError> {
    let mut found = Discovered::default();
    for input in inputs {
        if input.is_dir() {
            for file in files_under(input)? {
                if is_image_path(&file) {
                    found.images.push(file);
                } else {
                    found.skipped.push(file);
                }
            }
        } else {
            found.images.push(input.clone());
        }
    }
    Ok(found)
}

/// Every file under a folder (recursively, hidden ones excluded), sorted.
pub fn files_under(dir: &Path) -> Result<Vec<PathBuf>, IoError> {
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    files.sort();
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), IoError> {
    let entries = std::fs::read_dir(dir).map_err(|source| IoError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| IoError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if is_dir {
            walk(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_walked_sorted_and_filtered() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("sub")).unwrap();
        for name in [
            "b.PNG",
            "a.tif",
            "notes.txt",
            "sub/c (1).jpeg",
            ".hidden.png",
        ] {
            std::fs::write(root.join(name), b"x").unwrap();
        }
        let found = discover(&[root.to_path_buf()]).unwrap();
        let names: Vec<String> = found
            .images
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["a.tif", "b.PNG", "sub/c (1).jpeg"]);
        assert_eq!(found.skipped, [root.join("notes.txt")]);
    }

    #[test]
    fn missing_input_is_kept_for_an_error_record() {
        let found = discover(&["/no/such/file.png".into()]).unwrap();
        assert_eq!(found.images, [PathBuf::from("/no/such/file.png")]);
    }

    #[test]
    fn explicit_file_is_kept_whatever_its_extension() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data.raw");
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(
            discover(std::slice::from_ref(&file)).unwrap().images,
            [file]
        );
    }
}
