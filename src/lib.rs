//! cellvia: count cells and score their viability in microscope images.
//!
//! Data flows one way, one module per stage:
//!
//! `io` (discover, decode) → [`preprocess`] → [`segment`] → [`measure`] →
//! [`classify`] (ONNX) → [`gate`] + [`aggregate`] → [`report`] → `io` (atomic writes).
//!
//! The cell scale is measured before segmentation ([`segment::scale`]),
//! pooled over each sample's fields; the classifier sees each object at its
//! own scale ([`measure::crop`]), so no stage depends on magnification.
//!
//! [`pipeline`] runs those stages for one image; [`batch`] runs a whole
//! batch into its output folder (the CLI, the service and the hot folder
//! call it); [`scheduler`] runs images in
//! parallel (the only module that uses rayon); [`classify::onnx`] is the only
//! module that touches ONNX Runtime; only [`io`] touches the filesystem. The
//! library has no global state: everything an analysis needs is in a
//! [`Config`] and a [`classify::Viability`] (the trypan model or the AO/PI rule).
//!
//! ```no_run
//! use cellvia::{classify::Viability, config::Config, pipeline};
//! let config = Config::default();
//! let viability = Viability::for_config(&config)?;
//! let bytes = cellvia::io::read_bytes("field.png".as_ref())?;
//! let record = pipeline::analyze_bytes("field.png", &bytes, &config, &viability);
//! println!("{} cells", record.counts.map_or(0, |c| c.total));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod aggregate;
pub mod audit;
pub mod batch;
pub mod bench;
pub mod classify;
pub mod config;
pub mod dataset;
pub mod eval;
pub mod gate;
pub mod image_types;
pub mod io;
pub mod matching;
pub mod measure;
pub mod pipeline;
pub mod preprocess;
pub mod report;
pub mod scheduler;
pub mod segment;
pub mod service;
pub mod synth;
pub mod truth;
pub mod validate;

pub use config::Config;

/// Name and version of this build, as written into every result.
pub const SOFTWARE_NAME: &str = env!("CARGO_PKG_NAME");
/// Version of this build, as written into every result.
pub const SOFTWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Lower-case hex SHA-256 of `bytes`: how results identify models, rules,
/// configs, specs and input files.
///
/// ```
/// assert_eq!(
///     cellvia::sha256_hex(b"abc"),
///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// ```
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(bytes))
}
