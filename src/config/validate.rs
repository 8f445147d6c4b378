//! [`Config::validate`]: every setting's range, checked before any work.
//!
//! Bounds are wide enough for any real microscope and narrow enough that no
//! accepted value can overflow, divide by zero or allocate without limit
//! later (issue 13: `histogram_bin_um = 1e-300` panicked, `1e-6` took 3 GB).

use super::{Config, ConfigError, DiameterRange, GRID_PITCH_UM};

/// Pixel sizes a light microscope can have, µm/px: 1 nm (beyond any
/// optical resolution) to 1 mm (a flatbed scan). Outside this the number is
/// a typo or a unit mix-up.
pub const PIXEL_SIZE_UM: (f64, f64) = (1e-3, 1e3);

/// Cell diameters cellvia can segment, pixels: under 3 px nothing can be
/// told apart; 5,000 px is half the side of the largest field
/// `max_image_pixels` allows by default.
pub const DIAMETER_PX: (f64, f64) = (3.0, 5_000.0);

/// Dilution factors: 1 (neat) to 10^6 (a serial dilution far beyond any
/// counting protocol). Larger values overflow nothing but mean a typo.
pub const DILUTION: (f64, f64) = (1.0, 1e6);

/// Counting-chamber depths, µm: 1 µm (thinner than a cell) to 10 mm.
pub const CHAMBER_DEPTH_UM: (f64, f64) = (1.0, 10_000.0);

/// Size-histogram bin widths, µm: a tenth of a micrometre (finer than
/// optical resolution) to 1 mm; the bin count is capped as well
/// ([`crate::aggregate::size::MAX_HISTOGRAM_BINS`]).
pub const HISTOGRAM_BIN_UM: (f64, f64) = (0.1, 1_000.0);

/// `max_image_pixels`: a gigapixel needs tens of GB of working memory.
pub const MAX_IMAGE_PIXELS: (u64, u64) = (1, 1_000_000_000);

/// `max_seconds_per_image`: a tenth of a second to a day.
pub const MAX_SECONDS_PER_IMAGE: (f64, f64) = (0.1, 86_400.0);

/// `report.html_thumbnails` per sample.
pub const HTML_THUMBNAILS: (u32, u32) = (0, 1_000);

/// `value` must be finite and lie in `[lo, hi]`.
fn within(key: &'static str, value: f64, (lo, hi): (f64, f64)) -> Result<(), ConfigError> {
    if value.is_finite() && (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(invalid(key, format!("{value} is outside {lo}..={hi}")))
    }
}

fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}

fn check_range(key: &'static str, range: &DiameterRange) -> Result<(), ConfigError> {
    if !(range.min.is_finite() && range.max.is_finite() && range.min > 0.0) {
        return Err(invalid(key, "diameters must be positive numbers"));
    }
    if range.min >= range.max {
        return Err(invalid(key, "min must be smaller than max"));
    }
    Ok(())
}

impl Config {
    /// Checks every setting; returns the first problem found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(d) = &self.diameter_px {
            check_range("diameter_px", d)?;
        }
        if let Some(p) = self.pixel_size_um {
            within("pixel_size_um", p, PIXEL_SIZE_UM)?;
        }
        match (self.pixel_size_um, &self.diameter_um) {
            (None, Some(_)) => {
                return Err(invalid(
                    "diameter_um",
                    "needs pixel_size_um to convert to pixels",
                ))
            }
            (_, Some(d)) => check_range("diameter_um", d)?,
            _ => {}
        }
        if self.report.asm && self.pixel_size_um.is_none() {
            return Err(invalid(
                "report.asm",
                "needs pixel_size_um: Allotrope cell counting requires a concentration",
            ));
        }
        if let Some(d) = self.fixed_diameter() {
            if d.min < DIAMETER_PX.0 {
                return Err(invalid(
                    "diameter_px",
                    "cells under 3 px across cannot be segmented or classified",
                ));
            }
            within("diameter_px", d.max, DIAMETER_PX)?;
        }
        let s = &self.segment;
        if !(s.extent_sigma > 0.0 && s.seed_sigma >= s.extent_sigma && s.seed_sigma <= 1_000.0) {
            return Err(invalid(
                "segment.seed_sigma",
                "need 1000 >= seed_sigma >= extent_sigma > 0",
            ));
        }
        let mut exports = self.report.exports.clone();
        exports.sort();
        exports.dedup();
        if exports.len() != self.report.exports.len() {
            return Err(invalid("report.exports", "lists an export twice"));
        }
        if !(0.0..=1.0).contains(&s.min_circularity) {
            return Err(invalid("segment.min_circularity", "must lie in 0..=1"));
        }
        if !(s.seed_separation > 0.0 && s.seed_separation <= 2.0) {
            return Err(invalid("segment.seed_separation", "must lie in (0, 2]"));
        }
        if !(1..=4096).contains(&self.classify.batch_size) {
            return Err(invalid("classify.batch_size", "must lie in 1..=4096"));
        }
        let (lo, hi) = MAX_IMAGE_PIXELS;
        if !(lo..=hi).contains(&self.max_image_pixels) {
            return Err(invalid(
                "max_image_pixels",
                format!("must lie in {lo}..={hi}"),
            ));
        }
        within(
            "max_seconds_per_image",
            self.max_seconds_per_image,
            MAX_SECONDS_PER_IMAGE,
        )?;
        let (lo, hi) = HTML_THUMBNAILS;
        if !(lo..=hi).contains(&self.report.html_thumbnails) {
            return Err(invalid(
                "report.html_thumbnails",
                format!("must lie in {lo}..={hi}"),
            ));
        }
        let a = &self.aopi;
        if a.ao_suffix.is_empty()
            || a.pi_suffix.is_empty()
            || a.ao_suffix.eq_ignore_ascii_case(&a.pi_suffix)
        {
            return Err(invalid(
                "aopi.ao_suffix",
                "ao_suffix and pi_suffix must be non-empty and different",
            ));
        }
        if !(a.dead_pi_fraction > 0.0 && a.dead_pi_fraction < 1.0) {
            return Err(invalid("aopi.dead_pi_fraction", "must lie in (0, 1)"));
        }
        if !(a.min_cell_sigma.is_finite() && a.min_cell_sigma >= 0.0) {
            return Err(invalid("aopi.min_cell_sigma", "must be a number >= 0"));
        }
        let sm = &self.sample;
        match sm.depth_um() {
            None => {
                return Err(invalid(
                    "sample.chamber_depth_um",
                    "a custom chamber needs its depth",
                ))
            }
            Some(d) => within("sample.chamber_depth_um", d, CHAMBER_DEPTH_UM)?,
        }
        if let Some(pitch) = sm.chamber_grid_pitch_um {
            within("sample.chamber_grid_pitch_um", pitch, GRID_PITCH_UM)?;
        }
        within("sample.pre_dilution", sm.pre_dilution, DILUTION)?;
        within("sample.stain_dilution", sm.stain_dilution, DILUTION)?;
        if !(sm.target_precision > 0.0 && sm.target_precision < 1.0) {
            return Err(invalid("sample.target_precision", "must lie in (0, 1)"));
        }
        if !(sm.max_linear_cells_per_ml.is_finite() && sm.max_linear_cells_per_ml >= 1.0) {
            return Err(invalid(
                "sample.max_linear_cells_per_ml",
                "must be at least 1",
            ));
        }
        within(
            "sample.histogram_bin_um",
            sm.histogram_bin_um,
            HISTOGRAM_BIN_UM,
        )?;
        if !(sm.max_diameter_ratio.is_finite() && sm.max_diameter_ratio >= 1.0) {
            return Err(invalid("sample.max_diameter_ratio", "must be at least 1"));
        }
        let cl = &self.classify;
        for (key, v) in [
            ("classify.max_uncertain_fraction", cl.max_uncertain_fraction),
            ("classify.max_novel_fraction", cl.max_novel_fraction),
            ("classify.max_debris_fraction", cl.max_debris_fraction),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(invalid(key, "must lie in 0..=1"));
            }
        }
        self.quality
            .validate()
            .map_err(|key| invalid(key, "must be a positive number"))?;
        self.gate
            .validate(self.pixel_size_um)
            .map_err(|(key, reason)| invalid(key, reason))
    }
}
