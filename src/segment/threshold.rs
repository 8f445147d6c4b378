//! Thresholds: Otsu's level for a histogram, and hysteresis on |z|.

use super::runs::{Components, Connectivity};
use crate::image_types::{FloatImage, Mask, MASK_ON};

/// Otsu's threshold: the bin index `t` that maximises the between-class
/// variance of `{bins <= t}` and `{bins > t}`. Returns 0 for an empty or
/// single-valued histogram.
///
/// ```
/// let mut hist = [0u32; 10];
/// hist[2] = 50;
/// hist[7] = 50;
/// let t = cellvia::segment::threshold::otsu_level(&hist);
/// assert!((2..7).contains(&t));
/// ```
pub fn otsu_level(hist: &[u32]) -> usize {
    let total: f64 = hist.iter().map(|&c| f64::from(c)).sum();
    let sum_all: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &c)| i as f64 * f64::from(c))
        .sum();
    let (mut weight_low, mut sum_low) = (0.0, 0.0);
    let (mut best, mut best_var) = (0, -1.0);
    for (t, &c) in hist.iter().enumerate() {
        weight_low += f64::from(c);
        sum_low += t as f64 * f64::from(c);
        let weight_high = total - weight_low;
        if weight_low == 0.0 || weight_high == 0.0 {
            continue;
        }
        let mean_low = sum_low / weight_low;
        let mean_high = (sum_all - sum_low) / weight_high;
        let between = weight_low * weight_high * (mean_low - mean_high).powi(2);
        if between > best_var {
            best_var = between;
            best = t;
        }
    }
    best
}

/// |z| histogram range for [`otsu_mask`]; contrasts above it share the top bin.
const OTSU_MAX_Z: f32 = 64.0;
const OTSU_BINS: usize = 256;

/// Pixels with `|z|` at or above Otsu's level for the |z| histogram, or
/// above `floor` if that is higher (so a cell-free field is not split into
/// two classes of noise).
///
/// ```
/// use cellvia::image_types::FloatImage;
/// let z = FloatImage::from_fn(20, 20, |x, _| image::Luma([if x < 8 { 30.0 } else { 0.5 }]));
/// let m = cellvia::segment::threshold::otsu_mask(&z, 3.0);
/// assert_eq!(m.get_pixel(2, 5).0[0], 255);
/// assert_eq!(m.get_pixel(15, 5).0[0], 0);
/// ```
pub fn otsu_mask(z: &FloatImage, floor: f32) -> Mask {
    otsu_mask_by(z, floor, f32::abs)
}

/// [`otsu_mask`] on `magnitude(z)` instead of `|z|` (read on the fly, so
/// no image of magnitudes is made).
pub fn otsu_mask_by(z: &FloatImage, floor: f32, magnitude: impl Fn(f32) -> f32) -> Mask {
    let bin_width = OTSU_MAX_Z / OTSU_BINS as f32;
    let bin = |v: f32| ((magnitude(v) / bin_width) as usize).min(OTSU_BINS - 1);
    let mut hist = vec![0u32; OTSU_BINS];
    for &v in z.as_raw() {
        hist[bin(v)] += 1;
    }
    let level = ((otsu_level(&hist) + 1) as f32 * bin_width).max(floor);
    let data = z
        .as_raw()
        .iter()
        .map(|&v| if magnitude(v) >= level { MASK_ON } else { 0 })
        .collect();
    Mask::from_raw(z.width(), z.height(), data).unwrap_or_else(|| Mask::new(z.width(), z.height()))
}

/// Pixels with `|z| >= low` that are 8-connected to a pixel with `|z| >= high`.
///
/// A cell must stand out clearly somewhere (`high`) and is then followed out to
/// its faint edge (`low`), so noise specks never start an object yet objects
/// are not cut short at their rims.
///
/// ```
/// use cellvia::image_types::FloatImage;
/// let z = FloatImage::from_raw(5, 1, vec![0.0, 3.0, 9.0, 3.0, 3.0]).unwrap();
/// let m = cellvia::segment::threshold::hysteresis(&z, 2.0, 8.0);
/// assert_eq!(m.as_raw(), &[0, 255, 255, 255, 255]);
/// let weak = FloatImage::from_raw(3, 1, vec![3.0, 3.0, 3.0]).unwrap();
/// assert!(cellvia::segment::threshold::hysteresis(&weak, 2.0, 8.0).as_raw().iter().all(|&v| v == 0));
/// ```
pub fn hysteresis(z: &FloatImage, low: f32, high: f32) -> Mask {
    hysteresis_by(z, low, high, usize::MAX, f32::abs)
}

/// [`hysteresis`] on `magnitude(z)` instead of `|z|` (read on the fly, so
/// no image of magnitudes is made), also keeping every component above
/// `low` that never reaches `high` but spans at least `seedless_area`
/// pixels: its area with whatever it encloses along its rows (a thin
/// faint ring spans its whole disc).
///
/// ```
/// use cellvia::image_types::FloatImage;
/// // A faint 6-pixel run and a faint 2-pixel one: only the larger is kept.
/// let z = FloatImage::from_raw(9, 1, vec![3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 0.0, 3.0, 3.0]).unwrap();
/// let m = cellvia::segment::threshold::hysteresis_by(&z, 2.0, 8.0, 5, f32::abs);
/// assert_eq!(m.as_raw(), &[255, 255, 255, 255, 255, 255, 0, 0, 0]);
/// ```
pub fn hysteresis_by(
    z: &FloatImage,
    low: f32,
    high: f32,
    seedless_area: usize,
    magnitude: impl Fn(f32) -> f32,
) -> Mask {
    let w = z.width() as usize;
    // Components of |z| >= low, kept where one reaches `high`. (With
    // `high < low` every pixel in between is a seed of its own and joins
    // its neighbours, hence the lower of the two.)
    let reach = low.min(high);
    let found = Components::of(
        z.as_raw(),
        w,
        |&v| magnitude(v) >= reach,
        Connectivity::Eight,
    );
    let values = z.as_raw();
    let mut seeded = vec![false; found.count as usize];
    for (run, &c) in found.runs.iter().zip(&found.component) {
        let row = &values[run.y * w..(run.y + 1) * w];
        seeded[c as usize] |= row[run.x0..run.x1].iter().any(|&v| magnitude(v) >= high);
    }
    for (s, spanned) in seeded.iter_mut().zip(spanned_areas(&found)) {
        *s |= spanned >= seedless_area;
    }
    let mut mask = Mask::new(z.width(), z.height());
    let out = mask.as_mut();
    for (run, &c) in found.runs.iter().zip(&found.component) {
        if seeded[c as usize] {
            out[run.y * w + run.x0..run.y * w + run.x1].fill(MASK_ON);
        }
    }
    mask
}

/// Each component's area with whatever it encloses along its rows: the sum
/// over its rows of the span from its first pixel to its last. A faint cell
/// whose only trace is a thin ring (a dim live cell's rim: 3 px wide, so a
/// 40 px cell's ring covers under half the disc of a small cell) spans its
/// whole disc, while a compact noise speck spans little more than itself.
fn spanned_areas(components: &Components) -> Vec<usize> {
    // Per component: the row being summed and its first and last pixel.
    let mut row = vec![usize::MAX; components.count as usize];
    let mut span = vec![(0usize, 0usize); components.count as usize];
    let mut total = vec![0usize; components.count as usize];
    // Runs are in raster order: a component's runs in a row come left to
    // right, and its rows in order.
    for (run, &c) in components.runs.iter().zip(&components.component) {
        let c = c as usize;
        if row[c] == run.y {
            span[c].1 = run.x1;
        } else {
            total[c] += span[c].1 - span[c].0;
            row[c] = run.y;
            span[c] = (run.x0, run.x1);
        }
    }
    total
        .iter()
        .zip(&span)
        .map(|(t, (x0, x1))| t + x1 - x0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Slow reference: between-class variance computed afresh for every t.
    fn otsu_reference(hist: &[u32]) -> usize {
        let variance = |t: usize| {
            let (lo, hi) = hist.split_at(t + 1);
            let w = |h: &[u32]| h.iter().map(|&c| f64::from(c)).sum::<f64>();
            let mean = |h: &[u32], off: usize| {
                h.iter()
                    .enumerate()
                    .map(|(i, &c)| (i + off) as f64 * f64::from(c))
                    .sum::<f64>()
                    / w(h)
            };
            if w(lo) == 0.0 || w(hi) == 0.0 {
                return -1.0;
            }
            w(lo) * w(hi) * (mean(lo, 0) - mean(hi, t + 1)).powi(2)
        };
        (0..hist.len()).fold(0, |best, t| {
            if variance(t) > variance(best) {
                t
            } else {
                best
            }
        })
    }

    #[test]
    fn otsu_splits_known_bimodal_histogram() {
        // Modes at 60 (weight 2) and 180 (weight 1), spread 10: the threshold
        // falls in the empty gap between them.
        let hist: Vec<u32> = (0..256)
            .map(|i: i32| {
                let a = 2.0 * (-((i - 60) as f64).powi(2) / 200.0).exp();
                let b = (-((i - 180) as f64).powi(2) / 200.0).exp();
                ((a + b) * 1000.0) as u32
            })
            .collect();
        let t = otsu_level(&hist);
        assert!((90..150).contains(&t), "t = {t}");
        assert_eq!(t, otsu_reference(&hist));
    }

    proptest! {
        #[test]
        fn otsu_matches_reference(hist in proptest::collection::vec(0u32..50, 2..40)) {
            prop_assert_eq!(otsu_level(&hist), otsu_reference(&hist));
        }
    }

    #[test]
    fn otsu_of_flat_histogram_is_defined() {
        assert_eq!(otsu_level(&[0, 0, 5, 0]), 0);
        assert_eq!(otsu_level(&[]), 0);
    }

    /// Slow reference: grow from every high pixel by repeated relaxation.
    fn hysteresis_reference(z: &FloatImage, low: f32, high: f32) -> Vec<u8> {
        let (w, h) = (z.width() as i64, z.height() as i64);
        let v = z.as_raw();
        let mut on: Vec<bool> = v.iter().map(|x| x.abs() >= high).collect();
        loop {
            let mut changed = false;
            for y in 0..h {
                for x in 0..w {
                    let i = (y * w + x) as usize;
                    if on[i] || v[i].abs() < low {
                        continue;
                    }
                    let near = (-1..=1).any(|dy| {
                        (-1..=1).any(|dx| {
                            let (nx, ny) = (x + dx, y + dy);
                            nx >= 0 && ny >= 0 && nx < w && ny < h && on[(ny * w + nx) as usize]
                        })
                    });
                    if near {
                        on[i] = true;
                        changed = true;
                    }
                }
            }
            if !changed {
                return on.iter().map(|&b| if b { MASK_ON } else { 0 }).collect();
            }
        }
    }

    proptest! {
        #[test]
        fn hysteresis_matches_reference(
            w in 1u32..16,
            values in proptest::collection::vec(-10.0f32..10.0, 1..200),
            low in 0.0f32..8.0,
            high in 0.0f32..10.0,
        ) {
            let h = values.len() as u32 / w;
            prop_assume!(h > 0);
            let z = FloatImage::from_raw(w, h, values[..(w * h) as usize].to_vec()).unwrap();
            prop_assert_eq!(hysteresis(&z, low, high).into_raw(), hysteresis_reference(&z, low, high));
        }
    }

    /// A faint ring (4σ, 2 px wide) round a 24 px disc is kept as a faint
    /// cell; a faint square with as many pixels is noise-sized and is not.
    #[test]
    fn faint_ring_spanning_a_cell_is_kept_and_a_speck_of_its_pixels_is_not() {
        let ring = |x: u32, y: u32| {
            let d = (x as f32 - 20.0).hypot(y as f32 - 32.0);
            (d - 12.0).abs() < 1.0
        };
        let ring_pixels = (0..64).flat_map(|y| (0..64).map(move |x| (x, y)));
        let ring_area = ring_pixels.filter(|&(x, y)| ring(x, y)).count();
        let side = (ring_area as f64).sqrt().round() as u32;
        let square = |x: u32, y: u32| (44..44 + side).contains(&x) && (26..26 + side).contains(&y);
        let z = FloatImage::from_fn(64, 64, |x, y| {
            image::Luma([if ring(x, y) || square(x, y) { 4.0 } else { 0.0 }])
        });
        // Between the ring's own pixels (about 150) and its disc (about 530).
        let seedless = 2 * ring_area;
        let mask = hysteresis_by(&z, 3.0, 6.0, seedless, f32::abs);
        assert_eq!(mask.get_pixel(20, 20).0[0], MASK_ON, "the ring's top");
        assert_eq!(
            mask.get_pixel(20, 32).0[0],
            0,
            "filling is left to fill_holes"
        );
        assert_eq!(mask.get_pixel(50, 30).0[0], 0, "the square");
    }

    /// Slow reference: each component's first and last pixel in each row,
    /// read from a label image.
    fn spanned_areas_reference(components: &Components, w: usize, h: usize) -> Vec<usize> {
        let mut labels = crate::image_types::LabelImage::new(w as u32, h as u32);
        components.paint(&mut labels, 1);
        (1..=components.count)
            .map(|label| {
                (0..h)
                    .filter_map(|y| {
                        let row = &labels.as_raw()[y * w..(y + 1) * w];
                        let first = row.iter().position(|&l| l == label)?;
                        let last = row.iter().rposition(|&l| l == label)?;
                        Some(last + 1 - first)
                    })
                    .sum()
            })
            .collect()
    }

    proptest! {
        #[test]
        fn spanned_areas_match_reference(
            w in 1usize..24,
            pixels in proptest::collection::vec(proptest::bool::weighted(0.6), 1..400),
        ) {
            let h = pixels.len() / w;
            prop_assume!(h > 0);
            let pixels = &pixels[..w * h];
            let components = Components::of(pixels, w, |&p| p, Connectivity::Eight);
            prop_assert_eq!(
                spanned_areas(&components),
                spanned_areas_reference(&components, w, h)
            );
        }
    }
}
