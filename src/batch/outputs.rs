//! A batch's output folder: locked, recovered, staged, and committed by the
//! run-log record ([`crate::io::commit`]).

use std::path::{Path, PathBuf};

use super::BatchError;
use crate::aggregate::record::ImageRecord;
use crate::audit::signature::RecordSigner;
use crate::audit::RunRecord;
use crate::io::commit::{self, OutputLock, Pending, Recovery, Staging};
use crate::io::write::{append_locked, check_appendable, AtomicFile};
use crate::io::{self};
use crate::report::stream::ResultsStream;
use crate::report::{self, RunSummary};

/// The output folder of a run, locked for it, with what it replaces.
#[derive(Debug)]
pub(super) struct OutputFolder {
    pub lock: OutputLock,
    /// SHA-256 of the `results.json` this run replaces (overwrite).
    pub replaced_results_sha256: Option<String>,
    pub run_log: PathBuf,
}

/// Before any work: locks the output folder (refusing a second run into it),
/// finishes or discards what a killed run left there, refuses to replace
/// results unless `overwrite`, and checks that the run log (`OUT/`
/// [`super::RUN_LOG_NAME`] unless named) verifies and
/// can be appended to, so nothing is analysed that could not be committed.
pub(super) fn prepare(
    out: &Path,
    run_log: Option<&Path>,
    overwrite: bool,
) -> Result<OutputFolder, BatchError> {
    let run_log = run_log.map_or_else(|| out.join(super::RUN_LOG_NAME), Path::to_path_buf);
    let lock = commit::lock_output(out)?;
    match commit::recover(&lock, is_committed)?? {
        Recovery::Nothing => {}
        Recovery::Completed => tracing::warn!(
            "{}: finished publishing the results of an earlier run that was interrupted after its log record",
            out.display()
        ),
        Recovery::Discarded => tracing::warn!(
            "{}: removed the partial output of an earlier run that was interrupted before its log record",
            out.display()
        ),
    }
    let results = out.join("results.json");
    let replaced_results_sha256 = if results.exists() {
        if !overwrite {
            return Err(BatchError::ResultsExist {
                out: out.to_path_buf(),
            });
        }
        Some(crate::sha256_hex(&io::read_bytes(&results)?))
    } else {
        None
    };
    if run_log.exists() {
        verified_log(&run_log, "no run is appended to a broken log")?;
    }
    check_appendable(&run_log).map_err(|source| BatchError::LogNotAppendable {
        path: run_log.clone(),
        source,
    })?;
    Ok(OutputFolder {
        lock,
        replaced_results_sha256,
        run_log,
    })
}

/// The committed records of a run log (a torn last line left out), after
/// checking they verify; `consequence` says what a broken log stops.
pub(super) fn verified_log(path: &Path, consequence: &'static str) -> Result<String, BatchError> {
    let bytes = io::read_bytes(path)?;
    let broken = |source| BatchError::LogBroken {
        path: path.to_path_buf(),
        consequence,
        source,
    };
    let committed = crate::audit::committed_text(&bytes).map_err(broken)?;
    crate::audit::verify(committed).map_err(broken)?;
    Ok(committed.to_string())
}

/// Whether the run log `pending` names holds its record: the last record
/// for its folder lists exactly its outputs.
fn is_committed(pending: &Pending) -> Result<bool, BatchError> {
    // A missing log cannot tell; discarding could drop a committed run.
    if !pending.run_log.exists() {
        return Err(BatchError::LogMissing {
            log: pending.run_log.clone(),
        });
    }
    let committed = verified_log(
        &pending.run_log,
        "cannot tell whether the interrupted run in the output folder committed",
    )?;
    let latest =
        crate::audit::latest_outputs(&committed).map_err(|source| BatchError::LogBroken {
            path: pending.run_log.clone(),
            consequence: "cannot tell whether the interrupted run in the output folder committed",
            source,
        })?;
    Ok(latest.get(&pending.out) == Some(&pending.outputs))
}

/// The streamed result files of one run.
pub(super) struct Streams {
    pub json: AtomicFile,
    pub images_csv: AtomicFile,
    pub cells_csv: AtomicFile,
}

impl Streams {
    pub fn create(staging: &Staging) -> Result<Self, BatchError> {
        Ok(Self {
            json: staging.file("results.json")?,
            images_csv: staging.file("images.csv")?,
            cells_csv: staging.file("cells.csv")?,
        })
    }

    pub fn add(
        &mut self,
        stream: &mut ResultsStream,
        record: &ImageRecord,
        sample_id: &str,
    ) -> Result<(), BatchError> {
        let text = stream.record(record, sample_id)?;
        self.json.write(text.json.as_bytes())?;
        self.images_csv.write(text.images_row.as_bytes())?;
        self.cells_csv.write(text.cell_rows.as_bytes())?;
        Ok(())
    }

    /// Completes the staged files and records their hashes.
    pub fn finish(self, staging: &mut Staging) -> Result<(), BatchError> {
        staging.add("results.json", self.json.commit()?);
        staging.add("images.csv", self.images_csv.commit()?);
        staging.add("cells.csv", self.cells_csv.commit()?);
        Ok(())
    }
}

/// Stages report.html and results.asm.json as configured; false when the
/// ASM was asked for but no sample could go in it.
pub(super) fn stage_reports(staging: &mut Staging, run: &RunSummary) -> Result<bool, BatchError> {
    if run.config.report.html {
        staging.write("report.html", report::html::render(run).as_bytes())?;
    }
    if !run.config.report.asm {
        return Ok(true);
    }
    let asm = report::asm::document(run);
    for (sample, why) in &asm.omitted {
        tracing::warn!("results.asm.json leaves out sample {sample}: {why}");
    }
    let Some(doc) = asm.document else {
        tracing::warn!(
            "results.asm.json not written: no sample has a viability and a concentration"
        );
        return Ok(false);
    };
    staging.write(
        "results.asm.json",
        (report::pretty_json(&doc) + "\n").as_bytes(),
    )?;
    Ok(true)
}

/// Commits the run: `PENDING.json`, then the log record (the commit point),
/// then the files into place. Returns the appended line.
pub(super) fn commit(
    mut staging: Staging,
    folder: &OutputFolder,
    record: &RunRecord,
    signer: Option<&RecordSigner>,
) -> Result<String, BatchError> {
    let run_log = &folder.run_log;
    staging.prepare(run_log, &record.out)?;
    let appended = append_locked(run_log, |text| {
        crate::audit::next_signed_line(text, record, signer)
    })?
    .map_err(|source| BatchError::Append {
        path: run_log.clone(),
        source,
    })?;
    if let Some(torn) = &appended.torn {
        tracing::warn!(
            "run log {}: moved an unfinished line of {} bytes (an append cut short earlier) to {}.torn",
            run_log.display(),
            torn.len(),
            run_log.display()
        );
    }
    staging.publish().map_err(BatchError::Publish)?;
    Ok(appended.line)
}
