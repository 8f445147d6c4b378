//! Robust statistics of pixel values: medians and the MAD noise sigma.

/// 1.4826 × the median absolute deviation from the median: the standard
/// deviation of Gaussian noise, unmoved by the few pixels that are cells.
///
/// ```
/// // Median 3; absolute deviations 2, 1, 0, 1, 97 have median 1.
/// let v = [1.0f32, 2.0, 3.0, 4.0, 100.0];
/// assert!((cellvia::preprocess::robust_sigma(&v) - 1.4826).abs() < 1e-4);
/// ```
pub fn robust_sigma(values: &[f32]) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let median = median_of(values);
    let deviation = |x: f32| (x - median).abs();
    // Long slices: the deviations' median from a bracket, computed on the
    // fly, so no copy of an image's worth of deviations is made.
    let mad = (values.len() >= RADIX_SELECT_MIN_LEN)
        .then(|| bracketed_median_of(values, deviation))
        .flatten()
        .unwrap_or_else(|| {
            let mut deviations: Vec<f32> = values.iter().map(|&x| deviation(x)).collect();
            median_in_place(&mut deviations)
        });
    1.4826 * mad
}

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

/// The noise sigma of the background under a field's objects: [`robust_sigma`],
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
    let stride = values.len().div_ceil(BACKGROUND_SAMPLE_MAX).max(1);
    let sample: Vec<f32> = values.iter().step_by(stride).copied().collect();
    let (mut centre, mut sigma) = (median_of(&sample), robust_sigma(&sample));
    let mut kept_before = sample.len();
    for round in 0..MAX_CLIP_ROUNDS {
        let clip = if round == 0 {
            FIRST_CLIP_SIGMAS
        } else {
            CLIP_SIGMAS
        };
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

/// Slices at least this long take the median from a bracket found on a
/// sample ([`bracketed_median`]), or failing that by histograms of the
/// values' leading key bits (12 bits, then the next 12 within the median's
/// bin), and select only among the few values left.
const RADIX_SELECT_MIN_LEN: usize = 4096;

/// Every how many values one enters the sample that brackets the median.
const SAMPLE_STRIDE: usize = 16;

/// Values per block of [`Bracket::split`]: one bit each in a `u32`.
const BRACKET_BLOCK: usize = 32;

/// The upper median (element `len / 2` in `f32::total_cmp` order), possibly
/// reordering `values`; 0 for an empty slice.
pub(crate) fn median_in_place(values: &mut [f32]) -> f32 {
    if values.len() < RADIX_SELECT_MIN_LEN {
        return select_median(values);
    }
    bracketed_median(values).unwrap_or_else(|| radix_median(values))
}

/// The upper median of `values` (as [`median_in_place`]) without reordering
/// them: long slices are only read, so no copy of an image is needed.
pub(crate) fn median_of(values: &[f32]) -> f32 {
    if values.len() < RADIX_SELECT_MIN_LEN {
        return select_median(&mut values.to_vec());
    }
    bracketed_median(values).unwrap_or_else(|| radix_median(values))
}

fn select_median(values: &mut [f32]) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let mid = values.len() / 2;
    *values.select_nth_unstable_by(mid, f32::total_cmp).1
}

/// An unsigned key in `total_cmp` order (the same bit trick `total_cmp` uses).
fn key(v: f32) -> u32 {
    let bits = v.to_bits() as i32;
    (bits ^ ((((bits >> 31) as u32) >> 1) as i32)) as u32 ^ 0x8000_0000
}

/// The upper median in one pass over the values (Floyd and Rivest's
/// idea): order statistics of a strided sample bracket the median's rank
/// with a margin of 2√m sample ranks (about 4 standard errors; 4√m kept
/// 15 % of an LDC field's values, to be selected among); the pass counts
/// the values below the bracket and keeps those inside it, and the median
/// is selected among those. `None` when the bracket missed (skewed or
/// adversarial orderings), for the caller to fall back on
/// [`radix_median`]. Three passes of the histogram method were 11 % of a
/// field's CPU time.
fn bracketed_median(values: &[f32]) -> Option<f32> {
    bracketed_median_of(values, |v| v)
}

/// [`bracketed_median`] of `values` mapped through `f`, without storing the
/// mapped values.
fn bracketed_median_of(values: &[f32], f: impl Fn(f32) -> f32) -> Option<f32> {
    let rank = values.len() / 2;
    let mut sample: Vec<u32> = values
        .iter()
        .step_by(SAMPLE_STRIDE)
        .map(|&v| key(f(v)))
        .collect();
    let m = sample.len();
    let centre = rank * m / values.len();
    let margin = 2 * (m as f64).sqrt() as usize + 8;
    let lo = *sample.select_nth_unstable(centre.saturating_sub(margin)).1;
    let hi = *sample.select_nth_unstable((centre + margin).min(m - 1)).1;
    // About 2 margin / m of the values fall inside the bracket (8 % of an
    // LDC field's, 1 % of a 2048×1536 field's).
    let bracket = Bracket {
        lo,
        span: hi - lo,
        expected_inside: 4 * margin * SAMPLE_STRIDE,
    };
    let (below, mut inside) = bracket.split(values, f);
    let within = rank.checked_sub(below).filter(|&r| r < inside.len())?;
    Some(*inside.select_nth_unstable_by(within, f32::total_cmp).1)
}

/// Keys `lo..=lo + span` bracket the median; `expected_inside` sizes the
/// vector of values found inside.
struct Bracket {
    lo: u32,
    span: u32,
    expected_inside: usize,
}

impl Bracket {
    fn holds(&self, k: u32) -> bool {
        k.wrapping_sub(self.lo) <= self.span
    }

    /// How many mapped values lie below the bracket, and those inside it
    /// (in their order). A block at a time, in a loop without branches: the
    /// count below, and a bit mask of the values inside, whose set bits are
    /// then read. Below or above is a coin toss near the median, and inside
    /// 1–8 % of the values: a branch per value for either mispredicted
    /// (the value-by-value pass was 12 % of an LDC field's CPU), and
    /// re-reading every block holding one lost on LDC, where most do.
    fn split(&self, values: &[f32], f: impl Fn(f32) -> f32) -> (usize, Vec<f32>) {
        let mut below = 0usize;
        let mut inside = Vec::with_capacity(self.expected_inside);
        let mut blocks = values.chunks_exact(BRACKET_BLOCK);
        for block in &mut blocks {
            below += self.split_block(block, &f, &mut inside);
        }
        below += self.split_block(blocks.remainder(), &f, &mut inside);
        (below, inside)
    }

    /// [`Self::split`] of at most [`BRACKET_BLOCK`] values: the count below,
    /// and those inside appended to `inside`.
    fn split_block(&self, block: &[f32], f: &impl Fn(f32) -> f32, inside: &mut Vec<f32>) -> usize {
        let mut below = 0u32;
        let mut hits = 0u32;
        for (i, &v) in block.iter().enumerate() {
            let k = key(f(v));
            below += u32::from(k < self.lo);
            hits |= u32::from(self.holds(k)) << i;
        }
        while hits != 0 {
            inside.push(f(block[hits.trailing_zeros() as usize]));
            hits &= hits - 1;
        }
        below as usize
    }
}

/// The upper median by two 12-bit histogram passes over the key bits and a
/// selection among the values sharing the median's 24 leading bits.
fn radix_median(values: &[f32]) -> f32 {
    let mut rank = values.len() / 2;
    // The first pass counts into two histograms, even and odd positions:
    // neighbouring pixels fall in one bin, and one histogram makes every
    // increment wait for the previous one's store.
    let mut hist = vec![0usize; 1 << 12];
    let mut odd = vec![0usize; 1 << 12];
    let mut pairs = values.chunks_exact(2);
    for pair in &mut pairs {
        hist[(key(pair[0]) >> 20) as usize] += 1;
        odd[(key(pair[1]) >> 20) as usize] += 1;
    }
    for &v in pairs.remainder() {
        hist[(key(v) >> 20) as usize] += 1;
    }
    for (h, o) in hist.iter_mut().zip(&odd) {
        *h += o;
    }
    let mut prefix = take_rank(&hist, &mut rank) as u32; // the median's leading 12 bits
    hist.fill(0);
    for &v in values {
        let k = key(v);
        if k >> 20 == prefix {
            hist[((k >> 8) & 0xFFF) as usize] += 1;
        }
    }
    prefix = (prefix << 12) | take_rank(&hist, &mut rank) as u32;
    let mut left: Vec<f32> = values
        .iter()
        .copied()
        .filter(|&v| key(v) >> 8 == prefix)
        .collect();
    *left.select_nth_unstable_by(rank, f32::total_cmp).1
}

/// The bin holding the element of rank `rank` (0-based), leaving in `rank`
/// its rank within that bin.
fn take_rank(hist: &[usize], rank: &mut usize) -> usize {
    let mut bin = 0;
    while *rank >= hist[bin] {
        *rank -= hist[bin];
        bin += 1;
    }
    bin
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted_median(values: &[f32]) -> f32 {
        let mut sorted = values.to_vec();
        sorted.sort_by(f32::total_cmp);
        sorted[sorted.len() / 2]
    }

    #[test]
    fn a_sample_that_misses_the_median_falls_back_to_histograms() {
        // Every 16th value is 0, the rest large: the sample sees only zeros.
        let values: Vec<f32> = (0..8000)
            .map(|i| {
                if i % SAMPLE_STRIDE == 0 {
                    0.0
                } else {
                    1.0 + i as f32
                }
            })
            .collect();
        assert_eq!(bracketed_median(&values), None);
        assert_eq!(radix_median(&values), sorted_median(&values));
        assert_eq!(median_of(&values), sorted_median(&values));
    }

    proptest::proptest! {
        /// The MAD sigma, long slices included, is that of sorted copies.
        #[test]
        fn robust_sigma_matches_sorting(
            values in proptest::collection::vec(-3.0f32..3.0, 1..9000),
        ) {
            let median = sorted_median(&values);
            let deviations: Vec<f32> = values.iter().map(|x| (x - median).abs()).collect();
            let expected = 1.4826 * sorted_median(&deviations);
            proptest::prop_assert_eq!(robust_sigma(&values).to_bits(), expected.to_bits());
        }

        /// Both long-slice methods agree with a full sort, ties included.
        #[test]
        fn both_methods_match_sorting(
            values in proptest::collection::vec(
                proptest::prop_oneof![0.3f32..0.31, -1.0f32..1.0, proptest::strategy::Just(0.5f32)],
                4096..9000,
            ),
        ) {
            let expected = sorted_median(&values).to_bits();
            proptest::prop_assert_eq!(radix_median(&values).to_bits(), expected);
            if let Some(m) = bracketed_median(&values) {
                proptest::prop_assert_eq!(m.to_bits(), expected);
            }
        }
    }
}
