//! Sigma clipping: the noise sigma of the background between a field's
//! objects, where the MAD alone measures the objects too; and the
//! brightfield noise sigma, the MAD capped by it.

use super::statistics::{sort_total_order, MAD_TO_SIGMA};

/// Values further than this many sigmas from the centre are not background
/// noise but objects. 3σ keeps 99.7 % of Gaussian noise.
const CLIP_SIGMAS: f32 = 3.0;

/// The first round clips tighter: objects can inflate the starting MAD so
/// much that they lie within 3 of its sigmas (objects at 8σ covering 40 %
/// of the values: MAD sigma 2.9), and the kept set would never change. The
/// later 3σ rounds widen the set again to their own fixed point.
const FIRST_CLIP_SIGMAS: f32 = 2.0;

/// The MAD of a standard normal truncated at ±[`CLIP_SIGMAS`], relative to
/// the untruncated one: the median of |x| given |x| ≤ 3 is Φ⁻¹(0.74933) =
/// 0.6723 instead of 0.6745.
const CLIPPED_MAD_FACTOR: f32 = 0.9968;

/// At most this many values enter [`background_sigma`]'s rounds (a regular
/// stride through longer slices): the MAD of 2¹⁸ values has a standard
/// error near 0.2 %.
const BACKGROUND_SAMPLE_MAX: usize = 1 << 18;

/// Clipping stops after this many rounds even if the kept set still
/// changes (it settles in 5–12 where objects cover 30–60 % of a field).
const MAX_CLIP_ROUNDS: usize = 30;

/// The noise sigma of the background under a field's objects: [`robust_sigma`](super::robust_sigma),
/// then recomputed (centre and MAD) on the values within [`CLIP_SIGMAS`] of
/// the centre until the kept set stops changing (sigma clipping, as
/// astronomers measure the sky between stars).
///
/// The MAD alone is robust only while objects cover well under half of the
/// values: on dense AO/PI fields (600 nuclei in 1600×1200) it measured 11
/// times the background's sigma, and every nucleus fell under the stain
/// threshold as debris.
///
/// ```
/// use cellvia::preprocess::{background_sigma, robust_sigma};
/// // Gaussian noise of sigma 1 (sums of 12 uniforms), and objects at 8 on
/// // 40 % of the values.
/// let mut state = 1u64;
/// let mut uniform = || {
///     state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
///     (state >> 40) as f32 / (1u64 << 24) as f32
/// };
/// let v: Vec<f32> = (0..10_000)
///     .map(|i| {
///         let noise = (0..12).map(|_| uniform()).sum::<f32>() - 6.0;
///         if i % 5 < 2 { 8.0 + noise } else { noise }
///     })
///     .collect();
/// assert!(robust_sigma(&v) > 2.5);
/// assert!((background_sigma(&v) - 1.0).abs() < 0.1, "{}", background_sigma(&v));
/// ```
pub fn background_sigma(values: &[f32]) -> f32 {
    sample_sigmas(values).1
}

/// The MAD sigma of [`background_sigma`]'s sample before clipping (that of
/// `values` themselves when the sample is all of them), and after.
fn sample_sigmas(values: &[f32]) -> (f32, f32) {
    let stride = values.len().div_ceil(BACKGROUND_SAMPLE_MAX).max(1);
    let mut sorted: Vec<f32> = values.iter().step_by(stride).copied().collect();
    if sorted.is_empty() {
        return (0.0, 0.0);
    }
    // Sorted once, every round's kept set is a range of it, and its median
    // and MAD are read off in O(log n): the same values as filtering and
    // selecting afresh each round (upper medians in `total_cmp` order),
    // which made an LDC field's preprocessing 2.4–3.1 ms of CPU instead of
    // 1.5–1.7 ms, and an AO/PI 2048×1536 field's 13–15 ms instead of 7–9.
    sort_total_order(&mut sorted);
    let (mut centre, mut mad) = median_and_mad(&sorted);
    let unclipped = MAD_TO_SIGMA * mad;
    let mut sigma = unclipped;
    let mut kept_before = sorted.len();
    for round in 0..MAX_CLIP_ROUNDS {
        let clip = clip_sigmas(round);
        // |v − centre| falls and then rises along the sorted values.
        let inside = |v: f32| (v - centre).abs() <= clip * sigma;
        let lo = sorted.partition_point(|&v| v < centre && !inside(v));
        let hi = lo + sorted[lo..].partition_point(|&v| v <= centre || inside(v));
        let kept = &sorted[lo..hi];
        if kept.is_empty() {
            break;
        }
        (centre, mad) = median_and_mad(kept);
        sigma = MAD_TO_SIGMA * mad / CLIPPED_MAD_FACTOR;
        if kept.len() == kept_before {
            break;
        }
        kept_before = kept.len();
    }
    (unclipped, sigma)
}

/// Floor for the noise sigma of the smoothed contrast: half an 8-bit step on a
/// mid-gray background. Noise-free synthetic images would otherwise give
/// infinite z-scores.
const MIN_NOISE_SIGMA: f32 = 0.004;

/// The brightfield noise sigma is the plain MAD of the smoothed contrast,
/// but at most this many times its sigma-clipped background noise
/// ([`background_sigma`]). Where dark cells cover a third of a field or
/// more, the MAD measures them as much as the noise (2.0 times the clipped
/// sigma in unseen synthetic field 17), and faint live cells fell under the
/// threshold. Held-out LDC fields reach at most 1.41, so the cap leaves
/// their thresholds as they were.
const MAX_MAD_TO_CLIPPED_SIGMA: f32 = 1.5;

/// The noise sigma of smoothed brightfield contrast values: their MAD,
/// capped at [`MAX_MAD_TO_CLIPPED_SIGMA`] times their sigma-clipped noise.
/// The MAD and not [`background_sigma`] itself: brightfield thresholds were
/// set in the MAD's units, and sigma-clipped units lowered them enough that
/// halos fused dense cells (dense synthetic F1 0.963 -> 0.952) and held-out
/// LDC lost a little (F1 0.907 -> 0.900).
pub(super) fn brightfield_noise_sigma(values: &[f32]) -> f32 {
    let (sample_mad_sigma, clipped) = sample_sigmas(values);
    // A sample of every value has their MAD already: no second pass.
    let mad_sigma = if values.len() <= BACKGROUND_SAMPLE_MAX {
        sample_mad_sigma
    } else {
        super::robust_sigma(values)
    };
    mad_sigma
        .min(MAX_MAD_TO_CLIPPED_SIGMA * clipped)
        .max(MIN_NOISE_SIGMA)
}

/// How many sigmas round `round` keeps.
fn clip_sigmas(round: usize) -> f32 {
    if round == 0 {
        FIRST_CLIP_SIGMAS
    } else {
        CLIP_SIGMAS
    }
}

/// The upper median of sorted, non-empty `values` and the upper median of
/// their absolute deviations from it, as [`super::robust_sigma`] takes
/// them: the deviations of the values below the median fall along the
/// slice and those of the rest rise, so the one of rank `len / 2` is found
/// by bisection between the two runs.
fn median_and_mad(sorted: &[f32]) -> (f32, f32) {
    let rank = sorted.len() / 2;
    let median = sorted[rank];
    let split = sorted.partition_point(|&v| v < median);
    let (below, rest) = sorted.split_at(split);
    let below_deviation = |i: usize| (below[below.len() - 1 - i] - median).abs();
    let rest_deviation = |j: usize| (rest[j] - median).abs();
    // Of the `rank + 1` smallest deviations, `i` come from below (nearest
    // first) and the others from the rest: `i` is the least count whose
    // next deviation from below is no smaller than the rest's last taken.
    let (mut lo, mut hi) = (
        (rank + 1).saturating_sub(rest.len()),
        (rank + 1).min(below.len()),
    );
    while lo < hi {
        let i = (lo + hi) / 2;
        let j = rank + 1 - i;
        if below_deviation(i) < rest_deviation(j - 1) {
            lo = i + 1;
        } else {
            hi = i;
        }
    }
    let i = lo;
    let j = rank + 1 - i;
    let last_below = (i > 0).then(|| below_deviation(i - 1));
    let last_rest = (j > 0).then(|| rest_deviation(j - 1));
    // Deviations are at least +0, and one of the two is taken.
    let mad = last_below.into_iter().chain(last_rest).fold(0.0, f32::max);
    (median, mad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::{median_of, robust_sigma};
    use proptest::prelude::*;

    /// Slow reference: each round filters the values and selects the
    /// median and MAD afresh.
    fn background_sigma_reference(values: &[f32]) -> f32 {
        let stride = values.len().div_ceil(BACKGROUND_SAMPLE_MAX).max(1);
        let sample: Vec<f32> = values.iter().step_by(stride).copied().collect();
        let (mut centre, mut sigma) = (median_of(&sample), robust_sigma(&sample));
        let mut kept_before = sample.len();
        for round in 0..MAX_CLIP_ROUNDS {
            let clip = clip_sigmas(round);
            let kept: Vec<f32> = sample
                .iter()
                .copied()
                .filter(|v| (v - centre).abs() <= clip * sigma)
                .collect();
            if kept.is_empty() {
                break;
            }
            centre = median_of(&kept);
            sigma = robust_sigma(&kept) / CLIPPED_MAD_FACTOR;
            if kept.len() == kept_before {
                break;
            }
            kept_before = kept.len();
        }
        sigma
    }

    proptest! {
        /// Bit for bit the reference, on noise with a share of objects at
        /// an offset, coarse values (many ties) and signed zeros.
        #[test]
        fn background_sigma_matches_reference(
            noise in proptest::collection::vec(-3.0f32..3.0, 1..6000),
            objects in 0usize..5,
            offset in -12.0f32..12.0,
            coarse in proptest::bool::ANY,
        ) {
            let values: Vec<f32> = noise
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let v = if coarse { (v * 2.0).round() * 0.5 } else { v };
                    if i % 5 < objects { v + offset } else { v }
                })
                .collect();
            prop_assert_eq!(
                background_sigma(&values).to_bits(),
                background_sigma_reference(&values).to_bits()
            );
        }

        /// The brightfield sigma is the values' own MAD capped by the
        /// clipped sigma, bit for bit, read from the sorted sample or not.
        #[test]
        fn brightfield_noise_sigma_is_the_capped_mad(
            noise in proptest::collection::vec(-0.03f32..0.03, 1..6000),
            objects in 0usize..5,
            offset in -0.2f32..0.2,
        ) {
            let values: Vec<f32> = noise
                .iter()
                .enumerate()
                .map(|(i, &v)| if i % 5 < objects { v + offset } else { v })
                .collect();
            let expected = robust_sigma(&values)
                .min(MAX_MAD_TO_CLIPPED_SIGMA * background_sigma_reference(&values))
                .max(MIN_NOISE_SIGMA);
            prop_assert_eq!(brightfield_noise_sigma(&values).to_bits(), expected.to_bits());
        }

        /// The median and MAD of a sorted slice are those selected afresh.
        #[test]
        fn median_and_mad_match_selection(
            mut values in proptest::collection::vec(
                proptest::prop_oneof![-2.0f32..2.0, Just(0.0f32), Just(-0.0f32), Just(1.0f32)],
                1..300,
            ),
        ) {
            values.sort_unstable_by(f32::total_cmp);
            let (median, mad) = median_and_mad(&values);
            prop_assert_eq!(median.to_bits(), median_of(&values).to_bits());
            prop_assert_eq!((MAD_TO_SIGMA * mad).to_bits(), robust_sigma(&values).to_bits());
        }
    }

    /// Dark cells on 40 % of a field must not raise the noise sigma (and
    /// with it every threshold) much above the noise's: their plain MAD is
    /// about 2.6 times it.
    #[test]
    fn crowded_dark_cells_do_not_inflate_the_noise_sigma() {
        let mut next = crate::preprocess::xorshift(7);
        let mut uniform = move || (next() >> 40) as f32 / (1u64 << 24) as f32;
        // Noise of sigma 0.01 (sums of 12 uniforms), cells at -0.08 on 40 %.
        let values: Vec<f32> = (0..20_000)
            .map(|i| {
                let noise = 0.01 * ((0..12).map(|_| uniform()).sum::<f32>() - 6.0);
                if i % 5 < 2 {
                    noise - 0.08
                } else {
                    noise
                }
            })
            .collect();
        assert!(robust_sigma(&values) > 0.025, "{}", robust_sigma(&values));
        let sigma = brightfield_noise_sigma(&values);
        assert!(sigma <= 0.016, "{sigma}");
        assert!(sigma >= 0.0095, "{sigma}");
    }

    #[test]
    fn an_empty_slice_has_no_noise() {
        assert_eq!(background_sigma(&[]), 0.0);
    }
}
