//! Segmentation: from the flattened z image to labelled candidate objects.
//!
//! Input is z, the background-flattened contrast in robust noise sigmas
//! ([`crate::preprocess::flatten`]): cells are either darker (rims, dye) or
//! brighter (refractile centres, halos) than the lamp, so both signs count.
//! Every length is tied to the typical cell diameter range (`diameter`:
//! measured from each sample's fields by [`scale`] unless the settings fix
//! it), so the same settings work at any magnification.
//!
//! 1. Threshold ([`threshold`]): hysteresis on |z|: an object must reach
//!    `seed_sigma` (6σ) somewhere and extends over connected pixels above
//!    `extent_sigma` (3σ). 6σ is one false start per ~10⁹ noise pixels, 3σ
//!    follows faint rims out. A connected region above 3σ that spans a disc
//!    of the minimum diameter along its rows (with whatever it encloses) is
//!    kept even if it never reaches 6σ: smoothed noise never spans that
//!    much, and a faint cell's rim, a dim cell's thin outline or a ring of
//!    halo (whose bright centre is a separate region) does. With
//!    `threshold = "otsu"`, one global Otsu level on |z| (never below
//!    `extent_sigma`).
//! 2. Clean-up: a 1 px closing bridges broken rims; [`fill::fill_holes`] fills
//!    enclosed holes up to one large cell's area (bright centres; bounded so a
//!    grid square closed by rulings is not swallowed); [`lines::remove_long_runs`]
//!    deletes straight runs longer than 3 maximum diameters (chamber rulings;
//!    3 leaves room for a chain of touching cells); an opening of radius
//!    min diameter / 8 removes thin line remnants and specks.
//! 3. Declumping (`declump`, on by default): in brightfield,
//!    [`core::dark_core`] keeps the dark part of each object with enclosed
//!    centres filled, dropping the bright halos that fuse touching live cells
//!    (fluorescent objects have no halo: their core is the mask itself);
//!    [`distance`] transform of the core; [`seeds::find_seeds`] at its maxima at least 0.4 × min diameter
//!    deep (shallower ones are fragments of textured dead cells) and apart by
//!    `seed_separation` (0.6) × min diameter and 0.75 × their depth (touching
//!    cells' centres are ≥ 1.7 radii apart), then maxima of the mask's own
//!    distance map outside the core, apart from those, for cells without a
//!    dark part (bright halo, grey body; see `local`); [`watershed`] floods the whole mask
//!    from the seeds, so halos go to their cells. Objects without a seed keep
//!    their own label. Each object also records its *cluster*: the connected
//!    part of the mask it came from, so touching cells can be reported as
//!    aggregates.
//! 4. Filters on [`regions::Region`]: area from a disc of 0.75 × min diameter
//!    (smaller is dust) to one of 1.5 × max diameter (larger is an unsplit
//!    clump, a bubble or a grid crossing), circularity ≥ `min_circularity`
//!    (0.3: drops fibres and ruling fragments; a cell is ≥ 0.7), and, with
//!    `discard_border_objects`, contact with the image edge.
//!
//! Whatever survives is a *candidate*; the classifier decides live, dead or
//! debris, so segmentation errs towards keeping objects. Defaults were set on
//! LDC groups used for training (`b`, `d`, `image`, `image_`, `ncell`) and on
//! synthetic fields, and checked on the held-out groups (see the README).

pub mod contour;
pub mod core;
pub mod distance;
pub mod fill;
pub mod label;
pub mod lines;
mod local;
pub mod morphology;
pub mod regions;
pub mod runs;
pub mod scale;
pub mod seeds;
pub mod threshold;
pub mod watershed;

use crate::config::{DiameterRange, SegmentConfig, ThresholdMethod};
use crate::image_types::{FloatImage, LabelImage, Mask};
use regions::Region;
use runs::Connectivity;

/// Objects smaller than a disc of this fraction of the minimum diameter are
/// specks (on LDC, unlabelled debris is mostly 5–10 px across, cells 16+ px).
const MIN_AREA_DIAMETER_FRACTION: f64 = 0.75;
/// Straight runs longer than this many maximum diameters are rulings, not
/// cells; three leaves room for a short chain of touching cells.
const RULING_MIN_LENGTH_DIAMETERS: f64 = 3.0;
/// Objects larger than a disc of this multiple of the maximum diameter are
/// not single cells (unsplit clumps, bubbles, grid crossings).
const MAX_AREA_DIAMETER_FACTOR: f64 = 1.5;
/// A seed must lie this fraction of the minimum diameter inside its object's
/// dark core, so protrusions, line fragments and the pieces of a textured dead
/// cell's core do not start cells of their own. 0.25 over-split LDC dead
/// cells; 0.5 starts to miss small cells in clumps (synthetic fields).
const SEED_MIN_RADIUS_FRACTION: f64 = 0.4;

/// How objects differ from the background, which decides what declumping
/// measures their shapes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appearance {
    /// Trypan-blue brightfield: dark rims or dye, bright centres and halos;
    /// `z` of both signs counts.
    Brightfield,
    /// Fluorescence: stained objects brighter than a dark background; `z` is
    /// not negative.
    Fluorescent,
}

/// Labelled candidates and their shape statistics (`regions[i]` is label `i + 1`).
#[derive(Debug, Clone)]
pub struct Segmentation {
    pub labels: LabelImage,
    pub regions: Vec<Region>,
    /// `clusters[i]`: the connected mask component (1-based, raster order)
    /// that object `i + 1` was split from; objects sharing one touched.
    pub clusters: Vec<u32>,
}

/// Segments candidate cells in a z image (see [`crate::preprocess::flatten`]).
///
/// ```
/// use cellvia::{config::{DiameterRange, SegmentConfig}, image_types::FloatImage};
/// use cellvia::segment::{segment, Appearance};
/// // Two touching dark discs on a flat background.
/// let z = FloatImage::from_fn(64, 40, |x, y| {
///     let d = |cx: f32| ((x as f32 - cx).powi(2) + (y as f32 - 20.0).powi(2)).sqrt();
///     image::Luma([if d(22.0) < 9.0 || d(39.0) < 9.0 { -20.0 } else { 0.0 }])
/// });
/// let d = DiameterRange { min: 10.0, max: 24.0 };
/// let seg = segment(&z, d, &SegmentConfig::default(), Appearance::Brightfield);
/// assert_eq!(seg.regions.len(), 2);
/// assert_eq!(seg.clusters, vec![1, 1]); // split from one blob
/// ```
pub fn segment(
    z: &FloatImage,
    diameter: DiameterRange,
    cfg: &SegmentConfig,
    appearance: Appearance,
) -> Segmentation {
    let max_cell_area = disc_area(diameter.max) as usize;
    // Faint regions this large are cells, not noise (step 1 above).
    let seedless_area = disc_area(diameter.min) as usize;
    let mut mask = filled_objects(z, cfg, max_cell_area, seedless_area, f32::abs);
    lines::remove_long_runs(
        &mut mask,
        (RULING_MIN_LENGTH_DIAMETERS * diameter.max).round() as usize,
    );
    let open_radius = (diameter.min / 8.0).round().max(1.0) as usize;
    morphology::open(&mut mask, open_radius);

    // The mask's connected parts as runs, not a label image: declumping
    // works part by part, and the clusters are these parts.
    let parts = local::parts(&mask);
    let (mut labels, n) = if cfg.declump {
        match appearance {
            Appearance::Brightfield => {
                let dark = core::dark_core(z, &mask, cfg, max_cell_area);
                declump(&mask, &dark, &parts, diameter, cfg.seed_separation)
            }
            Appearance::Fluorescent => declump(&mask, &mask, &parts, diameter, cfg.seed_separation),
        }
    } else {
        label::labelled(&parts, mask.width(), mask.height())
    };
    let min_area = disc_area(MIN_AREA_DIAMETER_FRACTION * diameter.min);
    let max_area = disc_area(MAX_AREA_DIAMETER_FACTOR * diameter.max);
    let size_and_place = |r: &Region| {
        let area = f64::from(r.area);
        area >= min_area && area <= max_area && !(cfg.discard_border_objects && r.touches_border)
    };
    // Outlines only for objects the other filters keep.
    let all = regions::regions_traced_where(&labels, n, size_and_place);
    let keep: Vec<bool> = all
        .iter()
        .map(|r| size_and_place(r) && r.circularity() >= cfg.min_circularity)
        .collect();
    // Labels are in raster order of first pixel, so the kept objects keep
    // their order and are renumbered 1..=n in one lookup pass; an object's
    // statistics do not depend on its neighbours (its outline treats any
    // other label as background).
    let mut new_id = vec![0u32; keep.len() + 1];
    let mut n = 0;
    for (id, &k) in new_id[1..].iter_mut().zip(&keep) {
        if k {
            n += 1;
            *id = n;
        }
    }
    for v in labels.as_mut().iter_mut() {
        *v = new_id[*v as usize];
    }
    let regions: Vec<Region> = all
        .into_iter()
        .zip(&keep)
        .filter(|(_, &k)| k)
        .enumerate()
        .map(|(i, (r, _))| Region {
            label: i as u32 + 1,
            ..r
        })
        .collect();
    let mut clusters = vec![0u32; n as usize];
    // Every object lies within one connected part of the mask.
    let w = labels.width() as usize;
    for (run, &part) in parts.runs.iter().zip(&parts.component) {
        for &l in &labels.as_raw()[run.y * w + run.x0..run.y * w + run.x1] {
            if l != 0 {
                clusters[(l - 1) as usize] = part + 1;
            }
        }
    }
    Segmentation {
        labels,
        regions,
        clusters,
    }
}

/// Pixels of `z` that pass the configured threshold, with gaps of 1 px
/// closed and enclosed holes up to `max_hole_area` filled: the object mask,
/// and (on the dark part of `z`) the core declumping measures.
fn filled_objects(
    z: &FloatImage,
    cfg: &SegmentConfig,
    max_hole_area: usize,
    seedless_area: usize,
    magnitude: impl Fn(f32) -> f32,
) -> Mask {
    let mut mask = match cfg.threshold {
        ThresholdMethod::Hysteresis => threshold::hysteresis_by(
            z,
            cfg.extent_sigma,
            cfg.seed_sigma,
            seedless_area,
            magnitude,
        ),
        ThresholdMethod::Otsu => threshold::otsu_mask_by(z, cfg.extent_sigma, magnitude),
    };
    morphology::close(&mut mask, 1);
    fill::fill_holes(&mut mask, max_hole_area);
    mask
}

/// Splits touching objects of `mask` (whose connected parts are `parts`)
/// with seeds from the distance transform of `core`, part by part
/// ([`local`]); every mask pixel ends up in exactly one label.
fn declump(
    mask: &Mask,
    core: &Mask,
    parts: &runs::Components,
    diameter: DiameterRange,
    separation: f64,
) -> (LabelImage, u32) {
    // `min_radius` is positive (diameters are validated positive), so no
    // background pixel is a seed candidate, as `local` assumes.
    let (mut labels, seeds) = local::flood_by_part(
        mask,
        core,
        parts,
        (SEED_MIN_RADIUS_FRACTION * diameter.min) as f32,
        (separation * diameter.min) as f32,
    );
    // Objects too thin to hold a seed keep their own labels: the connected
    // parts of what the flood did not reach, numbered after the seeds.
    let w = mask.width() as usize;
    let unreached = runs::Components::where_true(
        w,
        mask.height() as usize,
        |y, x| mask.as_raw()[y * w + x] != 0 && labels.as_raw()[y * w + x] == 0,
        Connectivity::Eight,
    );
    unreached.paint(&mut labels, seeds.len() as u32 + 1);
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
            Appearance::Brightfield,
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
            assert_eq!(
                segment(&z, d, &cfg, Appearance::Brightfield).regions.len(),
                16,
                "{threshold:?}"
            );
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
        assert_eq!(
            segment(&z, d, &cfg, Appearance::Brightfield).regions.len(),
            1
        );
        cfg.discard_border_objects = true;
        assert_eq!(
            segment(&z, d, &cfg, Appearance::Brightfield).regions.len(),
            0
        );
    }

    #[test]
    fn touching_fluorescent_discs_are_split_on_the_mask() {
        // Two bright discs of radius 9 whose centres are 16 px apart.
        let z = FloatImage::from_fn(70, 40, |x, y| {
            let d = |cx: f32| ((x as f32 - cx).powi(2) + (y as f32 - 20.0).powi(2)).sqrt();
            image::Luma([if d(26.0) < 9.0 || d(42.0) < 9.0 {
                30.0
            } else {
                0.0
            }])
        });
        let d = DiameterRange {
            min: 10.0,
            max: 24.0,
        };
        let cfg = SegmentConfig::default();
        let seg = segment(&z, d, &cfg, Appearance::Fluorescent);
        assert_eq!(seg.regions.len(), 2);
        assert_eq!(seg.clusters, vec![1, 1]);
        // The brightfield core (dark pixels) is empty here: the mask's own
        // shape seeds the cells (bright cells without a dark part). The
        // closed neck between them is a ridge of the shape that can hold a
        // seed of its own (a known over-split: 3 objects here).
        let bright = segment(&z, d, &cfg, Appearance::Brightfield).regions.len();
        assert!((2..=3).contains(&bright), "{bright}");
    }
}
