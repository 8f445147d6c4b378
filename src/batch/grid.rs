//! A batch's pixel size from its counting chamber's rulings
//! ([`crate::preprocess::ruling_spacing`]), weighed against the size given
//! or declared.
//!
//! The rulings' spacing in pixels does not give a pixel size by itself: an
//! improved Neubauer shows rulings 50, 200, 250 or 1000 µm apart, depending
//! on where the field lies and which lines it resolves. 50 and 250 µm differ
//! by the factor 5 between a 4× and a 20× objective, 200 and 250 µm by 25 %,
//! less than cells of one line vary, so neither magnification nor cell size
//! can tell the pitch. The lab states the pitch its fields show
//! (`sample.chamber_grid_pitch_um`); without it the rulings set nothing, and
//! only check a size given or declared against the chamber's known pitches.

use super::fields::{
    with_source, PIXEL_SIZE_AGREEMENT, PIXEL_SIZE_FROM_GRID, PIXEL_SIZE_FROM_METADATA,
};
use crate::config::{Assay, GRID_PITCH_UM};
use crate::io::decode::decode;
use crate::io::discover::FieldFiles;
use crate::pipeline::{isolated, Source};
use crate::preprocess::{ruling_spacing, to_intensity};
use crate::scheduler::{self, SchedulerError};
use crate::Config;

/// Fields whose rulings are measured: the batch's first image files. Enough
/// that an odd field (a bubble, the chamber's edge) cannot move the median;
/// few enough that measuring costs a fraction of the analysis.
const GRID_FIELDS: usize = 8;

/// A pixel size the settings or the files gave, and which of them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Known {
    pub size_um: f64,
    pub source: &'static str,
}

/// Completes the calibration with the rulings (see the module
/// documentation): `known`'s source when there is one, after checking the
/// rulings against it; else `grid` when the pitch is set and the fields show
/// a grid (the size is then set in `config`); else none.
pub(super) fn settle(
    config: &mut Config,
    fields: &[FieldFiles],
    threads: usize,
    known: Option<Known>,
) -> Result<Option<String>, SchedulerError> {
    let source = known.map(|k| k.source.to_string());
    let (lo, hi) = GRID_PITCH_UM;
    // An out-of-range pitch is refused by the validation that follows.
    let pitch = config
        .sample
        .chamber_grid_pitch_um
        .filter(|p| (lo..=hi).contains(p));
    let chamber_pitches = config.sample.chamber.ruling_pitches_um();
    if config.assay != Assay::Trypan {
        if pitch.is_some() {
            tracing::info!(
                "sample.chamber_grid_pitch_um is not used: rulings do not show in fluorescence"
            );
        }
        return Ok(source);
    }
    if pitch.is_none() && (known.is_none() || chamber_pitches.is_empty()) {
        if known.is_none() {
            tracing::info!(
                "no pixel size given or declared; the chamber's rulings can give it once sample.chamber_grid_pitch_um says which pitch the fields show"
            );
        }
        return Ok(source);
    }
    let Some(spacing) = batch_spacing(fields, config, threads)? else {
        if let Some(pitch) = pitch {
            let seen = format!(
                "sample.chamber_grid_pitch_um is {pitch} µm but the first {GRID_FIELDS} fields show no regular ruling grid"
            );
            match known {
                None => tracing::warn!("{seen}: the pixel size is unknown"),
                Some(_) => tracing::info!("{seen}"),
            }
        }
        return Ok(source);
    };
    match (known, pitch) {
        (None, Some(pitch)) => {
            let size = four_digits(pitch / spacing);
            config.pixel_size_um = Some(size);
            tracing::info!(
                "pixel size {size} µm/px, from the chamber's rulings: {pitch} µm per {spacing:.2} px"
            );
            Ok(Some(PIXEL_SIZE_FROM_GRID.into()))
        }
        (Some(k), Some(pitch)) => {
            let grid = pitch / spacing;
            if (grid / k.size_um - 1.0).abs() > PIXEL_SIZE_AGREEMENT {
                let (from, kept) = describe(k.source);
                tracing::warn!(
                    "the pixel size the chamber's rulings give ({grid:.4} µm/px: {pitch} µm per {spacing:.2} px) differs from the one {from} ({} µm/px); using the one {kept}",
                    k.size_um
                );
            }
            Ok(source)
        }
        (Some(k), None) => {
            let implied = spacing * k.size_um;
            if !chamber_pitches
                .iter()
                .any(|p| (implied / p - 1.0).abs() <= PIXEL_SIZE_AGREEMENT)
            {
                let (from, _) = describe(k.source);
                let pitches: Vec<String> = chamber_pitches.iter().map(f64::to_string).collect();
                tracing::warn!(
                    "the chamber's rulings are {spacing:.1} px apart, {implied:.1} µm at the pixel size {from} ({} µm/px): no ruling pitch of the chamber ({} µm); check the pixel size",
                    k.size_um,
                    pitches.join(", ")
                );
            }
            Ok(source)
        }
        (None, None) => Ok(source),
    }
}

/// How a message names a source's size: (its origin, the size kept).
fn describe(source: &str) -> (&'static str, &'static str) {
    match source {
        PIXEL_SIZE_FROM_METADATA => ("the files declare", "declared"),
        _ => ("given", "given"),
    }
}

/// `value` to four significant digits: steps of 0.01 %, far finer than the
/// rulings measure, so the size reads as a number a person would write.
fn four_digits(value: f64) -> f64 {
    let scale = 10f64.powi(3 - value.log10().floor() as i32);
    (value * scale).round() / scale
}

/// The ruling spacing of the batch, pixels: the median over the first
/// [`GRID_FIELDS`] image files of those that show a grid (a lower median,
/// so that it is one field's measurement); fields more than 2 % from it are
/// warned about.
fn batch_spacing(
    fields: &[FieldFiles],
    config: &Config,
    threads: usize,
) -> Result<Option<f64>, SchedulerError> {
    let images: Vec<&FieldFiles> = fields
        .iter()
        .filter(|f| matches!(f, FieldFiles::Image(_)))
        .take(GRID_FIELDS)
        .collect();
    let mut found = Vec::new();
    scheduler::for_each_ordered(
        &images,
        threads,
        |field| field_spacing(field, config),
        |_, spacing| found.extend(spacing),
    )?;
    found.sort_by(f64::total_cmp);
    let Some(&median) = found.get(found.len().saturating_sub(1) / 2) else {
        return Ok(None);
    };
    let odd = found
        .iter()
        .filter(|&&s| (s / median - 1.0).abs() > PIXEL_SIZE_AGREEMENT)
        .count();
    if odd > 0 {
        tracing::warn!(
            "{odd} of {} fields show rulings spaced otherwise than the median {median:.2} px ({:.2}–{:.2} px); using the median",
            found.len(),
            found[0],
            found[found.len() - 1]
        );
    }
    Ok(Some(median))
}

/// The ruling spacing of one brightfield field; `None` when it cannot be
/// read or shows no grid (its analysis reports an unreadable file).
fn field_spacing(field: &FieldFiles, config: &Config) -> Option<f64> {
    let measured = with_source(field, config, |source| match source {
        Source::Image(bytes) => isolated(|| {
            let image = decode(bytes, config.max_image_pixels)?;
            Ok(ruling_spacing(&to_intensity(
                &image,
                config.channel,
                config.bit_depth,
            )))
        })
        .ok()
        .flatten(),
        Source::Pair { .. } => None,
    });
    measured.ok().flatten()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn sizes_keep_four_significant_digits() {
        assert_eq!(four_digits(50.0 / 83.3), 0.6002);
        assert_eq!(four_digits(250.0 / 92.6), 2.7);
        assert_eq!(four_digits(1000.0 / 61.7), 16.21);
    }

    #[test]
    fn a_size_given_is_kept_and_nothing_is_guessed() {
        // A field that cannot be read shows no grid: nothing is guessed, and
        // a size given is kept.
        let fields = [FieldFiles::Image(
            Path::new("/nonexistent/field.png").into(),
        )];
        let mut config = Config::default();
        assert_eq!(settle(&mut config, &fields, 1, None).unwrap(), None);
        assert_eq!(config.pixel_size_um, None);
        let flag = Known {
            size_um: 0.5,
            source: super::super::fields::PIXEL_SIZE_FROM_FLAG,
        };
        assert_eq!(
            settle(&mut config, &fields, 1, Some(flag)).unwrap(),
            Some("flag".into())
        );
    }
}
