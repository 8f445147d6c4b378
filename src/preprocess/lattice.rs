//! Ruling centres fitted to an evenly spaced lattice `a + k·s` over
//! integers `k` ([`super::grid`]).
//!
//! Each pair of rulings up to [`NEIGHBOURS`] apart proposes a lattice (their
//! gap as `s`), refined by weighted least squares on the centres within a
//! tenth of a spacing of a lattice position. A ruling that was missed leaves
//! a gap of two spacings and does not bias the fit; a stray one (dense cells
//! can lift a column's median) is left out of it. The lattice holding the
//! most weight wins, provided its positions between its first and last
//! ruling are mostly taken (so half the spacing, which holds the same
//! rulings, does not win; faint strays do not count) and it holds most of
//! the axis's ruling weight: else there is no regular grid.

/// Rulings an axis needs to have a spacing: three give two spacings, the
/// least from which regularity can be seen.
const MIN_RULINGS: usize = 3;

/// A centre further than this fraction of the spacing from its lattice
/// position is not on the lattice. Chamber rulings are etched to well under
/// a micrometre; lens distortion and a centre's sub-pixel error move them by
/// a few per cent of a spacing at most.
const LATTICE_TOLERANCE: f64 = 0.1;

/// A lattice must hold this share of the rulings' weight: the rulings a
/// chamber shows are all on it, while stray runs are faint.
const MIN_WEIGHT_ON_LATTICE: f64 = 0.75;

/// Share of the lattice positions between its first and last ruling that
/// must hold one: a missed ruling among four leaves 0.75, half the true
/// spacing about 0.5.
const MIN_OCCUPANCY: f64 = 0.7;

/// Runs (rulings) whose peak (weight) is at least this fraction of
/// another's are alike: the lines of a triple ruling, or the rulings of one
/// chamber; a stray run lifted by dense cells is fainter.
pub(super) const LIKE: f32 = 0.5;

/// Pairs of rulings this many apart or closer propose a lattice: true
/// neighbours with up to three stray runs between them.
const NEIGHBOURS: usize = 4;

/// Spacings under this many pixels are not measured: a 50 µm pitch is then
/// coarser than 5 µm/px, beyond any counting objective (4× on a 6.5 µm
/// camera pixel gives 1.6 µm/px), and a few ruling widths would fill it.
const MIN_SPACING_PX: f64 = 10.0;

/// A ruling along one axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Ruling {
    /// Position, pixels (sub-pixel).
    pub centre: f64,
    /// Summed |median contrast| of its columns (rows).
    pub weight: f64,
}

/// Rulings fitted to a lattice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Lattice {
    /// Pixels between neighbouring rulings.
    pub spacing: f64,
    /// Spacings between the first and the last fitted ruling.
    pub span: usize,
    /// Weight of the rulings on it.
    pub weight: f64,
}

/// The lattice `a + k·s` that rulings (in order) fall on, see the module
/// documentation; `None` when none holds [`MIN_RULINGS`] rulings and
/// [`MIN_WEIGHT_ON_LATTICE`] of their weight.
pub(super) fn lattice(rulings: &[Ruling]) -> Option<Lattice> {
    if rulings.len() < MIN_RULINGS {
        return None;
    }
    let mut best: Option<Lattice> = None;
    for (i, first) in rulings.iter().enumerate() {
        for second in rulings.iter().skip(i + 1).take(NEIGHBOURS) {
            let Some(fit) = refine(rulings, first.centre, second.centre - first.centre) else {
                continue;
            };
            // Ties (the same rulings) go to the wider spacing.
            let better = best.is_none_or(|b| {
                fit.weight > b.weight * (1.0 + 1e-9)
                    || (fit.weight >= b.weight * (1.0 - 1e-9) && fit.spacing > b.spacing)
            });
            if better {
                best = Some(fit);
            }
        }
    }
    let total: f64 = rulings.iter().map(|r| r.weight).sum();
    best.filter(|b| b.weight >= MIN_WEIGHT_ON_LATTICE * total)
}

/// Rounds of refitting a proposed lattice: each may take in rulings further
/// from the pair that proposed it.
const REFITS: usize = 4;

/// The lattice through `origin` every `spacing` px, refitted to the
/// rulings near it; `None` when it holds too few or has too many gaps.
fn refine(rulings: &[Ruling], origin: f64, spacing: f64) -> Option<Lattice> {
    let (mut origin, mut spacing) = (origin, spacing);
    for _ in 0..REFITS {
        if spacing < MIN_SPACING_PX {
            return None;
        }
        let on = fitted(rulings, origin, spacing);
        if on.len() < MIN_RULINGS {
            return None;
        }
        (origin, spacing) = least_squares(&on);
    }
    if spacing < MIN_SPACING_PX {
        return None;
    }
    let on = fitted(rulings, origin, spacing);
    // Occupancy counts the rulings like the median one: faint strays that
    // happen to lie on half the spacing do not fill it.
    let mut weights: Vec<f64> = on.iter().map(|r| r.1.weight).collect();
    weights.sort_by(f64::total_cmp);
    let median = *weights.get(weights.len() / 2)?;
    let like: Vec<f64> = on
        .iter()
        .filter(|r| r.1.weight >= f64::from(LIKE) * median)
        .map(|r| r.0)
        .collect();
    let span = like.last()? - like.first()?;
    (like.len() >= MIN_RULINGS && like.len() as f64 >= MIN_OCCUPANCY * (span + 1.0)).then(|| {
        Lattice {
            spacing,
            span: span as usize,
            weight: weights.iter().sum(),
        }
    })
}

/// `(k, ruling)` of the rulings within [`LATTICE_TOLERANCE`] of lattice
/// position `k`, in order; one per position, the nearest.
fn fitted(rulings: &[Ruling], origin: f64, spacing: f64) -> Vec<(f64, Ruling)> {
    let mut kept: Vec<(f64, Ruling, f64)> = Vec::new();
    for &r in rulings {
        let k = ((r.centre - origin) / spacing).round();
        let off = (r.centre - origin - k * spacing).abs();
        if off > LATTICE_TOLERANCE * spacing {
            continue;
        }
        match kept.last_mut() {
            Some(last) if last.0 == k => {
                if off < last.2 {
                    *last = (k, r, off);
                }
            }
            _ => kept.push((k, r, off)),
        }
    }
    kept.into_iter().map(|(k, r, _)| (k, r)).collect()
}

/// Weighted least-squares `(a, s)` of `centre = a + s·k` over `(k, ruling)`
/// pairs (at least two distinct `k`).
fn least_squares(points: &[(f64, Ruling)]) -> (f64, f64) {
    let total: f64 = points.iter().map(|p| p.1.weight).sum();
    let mean_k = points.iter().map(|p| p.1.weight * p.0).sum::<f64>() / total;
    let mean_c = points.iter().map(|p| p.1.weight * p.1.centre).sum::<f64>() / total;
    let (mut skc, mut skk) = (0.0, 0.0);
    for (k, r) in points {
        skc += r.weight * (k - mean_k) * (r.centre - mean_c);
        skk += r.weight * (k - mean_k) * (k - mean_k);
    }
    let slope = skc / skk;
    (mean_c - slope * mean_k, slope)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rulings of weight 1 at `centres`.
    fn at(centres: &[f64]) -> Vec<Ruling> {
        centres
            .iter()
            .map(|&centre| Ruling {
                centre,
                weight: 1.0,
            })
            .collect()
    }

    #[test]
    fn a_missed_ruling_and_faint_strays_do_not_move_the_lattice() {
        let fit = lattice(&at(&[10.0, 93.3, 259.9, 343.2, 426.5])).unwrap();
        assert!((fit.spacing - 83.3).abs() < 0.01, "{fit:?}");
        assert_eq!(fit.span, 5);
        // Faint strays (a tenth of a ruling's weight), one of them midway.
        let mut strays = at(&[10.0, 93.3, 176.6, 259.9, 343.2]);
        for centre in [51.6, 140.0, 150.0, 290.0] {
            strays.push(Ruling {
                centre,
                weight: 0.1,
            });
        }
        strays.sort_by(|a, b| a.centre.total_cmp(&b.centre));
        let fit = lattice(&strays).unwrap();
        assert!((fit.spacing - 83.3).abs() < 0.01, "{fit:?}");
        // Rulings midway as strong as the rest: that is the lattice.
        let halves: Vec<f64> = (0..9).map(|k| 10.0 + 41.65 * f64::from(k)).collect();
        assert!((lattice(&at(&halves)).unwrap().spacing - 41.65).abs() < 0.01);
        // Strong rulings off any lattice: none.
        assert_eq!(
            lattice(&at(&[10.0, 55.0, 93.3, 120.0, 176.6, 230.0, 250.0])),
            None
        );
        assert_eq!(lattice(&at(&[10.0, 93.3])), None);
    }
}
