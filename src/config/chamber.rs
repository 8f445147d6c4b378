//! The counting chamber: the depth of the imaged volume and the pitch of
//! the rulings a field can show.

use serde::{Deserialize, Serialize};

/// The counting chamber, which sets the depth of the imaged volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Chamber {
    /// Improved Neubauer hemocytometer: 0.1 mm deep.
    NeubauerImproved,
    /// Invitrogen Countess disposable chamber slide: 100 µm deep.
    Countess,
    /// Nexcelom Cellometer SD100 slide: 100 µm deep.
    CellometerSd100,
    /// Nexcelom Cellometer SD025 slide: 25 µm deep.
    CellometerSd025,
    /// Any other chamber: `sample.chamber_depth_um` must be given.
    Custom,
}

/// The improved Neubauer's ruling pitches, µm: the 16 small squares of each
/// of the 25 central squares (50), the triple lines between those 25
/// squares (200), the 16 squares of each corner square (250) and the nine
/// large squares (1000).
const NEUBAUER_IMPROVED_PITCHES_UM: [f64; 4] = [50.0, 200.0, 250.0, 1000.0];

/// Ruling pitches `sample.chamber_grid_pitch_um` accepts, µm: 1 µm (finer
/// than any light microscope resolves as a grid) to 10 mm (wider than any
/// chamber).
pub const GRID_PITCH_UM: (f64, f64) = (1.0, 10_000.0);

impl Chamber {
    /// The preset depth in µm (`None` for `Custom`).
    ///
    /// ```
    /// use cellvia::config::Chamber;
    /// assert_eq!(Chamber::CellometerSd025.depth_um(), Some(25.0));
    /// ```
    pub fn depth_um(self) -> Option<f64> {
        match self {
            Chamber::NeubauerImproved | Chamber::Countess | Chamber::CellometerSd100 => Some(100.0),
            Chamber::CellometerSd025 => Some(25.0),
            Chamber::Custom => None,
        }
    }

    /// The pitches in µm that the chamber's rulings are known to have
    /// (empty for chambers without rulings and for `Custom`).
    ///
    /// ```
    /// use cellvia::config::Chamber;
    /// assert!(Chamber::NeubauerImproved.ruling_pitches_um().contains(&250.0));
    /// assert!(Chamber::Countess.ruling_pitches_um().is_empty());
    /// ```
    pub fn ruling_pitches_um(self) -> &'static [f64] {
        match self {
            Chamber::NeubauerImproved => &NEUBAUER_IMPROVED_PITCHES_UM,
            _ => &[],
        }
    }
}
