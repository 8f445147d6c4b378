//! Counts and viability from classified objects, per image and per batch,
//! with confidence intervals ([`interval`]).

pub mod confidence;
pub mod interval;
pub mod plausibility;
pub mod quality;
pub mod record;
pub mod sample;
pub mod size;
pub mod spec;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::classify::CellClass;

/// Object counts of one image or a batch. Debris is counted apart and is
/// never part of `total`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Counts {
    /// live + dead.
    pub total: u32,
    pub live: u32,
    pub dead: u32,
    pub debris: u32,
    /// Cells touching at least one other counted cell (in clusters of two or more).
    #[serde(default)]
    pub aggregated: u32,
    /// Cells left out of the count by a gate ([`crate::gate`]); not in `total`.
    #[serde(default)]
    pub gated: u32,
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

    /// aggregated / total: the aggregate fraction counters report; `None`
    /// when no cell was counted.
    ///
    /// ```
    /// let c = cellvia::aggregate::Counts { total: 4, live: 3, dead: 1, debris: 0, aggregated: 2, gated: 0 };
    /// assert_eq!(c.aggregate_fraction(), Some(0.5));
    /// ```
    pub fn aggregate_fraction(&self) -> Option<f64> {
        (self.total > 0).then(|| f64::from(self.aggregated) / f64::from(self.total))
    }

    /// live / (live + dead); `None` when no cell was counted.
    pub fn viability(&self) -> Option<f64> {
        (self.total > 0).then(|| f64::from(self.live) / f64::from(self.total))
    }

    /// Adds another image's counts (batch totals; results from shards merge the same way).
    ///
    /// ```
    /// use cellvia::aggregate::Counts;
    /// let mut a = Counts { total: 2, live: 1, dead: 1, debris: 0, aggregated: 2, gated: 1 };
    /// a.add(&Counts { total: 1, live: 1, dead: 0, debris: 3, aggregated: 0, gated: 0 });
    /// assert_eq!(a, Counts { total: 3, live: 2, dead: 1, debris: 3, aggregated: 2, gated: 1 });
    /// ```
    pub fn add(&mut self, other: &Counts) {
        self.total += other.total;
        self.live += other.live;
        self.dead += other.dead;
        self.debris += other.debris;
        self.aggregated += other.aggregated;
        self.gated += other.gated;
    }
}

/// Clusters of touching cells: for each object, the number of counted cells
/// (live or dead) sharing its cluster, and the cluster renumbered 1.. in
/// object order; both 0 for debris. `clusters[i]` is object `i`'s connected
/// mask component ([`crate::segment::Segmentation::clusters`]).
///
/// ```
/// use cellvia::{aggregate::clusters_of_cells, classify::CellClass::*};
/// // Objects 0 and 2 touch; object 1 is alone; object 3 is debris touching 1.
/// let (sizes, ids) = clusters_of_cells(&[5, 7, 5, 7], &[Live, Dead, Dead, Debris]);
/// assert_eq!(sizes, vec![2, 1, 2, 0]);
/// assert_eq!(ids, vec![1, 2, 1, 0]);
/// ```
pub fn clusters_of_cells(clusters: &[u32], classes: &[CellClass]) -> (Vec<u32>, Vec<u32>) {
    let counted = |c: &CellClass| *c != CellClass::Debris;
    let mut size_of: BTreeMap<u32, u32> = BTreeMap::new();
    let mut id_of: BTreeMap<u32, u32> = BTreeMap::new();
    for (&cluster, class) in clusters.iter().zip(classes) {
        if counted(class) {
            *size_of.entry(cluster).or_default() += 1;
            let next = id_of.len() as u32 + 1;
            id_of.entry(cluster).or_insert(next);
        }
    }
    clusters
        .iter()
        .zip(classes)
        .map(|(cluster, class)| {
            if counted(class) {
                (size_of[cluster], id_of[cluster])
            } else {
                (0, 0)
            }
        })
        .unzip()
}

/// Batch totals over the images that were analysed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BatchSummary {
    pub images: u32,
    pub images_ok: u32,
    pub images_failed: u32,
    pub counts: Counts,
    /// Pooled viability: all live / all cells.
    pub viability: Option<f64>,
    /// Pooled aggregate fraction: all aggregated / all cells.
    #[serde(default)]
    pub aggregate_fraction: Option<f64>,
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
        self.aggregate_fraction = self.counts.aggregate_fraction();
    }
}
