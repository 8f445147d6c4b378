//! Assembling a batch's outputs from its image records, in input order:
//! the same code for an analysis ([`super::run`]) and a merge of shards
//! ([`super::merge`]), so both write the same bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::outputs::{self, OutputFolder, Streams};
use super::plan::SamplePlan;
use super::{BatchError, BatchOutcome, EXIT_OK, EXIT_SOME_FAILED};
use crate::aggregate::record::ImageRecord;
use crate::aggregate::sample::{SampleAccumulator, SampleResult};
use crate::aggregate::spec::{judge, SpecUsed, Verdict};
use crate::aggregate::BatchSummary;
use crate::audit::signature::RecordSigner;
use crate::audit::{MergedShard, RunRecord};
use crate::classify::ModelInfo;
use crate::io::commit::Staging;
use crate::io::published::Folder;
use crate::report::stream::{ResultsStream, TailParts};
use crate::report::{self, FieldSummary, RunFacts, RunSummary, Software};
use crate::Config;

/// The overlay-folder name of field `index`'s report thumbnail, kept by
/// shard runs so a merge can put it in report.html.
pub fn thumbnail_name(index: usize) -> String {
    format!("thumbnail-{index:05}.png")
}

/// One file of a field for a published folder.
#[derive(Debug)]
pub struct FieldFile {
    pub folder: Folder,
    pub name: String,
    pub bytes: Vec<u8>,
}

/// A batch's outputs as they are being written, in the staging folder.
pub(super) struct Assembly<'a> {
    plan: &'a SamplePlan,
    config: &'a Config,
    staging: Staging,
    streams: Streams,
    stream: ResultsStream,
    summary: BatchSummary,
    accumulators: Vec<SampleAccumulator>,
    fields: Vec<FieldSummary>,
    /// Shard runs keep report thumbnails among their overlays.
    keep_thumbnails: bool,
    /// The first write that failed; the batch stops at the end.
    error: Option<BatchError>,
}

/// What the end of a batch needs beyond its records.
pub(super) struct Closing<'a> {
    pub folder: &'a OutputFolder,
    pub out: &'a Path,
    pub software: &'a Software,
    pub model: &'a ModelInfo,
    pub spec: Option<&'a SpecUsed>,
    pub skipped: &'a [String],
    pub run: RunFacts,
    pub signer: Option<&'a RecordSigner>,
    pub shard: Option<String>,
    pub merged: Vec<MergedShard>,
}

impl<'a> Assembly<'a> {
    /// Opens the staged result files and writes their heads.
    pub fn start(
        staging: Staging,
        plan: &'a SamplePlan,
        config: &'a Config,
        software: &Software,
        model: &ModelInfo,
        keep_thumbnails: bool,
    ) -> Result<Self, BatchError> {
        let mut streams = Streams::create(&staging)?;
        let stream = ResultsStream::default();
        streams
            .json
            .write(stream.head(software, model, config).as_bytes())?;
        streams
            .images_csv
            .write(report::csv::images_header()?.as_bytes())?;
        streams
            .cells_csv
            .write(report::csv::cells_header()?.as_bytes())?;
        Ok(Self {
            plan,
            config,
            staging,
            streams,
            stream,
            summary: BatchSummary::default(),
            accumulators: vec![SampleAccumulator::default(); plan.samples.len()],
            fields: Vec::new(),
            keep_thumbnails,
            error: None,
        })
    }

    /// Adds field `index`'s record, with its files for the published
    /// folders (overlay, exports) and its report thumbnail (PNG) when it has
    /// them. Call in input order.
    pub fn add(
        &mut self,
        index: usize,
        record: &ImageRecord,
        files: Vec<FieldFile>,
        thumbnail: Option<Vec<u8>>,
    ) {
        for file in files {
            if let Err(e) = self.staging.write_in(file.folder, &file.name, &file.bytes) {
                self.error.get_or_insert(e.into());
            }
        }
        if let (true, Some(png)) = (self.keep_thumbnails, &thumbnail) {
            if let Err(e) = self
                .staging
                .write_in(Folder::Overlays, &thumbnail_name(index), png)
            {
                self.error.get_or_insert(e.into());
            }
        }
        let sample = self.plan.field_sample[index];
        self.fields
            .push(FieldSummary::of(record, sample, thumbnail));
        self.summary.add_image(record.counts.as_ref());
        self.accumulators[sample].add(record, self.config);
        let sample_id = &self.plan.samples[sample].id;
        if let Err(e) = self.streams.add(&mut self.stream, record, sample_id) {
            self.error.get_or_insert(e);
        }
    }

    /// Keeps the first error of the caller's own work (encoding an overlay).
    pub fn fail(&mut self, error: BatchError) {
        self.error.get_or_insert(error);
    }

    /// Stages one more whole output file.
    pub fn write(&mut self, name: &str, bytes: &[u8]) -> Result<(), BatchError> {
        Ok(self.staging.write(name, bytes)?)
    }

    /// Pools the samples, judges them, writes the rest of the outputs and
    /// commits them with the run-log record.
    pub fn finish(self, closing: Closing) -> Result<BatchOutcome, BatchError> {
        let Self {
            plan,
            config,
            mut staging,
            mut streams,
            stream,
            summary,
            accumulators,
            fields,
            error,
            ..
        } = self;
        if let Some(e) = error {
            return Err(e);
        }
        let samples: Vec<SampleResult> = plan
            .samples
            .iter()
            .zip(&accumulators)
            .map(|(planned, acc)| {
                let mut result = acc.finish(&planned.id, planned.dilution, config);
                // Run metadata describes every sample of the run; a manifest's
                // own columns say more about their sample and win.
                result.metadata = closing.run.metadata.clone();
                result.metadata.extend(planned.metadata.clone());
                result.verdict = closing.spec.map(|s| judge(&s.criteria, &result));
                result
            })
            .collect();
        let mut samples_csv = staging.file("samples.csv")?;
        let metadata_keys = report::csv::metadata_keys(&samples);
        samples_csv.write(report::csv::samples_header(&metadata_keys)?.as_bytes())?;
        for sample in &samples {
            samples_csv.write(report::csv::sample_row(sample, &metadata_keys)?.as_bytes())?;
        }
        let run = &closing.run;
        streams.json.write(
            stream
                .tail(TailParts {
                    summary: &summary,
                    samples: &samples,
                    spec: closing.spec,
                    skipped: closing.skipped,
                    run,
                })
                .as_bytes(),
        )?;
        streams.finish(&mut staging)?;
        staging.add("samples.csv", samples_csv.commit()?);
        staging.seal_folders()?;
        let config_sha256 = config.sha256();
        let out_dir = closing.out.display().to_string();
        let results_sha256 = staging.outputs().get("results.json").cloned();
        let run_summary = RunSummary {
            software: closing.software,
            model: closing.model,
            config,
            config_sha256: &config_sha256,
            spec: closing.spec,
            samples: &samples,
            fields: &fields,
            summary: &summary,
            run,
            out_dir: &out_dir,
            results_sha256: results_sha256.as_deref(),
        };
        let asm_failed = !outputs::stage_reports(&mut staging, &run_summary)?;
        let not_passed: Vec<String> = samples
            .iter()
            .filter_map(|s| {
                let v = s.verdict.as_ref()?;
                (v.verdict != Verdict::Pass).then(|| {
                    format!(
                        "sample {} {}: {}",
                        s.sample_id,
                        v.verdict.as_str(),
                        v.reasons.join("; ")
                    )
                })
            })
            .collect();
        let exit_code = if summary.images_failed > 0 || !not_passed.is_empty() || asm_failed {
            EXIT_SOME_FAILED
        } else {
            EXIT_OK
        };
        let record = RunRecord {
            finished_utc: report::utc_iso8601(run.finished_unix_s),
            software: closing.software.clone(),
            host: run.host.clone(),
            operator: run.operator.clone(),
            metadata: run.metadata.clone(),
            // Absolute, so `audit verify --outputs` finds it from anywhere.
            out: absolute(closing.out).display().to_string(),
            model: closing.model.clone(),
            config_sha256,
            spec_sha256: closing.spec.map(|s| s.sha256.clone()),
            images: summary.images,
            images_failed: summary.images_failed,
            outputs: staging.outputs().clone(),
            replaced_results_sha256: closing.folder.replaced_results_sha256.clone(),
            samples: samples
                .iter()
                .map(|s| {
                    let outcome = s
                        .verdict
                        .as_ref()
                        .map_or("analysed", |v| v.verdict.as_str());
                    (s.sample_id.clone(), outcome.to_string())
                })
                .collect::<BTreeMap<_, _>>(),
            exit_code,
            shard: closing.shard,
            merged: closing.merged,
        };
        let outputs = record.outputs.clone();
        let line = outputs::commit(staging, closing.folder, &record, closing.signer)?;
        Ok(BatchOutcome {
            summary,
            samples,
            not_passed,
            exit_code,
            run_log: closing.folder.run_log.clone(),
            // The record's own hash is its last member.
            record_sha256: line
                .trim_end()
                .rsplit('"')
                .nth(1)
                .unwrap_or_default()
                .to_string(),
            outputs,
        })
    }
}

/// `path` made absolute (as given when that fails).
pub(super) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
