//! A batch's samples: which fields make up each sample, before the run.

use std::path::{Path, PathBuf};

use crate::io::discover::FieldFiles;
use crate::io::manifest::ManifestSample;

/// A sample as planned before the run: its id, pre-dilution and metadata.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlannedSample {
    pub id: String,
    pub dilution: Option<f64>,
    pub metadata: std::collections::BTreeMap<String, String>,
}

/// Which sample each field belongs to: the manifest's, else the field's folder.
#[derive(Debug)]
pub struct SamplePlan {
    pub samples: Vec<PlannedSample>,
    pub field_sample: Vec<usize>,
}

impl SamplePlan {
    pub fn new(fields: &[FieldFiles], manifest: Option<&[ManifestSample]>) -> Self {
        let mut samples: Vec<PlannedSample> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = Default::default();
        let mut of_path: std::collections::HashMap<&Path, &ManifestSample> = Default::default();
        for m in manifest.unwrap_or_default() {
            for image in &m.images {
                of_path.insert(image, m);
            }
        }
        let field_sample = fields
            .iter()
            .map(|field| {
                let (id, dilution, metadata) = match of_path.get(field.path()) {
                    Some(m) => (m.sample_id.clone(), m.dilution, m.metadata.clone()),
                    None => (
                        field
                            .path()
                            .parent()
                            .map(|p| p.display().to_string())
                            .filter(|p| !p.is_empty())
                            .unwrap_or_else(|| ".".into()),
                        None,
                        Default::default(),
                    ),
                };
                *index.entry(id.clone()).or_insert_with(|| {
                    samples.push(PlannedSample {
                        id,
                        dilution,
                        metadata,
                    });
                    samples.len() - 1
                })
            })
            .collect();
        Self {
            samples,
            field_sample,
        }
    }

    /// For each field, whether it is the only field of its sample.
    pub fn only_fields(&self) -> Vec<bool> {
        let mut fields = vec![0u32; self.samples.len()];
        for &sample in &self.field_sample {
            fields[sample] += 1;
        }
        self.field_sample.iter().map(|&s| fields[s] == 1).collect()
    }

    /// For each field, whether it is among the first `n` of its sample.
    pub fn first_fields(&self, n: u32) -> Vec<bool> {
        let mut seen = vec![0u32; self.samples.len()];
        self.field_sample
            .iter()
            .map(|&sample| {
                seen[sample] += 1;
                seen[sample] <= n
            })
            .collect()
    }
}

/// Groups `images` into samples by folder, named by their folder relative
/// to the first of `bases` that holds it: `top` for images directly in a
/// base (`.` when `top` is empty), `top/SUB` (or `SUB` when `top` is
/// empty) for those in a subfolder.
/// Samples keep the order of their first image.
///
/// ```
/// use cellvia::batch::samples_by_folder;
/// let images = ["/in/a.png", "/in/day1/b.png", "/in/c.png"].map(std::path::PathBuf::from);
/// let samples = samples_by_folder(&images, &["/in".into()], "drop");
/// let ids: Vec<&str> = samples.iter().map(|s| s.sample_id.as_str()).collect();
/// assert_eq!(ids, ["drop", "drop/day1"]);
/// assert_eq!(samples[0].images.len(), 2);
/// ```
pub fn samples_by_folder(images: &[PathBuf], bases: &[PathBuf], top: &str) -> Vec<ManifestSample> {
    let mut samples: Vec<ManifestSample> = Vec::new();
    for image in images {
        let folder = image.parent().unwrap_or(Path::new(""));
        let relative = bases
            .iter()
            .find_map(|base| folder.strip_prefix(base).ok())
            .map_or_else(|| folder.display().to_string(), |p| p.display().to_string());
        let id = match (top.is_empty(), relative.is_empty()) {
            (true, true) => ".".to_string(),
            (false, true) => top.to_string(),
            (true, false) => relative,
            (false, false) => format!("{top}/{relative}"),
        };
        match samples.iter_mut().find(|s| s.sample_id == id) {
            Some(sample) => sample.images.push(image.clone()),
            None => samples.push(ManifestSample {
                sample_id: id,
                images: vec![image.clone()],
                dilution: None,
                metadata: Default::default(),
            }),
        }
    }
    samples
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(field_sample: Vec<usize>, samples: usize) -> SamplePlan {
        SamplePlan {
            samples: (0..samples)
                .map(|i| PlannedSample {
                    id: format!("s{i}"),
                    dilution: None,
                    metadata: Default::default(),
                })
                .collect(),
            field_sample,
        }
    }

    #[test]
    fn only_fields_marks_samples_of_one_field() {
        let p = plan(vec![0, 1, 0, 2, 2], 3);
        assert_eq!(p.only_fields(), [false, true, false, false, false]);
        assert_eq!(p.first_fields(1), [true, true, false, true, false]);
    }
}
