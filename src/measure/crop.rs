//! Fixed-size crops around each candidate, normalised to the object's own
//! size: the classifier's input.
//!
//! The window is a fixed multiple of the object's equivalent diameter, so a
//! cell fills the same share of its crop at any magnification and whatever
//! `--diameter` says: the model judges stain and structure, never size in
//! pixels (a model that saw size learned LDC's "dead cells are larger", which
//! is not true of other cell types).

use ndarray::Array4;

use super::ObjectMeasurement;
use crate::image_types::{FloatImage, LabelImage};

/// How crops are cut; part of a model's input contract, read from its metadata.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CropSpec {
    /// Side of the square crop fed to the model, pixels.
    pub size: usize,
    /// The crop window spans this many of the object's own equivalent diameters.
    pub context: f64,
    /// Weber contrast is multiplied by this, then clipped to ±`clip`.
    pub contrast_scale: f32,
    /// The dye channel (blue excess) is multiplied by this, then clipped to ±`clip`.
    pub dye_scale: f32,
    pub clip: f32,
}

/// Number of channels in a crop: scaled contrast, the object's own mask
/// (which of several touching objects is meant) and the dye (blue excess;
/// 0 for gray images).
pub const CROP_CHANNELS: usize = 3;

/// The smallest crop window, pixels: a speck of 2 px is not blown up into
/// something that looks like a cell of 16.
pub const MIN_WINDOW_PX: f64 = 8.0;

/// The images crops are cut from.
#[derive(Debug, Clone, Copy)]
pub struct CropSource<'a> {
    /// Weber contrast of the flattened image.
    pub contrast: &'a FloatImage,
    /// Blue excess ([`crate::preprocess::dye`]); `None` for gray images.
    pub dye: Option<&'a FloatImage>,
    pub labels: &'a LabelImage,
}

/// Cuts one crop per object, centred on its centroid, a window
/// `spec.context ×` its equivalent diameter wide (at least
/// [`MIN_WINDOW_PX`]), resampled bilinearly to `spec.size`². Pixels outside
/// the image read as background (0).
///
/// ```
/// use cellvia::measure::{crop::{crops, CropSource, CropSpec}, measure};
/// use cellvia::{image_types::*, segment::regions::regions};
/// // The same dark square at two magnifications gives the same crop.
/// let crop_of = |side: u32| {
///     let labels = LabelImage::from_fn(8 * side, 8 * side, |x, y| image::Luma([u32::from((3 * side..5 * side).contains(&x) && (3 * side..5 * side).contains(&y))]));
///     let contrast = FloatImage::from_fn(8 * side, 8 * side, |x, y| image::Luma([if labels.get_pixel(x, y).0[0] == 1 { -0.5 } else { 0.0 }]));
///     let objects = measure(&labels, &regions(&labels, 1), &contrast);
///     let spec = CropSpec { size: 8, context: 2.0, contrast_scale: 2.0, dye_scale: 3.0, clip: 4.0 };
///     crops(&CropSource { contrast: &contrast, dye: None, labels: &labels }, &objects, &spec)
/// };
/// let (small, large) = (crop_of(4), crop_of(12));
/// assert_eq!(small.shape(), &[1, 3, 8, 8]);
/// assert_eq!(small[[0, 1, 4, 4]], 1.0); // the object's mask at the centre
/// assert!(small[[0, 0, 4, 4]] < -0.9);
/// assert_eq!(small[[0, 2, 4, 4]], 0.0); // gray: no dye
/// assert_eq!(small.slice(ndarray::s![0, 1, .., ..]), large.slice(ndarray::s![0, 1, .., ..]));
/// ```
pub fn crops(source: &CropSource, objects: &[ObjectMeasurement], spec: &CropSpec) -> Array4<f32> {
    let n = spec.size;
    let mut out = Array4::<f32>::zeros((objects.len(), CROP_CHANNELS, n, n));
    let (w, h) = (
        source.contrast.width() as i64,
        source.contrast.height() as i64,
    );
    let label_data = source.labels.as_raw();
    for (k, obj) in objects.iter().enumerate() {
        let window = (spec.context * obj.diameter_px).max(MIN_WINDOW_PX);
        let step = window / n as f64;
        for row in 0..n {
            let sy = obj.y + (row as f64 + 0.5 - n as f64 / 2.0) * step;
            for col in 0..n {
                let sx = obj.x + (col as f64 + 0.5 - n as f64 / 2.0) * step;
                let c = bilinear(source.contrast.as_raw(), w, h, sx, sy) * spec.contrast_scale;
                out[[k, 0, row, col]] = c.clamp(-spec.clip, spec.clip);
                let (nx, ny) = (sx.round() as i64, sy.round() as i64);
                let inside = nx >= 0 && ny >= 0 && nx < w && ny < h;
                if inside && label_data[(ny * w + nx) as usize] == obj.id {
                    out[[k, 1, row, col]] = 1.0;
                }
                if let Some(dye) = source.dye {
                    let d = bilinear(dye.as_raw(), w, h, sx, sy) * spec.dye_scale;
                    out[[k, 2, row, col]] = d.clamp(-spec.clip, spec.clip);
                }
            }
        }
    }
    out
}

/// Bilinear sample of a `w × h` plane at (`x`, `y`) in pixel-centre
/// coordinates; outside the image reads 0.
fn bilinear(values: &[f32], w: i64, h: i64, x: f64, y: f64) -> f32 {
    let at = |x: i64, y: i64| -> f32 {
        if x < 0 || y < 0 || x >= w || y >= h {
            0.0
        } else {
            values[(y * w + x) as usize]
        }
    };
    let (x0, y0) = (x.floor(), y.floor());
    let (tx, ty) = ((x - x0) as f32, (y - y0) as f32);
    let (xi, yi) = (x0 as i64, y0 as i64);
    let top = at(xi, yi) * (1.0 - tx) + at(xi + 1, yi) * tx;
    let bottom = at(xi, yi + 1) * (1.0 - tx) + at(xi + 1, yi + 1) * tx;
    top * (1.0 - ty) + bottom * ty
}

/// Crop geometry used to build training data; a model records the spec it
/// was trained with in its metadata, and inference always follows the model.
pub const DEFAULT_CROP_SPEC: CropSpec = CropSpec {
    size: 32,
    // Two of the object's own diameters: the cell, its rim and halo, and
    // some neighbourhood.
    context: 2.0,
    // Cell contrasts are roughly ±0.5; ×3 brings them to the ±1.5 range nets train well on.
    contrast_scale: 3.0,
    // Trypan-stained cells measure a blue excess of 0.2–0.6 (synthetic colour
    // fields); ×3 puts it on the contrast channel's scale.
    dye_scale: 3.0,
    clip: 4.0,
};
