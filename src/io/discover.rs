//! Expands the paths a user gives into a sorted list of image files, and
//! pairs single-channel fluorescence files into fields.

use std::collections::BTreeMap;
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

/// The image files of one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldFiles {
    /// One image: brightfield, or an AO/PI RGB composite.
    Image(PathBuf),
    /// Single-channel AO (green) and PI (red) images of one field.
    Pair { ao: PathBuf, pi: PathBuf },
    /// A single-channel file without its partner; becomes an error record.
    Unpaired { path: PathBuf, reason: String },
}

impl FieldFiles {
    /// The file that names the field in results: the image, or the AO file.
    pub fn path(&self) -> &Path {
        match self {
            FieldFiles::Image(p) | FieldFiles::Unpaired { path: p, .. } => p,
            FieldFiles::Pair { ao, .. } => ao,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Channel {
    Ao,
    Pi,
}

/// Groups images into fields: `STEM<ao_suffix>.ext` and `STEM<pi_suffix>.ext`
/// in one folder (suffixes compared case-insensitively, extensions may
/// differ) form a pair; any other image is a field of its own (a composite).
/// Fields keep the order of their first file; a pair is listed at its AO file.
///
/// ```
/// use cellvia::io::discover::{pair_channels, FieldFiles};
/// let images = ["d/f1_AO.tif", "d/f1_PI.tif", "d/f2_ao.png", "d/rgb.png"].map(Into::into);
/// let fields = pair_channels(&images, "_AO", "_PI");
/// assert_eq!(fields[0], FieldFiles::Pair { ao: "d/f1_AO.tif".into(), pi: "d/f1_PI.tif".into() });
/// assert!(matches!(fields[1], FieldFiles::Unpaired { .. })); // no f2_PI
/// assert_eq!(fields[2], FieldFiles::Image("d/rgb.png".into()));
/// ```
pub fn pair_channels(images: &[PathBuf], ao_suffix: &str, pi_suffix: &str) -> Vec<FieldFiles> {
    let role = |path: &Path| -> Option<(Channel, (PathBuf, String))> {
        let stem = path.file_stem()?.to_str()?.to_lowercase();
        let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
        [(Channel::Ao, ao_suffix), (Channel::Pi, pi_suffix)]
            .into_iter()
            .find_map(|(channel, suffix)| {
                let base = stem.strip_suffix(&suffix.to_lowercase())?;
                Some((channel, (parent.clone(), base.to_string())))
            })
    };
    let mut partners: BTreeMap<(PathBuf, String), [Vec<usize>; 2]> = BTreeMap::new();
    for (i, path) in images.iter().enumerate() {
        if let Some((channel, key)) = role(path) {
            partners.entry(key).or_default()[channel as usize].push(i);
        }
    }
    let mut fields = Vec::new();
    for path in images {
        let Some((channel, key)) = role(path) else {
            fields.push(FieldFiles::Image(path.clone()));
            continue;
        };
        let [ao, pi] = &partners[&key];
        let (own, other, other_name) = match channel {
            Channel::Ao => (ao, pi, pi_suffix),
            Channel::Pi => (pi, ao, ao_suffix),
        };
        match (own.len(), other.len()) {
            (1, 1) if channel == Channel::Ao => fields.push(FieldFiles::Pair {
                ao: path.clone(),
                pi: images[other[0]].clone(),
            }),
            (1, 1) => {} // listed with its AO file
            (_, 0) => fields.push(FieldFiles::Unpaired {
                path: path.clone(),
                reason: format!("no matching `*{other_name}` image in the same folder"),
            }),
            _ => fields.push(FieldFiles::Unpaired {
                path: path.clone(),
                reason: format!(
                    "ambiguous channel pair: {} AO and {} PI images share its name",
                    ao.len(),
                    pi.len()
                ),
            }),
        }
    }
    fields
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

    #[test]
    fn channel_files_pair_only_within_a_folder_and_once() {
        let images: Vec<PathBuf> = [
            "a/x_AO.tif",
            "b/x_PI.tif",
            "c/y_AO.tif",
            "c/y_AO.png",
            "c/y_PI.tif",
            "c/z_pi.TIF",
            "c/z_Ao.tif",
        ]
        .map(Into::into)
        .to_vec();
        let fields = pair_channels(&images, "_AO", "_PI");
        let kinds: Vec<String> = fields
            .iter()
            .map(|f| match f {
                FieldFiles::Image(p) => format!("image {}", p.display()),
                FieldFiles::Pair { ao, pi } => format!("pair {} {}", ao.display(), pi.display()),
                FieldFiles::Unpaired { path, .. } => format!("unpaired {}", path.display()),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "unpaired a/x_AO.tif",
                "unpaired b/x_PI.tif",
                "unpaired c/y_AO.tif",
                "unpaired c/y_AO.png",
                "unpaired c/y_PI.tif",
                "pair c/z_Ao.tif c/z_pi.TIF",
            ]
        );
    }
}
