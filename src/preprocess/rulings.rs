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
    let Some(profiles) = ruling_profiles(contrast) else {
        return RulingBands::default();
    };
    let (columns, rows) = (&profiles.columns, &profiles.rows);
    let bands = RulingBands {
        columns: columns.iter().map(|&p| p != 0.0).collect(),
        rows: rows.iter().map(|&p| p != 0.0).collect(),
    };
    if bands.columns.iter().chain(&bands.rows).any(|&b| b) {
        let w = columns.len();
        for (i, v) in contrast.as_mut().iter_mut().enumerate() {
            *v -= columns[i % w] + rows[i / w];
        }
    }
    bands
}

/// The median contrast of each column and row where it marks a ruling, 0
/// elsewhere.
pub(super) struct RulingProfiles {
    pub columns: Vec<f32>,
    pub rows: Vec<f32>,
}

/// The [`RulingProfiles`] of a contrast image; `None` under 3×3 pixels.
pub(super) fn ruling_profiles(contrast: &FloatImage) -> Option<RulingProfiles> {
    let (w, h) = (contrast.width() as usize, contrast.height() as usize);
    if w < 3 || h < 3 {
        return None;
    }
    let data = contrast.as_raw();
    let columns: Vec<f32> = transpose(data, w, h)
        .chunks_exact_mut(h)
        .map(median_in_place)
        .collect();
    let rows: Vec<f32> = (0..h)
        .map(|y| median_in_place(&mut data[y * w..(y + 1) * w].to_vec()))
        .collect();
    // Ruling positions widened by one pixel, whose soft edges fall under the threshold.
    let ruling_profile = |profile: &[f32]| -> Vec<f32> {
        let on: Vec<bool> = profile
            .iter()
            .map(|p| p.abs() > RULING_MIN_MEDIAN_CONTRAST)
            .collect();
        (0..profile.len())
            .map(|i| {
                let near = on[i.saturating_sub(1)..=(i + 1).min(profile.len() - 1)]
                    .iter()
                    .any(|&b| b);
                if near {
                    profile[i]
                } else {
                    0.0
                }
            })
            .collect()
    };
    Some(RulingProfiles {
        columns: ruling_profile(&columns),
        rows: ruling_profile(&rows),
    })
}

/// `data` (`w`×`h`, row-major) column-major, copied in tiles that stay in cache.
fn transpose(data: &[f32], w: usize, h: usize) -> Vec<f32> {
    const TILE: usize = 32;
    let mut out = vec![0.0f32; data.len()];
    for y0 in (0..h).step_by(TILE) {
        for x0 in (0..w).step_by(TILE) {
            for y in y0..(y0 + TILE).min(h) {
                for x in x0..(x0 + TILE).min(w) {
                    out[x * h + y] = data[y * w + x];
                }
            }
        }
    }
    out
}
