//! The figure a lab files when it validates cellvia on its own microscope:
//! the viability bias (counted minus true viability, pooled over the
//! labelled fields) with a 95 % interval.
//!
//! The interval is a percentile bootstrap over fields (fields, not cells,
//! are the independent units: cells of one field share its focus, light and
//! stain), with a fixed seed so the same scores always give the same
//! interval.

use serde::{Deserialize, Serialize};

use crate::eval::{ImageScore, ScoreStatus};

/// Bootstrap resamples.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;

/// Fixed seed of the bootstrap (any value; fixed so reports are reproducible).
const BOOTSTRAP_SEED: u64 = 0x00C3_11F1_A000_0001;

/// Viability bias in percentage points, with its 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ViabilityBias {
    /// Counted viability − true viability, pooled over fields, points.
    pub bias_points: f64,
    pub ci95_points: [f64; 2],
    pub fields: usize,
}

/// Pooled (counted live / counted cells) − (true live / true cells), points.
fn pooled_bias(scores: &[&ImageScore], pick: impl Iterator<Item = usize>) -> Option<f64> {
    let (mut cl, mut cc, mut tl, mut tc) = (0u64, 0u64, 0u64, 0u64);
    for i in pick {
        let t = &scores[i].tally;
        cl += u64::from(t.counted_live);
        cc += u64::from(t.counted_cells);
        tl += u64::from(t.truth_live);
        tc += u64::from(t.truth_cells);
    }
    (cc > 0 && tc > 0).then(|| 100.0 * (cl as f64 / cc as f64 - tl as f64 / tc as f64))
}

/// The viability bias of scored fields with its bootstrap 95 % interval;
/// `None` without a scored field that has cells.
///
/// ```
/// use cellvia::eval::{ImageScore, ScoreStatus, Tally};
/// let field = |counted_live, truth_live| ImageScore {
///     path: "f.png".into(), status: ScoreStatus::Scored, count_error: 0,
///     tally: Tally { truth_cells: 10, truth_live, counted_cells: 10, counted_live, ..Default::default() },
/// };
/// let scores = [field(8, 7), field(9, 8), field(7, 7)];
/// let b = cellvia::validate::viability_bias(&scores).unwrap();
/// assert!((b.bias_points - 6.667).abs() < 0.01);
/// assert!(b.ci95_points[0] <= b.bias_points && b.bias_points <= b.ci95_points[1]);
/// ```
pub fn viability_bias(scores: &[ImageScore]) -> Option<ViabilityBias> {
    let scored: Vec<&ImageScore> = scores
        .iter()
        .filter(|s| s.status == ScoreStatus::Scored)
        .collect();
    let n = scored.len();
    let bias = pooled_bias(&scored, 0..n)?;
    let mut state = BOOTSTRAP_SEED;
    let mut next = move || {
        // SplitMix64.
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut resampled: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .filter_map(|_| {
            let picks: Vec<usize> = (0..n).map(|_| (next() % n as u64) as usize).collect();
            pooled_bias(&scored, picks.into_iter())
        })
        .collect();
    resampled.sort_by(f64::total_cmp);
    let at = |q: f64| resampled[((resampled.len() - 1) as f64 * q).round() as usize];
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    Some(ViabilityBias {
        bias_points: round(bias),
        ci95_points: [round(at(0.025)), round(at(0.975))],
        fields: n,
    })
}
