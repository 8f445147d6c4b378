//! The trypan-blue viability classifier: an ONNX model run through ONNX
//! Runtime (`ort`). This is the only module that uses `ort`.
//!
//! **Model contract** (checked at load, so a wrong model fails before any image
//! is read): one `float32` input `[batch, 3, S, S]` (scaled Weber contrast,
//! object mask, scaled dye excess; see [`crate::measure::crop`]), a `float32`
//! output `[batch, C]` of class probabilities and optionally a second,
//! `[batch, F]` of the features the last layer reads; metadata properties
//! `cellvia.classes` (comma-separated, containing `live`, `dead`, `debris`),
//! `cellvia.crop_window` = `object` (the window follows each object's own
//! size), `cellvia.crop_size` (= S), `cellvia.crop_context`,
//! `cellvia.contrast_scale`, `cellvia.dye_scale` and `cellvia.contrast_clip`.
//! With the features output, `cellvia.feature_mean` (F numbers),
//! `cellvia.feature_precision` (F × F, row-major: the inverse covariance of
//! the training crops' features) and `cellvia.novelty_scale` (the 99th
//! percentile of the training crops' Mahalanobis distances) give every crop
//! a novelty score ([`Novelty`]).
//!
//! **Runtime**: ONNX Runtime is loaded at run time (`load-dynamic`) from, in
//! order: `$ORT_DYLIB_PATH`; `libonnxruntime.so` beside the executable or in
//! `../lib`; this source tree's `vendor/onnxruntime/` (where
//! `scripts/fetch-onnxruntime.sh` puts it). ONNX Runtime allows one
//! environment per process, so the first classifier creates it and later ones
//! share it; that is the library's only process-wide state.
//!
//! **Threads**: each rayon worker checks a session out of a pool and runs it
//! with one intra-op thread; parallelism comes from images, not from inside
//! ONNX Runtime. Crops are classified per image in batches of
//! `classify.batch_size`, so batch composition (and so every output bit) is the
//! same whatever the thread count. Measured against a single inference stage
//! (one session shared by all workers) with `cellvia bench`, 2 threads on a
//! 2-core machine, 2026-11-23:
//!
//! | strategy | LDC 2,193 images (225×219) | 2048×1536, 250 cells |
//! | --- | --- | --- |
//! | session per worker, 1 intra-op thread (kept) | 454 images/s | 6.22 images/s |
//! | one shared session, 2 intra-op threads | 252 images/s | 5.58 images/s |
//! | one shared session, 1 intra-op thread | 429 images/s | 6.56 images/s |
//!
//! Intra-op threads cost more in synchronisation than a 32×32 crop batch
//! gains; a shared single-threaded session ties on large fields (within the
//! ±5 % run-to-run noise) and loses on small ones, where workers queue for it.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ndarray::{s, Array4};
use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::{TensorElementType, TensorRef, ValueType};

use super::novelty::Novelty;
use super::symmetry;
use super::{CellClass, ClassProbabilities, ModelInfo, Score};
use crate::config::ClassifyConfig;
use crate::measure::crop::{CropSpec, CROP_CHANNELS};

/// Why the classifier could not be set up or run.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    #[error(
        "ONNX Runtime library not found (looked in: {tried}). Run `bash scripts/fetch-onnxruntime.sh` \
         in the cellvia source tree, or set ORT_DYLIB_PATH to a libonnxruntime.so (version 1.24 or newer)"
    )]
    RuntimeMissing { tried: String },
    #[error("cannot load ONNX Runtime from {path}: {message}")]
    RuntimeLoad { path: PathBuf, message: String },
    #[error("cannot read model {path}: {message}")]
    ModelRead { path: PathBuf, message: String },
    #[error("model {path} is not a usable ONNX model: {message}")]
    ModelInvalid { path: PathBuf, message: String },
    #[error("model {path} does not meet cellvia's input contract: {message}")]
    Contract { path: PathBuf, message: String },
    #[error("inference failed: {0}")]
    Inference(String),
}

static ENVIRONMENT: OnceLock<Environment> = OnceLock::new();
static ENVIRONMENT_INIT: Mutex<()> = Mutex::new(());

fn environment() -> Result<Environment, ClassifyError> {
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env.clone());
    }
    let _guard = ENVIRONMENT_INIT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env.clone());
    }
    let candidates = super::runtime::runtime_candidates();
    let Some(path) = crate::io::first_existing_file(candidates.iter().cloned()) else {
        let tried = candidates
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(ClassifyError::RuntimeMissing { tried });
    };
    let load_err = |message: String| ClassifyError::RuntimeLoad {
        path: path.clone(),
        message,
    };
    let env = ort::init_from(&path)
        .map_err(|e| load_err(e.to_string()))?
        .with_name("cellvia")
        .build()
        .map_err(|e| load_err(e.to_string()))?;
    Ok(ENVIRONMENT.get_or_init(|| env).clone())
}

/// A loaded, contract-checked model and a pool of sessions for parallel use.
#[derive(Debug)]
pub struct Classifier {
    info: ModelInfo,
    crop: CropSpec,
    /// Output column of live, dead and debris.
    columns: [usize; 3],
    input_name: String,
    /// Present when the model exports its features and their training statistics.
    novelty: Option<Novelty>,
    batch_size: usize,
    model_bytes: Vec<u8>,
    sessions: Mutex<Vec<Session>>,
}

impl Classifier {
    /// Loads a model file and checks its contract.
    pub fn load(path: &Path, cfg: &ClassifyConfig) -> Result<Self, ClassifyError> {
        let bytes = crate::io::read_bytes(path).map_err(|e| ClassifyError::ModelRead {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::from_bytes(path, bytes, cfg)
    }

    /// Builds a classifier from model bytes; `path` names it in messages and results.
    pub fn from_bytes(
        path: &Path,
        bytes: Vec<u8>,
        cfg: &ClassifyConfig,
    ) -> Result<Self, ClassifyError> {
        let env = environment()?;
        let session = new_session(&env, &bytes).map_err(|message| ClassifyError::ModelInvalid {
            path: path.to_path_buf(),
            message,
        })?;
        let contract_err = |message: String| ClassifyError::Contract {
            path: path.to_path_buf(),
            message,
        };
        let contract = read_contract(&session).map_err(contract_err)?;
        let sha256 = crate::sha256_hex(&bytes);
        let name = contract.name.unwrap_or_else(|| {
            path.file_stem()
                .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned())
        });
        Ok(Self {
            info: ModelInfo {
                name,
                sha256,
                path: path.display().to_string(),
            },
            crop: contract.crop,
            columns: contract.columns,
            input_name: contract.input_name,
            novelty: contract.novelty,
            batch_size: cfg.batch_size,
            model_bytes: bytes,
            sessions: Mutex::new(vec![session]),
        })
    }

    /// The model's name, SHA-256 and path.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// How crops must be cut for this model.
    pub fn crop_spec(&self) -> CropSpec {
        self.crop
    }

    /// Whether crops get a novelty score (the model exports its features).
    pub fn scores_novelty(&self) -> bool {
        self.novelty.is_some()
    }

    /// Classifies crops `[n, 3, S, S]` in batches; returns one score per
    /// crop, in order. Hesitant calls get second opinions from the crop's
    /// other orientations ([`super::symmetry`]).
    pub fn classify(&self, crops: &Array4<f32>) -> Result<Vec<Score>, ClassifyError> {
        let mut scores = self.classify_upright(crops)?;
        symmetry::second_opinions(crops, &mut scores, |c| self.classify_upright(c))?;
        Ok(scores)
    }

    /// One model run per crop, as cut.
    fn classify_upright(&self, crops: &Array4<f32>) -> Result<Vec<Score>, ClassifyError> {
        let n = crops.shape()[0];
        let mut out = Vec::with_capacity(n);
        if n == 0 {
            return Ok(out);
        }
        let mut session = self.checkout()?;
        let result = (|| {
            for start in (0..n).step_by(self.batch_size) {
                let end = (start + self.batch_size).min(n);
                let batch = crops.slice(s![start..end, .., .., ..]);
                let input = TensorRef::from_array_view(batch)
                    .map_err(|e| ClassifyError::Inference(e.to_string()))?;
                let outputs = session
                    .run(ort::inputs![self.input_name.as_str() => input])
                    .map_err(|e| ClassifyError::Inference(e.to_string()))?;
                let extract = |i: usize| {
                    outputs[i]
                        .try_extract_array::<f32>()
                        .map_err(|e| ClassifyError::Inference(e.to_string()))
                };
                let probs = extract(0)?;
                let rows = probs.shape().first().copied().unwrap_or(0);
                if rows != end - start {
                    return Err(ClassifyError::Inference(format!(
                        "model gave {rows} rows for {} crops",
                        end - start
                    )));
                }
                let features = match &self.novelty {
                    Some(_) => Some(extract(1)?),
                    None => None,
                };
                for (i, row) in probs.rows().into_iter().enumerate() {
                    let novelty = self.novelty.as_ref().zip(features.as_ref()).map(|(n, f)| {
                        let row = f.index_axis(ndarray::Axis(0), i);
                        n.score(&row.iter().copied().collect::<Vec<f32>>())
                    });
                    out.push(Score {
                        probabilities: ClassProbabilities {
                            live: row[self.columns[0]],
                            dead: row[self.columns[1]],
                            debris: row[self.columns[2]],
                        },
                        novelty,
                    });
                }
            }
            Ok(())
        })();
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(session);
        result.map(|()| out)
    }

    fn checkout(&self) -> Result<Session, ClassifyError> {
        if let Some(s) = self
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
        {
            return Ok(s);
        }
        let env = environment()?;
        new_session(&env, &self.model_bytes).map_err(ClassifyError::Inference)
    }
}

fn new_session(env: &Environment, bytes: &[u8]) -> Result<Session, String> {
    Session::builder(env)
        .and_then(|b| Ok(b.with_optimization_level(GraphOptimizationLevel::Level3)?))
        .and_then(|b| Ok(b.with_intra_threads(1)?))
        .and_then(|b| Ok(b.with_inter_threads(1)?))
        // Batch sizes vary (the last batch of an image is short): no memory pattern.
        .and_then(|b| Ok(b.with_memory_pattern(false)?))
        .and_then(|mut b| b.commit_from_memory(bytes))
        .map_err(|e| e.to_string())
}

struct Contract {
    name: Option<String>,
    crop: CropSpec,
    columns: [usize; 3],
    input_name: String,
    novelty: Option<Novelty>,
}

fn read_contract(session: &Session) -> Result<Contract, String> {
    let [input] = session.inputs() else {
        return Err(format!(
            "expected 1 input, found {}",
            session.inputs().len()
        ));
    };
    let (output, features) = match session.outputs() {
        [output] => (output, None),
        [output, features] => (output, Some(features)),
        other => {
            return Err(format!(
                "expected 1 or 2 outputs (probabilities, features), found {}",
                other.len()
            ))
        }
    };
    let meta = session.metadata().map_err(|e| e.to_string())?;
    let prop = |key: &str| {
        meta.custom(key)
            .ok_or_else(|| format!("metadata property `{key}` missing"))
    };
    let number = |key: &str| -> Result<f64, String> {
        prop(key)?
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("metadata property `{key}` is not a number"))
    };
    let classes: Vec<String> = prop("cellvia.classes")?
        .split(',')
        .map(|c| c.trim().to_string())
        .collect();
    let column = |class: CellClass| {
        classes
            .iter()
            .position(|c| c == class.as_str())
            .ok_or_else(|| {
                format!(
                    "class `{}` missing from cellvia.classes {classes:?}",
                    class.as_str()
                )
            })
    };
    let columns = [
        column(CellClass::Live)?,
        column(CellClass::Dead)?,
        column(CellClass::Debris)?,
    ];
    let window = prop("cellvia.crop_window").map_err(|_| {
        "metadata property `cellvia.crop_window` missing: the model predates object-relative \
         crops (cellvia-viability-v2 and older cut crops at the configured diameter); use v3 or later"
            .to_string()
    })?;
    if window != "object" {
        return Err(format!(
            "cellvia.crop_window is `{window}`; this cellvia cuts `object` windows"
        ));
    }
    let size = number("cellvia.crop_size")?;
    if !(4.0..=512.0).contains(&size) || size.fract() != 0.0 {
        return Err(format!("cellvia.crop_size {size} is not a crop size"));
    }
    let size = size as usize;
    let crop = CropSpec {
        size,
        context: number("cellvia.crop_context")?,
        contrast_scale: number("cellvia.contrast_scale")? as f32,
        dye_scale: number("cellvia.dye_scale")? as f32,
        clip: number("cellvia.contrast_clip")? as f32,
    };
    let want_input = [-1, CROP_CHANNELS as i64, size as i64, size as i64];
    check_tensor(input.dtype(), "input", &want_input)?;
    check_tensor(output.dtype(), "output", &[-1, classes.len() as i64])?;
    let novelty = match features {
        None => None,
        Some(features) => {
            let novelty = Novelty::parse(
                &prop("cellvia.feature_mean")?,
                &prop("cellvia.feature_precision")?,
                &prop("cellvia.novelty_scale")?,
            )?;
            check_tensor(
                features.dtype(),
                "features output",
                &[-1, novelty.dimensions() as i64],
            )?;
            Some(novelty)
        }
    };
    Ok(Contract {
        name: meta.name(),
        crop,
        columns,
        input_name: input.name().to_string(),
        novelty,
    })
}

fn check_tensor(dtype: &ValueType, what: &str, want: &[i64]) -> Result<(), String> {
    let ValueType::Tensor { ty, shape, .. } = dtype else {
        return Err(format!("{what} is not a tensor"));
    };
    if *ty != TensorElementType::Float32 {
        return Err(format!("{what} has element type {ty:?}, expected float32"));
    }
    let fits = shape.len() == want.len()
        && shape
            .iter()
            .zip(want)
            .all(|(&have, &w)| have == w || (w == -1 && have <= 0));
    if !fits {
        return Err(format!(
            "{what} shape {:?}, expected {want:?} (-1: any batch)",
            &shape[..]
        ));
    }
    Ok(())
}
