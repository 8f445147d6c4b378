//! Separable Gaussian smoothing.

use crate::image_types::FloatImage;

/// Separable Gaussian blur with edge clamping.
///
/// ```
/// let img = image::ImageBuffer::from_pixel(9, 9, image::Luma([2.0f32]));
/// let b = cellvia::preprocess::gaussian_blur(&img, 1.5);
/// assert!((b.get_pixel(0, 4).0[0] - 2.0).abs() < 1e-5);
/// ```
pub fn gaussian_blur(image: &FloatImage, sigma: f32) -> FloatImage {
    let radius = (3.0 * sigma).ceil() as i64;
    let kernel: Vec<f32> = (-radius..=radius)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f32 = kernel.iter().sum();
    let kernel: Vec<f32> = kernel.iter().map(|k| k / total).collect();
    let (w, h) = (image.width() as i64, image.height() as i64);
    let src = image.as_raw();
    let mut tmp = vec![0.0f32; src.len()];
    for y in 0..h {
        let row = &src[(y * w) as usize..((y + 1) * w) as usize];
        let out_row = &mut tmp[(y * w) as usize..((y + 1) * w) as usize];
        for x in 0..w {
            let mut acc = 0.0;
            if x >= radius && x + radius < w {
                // Interior: no clamping; same terms in the same order.
                let window = &row[(x - radius) as usize..=(x + radius) as usize];
                for (&weight, &v) in kernel.iter().zip(window) {
                    acc += weight * v;
                }
            } else {
                for (k, &weight) in kernel.iter().enumerate() {
                    let xx = (x + k as i64 - radius).clamp(0, w - 1);
                    acc += weight * row[xx as usize];
                }
            }
            out_row[x as usize] = acc;
        }
    }
    let mut out = vec![0.0f32; src.len()];
    for y in 0..h {
        for (k, &weight) in kernel.iter().enumerate() {
            let yy = (y + k as i64 - radius).clamp(0, h - 1);
            let src_row = &tmp[(yy * w) as usize..((yy + 1) * w) as usize];
            let dst_row = &mut out[(y * w) as usize..((y + 1) * w) as usize];
            for (d, s) in dst_row.iter_mut().zip(src_row) {
                *d += weight * s;
            }
        }
    }
    FloatImage::from_raw(image.width(), image.height(), out)
        .unwrap_or_else(|| FloatImage::new(image.width(), image.height()))
}
