//! `cellvia bench`.

use std::io::Cursor;
use std::path::PathBuf;

use cellvia::bench::{self, BenchInput, BenchReport};
use cellvia::classify::Viability;
use cellvia::config::Assay;
use cellvia::io;
use cellvia::scheduler;
use cellvia::synth::{render, SynthMode, SynthParams};
use clap::Args;

use super::{load_config, AssayArg, EXIT_OK};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Image files or folders to measure on (read into memory first).
    #[arg(conflicts_with = "synthetic")]
    paths: Vec<PathBuf>,
    /// Measure on N synthetic 8-bit PNG fields instead (seeds 1..=N;
    /// brightfield, or AO/PI composites with --assay aopi).
    #[arg(long, value_name = "N")]
    synthetic: Option<usize>,
    /// Size of synthetic fields, WIDTHxHEIGHT.
    #[arg(long, value_name = "WxH", default_value = "2048x1536")]
    size: String,
    /// Cells per synthetic field.
    #[arg(long, value_name = "K", default_value_t = 250)]
    cells: u32,
    /// Worker threads, 1 to 1024 (default: all cores).
    #[arg(long, value_parser = crate::cli::parse_threads)]
    threads: Option<usize>,
    /// Settings file, as for `analyze`.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Staining: trypan (default) or aopi (composite images only).
    #[arg(long, value_enum)]
    assay: Option<AssayArg>,
    /// Typical cell diameter in pixels, MIN,MAX, or `auto`, as for
    /// `analyze` (auto measures each field on its own: bench has no samples).
    #[arg(long, value_name = "MIN,MAX|auto")]
    diameter: Option<String>,
    /// Skip the thread-scaling table (one timed pass instead of several).
    #[arg(long)]
    no_scaling: bool,
    /// Also draw and PNG-encode each field's overlay, as `analyze
    /// --overlays always` does; its cost is the `overlay` stage.
    #[arg(long)]
    overlays: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn parse_size(text: &str) -> anyhow::Result<(u32, u32)> {
    let (w, h) = text
        .split_once(['x', 'X'])
        .ok_or_else(|| anyhow::anyhow!("--size expects WIDTHxHEIGHT, got {text:?}"))?;
    Ok((w.trim().parse()?, h.trim().parse()?))
}

fn synthetic_inputs(
    count: usize,
    field: &SynthParams,
    threads: usize,
) -> anyhow::Result<Vec<BenchInput>> {
    field.validate()?;
    let seeds: Vec<u64> = (1..=count as u64).collect();
    let mut inputs = Vec::with_capacity(count);
    let mut failure = None;
    scheduler::for_each_ordered(
        &seeds,
        threads,
        |&seed| {
            let image = render(&SynthParams {
                seed,
                ..field.clone()
            })
            .image;
            let mut png = Cursor::new(Vec::new());
            image
                .write_to(&mut png, image::ImageFormat::Png)
                .map(|()| BenchInput {
                    label: format!("synthetic-{seed}"),
                    bytes: png.into_inner(),
                })
        },
        |_, input| match input {
            Ok(i) => inputs.push(i),
            Err(e) => {
                failure.get_or_insert(e);
            }
        },
    )?;
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(inputs),
    }
}

fn file_inputs(paths: &[PathBuf]) -> anyhow::Result<Vec<BenchInput>> {
    let found = super::discover_all(paths)?;
    found
        .images
        .iter()
        .map(|p| {
            Ok(BenchInput {
                label: p.display().to_string(),
                bytes: io::read_bytes(p)?,
            })
        })
        .collect()
}

pub fn run(args: &BenchArgs) -> anyhow::Result<u8> {
    let mut config = load_config(args.config.as_ref())?;
    if let Some(a) = args.assay {
        config.assay = a.into();
    }
    if let Some(d) = &args.diameter {
        config.diameter_px = super::parse_diameter("--diameter", d)?;
    }
    config.validate()?;
    let threads = args.threads.unwrap_or_else(scheduler::default_threads);
    let inputs = match (args.synthetic, args.paths.is_empty()) {
        (Some(n), _) => {
            anyhow::ensure!(n >= 1, "--synthetic needs at least one field");
            let (width, height) = parse_size(&args.size)?;
            let field = SynthParams {
                width,
                height,
                cells: args.cells,
                mode: match config.assay {
                    Assay::Trypan => SynthMode::Brightfield,
                    Assay::Aopi => SynthMode::Aopi,
                },
                ..Default::default()
            };
            synthetic_inputs(n, &field, threads)?
        }
        (None, false) => file_inputs(&args.paths)?,
        (None, true) => anyhow::bail!("give image paths or --synthetic N"),
    };
    anyhow::ensure!(!inputs.is_empty(), "no images found in the given paths");
    let viability = Viability::for_config(&config)?;
    let options = bench::BenchOptions {
        threads,
        scaling: !args.no_scaling,
        overlays: args.overlays,
    };
    let report = bench::run(&inputs, &config, &viability, options)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", table(&report));
    }
    Ok(EXIT_OK)
}

fn table(r: &BenchReport) -> String {
    let per_image_ms = |s: f64| 1e3 * s / r.images.max(1) as f64;
    let s = &r.stages;
    let mut out = format!(
        "cellvia bench: {} images ({:.1} Mpx, {} failed), {} threads\n\
         pipeline  {:>9.1} images/s  {:>8.1} Mpx/s  {:>9.0} cells/s  {:>9.0} objects/s\n\
         floor     {:>9.1} images/s  (decode only, same images and threads)\n\
         ratio     {:>9.2} x the floor\n\
         stages (ms of CPU per image): decode {:.2}, preprocess {:.2}, segment {:.2}, measure {:.2}, classify {:.2}, report {:.2}, overlay {:.2}\n",
        r.images,
        r.megapixels,
        r.images_failed,
        r.threads,
        r.images_per_s,
        r.megapixels_per_s,
        r.cells_per_s,
        r.objects_per_s,
        r.floor_images_per_s,
        r.ratio_to_floor,
        per_image_ms(s.decode),
        per_image_ms(s.preprocess),
        per_image_ms(s.segment),
        per_image_ms(s.measure),
        per_image_ms(s.classify),
        per_image_ms(s.report),
        per_image_ms(s.overlay),
    );
    if let Some(bytes) = r.peak_rss_bytes {
        out.push_str(&format!("peak RSS  {:>9.1} MB\n", bytes as f64 / 1e6));
    }
    if !r.scaling.is_empty() {
        out.push_str("threads   images/s   speed-up\n");
        for p in &r.scaling {
            let speedup = p.speedup.map_or_else(|| "-".into(), |s| format!("{s:.2}x"));
            out.push_str(&format!(
                "{:>7}  {:>9.1}   {speedup:>8}\n",
                p.threads, p.images_per_s
            ));
        }
    }
    out
}
