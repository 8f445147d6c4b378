//! Scoring results against ground truth: detection, counts, live/dead calls
//! and viability, per image and overall.
//!
//! A detected cell matches a true cell whose box or disc contains its
//! centroid, one-to-one, nearest first ([`crate::matching`]).

mod table;

use serde::{Deserialize, Serialize};

use crate::aggregate::record::{round, CellRecord};
use crate::classify::CellClass;
use crate::matching::match_detections;
use crate::truth::Truth;

/// How one image was scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreStatus {
    Scored,
    /// The analysis failed on this image; its true cells count as missed.
    Failed,
    /// No truth file was found for this image; it is left out of the scores.
    NoTruth,
}

/// Detection and classification tallies; they add up across images.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub truth_cells: u32,
    pub truth_live: u32,
    pub counted_cells: u32,
    pub counted_live: u32,
    pub true_positives: u32,
    /// Matched cells whose live/dead call agrees with the truth.
    pub label_agreements: u32,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.truth_cells += o.truth_cells;
        self.truth_live += o.truth_live;
        self.counted_cells += o.counted_cells;
        self.counted_live += o.counted_live;
        self.true_positives += o.true_positives;
        self.label_agreements += o.label_agreements;
    }

    fn ratio(a: u32, b: u32) -> Option<f64> {
        (b > 0).then(|| round(f64::from(a) / f64::from(b), 4))
    }

    /// Matched / counted; `None` when nothing was counted.
    pub fn precision(&self) -> Option<f64> {
        Self::ratio(self.true_positives, self.counted_cells)
    }

    /// Matched / true cells; `None` without true cells.
    pub fn recall(&self) -> Option<f64> {
        Self::ratio(self.true_positives, self.truth_cells)
    }

    /// Harmonic mean of precision and recall; 1 when there was nothing to find
    /// and nothing was found.
    pub fn f1(&self) -> f64 {
        let denominator = self.counted_cells + self.truth_cells;
        if denominator == 0 {
            return 1.0;
        }
        round(
            2.0 * f64::from(self.true_positives) / f64::from(denominator),
            4,
        )
    }

    /// Live/dead accuracy on matched cells.
    pub fn label_accuracy(&self) -> Option<f64> {
        Self::ratio(self.label_agreements, self.true_positives)
    }

    /// Counted minus true viability, in percentage points.
    pub fn viability_error_points(&self) -> Option<f64> {
        let counted = Self::ratio(self.counted_live, self.counted_cells)?;
        let truth = Self::ratio(self.truth_live, self.truth_cells)?;
        Some(round(100.0 * (counted - truth), 2))
    }
}

/// Score of one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageScore {
    pub path: String,
    pub status: ScoreStatus,
    pub tally: Tally,
    /// Counted minus true cells.
    pub count_error: i64,
}

/// Scores one image's counted cells against its truth.
///
/// ```
/// use cellvia::{aggregate::record::CellRecord, classify::CellClass, eval::score_image, truth::*};
/// let truth = Truth { schema: TRUTH_SCHEMA.into(), width: 50, height: 50, cells: vec![
///     TruthCell { x: 10.0, y: 10.0, region: TruthRegion::Disc { radius: 5.0 }, label: CellClass::Live }] };
/// let score = score_image("a.png", &[], &truth); // one miss
/// assert_eq!((score.tally.true_positives, score.count_error), (0, -1));
/// ```
pub fn score_image(path: &str, cells: &[CellRecord], truth: &Truth) -> ImageScore {
    let centroids: Vec<(f64, f64, f64)> = cells
        .iter()
        .map(|c| (c.x, c.y, 0.5 * c.diameter_px))
        .collect();
    let pairs = match_detections(&centroids, &truth.cells);
    let (truth_live, _) = truth.counts();
    let tally = Tally {
        truth_cells: truth.cells.len() as u32,
        truth_live,
        counted_cells: cells.len() as u32,
        counted_live: cells.iter().filter(|c| c.label == CellClass::Live).count() as u32,
        true_positives: pairs.len() as u32,
        label_agreements: pairs
            .iter()
            .filter(|&&(d, t)| cells[d].label == truth.cells[t].label)
            .count() as u32,
    };
    ImageScore {
        path: path.to_string(),
        status: ScoreStatus::Scored,
        count_error: i64::from(tally.counted_cells) - i64::from(tally.truth_cells),
        tally,
    }
}

/// The score of an image whose analysis failed: every true cell is missed.
pub fn failed_image(path: &str, truth: &Truth) -> ImageScore {
    let mut score = score_image(path, &[], truth);
    score.status = ScoreStatus::Failed;
    score
}

/// The (non-)score of an image without truth.
pub fn image_without_truth(path: &str) -> ImageScore {
    ImageScore {
        path: path.to_string(),
        status: ScoreStatus::NoTruth,
        tally: Tally::default(),
        count_error: 0,
    }
}

/// Overall figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overall {
    pub images_scored: u32,
    pub images_failed: u32,
    pub images_without_truth: u32,
    pub tally: Tally,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: f64,
    /// Mean |counted − true| per scored or failed image.
    pub count_mae_per_image: Option<f64>,
    /// (counted − true) / true over all images, percent.
    pub total_count_error_pct: Option<f64>,
    pub live_dead_accuracy: Option<f64>,
    pub viability_error_points: Option<f64>,
}

/// Everything `cellvia eval` reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub overall: Overall,
    pub images: Vec<ImageScore>,
}

/// Folds image scores into the overall figures.
///
/// ```
/// use cellvia::eval::{summarize, image_without_truth};
/// let report = summarize(vec![image_without_truth("x.png")]);
/// assert_eq!(report.overall.images_without_truth, 1);
/// assert_eq!(report.overall.count_mae_per_image, None);
/// ```
pub fn summarize(images: Vec<ImageScore>) -> EvalReport {
    let mut tally = Tally::default();
    let (mut scored, mut failed, mut no_truth, mut abs_error) = (0u32, 0u32, 0u32, 0u64);
    for s in &images {
        match s.status {
            ScoreStatus::NoTruth => {
                no_truth += 1;
                continue;
            }
            ScoreStatus::Scored => scored += 1,
            ScoreStatus::Failed => failed += 1,
        }
        tally.add(&s.tally);
        abs_error += s.count_error.unsigned_abs();
    }
    let with_truth = scored + failed;
    let overall = Overall {
        images_scored: scored,
        images_failed: failed,
        images_without_truth: no_truth,
        precision: tally.precision(),
        recall: tally.recall(),
        f1: tally.f1(),
        count_mae_per_image: (with_truth > 0)
            .then(|| round(abs_error as f64 / f64::from(with_truth), 3)),
        total_count_error_pct: (tally.truth_cells > 0).then(|| {
            round(
                100.0 * (f64::from(tally.counted_cells) - f64::from(tally.truth_cells))
                    / f64::from(tally.truth_cells),
                2,
            )
        }),
        live_dead_accuracy: tally.label_accuracy(),
        viability_error_points: tally.viability_error_points(),
        tally,
    };
    EvalReport { overall, images }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::truth::{TruthCell, TruthRegion, TRUTH_SCHEMA};

    fn truth(cells: &[(f64, f64, CellClass)]) -> Truth {
        Truth {
            schema: TRUTH_SCHEMA.into(),
            width: 100,
            height: 100,
            cells: cells
                .iter()
                .map(|&(x, y, label)| TruthCell {
                    x,
                    y,
                    region: TruthRegion::Disc { radius: 6.0 },
                    label,
                })
                .collect(),
        }
    }

    fn cell(x: f64, y: f64, label: CellClass) -> CellRecord {
        CellRecord {
            id: 1,
            x,
            y,
            area_px: 100,
            diameter_px: 11.0,
            diameter_um: None,
            circularity: 0.9,
            mean_intensity: 0.5,
            min_intensity: 0.3,
            max_intensity: 0.7,
            bbox: [0, 0, 10, 10],
            label,
            p_live: 0.5,
            p_cell: 0.9,
            touches_border: false,
            novelty: None,
            cluster: 1,
            cluster_size: 1,
            gated_out: None,
            stain: None,
        }
    }

    use CellClass::{Dead, Live};

    fn scenario() -> Truth {
        truth(&[(10.0, 10.0, Live), (40.0, 10.0, Live), (70.0, 10.0, Dead)])
    }

    #[test]
    fn perfect() {
        let cells = [
            cell(11.0, 10.0, Live),
            cell(40.0, 12.0, Live),
            cell(69.0, 9.0, Dead),
        ];
        let r = summarize(vec![score_image("a", &cells, &scenario())]).overall;
        assert_eq!((r.precision, r.recall, r.f1), (Some(1.0), Some(1.0), 1.0));
        assert_eq!(
            (r.count_mae_per_image, r.total_count_error_pct),
            (Some(0.0), Some(0.0))
        );
        assert_eq!(
            (r.live_dead_accuracy, r.viability_error_points),
            (Some(1.0), Some(0.0))
        );
    }

    #[test]
    fn one_miss() {
        let cells = [cell(11.0, 10.0, Live), cell(69.0, 9.0, Dead)];
        let r = summarize(vec![score_image("a", &cells, &scenario())]).overall;
        assert_eq!(
            (r.precision, r.recall, r.f1),
            (Some(1.0), Some(0.6667), 0.8)
        );
        assert_eq!(
            (r.count_mae_per_image, r.total_count_error_pct),
            (Some(1.0), Some(-33.33))
        );
        // Counted 1/2 live vs 2/3 true: -16.67 points.
        assert_eq!(r.viability_error_points, Some(-16.67));
    }

    #[test]
    fn one_extra() {
        let cells = [
            cell(11.0, 10.0, Live),
            cell(40.0, 12.0, Live),
            cell(69.0, 9.0, Dead),
            cell(90.0, 90.0, Live),
        ];
        let r = summarize(vec![score_image("a", &cells, &scenario())]).overall;
        assert_eq!((r.precision, r.recall), (Some(0.75), Some(1.0)));
        assert_eq!(r.total_count_error_pct, Some(33.33));
        assert_eq!(r.live_dead_accuracy, Some(1.0));
    }

    #[test]
    fn label_swapped() {
        let cells = [
            cell(11.0, 10.0, Dead),
            cell(40.0, 12.0, Live),
            cell(69.0, 9.0, Live),
        ];
        let r = summarize(vec![score_image("a", &cells, &scenario())]).overall;
        assert_eq!(r.f1, 1.0);
        assert_eq!(r.live_dead_accuracy, Some(0.3333));
        assert_eq!(r.viability_error_points, Some(0.0)); // swaps cancel in the count
    }

    #[test]
    fn failed_image_misses_all_its_cells() {
        let ok = score_image(
            "a",
            &[cell(11.0, 10.0, Live)],
            &truth(&[(10.0, 10.0, Live)]),
        );
        let r = summarize(vec![
            ok,
            failed_image("b", &scenario()),
            image_without_truth("c"),
        ])
        .overall;
        assert_eq!(
            (r.images_scored, r.images_failed, r.images_without_truth),
            (1, 1, 1)
        );
        assert_eq!(r.recall, Some(0.25));
        assert_eq!(r.count_mae_per_image, Some(1.5));
    }
}
