//! `cellvia validate MODEL IMAGES --truth ...`: scores a viability model on
//! a lab's own labelled images: detection, live/dead agreement, and the
//! viability bias with its 95 % interval.

use std::path::PathBuf;

use cellvia::aggregate::record::Status;
use cellvia::classify::Viability;
use cellvia::config::Assay;
use cellvia::eval::{failed_image, image_without_truth, score_image, summarize, EvalReport};
use cellvia::io;
use cellvia::pipeline::{self, Source};
use cellvia::scheduler;
use cellvia::validate::{viability_bias, ViabilityBias};
use clap::Args;
use serde::Serialize;

use super::dataset::pooled_diameters;
use super::truth_set::TruthSet;
use super::{load_config, parse_diameter, EXIT_OK, EXIT_SOME_FAILED};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The ONNX viability model to validate (the shipped one:
    /// models/cellvia-viability-v3.onnx).
    model: PathBuf,
    /// Labelled images or folders of them.
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Truth, matched by image stem: a folder of STEM.xml (Pascal VOC),
    /// STEM.truth.json or STEM.txt (YOLO, with classes.txt), or one COCO
    /// .json or points .csv file.
    #[arg(long)]
    truth: PathBuf,
    /// Settings file, as for analyze.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Typical cell diameter in pixels, MIN,MAX, or `auto` (the default).
    #[arg(long, value_name = "MIN,MAX|auto")]
    diameter: Option<String>,
    /// Worker threads, 1 to 1024 (default: all cores).
    #[arg(long, value_parser = crate::cli::parse_threads)]
    threads: Option<usize>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct ValidationReport<'a> {
    model: &'a cellvia::classify::ModelInfo,
    viability_bias: Option<ViabilityBias>,
    #[serde(flatten)]
    eval: &'a EvalReport,
}

pub fn run(args: &ValidateArgs) -> anyhow::Result<u8> {
    let mut config = load_config(args.config.as_ref())?;
    if let Some(d) = &args.diameter {
        config.diameter_px = parse_diameter("--diameter", d)?;
    }
    config.classify.model = Some(args.model.clone());
    config.validate()?;
    anyhow::ensure!(
        config.assay == Assay::Trypan,
        "validate scores a trypan-blue model; the aopi assay's rule has no model"
    );
    let viability = Viability::for_config(&config)?;
    let truth = TruthSet::load(&args.truth)?;
    let images = super::discover_all(&args.images)?.images;
    anyhow::ensure!(!images.is_empty(), "no images found in the given paths");
    let threads = args.threads.unwrap_or_else(scheduler::default_threads);
    let diameters = pooled_diameters(&images, &config, threads, false)?;
    let indexed: Vec<(usize, &PathBuf)> = images.iter().enumerate().collect();
    let mut scores = Vec::with_capacity(images.len());
    let mut error: Option<anyhow::Error> = None;
    scheduler::for_each_ordered(
        &indexed,
        threads,
        |&(i, path)| {
            let label = path.display().to_string();
            let diameter = diameters.as_ref().map(|d| &d[i]);
            match io::read_bytes(path) {
                Ok(bytes) => {
                    pipeline::analyze(
                        &label,
                        Source::Image(&bytes),
                        &config,
                        &viability,
                        false,
                        diameter,
                    )
                    .record
                }
                Err(e) => cellvia::aggregate::record::ImageRecord::failed(&label, e.to_string()),
            }
        },
        |i, record| match truth.get(&images[i]) {
            Ok(None) => scores.push(image_without_truth(&record.path)),
            Ok(Some(t)) => scores.push(match record.status {
                Status::Ok => score_image(&record.path, &record.cells, &t),
                Status::Error => failed_image(&record.path, &t),
            }),
            Err(e) => {
                error.get_or_insert(e);
            }
        },
    )?;
    if let Some(e) = error {
        return Err(e);
    }
    let bias = viability_bias(&scores);
    let report = summarize(scores);
    if args.json {
        let out = ValidationReport {
            model: viability.info(),
            viability_bias: bias,
            eval: &report,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", report.to_table());
        let info = viability.info();
        println!("model: {} (sha256 {})", info.name, info.sha256);
        match bias {
            Some(b) => println!(
                "viability bias: {:+.2} points (95 % interval {:+.2} to {:+.2}, bootstrap over {} fields)",
                b.bias_points, b.ci95_points[0], b.ci95_points[1], b.fields
            ),
            None => println!("viability bias: no scored field with cells"),
        }
    }
    let o = &report.overall;
    Ok(if o.images_failed > 0 || o.images_without_truth > 0 {
        EXIT_SOME_FAILED
    } else {
        EXIT_OK
    })
}
