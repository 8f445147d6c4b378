//! AO/PI fluorescence: emission added on a dark background, written as an
//! RGB composite (red = PI, green = AO) as instruments export it.

use image::DynamicImage;

use super::imaging::{illumination, noisy, quantise, stamp};
use super::looks::Look;
use super::{Body, Rng, SynthParams};

/// Fluorescence dark level (camera offset + autofluorescence), full scale.
const FLUORESCENCE_DARK: f64 = 0.03;
/// Emission of the brightest stained cell at the field centre, full scale.
const FLUORESCENCE_PEAK: f64 = 0.6;

/// AO (green) and PI (red) stain of an object, relative to the brightest cell.
fn stains(b: &Body) -> (f64, f64) {
    match b.look {
        Look::Live(_) => (b.strength, 0.0),
        // PI quenches AO in dead cells: dim green, bright red.
        Look::Dead(_) => (0.3 * b.strength, 1.2 * b.strength + 0.3),
        Look::Debris => (0.15 * b.strength.abs(), 0.0),
    }
}

pub(super) fn fluorescence(p: &SynthParams, bodies: &[Body], rng: &mut Rng) -> DynamicImage {
    let (wi, hi) = (p.width as usize, p.height as usize);
    let mut green = vec![0.0f64; wi * hi];
    let mut red = vec![0.0f64; wi * hi];
    for b in bodies {
        let texture_seed = rng.next_u64();
        // Projected thickness of a sphere, mottled by chromatin texture.
        let (x0, y0, pw, ph, patch) = stamp(wi, hi, b, texture_seed, |rho, texture| {
            (1.0 - rho * rho).max(0.0).sqrt() * (0.85 + 0.15 * texture)
        });
        let (g, r) = stains(b);
        for py in 0..ph {
            for px in 0..pw {
                let i = (y0 + py) * wi + x0 + px;
                green[i] += g * patch[py * pw + px];
                red[i] += r * patch[py * pw + px];
            }
        }
    }
    let mut samples = Vec::with_capacity(wi * hi * 3);
    for y in 0..hi {
        for x in 0..wi {
            let excitation = FLUORESCENCE_PEAK * illumination(p, x, y);
            let i = y * wi + x;
            for emission in [red[i], green[i], 0.0] {
                let signal = (FLUORESCENCE_DARK + excitation * emission).clamp(0.0, 1.0);
                samples.push(noisy(p, signal, rng));
            }
        }
    }
    quantise(p, 3, &samples)
}
