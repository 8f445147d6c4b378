//! Trypan-blue brightfield: a lamp field with vignetting and a colour cast,
//! multiplied by each object's transmission ([`super::looks`]), optional
//! hemocytometer rulings (at a physical pitch and pixel size, if given);
//! gray, or RGB where dead cells' dye is blue.

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
        let period = ruling_period(p).ok().flatten();
        draw_grid(&mut trans, wi, hi, channels, period, rng);
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

/// Fewest pixels between rulings [`ruling_period`] accepts: four widths of
/// a drawn ruling (8 px), so that rulings stay apart.
const MIN_RULING_PERIOD_PX: f64 = 32.0;

/// The rulings' period in pixels that `grid_pitch_um` and `pixel_size_um`
/// ask for (both or neither; `None`: drawn at random); an error message
/// when they do not fit together.
pub(super) fn ruling_period(p: &SynthParams) -> Result<Option<f64>, String> {
    let (pixel, pitch) = match (p.pixel_size_um, p.grid_pitch_um) {
        (None, None) => return Ok(None),
        (Some(pixel), Some(pitch)) => (pixel, pitch),
        _ => return Err("grid_pitch_um and pixel_size_um go together".into()),
    };
    if !p.grid {
        return Err("grid_pitch_um needs grid".into());
    }
    let period = pitch / pixel;
    if !(pixel > 0.0 && pitch > 0.0 && period.is_finite() && period >= MIN_RULING_PERIOD_PX) {
        return Err(format!(
            "grid_pitch_um / pixel_size_um is the rulings' period and must be at least {MIN_RULING_PERIOD_PX} px"
        ));
    }
    Ok(Some(period))
}

/// Hemocytometer rulings: triple lines (dark, bright, dark) every `period`
/// px, else every 220–280 px; at a random phase.
fn draw_grid(
    field: &mut [f64],
    w: usize,
    h: usize,
    channels: usize,
    period: Option<f64>,
    rng: &mut Rng,
) {
    // Drawn whether used or not, so that a seed renders the same field as before.
    let drawn = rng.range(220.0, 280.0);
    let period = period.unwrap_or(drawn);
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

#[cfg(test)]
mod tests {
    use super::super::{render, SynthParams};
    use crate::config::{BitDepth, ChannelMode};
    use crate::preprocess::{ruling_spacing, to_intensity};

    #[test]
    fn rulings_lie_the_pitch_over_the_pixel_size_apart() {
        for (pixel_size_um, pitch) in [(0.6, 50.0), (0.9, 50.0), (2.7, 250.0)] {
            for seed in 1..=3 {
                let p = SynthParams {
                    width: 400,
                    height: 300,
                    cells: 10,
                    grid: true,
                    pixel_size_um: Some(pixel_size_um),
                    grid_pitch_um: Some(pitch),
                    seed,
                    ..Default::default()
                };
                p.validate().unwrap();
                let field = render(&p);
                let intensity = to_intensity(&field.image, ChannelMode::Luminance, BitDepth::Auto);
                let period = pitch / pixel_size_um;
                let found = ruling_spacing(&intensity).expect("rulings found");
                assert!(
                    (found / period - 1.0).abs() < 0.005,
                    "{found} px for {period} px"
                );
            }
        }
    }

    #[test]
    fn a_pitch_needs_a_pixel_size_and_the_grid() {
        let p = SynthParams {
            grid: true,
            grid_pitch_um: Some(50.0),
            ..Default::default()
        };
        assert!(p
            .validate()
            .unwrap_err()
            .to_string()
            .contains("go together"));
        let no_grid = SynthParams {
            grid: false,
            pixel_size_um: Some(0.5),
            ..p.clone()
        };
        assert!(no_grid
            .validate()
            .unwrap_err()
            .to_string()
            .contains("needs grid"));
        let too_fine = SynthParams {
            pixel_size_um: Some(5.0),
            ..p
        };
        assert!(too_fine
            .validate()
            .unwrap_err()
            .to_string()
            .contains("32 px"));
    }
}
