//! Per-object shape statistics gathered in one pass over a label image.

use super::contour::outline;
use crate::image_types::LabelImage;

/// Shape facts of one labelled object.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    pub label: u32,
    pub area: u32,
    /// Mean x and y of the object's pixels (pixel centres at integer coordinates).
    pub centroid: (f64, f64),
    /// Inclusive bounding box: min x, min y, max x, max y.
    pub bbox: [u32; 4],
    /// Length of the smoothed outline ([`outline`]), pixels.
    pub perimeter: f64,
    /// Area the smoothed outline encloses, px²: about `area` − 0.5 for a
    /// compact object; with `perimeter`, it gives the circularity.
    pub outline_area: f64,
    pub touches_border: bool,
}

impl Region {
    /// Diameter of the disc with the same area.
    ///
    /// ```
    /// let r = cellvia::segment::regions::Region { label: 1, area: 314, centroid: (0.0, 0.0),
    ///     bbox: [0, 0, 0, 0], perimeter: 0.0, outline_area: 0.0, touches_border: false };
    /// assert!((r.equivalent_diameter() - 20.0).abs() < 0.01);
    /// ```
    pub fn equivalent_diameter(&self) -> f64 {
        equivalent_diameter(self.area)
    }

    /// 4π·area/perimeter² of the smoothed outline: below 1 for any shape,
    /// about 0.985 for a digital disc, small for lines.
    pub fn circularity(&self) -> f64 {
        if self.perimeter <= 0.0 {
            return 0.0;
        }
        4.0 * std::f64::consts::PI * self.outline_area / (self.perimeter * self.perimeter)
    }
}

/// The diameter of a disc of `area` pixels.
///
/// ```
/// assert_eq!(cellvia::segment::regions::equivalent_diameter(0), 0.0);
/// assert!((cellvia::segment::regions::equivalent_diameter(314) - 20.0).abs() < 0.01);
/// ```
pub fn equivalent_diameter(area: u32) -> f64 {
    (4.0 * f64::from(area) / std::f64::consts::PI).sqrt()
}

/// Statistics of labels 1..=n; entry `i` describes label `i + 1`.
///
/// ```
/// let l = cellvia::image_types::LabelImage::from_raw(3, 1, vec![0, 1, 1]).unwrap();
/// let r = cellvia::segment::regions::regions(&l, 1);
/// assert_eq!(r[0].area, 2);
/// assert_eq!(r[0].centroid, (1.5, 0.0));
/// assert!(r[0].touches_border);
/// ```
pub fn regions(labels: &LabelImage, n: u32) -> Vec<Region> {
    regions_traced_where(labels, n, |_| true)
}

/// [`regions`], with the outline (perimeter and outline area, the costly
/// part) traced only for regions `trace` accepts; the others keep 0 there
/// (circularity 0). For callers that drop regions on area or position first.
///
/// ```
/// use cellvia::segment::regions::regions_traced_where;
/// // Label 1: one pixel; label 2: a 4×4 square.
/// let l = cellvia::image_types::LabelImage::from_fn(10, 10, |x, y| {
///     image::Luma([if (x, y) == (0, 0) { 1 } else if (3..7).contains(&x) && (3..7).contains(&y) { 2 } else { 0 }])
/// });
/// let r = regions_traced_where(&l, 2, |r| r.area >= 2);
/// assert_eq!(r[0].perimeter, 0.0);
/// assert!(r[1].perimeter > 0.0 && r[1].circularity() > 0.8);
/// ```
pub fn regions_traced_where(
    labels: &LabelImage,
    n: u32,
    trace: impl Fn(&Region) -> bool,
) -> Vec<Region> {
    let (w, h) = labels.dimensions();
    let mut sums = vec![(0u32, 0u64, 0u64, [u32::MAX, u32::MAX, 0, 0], false); n as usize];
    let data = labels.as_raw();
    for y in 0..h {
        for x in 0..w {
            let l = data[(y * w + x) as usize];
            if l == 0 {
                continue;
            }
            let s = &mut sums[(l - 1) as usize];
            s.0 += 1;
            s.1 += u64::from(x);
            s.2 += u64::from(y);
            s.3 = [s.3[0].min(x), s.3[1].min(y), s.3[2].max(x), s.3[3].max(y)];
            s.4 |= x == 0 || y == 0 || x == w - 1 || y == h - 1;
        }
    }
    sums.iter()
        .enumerate()
        .map(|(i, &(area, sx, sy, bbox, border))| {
            let label = i as u32 + 1;
            let a = f64::from(area.max(1));
            let mut region = Region {
                label,
                area,
                centroid: (sx as f64 / a, sy as f64 / a),
                bbox,
                perimeter: 0.0,
                outline_area: 0.0,
                touches_border: border,
            };
            if area > 0 && trace(&region) {
                (region.perimeter, region.outline_area) = outline(labels, label, bbox);
            }
            region
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disc_is_round_and_line_is_not() {
        let disc = LabelImage::from_fn(41, 41, |x, y| {
            let r2 = (x as f64 - 20.0).powi(2) + (y as f64 - 20.0).powi(2);
            image::Luma([u32::from(r2 <= 144.0)])
        });
        let r = regions(&disc, 1)[0];
        assert!(
            (0.95..1.0).contains(&r.circularity()),
            "{}",
            r.circularity()
        );
        assert!((r.equivalent_diameter() - 24.0).abs() < 0.5);
        assert!(!r.touches_border);
        let line = LabelImage::from_fn(60, 9, |_, y| image::Luma([u32::from((3..6).contains(&y))]));
        assert!(regions(&line, 1)[0].circularity() < 0.25);
    }
}
