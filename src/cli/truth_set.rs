//! `--truth PATH`: the ground truth of a set of images, in whichever form a
//! lab has it: a folder of per-image files (Pascal VOC `STEM.xml`,
//! `STEM.truth.json`, YOLO `STEM.txt` with `classes.txt` beside them), one
//! COCO JSON file, or one points CSV. Images are matched to truth by file
//! stem.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use cellvia::io::{self, discover::files_under};
use cellvia::truth::formats::{parse_coco, parse_points_csv, parse_yolo};
use cellvia::truth::{parse_truth_file, truth_stem, Truth};

/// Where one image's truth is.
enum Entry {
    /// Parsed already (COCO, points CSV).
    Parsed(Truth),
    /// A VOC or `*.truth.json` file.
    File(PathBuf),
    /// A YOLO file and the class names of its folder.
    Yolo(PathBuf, Vec<String>),
}

/// Truth by image stem.
pub struct TruthSet {
    by_stem: BTreeMap<String, Entry>,
}

fn stem_of(name: &str) -> String {
    Path::new(name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl TruthSet {
    /// Reads `path`: a COCO `.json` file, a points `.csv` file, or a folder
    /// searched recursively.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let mut by_stem = BTreeMap::new();
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if path.is_file() && (ext == "json" || ext == "csv") {
            let text = io::read_text(path)?;
            let parsed = if ext == "json" {
                parse_coco(&text)
            } else {
                parse_points_csv(&text)
            }
            .with_context(|| path.display().to_string())?;
            for (name, truth) in parsed {
                by_stem.insert(stem_of(&name), Entry::Parsed(truth));
            }
            return Ok(Self { by_stem });
        }
        let files = files_under(path)?;
        let mut classes: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
        for file in files
            .iter()
            .filter(|f| f.file_name().is_some_and(|n| n == "classes.txt"))
        {
            let names = io::read_text(file)?
                .lines()
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect();
            classes.insert(file.parent().unwrap_or(Path::new("")).to_path_buf(), names);
        }
        for file in &files {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let entry = if let Some(stem) = truth_stem(&name) {
                Some((stem.to_string(), Entry::File(file.clone())))
            } else if name.ends_with(".txt") && name != "classes.txt" {
                let folder = file.parent().unwrap_or(Path::new(""));
                classes
                    .get(folder)
                    .map(|c| (stem_of(&name), Entry::Yolo(file.clone(), c.clone())))
            } else {
                None
            };
            if let Some((stem, entry)) = entry {
                match by_stem.entry(stem) {
                    std::collections::btree_map::Entry::Occupied(e) => tracing::warn!(
                        "{}: truth for {} already found elsewhere",
                        file.display(),
                        e.key()
                    ),
                    std::collections::btree_map::Entry::Vacant(v) => {
                        v.insert(entry);
                    }
                }
            }
        }
        Ok(Self { by_stem })
    }

    /// The truth of `image`, if the set has one (read from its file now).
    pub fn get(&self, image: &Path) -> anyhow::Result<Option<Truth>> {
        let stem = image
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(match self.by_stem.get(&stem) {
            None => None,
            Some(Entry::Parsed(t)) => Some(t.clone()),
            Some(Entry::File(path)) => Some(read_truth(path)?),
            Some(Entry::Yolo(path, classes)) => {
                let (w, h) = io::decode::dimensions(&io::read_bytes(image)?)
                    .with_context(|| image.display().to_string())?;
                Some(
                    parse_yolo(&io::read_text(path)?, classes, w, h)
                        .with_context(|| path.display().to_string())?,
                )
            }
        })
    }
}

/// Reads and parses a VOC or `*.truth.json` file.
pub fn read_truth(path: &Path) -> anyhow::Result<Truth> {
    let text = io::read_text(path)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    parse_truth_file(&name, &text).with_context(|| path.display().to_string())
}
