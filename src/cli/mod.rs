//! Argument parsing and dispatch.

mod analyze;
mod audit;
mod bench;
mod dataset;
mod eval;
mod merge;
mod serve;
mod tools;
mod truth_set;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use cellvia::batch::{EXIT_FATAL, EXIT_OK, EXIT_SOME_FAILED};

const EXIT_CODES_HELP: &str = "Exit codes:\n  0  all inputs analysed (and, with --spec, every sample PASS)\n  1  some inputs failed (error records written; the rest analysed), or with --spec a sample is FAIL or INVALID\n  2  fatal: bad arguments, config or spec, model or ONNX Runtime missing, output not writable, --out already holds results (without --overwrite), run log broken";

const AUDIT_EXIT_CODES_HELP: &str = "Exit codes:\n  0  the log verifies (and, with --outputs, every output file present matches it)\n  1  the log was changed (a record edited, deleted, inserted or reordered), or with --outputs an output file was\n  2  the log cannot be read";

#[derive(Debug, Parser)]
#[command(name = "cellvia", version, about = "Count cells and score viability in microscope images", after_help = EXIT_CODES_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Analyse images and folders of images: segment, count, classify live/dead.
    #[command(after_help = EXIT_CODES_HELP)]
    Analyze(AnalyzeArgs),
    /// Show the analysis settings.
    Config(ConfigArgs),
    /// Print the JSON Schema of results.json (shipped as schemas/results.schema.json).
    Schema,
    /// Render synthetic fields (brightfield or AO/PI) with exact ground truth (*.truth.json).
    Synth(tools::SynthArgs),
    /// Score a results.json against ground truth (Pascal VOC, *.truth.json, YOLO, COCO, points CSV).
    Eval(eval::EvalArgs),
    /// Score a viability model on labelled images: detection, live/dead, viability bias with 95 % interval.
    #[command(
        after_help = "Exit codes: 0 every image scored, 1 some image failed or had no truth, 2 fatal error."
    )]
    Validate(validate::ValidateArgs),
    /// Export labelled candidate crops for training the viability model.
    Dataset(dataset::DatasetArgs),
    /// Measure throughput: images/s, stage times, decode floor, memory, thread scaling.
    Bench(bench::BenchArgs),
    /// Check a run log (every record's hash, sequence, link and signature), or make a signing key.
    Audit(AuditArgs),
    /// Merge the output folders of `analyze --shard K/N` runs into one set of outputs.
    #[command(after_help = EXIT_CODES_HELP)]
    Merge(merge::MergeArgs),
    /// Run as a service for a QC system: HTTP API, job store, optional hot folder.
    Serve(serve::ServeArgs),
    /// Run a hot folder: analyse sample folders and manifests dropped into an inbox.
    Watch(serve::WatchArgs),
}

#[derive(Debug, Args)]
struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Verify a run log (JSON lines written by `analyze`).
    #[command(after_help = AUDIT_EXIT_CODES_HELP)]
    Verify {
        /// The run log, e.g. OUT/run-log.jsonl.
        log: PathBuf,
        /// Also re-hash the output files the log names (the latest run per
        /// output folder, overlays through their SHA256SUMS): a missing,
        /// changed or unlisted file exits 1.
        #[arg(long)]
        outputs: bool,
        /// Also require every record to be signed by this key (a public
        /// key file from `audit keygen`): catches a re-sealed log.
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
        /// With --outputs: the output folders were moved here. The folder
        /// that held every logged output folder (the one folder, for a log
        /// of one) is now DIR; each is looked for at the same place under it.
        #[arg(long, value_name = "DIR", requires = "outputs")]
        root: Option<PathBuf>,
    },
    /// Make an Ed25519 key pair for signing run records: FILE (secret,
    /// readable by its owner only; give it to `analyze --signing-key`) and
    /// FILE.pub (for `audit verify --public-key`).
    Keygen {
        /// Where to write the secret key (refused if it exists).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

/// The staining (`assay` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AssayArg {
    /// Trypan-blue brightfield, viability from the ONNX model.
    Trypan,
    /// AO/PI fluorescence (RGB composite red = PI, green = AO, or NAME_AO/NAME_PI
    /// file pairs), viability from the two-channel rule.
    Aopi,
}

impl From<AssayArg> for cellvia::config::Assay {
    fn from(a: AssayArg) -> Self {
        match a {
            AssayArg::Trypan => cellvia::config::Assay::Trypan,
            AssayArg::Aopi => cellvia::config::Assay::Aopi,
        }
    }
}

/// Counting chamber presets (`sample.chamber` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ChamberArg {
    /// Improved Neubauer hemocytometer, 100 µm deep.
    NeubauerImproved,
    /// Countess chamber slide, 100 µm deep.
    Countess,
    /// Cellometer SD100 slide, 100 µm deep.
    CellometerSd100,
    /// Cellometer SD025 slide, 25 µm deep.
    CellometerSd025,
    /// Any other chamber: give --chamber-depth-um.
    Custom,
}

impl From<ChamberArg> for cellvia::config::Chamber {
    fn from(c: ChamberArg) -> Self {
        use cellvia::config::Chamber;
        match c {
            ChamberArg::NeubauerImproved => Chamber::NeubauerImproved,
            ChamberArg::Countess => Chamber::Countess,
            ChamberArg::CellometerSd100 => Chamber::CellometerSd100,
            ChamberArg::CellometerSd025 => Chamber::CellometerSd025,
            ChamberArg::Custom => Chamber::Custom,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OverlayArg {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ExportArg {
    /// Label TIFF per image, pixel values = cells.csv ids.
    Masks,
    /// ImageJ/Fiji ROI set (.zip) per image.
    Imagej,
    /// QuPath-compatible GeoJSON outlines per image.
    Geojson,
}

#[derive(Debug, Args)]
struct AnalyzeArgs {
    /// Image files or folders (searched recursively for .png .tif .tiff .jpg .jpeg .bmp).
    /// With --assay aopi, NAME_AO.* and NAME_PI.* in one folder are one field.
    /// Each folder of images is one sample unless --manifest says otherwise.
    #[arg(required_unless_present = "manifest")]
    paths: Vec<PathBuf>,
    /// Sample manifest CSV: sample_id,image_path[,dilution,...]; its images are analysed.
    #[arg(long, value_name = "CSV", conflicts_with = "paths")]
    manifest: Option<PathBuf>,
    /// Release spec (TOML): each sample gets PASS, FAIL or INVALID; any but PASS exits 1.
    #[arg(long, value_name = "TOML")]
    spec: Option<PathBuf>,
    /// Counting chamber (sets the depth of the imaged volume).
    #[arg(long, value_enum)]
    chamber: Option<ChamberArg>,
    /// Chamber depth in µm (overrides the chamber's; required for custom).
    #[arg(long, value_name = "UM")]
    chamber_depth_um: Option<f64>,
    /// Pre-dilution factor of the sample before staining (e.g. 5 for 1:4).
    #[arg(long, value_name = "FACTOR")]
    dilution: Option<f64>,
    /// Dilution by the stain (2 for the usual 1:1 mix).
    #[arg(long, value_name = "FACTOR")]
    stain_dilution: Option<f64>,
    /// Output folder for results.json, images.csv, cells.csv and overlays.
    #[arg(long, short)]
    out: PathBuf,
    /// Worker threads, 1 to 1024 (default: all cores).
    #[arg(long, value_parser = crate::cli::parse_threads)]
    threads: Option<usize>,
    /// Staining: trypan (default) or aopi.
    #[arg(long, value_enum)]
    assay: Option<AssayArg>,
    /// Typical cell diameter in pixels, MIN,MAX, or `auto` (the default:
    /// measured from each field).
    #[arg(long, value_name = "MIN,MAX|auto")]
    diameter: Option<String>,
    /// Pixel size in µm per pixel.
    #[arg(long, value_name = "UM")]
    pixel_size: Option<f64>,
    /// Typical cell diameter in µm, MIN,MAX (needs --pixel-size).
    #[arg(long, value_name = "MIN,MAX")]
    diameter_um: Option<String>,
    /// ONNX viability model (default: the shipped model).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Settings file, TOML or JSON (see `cellvia config --print-default`); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Overlay pictures: auto (batches of up to 50 images), always, never.
    #[arg(long, value_enum)]
    overlays: Option<OverlayArg>,
    /// Per-image files for other tools, in OUT/exports/: masks, imagej, geojson (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "KINDS")]
    export: Vec<ExportArg>,
    /// Drop objects touching the image edge.
    #[arg(long)]
    discard_border_objects: bool,
    /// Count only cells whose equivalent diameter in µm is in MIN,MAX (needs --pixel-size).
    #[arg(long, value_name = "MIN,MAX")]
    gate_diameter_um: Option<String>,
    /// Count only cells whose equivalent diameter in pixels is in MIN,MAX.
    #[arg(long, value_name = "MIN,MAX")]
    gate_diameter: Option<String>,
    /// Count only cells at least this circular (0..1).
    #[arg(long, value_name = "MIN")]
    gate_circularity: Option<f64>,
    /// Count only cells whose mean intensity (0..1 of full scale) is in MIN,MAX.
    #[arg(long, value_name = "MIN,MAX")]
    gate_intensity: Option<String>,
    /// Count only cells whose centroid lies in this rectangle, pixels.
    #[arg(long, value_name = "X_MIN,Y_MIN,X_MAX,Y_MAX")]
    counting_region: Option<String>,
    /// List debris objects in results.json.
    #[arg(long)]
    list_debris: bool,
    /// No progress output.
    #[arg(long, short)]
    quiet: bool,
    /// Who ran the analysis; recorded in results.json, report.html, the ASM and the run log.
    #[arg(long, value_name = "NAME")]
    operator: Option<String>,
    /// Metadata of the run and its samples (repeatable; a manifest column of the same name wins), e.g. --meta batch=B-2026-117.
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    meta: Vec<String>,
    /// Replace the results already in --out (refused otherwise); the run log records it.
    #[arg(long)]
    overwrite: bool,
    /// Append-only, hash-chained run log to append this run to (default: OUT/run-log.jsonl).
    #[arg(long, value_name = "FILE")]
    run_log: Option<PathBuf>,
    /// Sign the run record with this secret key (from `cellvia audit keygen`).
    #[arg(long, value_name = "FILE")]
    signing_key: Option<PathBuf>,
    /// Analyse only shard K of N (0 <= K < N): a contiguous part of the
    /// inputs in their sorted order (or the manifest's), for `cellvia merge`.
    #[arg(long, value_name = "K/N", value_parser = cellvia::batch::Shard::parse)]
    shard: Option<cellvia::batch::Shard>,
    /// Also write results.asm.json (Allotrope Simple Model, cell-counting REC/2024/09).
    #[arg(long)]
    asm: bool,
    /// Do not write report.html.
    #[arg(long)]
    no_html: bool,
}

#[derive(Debug, Args)]
struct ConfigArgs {
    /// Print every setting with its default and meaning, as TOML.
    #[arg(long)]
    print_default: bool,
    /// Print the settings resolved from this file.
    #[arg(long, conflicts_with = "print_default")]
    resolve: Option<PathBuf>,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("CELLVIA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .init();
    let result = match cli.command {
        Command::Analyze(args) => analyze::run(args),
        Command::Config(args) => tools::config(&args),
        Command::Schema => {
            println!(
                "{}",
                cellvia::report::pretty_json(&cellvia::report::results_schema())
            );
            Ok(EXIT_OK)
        }
        Command::Synth(args) => tools::synth(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Validate(args) => validate::run(&args),
        Command::Dataset(args) => dataset::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Merge(args) => merge::run(args),
        Command::Serve(args) => serve::serve(args),
        Command::Watch(args) => serve::watch(args),
        Command::Audit(AuditArgs {
            command:
                AuditCommand::Verify {
                    log,
                    outputs,
                    public_key,
                    root,
                },
        }) => audit::verify(&log, outputs, public_key.as_deref(), root.as_deref()),
        Command::Audit(AuditArgs {
            command: AuditCommand::Keygen { out },
        }) => audit::keygen(&out),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("cellvia: error: {e:#}");
            ExitCode::from(EXIT_FATAL)
        }
    }
}

/// Parses "MIN,MAX".
/// `--diameter`: `auto` (measure each field; `None`) or MIN,MAX pixels.
fn parse_diameter(
    flag: &str,
    text: &str,
) -> anyhow::Result<Option<cellvia::config::DiameterRange>> {
    if text.trim().eq_ignore_ascii_case("auto") {
        return Ok(None);
    }
    parse_range(flag, text).map(Some)
}

/// Discovery for the tools that need every input (bench, dataset,
/// validate): a folder that cannot be listed is an error, not a record.
fn discover_all(paths: &[PathBuf]) -> anyhow::Result<cellvia::io::discover::Discovered> {
    let found = cellvia::io::discover::discover(paths, &[]);
    if let Some((path, why)) = found.unreadable.first() {
        anyhow::bail!("{}: {why}", path.display());
    }
    Ok(found)
}

/// Most worker threads accepted: far beyond the cores of any one machine
/// (more threads than cores only add memory), low enough that a typo
/// cannot spawn threads until the machine falls over.
const MAX_THREADS: usize = 1024;

/// Parses `--threads`: 1 to [`MAX_THREADS`].
fn parse_threads(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_THREADS).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a number of threads from 1 to {MAX_THREADS}"
        )),
    }
}

fn parse_range(flag: &str, text: &str) -> anyhow::Result<cellvia::config::DiameterRange> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let [min, max] = parts[..] else {
        anyhow::bail!("{flag} expects MIN,MAX, got {text:?}");
    };
    let number = |s: &str| {
        s.parse::<f64>()
            .map_err(|_| anyhow::anyhow!("{flag}: {s:?} is not a number"))
    };
    Ok(cellvia::config::DiameterRange {
        min: number(min)?,
        max: number(max)?,
    })
}

/// Loads the config file if given, else the defaults.
fn load_config(path: Option<&PathBuf>) -> anyhow::Result<cellvia::Config> {
    match path {
        Some(p) => {
            let text = cellvia::io::read_text(p)?;
            Ok(cellvia::Config::from_text(p, &text)?)
        }
        None => Ok(cellvia::Config::default()),
    }
}
