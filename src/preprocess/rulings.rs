//! Counting-chamber rulings: a grid line crosses the whole field, so its
//! column or row has a median contrast far from 0, and differs from the
//! columns or rows beside it all along.

use super::statistics::median_in_place;
use crate::image_types::FloatImage;

/// A column or row whose median Weber contrast exceeds this is a ruling
/// (if it also stands out from the lines beside it). Cell contrast is
/// ±0.2–0.6 but cells cover a small part of a column; noise moves a median
/// of hundreds of pixels by well under 0.01.
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
    let column = |x: usize| data.iter().skip(x).step_by(w).copied().collect::<Vec<_>>();
    let row = |y: usize| data[y * w..(y + 1) * w].to_vec();
    let mut on_columns = beyond(&col_above, &col_below, h);
    let mut on_rows = beyond(&row_above, &row_below, w);
    keep_bands_that_stand_out(&mut on_columns, column);
    keep_bands_that_stand_out(&mut on_rows, row);
    let columns = ruling_profile(&on_columns, |x| median_in_place(&mut column(x)));
    let rows = ruling_profile(&on_rows, |y| median_in_place(&mut row(y)));
    Some(RulingProfiles { columns, rows })
}

/// Unflags each band of lines in `on` (flagged lines, with gaps of up to
/// [`MIN_BAND_GAP`] lines inside, so the parts of a triple ruling form one
/// band) none of whose lines differs, by a median beyond
/// ±[`MIN_DIFFERENCE_FROM_BESIDE`] pixel for pixel, from the lines a
/// quarter of the band's width (at least [`MIN_BAND_GAP`]) beyond it on
/// both sides (one side at the field's edge). A ruling is a line on the
/// background, so the lines beside it differ from it along its whole
/// length. Large dark cells crowded across a field also give lines a
/// median beyond the threshold (dead cells of 100–170 px covering more
/// than half of a 768 px row), but a line just beside such a band runs
/// through the same cells; subtracting their profile cut every cell on
/// them in pieces. A band spanning the field, with no line beside it, is
/// kept.
fn keep_bands_that_stand_out(on: &mut [bool], line: impl Fn(usize) -> Vec<f32>) {
    let n = on.len();
    let mut start = 0;
    while start < n {
        if !on[start] {
            start += 1;
            continue;
        }
        // One past the band's last flagged line.
        let mut end = start + 1;
        while let Some(next) = (end..(end + MIN_BAND_GAP + 1).min(n)).find(|&i| on[i]) {
            end = next + 1;
        }
        let gap = ((end - start) / 4).max(MIN_BAND_GAP);
        let beside: Vec<Vec<f32>> = [start.checked_sub(gap + 1), Some(end + gap)]
            .into_iter()
            .flatten()
            .filter(|&i| i < n)
            .map(&line)
            .collect();
        let stands_out = |i: usize| {
            let centre = line(i);
            beside.iter().all(|other| {
                let mut difference: Vec<f32> =
                    centre.iter().zip(other).map(|(a, b)| a - b).collect();
                median_in_place(&mut difference).abs() > MIN_DIFFERENCE_FROM_BESIDE
            })
        };
        if !beside.is_empty() && !(start..end).filter(|&i| on[i]).any(stands_out) {
            on[start..end].fill(false);
        }
        start = end;
    }
}

/// How far, in median contrast, a ruling's line differs from the lines
/// beside its band at the least: half of [`RULING_MIN_MEDIAN_CONTRAST`],
/// as a faint ruling's own median is barely past that and the background
/// beside it need not be exactly 0.
const MIN_DIFFERENCE_FROM_BESIDE: f32 = 0.5 * RULING_MIN_MEDIAN_CONTRAST;

/// In [`keep_bands_that_stand_out`], the fewest lines between a band and
/// a line it is compared with (past a ruling's soft edge), and the most
/// unflagged lines inside one band.
const MIN_BAND_GAP: usize = 2;

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

    /// Slow reference: the median of every column and row, thresholded;
    /// bands kept where a line's sorted difference from each line beside
    /// the band has a median beyond half the threshold; widened by a line.
    fn reference(contrast: &FloatImage) -> (Vec<f32>, Vec<f32>) {
        let (w, h) = (contrast.width() as usize, contrast.height() as usize);
        let data = contrast.as_raw();
        let median = |mut v: Vec<f32>| {
            v.sort_by(f32::total_cmp);
            v[v.len() / 2]
        };
        let columns: Vec<Vec<f32>> = (0..w)
            .map(|x| (0..h).map(|y| data[y * w + x]).collect())
            .collect();
        let rows: Vec<Vec<f32>> = (0..h).map(|y| data[y * w..(y + 1) * w].to_vec()).collect();
        let profile = |lines: &[Vec<f32>]| -> Vec<f32> {
            let n = lines.len();
            let p: Vec<f32> = lines.iter().map(|l| median(l.clone())).collect();
            let flagged: Vec<usize> = (0..n)
                .filter(|&i| p[i].abs() > RULING_MIN_MEDIAN_CONTRAST)
                .collect();
            // Bands: flagged lines at most MIN_BAND_GAP unflagged lines apart.
            let mut bands: Vec<Vec<usize>> = Vec::new();
            for &i in &flagged {
                match bands.last_mut() {
                    Some(band) if i - band[band.len() - 1] <= MIN_BAND_GAP + 1 => band.push(i),
                    _ => bands.push(vec![i]),
                }
            }
            let mut ruling = vec![false; n];
            for band in &bands {
                let (first, last) = (band[0], band[band.len() - 1]);
                let gap = ((last + 1 - first) / 4).max(MIN_BAND_GAP);
                let beside: Vec<usize> = [first as i64 - gap as i64 - 1, (last + 1 + gap) as i64]
                    .into_iter()
                    .filter(|&b| b >= 0 && (b as usize) < n)
                    .map(|b| b as usize)
                    .collect();
                let stands_out = band.iter().any(|&i| {
                    beside.iter().all(|&b| {
                        let d = lines[i].iter().zip(&lines[b]).map(|(x, y)| x - y).collect();
                        median(d).abs() > MIN_DIFFERENCE_FROM_BESIDE
                    })
                });
                if beside.is_empty() || stands_out {
                    band.iter().for_each(|&i| ruling[i] = true);
                }
            }
            (0..n)
                .map(|i| {
                    let near = ruling[i.saturating_sub(1)..=(i + 1).min(n - 1)]
                        .iter()
                        .any(|&r| r);
                    if near {
                        p[i]
                    } else {
                        0.0
                    }
                })
                .collect()
        };
        (profile(&columns), profile(&rows))
    }

    #[test]
    fn rows_crossing_crowded_large_cells_are_not_rulings() {
        // Three flat dark discs of radius 24 cover 60 % of the rows through
        // their centres (median contrast -0.3 there); a 3 px ruling crosses
        // the field between two of them.
        let disc =
            |x: u32, y: u32, cx: f32| (x as f32 - cx).powi(2) + (y as f32 - 60.0).powi(2) < 576.0;
        let mut c = FloatImage::from_fn(240, 120, |x, y| {
            let cell = [40.0, 120.0, 200.0].into_iter().any(|cx| disc(x, y, cx));
            image::Luma([if cell || (80..83).contains(&x) {
                -0.3
            } else {
                0.0
            }])
        });
        let before = c.clone();
        let bands = remove_rulings(&mut c);
        assert!(
            bands.rows.iter().all(|&r| !r),
            "rows through the discs taken for a ruling"
        );
        assert_eq!(
            (0..240).filter(|&x| bands.columns[x]).collect::<Vec<_>>(),
            vec![80, 81, 82]
        );
        assert!(c.get_pixel(81, 10).0[0].abs() < 1e-6); // ruling gone
        assert_eq!(c.get_pixel(40, 60), before.get_pixel(40, 60)); // disc whole
        assert_eq!(c.get_pixel(120, 50), before.get_pixel(120, 50));
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
