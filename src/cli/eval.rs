//! `cellvia eval`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use cellvia::eval::{failed_image, image_without_truth, score_image, summarize};
use cellvia::io::{self, discover::files_under};
use cellvia::report::{Results, Status};
use cellvia::truth::truth_stem;
use clap::Args;

use super::{tools::read_truth, EXIT_OK};

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// results.json written by `cellvia analyze`.
    results: PathBuf,
    /// Folder searched (recursively) for STEM.xml (Pascal VOC) or STEM.truth.json, matched by image stem.
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
    let mut truth_files: BTreeMap<String, PathBuf> = BTreeMap::new();
    for file in files_under(&args.truth)? {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(stem) = truth_stem(&name) {
            if let Some(earlier) = truth_files.get(stem) {
                tracing::warn!(
                    "{}: truth for {stem} already taken from {}",
                    file.display(),
                    earlier.display()
                );
            } else {
                truth_files.insert(stem.to_string(), file);
            }
        }
    }
    let mut scores = Vec::with_capacity(results.images.len());
    for image in &results.images {
        let stem = Path::new(&image.path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(truth_path) = truth_files.get(&stem) else {
            scores.push(image_without_truth(&image.path));
            continue;
        };
        let truth = read_truth(truth_path)?;
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
