//! Segmentation: from the flattened z image to labelled candidate objects.
//!
//! Steps, each in its own file:
//! 1. [`threshold::hysteresis`] on |z|: an object reaches `seed_sigma` somewhere
//!    and extends over connected pixels above `extent_sigma` (dark rims and
//!    bright centres of live cells both count). Or, with `threshold = "otsu"`,
//!    [`threshold::otsu_mask`]: one global level on |z|.
//! 2. Closing (1 px, bridges broken rims), [`fill::fill_holes`] up to one
//!    large cell's area (bright centres inside rims), [`lines::remove_long_runs`]
//!    (chamber rulings: straight runs over 3 maximum diameters), opening
//!    (removes lines and specks thinner than about min diameter / 4).
//! 3. Declumping: [`distance::distance_to_background`], [`seeds::find_seeds`]
//!    at distance maxima, [`watershed::watershed`] from those seeds.
//! 4. Filters on [`regions::Region`]: area from a disc of half the minimum
//!    diameter to one of 1.5 × the maximum, circularity, border contact.
//!
//! Whatever survives is a *candidate*; the classifier decides live, dead or debris.

pub mod distance;
pub mod fill;
pub mod label;
pub mod lines;
pub mod regions;
pub mod seeds;
pub mod threshold;
pub mod watershed;

use imageproc::distance_transform::Norm;

use crate::config::{DiameterRange, SegmentConfig, ThresholdMethod};
use crate::image_types::{FloatImage, LabelImage, Mask};
use regions::Region;

/// Objects smaller than a disc of this fraction of the minimum diameter are
/// specks (on LDC, unlabelled debris is mostly 5–10 px across, cells 16+ px).
const MIN_AREA_DIAMETER_FRACTION: f64 = 0.75;
/// Straight runs longer than this many maximum diameters are rulings, not
/// cells; three leaves room for a short chain of touching cells.
const RULING_MIN_LENGTH_DIAMETERS: f64 = 3.0;
/// Objects larger than a disc of this multiple of the maximum diameter are
/// not single cells (unsplit clumps, bubbles, grid crossings).
const MAX_AREA_DIAMETER_FACTOR: f64 = 1.5;
/// A seed must lie this fraction of the minimum diameter inside its object,
/// so thin protrusions and line fragments do not start cells of their own.
const SEED_MIN_RADIUS_FRACTION: f64 = 0.25;

/// Labelled candidates and their shape statistics (`regions[i]` is label `i + 1`).
#[derive(Debug, Clone)]
pub struct Segmentation {
    pub labels: LabelImage,
    pub regions: Vec<Region>,
}

/// Segments candidate cells in a z image (see [`crate::preprocess::flatten`]).
///
/// ```
/// use cellvia::{config::{DiameterRange, SegmentConfig}, image_types::FloatImage};
/// // Two touching dark discs on a flat background.
/// let z = FloatImage::from_fn(64, 40, |x, y| {
///     let d = |cx: f32| ((x as f32 - cx).powi(2) + (y as f32 - 20.0).powi(2)).sqrt();
///     image::Luma([if d(22.0) < 9.0 || d(39.0) < 9.0 { -20.0 } else { 0.0 }])
/// });
/// let seg = cellvia::segment::segment(&z, DiameterRange { min: 10.0, max: 24.0 }, &SegmentConfig::default());
/// assert_eq!(seg.regions.len(), 2);
/// ```
pub fn segment(z: &FloatImage, diameter: DiameterRange, cfg: &SegmentConfig) -> Segmentation {
    let mut mask = match cfg.threshold {
        ThresholdMethod::Hysteresis => threshold::hysteresis(z, cfg.extent_sigma, cfg.seed_sigma),
        ThresholdMethod::Otsu => threshold::otsu_mask(z, cfg.extent_sigma),
    };
    imageproc::morphology::close_mut(&mut mask, Norm::LInf, 1);
    let max_cell_area = disc_area(diameter.max);
    fill::fill_holes(&mut mask, max_cell_area as usize);
    lines::remove_long_runs(
        &mut mask,
        (RULING_MIN_LENGTH_DIAMETERS * diameter.max).round() as usize,
    );
    let open_radius = (diameter.min / 8.0).round().clamp(1.0, 255.0) as u8;
    imageproc::morphology::open_mut(&mut mask, Norm::LInf, open_radius);

    let (mut labels, n) = if cfg.declump {
        declump(&mask, diameter, cfg.seed_separation)
    } else {
        label::label_components(&mask)
    };
    let all = regions::regions(&labels, n);
    let min_area = disc_area(MIN_AREA_DIAMETER_FRACTION * diameter.min);
    let max_area = disc_area(MAX_AREA_DIAMETER_FACTOR * diameter.max);
    let keep: Vec<bool> = all
        .iter()
        .map(|r| {
            let area = f64::from(r.area);
            area >= min_area
                && area <= max_area
                && r.circularity() >= cfg.min_circularity
                && !(cfg.discard_border_objects && r.touches_border)
        })
        .collect();
    for v in labels.as_mut().iter_mut() {
        if *v != 0 && !keep[(*v - 1) as usize] {
            *v = 0;
        }
    }
    let n = label::relabel_sequential(&mut labels);
    let regions = regions::regions(&labels, n);
    Segmentation { labels, regions }
}

/// Splits touching objects; every mask pixel ends up in exactly one label.
fn declump(mask: &Mask, diameter: DiameterRange, separation: f64) -> (LabelImage, u32) {
    let dist = distance::distance_to_background(mask);
    let seeds = seeds::find_seeds(
        &dist,
        (SEED_MIN_RADIUS_FRACTION * diameter.min) as f32,
        (separation * diameter.min) as f32,
    );
    let mut labels = watershed::watershed(mask, &dist, &seeds);
    // Objects too thin to hold a seed keep their own labels.
    let unreached = Mask::from_fn(mask.width(), mask.height(), |x, y| {
        let on = mask.get_pixel(x, y).0[0] != 0 && labels.get_pixel(x, y).0[0] == 0;
        image::Luma([if on { 255 } else { 0 }])
    });
    let (extra, _) = label::label_components(&unreached);
    let offset = seeds.len() as u32;
    for (l, e) in labels.as_mut().iter_mut().zip(extra.as_raw()) {
        if *e != 0 {
            *l = offset + e;
        }
    }
    let n = label::relabel_sequential(&mut labels);
    (labels, n)
}

/// Indices of the 4-connected neighbours of pixel `i` in a `w`×`h` raster.
pub(crate) fn neighbours4(i: usize, w: usize, h: usize) -> [Option<usize>; 4] {
    let (x, y) = (i % w, i / w);
    [
        (x > 0).then(|| i - 1),
        (x + 1 < w).then(|| i + 1),
        (y > 0).then(|| i - w),
        (y + 1 < h).then(|| i + w),
    ]
}

fn disc_area(diameter: f64) -> f64 {
    std::f64::consts::PI / 4.0 * diameter * diameter
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Declumping neither loses nor invents mask pixels, and labels are 1..=n, each used.
        #[test]
        fn declump_partitions_the_mask(
            discs in proptest::collection::vec((4.0f32..44.0, 4.0f32..44.0, 2.0f32..9.0), 1..6)
        ) {
            let mask = Mask::from_fn(48, 48, |x, y| {
                let hit = discs.iter().any(|&(cx, cy, r)| (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2) <= r * r);
                image::Luma([if hit { 255 } else { 0 }])
            });
            let (labels, n) = declump(&mask, DiameterRange { min: 6.0, max: 20.0 }, 0.6);
            for (m, l) in mask.as_raw().iter().zip(labels.as_raw()) {
                prop_assert_eq!(*m != 0, *l != 0);
            }
            let mut used = vec![false; n as usize];
            for &l in labels.as_raw() {
                if l != 0 {
                    prop_assert!(l <= n);
                    used[(l - 1) as usize] = true;
                }
            }
            prop_assert!(used.iter().all(|&u| u));
        }
    }

    #[test]
    fn grid_line_is_not_a_candidate() {
        let z = FloatImage::from_fn(120, 120, |x, y| {
            let line = (40..46).contains(&x);
            let cell = (x as f32 - 90.0).powi(2) + (y as f32 - 60.0).powi(2) < 64.0;
            image::Luma([if line || cell { -15.0 } else { 0.0 }])
        });
        let seg = segment(
            &z,
            DiameterRange {
                min: 8.0,
                max: 24.0,
            },
            &SegmentConfig::default(),
        );
        assert_eq!(seg.regions.len(), 1);
        assert!((seg.regions[0].centroid.0 - 90.0).abs() < 1.0);
    }

    #[test]
    fn both_threshold_methods_find_dense_discs() {
        // A dense field: 16 discs of contrast 12 sigma cover a quarter of it.
        let z = FloatImage::from_fn(120, 120, |x, y| {
            let (cx, cy) = ((x % 30) as f32 - 15.0, (y % 30) as f32 - 15.0);
            image::Luma([if cx * cx + cy * cy < 64.0 {
                -12.0
            } else {
                0.3 * ((x * 7 + y * 13) % 5) as f32 - 0.6
            }])
        });
        let d = DiameterRange {
            min: 10.0,
            max: 24.0,
        };
        for threshold in [ThresholdMethod::Hysteresis, ThresholdMethod::Otsu] {
            let cfg = SegmentConfig {
                threshold,
                ..Default::default()
            };
            assert_eq!(segment(&z, d, &cfg).regions.len(), 16, "{threshold:?}");
        }
    }

    #[test]
    fn border_objects_dropped_only_when_asked() {
        let z = FloatImage::from_fn(60, 60, |x, y| {
            let d = ((x as f32 - 2.0).powi(2) + (y as f32 - 30.0).powi(2)).sqrt();
            image::Luma([if d < 8.0 { -15.0 } else { 0.0 }])
        });
        let d = DiameterRange {
            min: 8.0,
            max: 24.0,
        };
        let mut cfg = SegmentConfig::default();
        assert_eq!(segment(&z, d, &cfg).regions.len(), 1);
        cfg.discard_border_objects = true;
        assert_eq!(segment(&z, d, &cfg).regions.len(), 0);
    }
}
