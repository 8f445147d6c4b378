//! One image through every stage: decode → preprocess → segment → measure →
//! classify → aggregate → report records. Failures become error records.

mod candidates;
mod field;
mod parked;

use field::analyze_field;

pub use candidates::{candidates, first_pass_diameters, Candidates};

use std::time::Duration;

use crate::report::canvas::Canvas;

use crate::aggregate::record::ImageRecord;
use crate::classify::{ClassifyError, Viability};
use crate::config::{Assay, Config, ExportKind};
use crate::io::decode::DecodeError;
use crate::segment::scale::FieldDiameter;

/// Wall time spent in each stage for one image (for `bench`; never written
/// into results, which must not depend on timing).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    pub decode: Duration,
    pub preprocess: Duration,
    pub segment: Duration,
    pub measure: Duration,
    pub classify: Duration,
    pub report: Duration,
    /// Drawing (and, where the caller encodes it, encoding) the overlay.
    pub overlay: Duration,
}

impl StageTimes {
    /// Adds another image's times.
    pub fn add(&mut self, o: &StageTimes) {
        self.decode += o.decode;
        self.preprocess += o.preprocess;
        self.segment += o.segment;
        self.measure += o.measure;
        self.classify += o.classify;
        self.report += o.report;
        self.overlay += o.overlay;
    }

    /// Time spent in all stages so far.
    pub fn total(&self) -> Duration {
        self.decode
            + self.preprocess
            + self.segment
            + self.measure
            + self.classify
            + self.report
            + self.overlay
    }
}

/// Stops a field whose stages so far took longer than the per-image budget
/// (checked between stages: each stage is linear in the pixels, and
/// `max_image_pixels` bounds those).
fn within_budget(times: &StageTimes, config: &Config) -> Result<(), FieldError> {
    if times.total().as_secs_f64() > config.max_seconds_per_image {
        return Err(FieldError::TimedOut(config.max_seconds_per_image));
    }
    Ok(())
}

/// The encoded image(s) of one field.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// One image file: brightfield, or an AO/PI RGB composite.
    Image(&'a [u8]),
    /// Single-channel AO (green) and PI (red) image files of one field.
    Pair { ao: &'a [u8], pi: &'a [u8] },
}

/// Why a field could not be analysed.
#[derive(Debug, thiserror::Error)]
pub enum FieldError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("AO image: {0}")]
    DecodeAo(DecodeError),
    #[error("PI image: {0}")]
    DecodePi(DecodeError),
    #[error("{0}")]
    Channels(String),
    #[error("a pair of AO/PI files needs the aopi assay (--assay aopi)")]
    PairWithoutAopi,
    #[error("the config's assay is {config:?} but the viability stage scores {stage:?}")]
    AssayMismatch { config: Assay, stage: Assay },
    #[error(transparent)]
    Classify(#[from] ClassifyError),
    #[error(transparent)]
    Export(#[from] crate::report::export::ExportError),
    #[error("{0}")]
    WrongAssay(String),
    #[error(
        "internal error while analysing this field (a bug; please report it with the file): {0}"
    )]
    Panicked(String),
    #[error("analysis took longer than max_seconds_per_image = {0} s and was stopped")]
    TimedOut(f64),
}

/// Runs one field's work so that a panic (a decoder's bug on a hostile
/// file, or ours) becomes that field's error instead of ending the batch.
/// The work only reads shared state and owns what it builds, so nothing a
/// panic interrupts is seen again.
pub(crate) fn isolated<T>(work: impl FnOnce() -> Result<T, FieldError>) -> Result<T, FieldError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        Err(FieldError::Panicked(message))
    })
}
/// The full analysis of one image.
#[derive(Debug, Clone)]
pub struct ImageAnalysis {
    pub record: ImageRecord,
    pub overlay: Option<Canvas>,
    /// The field's `report.exports`, encoded.
    pub exports: Vec<(ExportKind, Vec<u8>)>,
    pub times: StageTimes,
}

/// What [`analyze_field`] makes of one field.
type FieldOutput = (ImageRecord, Option<Canvas>, Vec<(ExportKind, Vec<u8>)>);

/// Analyses one field; `path` labels the record, `diameter` is as for
/// [`candidates`]. Never fails: problems become an error record naming the
/// file.
pub fn analyze(
    path: &str,
    source: Source,
    config: &Config,
    viability: &Viability,
    want_overlay: bool,
    diameter: Option<&FieldDiameter>,
) -> ImageAnalysis {
    let mut times = StageTimes::default();
    let field = isolated(|| {
        analyze_field(
            path,
            source,
            config,
            viability,
            want_overlay,
            diameter,
            &mut times,
        )
    });
    let (mut record, overlay, exports) = match field {
        Ok(done) => done,
        Err(e) => (
            ImageRecord::failed(path, format!("{path}: {e}")),
            None,
            Vec::new(),
        ),
    };
    (record.sha256, record.pi_sha256) = match source {
        Source::Image(bytes) => (Some(crate::sha256_hex(bytes)), None),
        Source::Pair { ao, pi } => (Some(crate::sha256_hex(ao)), Some(crate::sha256_hex(pi))),
    };
    ImageAnalysis {
        record,
        overlay,
        exports,
        times,
    }
}
/// [`analyze`] of one image file without an overlay, returning only the record.
pub fn analyze_bytes(
    path: &str,
    bytes: &[u8],
    config: &Config,
    viability: &Viability,
) -> ImageRecord {
    analyze(path, Source::Image(bytes), config, viability, false, None).record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_a_field_is_its_error() {
        let caught = isolated::<()>(|| panic!("decoder bug at {}", 74));
        let Err(FieldError::Panicked(message)) = caught else {
            panic!("not caught: {caught:?}");
        };
        assert_eq!(message, "decoder bug at 74");
        assert!(
            matches!(isolated::<()>(|| panic!("static")), Err(FieldError::Panicked(m)) if m == "static")
        );
        assert_eq!(isolated(|| Ok(5)).unwrap(), 5);
    }
}
