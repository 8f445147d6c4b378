//! Training data for the viability model: cellvia's own candidates, labelled
//! by matching them to ground truth (matched → the true cell's live/dead,
//! unmatched → debris). Training on the segmenter's real output teaches the
//! model exactly the objects it will be shown.

use crate::classify::CellClass;
use crate::matching::match_detections;
use crate::measure::ObjectMeasurement;
use crate::truth::Truth;

/// The training label of each candidate, in candidate order.
///
/// ```
/// use cellvia::{classify::CellClass, dataset::label_candidates, measure::ObjectMeasurement, truth::*};
/// let obj = |x| ObjectMeasurement { id: 1, x, y: 5.0, area_px: 10, diameter_px: 3.0, circularity: 1.0,
///     mean_intensity: 0.5, min_intensity: 0.4, max_intensity: 0.6, bbox: [0; 4], touches_border: false };
/// let truth = Truth { schema: TRUTH_SCHEMA.into(), width: 50, height: 10, cells: vec![
///     TruthCell { x: 5.0, y: 5.0, region: TruthRegion::Disc { radius: 4.0 }, label: CellClass::Dead }] };
/// assert_eq!(label_candidates(&[obj(6.0), obj(30.0)], &truth), [CellClass::Dead, CellClass::Debris]);
/// ```
pub fn label_candidates(objects: &[ObjectMeasurement], truth: &Truth) -> Vec<CellClass> {
    let centroids: Vec<(f64, f64, f64)> = objects
        .iter()
        .map(|o| (o.x, o.y, 0.5 * o.diameter_px))
        .collect();
    let mut labels = vec![CellClass::Debris; objects.len()];
    for (d, t) in match_detections(&centroids, &truth.cells) {
        labels[d] = truth.cells[t].label;
    }
    labels
}
