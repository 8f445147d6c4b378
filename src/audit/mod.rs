//! The append-only, hash-chained run log (JSON lines).
//!
//! Every line is one run's record. It carries its position (`seq`, from 0),
//! the SHA-256 of the line before it (`prev_sha256`; 64 zeros for the first)
//! and, as its last member, the SHA-256 of itself without that member
//! (`sha256`). Changing any byte of a line breaks its own hash; deleting,
//! inserting or reordering lines breaks `seq` and the chain. Cutting lines off
//! the end leaves a shorter valid log: compare the last hash [`verify`] reports
//! with one kept elsewhere (every `analyze` prints it) to detect that.
//!
//! This module only builds and checks text; appending to the file (under an
//! exclusive lock) is [`crate::io::write::append_locked`].

mod latest;
pub mod signature;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use latest::{latest_outputs, latest_records, LatestRecord};
use signature::{RecordSigner, RecordVerifier, SIGNATURE_MEMBER};

use crate::classify::ModelInfo;
use crate::report::Software;

/// `prev_sha256` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The run-log member that closes every line.
const HASH_MEMBER: &str = ",\"sha256\":\"";

/// Length of the closing `,"sha256":"<64 hex>"}`.
const HASH_SUFFIX_LEN: usize = HASH_MEMBER.len() + 64 + 2;

/// Why a run log does not verify. Lines are numbered from 1, as editors do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    #[error("line {line}: {problem}")]
    Line { line: usize, problem: String },
    #[error("the log does not end with a newline (last line cut short or appended to by hand)")]
    UnterminatedLine,
    #[error("cannot serialise the run record: {0}")]
    Serialise(String),
    #[error("key file: {0}")]
    Key(String),
}

/// What a valid log holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub records: usize,
    /// `sha256` of the last record ([`GENESIS`] for an empty log).
    pub last_sha256: String,
}

/// What `analyze` appends to the run log: enough to tie the run's output files
/// (by hash; `results.json` in turn names every input's hash) to who ran what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// When the run finished, ISO 8601 UTC.
    pub finished_utc: String,
    pub software: Software,
    pub host: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub operator: Option<String>,
    /// `--meta KEY=VALUE` pairs.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub metadata: BTreeMap<String, String>,
    /// The output folder, absolute.
    pub out: String,
    pub model: ModelInfo,
    pub config_sha256: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub spec_sha256: Option<String>,
    pub images: u32,
    pub images_failed: u32,
    /// Output file name -> SHA-256 of its bytes.
    pub outputs: BTreeMap<String, String>,
    /// SHA-256 of the `results.json` this run replaced (`--overwrite`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub replaced_results_sha256: Option<String>,
    /// Sample id -> PASS / FAIL / INVALID (with a spec) or "analysed".
    pub samples: BTreeMap<String, String>,
    pub exit_code: u8,
    /// Of a shard run (`--shard K/N`): "K/N".
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub shard: Option<String>,
    /// Of a merge: the shard records it merged, in shard order.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub merged: Vec<MergedShard>,
}

/// A shard a merge took its image records from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedShard {
    pub shard: String,
    /// The shard's output folder, absolute.
    pub out: String,
    /// The `sha256` of the shard's run record.
    pub record_sha256: String,
}

#[derive(Serialize)]
struct Chained<'a, T: Serialize> {
    seq: usize,
    prev_sha256: &'a str,
    #[serde(flatten)]
    record: &'a T,
}

/// The line (with its newline) that appends `record` to the log `existing`,
/// which must itself verify: a run is never chained onto a broken log.
///
/// ```
/// use cellvia::audit::{next_line, verify};
/// let mut log = String::new();
/// for run in ["first", "second"] {
///     log += &next_line(&log, &serde_json::json!({ "run": run }))?;
/// }
/// assert_eq!(verify(&log)?.records, 2);
/// let edited = log.replacen("second", "secons", 1);
/// assert!(verify(&edited).is_err());
/// # Ok::<(), cellvia::audit::AuditError>(())
/// ```
pub fn next_line(existing: &str, record: &impl Serialize) -> Result<String, AuditError> {
    next_signed_line(existing, record, None)
}

/// [`next_line`], signed with `signer` when given ([`signature`]): the line
/// names the signer's public key and carries its signature.
///
/// ```
/// use cellvia::audit::{next_signed_line, verify, verify_signatures};
/// use cellvia::audit::signature::{key_pair, RecordSigner};
/// let signer = RecordSigner::from_text(&key_pair([1; 32]).0)?;
/// let log = next_signed_line("", &serde_json::json!({ "run": 1 }), Some(&signer))?;
/// verify(&log)?;
/// verify_signatures(&log, &signer.verifier())?;
/// # Ok::<(), cellvia::audit::AuditError>(())
/// ```
pub fn next_signed_line(
    existing: &str,
    record: &impl Serialize,
    signer: Option<&RecordSigner>,
) -> Result<String, AuditError> {
    let previous = verify(existing)?;
    let body = serde_json::to_string(&Chained {
        seq: previous.records,
        prev_sha256: &previous.last_sha256,
        record,
    })
    .map_err(|e| AuditError::Serialise(e.to_string()))?;
    let mut open = body
        .strip_suffix('}')
        .ok_or_else(|| AuditError::Serialise("the record is not a JSON object".into()))?
        .to_string();
    if let Some(signer) = signer {
        open += &format!(",\"signer\":\"{}\"", signer.public_hex());
        let signature = signer.sign_hex(format!("{open}}}").as_bytes());
        open += &format!("{SIGNATURE_MEMBER}{signature}\"");
    }
    let hash = crate::sha256_hex(format!("{open}}}").as_bytes());
    Ok(format!("{open}{HASH_MEMBER}{hash}\"}}\n"))
}

/// Checks that every record of a log (which must [`verify`]) is signed by
/// `key`: an edited record whose hashes were recomputed ("re-sealed")
/// fails here, since its signature no longer matches.
pub fn verify_signatures(log: &str, key: &RecordVerifier) -> Result<(), AuditError> {
    for (index, line) in log.lines().enumerate() {
        let open = line
            .len()
            .checked_sub(HASH_SUFFIX_LEN)
            .filter(|&at| line.is_char_boundary(at))
            .map(|at| &line[..at])
            .unwrap_or(line);
        key.check_line(open).map_err(|problem| AuditError::Line {
            line: index + 1,
            problem: format!("the record {problem}"),
        })?;
    }
    Ok(())
}

/// Splits a log's bytes into its committed records (every line that ends
/// with a newline) and an unfinished last line, if any: an append cut short
/// by a crash or a full disk (possibly inside a multi-byte character), which
/// never committed (the next append moves it aside,
/// [`crate::io::write::append_locked`]).
///
/// ```
/// use cellvia::audit::split_torn;
/// assert_eq!(split_torn(b"a\nb\n{\"se\xc3"), (&b"a\nb\n"[..], Some(&b"{\"se\xc3"[..])));
/// assert_eq!(split_torn(b"a\n"), (&b"a\n"[..], None));
/// ```
pub fn split_torn(log: &[u8]) -> (&[u8], Option<&[u8]>) {
    let committed = log.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let (done, tail) = log.split_at(committed);
    (done, (!tail.is_empty()).then_some(tail))
}

/// The committed records of a log file's bytes as text ([`split_torn`]).
///
/// ```
/// assert_eq!(cellvia::audit::committed_text(b"a\n\xff").unwrap(), "a\n");
/// assert!(cellvia::audit::committed_text(b"\xff\n").is_err());
/// ```
pub fn committed_text(log: &[u8]) -> Result<&str, AuditError> {
    let (done, _) = split_torn(log);
    std::str::from_utf8(done).map_err(|e| AuditError::Line {
        line: done[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1,
        problem: "not UTF-8 text".into(),
    })
}

/// Checks every line's own hash, its `seq` and its link to the line before.
///
/// ```
/// use cellvia::audit::{next_line, verify, GENESIS};
/// assert_eq!(verify("")?.last_sha256, GENESIS);
/// let one = next_line("", &serde_json::json!({ "run": 1 }))?;
/// let two = next_line(&one, &serde_json::json!({ "run": 2 }))?;
/// // Dropping the first record breaks the chain.
/// assert!(verify(&two).is_err());
/// # Ok::<(), cellvia::audit::AuditError>(())
/// ```
pub fn verify(log: &str) -> Result<Verified, AuditError> {
    let mut last = GENESIS.to_string();
    if log.is_empty() {
        return Ok(Verified {
            records: 0,
            last_sha256: last,
        });
    }
    let body = log.strip_suffix('\n').ok_or(AuditError::UnterminatedLine)?;
    let mut records = 0;
    for (index, line) in body.split('\n').enumerate() {
        let fail = |problem: String| AuditError::Line {
            line: index + 1,
            problem,
        };
        let hash = check_line(line, index, &last).map_err(fail)?;
        last = hash;
        records += 1;
    }
    Ok(Verified {
        records,
        last_sha256: last,
    })
}

/// One line's own hash, after checking it, its `seq` and its `prev_sha256`.
fn check_line(line: &str, index: usize, prev: &str) -> Result<String, String> {
    let split = line
        .len()
        .checked_sub(HASH_SUFFIX_LEN)
        .filter(|&at| line.is_char_boundary(at))
        .ok_or("too short to be a record")?;
    let (open, suffix) = line.split_at(split);
    let hash = suffix
        .strip_prefix(HASH_MEMBER)
        .and_then(|s| s.strip_suffix("\"}"))
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        })
        .ok_or("does not end with its \"sha256\" member")?;
    let body = format!("{open}}}");
    let actual = crate::sha256_hex(body.as_bytes());
    if actual != hash {
        return Err(format!(
            "content changed: its hash is {actual}, the record says {hash}"
        ));
    }
    let value: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| format!("not a JSON record: {e}"))?;
    let seq = value.get("seq").and_then(serde_json::Value::as_u64);
    if seq != Some(index as u64) {
        return Err(format!(
            "seq is {seq:?}, expected {index}: a record was deleted, inserted or moved"
        ));
    }
    let linked = value.get("prev_sha256").and_then(serde_json::Value::as_str);
    if linked != Some(prev) {
        return Err(format!(
            "prev_sha256 {linked:?} is not the previous record's hash {prev}: the chain is broken"
        ));
    }
    Ok(hash.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_of(n: usize) -> String {
        let mut log = String::new();
        for i in 0..n {
            log += &next_line(&log, &serde_json::json!({ "run": i, "operator": "ä b" }))
                .expect("append");
        }
        log
    }

    #[test]
    fn every_single_byte_change_is_detected() {
        let log = log_of(3);
        let bytes = log.as_bytes();
        for at in 0..bytes.len() {
            let mut changed = bytes.to_vec();
            changed[at] ^= 0x01;
            let Ok(text) = String::from_utf8(changed) else {
                continue;
            };
            assert!(verify(&text).is_err(), "byte {at} changed undetected");
        }
    }

    #[test]
    fn deleting_or_swapping_any_line_is_detected() {
        let log = log_of(4);
        let lines: Vec<&str> = log.lines().collect();
        for gone in 0..lines.len() - 1 {
            let kept: String = lines
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != gone)
                .map(|(_, l)| format!("{l}\n"))
                .collect();
            assert!(verify(&kept).is_err(), "deleting line {gone} undetected");
        }
        let swapped = format!("{}\n{}\n{}\n", lines[0], lines[2], lines[1]);
        assert!(verify(&swapped).is_err());
    }

    #[test]
    fn a_valid_log_reports_its_length_and_last_hash() {
        let log = log_of(3);
        let verified = verify(&log).expect("valid");
        assert_eq!(verified.records, 3);
        let last = log.lines().last().expect("line");
        assert!(last.ends_with(&format!("\"sha256\":\"{}\"}}", verified.last_sha256)));
        assert_eq!(
            verify(log.trim_end()),
            Err(AuditError::UnterminatedLine),
            "a cut-off final newline is reported"
        );
    }

    #[test]
    fn a_resealed_record_fails_the_signature_check() {
        let signer = RecordSigner::from_text(&signature::key_pair([9; 32]).0).expect("key");
        let mut log = String::new();
        for run in ["INVALID", "PASS"] {
            log += &next_signed_line(&log, &serde_json::json!({ "verdict": run }), Some(&signer))
                .expect("append");
        }
        verify_signatures(&log, &signer.verifier()).expect("signed");
        // Edit the first record and recompute every hash after it: the
        // chain verifies again, the signature does not.
        let lines: Vec<&str> = log.lines().collect();
        let forged_first = lines[0].replace("INVALID", "PASS");
        let open = &forged_first[..forged_first.len() - HASH_SUFFIX_LEN];
        let hash = crate::sha256_hex(format!("{open}}}").as_bytes());
        let mut resealed = format!("{open}{HASH_MEMBER}{hash}\"}}\n");
        let second: serde_json::Value = serde_json::from_str(lines[1]).expect("json");
        let body = second.to_string();
        assert!(body.contains("PASS"));
        let open = lines[1][..lines[1].len() - HASH_SUFFIX_LEN]
            .replace(second["prev_sha256"].as_str().expect("prev"), &hash);
        let hash2 = crate::sha256_hex(format!("{open}}}").as_bytes());
        resealed += &format!("{open}{HASH_MEMBER}{hash2}\"}}\n");
        assert!(verify(&resealed).is_ok(), "the re-sealed chain verifies");
        let err = verify_signatures(&resealed, &signer.verifier()).unwrap_err();
        assert!(
            err.to_string().contains("line 1") && err.to_string().contains("does not match"),
            "{err}"
        );
        let other = RecordSigner::from_text(&signature::key_pair([3; 32]).0).expect("key");
        let err = verify_signatures(&log, &other.verifier()).unwrap_err();
        assert!(err.to_string().contains("another key"), "{err}");
        let unsigned = next_line("", &serde_json::json!({})).expect("line");
        assert!(verify_signatures(&unsigned, &signer.verifier()).is_err());
    }

    #[test]
    fn nothing_is_chained_onto_a_broken_log() {
        let broken = log_of(2).replacen("\"run\":1", "\"run\":7", 1);
        assert!(next_line(&broken, &serde_json::json!({})).is_err());
    }
}
