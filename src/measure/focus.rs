//! Focus: how wide the objects' edges are.
//!
//! Around each object, the steepest gradient of the smoothed image is
//! compared with the object's contrast range: for an edge of height H
//! blurred by a Gaussian of sigma s, the steepest slope is H / (s √(2π)), so
//! range / steepest slope = s √(2π) is the edge width in pixels, whatever the
//! stain's contrast. Defocus widens every edge; the median over a field's
//! cells is its focus figure ([`crate::aggregate::record::ImageQuality::edge_width_px`]).

use crate::image_types::FloatImage;
use crate::segment::regions::Region;

/// Pixels added around an object's box so its whole edge (and the
/// background beside it) is in view, as a fraction of its diameter.
const MARGIN_PER_DIAMETER: f64 = 0.25;
/// ... and at least this many pixels.
const MIN_MARGIN_PX: u32 = 2;

/// Edge width in pixels of each object (`f32::NAN` for an object with no
/// contrast at all), measured on `smoothed` (any image where objects differ
/// from their background: z-scores, contrast). Only the objects' boxes and
/// areas are read, so it runs straight after segmentation and the smoothed
/// plane can be freed before the intensities are measured.
///
/// ```
/// use cellvia::measure::focus::edge_widths;
/// use cellvia::segment::regions::regions;
/// // A sharp 12-px disc and the same disc blurred (sigma 3 px).
/// let disc = image::ImageBuffer::from_fn(48, 48, |x, y| {
///     let d = ((x as f32 - 24.0).powi(2) + (y as f32 - 24.0).powi(2)).sqrt();
///     image::Luma([if d < 6.0 { 1.0f32 } else { 0.0 }])
/// });
/// let blurred = imageproc::filter::gaussian_blur_f32(&disc, 3.0);
/// let labels = image::ImageBuffer::from_fn(48, 48, |x, y| image::Luma([u32::from(disc.get_pixel(x, y).0[0] > 0.5)]));
/// let objects = regions(&labels, 1);
/// let sharp = edge_widths(&disc, &objects)[0];
/// let soft = edge_widths(&blurred, &objects)[0];
/// assert!(sharp < 2.5 && soft > 6.0, "{sharp} {soft}");
/// ```
pub fn edge_widths(smoothed: &FloatImage, objects: &[Region]) -> Vec<f32> {
    let (w, h) = smoothed.dimensions();
    objects
        .iter()
        .map(|o| {
            let margin =
                ((o.equivalent_diameter() * MARGIN_PER_DIAMETER).ceil() as u32).max(MIN_MARGIN_PX);
            let x0 = o.bbox[0].saturating_sub(margin).max(1);
            let y0 = o.bbox[1].saturating_sub(margin).max(1);
            let x1 = (o.bbox[2] + margin).min(w.saturating_sub(2));
            let y1 = (o.bbox[3] + margin).min(h.saturating_sub(2));
            let (mut lo, mut hi, mut steepest) = (f32::INFINITY, f32::NEG_INFINITY, 0.0f32);
            for y in y0..=y1 {
                for x in x0..=x1 {
                    let v = smoothed.get_pixel(x, y).0[0];
                    lo = lo.min(v);
                    hi = hi.max(v);
                    let dx = smoothed.get_pixel(x + 1, y).0[0] - smoothed.get_pixel(x - 1, y).0[0];
                    let dy = smoothed.get_pixel(x, y + 1).0[0] - smoothed.get_pixel(x, y - 1).0[0];
                    steepest = steepest.max(0.5 * dx.hypot(dy));
                }
            }
            if steepest > 0.0 && hi > lo {
                (hi - lo) / steepest
            } else {
                f32::NAN
            }
        })
        .collect()
}

/// The median of the finite values, `None` when there are none.
///
/// ```
/// use cellvia::measure::focus::median_finite;
/// assert_eq!(median_finite([3.0, f32::NAN, 1.0, 2.0]), Some(2.0));
/// assert_eq!(median_finite([f32::NAN]), None);
/// ```
pub fn median_finite(values: impl IntoIterator<Item = f32>) -> Option<f32> {
    let mut v: Vec<f32> = values.into_iter().filter(|x| x.is_finite()).collect();
    (!v.is_empty()).then(|| crate::preprocess::median_in_place(&mut v))
}
