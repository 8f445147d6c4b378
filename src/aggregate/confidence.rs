//! How far a sample's numbers can be trusted beyond counting statistics:
//! whether its fields agree on the cell size they were segmented at, and
//! whether the viability model was sure of its calls on images like those it
//! was trained on.
//!
//! A model can be confidently wrong on a microscope it never saw; cellvia
//! then says so instead of printing a number. Two figures per sample:
//! - **uncertain fraction**: counted cells whose P(live | cell) lies in
//!   [`UNCERTAIN_P_LIVE`], where the model hesitates;
//! - **novel fraction**: objects (cells and debris) whose crop scores a
//!   novelty above 1 ([`crate::classify::novelty`]: rarer than 1 in 100
//!   training crops); a field whose every object the model calls debris can
//!   still be flagged this way.
//!
//! Beyond `classify.max_uncertain_fraction` or `classify.max_novel_fraction`
//! the sample gets a `low confidence` warning, which makes it INVALID under
//! a release spec. So does a sample whose objects were mostly called debris
//! (`classify.max_debris_fraction`, [`debris_warning`]): the count then
//! rests on the few objects left, and the usual cause is a wrong assay,
//! focus or setting, not a dirty preparation.

use serde::{Deserialize, Serialize};

use crate::aggregate::record::{round, ImageRecord};
use crate::segment::scale::DiameterSource;

/// P(live | cell) in this closed band is an uncertain call. It is the band
/// of [`crate::classify::symmetry::HESITANT_BAND`], so a model call reported
/// uncertain has (but at the band's very edges) already been averaged over
/// its crop's eight orientations and is still unsure.
pub const UNCERTAIN_P_LIVE: (f64, f64) = (0.2, 0.8);

/// Warnings that make a sample INVALID under a spec start with this.
pub const LOW_CONFIDENCE: &str = "low confidence";

/// The diameter ranges a sample's fields were segmented with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SampleDiameter {
    /// `fixed` when the settings gave the range, `fallback` when no field
    /// could be measured, else `measured` (fields without enough objects
    /// used the fallback range: `fields_fallback`).
    pub source: DiameterSource,
    /// The measured typical diameter the fields were segmented at (pooled
    /// over the sample), pixels; `None` when fixed or not measurable.
    pub measured_px: Option<f64>,
    /// Median, least and greatest typical diameter the fields measured on
    /// their own (fields with enough objects), pixels.
    pub measured_median_px: Option<f64>,
    pub measured_min_px: Option<f64>,
    pub measured_max_px: Option<f64>,
    pub fields_measured: u32,
    pub fields_fallback: u32,
    /// The widest range any field used, pixels.
    pub min_px: f64,
    pub max_px: f64,
}

/// How sure the viability calls of a sample's counted cells are.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CallConfidence {
    pub cells: u32,
    /// Share of counted cells with P(live | cell) in [`UNCERTAIN_P_LIVE`].
    pub uncertain_fraction: Option<f64>,
    /// Share of the objects the model scored (cells and debris) whose
    /// novelty is above 1 (`None` when the model scores no novelty).
    pub novel_fraction: Option<f64>,
}

/// How sure the model was of one field's (or sample's) objects.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct CallTally {
    /// Objects the model scored (cells, debris and gated-out cells).
    pub objects: u32,
    /// Of those, objects whose crop scored a novelty above 1.
    pub novel: u32,
    /// Counted cells.
    pub cells: u32,
    /// Of those, cells with P(live | cell) in [`UNCERTAIN_P_LIVE`].
    pub uncertain: u32,
}

impl CallTally {
    /// Tallies one field: each object's novelty (`None`: the model scores
    /// none), and each counted cell's P(live | cell).
    ///
    /// ```
    /// use cellvia::aggregate::confidence::CallTally;
    /// let t = CallTally::of([Some(0.4), Some(1.5), Some(0.2)], [0.95, 0.5]);
    /// assert_eq!((t.objects, t.novel, t.cells, t.uncertain), (3, 1, 2, 1));
    /// ```
    pub fn of(
        novelty: impl IntoIterator<Item = Option<f32>>,
        counted_p_live: impl IntoIterator<Item = f64>,
    ) -> Self {
        let mut t = Self::default();
        for n in novelty.into_iter().flatten() {
            t.objects += 1;
            t.novel += u32::from(n > 1.0);
        }
        for p in counted_p_live {
            t.cells += 1;
            t.uncertain += u32::from((UNCERTAIN_P_LIVE.0..=UNCERTAIN_P_LIVE.1).contains(&p));
        }
        t
    }
}

/// Running totals over a sample's fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfidenceTally {
    /// The fields' own measurements.
    measured: Vec<f64>,
    /// The (pooled) measurement the ranges were set from.
    used: Option<f64>,
    fixed: u32,
    fallback: u32,
    envelope: Option<(f64, f64)>,
    calls: CallTally,
}

impl ConfidenceTally {
    /// Adds one analysed field.
    pub fn add(&mut self, record: &ImageRecord) {
        if let Some(d) = &record.diameter {
            match d.source {
                DiameterSource::Fixed => self.fixed += 1,
                DiameterSource::Fallback => self.fallback += 1,
                DiameterSource::Measured => {}
            }
            self.measured.extend(d.field_px);
            self.used = self.used.or(d.measured_px);
            let (lo, hi) = self.envelope.unwrap_or((d.min_px, d.max_px));
            self.envelope = Some((lo.min(d.min_px), hi.max(d.max_px)));
        }
        if let Some(c) = &record.calls {
            let t = &mut self.calls;
            t.objects += c.objects;
            t.novel += c.novel;
            t.cells += c.cells;
            t.uncertain += c.uncertain;
        }
    }

    /// The sample's figures and warnings, given the limits: the greatest
    /// ratio of measured field diameters, uncertain and novel fractions.
    ///
    /// ```
    /// use cellvia::aggregate::confidence::ConfidenceTally;
    /// let (diameter, calls, warnings) = ConfidenceTally::default().finish(1.5, 0.3, 0.3);
    /// assert!(diameter.is_none() && calls.is_none() && warnings.is_empty());
    /// ```
    pub fn finish(
        &self,
        max_diameter_ratio: f64,
        max_uncertain: f64,
        max_novel: f64,
    ) -> (Option<SampleDiameter>, Option<CallConfidence>, Vec<String>) {
        let mut warnings = Vec::new();
        let diameter = self.envelope.map(|(min_px, max_px)| {
            let mut sorted = self.measured.clone();
            sorted.sort_by(f64::total_cmp);
            let (lo, hi) = (sorted.first().copied(), sorted.last().copied());
            // One field with few objects measures noisily: the spread is
            // read between the 10th and 90th percentile fields.
            let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
            if sorted.len() >= 2 && at(0.9) > max_diameter_ratio * at(0.1) {
                warnings.push(format!(
                    "fields disagree on the cell diameter: {:.1} to {:.1} px (10th-90th percentile \
                     field, more than {max_diameter_ratio}x apart); check focus and magnification, \
                     or give --diameter",
                    at(0.1),
                    at(0.9)
                ));
            }
            if self.fallback > 0 {
                warnings.push(format!(
                    "{} field(s) had too few objects to measure the cell diameter and used the fallback range",
                    self.fallback
                ));
            }
            SampleDiameter {
                // A sample none of whose fields could be measured was
                // analysed at the fallback range, not a measured one.
                source: if self.fixed > 0 {
                    DiameterSource::Fixed
                } else if self.used.is_none() && self.fallback > 0 {
                    DiameterSource::Fallback
                } else {
                    DiameterSource::Measured
                },
                measured_px: self.used,
                measured_median_px: sorted.get(sorted.len() / 2).copied(),
                measured_min_px: lo,
                measured_max_px: hi,
                fields_measured: sorted.len() as u32,
                fields_fallback: self.fallback,
                min_px,
                max_px,
            }
        });
        let fraction = |n: u32, of: u32| (of > 0).then(|| round(f64::from(n) / f64::from(of), 4));
        let t = &self.calls;
        let calls = (t.cells > 0 || t.objects > 0).then(|| CallConfidence {
            cells: t.cells,
            uncertain_fraction: fraction(t.uncertain, t.cells),
            novel_fraction: fraction(t.novel, t.objects),
        });
        if let Some(c) = &calls {
            if let Some(f) = c.uncertain_fraction.filter(|&f| f > max_uncertain) {
                warnings.push(format!(
                    "{LOW_CONFIDENCE}: {:.1} % of cells are uncertain calls (P(live) {}-{}), above {:.1} %",
                    100.0 * f,
                    UNCERTAIN_P_LIVE.0,
                    UNCERTAIN_P_LIVE.1,
                    100.0 * max_uncertain
                ));
            }
            if let Some(f) = c.novel_fraction.filter(|&f| f > max_novel) {
                warnings.push(format!(
                    "{LOW_CONFIDENCE}: {:.1} % of objects look unlike the model's training images, above {:.1} %; \
                     validate the model on this microscope (cellvia validate)",
                    100.0 * f,
                    100.0 * max_novel
                ));
            }
        }
        (diameter, calls, warnings)
    }
}

/// A `low confidence` warning when more than `max_debris` of a sample's
/// `objects` (counted cells and debris) were called debris.
///
/// ```
/// use cellvia::aggregate::confidence::debris_warning;
/// assert!(debris_warning(57, 100, 0.85).is_none());
/// assert!(debris_warning(2864, 2937, 0.85).unwrap().starts_with("low confidence"));
/// assert!(debris_warning(0, 0, 0.85).is_none());
/// ```
pub fn debris_warning(debris: u32, objects: u32, max_debris: f64) -> Option<String> {
    let fraction = f64::from(debris) / f64::from(objects.max(1));
    (fraction > max_debris).then(|| {
        format!(
            "{LOW_CONFIDENCE}: {:.1} % of the {objects} objects were called debris, above {:.1} %; \
             check the assay, focus and settings",
            100.0 * fraction,
            100.0 * max_debris
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::scale::FieldDiameter;

    #[test]
    fn a_sample_no_field_could_measure_says_so() {
        let field = |source, measured| {
            let mut record = ImageRecord::failed("f.png", String::new());
            record.diameter = Some(FieldDiameter {
                source,
                min_px: 12.0,
                max_px: 40.0,
                measured_px: measured,
                objects: None,
                field_px: measured,
            });
            record
        };
        let source = |fields: &[ImageRecord]| {
            let mut tally = ConfidenceTally::default();
            fields.iter().for_each(|f| tally.add(f));
            let (diameter, _, warnings) = tally.finish(1.5, 0.3, 0.3);
            (diameter.map(|d| d.source), warnings.len())
        };
        let fallback = field(DiameterSource::Fallback, None);
        assert_eq!(
            source(std::slice::from_ref(&fallback)),
            (Some(DiameterSource::Fallback), 1)
        );
        let measured = field(DiameterSource::Measured, Some(20.0));
        assert_eq!(
            source(&[measured, fallback]),
            (Some(DiameterSource::Measured), 1)
        );
    }

    /// Calls averaged over their orientations for hesitating are the calls
    /// reported as uncertain when they still hesitate.
    #[test]
    fn the_uncertain_band_is_the_classifiers_hesitant_band() {
        let (low, high) = crate::classify::symmetry::HESITANT_BAND;
        assert_eq!(
            (UNCERTAIN_P_LIVE.0 as f32, UNCERTAIN_P_LIVE.1 as f32),
            (low, high)
        );
    }
}
