//! Sample manifests: a CSV naming which images belong to which sample.
//!
//! Columns `sample_id,image_path` are required, `dilution` (the sample's
//! pre-dilution factor) is optional; other columns are kept as sample
//! metadata. Relative image paths are taken from the manifest's folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::discover::identity;

/// One sample as the manifest lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestSample {
    pub sample_id: String,
    pub images: Vec<PathBuf>,
    pub dilution: Option<f64>,
    /// Other columns, by name (every row of a sample must agree).
    pub metadata: BTreeMap<String, String>,
}

/// Why a manifest cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("manifest {path}, line {line}: {message}")]
pub struct ManifestError {
    pub path: PathBuf,
    pub line: u64,
    pub message: String,
}

/// Parses manifest text; `path` locates relative image paths and names the
/// file in errors. Samples keep the order of their first row.
///
/// ```
/// use cellvia::io::manifest::parse_manifest;
/// let text = "sample_id,image_path,dilution,donor\nA,a1.png,2,D7\nA,a2.png,2,D7\nB,/data/b.png,,D8\n";
/// let samples = parse_manifest("/runs/m.csv".as_ref(), text).unwrap();
/// assert_eq!(samples[0].images, ["/runs/a1.png", "/runs/a2.png"].map(std::path::PathBuf::from));
/// assert_eq!(samples[0].dilution, Some(2.0));
/// assert_eq!(samples[1].dilution, None);
/// assert_eq!(samples[1].metadata["donor"], "D8");
/// ```
pub fn parse_manifest(path: &Path, text: &str) -> Result<Vec<ManifestSample>, ManifestError> {
    let err = |line: u64, message: String| ManifestError {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| err(1, e.to_string()))?.clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(id_col), Some(path_col)) = (column("sample_id"), column("image_path")) else {
        return Err(err(1, "needs the columns sample_id and image_path".into()));
    };
    let dilution_col = column("dilution");
    let base = path.parent().unwrap_or(Path::new(""));
    let mut samples: Vec<ManifestSample> = Vec::new();
    let mut listed: std::collections::HashMap<PathBuf, (u64, String)> = Default::default();
    for (i, row) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let row = row.map_err(|e| err(line, e.to_string()))?;
        let field = |c: usize| row.get(c).unwrap_or("");
        let id = field(id_col);
        let image = field(path_col);
        if id.is_empty() || image.is_empty() {
            return Err(err(line, "empty sample_id or image_path".into()));
        }
        let dilution = match dilution_col.map(field).filter(|d| !d.is_empty()) {
            None => None,
            Some(d) => match d.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 1.0 => Some(v),
                _ => return Err(err(line, format!("dilution {d:?} is not a factor >= 1"))),
            },
        };
        let image = base.join(image);
        let metadata: BTreeMap<String, String> = headers
            .iter()
            .enumerate()
            .filter(|&(c, _)| c != id_col && c != path_col && Some(c) != dilution_col)
            .map(|(c, h)| (h.to_string(), field(c).to_string()))
            .collect();
        // The same file twice (also as `./a.png` or `sub/../a.png`) would be
        // counted twice, or in two samples; a manifest that does so is wrong.
        if let Some((first, other)) = listed.insert(identity(&image), (line, id.to_string())) {
            let place = if other == id {
                String::new()
            } else {
                format!(" for sample {other}")
            };
            return Err(err(
                line,
                format!(
                    "image {} is already listed on line {first}{place}",
                    image.display()
                ),
            ));
        }
        match samples.iter_mut().find(|s| s.sample_id == id) {
            Some(s) => {
                if s.dilution != dilution {
                    return Err(err(
                        line,
                        format!("sample {id} has two different dilutions"),
                    ));
                }
                if let Some((key, value)) =
                    metadata.iter().find(|(k, v)| s.metadata.get(*k) != Some(v))
                {
                    return Err(err(
                        line,
                        format!(
                            "sample {id} has two different values of {key}: {:?} and {value:?}",
                            s.metadata.get(key).map_or("", String::as_str)
                        ),
                    ));
                }
                s.images.push(image);
            }
            None => samples.push(ManifestSample {
                sample_id: id.to_string(),
                images: vec![image],
                dilution,
                metadata,
            }),
        }
    }
    if samples.is_empty() {
        return Err(err(1, "lists no images".into()));
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_manifests_name_the_line() {
        let p = Path::new("m.csv");
        let e = parse_manifest(p, "sample,image\nA,a.png\n").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        let e = parse_manifest(p, "sample_id,image_path,dilution\nA,a.png,0.5\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        let e =
            parse_manifest(p, "sample_id,image_path,dilution\nA,a.png,2\nA,b.png,4\n").unwrap_err();
        assert!(e.to_string().contains("line 3") && e.to_string().contains("two different"));
        assert!(parse_manifest(p, "sample_id,image_path\n").is_err());
    }

    #[test]
    fn an_image_listed_twice_or_conflicting_metadata_is_refused() {
        let p = Path::new("/runs/m.csv");
        let e = parse_manifest(p, "sample_id,image_path\nA,a.png\nB,./x/../a.png\n").unwrap_err();
        assert!(
            e.to_string().contains("line 3") && e.to_string().contains("line 2 for sample A"),
            "{e}"
        );
        let e = parse_manifest(p, "sample_id,image_path\nA,a.png\nA,./a.png\n").unwrap_err();
        assert!(e.to_string().contains("already listed on line 2"), "{e}");
        let e =
            parse_manifest(p, "sample_id,image_path,donor\nA,a.png,D1\nA,b.png,D2\n").unwrap_err();
        assert!(
            e.to_string().contains("two different values of donor"),
            "{e}"
        );
    }
}
