//! Is a calibrated cell size believable? A mistyped pixel size (55 for
//! 0.55 µm/px) turns every diameter and concentration silently wrong by the
//! same factor; the median cell diameter shows it.

/// Median cell diameters a counted suspension can have, µm: below any
/// nucleated mammalian cell (resting lymphocytes measure about 6–7 µm),
/// above any counted in suspension (mesenchymal stromal cells 15–30 µm,
/// hepatocytes up to about 50 µm).
pub const CELL_DIAMETER_UM: (f64, f64) = (4.0, 60.0);

/// The prefix of the warning; a spec makes such a sample INVALID.
pub const IMPLAUSIBLE: &str = "implausible cell size";

/// A warning when the median diameter of the cells in `histogram` (counts
/// per bin of `bin_um`, live and dead) lies outside [`CELL_DIAMETER_UM`].
///
/// ```
/// use cellvia::aggregate::plausibility::size_warning;
/// let mut live = vec![0; 20];
/// live[6] = 10; // 12–14 µm
/// assert!(size_warning(&[live.clone(), vec![]], 2.0).is_none());
/// assert!(size_warning(&[vec![0, 9], vec![]], 2.0).unwrap().contains("3.0 µm")); // 2–4 µm
/// ```
pub fn size_warning(histogram: &[Vec<u32>; 2], bin_um: f64) -> Option<String> {
    let bins = histogram[0].len().max(histogram[1].len());
    let count = |i: usize| -> u64 {
        histogram
            .iter()
            .map(|h| u64::from(h.get(i).copied().unwrap_or(0)))
            .sum()
    };
    let total: u64 = (0..bins).map(count).sum();
    if total == 0 {
        return None;
    }
    let mut seen = 0;
    let median_bin = (0..bins).find(|&i| {
        seen += count(i);
        2 * seen >= total
    })?;
    let median = (median_bin as f64 + 0.5) * bin_um;
    let (lo, hi) = CELL_DIAMETER_UM;
    (median < lo || median > hi).then(|| {
        format!(
            "{IMPLAUSIBLE}: median cell diameter {median:.1} µm is outside {lo}–{hi} µm; check pixel_size_um (--pixel-size)"
        )
    })
}
