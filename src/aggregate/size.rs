//! Cell sizes pooled over a sample: mean diameters and the live/dead size
//! histogram, in µm when the pixel size is known and in pixels otherwise.

use serde::{Deserialize, Serialize};

use crate::aggregate::record::{round, CellRecord};
use crate::classify::CellClass;

/// Most bins a size histogram has: with the default 2 µm bins that is 4 mm,
/// far beyond any cell; the last bin also holds every larger cell, so a
/// fine bin or a huge pixel size cannot make the histogram (and
/// results.json) grow without bound.
pub const MAX_HISTOGRAM_BINS: usize = 2_000;

/// Bin width of histograms in pixels (no pixel size known): 2 px puts
/// LDC's 16–40 px cells in 8–20 bins, as the 2 µm default does for
/// 15–30 µm mesenchymal stromal cells.
pub const PIXEL_HISTOGRAM_BIN_PX: f64 = 2.0;

/// The unit of a size histogram's bins.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum SizeUnit {
    /// Micrometres: the pixel size is known.
    #[default]
    Um,
    /// Pixels: no pixel size is known.
    Px,
}

/// Counted cells by equivalent diameter: bin `i` holds
/// [i × bin_width, (i + 1) × bin_width) in `unit`; the last of
/// [`MAX_HISTOGRAM_BINS`] bins also holds every larger cell.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SizeHistogram {
    pub unit: SizeUnit,
    pub bin_width: f64,
    pub live: Vec<u32>,
    pub dead: Vec<u32>,
}

/// Mean equivalent diameter of live and of dead cells.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MeanDiameters {
    pub live: Option<f64>,
    pub dead: Option<f64>,
}

/// Running size totals of a sample's counted cells.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SizeTally {
    /// Live and dead: (sum, count) of diameters in µm and in pixels.
    um: [(f64, u32); 2],
    px: [(f64, u32); 2],
    histogram: [Vec<u32>; 2],
}

impl SizeTally {
    /// Adds the counted cells of one field; `bin_um` is the histogram's bin
    /// width when the cells have µm diameters.
    ///
    /// ```
    /// use cellvia::{aggregate::record::ImageRecord, aggregate::size::SizeTally};
    /// let mut tally = SizeTally::default();
    /// tally.add(&ImageRecord::failed("a.png", "unreadable".into()).cells, 2.0);
    /// assert_eq!(tally.means().1.live, None); // no cells, no mean
    /// ```
    pub fn add(&mut self, cells: &[CellRecord], bin_um: f64) {
        for cell in cells {
            let slot = match cell.label {
                CellClass::Live => 0,
                CellClass::Dead => 1,
                CellClass::Debris => continue,
            };
            self.px[slot].0 += cell.diameter_px;
            self.px[slot].1 += 1;
            let (d, bin) = match cell.diameter_um {
                Some(d) => {
                    self.um[slot].0 += d;
                    self.um[slot].1 += 1;
                    (d, bin_um)
                }
                None => (cell.diameter_px, PIXEL_HISTOGRAM_BIN_PX),
            };
            let i = ((d / bin).floor().max(0.0) as usize).min(MAX_HISTOGRAM_BINS - 1);
            for hist in &mut self.histogram {
                if hist.len() <= i {
                    hist.resize(i + 1, 0);
                }
            }
            self.histogram[slot][i] += 1;
        }
    }

    /// Mean diameters in µm (none without a pixel size) and in pixels,
    /// rounded to 0.01; see [`SizeTally::add`].
    pub fn means(&self) -> (MeanDiameters, MeanDiameters) {
        let mean = |(sum, n): (f64, u32)| (n > 0).then(|| round(sum / f64::from(n), 2));
        let of = |sums: &[(f64, u32); 2]| MeanDiameters {
            live: mean(sums[0]),
            dead: mean(sums[1]),
        };
        (of(&self.um), of(&self.px))
    }

    /// The histogram: in µm with bins of `bin_um` when `calibrated`, else in
    /// pixels.
    ///
    /// ```
    /// use cellvia::aggregate::size::{SizeTally, SizeUnit};
    /// let h = SizeTally::default().histogram(false, 2.0);
    /// assert_eq!((h.unit, h.bin_width), (SizeUnit::Px, 2.0));
    /// ```
    pub fn histogram(&self, calibrated: bool, bin_um: f64) -> SizeHistogram {
        let (unit, bin_width) = if calibrated {
            (SizeUnit::Um, bin_um)
        } else {
            (SizeUnit::Px, PIXEL_HISTOGRAM_BIN_PX)
        };
        SizeHistogram {
            unit,
            bin_width,
            live: self.histogram[0].clone(),
            dead: self.histogram[1].clone(),
        }
    }

    /// Live and dead counts per bin, for the plausibility check
    /// ([`crate::aggregate::plausibility::size_warning`]).
    pub fn bins(&self) -> &[Vec<u32>; 2] {
        &self.histogram
    }
}
