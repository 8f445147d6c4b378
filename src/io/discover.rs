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
    /// Folders (or entries) that could not be listed, with why: each
    /// becomes an error record, and the rest of the batch goes on.
    pub unreadable: Vec<(PathBuf, String)>,
    /// Images named more than once (the same file through another path or
    /// folder): analysed once, at their first mention.
    pub duplicates: Vec<PathBuf>,
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

/// Expands files and folders (recursively) into image paths, skipping the
/// folders in `exclude` (the run's own output folder, whose overlays are
/// not inputs).
///
/// A path named explicitly is taken whatever its extension, and even when it
/// does not exist, so that a bad or missing file a user points at becomes an
/// error record in the results rather than vanishing or aborting the batch.
/// A folder that cannot be listed is recorded in
/// [`Discovered::unreadable`]; a file reached twice is analysed once.
pub fn discover(inputs: &[PathBuf], exclude: &[PathBuf]) -> Discovered {
    let exclude: Vec<PathBuf> = exclude
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    let mut found = Discovered::default();
    let mut images = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut files = Vec::new();
            walk(input, &exclude, &mut files, &mut found.unreadable);
            files.sort();
            for file in files {
                if is_image_path(&file) {
                    images.push(file);
                } else {
                    found.skipped.push(file);
                }
            }
        } else {
            images.push(input.clone());
        }
    }
    (found.images, found.duplicates) = dedupe(images);
    found
}

/// The file a path names, for telling duplicates apart: the canonical
/// path where it exists, else the absolute path with `.` and `..` resolved
/// as text.
///
/// ```
/// use cellvia::io::discover::identity;
/// assert_eq!(identity("src/../Cargo.toml".as_ref()), identity("./Cargo.toml".as_ref()));
/// assert_eq!(identity("/no/such/../x.png".as_ref()), std::path::PathBuf::from("/no/x.png"));
/// ```
pub fn identity(path: &Path) -> PathBuf {
    if let Ok(canonical) = std::fs::canonicalize(path) {
        return canonical;
    }
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for part in absolute.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Splits `paths` into the first mention of each file and the later ones.
///
/// ```
/// use cellvia::io::discover::dedupe;
/// let (kept, dropped) = dedupe(["Cargo.toml", "./Cargo.toml", "README.md"].map(Into::into).to_vec());
/// assert_eq!(kept, ["Cargo.toml", "README.md"].map(std::path::PathBuf::from));
/// assert_eq!(dropped, [std::path::PathBuf::from("./Cargo.toml")]);
/// ```
pub fn dedupe(paths: Vec<PathBuf>) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut seen = std::collections::HashSet::new();
    paths.into_iter().partition(|p| seen.insert(identity(p)))
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
    /// A folder that could not be listed; becomes an error record.
    Unreadable { path: PathBuf, reason: String },
}

impl FieldFiles {
    /// The file that names the field in results: the image, or the AO file.
    pub fn path(&self) -> &Path {
        match self {
            FieldFiles::Image(p)
            | FieldFiles::Unpaired { path: p, .. }
            | FieldFiles::Unreadable { path: p, .. } => p,
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

/// Every file under a folder (recursively, hidden ones excluded), sorted;
/// an error if the folder itself or any folder below it cannot be listed.
pub fn files_under(dir: &Path) -> Result<Vec<PathBuf>, IoError> {
    let mut files = Vec::new();
    let mut unreadable = Vec::new();
    walk(dir, &[], &mut files, &mut unreadable);
    if let Some((path, why)) = unreadable.into_iter().next() {
        return Err(IoError::Read {
            path,
            source: std::io::Error::other(why),
        });
    }
    files.sort();
    Ok(files)
}

fn walk(
    dir: &Path,
    exclude: &[PathBuf],
    files: &mut Vec<PathBuf>,
    unreadable: &mut Vec<(PathBuf, String)>,
) {
    if !exclude.is_empty() && std::fs::canonicalize(dir).is_ok_and(|c| exclude.contains(&c)) {
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            unreadable.push((dir.to_path_buf(), format!("cannot list folder: {e}")));
            return;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                unreadable.push((dir.to_path_buf(), format!("cannot list folder: {e}")));
                continue;
            }
        };
        let path = entry.path();
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        let hidden = path
            .file_name()
            .is_some_and(|n| n.as_encoded_bytes().starts_with(b"."));
        if hidden {
            continue;
        }
        if is_dir {
            walk(&path, exclude, files, unreadable);
        } else {
            files.push(path);
        }
    }
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
        let found = discover(&[root.to_path_buf()], &[]);
        let names: Vec<String> = found
            .images
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["a.tif", "b.PNG", "sub/c (1).jpeg"]);
        assert_eq!(found.skipped, [root.join("notes.txt")]);
    }

    #[test]
    fn an_unlistable_folder_is_recorded_and_the_output_folder_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("out/overlays")).unwrap();
        std::fs::write(root.join("out/overlays/00000_a.png"), b"x").unwrap();
        std::fs::write(root.join("a.png"), b"x").unwrap();
        let found = discover(&[root.to_path_buf()], &[root.join("out")]);
        assert_eq!(found.images, [root.join("a.png")]);
        let mut files = Vec::new();
        let mut unreadable = Vec::new();
        walk(&root.join("gone"), &[], &mut files, &mut unreadable);
        assert_eq!(unreadable.len(), 1);
        assert!(unreadable[0].1.starts_with("cannot list folder"));
    }

    #[test]
    fn an_image_reached_twice_is_analysed_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("a.png"), b"x").unwrap();
        let inputs = [
            root.join("a.png"),
            root.join("sub/../a.png"),
            root.join("./a.png"),
            root.to_path_buf(),
        ];
        let found = discover(&inputs, &[]);
        assert_eq!(found.images, [root.join("a.png")]);
        assert_eq!(found.duplicates.len(), 3);
    }

    #[test]
    fn missing_input_is_kept_for_an_error_record() {
        let found = discover(&["/no/such/file.png".into()], &[]);
        assert_eq!(found.images, [PathBuf::from("/no/such/file.png")]);
    }

    #[test]
    fn explicit_file_is_kept_whatever_its_extension() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data.raw");
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(discover(std::slice::from_ref(&file), &[]).images, [file]);
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
                FieldFiles::Unpaired { path, .. } | FieldFiles::Unreadable { path, .. } => {
                    format!("unpaired {}", path.display())
                }
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
