//! Small copies of overlays for report.html.

use image::RgbImage;

use super::canvas::Canvas;

/// Longer side of report.html's overlay thumbnails, pixels (shown at 180
/// CSS px, so they stay sharp on high-density screens and in print).
pub const REPORT_SIDE: u32 = 240;

/// A copy of an overlay at most `max_side` pixels on its longer side (never
/// enlarged), for report thumbnails.
///
/// Blocks of k×k pixels (k = the whole part of the reduction, halved) are
/// averaged first and the triangle filter takes the rest: on the full image
/// the filter read about twice the reduction in taps per output pixel, and
/// thumbnails cost more than drawing the overlays (`perf`, eight 2048×1536
/// fields: `imageops::resize` 4.6 % of `analyze`'s CPU).
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
    let block = (longer / max_side / 2).max(1);
    let source = if block > 1 {
        block_means(image, block)
    } else {
        image.to_rgb()
    };
    image::imageops::resize(
        &source,
        scale(w),
        scale(h),
        image::imageops::FilterType::Triangle,
    )
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
            for y in 0..h {
                for (x, code) in canvas.row_mut(y).iter_mut().enumerate() {
                    *code = u16::from((x as u32 * 37 + y * 11 + u32::from(seed)) as u8);
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
