//! An object's outline length and enclosed area, for circularity.
//!
//! Counting pixel edges overstates a digital disc's perimeter by the
//! staircase (4/π), and a corrected edge count understates small discs, so
//! most cells read exactly 1 once capped: 79 % of held-out LDC cells did. The
//! outline here is the 0.5 level of the object's indicator after a 3×3 mean,
//! traced by marching squares with linear interpolation: a polygon with
//! sub-pixel corners that follows straight edges at the pixel boundary and
//! rounds the staircase. Area and length come from the same polygon, so
//! 4π·area/length² stays below 1 (the isoperimetric inequality) without a
//! cap. Measured with the Python twin of this code: discs of radius 2–40 px
//! at random sub-pixel centres read 0.93–0.99 (0.985 from radius 5 on), a 2:1
//! ellipse 0.826 (exact: 0.841), a 3 × 60 px bar 0.147.

use crate::image_types::LabelImage;

/// The iso-level of the smoothed indicator: halfway between object and background.
const LEVEL: f32 = 0.5;

/// Length and enclosed area of the smoothed outline of label `label`, whose
/// inclusive bounding box is `bbox` (min x, min y, max x, max y); pixels
/// outside the image count as background.
///
/// ```
/// use cellvia::segment::contour::outline;
/// let disc = cellvia::image_types::LabelImage::from_fn(31, 31, |x, y| {
///     let r2 = (x as f64 - 15.0).powi(2) + (y as f64 - 15.0).powi(2);
///     image::Luma([u32::from(r2 <= 100.0)])
/// });
/// let (length, area) = outline(&disc, 1, [5, 5, 25, 25]);
/// let circularity = 4.0 * std::f64::consts::PI * area / (length * length);
/// assert!((0.97..1.0).contains(&circularity), "{circularity}");
/// ```
pub fn outline(labels: &LabelImage, label: u32, bbox: [u32; 4]) -> (f64, f64) {
    // The smoothed indicator reaches 2 px beyond the box; sample it on a grid
    // of pixel centres from min − 2 to max + 2.
    let (w, h) = (i64::from(labels.width()), i64::from(labels.height()));
    let (x0, y0) = (i64::from(bbox[0]) - 2, i64::from(bbox[1]) - 2);
    let gw = (i64::from(bbox[2]) + 2 - x0 + 1) as usize;
    let gh = (i64::from(bbox[3]) + 2 - y0 + 1) as usize;
    let data = labels.as_raw();
    let is_object = |x: i64, y: i64| -> u8 {
        u8::from(x >= 0 && y >= 0 && x < w && y < h && data[(y * w + x) as usize] == label)
    };
    // Column sums of three, then row sums of three: the 3×3 count.
    let mut column_sums = vec![0u8; gw * gh];
    for gy in 0..gh {
        let y = y0 + gy as i64;
        for gx in 0..gw {
            let x = x0 + gx as i64;
            column_sums[gy * gw + gx] = is_object(x, y - 1) + is_object(x, y) + is_object(x, y + 1);
        }
    }
    let mut smoothed = vec![0f32; gw * gh];
    for gy in 0..gh {
        let row = &column_sums[gy * gw..(gy + 1) * gw];
        for gx in 0..gw {
            let left = if gx > 0 { row[gx - 1] } else { 0 };
            let right = row.get(gx + 1).copied().unwrap_or(0);
            smoothed[gy * gw + gx] = f32::from(left + row[gx] + right) / 9.0;
        }
    }
    let mut length = 0.0;
    let mut twice_area = 0.0;
    for gy in 0..gh - 1 {
        for gx in 0..gw - 1 {
            let (l, t) = cell(&smoothed, gw, gx, gy);
            length += l;
            twice_area += t;
        }
    }
    (length, twice_area / 2.0)
}

/// Outline length and twice the enclosed area within the unit cell whose
/// top-left corner is grid point (gx, gy). The inside part is the polygon of
/// the corners at or above [`LEVEL`] and the level crossings on the cell's
/// sides, in order around the cell; its sides that cross the cell's interior
/// are the outline. A saddle joins its two inside corners.
fn cell(values: &[f32], gw: usize, gx: usize, gy: usize) -> (f64, f64) {
    let corners = [
        (gx as f64, gy as f64, values[gy * gw + gx]),
        (gx as f64 + 1.0, gy as f64, values[gy * gw + gx + 1]),
        (
            gx as f64 + 1.0,
            gy as f64 + 1.0,
            values[(gy + 1) * gw + gx + 1],
        ),
        (gx as f64, gy as f64 + 1.0, values[(gy + 1) * gw + gx]),
    ];
    let inside = corners.map(|c| c.2 >= LEVEL);
    if !inside.iter().any(|&i| i) {
        return (0.0, 0.0);
    }
    if inside.iter().all(|&i| i) {
        return (0.0, 2.0);
    }
    // At most 4 corners and 4 crossings; `true` marks a crossing.
    let mut polygon = [(0.0f64, 0.0f64, false); 8];
    let mut n = 0;
    for i in 0..4 {
        let (a, b) = (corners[i], corners[(i + 1) % 4]);
        if inside[i] {
            polygon[n] = (a.0, a.1, false);
            n += 1;
        }
        if inside[i] != inside[(i + 1) % 4] {
            let f = f64::from((LEVEL - a.2) / (b.2 - a.2));
            polygon[n] = (a.0 + f * (b.0 - a.0), a.1 + f * (b.1 - a.1), true);
            n += 1;
        }
    }
    let mut length = 0.0;
    let mut twice_area = 0.0;
    for i in 0..n {
        let (p, q) = (polygon[i], polygon[(i + 1) % n]);
        twice_area += p.0 * q.1 - q.0 * p.1;
        if p.2 && q.2 {
            length += (p.0 - q.0).hypot(p.1 - q.1);
        }
    }
    (length, twice_area.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn circularity(labels: &LabelImage, bbox: [u32; 4]) -> f64 {
        let (length, area) = outline(labels, 1, bbox);
        4.0 * std::f64::consts::PI * area / (length * length)
    }

    #[test]
    fn a_square_outline_follows_its_pixel_boundary() {
        // A 20 × 20 block: sides at the pixel boundary, corners rounded.
        let block = LabelImage::from_fn(30, 30, |x, y| {
            image::Luma([u32::from((5..25).contains(&x) && (5..25).contains(&y))])
        });
        let (length, area) = outline(&block, 1, [5, 5, 24, 24]);
        assert!((76.0..80.0).contains(&length), "{length}");
        assert!((396.0..400.0).contains(&area), "{area}");
    }

    #[test]
    fn discs_read_round_and_bars_do_not_at_any_size() {
        for r in [3.0, 5.5, 9.0, 17.0, 40.0] {
            let side = (2.0 * r) as u32 + 9;
            let c = f64::from(side) / 2.0 + 0.3;
            let disc = LabelImage::from_fn(side, side, |x, y| {
                let d2 = (f64::from(x) - c).powi(2) + (f64::from(y) - c).powi(2);
                image::Luma([u32::from(d2 <= r * r)])
            });
            let circ = circularity(&disc, [0, 0, side - 1, side - 1]);
            assert!((0.96..0.999).contains(&circ), "radius {r}: {circ}");
        }
        let bar = LabelImage::from_fn(70, 9, |x, y| {
            image::Luma([u32::from((5..65).contains(&x) && (3..6).contains(&y))])
        });
        assert!(circularity(&bar, [5, 3, 64, 5]) < 0.2);
    }

    #[test]
    fn other_labels_and_the_image_edge_are_background() {
        // Label 1 touches label 2 and the left edge: its outline closes there.
        let labels = LabelImage::from_fn(12, 4, |x, _| image::Luma([if x < 4 { 1 } else { 2 }]));
        let (length, area) = outline(&labels, 1, [0, 0, 3, 3]);
        assert!((12.0..16.0).contains(&length), "{length}");
        assert!((12.0..16.0).contains(&area), "{area}");
    }
}
