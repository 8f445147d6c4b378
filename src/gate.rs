//! Gates: criteria a classified cell must meet to be counted, as counters
//! offer them (size, circularity and brightness gates, a counting region).
//!
//! Segmentation already drops what cannot be a cell at all (its filters are
//! generous on purpose); gates are the lab's own, narrower definition of what
//! to count, e.g. "cells 8–30 µm" for an MSC product. A gated-out cell keeps
//! its model label and measurements in `results.json` (`gated`) and is counted
//! apart, never in total, live or dead.

use serde::{Deserialize, Serialize};

use crate::measure::ObjectMeasurement;

/// A closed interval `{ min, max }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Interval {
    pub min: f64,
    pub max: f64,
}

impl Interval {
    /// ```
    /// let i = cellvia::gate::Interval { min: 1.0, max: 2.0 };
    /// assert!(i.contains(1.0) && i.contains(2.0) && !i.contains(2.5));
    /// ```
    pub fn contains(&self, v: f64) -> bool {
        (self.min..=self.max).contains(&v)
    }
}

/// The part of the image where cells are counted, pixels (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CountingRegion {
    pub x_min: f64,
    pub y_min: f64,
    pub x_max: f64,
    pub y_max: f64,
}

/// Gate settings; every gate is off unless set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct GateConfig {
    /// Equivalent diameter in µm (needs `pixel_size_um`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diameter_um: Option<Interval>,
    /// Equivalent diameter in pixels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diameter_px: Option<Interval>,
    /// Least circularity (4π·area/perimeter²) of a counted cell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_circularity: Option<f64>,
    /// Mean intensity of the cell's pixels, 0..=1 of full scale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_intensity: Option<Interval>,
    /// Only cells whose centroid lies in this rectangle are counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counting_region: Option<CountingRegion>,
}

/// Why a cell was not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GateReason {
    Diameter,
    Circularity,
    MeanIntensity,
    OutsideCountingRegion,
}

impl GateReason {
    /// The name results.json and cells.csv use.
    pub fn as_str(self) -> &'static str {
        match self {
            GateReason::Diameter => "diameter",
            GateReason::Circularity => "circularity",
            GateReason::MeanIntensity => "mean_intensity",
            GateReason::OutsideCountingRegion => "outside_counting_region",
        }
    }
}

impl GateConfig {
    /// The first gate `obj` fails, in the order region, diameter,
    /// circularity, intensity; `None` when it is counted.
    ///
    /// ```
    /// use cellvia::gate::{GateConfig, GateReason, Interval};
    /// use cellvia::measure::ObjectMeasurement;
    /// let cell = ObjectMeasurement { id: 1, x: 10.0, y: 10.0, area_px: 314, diameter_px: 20.0,
    ///     circularity: 0.9, mean_intensity: 0.4, min_intensity: 0.2, max_intensity: 0.7,
    ///     bbox: [0, 0, 20, 20], touches_border: false };
    /// let gates = GateConfig { diameter_um: Some(Interval { min: 8.0, max: 30.0 }), ..Default::default() };
    /// assert_eq!(gates.check(&cell, Some(0.5)), None);             // 10 µm
    /// assert_eq!(gates.check(&cell, Some(0.2)), Some(GateReason::Diameter)); // 4 µm
    /// ```
    pub fn check(&self, obj: &ObjectMeasurement, pixel_size_um: Option<f64>) -> Option<GateReason> {
        if let Some(r) = self.counting_region {
            let inside =
                (r.x_min..=r.x_max).contains(&obj.x) && (r.y_min..=r.y_max).contains(&obj.y);
            if !inside {
                return Some(GateReason::OutsideCountingRegion);
            }
        }
        let diameter_um = pixel_size_um.map(|s| obj.diameter_px * s);
        let outside_um =
            matches!((self.diameter_um, diameter_um), (Some(g), Some(d)) if !g.contains(d));
        let outside_px = self
            .diameter_px
            .is_some_and(|g| !g.contains(obj.diameter_px));
        if outside_um || outside_px {
            return Some(GateReason::Diameter);
        }
        if self.min_circularity.is_some_and(|c| obj.circularity < c) {
            return Some(GateReason::Circularity);
        }
        if self
            .mean_intensity
            .is_some_and(|g| !g.contains(obj.mean_intensity))
        {
            return Some(GateReason::MeanIntensity);
        }
        None
    }

    /// Checks the settings: `Err((key, reason))` for the first bad one.
    pub(crate) fn validate(
        &self,
        pixel_size_um: Option<f64>,
    ) -> Result<(), (&'static str, &'static str)> {
        let ordered =
            |i: &Interval| i.min.is_finite() && i.max.is_finite() && i.min >= 0.0 && i.min <= i.max;
        if self.diameter_um.is_some() && pixel_size_um.is_none() {
            return Err(("gate.diameter_um", "needs pixel_size_um"));
        }
        for (key, interval) in [
            ("gate.diameter_um", self.diameter_um),
            ("gate.diameter_px", self.diameter_px),
            ("gate.mean_intensity", self.mean_intensity),
        ] {
            if interval.is_some_and(|i| !ordered(&i)) {
                return Err((key, "needs 0 <= min <= max"));
            }
        }
        if self
            .min_circularity
            .is_some_and(|c| !(0.0..=1.0).contains(&c))
        {
            return Err(("gate.min_circularity", "must lie in 0..=1"));
        }
        if let Some(r) = self.counting_region {
            let ok = [r.x_min, r.y_min, r.x_max, r.y_max]
                .iter()
                .all(|v| v.is_finite())
                && r.x_min < r.x_max
                && r.y_min < r.y_max;
            if !ok {
                return Err((
                    "gate.counting_region",
                    "needs x_min < x_max and y_min < y_max",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(x: f64, diameter_px: f64, circularity: f64, mean_intensity: f64) -> ObjectMeasurement {
        ObjectMeasurement {
            id: 1,
            x,
            y: 50.0,
            area_px: 300,
            diameter_px,
            circularity,
            mean_intensity,
            min_intensity: 0.0,
            max_intensity: 1.0,
            bbox: [0, 0, 1, 1],
            touches_border: false,
        }
    }

    #[test]
    fn no_gate_counts_everything() {
        assert_eq!(
            GateConfig::default().check(&cell(5.0, 2.0, 0.1, 0.0), None),
            None
        );
    }

    #[test]
    fn each_gate_rejects_for_its_reason() {
        let gates = GateConfig {
            diameter_px: Some(Interval {
                min: 10.0,
                max: 30.0,
            }),
            min_circularity: Some(0.7),
            mean_intensity: Some(Interval { min: 0.2, max: 0.8 }),
            counting_region: Some(CountingRegion {
                x_min: 0.0,
                y_min: 0.0,
                x_max: 100.0,
                y_max: 100.0,
            }),
            ..Default::default()
        };
        assert_eq!(gates.check(&cell(50.0, 20.0, 0.9, 0.5), None), None);
        assert_eq!(
            gates.check(&cell(150.0, 20.0, 0.9, 0.5), None),
            Some(GateReason::OutsideCountingRegion)
        );
        assert_eq!(
            gates.check(&cell(50.0, 40.0, 0.9, 0.5), None),
            Some(GateReason::Diameter)
        );
        assert_eq!(
            gates.check(&cell(50.0, 20.0, 0.5, 0.5), None),
            Some(GateReason::Circularity)
        );
        assert_eq!(
            gates.check(&cell(50.0, 20.0, 0.9, 0.9), None),
            Some(GateReason::MeanIntensity)
        );
    }

    #[test]
    fn bad_settings_are_named() {
        let um_without_pixel_size = GateConfig {
            diameter_um: Some(Interval {
                min: 5.0,
                max: 20.0,
            }),
            ..Default::default()
        };
        assert_eq!(
            um_without_pixel_size.validate(None).unwrap_err().0,
            "gate.diameter_um"
        );
        assert!(um_without_pixel_size.validate(Some(0.5)).is_ok());
        let reversed = GateConfig {
            mean_intensity: Some(Interval { min: 0.8, max: 0.2 }),
            ..Default::default()
        };
        assert_eq!(
            reversed.validate(None).unwrap_err().0,
            "gate.mean_intensity"
        );
    }
}
