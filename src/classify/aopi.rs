//! The AO/PI two-channel viability rule.
//!
//! Acridine orange (AO, green) crosses every membrane and stains the nucleus
//! of every nucleated cell; propidium iodide (PI, red) enters only cells whose
//! membrane has failed, and quenches AO there by energy transfer. So:
//!
//! 1. an object whose combined stain is dim (mean z below
//!    `aopi.min_cell_sigma` robust noise sigmas) holds no stained nucleus:
//!    **debris** (membrane fragments, dust, unstained red blood cells);
//! 2. otherwise its PI fraction, PI / (AO + PI) of the background-subtracted
//!    mean signals, decides: at least `aopi.dead_pi_fraction` is **dead**,
//!    less is **live**.
//!
//! The rule uses ratios and noise units, so it holds at any exposure; the two
//! channels must share one scale (they do: see
//! [`crate::preprocess::Fluorescence`]). Channel crosstalk raises a
//! live cell's PI fraction: raise `dead_pi_fraction` if the instrument's
//! filters bleed AO into the red channel.

use serde::{Deserialize, Serialize};

use super::{CellClass, ClassProbabilities, ModelInfo};
use crate::config::AopiConfig;
use crate::measure::StainSignal;

/// Version of the rule, part of its identity in results.
const RULE_NAME: &str = "cellvia-aopi-rule-v1";

/// The rule with its thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AopiRule {
    pub dead_pi_fraction: f64,
    pub min_cell_sigma: f64,
    info: ModelInfo,
}

impl AopiRule {
    /// The rule with the thresholds of `cfg`. Its identity in results names
    /// the rule and carries the SHA-256 of its thresholds.
    pub fn from_config(cfg: &AopiConfig) -> Self {
        let canonical = format!(
            "{RULE_NAME};dead_pi_fraction={};min_cell_sigma={}",
            cfg.dead_pi_fraction, cfg.min_cell_sigma
        );
        Self {
            dead_pi_fraction: cfg.dead_pi_fraction,
            min_cell_sigma: cfg.min_cell_sigma,
            info: ModelInfo {
                name: RULE_NAME.into(),
                sha256: crate::sha256_hex(canonical.as_bytes()),
                path: "(built in: two-channel rule)".into(),
            },
        }
    }

    /// The rule's identity as written into results.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Class of one object and the probabilities written for it: a cell gets
    /// P(live) = 1 − PI fraction, debris gets P(debris) = 1.
    ///
    /// ```
    /// use cellvia::{classify::{AopiRule, CellClass}, config::AopiConfig, measure::StainSignal};
    /// let rule = AopiRule::from_config(&AopiConfig::default());
    /// let live = StainSignal { ao: 0.4, pi: 0.02, z: 80.0 };
    /// let dead = StainSignal { ao: 0.05, pi: 0.4, z: 80.0 };
    /// let dim = StainSignal { ao: 0.01, pi: 0.0, z: 2.0 };
    /// assert_eq!(rule.score(&live).0, CellClass::Live);
    /// assert_eq!(rule.score(&dead).0, CellClass::Dead);
    /// assert_eq!(rule.score(&dim).0, CellClass::Debris);
    /// ```
    pub fn score(&self, stain: &StainSignal) -> (CellClass, ClassProbabilities) {
        // A NaN stain (no pixels) is debris too.
        if stain.z.is_nan() || stain.z < self.min_cell_sigma {
            let p = ClassProbabilities {
                live: 0.0,
                dead: 0.0,
                debris: 1.0,
            };
            return (CellClass::Debris, p);
        }
        let f = stain.pi_fraction();
        let class = if f >= self.dead_pi_fraction {
            CellClass::Dead
        } else {
            CellClass::Live
        };
        let p = ClassProbabilities {
            live: (1.0 - f) as f32,
            dead: f as f32,
            debris: 0.0,
        };
        (class, p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_changes_with_thresholds() {
        let a = AopiRule::from_config(&AopiConfig::default());
        let b = AopiRule::from_config(&AopiConfig {
            dead_pi_fraction: 0.6,
            ..AopiConfig::default()
        });
        assert_eq!(a.info().name, RULE_NAME);
        assert_eq!(a.info().sha256.len(), 64);
        assert_ne!(a.info().sha256, b.info().sha256);
    }

    #[test]
    fn threshold_is_inclusive_and_negative_signals_clip() {
        let rule = AopiRule::from_config(&AopiConfig {
            dead_pi_fraction: 0.5,
            ..AopiConfig::default()
        });
        let even = StainSignal {
            ao: 0.2,
            pi: 0.2,
            z: 100.0,
        };
        assert_eq!(rule.score(&even).0, CellClass::Dead);
        let negative_pi = StainSignal {
            ao: 0.2,
            pi: -0.01,
            z: 100.0,
        };
        let (class, p) = rule.score(&negative_pi);
        assert_eq!(class, CellClass::Live);
        assert_eq!(p.live, 1.0);
    }
}
