//! Folders of per-image files (overlays, exports) that a run publishes as a
//! whole: each holds a checksum list whose hash the run record keeps, so the
//! record vouches for every file in it.

use std::collections::BTreeMap;
use std::path::Path;

use super::folders::remove_all;
use super::IoError;

/// A folder of per-image output files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Folder {
    /// Annotated field images (PNG) and, in shard runs, report thumbnails.
    Overlays,
    /// Label masks, ImageJ ROI sets and GeoJSON outlines (`--export`).
    Exports,
}

impl Folder {
    /// Every published folder.
    pub const ALL: [Folder; 2] = [Folder::Overlays, Folder::Exports];

    /// The folder's name in the output folder.
    ///
    /// ```
    /// assert_eq!(cellvia::io::published::Folder::Exports.dir(), "exports");
    /// ```
    pub fn dir(self) -> &'static str {
        match self {
            Folder::Overlays => "overlays",
            Folder::Exports => "exports",
        }
    }

    /// Its checksum list (`sha256sum -c` format), as the run record names it.
    ///
    /// ```
    /// use cellvia::io::published::Folder;
    /// assert_eq!(Folder::Overlays.sums(), "overlays/SHA256SUMS");
    /// assert_eq!(Folder::of_sums("exports/SHA256SUMS"), Some(Folder::Exports));
    /// ```
    pub fn sums(self) -> &'static str {
        match self {
            Folder::Overlays => "overlays/SHA256SUMS",
            Folder::Exports => "exports/SHA256SUMS",
        }
    }

    /// The folder whose checksum list is `name`, if any.
    pub fn of_sums(name: &str) -> Option<Folder> {
        Folder::ALL.into_iter().find(|f| f.sums() == name)
    }

    /// Where a replaced copy of the folder waits, inside the staging folder,
    /// until the staging folder goes.
    fn replaced(self) -> &'static str {
        match self {
            Folder::Overlays => "overlays-replaced",
            Folder::Exports => "exports-replaced",
        }
    }
}

/// Moves the staged `folder` into `out` when the record lists its checksum
/// list, and sets aside the one in place when a new one replaces it or the
/// record no longer lists one. Redoing it after a kill is harmless.
pub(super) fn publish_folder(
    out: &Path,
    staging: &Path,
    outputs: &BTreeMap<String, String>,
    folder: Folder,
) -> Result<(), IoError> {
    let write_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| IoError::Write { path, source }
    };
    let listed = outputs.contains_key(folder.sums());
    let staged = staging.join(folder.dir());
    let target = out.join(folder.dir());
    let staged_now = listed && staged.exists();
    if target.exists() && (staged_now || !listed) {
        let replaced = staging.join(folder.replaced());
        remove_all(&replaced)?;
        std::fs::rename(&target, &replaced).map_err(write_error(&target))?;
    }
    if staged_now {
        std::fs::rename(&staged, &target).map_err(write_error(&target))?;
    }
    Ok(())
}

/// `sha256sum` lines for `files` (name -> hash), sorted by name.
///
/// ```
/// use std::collections::BTreeMap;
/// use cellvia::io::published::{checksum_list, parse_checksum_list};
/// let files = BTreeMap::from([("b.png".to_string(), "bb".to_string()), ("a.png".into(), "aa".into())]);
/// let text = checksum_list(&files);
/// assert_eq!(text, "aa  a.png\nbb  b.png\n");
/// assert_eq!(parse_checksum_list(&text), files);
/// ```
pub fn checksum_list(files: &BTreeMap<String, String>) -> String {
    files
        .iter()
        .map(|(name, hash)| format!("{hash}  {name}\n"))
        .collect()
}

/// Reads [`checksum_list`] text back (name -> hash); malformed lines are left out.
pub fn parse_checksum_list(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once("  "))
        .map(|(hash, name)| (name.to_string(), hash.to_string()))
        .collect()
}
