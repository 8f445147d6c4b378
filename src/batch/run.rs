//! The batch itself: fields in input order through the pipeline, streamed
//! into the staging folder, pooled into samples, judged, and committed.

use std::time::{SystemTime, UNIX_EPOCH};

use super::fields::{analyze_field, calibrate, measure_diameters, overlay_name};
use super::outputs::{self, Streams};
use super::{BatchError, BatchOutcome, BatchRequest, Inputs, Observer, SamplePlan};
use super::{EXIT_OK, EXIT_SOME_FAILED};
use crate::aggregate::sample::{SampleAccumulator, SampleResult};
use crate::aggregate::spec::{judge, Verdict};
use crate::aggregate::BatchSummary;
use crate::audit::RunRecord;
use crate::classify::Viability;
use crate::config::{Assay, OverlayMode, AUTO_OVERLAY_MAX_IMAGES};
use crate::io::commit::Staging;
use crate::io::discover::{discover, pair_channels, Discovered, FieldFiles};
use crate::io::{self};
use crate::pipeline::ImageAnalysis;
use crate::report::stream::{ResultsStream, TailParts};
use crate::report::{self, FieldSummary, RunFacts, RunSummary, Software};
use crate::scheduler;

/// Width of report.html's overlay thumbnails, pixels (shown at 180 CSS px,
/// so they stay sharp on high-density screens and in print).
const THUMBNAIL_SIDE: u32 = 240;

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The fields a request names: images (or AO/PI pairs) in input order,
/// then folders that could not be listed (error records).
fn gather_fields(
    request: &BatchRequest,
    observer: &mut dyn Observer,
) -> Result<(Vec<FieldFiles>, Vec<String>), BatchError> {
    let found = match &request.inputs {
        // A manifest lists every image once (parse_manifest refuses repeats).
        Inputs::Manifest(samples) => Discovered {
            images: samples.iter().flat_map(|s| s.images.clone()).collect(),
            ..Discovered::default()
        },
        // The output folder is never an input, even inside an input folder.
        Inputs::Paths(paths) => discover(paths, std::slice::from_ref(&request.out)),
    };
    for duplicate in &found.duplicates {
        tracing::warn!(
            "{} names an image already given (through another path or folder): analysed once",
            duplicate.display()
        );
    }
    for skipped in &found.skipped {
        tracing::debug!("skipped (not an image by extension): {}", skipped.display());
    }
    if !found.skipped.is_empty() {
        observer.skipped(found.skipped.len());
    }
    if found.images.is_empty() && found.unreadable.is_empty() {
        return Err(BatchError::NoImages);
    }
    let skipped = found
        .skipped
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let config = &request.config;
    let mut fields: Vec<FieldFiles> = match config.assay {
        Assay::Trypan => found.images.into_iter().map(FieldFiles::Image).collect(),
        Assay::Aopi => pair_channels(
            &found.images,
            &config.aopi.ao_suffix,
            &config.aopi.pi_suffix,
        ),
    };
    // An unlistable folder is an error record: the batch goes on without it.
    fields.extend(
        found
            .unreadable
            .into_iter()
            .map(|(path, reason)| FieldFiles::Unreadable { path, reason }),
    );
    Ok((fields, skipped))
}

/// Runs one batch and commits its outputs: see the [module](super).
///
/// ```no_run
/// use cellvia::batch::{self, BatchRequest, Inputs, Silent};
/// let request = BatchRequest {
///     inputs: Inputs::Paths(vec!["sample-images".into()]),
///     config: cellvia::Config::default(),
///     spec: None,
///     metadata: Default::default(),
///     operator: None,
///     out: "results".into(),
///     run_log: None,
///     overwrite: false,
///     signer: None,
///     threads: 2,
///     cancel: Default::default(),
/// };
/// let outcome = batch::run(request, &mut Silent)?;
/// println!("{} images, exit code {}", outcome.summary.images, outcome.exit_code);
/// # Ok::<(), cellvia::batch::BatchError>(())
/// ```
pub fn run(request: BatchRequest, observer: &mut dyn Observer) -> Result<BatchOutcome, BatchError> {
    let started = unix_now();
    let (fields, skipped) = gather_fields(&request, observer)?;
    let manifest = match &request.inputs {
        Inputs::Manifest(samples) => Some(samples.as_slice()),
        Inputs::Paths(_) => None,
    };
    let plan = SamplePlan::new(&fields, manifest);
    let mut config = request.config.clone();
    let pixel_size_source = calibrate(&mut config, &fields);
    // Checked once the files may have given the pixel size that
    // `diameter_um`, the ASM document or a µm gate need.
    config.validate()?;

    let run_log = request
        .run_log
        .clone()
        .unwrap_or_else(|| request.out.join("run-log.jsonl"));
    let folder = outputs::prepare(&request.out, run_log, request.overwrite)?;
    let viability = Viability::for_config(&config)?;
    let want_overlays = match config.report.overlays {
        OverlayMode::Always => true,
        OverlayMode::Never => false,
        OverlayMode::Auto => fields.len() <= AUTO_OVERLAY_MAX_IMAGES,
    };
    let thumbnails_per_sample = if config.report.html {
        config.report.html_thumbnails
    } else {
        0
    };
    let want_thumbnail = plan.first_fields(thumbnails_per_sample);
    let threads = request.threads;
    let total = fields.len();
    observer.started(total);

    // Results are streamed image by image into the staging folder; they
    // become final only once the run log records them.
    let mut staging = Staging::create(&folder.lock)?;
    let mut streams = Streams::create(&staging)?;
    let mut stream = ResultsStream::default();
    let software = Software::default();
    streams
        .json
        .write(stream.head(&software, viability.info(), &config).as_bytes())?;
    streams
        .images_csv
        .write(report::csv::images_header()?.as_bytes())?;
    streams
        .cells_csv
        .write(report::csv::cells_header()?.as_bytes())?;
    let mut summary = BatchSummary::default();
    let mut accumulators = vec![SampleAccumulator::default(); plan.samples.len()];
    let mut field_summaries: Vec<FieldSummary> = Vec::with_capacity(fields.len());
    let mut write_error: Option<BatchError> = None;
    let indexed: Vec<(usize, &FieldFiles)> = fields.iter().enumerate().collect();
    let diameters = measure_diameters(&fields, &plan, &config, threads)?;
    let cancel = &request.cancel;
    scheduler::for_each_ordered(
        &indexed,
        threads,
        |&(index, field): &(usize, &FieldFiles)| {
            // A cancelled batch commits nothing: skip the remaining work.
            if cancel.is_cancelled() {
                return None;
            }
            let overlay = want_overlays || want_thumbnail[index];
            let diameter = diameters.as_ref().map(|d| &d[index]);
            Some(analyze_field(field, &config, &viability, overlay, diameter))
        },
        |index, analysis: Option<ImageAnalysis>| {
            let Some(analysis) = analysis else { return };
            let record = analysis.record;
            let mut thumbnail_png = None;
            if let Some(overlay) = analysis.overlay {
                if want_overlays {
                    let name = overlay_name(index, fields[index].path());
                    let written = report::overlay::encode_png(&overlay)
                        .map_err(BatchError::from)
                        .and_then(|png| Ok(staging.write_overlay(&name, &png)?));
                    if let Err(e) = written {
                        write_error.get_or_insert(e);
                    }
                }
                if want_thumbnail[index] {
                    let small = report::overlay::thumbnail(&overlay, THUMBNAIL_SIDE);
                    match report::overlay::encode_png(&small) {
                        Ok(png) => thumbnail_png = Some(png),
                        Err(e) => {
                            write_error.get_or_insert(e.into());
                        }
                    }
                }
            }
            field_summaries.push(FieldSummary::of(
                &record,
                plan.field_sample[index],
                thumbnail_png,
            ));
            if let Some(e) = &record.error {
                tracing::warn!("{e}");
            }
            observer.field_done(index, total, &record);
            summary.add_image(record.counts.as_ref());
            accumulators[plan.field_sample[index]].add(&record, &config);
            let sample_id = &plan.samples[plan.field_sample[index]].id;
            if let Err(e) = streams.add(&mut stream, &record, sample_id) {
                write_error.get_or_insert(e);
            }
        },
    )?;
    if cancel.is_cancelled() {
        return Err(BatchError::Cancelled);
    }
    if let Some(e) = write_error {
        return Err(e);
    }

    let samples: Vec<SampleResult> = plan
        .samples
        .iter()
        .zip(&accumulators)
        .map(|(planned, acc)| {
            let mut result = acc.finish(&planned.id, planned.dilution, &config);
            // Run metadata describes every sample of the run; a manifest's
            // own columns say more about their sample and win.
            result.metadata = request.metadata.clone();
            result.metadata.extend(planned.metadata.clone());
            result.verdict = request.spec.as_ref().map(|s| judge(&s.criteria, &result));
            result
        })
        .collect();
    let mut samples_csv = staging.file("samples.csv")?;
    let metadata_keys = report::csv::metadata_keys(&samples);
    samples_csv.write(report::csv::samples_header(&metadata_keys)?.as_bytes())?;
    for sample in &samples {
        samples_csv.write(report::csv::sample_row(sample, &metadata_keys)?.as_bytes())?;
    }
    let run = RunFacts {
        started_unix_s: started,
        finished_unix_s: unix_now(),
        host: io::host_name(),
        threads,
        operator: request.operator.clone(),
        metadata: request.metadata.clone(),
        pixel_size_source,
    };
    let spec = request.spec.as_ref();
    streams.json.write(
        stream
            .tail(TailParts {
                summary: &summary,
                samples: &samples,
                spec,
                skipped: &skipped,
                run: &run,
            })
            .as_bytes(),
    )?;
    streams.finish(&mut staging)?;
    staging.add("samples.csv", samples_csv.commit()?);
    staging.seal_overlays()?;
    let config_sha256 = config.sha256();
    let out_dir = request.out.display().to_string();
    let results_sha256 = staging.outputs().get("results.json").cloned();
    let run_summary = RunSummary {
        software: &software,
        model: viability.info(),
        config: &config,
        config_sha256: &config_sha256,
        spec,
        samples: &samples,
        fields: &field_summaries,
        summary: &summary,
        run: &run,
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
        software: software.clone(),
        host: run.host.clone(),
        operator: run.operator.clone(),
        metadata: run.metadata.clone(),
        // Absolute, so `audit verify --outputs` finds it from anywhere.
        out: std::path::absolute(&request.out)
            .unwrap_or_else(|_| request.out.clone())
            .display()
            .to_string(),
        model: viability.info().clone(),
        config_sha256,
        spec_sha256: spec.map(|s| s.sha256.clone()),
        images: summary.images,
        images_failed: summary.images_failed,
        outputs: staging.outputs().clone(),
        replaced_results_sha256: folder.replaced_results_sha256.clone(),
        samples: samples
            .iter()
            .map(|s| {
                let outcome = s
                    .verdict
                    .as_ref()
                    .map_or("analysed", |v| v.verdict.as_str());
                (s.sample_id.clone(), outcome.to_string())
            })
            .collect(),
        exit_code,
    };
    let outputs = record.outputs.clone();
    let line = outputs::commit(staging, &folder, &record, request.signer.as_ref())?;
    Ok(BatchOutcome {
        summary,
        samples,
        not_passed,
        exit_code,
        run_log: folder.run_log.clone(),
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
