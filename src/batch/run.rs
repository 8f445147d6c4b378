//! The batch itself: fields in input order through the pipeline, streamed
//! into the staging folder, pooled into samples, judged, and committed.

use std::time::{SystemTime, UNIX_EPOCH};

use super::assemble::FieldFile;
use super::assemble::{Assembly, Closing};
use super::fields::{
    analyze_field, calibrate, export_name, inputs_sha256, measure_diameters, overlay_name,
};
use super::outputs;
use super::shard::{plan_sha256, ShardFile, SHARD_FILE, SHARD_SCHEMA};
use super::{BatchError, BatchOutcome, BatchRequest, Inputs, Observer, SamplePlan};
use crate::classify::Viability;
use crate::config::{Assay, OverlayMode, AUTO_OVERLAY_MAX_IMAGES};
use crate::io::commit::Staging;
use crate::io::discover::{discover, pair_channels, Discovered, FieldFiles};
use crate::io::published::Folder;
use crate::io::{self};
use crate::pipeline::ImageAnalysis;
use crate::report::{self, RunFacts, Software};
use crate::scheduler;
use crate::segment::scale::MAX_POOLED_FIELDS;

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn unix_now() -> f64 {
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

/// Runs one batch (or, with `request.shard`, its part) and commits its
/// outputs: see the [module](super).
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
///     shard: None,
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
    let pixel_size_source = calibrate(&mut config, &fields, request.threads)?;
    // Checked once the files may have given the pixel size that
    // `diameter_um`, the ASM document or a µm gate need.
    config.validate()?;
    let range = request
        .shard
        .map_or(0..fields.len(), |shard| shard.range(fields.len()));

    let folder = outputs::prepare(&request.out, request.run_log.as_deref(), request.overwrite)?;
    let viability = Viability::for_config(&config)?;
    // Decided on the whole batch, so shards decide alike.
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
    let total = range.len();
    observer.started(total);

    // A sample's scale is pooled over its first fields, so a shard
    // measures those of every sample it touches, and its own. A field that
    // is its sample's only one is measured by its own analysis instead, on
    // the image it decodes anyway (the same range: its sample's estimate is
    // its own): a first pass would decode it twice.
    let alone = plan.only_fields();
    let measured: Vec<bool> = {
        let mut sample_touched = vec![false; plan.samples.len()];
        for index in range.clone() {
            sample_touched[plan.field_sample[index]] = true;
        }
        let voters = plan.first_fields(MAX_POOLED_FIELDS as u32);
        (0..fields.len())
            .map(|i| {
                !alone[i]
                    && (range.contains(&i) || (voters[i] && sample_touched[plan.field_sample[i]]))
            })
            .collect()
    };
    let diameters = measure_diameters(&fields, &measured, &plan, &config, threads)?;
    // Results are streamed image by image into the staging folder; they
    // become final only once the run log records them.
    let software = Software::default();
    let mut assembly = Assembly::start(
        Staging::create(&folder.lock)?,
        &plan,
        &config,
        &software,
        viability.info(),
        request.shard.is_some(),
    )?;
    let indexed: Vec<(usize, &FieldFiles)> = fields.iter().enumerate().collect();
    let cancel = &request.cancel;
    scheduler::for_each_ordered(
        &indexed[range.clone()],
        threads,
        |&(index, field): &(usize, &FieldFiles)| {
            // A cancelled batch commits nothing: skip the remaining work.
            if cancel.is_cancelled() {
                return None;
            }
            let overlay = want_overlays || want_thumbnail[index];
            let diameter = diameters
                .as_ref()
                .filter(|_| !alone[index])
                .map(|d| &d[index]);
            let mut analysis = analyze_field(field, &config, &viability, overlay, diameter);
            // Encoded here, on the worker: in the ordered sink below, PNG
            // encoding ran on one thread for all workers.
            let pictures = analysis.overlay.take().map(|overlay| Pictures {
                overlay: want_overlays.then(|| overlay.encode_png()),
                thumbnail: want_thumbnail[index].then(|| {
                    report::png::encode_png(&report::thumbnail::thumbnail(
                        &overlay,
                        report::thumbnail::REPORT_SIDE,
                    ))
                }),
            });
            Some((analysis, pictures))
        },
        |position, done: Option<(ImageAnalysis, Option<Pictures>)>| {
            let Some((analysis, pictures)) = done else {
                return;
            };
            let index = range.start + position;
            let record = analysis.record;
            let path = fields[index].path();
            let mut files: Vec<FieldFile> = Vec::new();
            let mut thumbnail_png = None;
            if let Some(pictures) = pictures {
                match pictures.overlay {
                    Some(Ok(bytes)) => files.push(FieldFile {
                        folder: Folder::Overlays,
                        name: overlay_name(index, path),
                        bytes,
                    }),
                    Some(Err(e)) => assembly.fail(e.into()),
                    None => {}
                }
                match pictures.thumbnail {
                    Some(Ok(png)) => thumbnail_png = Some(png),
                    Some(Err(e)) => assembly.fail(e.into()),
                    None => {}
                }
            }
            if let Some(e) = &record.error {
                tracing::warn!("{e}");
            }
            files.extend(analysis.exports.into_iter().map(|(kind, bytes)| FieldFile {
                folder: Folder::Exports,
                name: export_name(index, path, kind),
                bytes,
            }));
            observer.field_done(position, total, &record);
            assembly.add(index, &record, files, thumbnail_png);
        },
    )?;
    if cancel.is_cancelled() {
        return Err(BatchError::Cancelled);
    }
    if let Some(shard) = request.shard {
        let file = ShardFile {
            schema: SHARD_SCHEMA.into(),
            shard,
            fields: fields.len(),
            range: [range.start, range.end],
            inputs_sha256: inputs_sha256(&fields),
            config: config.clone(),
            config_sha256: config.sha256(),
            model: viability.info().clone(),
            spec: request.spec.clone(),
            plan_sha256: plan_sha256(&plan),
            sample_count: plan.samples.len(),
            samples: plan.field_sample[range.clone()]
                .iter()
                .map(|&s| (s, plan.samples[s].clone()))
                .collect(),
            field_sample: plan.field_sample[range.clone()].to_vec(),
            skipped: skipped.clone(),
            metadata: request.metadata.clone(),
            pixel_size_source: pixel_size_source.clone(),
        };
        assembly.write(SHARD_FILE, (report::pretty_json(&file) + "\n").as_bytes())?;
    }
    assembly.finish(Closing {
        folder: &folder,
        out: &request.out,
        software: &software,
        model: viability.info(),
        spec: request.spec.as_ref(),
        skipped: &skipped,
        run: RunFacts {
            started_unix_s: started,
            finished_unix_s: unix_now(),
            host: io::host_name(),
            threads,
            operator: request.operator.clone(),
            metadata: request.metadata.clone(),
            pixel_size_source,
        },
        signer: request.signer.as_ref(),
        shard: request.shard.map(|s| s.to_string()),
        merged: Vec::new(),
    })
}

/// A field's overlay and report thumbnail, encoded as PNG where asked for.
struct Pictures {
    overlay: Option<Result<Vec<u8>, image::ImageError>>,
    thumbnail: Option<Result<Vec<u8>, image::ImageError>>,
}
