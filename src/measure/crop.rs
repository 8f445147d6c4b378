//! Fixed-size, scale-normalised crops around each candidate: the classifier's input.

use ndarray::Array4;

use super::ObjectMeasurement;
use crate::image_types::{FloatImage, LabelImage};

/// How crops are cut; part of a model's input contract, read from its metadata.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CropSpec {
    /// Side of the square crop fed to the model, pixels.
    pub size: usize,
    /// The crop window spans this many typical cell diameters of the image.
    pub context: f64,
    /// Weber contrast is multiplied by this, then clipped to ±`clip`.
    pub contrast_scale: f32,
    pub clip: f32,
}

/// Number of channels in a crop: scaled contrast, and the object's own mask
/// (which of several touching objects is meant).
pub const CROP_CHANNELS: usize = 2;

/// Cuts one crop per object, centred on its centroid, window
/// `spec.context × typical_diameter` wide, resampled bilinearly to
/// `spec.size`². Pixels outside the image read as background (0).
///
/// ```
/// use cellvia::measure::{crop::{crops, CropSpec}, measure};
/// use cellvia::{image_types::*, segment::regions::regions};
/// let labels = LabelImage::from_fn(20, 20, |x, y| image::Luma([u32::from((8..12).contains(&x) && (8..12).contains(&y))]));
/// let contrast = FloatImage::from_fn(20, 20, |x, y| image::Luma([if labels.get_pixel(x, y).0[0] == 1 { -0.5 } else { 0.0 }]));
/// let objects = measure(&labels, &regions(&labels, 1), &contrast);
/// let spec = CropSpec { size: 8, context: 2.0, contrast_scale: 2.0, clip: 4.0 };
/// let t = crops(&contrast, &labels, &objects, 4.0, &spec);
/// assert_eq!(t.shape(), &[1, 2, 8, 8]);
/// assert_eq!(t[[0, 1, 4, 4]], 1.0); // the object's mask at the centre
/// assert!(t[[0, 0, 4, 4]] < -0.9);
/// ```
pub fn crops(
    contrast: &FloatImage,
    labels: &LabelImage,
    objects: &[ObjectMeasurement],
    typical_diameter: f64,
    spec: &CropSpec,
) -> Array4<f32> {
    let n = spec.size;
    let mut out = Array4::<f32>::zeros((objects.len(), CROP_CHANNELS, n, n));
    let (w, h) = (contrast.width() as i64, contrast.height() as i64);
    let values = contrast.as_raw();
    let label_data = labels.as_raw();
    let step = spec.context * typical_diameter / n as f64;
    let sample = |x: i64, y: i64| -> f32 {
        if x < 0 || y < 0 || x >= w || y >= h {
            0.0
        } else {
            values[(y * w + x) as usize]
        }
    };
    for (k, obj) in objects.iter().enumerate() {
        for row in 0..n {
            let sy = obj.y + (row as f64 + 0.5 - n as f64 / 2.0) * step;
            let y0 = sy.floor();
            let ty = (sy - y0) as f32;
            for col in 0..n {
                let sx = obj.x + (col as f64 + 0.5 - n as f64 / 2.0) * step;
                let x0 = sx.floor();
                let tx = (sx - x0) as f32;
                let (xi, yi) = (x0 as i64, y0 as i64);
                let top = sample(xi, yi) * (1.0 - tx) + sample(xi + 1, yi) * tx;
                let bottom = sample(xi, yi + 1) * (1.0 - tx) + sample(xi + 1, yi + 1) * tx;
                let c = (top * (1.0 - ty) + bottom * ty) * spec.contrast_scale;
                out[[k, 0, row, col]] = c.clamp(-spec.clip, spec.clip);
                let (nx, ny) = (sx.round() as i64, sy.round() as i64);
                let inside = nx >= 0 && ny >= 0 && nx < w && ny < h;
                if inside && label_data[(ny * w + nx) as usize] == obj.id {
                    out[[k, 1, row, col]] = 1.0;
                }
            }
        }
    }
    out
}

/// Crop geometry used to build training data; a model records the spec it
/// was trained with in its metadata, and inference always follows the model.
pub const DEFAULT_CROP_SPEC: CropSpec = CropSpec {
    size: 32,
    // Two typical diameters: the cell, its rim and halo, and some neighbourhood.
    context: 2.0,
    // Cell contrasts are roughly ±0.5; ×3 brings them to the ±1.5 range nets train well on.
    contrast_scale: 3.0,
    clip: 4.0,
};
