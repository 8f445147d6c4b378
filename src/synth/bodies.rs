//! The objects of a field before imaging, and the truth's label mask.

use image::{ImageBuffer, Luma};

use super::looks::Look;
use super::rng::Rng;
use crate::classify::CellClass;

#[derive(Debug, Clone, Copy)]
pub(super) struct Body {
    pub(super) x: f64,
    pub(super) y: f64,
    pub(super) radius: f64,
    pub(super) look: Look,
    pub(super) defocus: f64,
    /// Outline harmonics (amplitude, phase) for irregular shapes.
    pub(super) wobble: [(f64, f64); 2],
    /// Strength of the object's contrast, 0..1 scale per look.
    pub(super) strength: f64,
}

impl Body {
    pub(super) fn class(&self) -> CellClass {
        match self.look {
            Look::Live(_) => CellClass::Live,
            Look::Dead(_) => CellClass::Dead,
            Look::Debris => CellClass::Debris,
        }
    }
}

pub(super) fn place_free(
    rng: &mut Rng,
    bodies: &[Body],
    r: f64,
    w: f64,
    h: f64,
) -> Option<(f64, f64)> {
    (0..200).find_map(|_| {
        let (x, y) = (rng.range(r, w - r), rng.range(r, h - r));
        let free = bodies
            .iter()
            .all(|b| (b.x - x).hypot(b.y - y) > b.radius + r + 2.0);
        free.then_some((x, y))
    })
}

/// Normalised radius of a point relative to a body's (wobbly) outline.
pub(super) fn outline_rho(b: &Body, dx: f64, dy: f64) -> f64 {
    let theta = dy.atan2(dx);
    let outline = 1.0
        + b.wobble[0].0 * (3.0 * theta + b.wobble[0].1).sin()
        + b.wobble[1].0 * (5.0 * theta + b.wobble[1].1).sin();
    dx.hypot(dy) / (b.radius * outline)
}

pub(super) fn label_mask(
    cells: &[Body],
    width: u32,
    height: u32,
) -> ImageBuffer<Luma<u16>, Vec<u16>> {
    let (w, h) = (width as usize, height as usize);
    let mut labels = vec![0u16; w * h];
    let mut nearest = vec![f64::INFINITY; w * h];
    for (n, b) in cells.iter().enumerate() {
        let x0 = (b.x - 1.3 * b.radius).floor().max(0.0) as usize;
        let y0 = (b.y - 1.3 * b.radius).floor().max(0.0) as usize;
        let x1 = ((b.x + 1.3 * b.radius).ceil() as usize).min(w.saturating_sub(1));
        let y1 = ((b.y + 1.3 * b.radius).ceil() as usize).min(h.saturating_sub(1));
        for y in y0..=y1 {
            for x in x0..=x1 {
                let rho = outline_rho(b, x as f64 - b.x, y as f64 - b.y);
                let i = y * w + x;
                if rho <= 1.0 && rho < nearest[i] {
                    nearest[i] = rho;
                    labels[i] = (n + 1).min(usize::from(u16::MAX)) as u16;
                }
            }
        }
    }
    ImageBuffer::from_raw(width, height, labels)
        .unwrap_or_else(|| ImageBuffer::from_pixel(width, height, Luma([0])))
}
