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
    let mut v = values.to_vec();
    let median = median_in_place(&mut v);
    v.iter_mut().for_each(|x| *x = (*x - median).abs());
    1.4826 * median_in_place(&mut v)
}

/// Slices at least this long take the median by histograms of the values'
/// leading key bits (12 bits, then the next 12 within the median's bin),
/// and select only among the few values left.
const RADIX_SELECT_MIN_LEN: usize = 4096;

/// The upper median (element `len / 2` in `f32::total_cmp` order), possibly
/// reordering `values`; 0 for an empty slice.
pub(crate) fn median_in_place(values: &mut [f32]) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let mid = values.len() / 2;
    if values.len() < RADIX_SELECT_MIN_LEN {
        return *values.select_nth_unstable_by(mid, f32::total_cmp).1;
    }
    // An unsigned key in total_cmp order (the same bit trick total_cmp uses).
    let key = |v: f32| {
        let bits = v.to_bits() as i32;
        (bits ^ ((((bits >> 31) as u32) >> 1) as i32)) as u32 ^ 0x8000_0000
    };
    let mut rank = mid;
    let mut prefix = 0u32; // key bits above `shift` shared by the candidates
    let mut hist = vec![0usize; 1 << 12];
    for shift in [20u32, 8] {
        hist.fill(0);
        let above = shift + 12;
        for &v in values.iter() {
            let k = key(v);
            if above >= 32 || k >> above == prefix {
                hist[((k >> shift) & 0xFFF) as usize] += 1;
            }
        }
        let mut bin = 0;
        while rank >= hist[bin] {
            rank -= hist[bin];
            bin += 1;
        }
        prefix = (prefix << 12) | bin as u32;
    }
    let mut left: Vec<f32> = values
        .iter()
        .copied()
        .filter(|&v| key(v) >> 8 == prefix)
        .collect();
    *left.select_nth_unstable_by(rank, f32::total_cmp).1
}
