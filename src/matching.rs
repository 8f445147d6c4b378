//! One-to-one matching of detected objects to true cells.

use crate::truth::TruthCell;

/// Matches detections (centroid and equivalent radius) to true cells: a
/// detection may match a cell whose box or disc contains its centroid, or a
/// point cell inside it ([`TruthCell::contains`]); pairs are taken
/// nearest-first (distance to the cell's centre), each detection and each
/// cell at most once. Returns `(detection index, truth index)` pairs sorted
/// by detection index.
///
/// ```
/// use cellvia::{classify::CellClass, matching::match_detections, truth::*};
/// let cell = |x| TruthCell { x, y: 0.0, region: TruthRegion::Disc { radius: 4.0 }, label: CellClass::Live };
/// let truth = [cell(0.0), cell(6.0)];
/// // Both detections lie in both discs; nearest-first gives each its own cell.
/// assert_eq!(match_detections(&[(3.5, 0.0, 3.0), (2.0, 0.0, 3.0)], &truth), [(0, 1), (1, 0)]);
/// ```
pub fn match_detections(
    detections: &[(f64, f64, f64)],
    truth: &[TruthCell],
) -> Vec<(usize, usize)> {
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (d, &(x, y, radius)) in detections.iter().enumerate() {
        for (t, cell) in truth.iter().enumerate() {
            if cell.contains(x, y, radius) {
                pairs.push(((x - cell.x).powi(2) + (y - cell.y).powi(2), d, t));
            }
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut used_d = vec![false; detections.len()];
    let mut used_t = vec![false; truth.len()];
    let mut out = Vec::new();
    for (_, d, t) in pairs {
        if !used_d[d] && !used_t[t] {
            used_d[d] = true;
            used_t[t] = true;
            out.push((d, t));
        }
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::CellClass;
    use crate::truth::TruthRegion;

    #[test]
    fn detection_outside_every_cell_is_unmatched() {
        let truth = [TruthCell {
            x: 5.0,
            y: 5.0,
            region: TruthRegion::Box {
                xmin: 0.0,
                ymin: 0.0,
                xmax: 10.0,
                ymax: 10.0,
            },
            label: CellClass::Dead,
        }];
        assert_eq!(
            match_detections(
                &[(20.0, 5.0, 1.0), (9.0, 9.0, 1.0), (5.0, 4.0, 1.0)],
                &truth
            ),
            [(2, 0)]
        );
    }
}
