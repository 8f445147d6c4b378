//! `analyze`'s output folder: locked, recovered, staged, and committed by
//! the run-log record ([`cellvia::io::commit`]).

use std::path::PathBuf;

use anyhow::Context;
use cellvia::audit::signature::RecordSigner;
use cellvia::audit::RunRecord;
use cellvia::io::commit::{self, OutputLock, Pending, Recovery, Staging};
use cellvia::io::write::{append_locked, AtomicFile};
use cellvia::io::{self};
use cellvia::report::stream::ResultsStream;
use cellvia::report::{self, ImageRecord, RunSummary};

use super::AnalyzeArgs;

/// The output folder of a run, locked for it, with what it replaces.
pub struct OutputFolder {
    pub lock: OutputLock,
    /// The key that signs the run record (`--signing-key`).
    pub signer: Option<RecordSigner>,
    /// SHA-256 of the `results.json` this run replaces (`--overwrite`).
    pub replaced_results_sha256: Option<String>,
    pub run_log: PathBuf,
}

/// Before any work: locks the output folder (refusing a second run into it),
/// finishes or discards what a killed run left there, refuses to replace
/// results without `--overwrite`, and checks that the run log verifies and
/// can be appended to, so nothing is analysed that could not be committed.
pub fn prepare(args: &AnalyzeArgs) -> anyhow::Result<OutputFolder> {
    let signer = args
        .signing_key
        .as_deref()
        .map(|path| {
            RecordSigner::from_text(&io::read_text(path)?)
                .with_context(|| path.display().to_string())
        })
        .transpose()?;
    let lock = commit::lock_output(&args.out)?;
    let run_log = args
        .run_log
        .clone()
        .unwrap_or_else(|| args.out.join("run-log.jsonl"));
    match commit::recover(&lock, is_committed)?? {
        Recovery::Nothing => {}
        Recovery::Completed => tracing::warn!(
            "{}: finished publishing the results of an earlier run that was interrupted after its log record",
            args.out.display()
        ),
        Recovery::Discarded => tracing::warn!(
            "{}: removed the partial output of an earlier run that was interrupted before its log record",
            args.out.display()
        ),
    }
    let results = args.out.join("results.json");
    let replaced_results_sha256 = if results.exists() {
        anyhow::ensure!(
            args.overwrite,
            "{} already holds results (results.json); choose another --out, or pass --overwrite to replace them (the run log records the replacement)",
            args.out.display()
        );
        Some(cellvia::sha256_hex(&io::read_bytes(&results)?))
    } else {
        None
    };
    if run_log.exists() {
        verified_log(&run_log, "no run is appended to a broken log")?;
    }
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&run_log)
        .with_context(|| format!("run log {} cannot be appended to", run_log.display()))?;
    Ok(OutputFolder {
        lock,
        signer,
        replaced_results_sha256,
        run_log,
    })
}

/// The committed records of a run log (a torn last line left out), after
/// checking they verify; `consequence` says what a broken log stops.
fn verified_log(path: &std::path::Path, consequence: &str) -> anyhow::Result<String> {
    let bytes = io::read_bytes(path)?;
    let committed = cellvia::audit::committed_text(&bytes)
        .and_then(|text| cellvia::audit::verify(text).map(|_| text))
        .with_context(|| format!("run log {} does not verify; {consequence}", path.display()))?;
    Ok(committed.to_string())
}

/// Whether the run log `pending` names holds its record: the last record
/// for its folder lists exactly its outputs.
fn is_committed(pending: &Pending) -> anyhow::Result<bool> {
    // A missing log cannot tell; discarding could drop a committed run.
    anyhow::ensure!(
        pending.run_log.exists(),
        "the output folder holds the staged files of an interrupted run whose run log {} is missing; restore the log (then rerun), or delete {} to discard that run",
        pending.run_log.display(),
        commit::STAGING_DIR
    );
    let committed = verified_log(
        &pending.run_log,
        "cannot tell whether the interrupted run in the output folder committed",
    )?;
    let latest = cellvia::audit::latest_outputs(&committed)?;
    Ok(latest.get(&pending.out) == Some(&pending.outputs))
}

/// The streamed result files of one run.
pub struct Streams {
    pub json: AtomicFile,
    pub images_csv: AtomicFile,
    pub cells_csv: AtomicFile,
}

impl Streams {
    pub fn create(staging: &Staging) -> anyhow::Result<Self> {
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
    ) -> anyhow::Result<()> {
        let text = stream.record(record, sample_id)?;
        self.json.write(text.json.as_bytes())?;
        self.images_csv.write(text.images_row.as_bytes())?;
        self.cells_csv.write(text.cell_rows.as_bytes())?;
        Ok(())
    }

    /// Completes the staged files and records their hashes.
    pub fn finish(self, staging: &mut Staging) -> anyhow::Result<()> {
        staging.add("results.json", self.json.commit()?);
        staging.add("images.csv", self.images_csv.commit()?);
        staging.add("cells.csv", self.cells_csv.commit()?);
        Ok(())
    }
}

/// Stages report.html and results.asm.json as configured; false when the
/// ASM was asked for but no sample could go in it.
pub fn stage_reports(staging: &mut Staging, run: &RunSummary) -> anyhow::Result<bool> {
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
pub fn commit(
    mut staging: Staging,
    folder: &OutputFolder,
    record: &RunRecord,
) -> anyhow::Result<String> {
    let run_log = &folder.run_log;
    staging.prepare(run_log, &record.out)?;
    let appended = append_locked(run_log, |text| {
        cellvia::audit::next_signed_line(text, record, folder.signer.as_ref())
    })?
    .with_context(|| format!("run log {}", run_log.display()))?;
    if let Some(torn) = &appended.torn {
        tracing::warn!(
            "run log {}: moved an unfinished line of {} bytes (an append cut short earlier) to {}.torn",
            run_log.display(),
            torn.len(),
            run_log.display()
        );
    }
    staging.publish().context(
        "the run is logged but its files could not be moved into place; the next run into this folder finishes the move",
    )?;
    Ok(appended.line)
}
