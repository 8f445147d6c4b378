//! Trypan-blue brightfield: a lamp field with vignetting and a colour cast,
//! multiplied by each object's transmission ([`super::looks`]), optional
//! hemocytometer rulings; gray, or RGB where dead cells' dye is blue.

use image::DynamicImage;

use super::imaging::{illumination, noisy, quantise, stamp};
use super::looks::{transmission, Look, DYE_ABSORPTION_EXPONENTS};
use super::{Body, Rng, SynthParams};

pub(super) fn brightfield(p: &SynthParams, bodies: &[Body], rng: &mut Rng) -> DynamicImage {
    let (wi, hi) = (p.width as usize, p.height as usize);
    let channels = if p.colour { 3 } else { 1 };
    // Transmission per channel, interleaved.
    let mut trans = vec![1.0f64; wi * hi * channels];
    for b in bodies {
        let texture_seed = rng.next_u64();
        let (x0, y0, pw, ph, patch) = stamp(wi, hi, b, texture_seed, |rho, texture| {
            transmission(b.look, rho, b.strength, texture) - 1.0
        });
        let exponents = match (b.look, channels) {
            (Look::Dead(_), 3) => DYE_ABSORPTION_EXPONENTS,
            _ => [1.0; 3],
        };
        for py in 0..ph {
            for px in 0..pw {
                let t = (1.0 + patch[py * pw + px]).max(0.0);
                let i = ((y0 + py) * wi + x0 + px) * channels;
                for (c, e) in exponents.iter().take(channels).enumerate() {
                    trans[i + c] *= if *e == 1.0 { t } else { t.powf(*e) };
                }
            }
        }
    }
    if p.grid {
        draw_grid(&mut trans, wi, hi, channels, rng);
    }
    // The lamp's colour: a warm (negative) or cold (positive) cast.
    let lamp_colour = [1.0 - p.colour_cast, 1.0, 1.0 + p.colour_cast];
    let mut values = Vec::with_capacity(wi * hi * channels);
    for y in 0..hi {
        for x in 0..wi {
            let lamp = p.background * illumination(p, x, y);
            for c in 0..channels {
                let tint = if channels == 3 { lamp_colour[c] } else { 1.0 };
                let signal = (lamp * tint * trans[(y * wi + x) * channels + c]).clamp(0.0, 1.0);
                values.push(noisy(p, signal, rng));
            }
        }
    }
    quantise(p, channels, &values)
}

/// Hemocytometer rulings: triple lines (dark, bright, dark) every ~250 px.
fn draw_grid(field: &mut [f64], w: usize, h: usize, channels: usize, rng: &mut Rng) {
    let period = rng.range(220.0, 280.0);
    let (ox, oy) = (rng.range(0.0, period), rng.range(0.0, period));
    let line = |d: f64| -> f64 {
        // Distance to the nearest ruling, folded into one period.
        let d = d.rem_euclid(period);
        let d = d.min(period - d);
        if d < 1.5 {
            0.6
        } else if d < 2.5 {
            1.25
        } else if d < 4.0 {
            0.7
        } else {
            1.0
        }
    };
    for y in 0..h {
        let across = line(y as f64 - oy);
        for x in 0..w {
            let t = line(x as f64 - ox) * across;
            for c in 0..channels {
                field[(y * w + x) * channels + c] *= t;
            }
        }
    }
}
