//! A batch's fields: their pixel size, their first pass, and their analysis.

use std::path::Path;

use super::grid::{self, Known};
use super::plan::SamplePlan;
use crate::aggregate::record::ImageRecord;
use crate::classify::Viability;
use crate::config::ExportKind;
use crate::io::calibration::Declared;
use crate::io::discover::FieldFiles;
use crate::io::{self};
use crate::pipeline::{self, ImageAnalysis, Source};
use crate::scheduler::{self, SchedulerError};
use crate::segment::scale::{self, FieldDiameter};
use crate::Config;

/// Where a run's pixel size came from, as results.json names it.
pub(super) const PIXEL_SIZE_FROM_FLAG: &str = "flag";
pub(super) const PIXEL_SIZE_FROM_METADATA: &str = "metadata";
pub(super) const PIXEL_SIZE_FROM_GRID: &str = "grid";

/// Pixel sizes from two sources that differ by more than this disagree:
/// the accuracy asked of a calibration.
pub(super) const PIXEL_SIZE_AGREEMENT: f64 = 0.02;

/// Settles the pixel size: the settings win (with a warning when the
/// files declare another); else the size every file declares (TIFF, ImageJ
/// or OME metadata); else the chamber's rulings ([`grid::settle`], which
/// also checks the others against them). Returns its source for the results.
pub(super) fn calibrate(
    config: &mut Config,
    fields: &[FieldFiles],
    threads: usize,
) -> Result<Option<String>, SchedulerError> {
    // Unreadable folders and unpaired files have no pixels to calibrate.
    let paths: Vec<&Path> = fields
        .iter()
        .filter(|f| matches!(f, FieldFiles::Image(_) | FieldFiles::Pair { .. }))
        .map(FieldFiles::path)
        .collect();
    let declared = io::calibration::declared_by_files(&paths);
    let flag = |size_um| Known {
        size_um,
        source: PIXEL_SIZE_FROM_FLAG,
    };
    let known = match (config.pixel_size_um, declared) {
        (Some(given), Declared::Agreed(found))
            if (given / found - 1.0).abs() > PIXEL_SIZE_AGREEMENT =>
        {
            tracing::warn!(
                "the pixel size given ({given} µm/px) differs from the one the files declare ({found} µm/px); using the one given"
            );
            Some(flag(given))
        }
        (Some(given), _) => Some(flag(given)),
        (None, Declared::Agreed(found)) => {
            config.pixel_size_um = Some(found);
            tracing::info!("pixel size {found} µm/px, from the files' metadata");
            Some(Known {
                size_um: found,
                source: PIXEL_SIZE_FROM_METADATA,
            })
        }
        (
            None,
            Declared::Mixed {
                declared,
                files,
                min,
                max,
            },
        ) => {
            tracing::warn!(
                "{declared} of {files} files declare a pixel size ({min}–{max} µm/px): not used; give the pixel size"
            );
            None
        }
        (None, Declared::Nothing) => None,
    };
    grid::settle(config, fields, threads, known)
}

/// Longest stem an overlay's or export's name keeps, bytes: with the index
/// and the suffix it stays far below the 255-byte limit of common
/// filesystems.
const FIELD_STEM_MAX_BYTES: usize = 120;

/// The start of the names of field `index`'s files: `00007_stem`.
fn field_stem(index: usize, path: &Path) -> String {
    let stem = path
        .file_stem()
        .map_or_else(|| "image".into(), |s| s.to_string_lossy().into_owned());
    let mut end = stem.len().min(FIELD_STEM_MAX_BYTES);
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    format!("{index:05}_{}", &stem[..end])
}

/// The overlay file of field `index`: `00007_stem.png`.
pub(super) fn overlay_name(index: usize, path: &Path) -> String {
    field_stem(index, path) + ".png"
}

/// Field `index`'s export of `kind`: `00007_stem.rois.zip` and so on.
pub(super) fn export_name(index: usize, path: &Path, kind: ExportKind) -> String {
    field_stem(index, path) + kind.suffix()
}

/// Reads a field's file(s) and hands them to `work`; an unreadable,
/// oversized or unpaired file is the error message instead.
pub(super) fn with_source<R>(
    field: &FieldFiles,
    config: &Config,
    work: impl FnOnce(Source) -> R,
) -> Result<R, String> {
    let label = field.path().display().to_string();
    let max_bytes = io::decode::max_encoded_bytes(config.max_image_pixels);
    let read = |path: &Path| io::read_input(path, max_bytes).map_err(|e| e.to_string());
    match field {
        FieldFiles::Image(path) => read(path).map(|bytes| work(Source::Image(&bytes))),
        FieldFiles::Pair { ao, pi } => {
            let (ao, pi) = (read(ao)?, read(pi)?);
            Ok(work(Source::Pair { ao: &ao, pi: &pi }))
        }
        FieldFiles::Unpaired { reason, .. } | FieldFiles::Unreadable { reason, .. } => {
            Err(format!("{label}: {reason}"))
        }
    }
}

/// Reads a field's file(s) and analyses them; unreadable or unpaired files
/// become error records.
pub(super) fn analyze_field(
    field: &FieldFiles,
    config: &Config,
    viability: &Viability,
    want_overlay: bool,
    diameter: Option<&FieldDiameter>,
) -> ImageAnalysis {
    let label = field.path().display().to_string();
    let analysed = with_source(field, config, |source| {
        pipeline::analyze(&label, source, config, viability, want_overlay, diameter)
    });
    let mut analysis = analysed.unwrap_or_else(|error| ImageAnalysis {
        record: ImageRecord::failed(&label, error),
        overlay: None,
        exports: Vec::new(),
        times: Default::default(),
    });
    if let FieldFiles::Pair { pi, .. } = field {
        analysis.record.pi_path = Some(pi.display().to_string());
    }
    analysis
}

/// `--diameter auto`: the first-pass object diameters of the fields
/// `wanted`, pooled over each sample; `None` when the settings fix the
/// diameter.
pub(super) fn measure_diameters(
    fields: &[FieldFiles],
    wanted: &[bool],
    plan: &SamplePlan,
    config: &Config,
    threads: usize,
) -> Result<Option<Vec<FieldDiameter>>, SchedulerError> {
    if config.fixed_diameter().is_some() {
        return Ok(None);
    }
    let mut own = vec![Vec::new(); fields.len()];
    let measured: Vec<(usize, &FieldFiles)> = fields
        .iter()
        .enumerate()
        .filter(|&(i, _)| wanted[i])
        .collect();
    scheduler::for_each_ordered(
        &measured,
        threads,
        |&(_, field)| {
            // A field that cannot be read votes nothing; its analysis reports why.
            with_source(field, config, |source| {
                pipeline::first_pass_diameters(source, config)
            })
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
        },
        |position, diameters| own[measured[position].0] = diameters,
    )?;
    Ok(Some(scale::pool_by_sample(
        &own,
        &plan.field_sample,
        scale::MAX_POOLED_FIELDS,
    )))
}

/// SHA-256 of the field list (each field's file or files, in order): the
/// identity of a batch's inputs, which its shards must share.
pub(super) fn inputs_sha256(fields: &[FieldFiles]) -> String {
    let mut listed = String::new();
    for field in fields {
        listed += &field.path().display().to_string();
        if let FieldFiles::Pair { pi, .. } = field {
            listed += &format!("\t{}", pi.display());
        }
        listed.push('\n');
    }
    crate::sha256_hex(listed.as_bytes())
}
