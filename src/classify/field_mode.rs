//! Does a field look like the assay it is analysed as? A fluorescence
//! composite analysed as trypan brightfield gives 0 cells and "0 viable
//! cells/mL"; a brightfield field under the AO/PI rule gives nonsense
//! calls. Both are refused (`wrong_assay`) instead of answered silently.
//!
//! The tell is the background: brightfield images a lit field (the lamp
//! fills most of the sensor's range), fluorescence a dark one (camera
//! offset and autofluorescence only).

use crate::config::Assay;

/// Brightfield backgrounds sit well above this fraction of full scale:
/// over all 2,193 LDC trypan fields the background level is 0.19–0.98
/// (1st percentile 0.28), synthetic randomised fields 0.3–0.8. Fluorescence
/// composites (`cellvia synth --mode aopi`) sit at 0.03.
pub const MIN_BRIGHTFIELD_BACKGROUND: f64 = 0.1;

/// Fluorescence backgrounds stay well below this: 0.03 for synthetic
/// AO/PI fields; a lit brightfield field is above 0.19 (LDC's darkest).
pub const MAX_FLUORESCENCE_BACKGROUND: f64 = 0.25;

/// Why a field analysed as `assay` looks like the other kind of image;
/// `None` when it fits. `background` is the field's background level, 0–1
/// of full scale.
///
/// ```
/// use cellvia::classify::field_mode::wrong_assay;
/// use cellvia::config::Assay;
/// assert!(wrong_assay(Assay::Trypan, 0.03).is_some());
/// assert!(wrong_assay(Assay::Trypan, 0.45).is_none());
/// assert!(wrong_assay(Assay::Aopi, 0.45).is_some());
/// assert!(wrong_assay(Assay::Aopi, 0.03).is_none());
/// ```
pub fn wrong_assay(assay: Assay, background: f64) -> Option<String> {
    let percent = 100.0 * background;
    match assay {
        Assay::Trypan if background < MIN_BRIGHTFIELD_BACKGROUND => Some(format!(
            "wrong_assay: the background is dark ({percent:.1} % of full scale, brightfield is above {:.0} %): \
             this looks like a fluorescence image (use --assay aopi) or a badly underexposed field",
            100.0 * MIN_BRIGHTFIELD_BACKGROUND
        )),
        Assay::Aopi if background > MAX_FLUORESCENCE_BACKGROUND => Some(format!(
            "wrong_assay: the background is bright ({percent:.1} % of full scale, fluorescence is below {:.0} %): \
             this looks like a brightfield image (use --assay trypan)",
            100.0 * MAX_FLUORESCENCE_BACKGROUND
        )),
        _ => None,
    }
}
