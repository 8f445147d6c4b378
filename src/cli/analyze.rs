//! `cellvia analyze`.

use std::io::IsTerminal;
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use cellvia::aggregate::sample::{SampleAccumulator, SampleResult};
use cellvia::aggregate::spec::{judge, ReleaseSpec, SpecUsed, Verdict};
use cellvia::aggregate::BatchSummary;
use cellvia::classify::Viability;
use cellvia::config::{Assay, OverlayMode, AUTO_OVERLAY_MAX_IMAGES};
use cellvia::gate::{CountingRegion, Interval};
use cellvia::io::discover::{discover, pair_channels, Discovered, FieldFiles};
use cellvia::io::manifest::{parse_manifest, ManifestSample};
use cellvia::io::{self, write::write_atomic, write::AtomicFile};
use cellvia::pipeline::{self, ImageAnalysis, Source};
use cellvia::report::stream::{ResultsStream, TailParts};
use cellvia::report::{self, ImageRecord, RunFacts, Software};
use cellvia::{scheduler, Config};
use indicatif::{ProgressBar, ProgressState, ProgressStyle};

use super::{load_config, parse_range, AnalyzeArgs, OverlayArg, EXIT_OK, EXIT_SOME_FAILED};

/// Applies command-line flags over the config file.
fn resolve_config(args: &AnalyzeArgs) -> anyhow::Result<Config> {
    let mut config = load_config(args.config.as_ref())?;
    if let Some(a) = args.assay {
        config.assay = a.into();
    }
    if let Some(d) = &args.diameter {
        config.diameter_px = parse_range("--diameter", d)?;
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
    config.validate()?;
    Ok(config)
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

/// A sample as planned before the run: its id, pre-dilution and metadata.
struct PlannedSample {
    id: String,
    dilution: Option<f64>,
    metadata: std::collections::BTreeMap<String, String>,
}

/// Which sample each field belongs to: the manifest's, else the field's folder.
struct SamplePlan {
    samples: Vec<PlannedSample>,
    field_sample: Vec<usize>,
}

impl SamplePlan {
    fn new(fields: &[FieldFiles], manifest: Option<&[ManifestSample]>) -> Self {
        let mut samples: Vec<PlannedSample> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = Default::default();
        let mut of_path: std::collections::HashMap<&Path, &ManifestSample> = Default::default();
        for m in manifest.unwrap_or_default() {
            for image in &m.images {
                of_path.insert(image, m);
            }
        }
        let field_sample = fields
            .iter()
            .map(|field| {
                let (id, dilution, metadata) = match of_path.get(field.path()) {
                    Some(m) => (m.sample_id.clone(), m.dilution, m.metadata.clone()),
                    None => (
                        field
                            .path()
                            .parent()
                            .map(|p| p.display().to_string())
                            .filter(|p| !p.is_empty())
                            .unwrap_or_else(|| ".".into()),
                        None,
                        Default::default(),
                    ),
                };
                *index.entry(id.clone()).or_insert_with(|| {
                    samples.push(PlannedSample {
                        id,
                        dilution,
                        metadata,
                    });
                    samples.len() - 1
                })
            })
            .collect();
        Self {
            samples,
            field_sample,
        }
    }
}

/// The streamed result files of one run.
struct Outputs {
    json: AtomicFile,
    images_csv: AtomicFile,
    cells_csv: AtomicFile,
}

impl Outputs {
    fn create(dir: &Path) -> anyhow::Result<Self> {
        Ok(Self {
            json: AtomicFile::create(&dir.join("results.json"))?,
            images_csv: AtomicFile::create(&dir.join("images.csv"))?,
            cells_csv: AtomicFile::create(&dir.join("cells.csv"))?,
        })
    }

    fn add(&mut self, stream: &mut ResultsStream, record: &ImageRecord) -> anyhow::Result<()> {
        let text = stream.record(record)?;
        self.json.write(text.json.as_bytes())?;
        self.images_csv.write(text.images_row.as_bytes())?;
        self.cells_csv.write(text.cell_rows.as_bytes())?;
        Ok(())
    }

    fn commit(self) -> anyhow::Result<()> {
        self.json.commit()?;
        self.images_csv.commit()?;
        self.cells_csv.commit()?;
        Ok(())
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn overlay_name(index: usize, path: &Path) -> String {
    let stem = path
        .file_stem()
        .map_or_else(|| "image".into(), |s| s.to_string_lossy().into_owned());
    format!("{index:05}_{stem}.png")
}

/// Reads a field's file(s) and analyses them; unreadable or unpaired files
/// become error records.
fn analyze_field(
    field: &FieldFiles,
    config: &Config,
    viability: &Viability,
    want_overlay: bool,
) -> ImageAnalysis {
    let label = field.path().display().to_string();
    let failed = |error: String| ImageAnalysis {
        record: ImageRecord::failed(&label, error),
        overlay: None,
        times: Default::default(),
    };
    match field {
        FieldFiles::Image(path) => match io::read_bytes(path) {
            Ok(bytes) => pipeline::analyze(
                &label,
                Source::Image(&bytes),
                config,
                viability,
                want_overlay,
            ),
            Err(e) => failed(e.to_string()),
        },
        FieldFiles::Pair { ao, pi } => {
            let mut analysis = match (io::read_bytes(ao), io::read_bytes(pi)) {
                (Ok(ao), Ok(pi)) => pipeline::analyze(
                    &label,
                    Source::Pair { ao: &ao, pi: &pi },
                    config,
                    viability,
                    want_overlay,
                ),
                (Err(e), _) | (_, Err(e)) => failed(e.to_string()),
            };
            analysis.record.pi_path = Some(pi.display().to_string());
            analysis
        }
        FieldFiles::Unpaired { reason, .. } => failed(format!("{label}: {reason}")),
    }
}

pub fn run(args: AnalyzeArgs) -> anyhow::Result<u8> {
    let started = unix_now();
    let clock = Instant::now();
    let config = resolve_config(&args)?;
    let threads = args.threads.unwrap_or_else(scheduler::default_threads);
    anyhow::ensure!(threads >= 1, "--threads must be at least 1");

    let manifest = match &args.manifest {
        Some(path) => Some(parse_manifest(path, &io::read_text(path)?)?),
        None => None,
    };
    let found = match &manifest {
        Some(samples) => Discovered {
            images: samples.iter().flat_map(|s| s.images.clone()).collect(),
            skipped: Vec::new(),
        },
        None => discover(&args.paths)?,
    };
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
        !found.images.is_empty(),
        "no images found in the given paths"
    );
    let spec = match &args.spec {
        Some(path) => {
            let bytes = io::read_bytes(path)?;
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| anyhow::anyhow!("spec {} is not UTF-8 text", path.display()))?;
            let criteria =
                ReleaseSpec::from_toml(text).with_context(|| path.display().to_string())?;
            Some(SpecUsed {
                path: path.display().to_string(),
                sha256: cellvia::sha256_hex(&bytes),
                criteria,
            })
        }
        None => None,
    };
    let skipped: Vec<String> = found
        .skipped
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let fields: Vec<FieldFiles> = match config.assay {
        Assay::Trypan => found.images.into_iter().map(FieldFiles::Image).collect(),
        Assay::Aopi => pair_channels(
            &found.images,
            &config.aopi.ao_suffix,
            &config.aopi.pi_suffix,
        ),
    };
    let plan = SamplePlan::new(&fields, manifest.as_deref());

    io::write::ensure_dir(&args.out).context("output folder is not writable")?;
    let viability = Viability::for_config(&config)?;
    let want_overlays = match config.report.overlays {
        OverlayMode::Always => true,
        OverlayMode::Never => false,
        OverlayMode::Auto => fields.len() <= AUTO_OVERLAY_MAX_IMAGES,
    };
    let overlay_dir = args.out.join("overlays");
    if want_overlays {
        io::write::ensure_dir(&overlay_dir)?;
    }

    let total = fields.len();
    let progress = if !args.quiet && std::io::stderr().is_terminal() {
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
    } else {
        ProgressBar::hidden()
    };
    let log_lines = !args.quiet && progress.is_hidden();

    // Results are streamed image by image into temporary files that appear
    // under their names only when complete.
    let mut outputs = Outputs::create(&args.out)?;
    let mut stream = ResultsStream::default();
    let software = Software::default();
    outputs
        .json
        .write(stream.head(&software, viability.info(), &config).as_bytes())?;
    outputs
        .images_csv
        .write(report::csv::images_header()?.as_bytes())?;
    outputs
        .cells_csv
        .write(report::csv::cells_header()?.as_bytes())?;
    let mut summary = BatchSummary::default();
    let mut accumulators = vec![SampleAccumulator::default(); plan.samples.len()];
    let mut write_error: Option<anyhow::Error> = None;
    scheduler::for_each_ordered(
        &fields,
        threads,
        |field: &FieldFiles| analyze_field(field, &config, &viability, want_overlays),
        |index, analysis| {
            let record = analysis.record;
            if let Some(overlay) = analysis.overlay {
                let target = overlay_dir.join(overlay_name(index, fields[index].path()));
                let written = report::overlay::encode_png(&overlay)
                    .map_err(anyhow::Error::from)
                    .and_then(|png| Ok(write_atomic(&target, &png)?));
                if let Err(e) = written {
                    write_error.get_or_insert(e);
                }
            }
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
            if let Err(e) = outputs.add(&mut stream, &record) {
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
            result.metadata = planned.metadata.clone();
            result.verdict = spec.as_ref().map(|s| judge(&s.criteria, &result));
            result
        })
        .collect();
    let mut samples_csv = AtomicFile::create(&args.out.join("samples.csv"))?;
    samples_csv.write(report::csv::samples_header()?.as_bytes())?;
    for sample in &samples {
        samples_csv.write(report::csv::sample_row(sample)?.as_bytes())?;
    }
    let run = RunFacts {
        started_unix_s: started,
        finished_unix_s: unix_now(),
        host: io::host_name(),
        threads,
    };
    outputs.json.write(
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
    outputs.commit()?;
    samples_csv.commit()?;

    let elapsed = clock.elapsed().as_secs_f64();
    let c = summary.counts;
    let viability = summary
        .viability
        .map_or_else(|| "n/a".into(), |v| format!("{:.1}%", v * 100.0));
    if !args.quiet {
        eprintln!(
            "cellvia: {} images ({} failed) in {elapsed:.2} s ({:.1} images/s): {} cells, {} live, {} dead, {} debris, viability {viability}; results in {}",
            summary.images,
            summary.images_failed,
            f64::from(summary.images) / elapsed.max(1e-9),
            c.total,
            c.live,
            c.dead,
            c.debris,
            args.out.display()
        );
    }
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
    if !args.quiet {
        for sample in &samples {
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
            eprintln!(
                "cellvia: sample {}{verdict}: {} cells in {} fields, {concentration}",
                sample.sample_id, sample.counts.total, sample.fields
            );
        }
    }
    for line in &not_passed {
        tracing::warn!("{line}");
    }
    Ok(if summary.images_failed > 0 || !not_passed.is_empty() {
        EXIT_SOME_FAILED
    } else {
        EXIT_OK
    })
}
