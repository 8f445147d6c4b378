//! `--diameter auto`: the typical cell diameter of a field, measured from
//! the field itself before it is segmented.
//!
//! A first pass that assumes no cell size: the background is the median of
//! large blocks (a quarter of the field's shorter side, so cells of up to
//! about a tenth of the field stay a minority of every block), every pixel
//! that deviates from it by more than [`SEED_SIGMA`] noise sigmas (grown to
//! [`EXTENT_SIGMA`]) is object, holes are filled, and the typical diameter is
//! the median equivalent diameter of the compact objects. Rulings (long,
//! thin, not compact), specks under [`MIN_OBJECT_DIAMETER_PX`] and objects
//! cut by the image border do not vote.

use crate::image_types::FloatImage;
use crate::preprocess::{
    gaussian_blur_in_place, map_with_block_median, remove_rulings, robust_sigma,
};

use super::runs::{Components, Connectivity};
use super::{fill, morphology, regions, threshold, Appearance};

/// First-pass thresholds in noise sigmas: stricter than the segmenter's own,
/// since nothing here knows what size of speck to ignore.
pub const SEED_SIGMA: f32 = 6.0;
pub const EXTENT_SIGMA: f32 = 3.0;

/// Objects smaller than this are noise and specks, whatever the cell size.
pub const MIN_OBJECT_DIAMETER_PX: f64 = 5.0;

/// An object fills at least this share of its bounding box to vote (a disc
/// fills 0.79; a ruling fragment or a diagonal streak far less).
const MIN_BOX_FILL: f64 = 0.4;

/// Objects smaller than this fraction of the area-weighted median diameter
/// are specks: low enough to keep dead cells half the size of live ones
/// even when clumps double the area-weighted median.
pub const SPECK_FRACTION: f64 = 0.25;

/// Fewer compact objects than this give no estimate.
pub const MIN_OBJECTS: usize = 3;

/// Smoothing before thresholding, pixels: suppresses single-pixel noise
/// without merging cells of the smallest size the estimate serves (8 px).
const SMOOTH_SIGMA: f32 = 1.0;

/// Background blocks span this fraction of the shorter image side, at least
/// [`MIN_BLOCK_PX`].
const BLOCK_FRACTION: u32 = 4;
const MIN_BLOCK_PX: u32 = 32;

/// A measured typical cell diameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiameterEstimate {
    /// Typical equivalent diameter of the compact first-pass objects
    /// ([`estimate`]), pixels.
    pub diameter_px: f64,
    /// How many objects voted.
    pub objects: usize,
}

/// Estimates the typical cell diameter of a field of 0..=1 intensities;
/// `None` when fewer than [`MIN_OBJECTS`] objects can be measured.
///
/// ```
/// use cellvia::{image_types::FloatImage, segment::{scale::estimate_diameter, Appearance}};
/// // Dark discs of diameter 30 on a lit, slightly noisy field.
/// let field = FloatImage::from_fn(300, 300, |x, y| {
///     let (cx, cy) = (50.0 + 100.0 * (x / 100) as f32, 50.0 + 100.0 * (y / 100) as f32);
///     let inside = (x as f32 - cx).hypot(y as f32 - cy) < 15.0;
///     image::Luma([if inside { 0.3 } else { 0.6 + 0.01 * ((x * 7 + y * 13) % 5) as f32 }])
/// });
/// let e = estimate_diameter(&field, Appearance::Brightfield).unwrap();
/// assert_eq!(e.objects, 9);
/// // The rim of a hard edge adds a little: within ±15 %.
/// assert!((e.diameter_px / 30.0 - 1.0).abs() < 0.15, "{}", e.diameter_px);
/// ```
pub fn estimate_diameter(
    intensity: &FloatImage,
    appearance: Appearance,
) -> Option<DiameterEstimate> {
    estimate(&object_diameters(intensity, appearance))
}

/// The typical diameter of a set of first-pass object diameters (one
/// field's, or a whole sample's pooled): the median of the objects at least
/// [`SPECK_FRACTION`] of their area-weighted median. The area-weighted median
/// alone is not outvoted by a crowd of small specks, but clumps inflate it
/// (+20–100 % on synthetic fields with 15 % clumped cells); the plain median
/// of what is left after dropping specks relative to it is within ±13 % of
/// the true diameter on synthetic fields of 10–120 px cells, and measures
/// LDC's cells (labelled boxes 21 px) at 24 px, their rims included.
///
/// ```
/// use cellvia::segment::scale::estimate;
/// // Three cells of ~20 px, one clump of 40, three specks of 5.
/// let e = estimate(&[20.0, 21.0, 19.0, 40.0, 5.0, 5.0, 5.0]).unwrap();
/// assert_eq!(e.diameter_px, 20.5);
/// assert!(estimate(&[20.0, 21.0]).is_none());
/// ```
pub fn estimate(diameters: &[f64]) -> Option<DiameterEstimate> {
    if diameters.len() < MIN_OBJECTS {
        return None;
    }
    let mut sorted = diameters.to_vec();
    sorted.sort_by(f64::total_cmp);
    let total: f64 = sorted.iter().map(|d| d * d).sum();
    let mut acc = 0.0;
    let area_weighted = sorted
        .iter()
        .find(|&&d| {
            acc += d * d;
            acc >= 0.5 * total
        })
        .copied()
        .unwrap_or(sorted[sorted.len() - 1]);
    let kept = &sorted[sorted.partition_point(|&d| d < SPECK_FRACTION * area_weighted)..];
    let mid = kept.len() / 2;
    let median = if kept.len().is_multiple_of(2) {
        0.5 * (kept[mid - 1] + kept[mid])
    } else {
        kept[mid]
    };
    Some(DiameterEstimate {
        diameter_px: median,
        objects: kept.len(),
    })
}

/// Equivalent diameters of the compact objects a first pass finds in a
/// field of 0..=1 intensities, pixels (see the module documentation).
pub fn object_diameters(intensity: &FloatImage, appearance: Appearance) -> Vec<f64> {
    let (w, h) = intensity.dimensions();
    let block = (w.min(h) / BLOCK_FRACTION).max(MIN_BLOCK_PX);
    let mut deviation = match appearance {
        Appearance::Brightfield => {
            map_with_block_median(intensity, block, |i, b| (i - b) / b.max(0.02))
        }
        Appearance::Fluorescent => map_with_block_median(intensity, block, |i, b| i - b),
    };
    if appearance == Appearance::Brightfield {
        remove_rulings(&mut deviation);
    }
    let mut z = deviation;
    gaussian_blur_in_place(&mut z, SMOOTH_SIGMA);
    let sigma = robust_sigma(z.as_raw()).max(1e-6);
    z.as_mut().iter_mut().for_each(|v| *v /= sigma);
    let mut mask = threshold::hysteresis(&z, EXTENT_SIGMA, SEED_SIGMA);
    // Freed before hole filling: the first pass of a field analysed alone
    // runs beside its decoded image and must not peak above segmentation.
    drop(z);
    morphology::close(&mut mask, 1);
    fill::fill_holes(&mut mask, (w as usize * h as usize) / 4);
    // Area and box straight from the mask's runs: the estimate needs no
    // label image and no outlines. An object touches the image edge exactly
    // when its box does.
    let (w, h) = (w as usize, h as usize);
    Components::of(mask.as_raw(), w, |&v| v != 0, Connectivity::Eight)
        .extents()
        .into_iter()
        .filter(|e| {
            let border = e.x0 == 0 || e.y0 == 0 || e.x1 == w || e.y1 == h;
            let box_area = ((e.x1 - e.x0) * (e.y1 - e.y0)) as f64;
            !border
                && regions::equivalent_diameter(e.area as u32) >= MIN_OBJECT_DIAMETER_PX
                && e.area as f64 >= MIN_BOX_FILL * box_area
        })
        .map(|e| regions::equivalent_diameter(e.area as u32))
        .collect()
}

/// The diameter range of a measured field spans these multiples of its
/// typical diameter: wide enough that dead cells half the size of live
/// ones, or 1.6 times it, are segmented alike (cellvia must not decide live
/// or dead by size), and on LDC's images (measured 24.3 px, pooled over all
/// 2,193) it gives 12–39 px, the fixed range set by hand on them before.
pub const AUTO_RANGE_FACTORS: (f64, f64) = (0.5, 1.6);

/// Where a field's diameter range came from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DiameterSource {
    /// Given by `--diameter`, `--diameter-um` or the config.
    Fixed,
    /// Measured from the field ([`estimate_diameter`]).
    Measured,
    /// Too few objects to measure: [`crate::config::FALLBACK_DIAMETER_PX`].
    Fallback,
}

/// The diameter range a field was analysed with, and how it was found.
#[derive(
    Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct FieldDiameter {
    pub source: DiameterSource,
    /// The range used, pixels.
    pub min_px: f64,
    pub max_px: f64,
    /// The measured typical diameter the range was set from (pooled over the
    /// field's sample when the fields were measured together), pixels.
    pub measured_px: Option<f64>,
    /// Objects that voted for `measured_px`.
    pub objects: Option<usize>,
    /// This field's own measurement, when it holds enough objects.
    pub field_px: Option<f64>,
}

impl FieldDiameter {
    /// The fixed range when the settings give one, else the range of the
    /// `pooled` estimate (the field's sample), else of the field's own
    /// (`own`: its first-pass object diameters), else the fallback.
    ///
    /// ```
    /// use cellvia::config::DiameterRange;
    /// use cellvia::segment::scale::{estimate, DiameterSource, FieldDiameter};
    /// let fixed = DiameterRange { min: 10.0, max: 20.0 };
    /// let d = FieldDiameter::resolve(Some(fixed), None, &[]);
    /// assert_eq!((d.source, d.range()), (DiameterSource::Fixed, fixed));
    /// assert_eq!(FieldDiameter::resolve(None, None, &[]).source, DiameterSource::Fallback);
    /// let own = [20.0, 20.0, 20.0];
    /// let d = FieldDiameter::resolve(None, estimate(&[30.0; 9]), &own);
    /// assert_eq!((d.measured_px, d.field_px, d.max_px), (Some(30.0), Some(20.0), 48.0));
    /// ```
    pub fn resolve(
        fixed: Option<crate::config::DiameterRange>,
        pooled: Option<DiameterEstimate>,
        own: &[f64],
    ) -> Self {
        let field = estimate(own);
        let (source, range, used) = match (fixed, pooled.or(field)) {
            (Some(range), _) => (DiameterSource::Fixed, range, None),
            (None, Some(e)) => (
                DiameterSource::Measured,
                crate::config::DiameterRange {
                    min: AUTO_RANGE_FACTORS.0 * e.diameter_px,
                    max: AUTO_RANGE_FACTORS.1 * e.diameter_px,
                },
                Some(e),
            ),
            (None, None) => (
                DiameterSource::Fallback,
                crate::config::FALLBACK_DIAMETER_PX,
                None,
            ),
        };
        // Rounded before use, so the range in the results is the one used.
        let round2 = |v: f64| (v * 100.0).round() / 100.0;
        Self {
            source,
            min_px: round2(range.min),
            max_px: round2(range.max),
            measured_px: used.map(|e| round2(e.diameter_px)),
            objects: used.map(|e| e.objects),
            field_px: field.map(|e| round2(e.diameter_px)),
        }
    }

    /// The range segmentation uses.
    pub fn range(&self) -> crate::config::DiameterRange {
        crate::config::DiameterRange {
            min: self.min_px,
            max: self.max_px,
        }
    }
}

/// Most fields of one sample whose objects are pooled into its scale: its
/// first ones, in input order. A median of that many fields' objects does
/// not move with more, and a shard (`--shard K/N`) must measure these
/// fields of every sample it touches: with every field pooled, 16 shards of
/// one 64-field sample each measured all 64 (19–24 s a shard against 4.8 s
/// for the whole unsharded run on 16 threads), and a million-field sample
/// would cost every shard a million first passes. 500 keeps every figure
/// of the README's accuracy table (held-out sets of 446 fields) as it was.
pub const MAX_POOLED_FIELDS: usize = 500;

/// Each field's diameter, measured over its sample: `own[i]` is field
/// `i`'s first-pass object diameters and `sample_of[i]` its sample; the
/// first `max_fields` fields of each sample vote ([`MAX_POOLED_FIELDS`] in
/// an analysis; every one in `cellvia dataset`, as the shipped model was
/// trained). Pooling lets
/// fields with one or two cells be analysed at the scale of their sample's
/// hundreds; each field still reports its own measurement.
///
/// ```
/// use cellvia::segment::scale::{pool_by_sample, DiameterSource, FieldDiameter};
/// let own = vec![vec![30.0; 5], vec![31.0], vec![10.0; 4]];
/// let d = pool_by_sample(&own, &[0, 0, 1], 500);
/// assert_eq!(d[1].source, DiameterSource::Measured); // one object, but its sample has six
/// assert_eq!((d[1].measured_px, d[1].field_px), (Some(30.0), None));
/// assert_eq!(d[2].measured_px, Some(10.0));
/// // Only a sample's first `max_fields` fields vote.
/// let capped = pool_by_sample(&[vec![30.0; 5], vec![60.0; 9]], &[0, 0], 1);
/// assert_eq!(capped[1].measured_px, Some(30.0));
/// // A field alone in its sample gets the range of its own measurement,
/// // which is how `analyze` measures it without a first pass.
/// let own = [18.0, 19.0, 20.0, 20.0, 21.0, 22.0, 24.0];
/// let alone = pool_by_sample(&[own.to_vec()], &[0], 500);
/// assert_eq!(alone[0].source, DiameterSource::Measured);
/// assert_eq!(alone[0], FieldDiameter::resolve(None, None, &own));
/// ```
pub fn pool_by_sample(
    own: &[Vec<f64>],
    sample_of: &[usize],
    max_fields: usize,
) -> Vec<FieldDiameter> {
    let samples = sample_of.iter().max().map_or(0, |&m| m + 1);
    let mut pooled_diameters = vec![Vec::new(); samples];
    let mut voters = vec![0usize; samples];
    for (diameters, &s) in own.iter().zip(sample_of) {
        if voters[s] < max_fields {
            voters[s] += 1;
            pooled_diameters[s].extend_from_slice(diameters);
        }
    }
    let pooled: Vec<Option<DiameterEstimate>> =
        pooled_diameters.iter().map(|d| estimate(d)).collect();
    own.iter()
        .zip(sample_of)
        .map(|(diameters, &s)| FieldDiameter::resolve(None, pooled[s], diameters))
        .collect()
}
