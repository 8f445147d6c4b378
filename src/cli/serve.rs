//! `cellvia serve` and `cellvia watch`: thin callers of [`cellvia::service`].

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use cellvia::audit::signature::RecordSigner;
use cellvia::batch::Cancel;
use cellvia::io;
use cellvia::scheduler;
use cellvia::service::auth::Tokens;
use cellvia::service::roots::Roots;
use cellvia::service::watch::WatchOptions;
use cellvia::service::{
    self, ServiceOptions, DEFAULT_MAX_IMAGES, DEFAULT_MAX_QUEUE, DEFAULT_MAX_UPLOAD_MIB,
};
use clap::Args;

use super::{load_config, AssayArg, EXIT_OK};

/// Settings of hot-folder runs.
#[derive(Debug, Args)]
pub struct DropSettings {
    /// Settings file for every drop, TOML or JSON.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Release spec (TOML) applied to every drop.
    #[arg(long, value_name = "TOML")]
    spec: Option<PathBuf>,
    /// Staining of the drops: trypan (default) or aopi.
    #[arg(long, value_enum)]
    assay: Option<AssayArg>,
    /// How often the inbox is looked at, milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    poll_ms: u64,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (binds the loopback interface unless told otherwise).
    #[arg(long, default_value = "127.0.0.1:8750")]
    listen: SocketAddr,
    /// Data folder: job store, uploads, run outputs and the run log.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// A folder whose images clients may name by path (repeatable).
    #[arg(long = "root", value_name = "DIR")]
    roots: Vec<PathBuf>,
    /// Bearer tokens: one per line, TOKEN or NAME TOKEN; TOKEN may be sha256:<hex>.
    #[arg(long, value_name = "FILE")]
    token_file: PathBuf,
    /// Runs analysed at once.
    #[arg(long, default_value_t = 1, value_parser = super::parse_threads)]
    workers: usize,
    /// Threads per run (default: all cores shared between the workers).
    #[arg(long, value_parser = super::parse_threads)]
    threads: Option<usize>,
    /// Most runs waiting in the queue (more are answered 429).
    #[arg(long, default_value_t = DEFAULT_MAX_QUEUE)]
    max_queue: usize,
    /// Most images in one run (more are answered 413).
    #[arg(long, default_value_t = DEFAULT_MAX_IMAGES)]
    max_images: usize,
    /// Largest request body (an upload), MiB (larger is answered 413).
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_MAX_UPLOAD_MIB)]
    max_upload_mib: usize,
    /// Sign every run record with this Ed25519 key (from `audit keygen`).
    #[arg(long, value_name = "FILE")]
    signing_key: Option<PathBuf>,
    /// Also run a hot folder: sample folders (with READY) or manifests dropped here.
    #[arg(long, value_name = "INBOX", requires = "outbox")]
    watch: Option<PathBuf>,
    /// Where the hot folder's results go.
    #[arg(long, value_name = "OUTBOX", requires = "watch")]
    outbox: Option<PathBuf>,
    #[command(flatten)]
    drops: DropSettings,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Folder the QC system drops sample folders (with a READY file) or manifests into.
    #[arg(long, value_name = "DIR")]
    inbox: PathBuf,
    /// Folder the results go to, one folder per drop.
    #[arg(long, value_name = "DIR")]
    outbox: PathBuf,
    /// Run log (default: OUTBOX/run-log.jsonl).
    #[arg(long, value_name = "FILE")]
    run_log: Option<PathBuf>,
    /// Who runs the hot folder, for the run log.
    #[arg(long, default_value = "hot-folder")]
    operator: String,
    /// Sign every run record with this Ed25519 key (from `audit keygen`).
    #[arg(long, value_name = "FILE")]
    signing_key: Option<PathBuf>,
    /// Worker threads per drop (default: all cores).
    #[arg(long, value_parser = super::parse_threads)]
    threads: Option<usize>,
    /// Analyse what is in the inbox, then exit.
    #[arg(long)]
    once: bool,
    #[command(flatten)]
    drops: DropSettings,
}

fn watch_options(
    inbox: PathBuf,
    outbox: PathBuf,
    drops: &DropSettings,
    operator: String,
    signer: Option<RecordSigner>,
    once: bool,
) -> anyhow::Result<WatchOptions> {
    let mut config = load_config(drops.config.as_ref())?;
    if let Some(assay) = drops.assay {
        config.assay = assay.into();
    }
    Ok(WatchOptions {
        inbox,
        outbox,
        config,
        spec: drops
            .spec
            .as_deref()
            .map(super::analyze::read_spec)
            .transpose()?,
        operator,
        signer,
        poll: Duration::from_millis(drops.poll_ms.max(10)),
        once,
    })
}

pub fn serve(args: ServeArgs) -> anyhow::Result<u8> {
    let signer = super::analyze::read_signer(args.signing_key.as_deref())?;
    let tokens = Tokens::parse(&io::read_text(&args.token_file)?)
        .with_context(|| args.token_file.display().to_string())?;
    let roots = Roots::new(&args.roots).context("--root")?;
    let threads_per_run = args
        .threads
        .unwrap_or_else(|| (scheduler::default_threads() / args.workers).max(1));
    let watch = match (args.watch, args.outbox) {
        (Some(inbox), Some(outbox)) => Some(watch_options(
            inbox,
            outbox,
            &args.drops,
            "hot-folder".into(),
            signer.clone(),
            false,
        )?),
        _ => None,
    };
    let options = ServiceOptions {
        listen: args.listen,
        data: args.data,
        roots,
        tokens,
        workers: args.workers,
        threads_per_run,
        max_queue: args.max_queue,
        max_images: args.max_images,
        max_upload_bytes: args.max_upload_mib.saturating_mul(1 << 20),
        signer,
    };
    service::serve(options, watch, |addr| {
        // The first line of stdout, for scripts that asked for port 0.
        println!("cellvia: listening on http://{addr}");
        let _ = std::io::stdout().flush();
    })?;
    Ok(EXIT_OK)
}

pub fn watch(args: WatchArgs) -> anyhow::Result<u8> {
    let signer = super::analyze::read_signer(args.signing_key.as_deref())?;
    let run_log = args
        .run_log
        .clone()
        .unwrap_or_else(|| args.outbox.join(cellvia::batch::RUN_LOG_NAME));
    let threads = args.threads.unwrap_or_else(scheduler::default_threads);
    let options = watch_options(
        args.inbox,
        args.outbox,
        &args.drops,
        args.operator,
        signer,
        args.once,
    )?;
    service::watch::run(&options, &run_log, threads, &Cancel::default())?;
    Ok(EXIT_OK)
}
