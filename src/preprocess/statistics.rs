//! Robust statistics of pixel values: medians and the MAD noise sigma.

/// The standard deviation of Gaussian noise per unit of its median absolute
/// deviation (1 / Φ⁻¹(3/4)).
pub(super) const MAD_TO_SIGMA: f32 = 1.4826;

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
    MAD_TO_SIGMA * mad
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

/// The value whose [`key`] is `k`.
fn from_key(k: u32) -> f32 {
    let bits = (k ^ 0x8000_0000) as i32;
    f32::from_bits((bits ^ ((((bits >> 31) as u32) >> 1) as i32)) as u32)
}

/// `values` in `f32::total_cmp` order: their [`key`]s sorted by a
/// least-significant-digit radix sort, 11 bits a pass. Sorting the floats
/// with `total_cmp` as the comparison took 1.3 ms of an LDC field's 49,000
/// values (a quarter of its CPU time under perf), the standard sort of the
/// keys about 0.6 ms.
pub(super) fn sort_total_order(values: &mut [f32]) {
    const BITS: u32 = 11;
    const BUCKETS: usize = 1 << BITS;
    let mut keys: Vec<u32> = values.iter().map(|&v| key(v)).collect();
    let mut scratch = vec![0u32; keys.len()];
    let mut counts = vec![0usize; BUCKETS];
    for shift in (0..32).step_by(BITS as usize) {
        let digit = |k: u32| ((k >> shift) as usize) & (BUCKETS - 1);
        counts.fill(0);
        for &k in &keys {
            counts[digit(k)] += 1;
        }
        let mut start = 0;
        for c in counts.iter_mut() {
            (*c, start) = (start, start + *c);
        }
        for &k in &keys {
            let d = digit(k);
            scratch[counts[d]] = k;
            counts[d] += 1;
        }
        std::mem::swap(&mut keys, &mut scratch);
    }
    for (v, &k) in values.iter_mut().zip(&keys) {
        *v = from_key(k);
    }
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
        /// The radix sort orders like `total_cmp`, bit for bit: signed
        /// zeros, infinities, NaNs and subnormals included.
        #[test]
        fn radix_sort_orders_like_total_cmp(
            mut values in proptest::collection::vec(proptest::num::f32::ANY, 0..3000),
        ) {
            let mut expected = values.clone();
            expected.sort_by(f32::total_cmp);
            sort_total_order(&mut values);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            proptest::prop_assert_eq!(bits(&values), bits(&expected));
        }

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
