//! Second opinions for hesitant calls: a crop the model is unsure of is
//! scored again in its seven other orientations (the rotations by 90° and
//! the mirror images, exact symmetries of a cell that the model was trained
//! with), and the eight probability vectors are averaged.
//!
//! A small network is not exactly invariant to these symmetries, so near a
//! decision boundary a pixel of noise can flip its call. The 20 clumped
//! synthetic scenes of `tests/synthetic.rs`, rendered at 8 and at 12 bits
//! (the same scene, only the quantisation differs): with single scoring the
//! totals differed by 5 cells and a dim live cell of a golden scene was
//! called dead at 12 bits only; with second opinions they differ by 3 and
//! every golden label is right. Held-out LDC: live/dead agreement 0.947 →
//! 0.950, F1 0.910 → 0.916; LDC at half scale 0.909 → 0.924
//! (`scripts/accuracy.py`; both with the two-step call of
//! [`ClassProbabilities::class`]).
//!
//! Only hesitant crops are re-scored, so the cost follows how many calls are
//! close, not how many objects there are; confident calls keep their single
//! score. The set of hesitant crops depends on the crop alone, so results
//! stay the same whatever the thread count.

use ndarray::{s, Array4, ArrayView4, Axis};

use super::{ClassProbabilities, Score};

/// A call is hesitant when P(cell), or for a possible cell P(live | cell),
/// lies strictly inside this band: the band within which
/// `aggregate::confidence` reports a viability call as uncertain.
pub const HESITANT_BAND: (f32, f32) = (0.2, 0.8);

/// The orientations of a square crop: the identity, three rotations and
/// four mirror images.
pub const ORIENTATIONS: usize = 8;

/// Whether the model hesitates between cell and debris, or between live
/// and dead on an object that may be a cell (the split of a sure piece of
/// debris counts for nothing).
///
/// ```
/// use cellvia::classify::{symmetry::is_hesitant, ClassProbabilities};
/// let sure = ClassProbabilities { live: 0.9, dead: 0.05, debris: 0.05 };
/// let torn = ClassProbabilities { live: 0.4, dead: 0.5, debris: 0.1 };
/// let speck = ClassProbabilities { live: 0.02, dead: 0.03, debris: 0.95 };
/// assert!(!is_hesitant(&sure) && is_hesitant(&torn) && !is_hesitant(&speck));
/// ```
pub fn is_hesitant(p: &ClassProbabilities) -> bool {
    let inside = |v: f32| v > HESITANT_BAND.0 && v < HESITANT_BAND.1;
    let cell = p.live + p.dead;
    inside(cell) || (cell >= HESITANT_BAND.1 && inside(p.p_live_given_cell()))
}

/// Square crops `[n, channels, S, S]` in orientation `t` (0..8): transposed when
/// bit 2 is set, then rows reversed for bit 0 and columns for bit 1.
/// Orientation 0 is the crops themselves.
///
/// ```
/// use cellvia::classify::symmetry::oriented;
/// let crop = ndarray::Array4::from_shape_vec((1, 1, 2, 2), vec![1.0, 2.0, 3.0, 4.0]).unwrap();
/// // Transposed, then rows reversed: a quarter turn.
/// let turned = oriented(crop.view(), 5);
/// assert_eq!(turned.iter().copied().collect::<Vec<f32>>(), vec![2.0, 4.0, 1.0, 3.0]);
/// ```
pub fn oriented(crops: ArrayView4<f32>, t: usize) -> Array4<f32> {
    let mut view = if t & 4 != 0 {
        crops.permuted_axes([0, 1, 3, 2])
    } else {
        crops
    };
    if t & 1 != 0 {
        view.invert_axis(Axis(2));
    }
    if t & 2 != 0 {
        view.invert_axis(Axis(3));
    }
    view.as_standard_layout().into_owned()
}

/// Replaces the probabilities of every hesitant score in `scores` (one per
/// crop of `crops`) with the mean over the crop's eight orientations;
/// `score` runs the model on a batch of crops. Novelty stays the upright
/// crop's. Returns how many scores were re-scored.
pub(crate) fn second_opinions<E>(
    crops: &Array4<f32>,
    scores: &mut [Score],
    mut score: impl FnMut(&Array4<f32>) -> Result<Vec<Score>, E>,
) -> Result<usize, E> {
    let hesitant: Vec<usize> = (0..scores.len())
        .filter(|&i| is_hesitant(&scores[i].probabilities))
        .collect();
    if hesitant.is_empty() {
        return Ok(0);
    }
    let subset = crops.select(Axis(0), &hesitant);
    let mut sums: Vec<[f32; 3]> = hesitant
        .iter()
        .map(|&i| {
            let p = scores[i].probabilities;
            [p.live, p.dead, p.debris]
        })
        .collect();
    // One run over all seven re-orientations: a few hesitant crops per
    // field would otherwise make seven tiny batches, each paying the
    // runtime's per-call overhead.
    let k = hesitant.len();
    let (_, channels, side, _) = subset.dim();
    let mut stacked = Array4::zeros(((ORIENTATIONS - 1) * k, channels, side, side));
    for t in 1..ORIENTATIONS {
        stacked
            .slice_mut(s![(t - 1) * k..t * k, .., .., ..])
            .assign(&oriented(subset.view(), t));
    }
    let rescored = score(&stacked)?;
    for turn in rescored.chunks_exact(hesitant.len()) {
        for (sum, s) in sums.iter_mut().zip(turn) {
            let p = s.probabilities;
            sum[0] += p.live;
            sum[1] += p.dead;
            sum[2] += p.debris;
        }
    }
    let n = ORIENTATIONS as f32;
    for (&i, sum) in hesitant.iter().zip(&sums) {
        scores[i].probabilities = ClassProbabilities {
            live: sum[0] / n,
            dead: sum[1] / n,
            debris: sum[2] / n,
        };
    }
    Ok(hesitant.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array4;

    fn probabilities(live: f32, dead: f32, debris: f32) -> ClassProbabilities {
        ClassProbabilities { live, dead, debris }
    }

    fn numbered(n: usize, side: usize) -> Array4<f32> {
        Array4::from_shape_fn((n, 2, side, side), |(i, c, y, x)| {
            (((i * 2 + c) * side + y) * side + x) as f32
        })
    }

    #[test]
    fn the_eight_orientations_are_distinct_and_keep_the_pixels() {
        let crops = numbered(1, 3);
        let mut seen: Vec<Vec<f32>> = Vec::new();
        for t in 0..ORIENTATIONS {
            let o = oriented(crops.view(), t);
            assert_eq!(o.shape(), crops.shape());
            let mut values: Vec<f32> = o.iter().copied().collect();
            assert!(!seen.contains(&values), "orientation {t} repeats one");
            seen.push(values.clone());
            values.sort_by(f32::total_cmp);
            let mut original: Vec<f32> = crops.iter().copied().collect();
            original.sort_by(f32::total_cmp);
            assert_eq!(values, original);
            // The centre pixel of each channel never moves.
            assert_eq!(o[[0, 1, 1, 1]], crops[[0, 1, 1, 1]]);
        }
        assert_eq!(oriented(crops.view(), 0), crops);
    }

    #[test]
    fn only_hesitant_crops_are_rescored_and_averaged() {
        let crops = numbered(3, 4);
        let upright = |p| Score {
            probabilities: p,
            novelty: Some(0.5),
        };
        let mut scores = vec![
            upright(probabilities(0.95, 0.03, 0.02)),
            upright(probabilities(0.5, 0.4, 0.1)),
            upright(probabilities(0.02, 0.03, 0.95)),
        ];
        let mut batches = Vec::new();
        // A fake model that calls every re-scored orientation plainly dead.
        let rescored = second_opinions(&crops, &mut scores, |batch| {
            batches.push(batch.shape()[0]);
            Ok::<_, ()>(vec![
                upright(probabilities(0.1, 0.8, 0.1));
                batch.shape()[0]
            ])
        })
        .unwrap();
        assert_eq!(rescored, 1);
        assert_eq!(batches, vec![ORIENTATIONS - 1]);
        let p = scores[1].probabilities;
        assert!((p.live - (0.5 + 7.0 * 0.1) / 8.0).abs() < 1e-6);
        assert!((p.dead - (0.4 + 7.0 * 0.8) / 8.0).abs() < 1e-6);
        assert_eq!(scores[0].probabilities, probabilities(0.95, 0.03, 0.02));
        assert_eq!(scores[2].probabilities, probabilities(0.02, 0.03, 0.95));
        assert_eq!(scores[1].novelty, Some(0.5));
    }

    #[test]
    fn confident_calls_cost_no_second_run() {
        let crops = numbered(2, 4);
        let mut scores = vec![
            Score {
                probabilities: probabilities(0.9, 0.05, 0.05),
                novelty: None,
            };
            2
        ];
        let rescored = second_opinions(&crops, &mut scores, |_| -> Result<Vec<Score>, ()> {
            panic!("no hesitant crop, no run")
        })
        .unwrap();
        assert_eq!(rescored, 0);
    }
}
