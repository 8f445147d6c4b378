//! What cells look like in brightfield: families of live and dead
//! appearance, as transmission profiles over an object's normalised radius.
//!
//! Trained on one look, a viability model learns that look (or worse, a
//! size); these families span what trypan-blue fields show across
//! microscopes and cell types, so that what they share is the stain: a live
//! cell's interior is at least as clear as the background, a dead cell's is
//! darker (and blue, in colour).

use serde::{Deserialize, Serialize};

/// Live-cell appearance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LiveLook {
    /// Refractile bright centre, dark rim, faint halo (LDC's look).
    Refractile,
    /// Clear interior, thin dark edge, bright phase halo outside.
    HaloBright,
    /// Bright interior, dark halo outside (the other focus polarity).
    HaloDark,
    /// Faint: a thin dark outline round a clear interior.
    Dim,
}

/// Dead-cell appearance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeadLook {
    /// Dye-filled, uniformly dark.
    Dark,
    /// Dark and coarsely granular.
    Textured,
    /// Pale, partial dye uptake: uniformly a little darker than the background.
    Pale,
}

impl LiveLook {
    pub const ALL: [LiveLook; 4] = [
        LiveLook::Refractile,
        LiveLook::HaloBright,
        LiveLook::HaloDark,
        LiveLook::Dim,
    ];
}

impl DeadLook {
    pub const ALL: [DeadLook; 3] = [DeadLook::Dark, DeadLook::Textured, DeadLook::Pale];

    /// Range of the look's strength (how much light the dye takes).
    pub fn strength_range(self) -> (f64, f64) {
        match self {
            DeadLook::Dark => (0.3, 0.5),
            DeadLook::Textured => (0.3, 0.6),
            DeadLook::Pale => (0.12, 0.25),
        }
    }
}

/// What an object is, for rendering.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Look {
    Live(LiveLook),
    Dead(DeadLook),
    Debris,
}

/// A smooth bump on `lo..hi`, 1 in the middle, 0 at the ends.
fn bump(rho: f64, lo: f64, hi: f64) -> f64 {
    if rho <= lo || rho >= hi {
        0.0
    } else {
        (std::f64::consts::PI * (rho - lo) / (hi - lo)).sin()
    }
}

/// Transmission (1 = clear) of an object at normalised radius `rho`, with
/// `strength` in 0..1 and `texture` in −1..1.
///
/// ```
/// use cellvia::synth::looks::{transmission, DeadLook, LiveLook, Look};
/// for live in LiveLook::ALL {
///     assert!(transmission(Look::Live(live), 0.1, 0.8, 0.0) >= 1.0, "{live:?}");
/// }
/// for dead in DeadLook::ALL {
///     assert!(transmission(Look::Dead(dead), 0.1, 0.2, 0.0) < 0.9, "{dead:?}");
/// }
/// ```
pub fn transmission(look: Look, rho: f64, strength: f64, texture: f64) -> f64 {
    let s = strength;
    let edge = ((1.05 - rho) / 0.15).clamp(0.0, 1.0);
    match look {
        Look::Live(LiveLook::Refractile) => {
            if rho < 0.45 {
                1.0 + 0.5 * s * (1.0 - (rho / 0.45).powi(2))
            } else if rho < 1.0 {
                1.0 - 0.6 * s * (std::f64::consts::PI * (rho - 0.45) / 0.55).sin()
            } else if rho < 1.25 {
                1.0 + 0.06 * s
            } else {
                1.0
            }
        }
        Look::Live(LiveLook::HaloBright) => {
            1.0 + 0.08 * s * f64::from(u8::from(rho < 0.85)) - 0.35 * s * bump(rho, 0.8, 1.02)
                + 0.35 * s * bump(rho, 1.0, 1.35)
        }
        Look::Live(LiveLook::HaloDark) => {
            1.0 + 0.25 * s * (1.0 - (rho / 0.85).powi(2)).max(0.0)
                - 0.2 * s * bump(rho, 0.8, 1.0)
                - 0.25 * s * bump(rho, 1.0, 1.4)
        }
        Look::Live(LiveLook::Dim) => {
            1.0 + 0.03 * s * f64::from(u8::from(rho < 0.85)) - 0.25 * s * bump(rho, 0.82, 1.02)
        }
        Look::Dead(DeadLook::Dark) => 1.0 - s * edge * (0.8 + 0.2 * texture),
        Look::Dead(DeadLook::Textured) => 1.0 - s * edge * (0.65 + 0.35 * texture),
        Look::Dead(DeadLook::Pale) => 1.0 - s * edge * (0.95 + 0.05 * texture),
        Look::Debris => {
            if rho < 1.0 {
                1.0 + s * (1.0 - rho * rho)
            } else {
                1.0
            }
        }
    }
}

/// How strongly trypan blue in a dead cell absorbs red, green and blue,
/// relative to its gray absorption: the dye passes blue, so a stained cell
/// is blue, not only dark (`T_channel = T^exponent`).
pub const DYE_ABSORPTION_EXPONENTS: [f64; 3] = [1.15, 1.0, 0.35];
