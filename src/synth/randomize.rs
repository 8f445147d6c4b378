//! Domain randomisation: a field's optics and cells drawn from its seed.
//!
//! Every range is wider than any one microscope's, so that no camera look,
//! magnification or size relation is common to all training fields except
//! the stain itself.

use super::{Rng, SynthDepth, SynthMode, SynthParams};

/// Cell diameters are drawn log-uniformly from this range, pixels.
pub const DIAMETER_RANGE_PX: (f64, f64) = (8.0, 150.0);

/// Cells fill at most this share of the field (before clumping).
const MAX_COVER: f64 = 0.2;

/// A random subset (one or two) of `all`.
fn some_of<T: Copy>(rng: &mut Rng, all: &[T]) -> Vec<T> {
    let first = ((rng.uniform() * all.len() as f64) as usize).min(all.len() - 1);
    let mut out = vec![all[first]];
    if rng.uniform() < 0.5 {
        let second = ((rng.uniform() * all.len() as f64) as usize).min(all.len() - 1);
        if second != first {
            out.push(all[second]);
        }
    }
    out
}

/// The parameters of one randomised field: `base`'s size, mode, seed and
/// cell count (as many as fit), one or two of its live and dead looks, the
/// rest drawn.
pub(super) fn draw(base: &SynthParams, rng: &mut Rng) -> SynthParams {
    let (lo, hi) = DIAMETER_RANGE_PX;
    let diameter = (lo.ln() + (hi.ln() - lo.ln()) * rng.uniform()).exp();
    // Dead cells smaller than, as large as, or larger than live ones.
    let dead_size_ratio = match (rng.uniform() * 3.0) as u32 {
        0 => rng.range(0.55, 0.85),
        1 => rng.range(0.9, 1.1),
        _ => rng.range(1.2, 1.7),
    };
    let area = f64::from(base.width) * f64::from(base.height);
    let fit = (MAX_COVER * area / (std::f64::consts::FRAC_PI_4 * diameter * diameter)) as u32;
    let depth = match (rng.uniform() * 3.0) as u32 {
        0 => SynthDepth::Eight,
        1 => SynthDepth::Twelve,
        _ => SynthDepth::Sixteen,
    };
    let brightfield = base.mode == SynthMode::Brightfield;
    let colour = brightfield && rng.uniform() < 0.4;
    let jpeg_quality =
        (depth == SynthDepth::Eight && rng.uniform() < 0.5).then(|| rng.range(60.0, 95.0) as u8);
    SynthParams {
        mode: base.mode,
        width: base.width,
        height: base.height,
        cells: base.cells.min(fit.max(1)),
        dead_fraction: rng.range(0.1, 0.7),
        diameter_mean: diameter,
        diameter_sd: diameter * rng.range(0.05, 0.2),
        clump_fraction: rng.range(0.0, 0.3),
        debris: (rng.range(0.0, 1.0) * f64::from(base.cells.min(fit.max(1)))) as u32,
        defocus_fraction: rng.range(0.0, 0.3),
        vignetting: rng.range(0.0, 0.5),
        background: rng.range(0.3, 0.8),
        photons_full_scale: (rng.range(1000f64.ln(), 20000f64.ln())).exp(),
        read_noise: rng.range(0.002, 0.01),
        depth,
        grid: brightfield && rng.uniform() < 0.3,
        pixel_size_um: None,
        grid_pitch_um: None,
        live_looks: some_of(rng, &base.live_looks),
        dead_looks: some_of(rng, &base.dead_looks),
        dead_size_ratio,
        colour,
        colour_cast: if colour { rng.range(-0.15, 0.15) } else { 0.0 },
        jpeg_quality,
        randomize: false,
        seed: base.seed,
    }
}
