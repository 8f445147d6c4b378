//! A submission, checked before it is queued: paths resolved under the
//! roots (403 outside), limits (413), settings, spec and manifest parsed
//! (400), so a queued run fails only for what cannot be known in advance.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use axum::extract::Multipart;

use super::api::ApiError;
use super::job::{Job, ManifestText, MANIFEST_NAME};
use super::Shared;
use crate::config::Assay;
use crate::io::discover::{discover, is_image_path};
use crate::io::manifest::parse_manifest;

/// `POST /v1/runs` as JSON.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitJson {
    /// Image files and folders under a root (relative ones from the first).
    #[serde(default)]
    pub inputs: Vec<PathBuf>,
    /// Sample manifest, CSV text; relative image paths from the first root.
    #[serde(default)]
    pub manifest: Option<String>,
    /// Config keys, as in a JSON config file.
    #[serde(default)]
    pub settings: Option<serde_json::Value>,
    /// Release spec, TOML text.
    #[serde(default)]
    pub spec: Option<String>,
    #[serde(default)]
    pub assay: Option<Assay>,
    #[serde(default)]
    pub operator: Option<String>,
    #[serde(default)]
    pub meta: BTreeMap<String, String>,
}

/// A multipart submission's parts, with the uploaded files.
#[derive(Debug, Default)]
pub struct Upload {
    pub fields: SubmitJson,
    /// File name -> bytes.
    pub files: BTreeMap<String, Vec<u8>>,
}

/// The sample of uploaded images (without a manifest).
pub const UPLOAD_SAMPLE: &str = "upload";

/// The name an uploaded file is saved under: its last path component,
/// which must be a plain name.
pub fn upload_name(given: &str) -> Result<String, ApiError> {
    let name = given.rsplit(['/', '\\']).next().unwrap_or_default();
    if name.is_empty() || name.starts_with('.') || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "uploaded file name {given:?} is not a plain file name"
        )));
    }
    Ok(name.to_string())
}

/// Checks the settings, spec and manifest text common to both forms.
fn check_common(job: &Job) -> Result<(), ApiError> {
    if let Some(settings) = &job.settings {
        if !settings.is_object() {
            return Err(ApiError::bad_request(
                "settings must be a JSON object of config keys",
            ));
        }
    }
    job.config()?;
    job.spec_used()?;
    Ok(())
}

/// Checks that every image `images` names is under a root, and that
/// there are some and not too many.
fn check_images(shared: &Shared, images: &[PathBuf]) -> Result<(), ApiError> {
    if images.is_empty() {
        return Err(ApiError::bad_request("no images found in the given inputs"));
    }
    let limit = shared.options.max_images;
    if images.len() > limit {
        return Err(ApiError::too_large(format!(
            "{} images; this service takes at most {limit} per run",
            images.len()
        )));
    }
    for image in images {
        // A symbolic link in a root may lead out of it.
        let resolved = crate::io::folders::canonical(image)
            .map_err(|_| ApiError::bad_request(format!("{} does not exist", image.display())))?;
        shared.options.roots.check(&resolved)?;
    }
    Ok(())
}

/// A JSON submission as a job; `token_name` is the operator when none is given.
pub fn job_from_json(
    shared: &Shared,
    submitted: SubmitJson,
    token_name: &str,
) -> Result<Job, ApiError> {
    let roots = &shared.options.roots;
    let mut job = Job {
        allowed: roots.resolved(),
        operator: submitted.operator.unwrap_or_else(|| token_name.to_string()),
        settings: submitted.settings,
        spec: submitted.spec,
        assay: submitted.assay,
        meta: submitted.meta,
        ..Job::default()
    };
    check_common(&job)?;
    let images = match (submitted.manifest, submitted.inputs.is_empty()) {
        (Some(_), false) => {
            return Err(ApiError::bad_request("give inputs or a manifest, not both"))
        }
        (None, true) => return Err(ApiError::bad_request("give inputs or a manifest")),
        (Some(text), true) => {
            let base = roots.first().ok_or(super::roots::PathRefused::NoRoots)?;
            let samples = parse_manifest(&base.join(MANIFEST_NAME), &text)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            let mut images = Vec::new();
            for sample in &samples {
                for image in &sample.images {
                    images.push(roots.resolve(image)?);
                }
            }
            job.manifest = Some(ManifestText {
                text,
                base: base.to_path_buf(),
            });
            images
        }
        (None, false) => {
            job.inputs = submitted
                .inputs
                .iter()
                .map(|p| roots.resolve(p))
                .collect::<Result<_, _>>()?;
            job.sample_bases = roots.resolved();
            discover(&job.inputs, &[]).images
        }
    };
    check_images(shared, &images)?;
    Ok(job)
}

/// An upload as a job whose images are in `inputs_dir` (written by the caller).
pub fn job_from_upload(
    shared: &Shared,
    upload: &Upload,
    inputs_dir: &Path,
    token_name: &str,
) -> Result<Job, ApiError> {
    let fields = &upload.fields;
    if !fields.inputs.is_empty() {
        return Err(ApiError::bad_request(
            "an upload analyses its files; inputs are for paths under a root",
        ));
    }
    let images = upload
        .files
        .keys()
        .filter(|name| is_image_path(Path::new(name)))
        .count();
    if images == 0 {
        return Err(ApiError::bad_request(
            "the upload holds no image file (.png .tif .tiff .jpg .jpeg .bmp)",
        ));
    }
    if images > shared.options.max_images {
        return Err(ApiError::too_large(format!(
            "{images} images; this service takes at most {} per run",
            shared.options.max_images
        )));
    }
    let job = Job {
        inputs: vec![inputs_dir.to_path_buf()],
        sample_bases: vec![inputs_dir.to_path_buf()],
        sample_top: UPLOAD_SAMPLE.into(),
        allowed: vec![inputs_dir.to_path_buf()],
        manifest: fields.manifest.as_ref().map(|text| ManifestText {
            text: text.clone(),
            base: inputs_dir.to_path_buf(),
        }),
        settings: fields.settings.clone(),
        spec: fields.spec.clone(),
        assay: fields.assay,
        operator: fields
            .operator
            .clone()
            .unwrap_or_else(|| token_name.to_string()),
        meta: fields.meta.clone(),
    };
    check_common(&job)?;
    if let Some(text) = &fields.manifest {
        let samples = parse_manifest(&inputs_dir.join(MANIFEST_NAME), text)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        for image in samples.iter().flat_map(|s| &s.images) {
            let name = image.strip_prefix(inputs_dir).ok().and_then(Path::to_str);
            if !name.is_some_and(|n| upload.files.contains_key(n)) {
                return Err(ApiError::bad_request(format!(
                    "the manifest names {}, which is not among the uploaded files",
                    image.display()
                )));
            }
        }
    }
    Ok(job)
}

/// Writes an upload's files into the run's `inputs` folder.
pub fn save_upload(inputs: &std::path::Path, upload: &Upload) -> Result<(), ApiError> {
    crate::io::write::ensure_dir(inputs)?;
    for (name, bytes) in &upload.files {
        crate::io::write::write_atomic(&inputs.join(name), bytes)
            .map_err(|e| ApiError::bad_request(format!("cannot save uploaded file {name}: {e}")))?;
    }
    Ok(())
}

fn json_part<T: serde::de::DeserializeOwned>(part: &str, text: &str) -> Result<T, ApiError> {
    serde_json::from_str(text).map_err(|e| ApiError::bad_request(format!("part {part}: {e}")))
}

/// Reads a multipart submission: parts with a file name are images (or
/// other files) to analyse; `manifest`, `spec`, `settings` (JSON),
/// `assay`, `operator` and `meta` (JSON object) are text parts.
pub async fn read_upload(mut multipart: Multipart) -> Result<Upload, ApiError> {
    let mut upload = Upload::default();
    let part_error =
        |e: axum::extract::multipart::MultipartError| ApiError::new(e.status(), e.body_text());
    while let Some(field) = multipart.next_field().await.map_err(part_error)? {
        let part = field.name().unwrap_or_default().to_string();
        if let Some(file_name) = field.file_name().map(str::to_string) {
            let name = upload_name(&file_name)?;
            let bytes = field.bytes().await.map_err(part_error)?.to_vec();
            if upload.files.insert(name.clone(), bytes).is_some() {
                return Err(ApiError::bad_request(format!("two files are named {name}")));
            }
            continue;
        }
        let text = field.text().await.map_err(part_error)?;
        let fields = &mut upload.fields;
        match part.as_str() {
            "manifest" => fields.manifest = Some(text),
            "spec" => fields.spec = Some(text),
            "settings" => fields.settings = Some(json_part("settings", &text)?),
            "meta" => fields.meta = json_part("meta", &text)?,
            "operator" => fields.operator = Some(text),
            "assay" => {
                fields.assay = Some(
                    serde_json::from_value(serde_json::Value::String(text.clone())).map_err(
                        |_| ApiError::bad_request(format!("assay {text:?}: trypan or aopi")),
                    )?,
                );
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown part {other:?}: expected files, manifest, spec, settings, assay, operator or meta"
                )))
            }
        }
    }
    Ok(upload)
}
