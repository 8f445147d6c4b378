//! The release verdict: a lab's acceptance criteria (a TOML spec file)
//! applied to each sample.
//!
//! A sample is **INVALID** when its numbers cannot be trusted to decide
//! (too few cells, failed fields, over-dense, a criterion that needs the
//! concentration without a pixel size), else **FAIL** when any criterion is
//! not met, else **PASS**. Criteria compare point estimates, as release
//! specifications are written; the 95 % intervals are reported beside them.
//!
//! ```toml
//! name = "MSC release, SOP-123 rev 4"
//! min_viability = 0.70                         # live / (live + dead)
//! viable_cells_per_ml = { min = 1.0e6, max = 5.0e6 }
//! min_cells_counted = 200
//! max_aggregate_fraction = 0.25
//! max_debris_fraction = 0.5
//! max_failed_fields = 0
//! max_flagged_fields = 0                       # image-quality flags ([quality] limits)
//! ```

use serde::{Deserialize, Serialize};

use super::sample::SampleResult;
use crate::gate::Interval;

/// Cells a sample needs before a spec may PASS it when the spec does not
/// say: with 100 cells the Poisson 95 % interval of a concentration is
/// about ±20 % and the binomial interval of an 80 % viability about ±8
/// points, the loosest a release number can carry; fewer make the sample
/// INVALID rather than letting ten cells decide a batch.
pub const DEFAULT_MIN_CELLS_COUNTED: u32 = 100;

/// Acceptance criteria; every criterion is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ReleaseSpec {
    /// The spec's name as the lab knows it (SOP, revision).
    pub name: String,
    /// Least viability, 0..=1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_viability: Option<f64>,
    /// Live cells/mL in the original sample.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub viable_cells_per_ml: Option<Interval>,
    /// Fewer counted cells make the sample INVALID (unset in the file:
    /// [`DEFAULT_MIN_CELLS_COUNTED`], filled in by [`ReleaseSpec::from_toml`];
    /// 0 turns the check off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_cells_counted: Option<u32>,
    /// Most cells in aggregates, 0..=1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_aggregate_fraction: Option<f64>,
    /// Most debris among objects, 0..=1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_debris_fraction: Option<f64>,
    /// More failed fields make the sample INVALID (default 0).
    pub max_failed_fields: u32,
    /// More fields with image-quality flags make the sample INVALID (unset:
    /// flags are warnings only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_flagged_fields: Option<u32>,
}

/// Why a spec file is unusable.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("spec: {0}")]
    Parse(String),
    #[error("spec sets no criterion (min_viability, viable_cells_per_ml, ...): it would pass every sample")]
    Empty,
    #[error("spec: `{key}` {reason}")]
    Invalid {
        key: &'static str,
        reason: &'static str,
    },
}

impl ReleaseSpec {
    /// Parses and checks a TOML spec.
    ///
    /// ```
    /// let spec = cellvia::aggregate::spec::ReleaseSpec::from_toml("min_viability = 0.7").unwrap();
    /// assert_eq!(spec.min_viability, Some(0.7));
    /// assert!(cellvia::aggregate::spec::ReleaseSpec::from_toml("min_viability = 70").is_err());
    /// ```
    pub fn from_toml(text: &str) -> Result<Self, SpecError> {
        let spec: ReleaseSpec =
            toml::from_str(text).map_err(|e| SpecError::Parse(e.to_string()))?;
        let fraction = |key, v: Option<f64>| match v {
            Some(v) if !(0.0..=1.0).contains(&v) => Err(SpecError::Invalid {
                key,
                reason: "is a fraction: give it in 0..=1 (70 % is 0.7)",
            }),
            _ => Ok(()),
        };
        let criteria = [
            spec.min_viability.is_some(),
            spec.viable_cells_per_ml.is_some(),
            spec.min_cells_counted.is_some(),
            spec.max_aggregate_fraction.is_some(),
            spec.max_debris_fraction.is_some(),
            spec.max_flagged_fields.is_some(),
        ];
        if !criteria.contains(&true) {
            return Err(SpecError::Empty);
        }
        // Filled in here, so the verdict, results.json and the report all
        // show the rule that applied.
        let mut spec = spec;
        spec.min_cells_counted
            .get_or_insert(DEFAULT_MIN_CELLS_COUNTED);
        fraction("min_viability", spec.min_viability)?;
        fraction("max_aggregate_fraction", spec.max_aggregate_fraction)?;
        fraction("max_debris_fraction", spec.max_debris_fraction)?;
        if let Some(i) = spec.viable_cells_per_ml {
            if !(i.min >= 0.0 && i.min <= i.max) {
                return Err(SpecError::Invalid {
                    key: "viable_cells_per_ml",
                    reason: "needs 0 <= min <= max",
                });
            }
        }
        Ok(spec)
    }
}

/// The spec a run applied, as recorded in its results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SpecUsed {
    pub path: String,
    /// SHA-256 of the spec file's bytes.
    pub sha256: String,
    pub criteria: ReleaseSpec,
}

/// The outcome for one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    Pass,
    Fail,
    Invalid,
}

impl Verdict {
    /// The verdict as reports print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Invalid => "INVALID",
        }
    }
}

/// A verdict with every reason that led to it (empty for PASS).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SampleVerdict {
    pub verdict: Verdict,
    pub reasons: Vec<String>,
}

/// Applies the spec to a sample.
///
/// ```
/// use cellvia::aggregate::spec::{judge, ReleaseSpec, Verdict};
/// # let mut s = cellvia::aggregate::sample::SampleAccumulator::default().finish("A", None, &cellvia::Config::default());
/// s.fields = 2; s.counts.total = 400; s.counts.live = 260; s.counts.dead = 140;
/// s.viability = Some(cellvia::aggregate::sample::Estimate { value: 0.65, ci95: [0.60, 0.70] });
/// let spec = ReleaseSpec::from_toml("min_viability = 0.7").unwrap();
/// let v = judge(&spec, &s);
/// assert_eq!(v.verdict, Verdict::Fail);
/// assert!(v.reasons[0].contains("viability 65.0 % < 70.0 %"));
/// ```
pub fn judge(spec: &ReleaseSpec, s: &SampleResult) -> SampleVerdict {
    let mut invalid = Vec::new();
    let mut fail = Vec::new();
    if s.fields == s.fields_failed {
        invalid.push("no field could be analysed".to_string());
    }
    if s.fields_failed > spec.max_failed_fields {
        invalid.push(format!(
            "{} failed fields > {} allowed",
            s.fields_failed, spec.max_failed_fields
        ));
    }
    if let Some(min) = spec.min_cells_counted {
        if s.counts.total < min {
            invalid.push(format!("{} cells counted < {min} required", s.counts.total));
        }
    }
    if let Some(max) = spec.max_flagged_fields {
        if s.fields_flagged > max {
            invalid.push(format!(
                "{} flagged fields ({}) > {max} allowed",
                s.fields_flagged,
                super::quality::flag_tally(&s.quality_flags)
            ));
        }
    }
    for prefix in [
        "over-dense",
        super::confidence::LOW_CONFIDENCE,
        super::plausibility::IMPLAUSIBLE,
    ] {
        invalid.extend(s.warnings.iter().filter(|w| w.starts_with(prefix)).cloned());
    }
    if let Some(min) = spec.min_viability {
        match s.viability {
            Some(v) if v.value < min => fail.push(format!(
                "viability {:.1} % < {:.1} %",
                100.0 * v.value,
                100.0 * min
            )),
            Some(_) => {}
            None => invalid.push("no cells: viability undefined".into()),
        }
    }
    if let Some(range) = spec.viable_cells_per_ml {
        match &s.concentration_per_ml {
            Some(c) if !range.contains(c.live.value) => fail.push(format!(
                "viable concentration {:.3e} cells/mL outside {:.3e}..{:.3e}",
                c.live.value, range.min, range.max
            )),
            Some(_) => {}
            None => invalid
                .push("viable concentration required but not computed (pixel size unknown)".into()),
        }
    }
    if let (Some(max), Some(f)) = (spec.max_aggregate_fraction, s.aggregate_fraction) {
        if f > max {
            fail.push(format!(
                "aggregates {:.1} % > {:.1} %",
                100.0 * f,
                100.0 * max
            ));
        }
    }
    if let (Some(max), Some(f)) = (spec.max_debris_fraction, s.debris_fraction) {
        if f > max {
            fail.push(format!("debris {:.1} % > {:.1} %", 100.0 * f, 100.0 * max));
        }
    }
    let verdict = if !invalid.is_empty() {
        Verdict::Invalid
    } else if !fail.is_empty() {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    invalid.extend(fail);
    SampleVerdict {
        verdict,
        reasons: invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::sample::{Concentration, Estimate};
    use crate::aggregate::Counts;
    use crate::Config;

    fn sample() -> SampleResult {
        let mut s = crate::aggregate::sample::SampleAccumulator::default().finish(
            "S",
            None,
            &Config::default(),
        );
        s.fields = 3;
        s.counts = Counts {
            total: 500,
            live: 450,
            dead: 50,
            debris: 20,
            aggregated: 40,
            gated: 0,
        };
        s.viability = Some(Estimate {
            value: 0.9,
            ci95: [0.87, 0.92],
        });
        let e = |v| Estimate {
            value: v,
            ci95: [0.9 * v, 1.1 * v],
        };
        s.concentration_per_ml = Some(Concentration {
            total: e(2.2e6),
            live: e(2.0e6),
            dead: e(0.2e6),
        });
        s.aggregate_fraction = Some(0.08);
        s.debris_fraction = Some(0.0385);
        s
    }

    fn spec() -> ReleaseSpec {
        ReleaseSpec::from_toml(
            "name = \"t\"\nmin_viability = 0.7\nviable_cells_per_ml = { min = 1.0e6, max = 5.0e6 }\n\
             min_cells_counted = 200\nmax_aggregate_fraction = 0.2\nmax_debris_fraction = 0.3\n",
        )
        .unwrap()
    }

    #[test]
    fn a_good_sample_passes() {
        let v = judge(&spec(), &sample());
        assert_eq!(v.verdict, Verdict::Pass, "{:?}", v.reasons);
        assert!(v.reasons.is_empty());
    }

    #[test]
    fn each_criterion_fails_on_its_own() {
        type Spoil = fn(&mut SampleResult);
        let cases: [(&str, Spoil); 4] = [
            ("viability", |s| s.viability.as_mut().unwrap().value = 0.6),
            ("viable concentration", |s| {
                s.concentration_per_ml.as_mut().unwrap().live.value = 6.0e6
            }),
            ("aggregates", |s| s.aggregate_fraction = Some(0.3)),
            ("debris", |s| s.debris_fraction = Some(0.5)),
        ];
        for (what, spoil) in cases {
            let mut s = sample();
            spoil(&mut s);
            let v = judge(&spec(), &s);
            assert_eq!(v.verdict, Verdict::Fail, "{what}");
            assert_eq!(v.reasons.len(), 1, "{what}: {:?}", v.reasons);
            assert!(v.reasons[0].starts_with(what), "{:?}", v.reasons);
        }
    }

    #[test]
    fn untrustworthy_numbers_are_invalid_not_fail() {
        let mut s = sample();
        s.counts.total = 150;
        s.viability.as_mut().unwrap().value = 0.5; // would fail, but too few cells
        let v = judge(&spec(), &s);
        assert_eq!(v.verdict, Verdict::Invalid);
        assert!(v.reasons[0].contains("150 cells counted < 200"));
        assert_eq!(v.reasons.len(), 2, "the failed criterion is still listed");

        let mut s = sample();
        s.fields_failed = 1;
        assert_eq!(judge(&spec(), &s).verdict, Verdict::Invalid);

        let mut s = sample();
        s.concentration_per_ml = None;
        assert_eq!(judge(&spec(), &s).verdict, Verdict::Invalid);

        let mut s = sample();
        s.warnings.push("over-dense: 2e7 cells/mL".into());
        assert_eq!(judge(&spec(), &s).verdict, Verdict::Invalid);
    }

    #[test]
    fn flagged_fields_invalidate_only_beyond_the_specs_allowance() {
        let mut s = sample();
        s.fields_flagged = 2;
        s.quality_flags = [
            (crate::aggregate::quality::QualityFlag::OutOfFocus, 2),
            (crate::aggregate::quality::QualityFlag::Crowded, 1),
        ]
        .into();
        assert_eq!(
            judge(&spec(), &s).verdict,
            Verdict::Pass,
            "no limit: warnings only"
        );
        let mut strict = spec();
        strict.max_flagged_fields = Some(1);
        let v = judge(&strict, &s);
        assert_eq!(v.verdict, Verdict::Invalid);
        assert_eq!(
            v.reasons,
            ["2 flagged fields (out_of_focus 2, crowded 1) > 1 allowed"]
        );
        strict.max_flagged_fields = Some(2);
        assert_eq!(judge(&strict, &s).verdict, Verdict::Pass);
    }

    #[test]
    fn unknown_keys_and_percentages_are_refused() {
        assert!(ReleaseSpec::from_toml("min_viabilty = 0.7").is_err());
        assert!(matches!(
            ReleaseSpec::from_toml("name = \"SOP 12\"\n"),
            Err(SpecError::Empty)
        ));
        assert!(matches!(ReleaseSpec::from_toml(""), Err(SpecError::Empty)));
        assert!(ReleaseSpec::from_toml("max_debris_fraction = 30").is_err());
        assert!(ReleaseSpec::from_toml("viable_cells_per_ml = { min = 5.0, max = 1.0 }").is_err());
    }
}
