//! Small copies of overlays for report.html.

use image::RgbImage;

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
/// let overlay = image::RgbImage::new(900, 450);
/// let small = cellvia::report::thumbnail::thumbnail(&overlay, 240);
/// assert_eq!(small.dimensions(), (240, 120));
/// ```
pub fn thumbnail(image: &RgbImage, max_side: u32) -> RgbImage {
    let (w, h) = image.dimensions();
    let longer = w.max(h);
    if longer <= max_side {
        return image.clone();
    }
    let scale =
        |v: u32| ((u64::from(v) * u64::from(max_side)).div_ceil(u64::from(longer)) as u32).max(1);
    let block = (longer / max_side / 2).max(1);
    let reduced;
    let source = if block > 1 {
        reduced = block_means(image, block);
        &reduced
    } else {
        image
    };
    image::imageops::resize(
        source,
        scale(w),
        scale(h),
        image::imageops::FilterType::Triangle,
    )
}

/// The mean colour of each `block`×`block` tile (partial tiles at the right
/// and bottom edges averaged over the pixels they hold), rounded.
fn block_means(image: &RgbImage, block: u32) -> RgbImage {
    let (w, h) = image.dimensions();
    let (ow, oh) = (w.div_ceil(block), h.div_ceil(block));
    let (w, block_px) = (w as usize, block as usize);
    let mut out = RgbImage::new(ow, oh);
    // Rows are summed into per-column totals first (a loop that
    // vectorises), then each tile's columns are added up.
    let mut columns = vec![0u32; w * 3];
    for (ty, out_row) in out.chunks_exact_mut(ow as usize * 3).enumerate() {
        columns.fill(0);
        let y0 = ty * block_px;
        let y1 = (y0 + block_px).min(h as usize);
        for row in image.chunks_exact(w * 3).take(y1).skip(y0) {
            for (total, &v) in columns.iter_mut().zip(row) {
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
    use proptest::prelude::*;

    proptest! {
        /// Each tile's mean, against a pixel-by-pixel reference.
        #[test]
        fn block_means_average_each_tile(w in 1u32..40, h in 1u32..40, block in 1u32..9, seed: u8) {
            let image = RgbImage::from_fn(w, h, |x, y| {
                let v = (x * 37 + y * 11 + u32::from(seed)) as u8;
                image::Rgb([v, v.wrapping_mul(3), 255 - v])
            });
            let means = block_means(&image, block);
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
        let image = RgbImage::from_pixel(2048, 1536, image::Rgb([10, 200, 30]));
        let small = thumbnail(&image, 240);
        assert_eq!(small.dimensions(), (240, 180));
        assert!(small.pixels().all(|p| p.0 == [10, 200, 30]));
    }
}
