//! Counting-chamber rulings: a grid line crosses the whole field, so its
//! column or row has a median contrast far from 0.

use super::statistics::median_in_place;
use crate::image_types::FloatImage;

/// A column or row whose median Weber contrast exceeds this is a ruling. Cell
/// contrast is ±0.2–0.6 but cells cover a small part of a column; noise moves
/// a median of hundreds of pixels by well under 0.01.
const RULING_MIN_MEDIAN_CONTRAST: f32 = 0.05;

/// Columns and rows found to be chamber rulings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulingBands {
    pub columns: Vec<bool>,
    pub rows: Vec<bool>,
}

impl RulingBands {
    /// Whether pixel (x, y) lies in a ruling band.
    pub fn contains(&self, x: usize, y: usize) -> bool {
        self.columns.get(x).copied().unwrap_or(false) || self.rows.get(y).copied().unwrap_or(false)
    }
}

/// Subtracts the median-contrast profile of columns and rows that are
/// rulings (see the module documentation); returns where they are.
///
/// ```
/// use cellvia::image_types::FloatImage;
/// // A dark vertical ruling at x = 10..13 with a bright cell on it.
/// let mut c = FloatImage::from_fn(40, 60, |x, y| {
///     let ruling = if (10..13).contains(&x) { -0.4 } else { 0.0 };
///     let cell = if (20..26).contains(&y) && (9..15).contains(&x) { 0.3 } else { 0.0 };
///     image::Luma([ruling + cell])
/// });
/// let bands = cellvia::preprocess::remove_rulings(&mut c);
/// assert!(bands.contains(11, 0) && !bands.contains(30, 0));
/// assert!(c.get_pixel(11, 40).0[0].abs() < 1e-6); // ruling gone
/// assert!((c.get_pixel(11, 22).0[0] - 0.3).abs() < 1e-6); // cell kept
/// ```
pub fn remove_rulings(contrast: &mut FloatImage) -> RulingBands {
    subtract_ruling_profiles(contrast).0
}

/// [`remove_rulings`], also returning the profiles it subtracted (`None`
/// where nothing was subtracted), so the contrast can be recomputed later.
pub(super) fn subtract_ruling_profiles(
    contrast: &mut FloatImage,
) -> (RulingBands, Option<RulingProfiles>) {
    let Some(profiles) = ruling_profiles(contrast) else {
        return (RulingBands::default(), None);
    };
    let (columns, rows) = (&profiles.columns, &profiles.rows);
    let bands = RulingBands {
        columns: columns.iter().map(|&p| p != 0.0).collect(),
        rows: rows.iter().map(|&p| p != 0.0).collect(),
    };
    if !bands.columns.iter().chain(&bands.rows).any(|&b| b) {
        return (bands, None);
    }
    for (row, &r) in contrast.as_mut().chunks_exact_mut(columns.len()).zip(rows) {
        profiles.subtract_from_row(row, 0, r);
    }
    (bands, Some(profiles))
}

/// The median contrast of each column and row where it marks a ruling, 0
/// elsewhere.
#[derive(Debug, Clone)]
pub(super) struct RulingProfiles {
    pub columns: Vec<f32>,
    pub rows: Vec<f32>,
}

impl RulingProfiles {
    /// Subtracts the profiles from `row` (columns `x0..` of a row whose
    /// own profile value is `r`).
    pub(super) fn subtract_from_row(&self, row: &mut [f32], x0: usize, r: f32) {
        for (v, &c) in row.iter_mut().zip(&self.columns[x0..]) {
            *v -= c + r;
        }
    }
}

/// The [`RulingProfiles`] of a contrast image; `None` under 3×3 pixels.
///
/// Only columns and rows at or next to a ruling need their median: one
/// counting pass finds the lines whose median lies beyond
/// ±[`RULING_MIN_MEDIAN_CONTRAST`] (the element `len / 2` of a sorted line
/// exceeds `t` exactly when at least `len - len / 2` values do), and only
/// those and their neighbours are sorted. A median of every column and row
/// was 9 % of a 2048×1536 field's CPU time.
pub(super) fn ruling_profiles(contrast: &FloatImage) -> Option<RulingProfiles> {
    let (w, h) = (contrast.width() as usize, contrast.height() as usize);
    if w < 3 || h < 3 {
        return None;
    }
    let data = contrast.as_raw();
    let t = RULING_MIN_MEDIAN_CONTRAST;
    let (mut col_above, mut col_below) = (vec![0u32; w], vec![0u32; w]);
    let (mut row_above, mut row_below) = (vec![0u32; h], vec![0u32; h]);
    for (y, row) in data.chunks_exact(w).enumerate() {
        for ((&v, above), below) in row.iter().zip(&mut col_above).zip(&mut col_below) {
            *above += u32::from(v > t);
            *below += u32::from(v < -t);
        }
        row_above[y] = row.iter().map(|&v| u32::from(v > t)).sum();
        row_below[y] = row.iter().map(|&v| u32::from(v < -t)).sum();
    }
    // Median beyond ±t: the upper half all above t, or the lower half and
    // the median all below -t.
    let beyond = |above: &[u32], below: &[u32], len: usize| -> Vec<bool> {
        let (n, k) = (len as u32, (len / 2) as u32);
        above
            .iter()
            .zip(below)
            .map(|(&a, &b)| a >= n - k || b > k)
            .collect()
    };
    let columns = ruling_profile(&beyond(&col_above, &col_below, h), |x| {
        median_in_place(&mut data.iter().skip(x).step_by(w).copied().collect::<Vec<_>>())
    });
    let rows = ruling_profile(&beyond(&row_above, &row_below, w), |y| {
        median_in_place(&mut data[y * w..(y + 1) * w].to_vec())
    });
    Some(RulingProfiles { columns, rows })
}

/// The median of each line (from `median_of`) where it or a neighbour is a
/// ruling (`on`), 0 elsewhere: ruling positions widened by one pixel, whose
/// soft edges fall under the threshold.
fn ruling_profile(on: &[bool], median_of: impl Fn(usize) -> f32) -> Vec<f32> {
    (0..on.len())
        .map(|i| {
            let near = on[i.saturating_sub(1)..=(i + 1).min(on.len() - 1)]
                .iter()
                .any(|&b| b);
            if near {
                median_of(i)
            } else {
                0.0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slow reference: the median of every column and row, thresholded.
    fn reference(contrast: &FloatImage) -> (Vec<f32>, Vec<f32>) {
        let (w, h) = (contrast.width() as usize, contrast.height() as usize);
        let data = contrast.as_raw();
        let median = |mut v: Vec<f32>| {
            v.sort_by(f32::total_cmp);
            v[v.len() / 2]
        };
        let columns: Vec<f32> = (0..w)
            .map(|x| median((0..h).map(|y| data[y * w + x]).collect()))
            .collect();
        let rows: Vec<f32> = (0..h)
            .map(|y| median(data[y * w..(y + 1) * w].to_vec()))
            .collect();
        let widen = |p: &[f32]| -> Vec<f32> {
            (0..p.len())
                .map(|i| {
                    let lo = i.saturating_sub(1);
                    let hi = (i + 1).min(p.len() - 1);
                    if p[lo..=hi]
                        .iter()
                        .any(|v| v.abs() > RULING_MIN_MEDIAN_CONTRAST)
                    {
                        p[i]
                    } else {
                        0.0
                    }
                })
                .collect()
        };
        (widen(&columns), widen(&rows))
    }

    proptest::proptest! {
        /// Counting first and sorting only near rulings gives every median a
        /// full sort gives, on fields with and without rulings.
        #[test]
        fn profiles_match_a_median_of_every_line(
            w in 3u32..40,
            h in 3u32..40,
            values in proptest::collection::vec(
                proptest::prop_oneof![-0.2f32..0.2, -0.06f32..-0.04, 0.04f32..0.06, proptest::strategy::Just(0.05f32)],
                1600,
            ),
            ruling_x in 0u32..40,
            ruling_y in 0u32..40,
        ) {
            let c = FloatImage::from_fn(w, h, |x, y| {
                let ruling = if x == ruling_x || y == ruling_y { -0.3 } else { 0.0 };
                image::Luma([values[(y * 40 + x) as usize] + ruling])
            });
            let fast = ruling_profiles(&c).unwrap();
            let (columns, rows) = reference(&c);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            proptest::prop_assert_eq!(bits(&fast.columns), bits(&columns));
            proptest::prop_assert_eq!(bits(&fast.rows), bits(&rows));
        }
    }
}
