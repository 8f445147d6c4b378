//! The spacing of a counting chamber's rulings in one field, pixels.
//!
//! Rulings are found as in [`super::rulings`]: columns (rows) whose median
//! Weber contrast marks a line crossing the whole field. Runs of such
//! columns are cut to their cores, where they exceed half their peak (dense
//! cells can lift the columns between two rulings); cores closer together
//! than twice the wider one's width, and alike in contrast, are the lines
//! of one triple ruling and count as one. A ruling's centre is the mean
//! position of its columns above half its peak, weighted by their contrast
//! (sub-pixel); its weight is that contrast summed. Rulings cut by the
//! field's edge are left out.
//!
//! The centres along each axis are then fitted to an evenly spaced lattice
//! ([`super::lattice`]); x and y must agree.

use super::lattice::{lattice, Ruling, LIKE};
use super::rulings::ruling_profiles;
use super::{block_median_background, MIN_BACKGROUND};
use crate::image_types::FloatImage;

/// Lines this many of their widths apart or closer are one triple ruling:
/// a triple ruling's lines are about as far apart as they are wide, while
/// even the finest pitch (50 µm) is many ruling widths.
const TRIPLE_GAP_WIDTHS: usize = 2;

/// Rulings along x and y are the same lattice (square pixels, square
/// rulings): spacings differing by more than this are not a grid.
const AXIS_AGREEMENT: f64 = 0.02;

/// The background is the median of blocks this fraction of the field's
/// shorter side: a ruling (a few per cent of a block) cannot move it, and
/// it still follows vignetting.
const BACKGROUND_BLOCK_FRACTION: u32 = 8;

/// Smallest background block, pixels.
const MIN_BACKGROUND_BLOCK_PX: u32 = 16;

/// The spacing between ruling centres of a brightfield field (0..=1
/// intensities), pixels, sub-pixel: see the module documentation. `None`
/// when neither axis shows at least three rulings on a regular lattice, or
/// when x and y disagree by more than 2 %.
///
/// ```
/// use cellvia::image_types::FloatImage;
/// use cellvia::preprocess::ruling_spacing;
/// // Dark lines 3 px wide every 40 px, both ways.
/// let ruled = FloatImage::from_fn(200, 160, |x, y| {
///     let on = |v: u32| (v + 20) % 40 < 3;
///     image::Luma([if on(x) || on(y) { 0.3 } else { 0.6 }])
/// });
/// assert!((ruling_spacing(&ruled).unwrap() - 40.0).abs() < 0.05);
/// let blank = FloatImage::from_pixel(200, 160, image::Luma([0.6]));
/// assert_eq!(ruling_spacing(&blank), None);
/// ```
pub fn ruling_spacing(intensity: &FloatImage) -> Option<f64> {
    let (w, h) = intensity.dimensions();
    let block = (w.min(h) / BACKGROUND_BLOCK_FRACTION).max(MIN_BACKGROUND_BLOCK_PX);
    let background = block_median_background(intensity, block);
    let contrast: Vec<f32> = intensity
        .as_raw()
        .iter()
        .zip(background.as_raw())
        .map(|(&i, &b)| {
            let b = b.max(MIN_BACKGROUND);
            (i - b) / b
        })
        .collect();
    let contrast = FloatImage::from_raw(w, h, contrast)?;
    let profiles = ruling_profiles(&contrast)?;
    let along_x = lattice(&rulings(&profiles.columns));
    let along_y = lattice(&rulings(&profiles.rows));
    match (along_x, along_y) {
        (Some(x), Some(y)) => {
            if (x.spacing / y.spacing - 1.0).abs() > AXIS_AGREEMENT {
                return None;
            }
            // Weighted by the length each spans: a longer span, a finer slope.
            let (wx, wy) = (x.span as f64, y.span as f64);
            Some((x.spacing * wx + y.spacing * wy) / (wx + wy))
        }
        (Some(one), None) | (None, Some(one)) => Some(one.spacing),
        (None, None) => None,
    }
}

/// The rulings a profile marks (non-zero entries), triple lines merged,
/// those cut by either end left out: see the module documentation.
fn rulings(profile: &[f32]) -> Vec<Ruling> {
    let peak = |(start, end): (usize, usize)| {
        profile[start..end]
            .iter()
            .fold(0.0f32, |m, p| m.max(p.abs()))
    };
    // The stretches of a range whose |contrast| exceeds `level`.
    let above = |(start, end): (usize, usize), level: f32| {
        let mut found = Vec::new();
        let mut i = start;
        while i < end {
            if profile[i].abs() <= level {
                i += 1;
                continue;
            }
            let from = i;
            while i < end && profile[i].abs() > level {
                i += 1;
            }
            found.push((from, i));
        }
        found
    };
    // The lines: the cores of the marked runs, where a run exceeds half its
    // peak, so that columns lifted by dense cells do not join two rulings.
    // Runs cut by either end of the profile are left out.
    let lines: Vec<(usize, usize)> = above((0, profile.len()), 0.0)
        .into_iter()
        .filter(|&(start, end)| start > 0 && end < profile.len())
        .flat_map(|run| above(run, LIKE * peak(run)))
        .collect();
    // Each ruling as (start, end, its last line).
    let mut merged: Vec<(usize, usize, (usize, usize))> = Vec::new();
    for run in lines {
        let width = |(start, end): (usize, usize)| end - start;
        match merged.last_mut() {
            Some(last)
                if run.0 - last.1 <= TRIPLE_GAP_WIDTHS * width(run).max(width(last.2))
                    && peak(run).min(peak(last.2)) >= LIKE * peak(run).max(peak(last.2)) =>
            {
                last.1 = run.1;
                last.2 = run;
            }
            _ => merged.push((run.0, run.1, run)),
        }
    }
    merged
        .iter()
        .map(|&(start, end, _)| {
            let peak = peak((start, end));
            let (mut moment, mut weight) = (0.0f64, 0.0f64);
            for (j, p) in profile[start..end].iter().enumerate() {
                if p.abs() > LIKE * peak {
                    moment += f64::from(p.abs()) * (start + j) as f64;
                    weight += f64::from(p.abs());
                }
            }
            Ruling {
                centre: moment / weight,
                weight,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic noise value in -1..1 for pixel (x, y).
    fn noise(x: u32, y: u32, seed: u64) -> f32 {
        let mut z = (u64::from(x) << 32 | u64::from(y)) ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    /// Transmission at distance `d` from a ruling's centre: a triple line
    /// (dark, bright, dark) as `cellvia synth` draws it.
    fn triple(d: f64) -> f32 {
        match d {
            d if d < 1.5 => 0.6,
            d if d < 2.5 => 1.25,
            d if d < 4.0 => 0.7,
            _ => 1.0,
        }
    }

    /// A `w`×`h` field lit at 0.55 with triple rulings every `px` (x) and
    /// `py` (y) pixels, phases `(ox, oy)`.
    fn ruled(w: u32, h: u32, (px, py): (f64, f64), (ox, oy): (f64, f64)) -> FloatImage {
        let across = |v: u32, period: f64, phase: f64| {
            let d = (f64::from(v) - phase).rem_euclid(period);
            triple(d.min(period - d))
        };
        FloatImage::from_fn(w, h, |x, y| {
            image::Luma([0.55 * across(x, px, ox) * across(y, py, oy)])
        })
    }

    fn assert_near(found: Option<f64>, period: f64, tolerance: f64) {
        let found = found.unwrap_or_else(|| panic!("no grid found for period {period}"));
        assert!(
            (found / period - 1.0).abs() < tolerance,
            "{found} px for a {period} px period"
        );
    }

    #[test]
    fn exact_periods_are_measured_to_a_fraction_of_a_percent() {
        for (period, phase) in [(40.0, 3.2), (83.3, 17.9), (83.3, 60.05), (127.6, 101.4)] {
            let field = ruled(640, 480, (period, period), (phase, phase * 0.7));
            assert_near(ruling_spacing(&field), period, 0.002);
        }
    }

    #[test]
    fn three_thin_lines_are_one_ruling() {
        // Lines 2 px wide with 3 px between them, centred on the ruling.
        let line = |v: u32, period: f64, phase: f64| {
            let d = (f64::from(v) - phase).rem_euclid(period);
            let d = d.min(period - d);
            if d < 1.0 || (4.5..6.5).contains(&d) {
                0.5
            } else {
                1.0
            }
        };
        let field = FloatImage::from_fn(500, 400, |x, y| {
            image::Luma([0.6 * line(x, 96.4, 30.3) * line(y, 96.4, 50.8)])
        });
        assert_near(ruling_spacing(&field), 96.4, 0.002);
    }

    #[test]
    fn noise_vignetting_and_cells_on_the_rulings_leave_the_spacing() {
        let (period, phase) = (71.7, 20.4);
        let clean = ruled(600, 450, (period, period), (phase, phase));
        let field = FloatImage::from_fn(600, 450, |x, y| {
            let (fx, fy) = (f64::from(x) - 300.0, f64::from(y) - 225.0);
            let vignette = 1.0 - 0.3 * ((fx * fx + fy * fy) / (375.0 * 375.0)) as f32;
            // Dark cells 24 px across centred on every other vertical ruling.
            let on_ruling = (0..8).any(|k| {
                let cx = phase + period * f64::from(k);
                let cy = 40.0 + 110.0 * f64::from(k % 4);
                (f64::from(x) - cx).hypot(f64::from(y) - cy) < 12.0
            });
            let cell = if on_ruling { 0.5 } else { 1.0 };
            let v = clean.get_pixel(x, y).0[0] * vignette * cell + 0.03 * noise(x, y, 7);
            image::Luma([v])
        });
        assert_near(ruling_spacing(&field), period, 0.005);
    }

    #[test]
    fn a_field_without_a_regular_grid_has_no_spacing() {
        let cells = FloatImage::from_fn(400, 300, |x, y| {
            let cell = (0..12).any(|k| {
                let (cx, cy) = (30.0 + 31.0 * f64::from(k), 40.0 + 17.0 * f64::from(k % 7));
                (f64::from(x) - cx).hypot(f64::from(y) - cy) < 9.0
            });
            image::Luma([if cell { 0.3 } else { 0.55 } + 0.02 * noise(x, y, 3)])
        });
        assert_eq!(ruling_spacing(&cells), None);
        // Three lines, irregularly placed; and only two rulings each way.
        let irregular = FloatImage::from_fn(400, 300, |x, _| {
            image::Luma([if [60, 150, 290].contains(&(x / 3 * 3)) {
                0.3
            } else {
                0.55
            }])
        });
        assert_eq!(ruling_spacing(&irregular), None);
        let two = ruled(400, 300, (180.0, 180.0), (100.0, 60.0));
        assert_eq!(ruling_spacing(&two), None);
    }

    #[test]
    fn axes_that_disagree_are_not_a_grid() {
        assert_eq!(
            ruling_spacing(&ruled(500, 500, (80.0, 90.0), (10.0, 10.0))),
            None
        );
        // One axis alone is enough.
        assert_near(
            ruling_spacing(&ruled(500, 150, (80.0, 1e9), (10.0, 5e8))),
            80.0,
            0.002,
        );
    }
}
