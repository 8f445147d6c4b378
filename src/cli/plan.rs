//! `analyze`'s samples: which fields make up each sample, before the run.

use std::path::Path;

use cellvia::io::discover::FieldFiles;
use cellvia::io::manifest::ManifestSample;

/// A sample as planned before the run: its id, pre-dilution and metadata.
pub struct PlannedSample {
    pub id: String,
    pub dilution: Option<f64>,
    pub metadata: std::collections::BTreeMap<String, String>,
}

/// Which sample each field belongs to: the manifest's, else the field's folder.
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
