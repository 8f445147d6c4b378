//! Shards: a deterministic part of a batch's fields (`--shard K/N`), and
//! the `shard.json` a merge needs to rebuild the whole batch exactly.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::plan::{PlannedSample, SamplePlan};
use crate::aggregate::spec::SpecUsed;
use crate::classify::ModelInfo;
use crate::Config;

/// Shard `index` of `count` (`K/N`, K from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// Most shards one batch is cut into.
pub const MAX_SHARDS: usize = 1_000_000;

impl Shard {
    /// Parses `K/N` with 0 ≤ K < N.
    ///
    /// ```
    /// use cellvia::batch::Shard;
    /// assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, count: 3 }));
    /// assert!(Shard::parse("3/3").is_err() && Shard::parse("1").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, String> {
        let parsed = text
            .split_once('/')
            .and_then(|(k, n)| Some((k.trim().parse().ok()?, n.trim().parse().ok()?)));
        match parsed {
            Some((index, count)) if index < count && count <= MAX_SHARDS => {
                Ok(Self { index, count })
            }
            _ => Err(format!(
                "{text:?} is not a shard K/N with 0 <= K < N <= {MAX_SHARDS}"
            )),
        }
    }

    /// The fields of `total` this shard analyses: a contiguous run in
    /// input order, the shards together covering each field once.
    ///
    /// ```
    /// use cellvia::batch::Shard;
    /// let ranges: Vec<_> = (0..3).map(|k| Shard { index: k, count: 3 }.range(10)).collect();
    /// assert_eq!(ranges, [0..3, 3..6, 6..10]);
    /// ```
    pub fn range(self, total: usize) -> Range<usize> {
        let at = |k: usize| (total as u128 * k as u128 / self.count as u128) as usize;
        at(self.index)..at(self.index + 1)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The schema name of `shard.json`.
pub const SHARD_SCHEMA: &str = "cellvia.shard/1";
/// The file a shard run writes beside its usual outputs.
pub const SHARD_FILE: &str = "shard.json";

/// `shard.json`: what a merge needs besides the shard's image records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardFile {
    pub schema: String,
    pub shard: Shard,
    /// Fields in the whole batch, and the ones this shard analysed.
    pub fields: usize,
    pub range: [usize; 2],
    /// SHA-256 of the whole batch's field list: shards of one batch agree.
    pub inputs_sha256: String,
    /// The settings after calibration, as results.json records them.
    pub config: Config,
    pub config_sha256: String,
    pub model: ModelInfo,
    pub spec: Option<SpecUsed>,
    /// SHA-256 of the whole batch's sample plan (its samples and each
    /// field's sample), which the shards together rebuild.
    pub plan_sha256: String,
    pub sample_count: usize,
    /// The samples of this shard's fields, by index in the whole batch.
    pub samples: BTreeMap<usize, PlannedSample>,
    /// The sample of each of this shard's fields.
    pub field_sample: Vec<usize>,
    pub skipped: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    pub pixel_size_source: Option<String>,
}

/// SHA-256 of a sample plan, as `shard.json` records it.
pub(super) fn plan_sha256(plan: &SamplePlan) -> String {
    let text = serde_json::to_string(&(&plan.samples, &plan.field_sample)).unwrap_or_default();
    crate::sha256_hex(text.as_bytes())
}
