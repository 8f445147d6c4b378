//! `cellvia analyze`.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use cellvia::aggregate::record::ImageRecord;
use cellvia::aggregate::sample::SampleResult;
use cellvia::aggregate::spec::{ReleaseSpec, SpecUsed};
use cellvia::audit::signature::RecordSigner;
use cellvia::batch::{self, BatchRequest, Cancel, Inputs, Observer};
use cellvia::config::{ExportKind, OverlayMode};
use cellvia::gate::{CountingRegion, Interval};
use cellvia::io::manifest::parse_manifest;
use cellvia::io::{self};
use cellvia::{scheduler, Config};
use indicatif::{ProgressBar, ProgressState, ProgressStyle};

use super::{load_config, parse_diameter, parse_range, AnalyzeArgs, ExportArg, OverlayArg};

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
    config
        .report
        .exports
        .extend(args.export.iter().map(|e| match e {
            ExportArg::Masks => ExportKind::Masks,
            ExportArg::Imagej => ExportKind::Imagej,
            ExportArg::Geojson => ExportKind::Geojson,
        }));
    config.report.exports.sort();
    config.report.exports.dedup();
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

/// The console side of a batch: a progress bar on a terminal, else a line
/// per field.
struct Console {
    quiet: bool,
    progress: ProgressBar,
}

impl Observer for Console {
    fn skipped(&mut self, count: usize) {
        if !self.quiet {
            tracing::info!(
                "skipped {count} files that are not images by extension (listed in results.json; CELLVIA_LOG=debug names them here)"
            );
        }
    }

    fn started(&mut self, fields: usize) {
        self.progress = progress_bar(fields, self.quiet);
    }

    fn field_done(&mut self, index: usize, fields: usize, record: &ImageRecord) {
        self.progress.inc(1);
        if self.quiet || !self.progress.is_hidden() || record.error.is_some() {
            return;
        }
        let c = record.counts.unwrap_or_default();
        tracing::info!(
            "[{}/{fields}] {}: {} cells ({} live, {} dead), {} debris",
            index + 1,
            record.path,
            c.total,
            c.live,
            c.dead,
            c.debris
        );
    }
}

/// Turns the arguments into a batch request.
fn request(args: &AnalyzeArgs) -> anyhow::Result<BatchRequest> {
    let config = resolve_config(args)?;
    let metadata = parse_meta(&args.meta)?;
    let inputs = match &args.manifest {
        Some(path) => {
            let samples = parse_manifest(path, &io::read_text(path)?)?;
            anyhow::ensure!(
                args.dilution.is_none() || samples.iter().all(|s| s.dilution.is_none()),
                "--dilution and the manifest's dilution column both give pre-dilutions; give one"
            );
            Inputs::Manifest(samples)
        }
        None => Inputs::Paths(args.paths.clone()),
    };
    let signer = read_signer(args.signing_key.as_deref())?;
    Ok(BatchRequest {
        inputs,
        config,
        spec: args.spec.as_deref().map(read_spec).transpose()?,
        metadata,
        operator: args.operator.clone(),
        out: args.out.clone(),
        run_log: args.run_log.clone(),
        overwrite: args.overwrite,
        signer,
        threads: args.threads.unwrap_or_else(scheduler::default_threads),
        shard: args.shard,
        cancel: Cancel::default(),
    })
}

pub fn run(args: AnalyzeArgs) -> anyhow::Result<u8> {
    let clock = Instant::now();
    let request = request(&args)?;
    let mut console = Console {
        quiet: args.quiet,
        progress: ProgressBar::hidden(),
    };
    let outcome = batch::run(request, &mut console)?;
    console.progress.finish_and_clear();
    let summary = &outcome.summary;
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
        outcome.samples.iter().for_each(print_sample);
    }
    for line in &outcome.not_passed {
        tracing::warn!("{line}");
    }
    if !args.quiet {
        eprintln!(
            "cellvia: run logged in {} (record sha256 {})",
            outcome.run_log.display(),
            outcome.record_sha256
        );
    }
    Ok(outcome.exit_code)
}

/// Reads a secret signing key (`--signing-key`, from `audit keygen`).
pub fn read_signer(path: Option<&Path>) -> anyhow::Result<Option<RecordSigner>> {
    path.map(|path| {
        RecordSigner::from_text(&io::read_text(path)?).with_context(|| path.display().to_string())
    })
    .transpose()
}

/// Reads and checks the release spec, keeping its path and hash.
pub fn read_spec(path: &Path) -> anyhow::Result<SpecUsed> {
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
pub fn print_sample(sample: &SampleResult) {
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
