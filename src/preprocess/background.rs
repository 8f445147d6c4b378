//! The smooth background: block medians interpolated between block centres.

use crate::image_types::FloatImage;

/// Background blocks are this many typical diameters wide: wide enough that
/// cells cover well under half a block, narrow enough to follow vignetting.
const BACKGROUND_BLOCK_DIAMETERS: f64 = 2.5;

/// Histogram resolution used for medians of values in 0..=1.
const MEDIAN_BINS: usize = 1024;

/// Side of a background block for cells of the typical diameter (pixels).
pub(super) fn background_block(typical_diameter: f64) -> u32 {
    (BACKGROUND_BLOCK_DIAMETERS * typical_diameter)
        .round()
        .max(8.0) as u32
}

/// Median of each `block`×`block` tile, interpolated bilinearly between tile centres.
pub(crate) fn block_median_background(image: &FloatImage, block: u32) -> FloatImage {
    BlockBackground::of(image, block).plane()
}

/// `f(intensity, background)` at every pixel of `image`, the background
/// being [`block_median_background`]'s, bit for bit, computed row by row:
/// no plane of it is made.
pub(crate) fn map_with_block_median(
    image: &FloatImage,
    block: u32,
    f: impl Fn(f32, f32) -> f32,
) -> FloatImage {
    BlockBackground::of(image, block).map(image, f)
}

/// The block medians of an image and the tables that interpolate them: the
/// background at any pixel, without keeping a plane of it.
#[derive(Debug, Clone)]
pub(crate) struct BlockBackground {
    medians: Vec<f32>,
    nx: usize,
    /// Per column and per row: the two tile centres blended and the weight
    /// on the second ([`interpolation_table`]).
    xs: Vec<(usize, usize, f32)>,
    ys: Vec<(usize, usize, f32)>,
}

impl BlockBackground {
    /// Medians of `block`×`block` tiles of `image`.
    pub(crate) fn of(image: &FloatImage, block: u32) -> Self {
        let (w, h) = image.dimensions();
        let nx = w.div_ceil(block).max(1);
        let ny = h.div_ceil(block).max(1);
        let mut medians = vec![0.0f32; (nx * ny) as usize];
        // Even and odd pixels count into separate histograms: neighbours share
        // a bin, and with one histogram every increment waits for the last.
        let (mut even, mut odd) = (vec![0u32; MEDIAN_BINS], vec![0u32; MEDIAN_BINS]);
        let mut bins: Vec<u32> = Vec::with_capacity(block as usize);
        for by in 0..ny {
            for bx in 0..nx {
                even.fill(0);
                odd.fill(0);
                let (x0, y0) = (bx * block, by * block);
                let (x1, y1) = ((x0 + block).min(w), (y0 + block).min(h));
                for row in image
                    .as_raw()
                    .chunks_exact(w as usize)
                    .take(y1 as usize)
                    .skip(y0 as usize)
                {
                    // Bins first, in a loop that vectorises, then the counting
                    // (a bin is below MEDIAN_BINS, so the mask only drops the
                    // bounds check).
                    bins.clear();
                    bins.extend(row[x0 as usize..x1 as usize].iter().map(|&v| bin(v)));
                    let mut pairs = bins.chunks_exact(2);
                    for pair in &mut pairs {
                        even[pair[0] as usize & (MEDIAN_BINS - 1)] += 1;
                        odd[pair[1] as usize & (MEDIAN_BINS - 1)] += 1;
                    }
                    for &b in pairs.remainder() {
                        even[b as usize & (MEDIAN_BINS - 1)] += 1;
                    }
                }
                let n = (x1 - x0) * (y1 - y0);
                medians[(by * nx + bx) as usize] = histogram_median(&even, &odd, n);
            }
        }
        // Tile centres in pixel coordinates. Beyond the outermost centres the
        // gradient is extrapolated for up to half a tile, so vignetting is
        // followed right to the image edge.
        let centre = |i: u32, n_px: u32| -> f32 {
            let start = i * block;
            let end = (start + block).min(n_px);
            0.5 * (start + end) as f32 - 0.5
        };
        let cx: Vec<f32> = (0..nx).map(|i| centre(i, w)).collect();
        let cy: Vec<f32> = (0..ny).map(|i| centre(i, h)).collect();
        BlockBackground {
            medians,
            nx: nx as usize,
            xs: interpolation_table(w, &cx),
            ys: interpolation_table(h, &cy),
        }
    }

    /// Tile medians of tile row `tile_row` blended across columns `x0..x1`.
    fn across(&self, tile_row: usize, x0: usize, x1: usize) -> impl Iterator<Item = f32> + '_ {
        let m = move |xx: usize| self.medians[tile_row * self.nx + xx];
        self.xs[x0..x1]
            .iter()
            .map(move |&(a, b, tx)| m(a) * (1.0 - tx) + m(b) * tx)
    }

    /// The background of row `y`, columns `x0..x0 + out.len()`, into `out`.
    pub(crate) fn row_into(&self, y: usize, x0: usize, out: &mut [f32]) {
        let (y0, y1, ty) = self.ys[y];
        let x1 = x0 + out.len();
        for ((o, t), b) in out
            .iter_mut()
            .zip(self.across(y0, x0, x1))
            .zip(self.across(y1, x0, x1))
        {
            *o = t * (1.0 - ty) + b * ty;
        }
    }

    /// Calls `visit(y, top, bottom, ty)` for each row `y`: the tile rows it
    /// lies between, blended across x, and its weight on the second. The
    /// blends are recomputed only when the pair of tile rows changes.
    fn for_each_row(&self, mut visit: impl FnMut(usize, &[f32], &[f32], f32)) {
        let w = self.xs.len();
        let mut cached: Option<(usize, usize, Vec<f32>, Vec<f32>)> = None;
        for (y, &(y0, y1, ty)) in self.ys.iter().enumerate() {
            if !matches!(&cached, Some((a, b, _, _)) if (*a, *b) == (y0, y1)) {
                let (top, bottom) = (
                    self.across(y0, 0, w).collect(),
                    self.across(y1, 0, w).collect(),
                );
                cached = Some((y0, y1, top, bottom));
            }
            if let Some((_, _, top, bottom)) = &cached {
                visit(y, top, bottom, ty);
            }
        }
    }

    /// The whole background plane, with the arithmetic of
    /// [`Self::row_into`], so both give the same bits.
    pub(crate) fn plane(&self) -> FloatImage {
        let w = self.xs.len();
        let mut out = FloatImage::new(w as u32, self.ys.len() as u32);
        let raw: &mut [f32] = out.as_mut();
        self.for_each_row(|y, top, bottom, ty| {
            for ((o, &t), &b) in raw[y * w..(y + 1) * w].iter_mut().zip(top).zip(bottom) {
                *o = t * (1.0 - ty) + b * ty;
            }
        });
        out
    }

    /// `f(intensity, background)` at every pixel of `image` (the image these
    /// medians were taken of), the background computed row by row as
    /// [`Self::plane`] computes it, without a plane of it.
    pub(crate) fn map(&self, image: &FloatImage, f: impl Fn(f32, f32) -> f32) -> FloatImage {
        let w = self.xs.len();
        let mut out = FloatImage::new(w as u32, self.ys.len() as u32);
        let raw: &mut [f32] = out.as_mut();
        let src = image.as_raw();
        self.for_each_row(|y, top, bottom, ty| {
            let span = y * w..(y + 1) * w;
            for (((o, &i), &t), &b) in raw[span.clone()]
                .iter_mut()
                .zip(&src[span])
                .zip(top)
                .zip(bottom)
            {
                *o = f(i, t * (1.0 - ty) + b * ty);
            }
        });
        out
    }
}

/// For each pixel coordinate `0..n_px`, the two tile centres it is blended
/// between and its weight on the second (extrapolated up to half a tile
/// beyond the outermost centres). One forward walk: O(n_px + centres), so
/// a 1 x N strip costs O(N) (a search per pixel made it quadratic).
fn interpolation_table(n_px: u32, centres: &[f32]) -> Vec<(usize, usize, f32)> {
    let last = centres.len().saturating_sub(1);
    if last == 0 {
        return vec![(0, 0, 0.0); n_px as usize];
    }
    let mut i = 0;
    (0..n_px)
        .map(|v| {
            let v = v as f32;
            while i + 1 < last && centres[i + 1] <= v {
                i += 1;
            }
            let t = (v - centres[i]) / (centres[i + 1] - centres[i]);
            (i, i + 1, t.clamp(-0.5, 1.5))
        })
        .collect()
}

/// 2²³: adding it to a float in 0..2²² leaves that float rounded to an
/// integer (the spacing of floats from 2²³ to 2²⁴ is 1), whose value is
/// then the low bits of the sum's representation.
const INTEGER_MAGIC: f32 = 8_388_608.0;

/// The histogram bin of `v`: `(v.clamp(0, 1) × 1023).round()` (a NaN in bin
/// 0), with the rounding done on the integer part and the exact fraction,
/// since `f32::round` is a library call on baseline x86-64 (2.4 % of a
/// field's CPU). The integer part and the conversion use [`INTEGER_MAGIC`]
/// rather than `as i32`, whose saturating conversion ran one lane at a time
/// on baseline x86-64 (with branches), most of the block medians' time.
fn bin(v: f32) -> u32 {
    // NaN to 0 first (bin 0, as `NaN as i32` gave), so every step below
    // sees a number.
    let v = if v.is_nan() { 0.0 } else { v };
    let x = v.clamp(0.0, 1.0) * (MEDIAN_BINS - 1) as f32;
    let nearest = (x + INTEGER_MAGIC) - INTEGER_MAGIC;
    let whole = nearest - if nearest > x { 1.0 } else { 0.0 };
    let up = if x - whole >= 0.5 { 1.0 } else { 0.0 };
    ((whole + up) + INTEGER_MAGIC).to_bits() - INTEGER_MAGIC.to_bits()
}

/// The median bin of the summed histograms `a` + `b` of `n` values.
fn histogram_median(a: &[u32], b: &[u32], n: u32) -> f32 {
    let half = n.div_ceil(2);
    let mut seen = 0;
    for (i, (&ca, &cb)) in a.iter().zip(b).enumerate() {
        seen += ca + cb;
        if seen >= half {
            return i as f32 / (MEDIAN_BINS - 1) as f32;
        }
    }
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rounded_bin(v: f32) -> usize {
        ((v.clamp(0.0, 1.0) * (MEDIAN_BINS - 1) as f32).round() as usize).min(MEDIAN_BINS - 1)
    }

    /// Near every rounding boundary, where random values seldom land: the
    /// floats around (k + ½) / 1023 and around each bin's own value.
    #[test]
    fn bin_rounds_like_f32_round_at_every_boundary() {
        for k in 0..MEDIAN_BINS {
            for centre in [(k as f32 + 0.5) / 1023.0, k as f32 / 1023.0] {
                for step in -4i32..=4 {
                    let v = f32::from_bits(centre.to_bits().wrapping_add_signed(step));
                    assert_eq!(bin(v) as usize, rounded_bin(v), "{v:e}");
                }
            }
        }
    }

    proptest::proptest! {
        /// The integer rounding in `bin` is `f32::round`'s, for any value.
        #[test]
        fn bin_rounds_like_f32_round(v in proptest::prop_oneof![proptest::num::f32::ANY, 0.0f32..1.0]) {
            proptest::prop_assert_eq!(bin(v) as usize, rounded_bin(v));
        }

        /// Mapping against the background row by row gives the bits of
        /// mapping against its plane.
        #[test]
        fn mapping_row_by_row_equals_mapping_the_plane(
            w in 1u32..90,
            h in 1u32..90,
            block in 1u32..40,
            values in proptest::collection::vec(0.0f32..1.0, 90 * 90),
        ) {
            let image = FloatImage::from_fn(w, h, |x, y| image::Luma([values[(y * 90 + x) as usize]]));
            let weber = |i: f32, b: f32| (i - b) / b.max(0.02);
            let plane = block_median_background(&image, block);
            let expected: Vec<u32> = image.as_raw().iter().zip(plane.as_raw()).map(|(&i, &b)| weber(i, b).to_bits()).collect();
            let mapped: Vec<u32> = map_with_block_median(&image, block, weber).as_raw().iter().map(|v| v.to_bits()).collect();
            proptest::prop_assert_eq!(mapped, expected);
        }

        /// The one-pass interpolation table equals a search per pixel.
        #[test]
        fn interpolation_table_matches_a_search_per_pixel(n_px in 1u32..300, block in 1u32..80) {
            let n = n_px.div_ceil(block);
            let centres: Vec<f32> = (0..n)
                .map(|i| 0.5 * ((i * block) + ((i + 1) * block).min(n_px)) as f32 - 0.5)
                .collect();
            let table = interpolation_table(n_px, &centres);
            for (v, &(i0, i1, t)) in table.iter().enumerate() {
                let last = centres.len() - 1;
                if last == 0 {
                    proptest::prop_assert_eq!((i0, i1, t), (0, 0, 0.0));
                    continue;
                }
                let i = centres.iter().rposition(|&c| c <= v as f32).unwrap_or(0).min(last - 1);
                let expected = ((v as f32 - centres[i]) / (centres[i + 1] - centres[i])).clamp(-0.5, 1.5);
                proptest::prop_assert_eq!((i0, i1, t), (i, i + 1, expected));
            }
        }
    }
}
