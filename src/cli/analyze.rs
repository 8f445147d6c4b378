//! `cellvia analyze`.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use cellvia::aggregate::sample::{SampleAccumulator, SampleResult};
use cellvia::aggregate::spec::{judge, ReleaseSpec, SpecUsed, Verdict};
use cellvia::aggregate::BatchSummary;
use cellvia::audit::RunRecord;
use cellvia::classify::Viability;
use cellvia::config::{Assay, OverlayMode, AUTO_OVERLAY_MAX_IMAGES};
use cellvia::gate::{CountingRegion, Interval};
use cellvia::io::calibration::Declared;
use cellvia::io::discover::{discover, pair_channels, Discovered, FieldFiles};
use cellvia::io::manifest::parse_manifest;
use cellvia::io::{self, commit::Staging};
use cellvia::pipeline::{self, ImageAnalysis, Source};
use cellvia::report::stream::{ResultsStream, TailParts};
use cellvia::report::{self, FieldSummary, ImageRecord, RunFacts, RunSummary, Software};
use cellvia::segment::scale::{self, FieldDiameter};
use cellvia::{scheduler, Config};
use indicatif::{ProgressBar, ProgressState, ProgressStyle};

use super::outputs::{self, Streams};
use super::plan::SamplePlan;
use super::{
    load_config, parse_diameter, parse_range, AnalyzeArgs, OverlayArg, EXIT_OK, EXIT_SOME_FAILED,
};

/// Applies command-line flags over the config file.
fn resolve_config(args: &AnalyzeArgs) -> anyhow::Result<Config> {
    anyhow::ensure!(
        args.diameter.is_none() || args.diameter_um.is_none(),
        "--diameter and --diameter-um both set the cell size; give one"
    );
    let mut config = load_config(args.config.as_ref())?;
    if let Some(a) = args.assay {
        config.assay = a.into();
    }
    if let Some(d) = &args.diameter {
        config.diameter_px = parse_diameter("--diameter", d)?;
    }
    if let Some(c) = args.chamber {
        config.sample.chamber = c.into();
    }
    if let Some(d) = args.chamber_depth_um {
        config.sample.chamber_depth_um = Some(d);
    }
    if let Some(d) = args.dilution {
        config.sample.pre_dilution = d;
    }
    if let Some(d) = args.stain_dilution {
        config.sample.stain_dilution = d;
    }
    if let Some(p) = args.pixel_size {
        config.pixel_size_um = Some(p);
    }
    if let Some(d) = &args.diameter_um {
        config.diameter_um = Some(parse_range("--diameter-um", d)?);
    }
    if let Some(m) = &args.model {
        config.classify.model = Some(m.clone());
    }
    if let Some(o) = args.overlays {
        config.report.overlays = match o {
            OverlayArg::Auto => OverlayMode::Auto,
            OverlayArg::Always => OverlayMode::Always,
            OverlayArg::Never => OverlayMode::Never,
        };
    }
    config.segment.discard_border_objects |= args.discard_border_objects;
    let interval = |flag: &str, text: &str| {
        parse_range(flag, text).map(|r| Interval {
            min: r.min,
            max: r.max,
        })
    };
    if let Some(d) = &args.gate_diameter_um {
        config.gate.diameter_um = Some(interval("--gate-diameter-um", d)?);
    }
    if let Some(d) = &args.gate_diameter {
        config.gate.diameter_px = Some(interval("--gate-diameter", d)?);
    }
    if let Some(c) = args.gate_circularity {
        config.gate.min_circularity = Some(c);
    }
    if let Some(i) = &args.gate_intensity {
        config.gate.mean_intensity = Some(interval("--gate-intensity", i)?);
    }
    if let Some(r) = &args.counting_region {
        config.gate.counting_region = Some(parse_region(r)?);
    }
    config.report.list_debris |= args.list_debris;
    config.report.asm |= args.asm;
    config.report.html &= !args.no_html;
    Ok(config)
}

/// Settles the pixel size: the flag or config wins (with a warning when the
/// files declare another); else the size every file declares (TIFF, ImageJ
/// or OME metadata). Returns its source for the results.
fn calibrate(config: &mut Config, fields: &[FieldFiles]) -> Option<String> {
    // Unreadable folders and unpaired files have no pixels to calibrate.
    let paths: Vec<&Path> = fields
        .iter()
        .filter(|f| matches!(f, FieldFiles::Image(_) | FieldFiles::Pair { .. }))
        .map(FieldFiles::path)
        .collect();
    let declared = io::calibration::declared_by_files(&paths);
    match (config.pixel_size_um, declared) {
        (Some(given), Declared::Agreed(found)) if (given / found - 1.0).abs() > 0.02 => {
            tracing::warn!(
                "the pixel size given ({given} µm/px) differs from the one the files declare ({found} µm/px); using the one given"
            );
            Some("flag".into())
        }
        (Some(_), _) => Some("flag".into()),
        (None, Declared::Agreed(found)) => {
            config.pixel_size_um = Some(found);
            tracing::info!("pixel size {found} µm/px, from the files' metadata");
            Some("metadata".into())
        }
        (
            None,
            Declared::Mixed {
                declared,
                files,
                min,
                max,
            },
        ) => {
            tracing::warn!(
                "{declared} of {files} files declare a pixel size ({min}–{max} µm/px): not used; give --pixel-size"
            );
            None
        }
        (None, Declared::Nothing) => None,
    }
}

/// Parses "X_MIN,Y_MIN,X_MAX,Y_MAX".
fn parse_region(text: &str) -> anyhow::Result<CountingRegion> {
    let numbers: Vec<f64> = text
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| anyhow::anyhow!("--counting-region: {text:?} is not four numbers"))?;
    let [x_min, y_min, x_max, y_max] = numbers[..] else {
        anyhow::bail!("--counting-region expects X_MIN,Y_MIN,X_MAX,Y_MAX, got {text:?}");
    };
    Ok(CountingRegion {
        x_min,
        y_min,
        x_max,
        y_max,
    })
}

/// Parses repeated `--meta KEY=VALUE`.
fn parse_meta(pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut meta = BTreeMap::new();
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .filter(|(k, _)| !k.trim().is_empty())
            .ok_or_else(|| anyhow::anyhow!("--meta expects KEY=VALUE, got {pair:?}"))?;
        anyhow::ensure!(
            meta.insert(key.trim().to_string(), value.to_string())
                .is_none(),
            "--meta {key} given twice"
        );
    }
    Ok(meta)
}

/// Width of report.html's overlay thumbnails, pixels (shown at 180 CSS px,
/// so they stay sharp on high-density screens and in print).
const THUMBNAIL_SIDE: u32 = 240;

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Longest stem an overlay's name keeps, bytes: with the index and `.png`
/// it stays far below the 255-byte limit of common filesystems.
const OVERLAY_STEM_MAX_BYTES: usize = 120;

fn overlay_name(index: usize, path: &Path) -> String {
    let stem = path
        .file_stem()
        .map_or_else(|| "image".into(), |s| s.to_string_lossy().into_owned());
    let mut end = stem.len().min(OVERLAY_STEM_MAX_BYTES);
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    format!("{index:05}_{}.png", &stem[..end])
}

/// Reads a field's file(s) and hands them to `work`; an unreadable,
/// oversized or unpaired file is the error message instead.
fn with_source<R>(
    field: &FieldFiles,
    config: &Config,
    work: impl FnOnce(Source) -> R,
) -> Result<R, String> {
    let label = field.path().display().to_string();
    let max_bytes = io::decode::max_encoded_bytes(config.max_image_pixels);
    let read = |path: &Path| io::read_input(path, max_bytes).map_err(|e| e.to_string());
    match field {
        FieldFiles::Image(path) => read(path).map(|bytes| work(Source::Image(&bytes))),
        FieldFiles::Pair { ao, pi } => {
            let (ao, pi) = (read(ao)?, read(pi)?);
            Ok(work(Source::Pair { ao: &ao, pi: &pi }))
        }
        FieldFiles::Unpaired { reason, .. } | FieldFiles::Unreadable { reason, .. } => {
            Err(format!("{label}: {reason}"))
        }
    }
}

/// Reads a field's file(s) and analyses them; unreadable or unpaired files
/// become error records.
fn analyze_field(
    field: &FieldFiles,
    config: &Config,
    viability: &Viability,
    want_overlay: bool,
    diameter: Option<&FieldDiameter>,
) -> ImageAnalysis {
    let label = field.path().display().to_string();
    let analysed = with_source(field, config, |source| {
        pipeline::analyze(&label, source, config, viability, want_overlay, diameter)
    });
    let mut analysis = analysed.unwrap_or_else(|error| ImageAnalysis {
        record: ImageRecord::failed(&label, error),
        overlay: None,
        times: Default::default(),
    });
    if let FieldFiles::Pair { pi, .. } = field {
        analysis.record.pi_path = Some(pi.display().to_string());
    }
    analysis
}

/// `--diameter auto`: every field's first-pass object diameters, pooled
/// over its sample; `None` when the settings fix the diameter.
fn measure_diameters(
    fields: &[FieldFiles],
    plan: &SamplePlan,
    config: &Config,
    threads: usize,
) -> anyhow::Result<Option<Vec<FieldDiameter>>> {
    if config.fixed_diameter().is_some() {
        return Ok(None);
    }
    let mut own = vec![Vec::new(); fields.len()];
    scheduler::for_each_ordered(
        fields,
        threads,
        |field| {
            // A field that cannot be read votes nothing; its analysis reports why.
            with_source(field, config, |source| {
                pipeline::first_pass_diameters(source, config)
            })
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
        },
        |index, diameters| own[index] = diameters,
    )?;
    Ok(Some(scale::pool_by_sample(&own, &plan.field_sample)))
}

pub fn run(args: AnalyzeArgs) -> anyhow::Result<u8> {
    let started = unix_now();
    let clock = Instant::now();
    let mut config = resolve_config(&args)?;
    let metadata = parse_meta(&args.meta)?;
    let threads = args.threads.unwrap_or_else(scheduler::default_threads);

    let manifest = match &args.manifest {
        Some(path) => Some(parse_manifest(path, &io::read_text(path)?)?),
        None => None,
    };
    if let (Some(samples), Some(_)) = (&manifest, args.dilution) {
        anyhow::ensure!(
            samples.iter().all(|s| s.dilution.is_none()),
            "--dilution and the manifest's dilution column both give pre-dilutions; give one"
        );
    }
    let found = match &manifest {
        // A manifest lists every image once (parse_manifest refuses repeats).
        Some(samples) => Discovered {
            images: samples.iter().flat_map(|s| s.images.clone()).collect(),
            ..Discovered::default()
        },
        // The output folder is never an input, even inside an input folder.
        None => discover(&args.paths, std::slice::from_ref(&args.out)),
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
    if !found.skipped.is_empty() && !args.quiet {
        tracing::info!(
            "skipped {} files that are not images by extension (listed in results.json; CELLVIA_LOG=debug names them here)",
            found.skipped.len()
        );
    }
    anyhow::ensure!(
        !found.images.is_empty() || !found.unreadable.is_empty(),
        "no images found in the given paths"
    );
    let spec = args.spec.as_deref().map(read_spec).transpose()?;
    let skipped: Vec<String> = found
        .skipped
        .iter()
        .map(|p| p.display().to_string())
        .collect();
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
    let plan = SamplePlan::new(&fields, manifest.as_deref());
    let pixel_size_source = calibrate(&mut config, &fields);
    // Checked once the files may have given the pixel size that
    // `diameter_um`, `--asm` or a µm gate need.
    config.validate()?;

    let folder = outputs::prepare(&args)?;
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

    let total = fields.len();
    let progress = progress_bar(total, args.quiet);
    let log_lines = !args.quiet && progress.is_hidden();

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
    let mut write_error: Option<anyhow::Error> = None;
    let indexed: Vec<(usize, &FieldFiles)> = fields.iter().enumerate().collect();
    let diameters = measure_diameters(&fields, &plan, &config, threads)?;
    scheduler::for_each_ordered(
        &indexed,
        threads,
        |&(index, field): &(usize, &FieldFiles)| {
            let overlay = want_overlays || want_thumbnail[index];
            let diameter = diameters.as_ref().map(|d| &d[index]);
            analyze_field(field, &config, &viability, overlay, diameter)
        },
        |index, analysis| {
            let record = analysis.record;
            let mut thumbnail_png = None;
            if let Some(overlay) = analysis.overlay {
                if want_overlays {
                    let name = overlay_name(index, fields[index].path());
                    let written = report::overlay::encode_png(&overlay)
                        .map_err(anyhow::Error::from)
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
            match &record.error {
                Some(e) => tracing::warn!("{e}"),
                None if log_lines => {
                    let c = record.counts.unwrap_or_default();
                    tracing::info!(
                        "[{}/{total}] {}: {} cells ({} live, {} dead), {} debris",
                        index + 1,
                        record.path,
                        c.total,
                        c.live,
                        c.dead,
                        c.debris
                    );
                }
                None => {}
            }
            summary.add_image(record.counts.as_ref());
            accumulators[plan.field_sample[index]].add(&record, &config);
            let sample_id = &plan.samples[plan.field_sample[index]].id;
            if let Err(e) = streams.add(&mut stream, &record, sample_id) {
                write_error.get_or_insert(e);
            }
            progress.inc(1);
        },
    )?;
    progress.finish_and_clear();
    if let Some(e) = write_error {
        return Err(e.context("cannot write results"));
    }

    let samples: Vec<SampleResult> = plan
        .samples
        .iter()
        .zip(&accumulators)
        .map(|(planned, acc)| {
            let mut result = acc.finish(&planned.id, planned.dilution, &config);
            // --meta describes every sample of the run; a manifest's own
            // columns say more about their sample and win.
            result.metadata = metadata.clone();
            result.metadata.extend(planned.metadata.clone());
            result.verdict = spec.as_ref().map(|s| judge(&s.criteria, &result));
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
        operator: args.operator.clone(),
        metadata,
        pixel_size_source,
    };
    streams.json.write(
        stream
            .tail(TailParts {
                summary: &summary,
                samples: &samples,
                spec: spec.as_ref(),
                skipped: &skipped,
                run: &run,
            })
            .as_bytes(),
    )?;
    streams.finish(&mut staging)?;
    staging.add("samples.csv", samples_csv.commit()?);
    staging.seal_overlays()?;
    let config_sha256 = config.sha256();
    let out_dir = args.out.display().to_string();
    let results_sha256 = staging.outputs().get("results.json").cloned();
    let run_summary = RunSummary {
        software: &software,
        model: viability.info(),
        config: &config,
        config_sha256: &config_sha256,
        spec: spec.as_ref(),
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
        out: std::path::absolute(&args.out)
            .unwrap_or_else(|_| args.out.clone())
            .display()
            .to_string(),
        model: viability.info().clone(),
        config_sha256: config_sha256.clone(),
        spec_sha256: spec.as_ref().map(|s| s.sha256.clone()),
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
    let line = outputs::commit(staging, &folder, &record)?;

    if !args.quiet {
        let elapsed = clock.elapsed().as_secs_f64();
        let c = summary.counts;
        let viability_text = summary
            .viability
            .map_or_else(|| "n/a".into(), |v| format!("{:.1}%", v * 100.0));
        eprintln!(
            "cellvia: {} images ({} failed) in {elapsed:.2} s ({:.1} images/s): {} cells, {} live, {} dead, {} debris, viability {viability_text}; results in {}",
            summary.images,
            summary.images_failed,
            f64::from(summary.images) / elapsed.max(1e-9),
            c.total,
            c.live,
            c.dead,
            c.debris,
            args.out.display()
        );
        samples.iter().for_each(print_sample);
    }
    for line in &not_passed {
        tracing::warn!("{line}");
    }
    if !args.quiet {
        let hash = line.trim_end().rsplit('"').nth(1).unwrap_or_default();
        eprintln!(
            "cellvia: run logged in {} (record sha256 {hash})",
            folder.run_log.display()
        );
    }
    Ok(exit_code)
}

/// Reads and checks the release spec, keeping its path and hash.
fn read_spec(path: &Path) -> anyhow::Result<SpecUsed> {
    let bytes = io::read_bytes(path)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| anyhow::anyhow!("spec {} is not UTF-8 text", path.display()))?;
    let criteria = ReleaseSpec::from_toml(text).with_context(|| path.display().to_string())?;
    Ok(SpecUsed {
        path: path.display().to_string(),
        sha256: cellvia::sha256_hex(&bytes),
        criteria,
    })
}

/// A progress bar on a terminal, else a hidden one.
fn progress_bar(total: usize, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} images  {rate}  eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key(
                "rate",
                |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0} images/s", state.per_sec());
                },
            ),
    );
    bar
}

/// One line per sample: verdict, count and viable concentration.
fn print_sample(sample: &SampleResult) {
    let verdict = sample
        .verdict
        .as_ref()
        .map_or_else(String::new, |v| format!(" [{}]", v.verdict.as_str()));
    let concentration = sample.concentration_per_ml.map_or_else(
        || "concentration n/a".to_string(),
        |c| {
            format!(
                "{:.3e} viable cells/mL (95 % CI {:.3e}..{:.3e})",
                c.live.value, c.live.ci95[0], c.live.ci95[1]
            )
        },
    );
    let viability = sample.viability.map_or_else(
        || "viability n/a".to_string(),
        |v| {
            format!(
                "viability {:.1} % (95 % CI {:.1}..{:.1})",
                100.0 * v.value,
                100.0 * v.ci95[0],
                100.0 * v.ci95[1]
            )
        },
    );
    eprintln!(
        "cellvia: sample {}{verdict}: {} cells in {} fields, {viability}, {concentration}",
        sample.sample_id, sample.counts.total, sample.fields
    );
}
