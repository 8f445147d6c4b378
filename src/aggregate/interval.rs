//! 95 % confidence intervals for counts and proportions.
//!
//! A cell count from a well-mixed suspension is Poisson: its exact (Garwood)
//! interval comes from gamma quantiles. Viability is a proportion of the
//! cells counted: the Wilson score interval, which stays inside 0..=1 and
//! behaves at 0 % and 100 %, unlike the normal approximation.

/// Two-sided 95 %: the normal quantile 1 − 0.025.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// Exact 95 % interval of a Poisson mean given `count` events (Garwood 1936):
/// lower = Gamma⁻¹(0.025; count), upper = Gamma⁻¹(0.975; count + 1).
///
/// ```
/// let (lo, hi) = cellvia::aggregate::interval::poisson_95(10);
/// assert!((lo - 4.7954).abs() < 1e-3 && (hi - 18.3904).abs() < 1e-3);
/// assert_eq!(cellvia::aggregate::interval::poisson_95(0).0, 0.0);
/// ```
pub fn poisson_95(count: u64) -> (f64, f64) {
    let n = count as f64;
    let lower = if count == 0 {
        0.0
    } else {
        gamma_quantile(n, 0.025)
    };
    (lower, gamma_quantile(n + 1.0, 0.975))
}

/// Wilson score 95 % interval of a proportion `successes / trials`; `None`
/// without trials.
///
/// ```
/// let (lo, hi) = cellvia::aggregate::interval::wilson_95(80, 100).unwrap();
/// assert!((lo - 0.7112).abs() < 1e-4 && (hi - 0.8666).abs() < 1e-4);
/// ```
pub fn wilson_95(successes: u64, trials: u64) -> Option<(f64, f64)> {
    if trials == 0 {
        return None;
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = Z_95 * Z_95;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = Z_95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// Cells needed for a 95 % Poisson interval of ± `relative_precision` (e.g.
/// 0.1 for ±10 %): (1.96 / precision)², the rule counting guidelines use.
///
/// ```
/// assert_eq!(cellvia::aggregate::interval::cells_for_precision(0.1), 385);
/// ```
pub fn cells_for_precision(relative_precision: f64) -> u64 {
    (Z_95 / relative_precision).powi(2).ceil() as u64
}

/// x with P(shape, x) = p, where P is the regularised lower incomplete gamma
/// function, by bisection (P is increasing in x).
fn gamma_quantile(shape: f64, p: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, shape + 20.0 * shape.sqrt() + 20.0);
    while regularized_gamma_p(shape, hi) < p {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if regularized_gamma_p(shape, mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-12 * hi.max(1.0) {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// Regularised lower incomplete gamma P(a, x): series for x < a + 1, else
/// the continued fraction of Q = 1 − P (Numerical Recipes §6.2).
fn regularized_gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let log_prefactor = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        let (mut term, mut sum, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..10_000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (sum * log_prefactor.exp()).min(1.0)
    } else {
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (1.0 - log_prefactor.exp() * h).max(0.0)
    }
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error ~1e-15).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = C[0];
    for (i, c) in C.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Garwood limits, as computed independently with mpmath (30 digits).
    #[test]
    fn poisson_limits_match_tables() {
        let table = [
            (0, 0.0, 3.688_879),
            (1, 0.025_318, 5.571_643),
            (5, 1.623_486, 11.668_332),
            (100, 81.363_991, 121.626_794),
        ];
        for (n, lo, hi) in table {
            let (l, h) = poisson_95(n);
            assert!((l - lo).abs() < 1e-5, "{n}: lower {l} vs {lo}");
            assert!((h - hi).abs() < 1e-5, "{n}: upper {h} vs {hi}");
        }
    }

    #[test]
    fn wilson_at_the_edges_stays_in_range() {
        let (lo, hi) = wilson_95(0, 10).unwrap();
        assert!(lo.abs() < 1e-12);
        assert!((hi - 0.277_533).abs() < 1e-5);
        let (lo, hi) = wilson_95(10, 10).unwrap();
        assert!((lo - 0.722_467).abs() < 1e-5);
        assert!((hi - 1.0).abs() < 1e-12 && hi <= 1.0);
        assert_eq!(wilson_95(0, 0), None);
    }

    proptest! {
        /// The interval contains the count and widens less than the count grows.
        #[test]
        fn poisson_interval_brackets_the_count(n in 0u64..5000) {
            let (lo, hi) = poisson_95(n);
            prop_assert!(lo <= n as f64 && n as f64 <= hi);
            prop_assert!(hi - lo <= 4.0 * Z_95 * (n as f64 + 1.0).sqrt() + 4.0);
        }
    }
}
