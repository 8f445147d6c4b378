//! Image-quality flags: a field whose picture cannot be trusted for counting
//! (out of focus, unevenly lit, over-exposed, mostly unlit, crowded) is
//! flagged; samples count their flagged fields and a release spec may make
//! a sample INVALID over them (`max_flagged_fields`).
//!
//! The limits are `[quality]` in the config. Their defaults come from the
//! 2,193 LDC hemocytometer images (`cellvia analyze`, default settings) and,
//! for focus, from a blur series of a synthetic field; see each constant.

use serde::{Deserialize, Serialize};

use crate::aggregate::record::ImageQuality;
use crate::config::Assay;

/// Why a field is flagged.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum QualityFlag {
    /// Cell edges wider than `quality.max_edge_width_px` (AO/PI:
    /// `quality.max_edge_width_px_fluorescence`).
    OutOfFocus,
    /// Background spread above `quality.max_illumination_spread`.
    UnevenIllumination,
    /// More saturated pixels than `quality.max_saturated_fraction`.
    Overexposed,
    /// More of the field unlit than `quality.max_excluded_fraction`.
    MostlyUnlit,
    /// Cells cover more of the field than `quality.max_cell_coverage`.
    Crowded,
}

impl QualityFlag {
    /// The flag as reports print it.
    pub fn as_str(self) -> &'static str {
        match self {
            QualityFlag::OutOfFocus => "out_of_focus",
            QualityFlag::UnevenIllumination => "uneven_illumination",
            QualityFlag::Overexposed => "overexposed",
            QualityFlag::MostlyUnlit => "mostly_unlit",
            QualityFlag::Crowded => "crowded",
        }
    }
}

/// How many fields raised each flag, as warnings and reasons print it.
///
/// ```
/// use cellvia::aggregate::quality::{flag_tally, QualityFlag};
/// let tally = [(QualityFlag::Crowded, 1), (QualityFlag::OutOfFocus, 2)].into();
/// assert_eq!(flag_tally(&tally), "out_of_focus 2, crowded 1");
/// ```
pub fn flag_tally(counts: &std::collections::BTreeMap<QualityFlag, u32>) -> String {
    counts
        .iter()
        .map(|(flag, n)| format!("{} {n}", flag.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Median cell edge width above which a field is out of focus, pixels.
/// A synthetic trypan field (sample-images/synthetic/field-0101, 80 cells,
/// 60 live) blurred by a Gaussian of sigma 0 / 2 / 3 / 4 px measures 4.2 /
/// 4.9 / 5.8 / 8.4 px and is counted 60/20 / 57/23 / 32/47 / 1/51 live/dead:
/// viability breaks between 2 and 3 px of blur. LDC: median 3.8, 95th
/// percentile 4.8; 2.8 % of LDC fields exceed 5.3 (they look soft by eye).
pub const DEFAULT_MAX_EDGE_WIDTH_PX: f64 = 5.3;
/// The same for AO/PI fluorescence, whose filled, dome-shaped cells have
/// wider edges in focus. A synthetic AO/PI field (seed 9200, 150 cells,
/// 108 live) blurred by sigma 0 / 1 / 2 / 3 px measures 5.4 / 6.0 / 7.6 /
/// 9.2 px and is counted 151 / 149 / 147 / 144 cells (viability within 0.5
/// points throughout): the count leaves its ±2 % target from 2 px of blur.
/// No real AO/PI images were available to check it.
pub const DEFAULT_MAX_EDGE_WIDTH_PX_FLUORESCENCE: f64 = 7.0;
/// Background (p95 − p5) / median above which illumination is uneven.
/// LDC: median 0.024, 99th percentile 0.39; the 18 fields above 0.6 have a
/// dark vignette over a corner.
pub const DEFAULT_MAX_ILLUMINATION_SPREAD: f64 = 0.6;
/// Saturated pixel fraction above which a field is over-exposed. LDC: 95th
/// percentile 0.003; the 1.2 % above 0.05 have a clipped white background.
pub const DEFAULT_MAX_SATURATED_FRACTION: f64 = 0.05;
/// Unlit fraction above which too little of the field is analysed (LDC
/// never exceeds 0.12).
pub const DEFAULT_MAX_EXCLUDED_FRACTION: f64 = 0.5;
/// Cell coverage above which touching cells make counts unreliable.
/// Synthetic 800x600 fields, 35 % clumped (`cellvia synth`, seeds 9400/9500):
/// 400 cells cover 0.29 and are counted within 0.5 %; 600 cells cover
/// 0.33-0.34 and are under-counted by 6.5 and 11.7 %. LDC never exceeds 0.14.
pub const DEFAULT_MAX_CELL_COVERAGE: f64 = 0.3;

/// Limits beyond which a field is flagged (`[quality]` in the config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct QualityLimits {
    pub max_edge_width_px: f64,
    pub max_edge_width_px_fluorescence: f64,
    pub max_illumination_spread: f64,
    pub max_saturated_fraction: f64,
    pub max_excluded_fraction: f64,
    pub max_cell_coverage: f64,
}

impl Default for QualityLimits {
    fn default() -> Self {
        Self {
            max_edge_width_px: DEFAULT_MAX_EDGE_WIDTH_PX,
            max_edge_width_px_fluorescence: DEFAULT_MAX_EDGE_WIDTH_PX_FLUORESCENCE,
            max_illumination_spread: DEFAULT_MAX_ILLUMINATION_SPREAD,
            max_saturated_fraction: DEFAULT_MAX_SATURATED_FRACTION,
            max_excluded_fraction: DEFAULT_MAX_EXCLUDED_FRACTION,
            max_cell_coverage: DEFAULT_MAX_CELL_COVERAGE,
        }
    }
}

impl QualityLimits {
    /// The flags a field's quality figures raise, in a fixed order.
    /// `assay` picks the focus limit.
    ///
    /// ```
    /// use cellvia::aggregate::quality::{QualityFlag, QualityLimits};
    /// use cellvia::config::Assay;
    /// let q = cellvia::aggregate::record::ImageQuality {
    ///     background_mean: 0.5, noise_sigma: 0.01, excluded_fraction: 0.0,
    ///     edge_width_px: Some(9.0), illumination_spread: Some(0.1),
    ///     saturated_fraction: 0.0, cell_coverage: 0.05,
    /// };
    /// let limits = QualityLimits::default();
    /// assert_eq!(limits.flags(&q, Assay::Trypan), vec![QualityFlag::OutOfFocus]);
    /// assert_eq!(limits.flags(&q, Assay::Aopi), vec![QualityFlag::OutOfFocus]);
    /// let q = cellvia::aggregate::record::ImageQuality { edge_width_px: Some(6.0), ..q };
    /// assert_eq!(limits.flags(&q, Assay::Aopi), vec![]);
    /// ```
    pub fn flags(&self, q: &ImageQuality, assay: Assay) -> Vec<QualityFlag> {
        let max_edge_width = match assay {
            Assay::Trypan => self.max_edge_width_px,
            Assay::Aopi => self.max_edge_width_px_fluorescence,
        };
        let checks = [
            (
                q.edge_width_px.is_some_and(|w| w > max_edge_width),
                QualityFlag::OutOfFocus,
            ),
            (
                q.illumination_spread
                    .is_some_and(|s| s > self.max_illumination_spread),
                QualityFlag::UnevenIllumination,
            ),
            (
                q.saturated_fraction > self.max_saturated_fraction,
                QualityFlag::Overexposed,
            ),
            (
                q.excluded_fraction > self.max_excluded_fraction,
                QualityFlag::MostlyUnlit,
            ),
            (
                q.cell_coverage > self.max_cell_coverage,
                QualityFlag::Crowded,
            ),
        ];
        checks
            .into_iter()
            .filter_map(|(raised, flag)| raised.then_some(flag))
            .collect()
    }

    /// Checks every limit is a positive number.
    pub fn validate(&self) -> Result<(), &'static str> {
        let limits = [
            ("quality.max_edge_width_px", self.max_edge_width_px),
            (
                "quality.max_edge_width_px_fluorescence",
                self.max_edge_width_px_fluorescence,
            ),
            (
                "quality.max_illumination_spread",
                self.max_illumination_spread,
            ),
            (
                "quality.max_saturated_fraction",
                self.max_saturated_fraction,
            ),
            ("quality.max_excluded_fraction", self.max_excluded_fraction),
            ("quality.max_cell_coverage", self.max_cell_coverage),
        ];
        match limits.iter().find(|(_, v)| !(v.is_finite() && *v > 0.0)) {
            Some((key, _)) => Err(key),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> ImageQuality {
        ImageQuality {
            background_mean: 0.6,
            noise_sigma: 0.02,
            excluded_fraction: 0.0,
            edge_width_px: Some(3.0),
            illumination_spread: Some(0.1),
            saturated_fraction: 0.0,
            cell_coverage: 0.1,
        }
    }

    #[test]
    fn each_limit_raises_its_own_flag() {
        let limits = QualityLimits::default();
        assert!(limits.flags(&good(), Assay::Trypan).is_empty());
        type Spoil = fn(&mut ImageQuality);
        let cases: [(Spoil, QualityFlag); 5] = [
            (|q| q.edge_width_px = Some(5.5), QualityFlag::OutOfFocus),
            (
                |q| q.illumination_spread = Some(0.9),
                QualityFlag::UnevenIllumination,
            ),
            (|q| q.saturated_fraction = 0.06, QualityFlag::Overexposed),
            (|q| q.excluded_fraction = 0.6, QualityFlag::MostlyUnlit),
            (|q| q.cell_coverage = 0.32, QualityFlag::Crowded),
        ];
        for (spoil, flag) in cases {
            let mut q = good();
            spoil(&mut q);
            assert_eq!(limits.flags(&q, Assay::Trypan), vec![flag]);
        }
    }

    #[test]
    fn unknown_figures_raise_nothing() {
        let mut q = good();
        q.edge_width_px = None;
        q.illumination_spread = None;
        assert!(QualityLimits::default().flags(&q, Assay::Aopi).is_empty());
    }
}
