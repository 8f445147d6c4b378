//! Counts and viability from classified objects, per image and per batch.

use serde::{Deserialize, Serialize};

use crate::classify::CellClass;

/// Object counts of one image or a batch. Debris is counted apart and is
/// never part of `total`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// live + dead.
    pub total: u32,
    pub live: u32,
    pub dead: u32,
    pub debris: u32,
}

impl Counts {
    /// Counts a sequence of object classes.
    ///
    /// ```
    /// use cellvia::{aggregate::Counts, classify::CellClass::*};
    /// let c = Counts::from_classes([Live, Live, Dead, Debris]);
    /// assert_eq!((c.total, c.live, c.dead, c.debris), (3, 2, 1, 1));
    /// assert_eq!(c.viability(), Some(2.0 / 3.0));
    /// ```
    pub fn from_classes(classes: impl IntoIterator<Item = CellClass>) -> Self {
        let mut c = Counts::default();
        for class in classes {
            match class {
                CellClass::Live => c.live += 1,
                CellClass::Dead => c.dead += 1,
                CellClass::Debris => c.debris += 1,
            }
        }
        c.total = c.live + c.dead;
        c
    }

    /// live / (live + dead); `None` when no cell was counted.
    pub fn viability(&self) -> Option<f64> {
        (self.total > 0).then(|| f64::from(self.live) / f64::from(self.total))
    }

    /// Adds another image's counts (batch totals; results from shards merge the same way).
    ///
    /// ```
    /// use cellvia::aggregate::Counts;
    /// let mut a = Counts { total: 2, live: 1, dead: 1, debris: 0 };
    /// a.add(&Counts { total: 1, live: 1, dead: 0, debris: 3 });
    /// assert_eq!(a, Counts { total: 3, live: 2, dead: 1, debris: 3 });
    /// ```
    pub fn add(&mut self, other: &Counts) {
        self.total += other.total;
        self.live += other.live;
        self.dead += other.dead;
        self.debris += other.debris;
    }
}

/// Batch totals over the images that were analysed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchSummary {
    pub images: u32,
    pub images_ok: u32,
    pub images_failed: u32,
    pub counts: Counts,
    /// Pooled viability: all live / all cells.
    pub viability: Option<f64>,
}

impl BatchSummary {
    /// Folds one image's outcome in (`None` for a failed image).
    pub fn add_image(&mut self, counts: Option<&Counts>) {
        self.images += 1;
        match counts {
            Some(c) => {
                self.images_ok += 1;
                self.counts.add(c);
            }
            None => self.images_failed += 1,
        }
        self.viability = self.counts.viability();
    }
}
