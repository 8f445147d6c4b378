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
//! every golden label is right. Held-out LDC (`scripts/accuracy.py`, both
//! with the two-step call of [`ClassProbabilities::class`]): live/dead
//! agreement 0.947 → 0.950, F1 0.910 → 0.916, but viability +0.2 → +1.7
//! points, the cells put right being mostly live (README); LDC at half
//! scale, live/dead 0.909 → 0.923.
//!
//! Only hesitant crops are re-scored, so the cost follows how many calls are
//! close, not how many objects there are; confident calls keep their single
//! score. Which crops are hesitant, and how they are batched, depends only
//! on the image's own crops and `classify.batch_size`, so results stay the
//! same whatever the thread count.

use ndarray::{s, Array4, ArrayView4, Axis};

use super::{ClassProbabilities, ClassifyError, Score};

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

/// Hesitant crops re-scored per model run: their seven re-orientations make
/// batches of 448 crops (5.5 MB for 3×32×32), so a dense field's second
/// opinions never hold all its re-oriented crops at once.
const HESITANT_PER_RUN: usize = 64;

/// Replaces the probabilities of every hesitant score in `scores` (one per
/// crop of square `crops`) with the mean over the crop's eight
/// orientations; `score` runs the model on a batch of crops. Novelty stays
/// the upright crop's. Returns how many scores were re-scored.
pub(crate) fn second_opinions(
    crops: &Array4<f32>,
    scores: &mut [Score],
    mut score: impl FnMut(&Array4<f32>) -> Result<Vec<Score>, ClassifyError>,
) -> Result<usize, ClassifyError> {
    let (n, channels, side, width) = crops.dim();
    if n != scores.len() || side != width {
        return Err(ClassifyError::Inference(format!(
            "second opinions need one score per square crop: {} scores for crops {:?}",
            scores.len(),
            crops.shape()
        )));
    }
    let hesitant: Vec<usize> = (0..n)
        .filter(|&i| is_hesitant(&scores[i].probabilities))
        .collect();
    // Seven re-orientations of a group in one run: a few hesitant crops
    // per field would otherwise make seven tiny batches, each paying the
    // runtime's per-call overhead.
    for group in hesitant.chunks(HESITANT_PER_RUN) {
        let k = group.len();
        let subset = crops.select(Axis(0), group);
        let mut stacked = Array4::zeros(((ORIENTATIONS - 1) * k, channels, side, side));
        for t in 1..ORIENTATIONS {
            stacked
                .slice_mut(s![(t - 1) * k..t * k, .., .., ..])
                .assign(&oriented(subset.view(), t));
        }
        let rescored = score(&stacked)?;
        if rescored.len() != stacked.shape()[0] {
            return Err(ClassifyError::Inference(format!(
                "model gave {} scores for {} crops",
                rescored.len(),
                stacked.shape()[0]
            )));
        }
        let mut sums: Vec<[f32; 3]> = group
            .iter()
            .map(|&i| {
                let p = scores[i].probabilities;
                [p.live, p.dead, p.debris]
            })
            .collect();
        // Row (t − 1)·k + j is orientation t of the group's crop j.
        for turn in rescored.chunks_exact(k) {
            for (sum, s) in sums.iter_mut().zip(turn) {
                let p = s.probabilities;
                sum[0] += p.live;
                sum[1] += p.dead;
                sum[2] += p.debris;
            }
        }
        let count = ORIENTATIONS as f32;
        for (&i, sum) in group.iter().zip(&sums) {
            scores[i].probabilities = ClassProbabilities {
                live: sum[0] / count,
                dead: sum[1] / count,
                debris: sum[2] / count,
            };
        }
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

    /// A fake model whose P(live) is a crop's top-left pixel / 1000: each
    /// row's answer names the crop and orientation it was given.
    fn corner_model(batch: &Array4<f32>) -> Result<Vec<Score>, ClassifyError> {
        Ok((0..batch.shape()[0])
            .map(|b| {
                let live = batch[[b, 0, 0, 0]] / 1000.0;
                Score {
                    probabilities: probabilities(live, 0.0, 1.0 - live),
                    novelty: None,
                }
            })
            .collect())
    }

    #[test]
    fn only_hesitant_crops_are_rescored_each_over_its_own_orientations() {
        let crops = numbered(5, 4);
        let upright = |p| Score {
            probabilities: p,
            novelty: Some(0.5),
        };
        // Hesitant crops 1 and 3 between confident ones (a sure cell, sure
        // debris with an unsure live/dead split, a sure cell).
        let sure = [
            probabilities(0.95, 0.03, 0.02),
            probabilities(0.02, 0.03, 0.95),
            probabilities(0.03, 0.9, 0.07),
        ];
        let mut scores = vec![
            upright(sure[0]),
            upright(probabilities(0.5, 0.4, 0.1)),
            upright(sure[1]),
            upright(probabilities(0.3, 0.2, 0.5)),
            upright(sure[2]),
        ];
        let before = scores.clone();
        let mut batches = Vec::new();
        let rescored = second_opinions(&crops, &mut scores, |batch| {
            batches.push(batch.shape()[0]);
            corner_model(batch)
        })
        .unwrap();
        assert_eq!(rescored, 2);
        assert_eq!(batches, vec![2 * (ORIENTATIONS - 1)]);
        for i in [1, 3] {
            let turned: f32 = (1..ORIENTATIONS)
                .map(|t| oriented(crops.slice(s![i..=i, .., .., ..]), t)[[0, 0, 0, 0]] / 1000.0)
                .sum();
            let p = scores[i].probabilities;
            let expected = (before[i].probabilities.live + turned) / ORIENTATIONS as f32;
            assert!((p.live - expected).abs() < 1e-6, "crop {i}: {p:?}");
            assert_eq!(scores[i].novelty, Some(0.5));
        }
        for (i, p) in [(0, sure[0]), (2, sure[1]), (4, sure[2])] {
            assert_eq!(scores[i].probabilities, p);
        }
    }

    #[test]
    fn a_model_that_drops_rows_is_an_error() {
        let crops = numbered(1, 4);
        let mut scores = vec![Score {
            probabilities: probabilities(0.5, 0.4, 0.1),
            novelty: None,
        }];
        let result = second_opinions(&crops, &mut scores, |batch| {
            let mut all = corner_model(batch)?;
            all.pop();
            Ok(all)
        });
        assert!(matches!(result, Err(ClassifyError::Inference(_))));
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
        let rescored =
            second_opinions(&crops, &mut scores, |_| panic!("no hesitant crop, no run")).unwrap();
        assert_eq!(rescored, 0);
    }
}
