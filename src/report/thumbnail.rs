//! Small copies of overlays for report.html.

use image::RgbImage;

use super::canvas::Canvas;

/// Longer side of report.html's overlay thumbnails, pixels (shown at 180
/// CSS px, so they stay sharp on high-density screens and in print).
pub const REPORT_SIDE: u32 = 240;

/// A copy of an overlay at most `max_side` pixels on its longer side (never
/// enlarged), for report thumbnails.
///
/// Blocks of k×k pixels (k = the whole part of the reduction) are averaged
/// first, then [`area_resize`] takes the rest. `imageops::resize` with the
/// triangle filter took that rest before and was the slow part, most of all
/// at reductions near 1, where it cost more than analysing the field
/// (`cargo bench --bench report`, one core, per thumbnail: 225×219 1.38 →
/// 0.28 ms, 1024×768 3.46 → 1.12 ms, 2048×1536 5.36 → 2.97 ms).
///
/// ```
/// let overlay = cellvia::report::canvas::Canvas::new(900, 450);
/// let small = cellvia::report::thumbnail::thumbnail(&overlay, 240);
/// assert_eq!(small.dimensions(), (240, 120));
/// ```
pub fn thumbnail(image: &Canvas, max_side: u32) -> RgbImage {
    let (w, h) = image.dimensions();
    let longer = w.max(h);
    if longer <= max_side {
        return image.to_rgb();
    }
    let scale =
        |v: u32| ((u64::from(v) * u64::from(max_side)).div_ceil(u64::from(longer)) as u32).max(1);
    let block = (longer / max_side).max(1);
    let source = if block > 1 {
        block_means(image, block)
    } else {
        image.to_rgb()
    };
    area_resize(&source, scale(w), scale(h))
}

/// For each of `n_out` output positions along an axis of `n_in` source
/// pixels (`n_out <= n_in`): the source pixels it covers and the share of
/// its span each covers (summing to 1).
fn area_weights(n_in: u32, n_out: u32) -> Vec<Vec<(usize, f32)>> {
    let span = f64::from(n_in) / f64::from(n_out);
    (0..n_out)
        .map(|o| {
            let (a, b) = (f64::from(o) * span, f64::from(o + 1) * span);
            let last = (b.ceil() as usize).min(n_in as usize);
            (a.floor() as usize..last)
                .map(|i| {
                    let overlap = b.min(i as f64 + 1.0) - a.max(i as f64);
                    (i, (overlap / span) as f32)
                })
                .filter(|&(_, share)| share > 0.0)
                .collect()
        })
        .collect()
}

/// `source` shrunk to `width`×`height` (each at most the source's): every
/// output pixel is the mean of the source area it covers, partly covered
/// pixels weighted by their overlap (a box filter), rounded.
fn area_resize(source: &RgbImage, width: u32, height: u32) -> RgbImage {
    let row_len = source.width() as usize * 3;
    let (across, down) = (
        area_weights(source.width(), width),
        area_weights(source.height(), height),
    );
    let mut out = RgbImage::new(width, height);
    let mut sums = vec![0.0f32; width as usize * 3];
    // A source row shrunk across; a row on the boundary of two output rows
    // is used by both, so the last one is kept.
    let mut shrunk = vec![0.0f32; width as usize * 3];
    let mut shrunk_row = None;
    for (out_row, rows) in out.chunks_exact_mut(width as usize * 3).zip(&down) {
        sums.fill(0.0);
        for &(y, share_y) in rows {
            if shrunk_row != Some(y) {
                let row = &source.as_raw()[y * row_len..(y + 1) * row_len];
                for (pixel, columns) in shrunk.chunks_exact_mut(3).zip(&across) {
                    pixel.fill(0.0);
                    for &(x, share_x) in columns {
                        for (p, &v) in pixel.iter_mut().zip(&row[3 * x..3 * x + 3]) {
                            *p += share_x * f32::from(v);
                        }
                    }
                }
                shrunk_row = Some(y);
            }
            for (s, &p) in sums.iter_mut().zip(&shrunk) {
                *s += share_y * p;
            }
        }
        // Sums are means of 0..=255 (shares add up to 1); `as` saturates.
        // `f32::round` is a library call on baseline x86-64 and was most of
        // a small thumbnail's time.
        for (o, &s) in out_row.iter_mut().zip(&sums) {
            *o = (s + 0.5) as u8;
        }
    }
    out
}

/// The mean colour of each `block`×`block` tile (partial tiles at the right
/// and bottom edges averaged over the pixels they hold), rounded.
fn block_means(image: &Canvas, block: u32) -> RgbImage {
    let (w, h) = image.dimensions();
    let (ow, oh) = (w.div_ceil(block), h.div_ceil(block));
    let (w, block_px) = (w as usize, block as usize);
    let mut out = RgbImage::new(ow, oh);
    // Rows are summed into per-column totals first (a loop that
    // vectorises), then each tile's columns are added up.
    let mut columns = vec![0u32; w * 3];
    let mut row = vec![0u8; w * 3];
    for (ty, out_row) in out.chunks_exact_mut(ow as usize * 3).enumerate() {
        columns.fill(0);
        let y0 = ty * block_px;
        let y1 = (y0 + block_px).min(h as usize);
        for y in y0..y1 {
            image.rgb_row(y as u32, &mut row);
            for (total, &v) in columns.iter_mut().zip(&row) {
                *total += u32::from(v);
            }
        }
        for (out_pixel, tile) in out_row
            .chunks_exact_mut(3)
            .zip(columns.chunks(block_px * 3))
        {
            let n = (tile.len() / 3 * (y1 - y0)) as u32;
            for (c, out_value) in out_pixel.iter_mut().enumerate() {
                let sum: u32 = tile.iter().skip(c).step_by(3).sum();
                *out_value = ((sum + n / 2) / n) as u8;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::canvas::Mark;
    use proptest::prelude::*;

    proptest! {
        /// Each tile's mean, against a pixel-by-pixel reference.
        #[test]
        fn block_means_average_each_tile(w in 1u32..40, h in 1u32..40, block in 1u32..9, seed: u8) {
            let mut canvas = Canvas::new(w, h);
            for (y, row) in canvas.rows_mut().enumerate() {
                for (x, code) in row.iter_mut().enumerate() {
                    *code = u16::from((x as u32 * 37 + y as u32 * 11 + u32::from(seed)) as u8);
                }
            }
            for i in 0..w.min(h) {
                canvas.put(i, i, if i % 2 == 0 { Mark::Dead } else { Mark::Region });
            }
            let means = block_means(&canvas, block);
            let image = canvas.to_rgb();
            prop_assert_eq!(means.dimensions(), (w.div_ceil(block), h.div_ceil(block)));
            for (tx, ty, got) in means.enumerate_pixels() {
                for c in 0..3 {
                    let (mut sum, mut n) = (0u32, 0u32);
                    for y in ty * block..((ty + 1) * block).min(h) {
                        for x in tx * block..((tx + 1) * block).min(w) {
                            sum += u32::from(image.get_pixel(x, y).0[c]);
                            n += 1;
                        }
                    }
                    prop_assert_eq!(u32::from(got.0[c]), (sum + n / 2) / n);
                }
            }
        }
    }

    proptest! {
        /// Each output pixel is the area-weighted mean of what it covers,
        /// against a reference that intersects every pixel with every output
        /// pixel in two dimensions.
        #[test]
        fn area_resize_averages_the_area_each_pixel_covers(
            w in 1u32..30, h in 1u32..30, ow in 1u32..30, oh in 1u32..30, seed: u8,
        ) {
            let (ow, oh) = (ow.min(w), oh.min(h));
            let source = RgbImage::from_fn(w, h, |x, y| {
                let v = (x * 53 + y * 29 + u32::from(seed)) as u8;
                image::Rgb([v, v.wrapping_mul(7), 255 - v])
            });
            let out = area_resize(&source, ow, oh);
            let (sx, sy) = (f64::from(w) / f64::from(ow), f64::from(h) / f64::from(oh));
            let overlap = |a0: f64, a1: f64, b0: f64, b1: f64| (a1.min(b1) - a0.max(b0)).max(0.0);
            for (ox, oy, got) in out.enumerate_pixels() {
                let (x0, y0) = (f64::from(ox) * sx, f64::from(oy) * sy);
                for c in 0..3 {
                    let mut sum = 0.0;
                    for (x, y, p) in source.enumerate_pixels() {
                        let area = overlap(x0, x0 + sx, f64::from(x), f64::from(x) + 1.0)
                            * overlap(y0, y0 + sy, f64::from(y), f64::from(y) + 1.0);
                        sum += area * f64::from(p.0[c]);
                    }
                    let expected = sum / (sx * sy);
                    prop_assert!((f64::from(got.0[c]) - expected).abs() <= 0.51, "{} vs {}", got.0[c], expected);
                }
            }
        }
    }

    #[test]
    fn a_flat_colour_stays_that_colour() {
        let mut canvas = Canvas::new(2048, 1536);
        for row in canvas.rows_mut() {
            row.fill(Mark::Gated.code());
        }
        let small = thumbnail(&canvas, 240);
        assert_eq!(small.dimensions(), (240, 180));
        assert!(small.pixels().all(|p| p.0 == [60, 140, 255]));
    }
}
