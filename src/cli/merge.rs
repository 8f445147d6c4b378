//! `cellvia merge`: a thin caller of [`cellvia::batch::merge`].

use std::path::PathBuf;

use cellvia::batch::{self, MergeRequest, Silent};
use clap::Args;

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' output folders (`analyze --shard K/N --out DIR`), all N of them.
    #[arg(required = true)]
    shards: Vec<PathBuf>,
    /// Output folder for the merged results.
    #[arg(long, short)]
    out: PathBuf,
    /// Release spec (TOML) for the verdicts (default: the one the shards ran with).
    #[arg(long, value_name = "TOML")]
    spec: Option<PathBuf>,
    /// Also write results.asm.json.
    #[arg(long)]
    asm: bool,
    /// The run log holding the shards' records, when they shared one
    /// (default: each shard folder's run-log.jsonl).
    #[arg(long, value_name = "FILE")]
    shard_log: Option<PathBuf>,
    /// Run log to append the merge to (default: OUT/run-log.jsonl).
    #[arg(long, value_name = "FILE")]
    run_log: Option<PathBuf>,
    /// Replace results already in --out.
    #[arg(long)]
    overwrite: bool,
    /// Who merged; recorded in results.json and the run log.
    #[arg(long, value_name = "NAME")]
    operator: Option<String>,
    /// Sign the merge record with this secret key (from `cellvia audit keygen`).
    #[arg(long, value_name = "FILE")]
    signing_key: Option<PathBuf>,
    /// No summary on the console.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: MergeArgs) -> anyhow::Result<u8> {
    let signer = super::analyze::read_signer(args.signing_key.as_deref())?;
    let request = MergeRequest {
        shards: args.shards,
        shard_log: args.shard_log,
        out: args.out.clone(),
        run_log: args.run_log,
        overwrite: args.overwrite,
        spec: args
            .spec
            .as_deref()
            .map(super::analyze::read_spec)
            .transpose()?,
        asm: args.asm,
        operator: args.operator,
        signer,
    };
    let shards = request.shards.len();
    let outcome = batch::merge(request, &mut Silent)?;
    if !args.quiet {
        eprintln!(
            "cellvia: merged {shards} shards, {} images ({} failed), into {}",
            outcome.summary.images,
            outcome.summary.images_failed,
            args.out.display()
        );
        outcome
            .samples
            .iter()
            .for_each(super::analyze::print_sample);
    }
    for line in &outcome.not_passed {
        tracing::warn!("{line}");
    }
    Ok(outcome.exit_code)
}
