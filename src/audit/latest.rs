//! What a verified run log says each output folder should hold now: the
//! last record that wrote there.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::AuditError;

/// The output files each output folder should hold now: for every `out`, the
/// `outputs` of the last record that wrote there (a later `--overwrite` run
/// supersedes an earlier one). It only reads the records: [`super::verify`] the
/// log first.
///
/// ```
/// use cellvia::audit::{next_line, latest_outputs};
/// let mut log = String::new();
/// for hash in ["aa", "bb"] {
///     log += &next_line(&log, &serde_json::json!({ "out": "o", "outputs": { "results.json": hash } }))?;
/// }
/// assert_eq!(latest_outputs(&log)?["o"]["results.json"], "bb");
/// # Ok::<(), cellvia::audit::AuditError>(())
/// ```
pub fn latest_outputs(log: &str) -> Result<BTreeMap<String, BTreeMap<String, String>>, AuditError> {
    Ok(latest_records(log)?
        .into_iter()
        .map(|(out, record)| (out, record.outputs))
        .collect())
}

/// The last record that wrote an output folder: its hash and outputs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LatestRecord {
    pub sha256: String,
    pub outputs: BTreeMap<String, String>,
}

/// For every `out` of a (verified) log, its [`LatestRecord`].
pub fn latest_records(log: &str) -> Result<BTreeMap<String, LatestRecord>, AuditError> {
    let mut latest = BTreeMap::new();
    for (index, line) in log.lines().enumerate() {
        #[derive(Deserialize)]
        struct Written {
            out: String,
            #[serde(flatten)]
            record: LatestRecord,
        }
        let written: Written = serde_json::from_str(line).map_err(|e| AuditError::Line {
            line: index + 1,
            problem: format!("no out/outputs/sha256 members: {e}"),
        })?;
        latest.insert(written.out, written.record);
    }
    Ok(latest)
}
