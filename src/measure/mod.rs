//! Measurements of each candidate: shape (from [`crate::segment::regions`])
//! plus intensities, and fixed-size crops for the classifier ([`crop`]).

pub mod crop;
pub mod focus;
pub mod polygon;

use serde::{Deserialize, Serialize};

use crate::image_types::{FloatImage, LabelImage};
use crate::segment::regions::Region;

/// Plainly named measurements of one candidate object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectMeasurement {
    /// 1-based id, equal to the object's label.
    pub id: u32,
    /// Centroid x, pixels.
    pub x: f64,
    /// Centroid y, pixels.
    pub y: f64,
    pub area_px: u32,
    /// Equivalent diameter (of the disc with the same area), pixels.
    pub diameter_px: f64,
    pub circularity: f64,
    /// Mean, min and max intensity of the object's pixels, 0..=1.
    pub mean_intensity: f64,
    pub min_intensity: f64,
    pub max_intensity: f64,
    /// Inclusive bounding box [x_min, y_min, x_max, y_max].
    pub bbox: [u32; 4],
    pub touches_border: bool,
}

/// Measures every region on the intensity image (0..=1).
///
/// ```
/// use cellvia::{image_types::{FloatImage, LabelImage}, segment::regions::regions};
/// let labels = LabelImage::from_raw(3, 1, vec![1, 1, 0]).unwrap();
/// let intensity = FloatImage::from_raw(3, 1, vec![0.2, 0.4, 1.0]).unwrap();
/// let m = cellvia::measure::measure(&labels, &regions(&labels, 1), &intensity);
/// assert!((m[0].mean_intensity - 0.3).abs() < 1e-6);
/// assert_eq!(m[0].max_intensity, 0.4f32 as f64);
/// ```
pub fn measure(
    labels: &LabelImage,
    regions: &[Region],
    intensity: &FloatImage,
) -> Vec<ObjectMeasurement> {
    let mut stats = vec![(0.0f64, f32::INFINITY, f32::NEG_INFINITY); regions.len()];
    for (&l, &v) in labels.as_raw().iter().zip(intensity.as_raw()) {
        if l == 0 {
            continue;
        }
        let s = &mut stats[(l - 1) as usize];
        s.0 += f64::from(v);
        s.1 = s.1.min(v);
        s.2 = s.2.max(v);
    }
    regions
        .iter()
        .zip(stats)
        .map(|(r, (sum, min, max))| ObjectMeasurement {
            id: r.label,
            x: r.centroid.0,
            y: r.centroid.1,
            area_px: r.area,
            diameter_px: r.equivalent_diameter(),
            circularity: r.circularity(),
            mean_intensity: sum / f64::from(r.area.max(1)),
            min_intensity: f64::from(min),
            max_intensity: f64::from(max),
            bbox: r.bbox,
            touches_border: r.touches_border,
        })
        .collect()
}

/// Fluorescence stains of one object: mean background-subtracted AO (green)
/// and PI (red) signal, 0..=1 of full scale, and the mean z (robust noise
/// sigmas) of the combined signal the object was segmented on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StainSignal {
    pub ao: f64,
    pub pi: f64,
    pub z: f64,
}

impl StainSignal {
    /// PI / (AO + PI), negative signals counted as 0; 0 when both are.
    ///
    /// ```
    /// let s = cellvia::measure::StainSignal { ao: 0.1, pi: 0.3, z: 40.0 };
    /// assert!((s.pi_fraction() - 0.75).abs() < 1e-12);
    /// ```
    pub fn pi_fraction(&self) -> f64 {
        let (ao, pi) = (self.ao.max(0.0), self.pi.max(0.0));
        if ao + pi > 0.0 {
            pi / (ao + pi)
        } else {
            0.0
        }
    }
}

/// The mean of `plane` over each of the `n` labelled objects (label `i + 1`
/// at index `i`; 0 for a label with no pixels), summed in f64.
///
/// ```
/// use cellvia::image_types::{FloatImage, LabelImage};
/// let labels = LabelImage::from_raw(4, 1, vec![2, 1, 2, 0]).unwrap();
/// let plane = FloatImage::from_raw(4, 1, vec![1.0, 5.0, 3.0, 9.0]).unwrap();
/// assert_eq!(cellvia::measure::object_means(&labels, 3, &plane), vec![5.0, 2.0, 0.0]);
/// ```
pub fn object_means(labels: &LabelImage, n: usize, plane: &FloatImage) -> Vec<f64> {
    let mut sums = vec![(0.0f64, 0u32); n];
    for (&l, &v) in labels.as_raw().iter().zip(plane.as_raw()) {
        if l == 0 {
            continue;
        }
        let (sum, count) = &mut sums[(l - 1) as usize];
        *sum += f64::from(v);
        *count += 1;
    }
    sums.into_iter()
        .map(|(sum, count)| sum / f64::from(count.max(1)))
        .collect()
}
