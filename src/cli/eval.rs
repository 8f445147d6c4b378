//! `cellvia eval`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use cellvia::aggregate::record::Status;
use cellvia::eval::{failed_image, image_without_truth, score_image, summarize};
use cellvia::io;
use cellvia::report::Results;
use clap::Args;

use super::{truth_set::TruthSet, EXIT_OK};

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// results.json written by `cellvia analyze`.
    results: PathBuf,
    /// Truth, matched by image stem: a folder searched recursively for
    /// STEM.xml (Pascal VOC), STEM.truth.json or STEM.txt (YOLO, with
    /// classes.txt beside it), or one COCO .json or points .csv file.
    #[arg(long)]
    truth: PathBuf,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &EvalArgs) -> anyhow::Result<u8> {
    let text = io::read_text(&args.results)?;
    let results: Results = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a cellvia results file", args.results.display()))?;
    let truth = TruthSet::load(&args.truth)?;
    let mut scores = Vec::with_capacity(results.images.len());
    for image in &results.images {
        let Some(truth) = truth.get(Path::new(&image.path))? else {
            scores.push(image_without_truth(&image.path));
            continue;
        };
        scores.push(match image.status {
            Status::Ok => score_image(&image.path, &image.cells, &truth),
            Status::Error => failed_image(&image.path, &truth),
        });
    }
    let report = summarize(scores);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_table());
    }
    Ok(EXIT_OK)
}
