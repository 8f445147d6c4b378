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
use image::ImageBuffer;

use crate::image_types::{FloatImage, LabelImage};
use crate::preprocess::dye::DyeWindows;
use crate::preprocess::Contrast;

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

/// Where crops read a field's plane (the flattened image's contrast, the
/// dye): a window of it on request, so the whole plane need not be kept.
pub trait PlaneWindows: std::fmt::Debug {
    /// The field's width and height.
    fn dimensions(&self) -> (u32, u32);
    /// Columns `x0..x1`, rows `y0..y1` (within the field).
    fn window(&self, x0: u32, y0: u32, x1: u32, y1: u32) -> FloatImage;
}

/// A whole plane (tests, benches, data made without flattening; the dye
/// of an image not kept as decoded).
impl PlaneWindows for FloatImage {
    fn dimensions(&self) -> (u32, u32) {
        ImageBuffer::dimensions(self)
    }

    fn window(&self, x0: u32, y0: u32, x1: u32, y1: u32) -> FloatImage {
        image::imageops::crop_imm(self, x0, y0, x1 - x0, y1 - y0).to_image()
    }
}

/// A flattened field's [`Contrast`], recomputed from its intensity.
#[derive(Debug, Clone, Copy)]
pub struct FlattenedContrast<'a> {
    pub contrast: &'a Contrast,
    pub intensity: &'a FloatImage,
}

impl PlaneWindows for FlattenedContrast<'_> {
    fn dimensions(&self) -> (u32, u32) {
        self.intensity.dimensions()
    }

    fn window(&self, x0: u32, y0: u32, x1: u32, y1: u32) -> FloatImage {
        self.contrast.window(self.intensity, x0, y0, x1, y1)
    }
}

/// The dye of a colour field, from its decoded image.
impl PlaneWindows for DyeWindows {
    fn dimensions(&self) -> (u32, u32) {
        DyeWindows::dimensions(self)
    }

    fn window(&self, x0: u32, y0: u32, x1: u32, y1: u32) -> FloatImage {
        DyeWindows::window(self, x0, y0, x1, y1)
    }
}

/// The images crops are cut from.
#[derive(Debug, Clone, Copy)]
pub struct CropSource<'a> {
    /// Weber contrast of the flattened image.
    pub contrast: &'a dyn PlaneWindows,
    /// Blue excess ([`crate::preprocess::dye`]); `None` for gray images.
    pub dye: Option<&'a dyn PlaneWindows>,
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
    let (width, height) = source.contrast.dimensions();
    let (w, h) = (i64::from(width), i64::from(height));
    let label_data = source.labels.as_raw();
    for (k, obj) in objects.iter().enumerate() {
        let window = (spec.context * obj.diameter_px).max(MIN_WINDOW_PX);
        let step = window / n as f64;
        let sample_at = |centre: f64, i: usize| centre + (i as f64 + 0.5 - n as f64 / 2.0) * step;
        // The pixels the bilinear samples read: from the first sample's
        // floor to the last's floor + 1, within the image.
        let span = |centre: f64, side: u32| {
            let first = sample_at(centre, 0).floor().clamp(0.0, f64::from(side)) as u32;
            let last = (sample_at(centre, n - 1).floor() + 2.0).clamp(0.0, f64::from(side)) as u32;
            (first, last.max(first))
        };
        let ((x0, x1), (y0, y1)) = (span(obj.x, width), span(obj.y, height));
        let contrast = source.contrast.window(x0, y0, x1, y1);
        let dye = source.dye.map(|d| d.window(x0, y0, x1, y1));
        let window_size = (i64::from(x1 - x0), i64::from(y1 - y0));
        let window_at = (i64::from(x0), i64::from(y0));
        for row in 0..n {
            let sy = sample_at(obj.y, row);
            for col in 0..n {
                let sx = sample_at(obj.x, col);
                let c = bilinear(contrast.as_raw(), window_size, window_at, sx, sy)
                    * spec.contrast_scale;
                out[[k, 0, row, col]] = c.clamp(-spec.clip, spec.clip);
                let (nx, ny) = (sx.round() as i64, sy.round() as i64);
                let inside = nx >= 0 && ny >= 0 && nx < w && ny < h;
                if inside && label_data[(ny * w + nx) as usize] == obj.id {
                    out[[k, 1, row, col]] = 1.0;
                }
                if let Some(dye) = &dye {
                    let d = bilinear(dye.as_raw(), window_size, window_at, sx, sy) * spec.dye_scale;
                    out[[k, 2, row, col]] = d.clamp(-spec.clip, spec.clip);
                }
            }
        }
    }
    out
}

/// Bilinear sample at (`x`, `y`), pixel-centre coordinates of the image,
/// of a `size` plane whose first pixel is the image's pixel `at` (a window
/// of it, or the whole image at (0, 0)); pixels it does not hold read 0.
fn bilinear(values: &[f32], size: (i64, i64), at: (i64, i64), x: f64, y: f64) -> f32 {
    let (w, h) = size;
    let pixel = |x: i64, y: i64| -> f32 {
        let (x, y) = (x - at.0, y - at.1);
        if x < 0 || y < 0 || x >= w || y >= h {
            0.0
        } else {
            values[(y * w + x) as usize]
        }
    };
    let (x0, y0) = (x.floor(), y.floor());
    let (tx, ty) = ((x - x0) as f32, (y - y0) as f32);
    let (xi, yi) = (x0 as i64, y0 as i64);
    let top = pixel(xi, yi) * (1.0 - tx) + pixel(xi + 1, yi) * tx;
    let bottom = pixel(xi, yi + 1) * (1.0 - tx) + pixel(xi + 1, yi + 1) * tx;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::measure;
    use crate::segment::regions::regions;
    use proptest::prelude::*;

    /// A channel as cut before windows: bilinear samples of the whole
    /// plane, times `scale`.
    fn reference_channel(
        plane: &FloatImage,
        obj: &ObjectMeasurement,
        spec: &CropSpec,
        scale: f32,
    ) -> Vec<f32> {
        let n = spec.size;
        let (w, h) = (i64::from(plane.width()), i64::from(plane.height()));
        let step = (spec.context * obj.diameter_px).max(MIN_WINDOW_PX) / n as f64;
        let mut out = Vec::new();
        for row in 0..n {
            let sy = obj.y + (row as f64 + 0.5 - n as f64 / 2.0) * step;
            for col in 0..n {
                let sx = obj.x + (col as f64 + 0.5 - n as f64 / 2.0) * step;
                let c = bilinear(plane.as_raw(), (w, h), (0, 0), sx, sy) * scale;
                out.push(c.clamp(-spec.clip, spec.clip));
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Reading windows gives the crops the whole plane gives, for
        /// objects anywhere, at the edges included.
        #[test]
        fn windows_give_the_whole_planes_crops(
            w in 4u32..90, h in 4u32..90, seed in 0u32..1000,
            boxes in proptest::collection::vec((0u32..90, 0u32..90, 1u32..30, 1u32..30), 1..6),
            context in 0.6f64..6.0,
        ) {
            let mut labels = LabelImage::new(w, h);
            for (id, &(x, y, bw, bh)) in boxes.iter().enumerate() {
                for yy in y.min(h - 1)..(y + bh).min(h) {
                    for xx in x.min(w - 1)..(x + bw).min(w) {
                        labels.put_pixel(xx, yy, image::Luma([id as u32 + 1]));
                    }
                }
            }
            let plane = FloatImage::from_fn(w, h, |x, y| {
                image::Luma([((x * 31 + y * 17 + seed) % 97) as f32 / 97.0 - 0.5])
            });
            let dye = FloatImage::from_fn(w, h, |x, y| {
                image::Luma([((x * 7 + y * 29 + seed) % 89) as f32 / 89.0 - 0.3])
            });
            let objects = measure(&labels, &regions(&labels, boxes.len() as u32), &plane);
            let spec = CropSpec { context, ..DEFAULT_CROP_SPEC };
            let source = CropSource { contrast: &plane, dye: Some(&dye), labels: &labels };
            let cut = crops(&source, &objects, &spec);
            for (k, obj) in objects.iter().enumerate() {
                for (channel, plane, scale) in [(0, &plane, spec.contrast_scale), (2, &dye, spec.dye_scale)] {
                    let got: Vec<u32> = cut.slice(ndarray::s![k, channel, .., ..]).iter().map(|v| v.to_bits()).collect();
                    let want: Vec<u32> = reference_channel(plane, obj, &spec, scale).iter().map(|v| v.to_bits()).collect();
                    prop_assert_eq!(got, want);
                }
            }
        }
    }
}
