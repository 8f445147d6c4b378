//! What every imaging mode shares: illumination falloff, camera noise,
//! quantisation, and rendering one object's anti-aliased, optionally
//! defocused patch.

use image::{DynamicImage, ImageBuffer, Luma, Rgb};

use super::{outline_rho, Body, Rng, SynthDepth, SynthParams};

/// Photon and read noise on a 0..=1 signal.
pub(super) fn noisy(p: &SynthParams, signal: f64, rng: &mut Rng) -> f64 {
    let photons = signal * p.photons_full_scale;
    let shot = photons.sqrt() * rng.normal() / p.photons_full_scale;
    (signal + shot + p.read_noise * rng.normal()).clamp(0.0, 1.0)
}

/// Relative illumination at a pixel: 1 at the centre, 1 − vignetting at the corners.
pub(super) fn illumination(p: &SynthParams, x: usize, y: usize) -> f64 {
    let (cx, cy) = (f64::from(p.width) / 2.0, f64::from(p.height) / 2.0);
    let r = ((x as f64 - cx).hypot(y as f64 - cy)) / cx.hypot(cy).max(1.0);
    1.0 - p.vignetting * r * r
}

pub(super) fn full_scale(depth: SynthDepth) -> f64 {
    match depth {
        SynthDepth::Eight => 255.0,
        SynthDepth::Twelve => 4095.0,
        SynthDepth::Sixteen => 65535.0,
    }
}

/// Quantises 0..=1 samples (`channels` interleaved: 1 gray, 3 RGB) to the
/// params' depth.
pub(super) fn quantise(p: &SynthParams, channels: usize, values: &[f64]) -> DynamicImage {
    let full = full_scale(p.depth);
    let (w, h) = (p.width, p.height);
    let eight = || {
        values
            .iter()
            .map(|v| (v * full).round() as u8)
            .collect::<Vec<u8>>()
    };
    let sixteen = || {
        values
            .iter()
            .map(|v| (v * full).round() as u16)
            .collect::<Vec<u16>>()
    };
    match (p.depth, channels) {
        (SynthDepth::Eight, 1) => DynamicImage::ImageLuma8(
            ImageBuffer::from_raw(w, h, eight())
                .unwrap_or_else(|| ImageBuffer::from_pixel(w, h, Luma([0]))),
        ),
        (SynthDepth::Eight, _) => DynamicImage::ImageRgb8(
            ImageBuffer::from_raw(w, h, eight())
                .unwrap_or_else(|| ImageBuffer::from_pixel(w, h, Rgb([0; 3]))),
        ),
        (_, 1) => DynamicImage::ImageLuma16(
            ImageBuffer::from_raw(w, h, sixteen())
                .unwrap_or_else(|| ImageBuffer::from_pixel(w, h, Luma([0]))),
        ),
        _ => DynamicImage::ImageRgb16(
            ImageBuffer::from_raw(w, h, sixteen())
                .unwrap_or_else(|| ImageBuffer::from_pixel(w, h, Rgb([0; 3]))),
        ),
    }
}

/// One object's patch: `value(rho, texture)` averaged over 2×2 subsamples,
/// then blurred if the object is out of focus. Returns the patch origin,
/// size and values.
pub(super) fn stamp(
    w: usize,
    h: usize,
    b: &Body,
    texture_seed: u64,
    value: impl Fn(f64, f64) -> f64,
) -> (usize, usize, usize, usize, Vec<f64>) {
    let reach = b.radius * 1.45 + 3.0 * b.defocus + 2.0;
    let x0 = (b.x - reach).floor().max(0.0) as usize;
    let y0 = (b.y - reach).floor().max(0.0) as usize;
    let x1 = ((b.x + reach).ceil() as usize).min(w.saturating_sub(1));
    let y1 = ((b.y + reach).ceil() as usize).min(h.saturating_sub(1));
    if x1 < x0 || y1 < y0 {
        return (0, 0, 0, 0, Vec::new());
    }
    let (pw, ph) = (x1 - x0 + 1, y1 - y0 + 1);
    let mut patch = vec![0.0f64; pw * ph];
    let mut tex = Rng(texture_seed);
    // Three plane waves of random direction and phase: granular, not a grid.
    let waves: [(f64, f64, f64); 3] = std::array::from_fn(|_| {
        let angle = tex.range(0.0, std::f64::consts::PI);
        (
            angle.cos(),
            angle.sin(),
            tex.range(0.0, std::f64::consts::TAU),
        )
    });
    // Granules of about a fifth of the cell radius (at least 3.5 px), so a
    // cell's texture looks the same at any magnification.
    let frequency = 0.9_f64.min(15.0 / b.radius.max(1.0));
    for py in 0..ph {
        for px in 0..pw {
            let mut acc = 0.0;
            for (sx, sy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                let dx = (x0 + px) as f64 + sx - 0.5 - b.x;
                let dy = (y0 + py) as f64 + sy - 0.5 - b.y;
                let rho = outline_rho(b, dx, dy);
                let texture = waves
                    .iter()
                    .map(|(cx, cy, phase)| (frequency * (cx * dx + cy * dy) + phase).sin())
                    .product::<f64>()
                    .cbrt();
                acc += value(rho, texture);
            }
            patch[py * pw + px] = acc / 4.0;
        }
    }
    if b.defocus > 0.0 {
        patch = blur(&patch, pw, ph, b.defocus);
    }
    (x0, y0, pw, ph, patch)
}

fn blur(src: &[f64], w: usize, h: usize, sigma: f64) -> Vec<f64> {
    let r = (3.0 * sigma).ceil() as i64;
    let k: Vec<f64> = (-r..=r)
        .map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f64 = k.iter().sum();
    let pass = |input: &[f64], horizontal: bool| -> Vec<f64> {
        let mut out = vec![0.0; input.len()];
        for y in 0..h as i64 {
            for x in 0..w as i64 {
                let mut acc = 0.0;
                for (j, kv) in k.iter().enumerate() {
                    let o = j as i64 - r;
                    let (sx, sy) = if horizontal { (x + o, y) } else { (x, y + o) };
                    if sx >= 0 && sy >= 0 && sx < w as i64 && sy < h as i64 {
                        acc += kv * input[(sy * w as i64 + sx) as usize];
                    }
                }
                out[(y * w as i64 + x) as usize] = acc / sum;
            }
        }
        out
    };
    pass(&pass(src, true), false)
}
