//! Euclidean distance from each object pixel to the nearest background pixel.

use crate::image_types::{FloatImage, Mask};

/// Exact Euclidean distance transform of a mask: 0 on background, for object
/// pixels the distance to the nearest background pixel (the image edge is not
/// background, so objects cut by the edge keep their inner distances; with no
/// background at all every distance is infinite).
///
/// Felzenszwalb and Huttenlocher's separable algorithm: exact squared
/// distances down the columns (two integer scans, row-major for the cache),
/// then the lower envelope of parabolas along each row.
///
/// ```
/// let m = image::GrayImage::from_raw(5, 1, vec![0, 255, 255, 255, 0]).unwrap();
/// let d = cellvia::segment::distance::distance_to_background(&m);
/// assert_eq!(d.as_raw(), &[0.0, 1.0, 2.0, 1.0, 0.0]);
/// ```
pub fn distance_to_background(mask: &Mask) -> FloatImage {
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    let inside = mask.as_raw();
    // 1. Vertical distance to the nearest background pixel in the column,
    //    a row at a time (whole-row loops vectorise). Integers below 2^24
    //    are exact in f32; no background in a column leaves infinity.
    let mut distance = vec![f32::INFINITY; w * h];
    for y in 0..h {
        let (done, rest) = distance.split_at_mut(y * w);
        let row = &mut rest[..w];
        let inside_row = &inside[y * w..(y + 1) * w];
        match done.chunks_exact(w.max(1)).next_back() {
            Some(above) => {
                for ((v, &m), &up) in row.iter_mut().zip(inside_row).zip(above) {
                    *v = if m == 0 { 0.0 } else { up + 1.0 };
                }
            }
            None => {
                for (v, &m) in row.iter_mut().zip(inside_row) {
                    *v = if m == 0 { 0.0 } else { f32::INFINITY };
                }
            }
        }
    }
    for y in (0..h.saturating_sub(1)).rev() {
        let (upper, lower) = distance.split_at_mut((y + 1) * w);
        for (v, &below) in upper[y * w..].iter_mut().zip(&lower[..w]) {
            *v = v.min(below + 1.0);
        }
    }
    // 2. Along each row, in place: min over v of (x - v)² + vertical(v)².
    //    Only object runs need it, and for a run only the columns from the
    //    background pixel before it to the one after it: any farther column
    //    is farther than those, which are at vertical distance 0.
    let mut f = vec![0.0f64; w];
    let mut envelope = Envelope::with_capacity(w);
    for row in distance.chunks_exact_mut(w.max(1)) {
        let mut x = 0;
        while x < w {
            if row[x] == 0.0 {
                x += 1;
                continue;
            }
            let start = x;
            while x < w && row[x] != 0.0 {
                x += 1;
            }
            // The run's own values are read into `f` before the envelope
            // overwrites them; the columns it writes beyond the run are
            // background, which stay 0.
            let (lo, hi) = (start.saturating_sub(1), (x + 1).min(w));
            for (fx, &v) in f[lo..hi].iter_mut().zip(&row[lo..hi]) {
                *fx = f64::from(v) * f64::from(v);
            }
            envelope.squared_distances(&f[lo..hi], lo, &mut row[lo..hi]);
        }
    }
    FloatImage::from_raw(mask.width(), mask.height(), distance)
        .unwrap_or_else(|| FloatImage::new(mask.width(), mask.height()))
}

struct Envelope {
    centres: Vec<usize>,
    starts: Vec<f64>,
}

impl Envelope {
    fn with_capacity(n: usize) -> Self {
        Self {
            centres: Vec::with_capacity(n),
            starts: Vec::with_capacity(n),
        }
    }

    /// Writes `sqrt(min_v (x - v)² + f(v))` for every x; infinite `f` are
    /// absent. `f[i]` and `out[i]` are column `offset + i` of the row (the
    /// arithmetic is on row columns, as for a whole row).
    fn squared_distances(&mut self, f: &[f64], offset: usize, out: &mut [f32]) {
        self.centres.clear();
        self.starts.clear();
        let crossing = |f: &[f64], p: usize, q: usize| {
            let (pf, qf) = ((offset + p) as f64, (offset + q) as f64);
            ((f[q] + qf * qf) - (f[p] + pf * pf)) / (2.0 * (qf - pf))
        };
        for q in 0..f.len() {
            if f[q] == f64::INFINITY {
                continue;
            }
            let mut start = f64::NEG_INFINITY;
            while let Some(&p) = self.centres.last() {
                start = crossing(f, p, q);
                if start <= self.starts[self.starts.len() - 1] {
                    self.centres.pop();
                    self.starts.pop();
                    start = f64::NEG_INFINITY;
                } else {
                    break;
                }
            }
            self.centres.push(q);
            self.starts.push(start);
        }
        if self.centres.is_empty() {
            out.fill(f32::INFINITY);
            return;
        }
        let mut k = 0;
        for (x, o) in out.iter_mut().enumerate() {
            let xf = (offset + x) as f64;
            while k + 1 < self.centres.len() && self.starts[k + 1] < xf {
                k += 1;
            }
            let v = self.centres[k];
            let d = xf - (offset + v) as f64;
            *o = ((d * d + f[v]) as f32).sqrt();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference(mask: &Mask) -> Vec<f32> {
        let bg: Vec<(i64, i64)> = mask
            .enumerate_pixels()
            .filter(|(_, _, p)| p.0[0] == 0)
            .map(|(x, y, _)| (i64::from(x), i64::from(y)))
            .collect();
        mask.enumerate_pixels()
            .map(|(x, y, p)| {
                if p.0[0] == 0 {
                    return 0.0;
                }
                bg.iter()
                    .map(|&(bx, by)| {
                        (((bx - i64::from(x)).pow(2) + (by - i64::from(y)).pow(2)) as f32).sqrt()
                    })
                    .fold(f32::INFINITY, f32::min)
            })
            .collect()
    }

    proptest! {
        /// Equal to the brute-force distance for any shape and content,
        /// including masks without any background (all infinite).
        #[test]
        fn matches_brute_force(
            w in 1u32..24,
            h in 1u32..24,
            bits in proptest::collection::vec(proptest::bool::weighted(0.8), 576),
        ) {
            let mask = crate::image_types::mask_from_bits(w, h, &bits);
            let fast = distance_to_background(&mask);
            for (a, b) in fast.as_raw().iter().zip(reference(&mask)) {
                prop_assert!(a == &b || (a - b).abs() < 1e-4, "{a} vs {b}");
            }
        }
    }
}
