//! `cellvia dataset`: labelled candidate crops for training the viability
//! model, and the `--diameter auto` pooling it shares with `validate`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use cellvia::aggregate::Counts;
use cellvia::classify::CellClass;
use cellvia::config::Assay;
use cellvia::dataset::label_candidates;
use cellvia::io::{self, write::write_atomic};
use cellvia::measure::crop::{CROP_CHANNELS, DEFAULT_CROP_SPEC};
use cellvia::pipeline::{candidates, first_pass_diameters, Source, StageTimes};
use cellvia::scheduler;
use cellvia::segment::scale::{pool_by_sample, FieldDiameter};
use clap::Args;

use super::truth_set::TruthSet;
use super::{load_config, parse_diameter, EXIT_OK, EXIT_SOME_FAILED};

#[derive(Debug, Args)]
pub struct DatasetArgs {
    /// Images or folders; each image needs its truth beside it (STEM.xml or STEM.truth.json).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Output folder for crops.f32, crops.csv and dataset.json.
    #[arg(long, short)]
    out: PathBuf,
    /// Settings file (segmentation settings must match those used for analysis).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Typical cell diameter in pixels, MIN,MAX, or `auto` (the default).
    #[arg(long, value_name = "MIN,MAX|auto")]
    diameter: Option<String>,
    /// Worker threads, 1 to 1024 (default: all cores).
    #[arg(long, value_parser = crate::cli::parse_threads)]
    threads: Option<usize>,
    /// Truth (default: the one folder given): a folder of STEM.xml (Pascal
    /// VOC), STEM.truth.json or STEM.txt (YOLO, with classes.txt), or one COCO
    /// .json or points .csv file.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// With `--diameter auto`, measure each image's cell diameter alone
    /// instead of pooling the images of a folder (for folders of fields at
    /// different magnifications, such as synthetic training sets).
    #[arg(long)]
    diameter_per_field: bool,
    /// Crop window in the object's own diameters (default: the shipped model's).
    #[arg(long)]
    crop_context: Option<f64>,
    /// Side of the square crop in pixels, a multiple of 8 from 16 to 64
    /// (default: the shipped model's).
    #[arg(long)]
    crop_size: Option<usize>,
}

/// `--diameter auto` for a set of images (`dataset`, `validate`): each
/// image's first-pass diameters, pooled by folder (as `analyze` pools a
/// sample) or per image.
pub fn pooled_diameters(
    images: &[PathBuf],
    config: &cellvia::Config,
    threads: usize,
    per_field: bool,
) -> anyhow::Result<Option<Vec<FieldDiameter>>> {
    if config.fixed_diameter().is_some() {
        return Ok(None);
    }
    let mut own = vec![Vec::new(); images.len()];
    scheduler::for_each_ordered(
        images,
        threads,
        |path| {
            io::read_bytes(path)
                .ok()
                .and_then(|bytes| first_pass_diameters(Source::Image(&bytes), config).ok())
                .unwrap_or_default()
        },
        |i, d| own[i] = d,
    )?;
    let mut folders: Vec<&Path> = Vec::new();
    let sample_of: Vec<usize> = images
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if per_field {
                return i;
            }
            let folder = p.parent().unwrap_or(Path::new(""));
            folders
                .iter()
                .position(|f| *f == folder)
                .unwrap_or_else(|| {
                    folders.push(folder);
                    folders.len() - 1
                })
        })
        .collect();
    // Every field votes, as when the shipped model's crops were made.
    Ok(Some(pool_by_sample(&own, &sample_of, usize::MAX)))
}

struct Labelled {
    crops: Vec<f32>,
    classes: Vec<CellClass>,
    rows: Vec<[String; 7]>,
}

pub fn run(args: &DatasetArgs) -> anyhow::Result<u8> {
    let mut config = load_config(args.config.as_ref())?;
    if let Some(d) = &args.diameter {
        config.diameter_px = parse_diameter("--diameter", d)?;
    }
    config.validate()?;
    anyhow::ensure!(
        config.assay == Assay::Trypan,
        "dataset exports crops for the trypan-blue model; the aopi assay has no model to train"
    );
    let found = super::discover_all(&args.paths)?;
    let threads = args.threads.unwrap_or_else(scheduler::default_threads);
    let mut spec = DEFAULT_CROP_SPEC;
    if let Some(context) = args.crop_context {
        anyhow::ensure!(
            context > 0.5 && context <= 6.0,
            "--crop-context must lie in (0.5, 6]"
        );
        spec.context = context;
    }
    if let Some(size) = args.crop_size {
        anyhow::ensure!(
            (16..=64).contains(&size) && size % 8 == 0,
            "--crop-size must be a multiple of 8 from 16 to 64 (the model pools three times)"
        );
        spec.size = size;
    }
    let mut crops: Vec<u8> = Vec::new();
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record([
        "image",
        "label",
        "x",
        "y",
        "area_px",
        "diameter_px",
        "truth_cells",
    ])?;
    let (mut n, mut failed) = (0usize, 0usize);
    let mut counts = Counts::default();
    let mut write_error: Option<csv::Error> = None;
    let diameters = pooled_diameters(&found.images, &config, threads, args.diameter_per_field)?;
    // Truth from --truth, else beside each image.
    let mut truth_sets: Vec<(PathBuf, TruthSet)> = Vec::new();
    match &args.truth {
        Some(t) => truth_sets.push((PathBuf::new(), TruthSet::load(t)?)),
        None => {
            for image in &found.images {
                let folder = image.parent().unwrap_or(Path::new(".")).to_path_buf();
                if !truth_sets.iter().any(|(f, _)| *f == folder) {
                    let set = TruthSet::load(&folder)?;
                    truth_sets.push((folder, set));
                }
            }
        }
    }
    let truth_of = |image: &Path| -> anyhow::Result<Option<cellvia::truth::Truth>> {
        let folder = image.parent().unwrap_or(Path::new("."));
        match truth_sets
            .iter()
            .find(|(f, _)| args.truth.is_some() || f == folder)
        {
            Some((_, set)) => set.get(image),
            None => Ok(None),
        }
    };
    let indexed: Vec<(usize, &PathBuf)> = found.images.iter().enumerate().collect();
    scheduler::for_each_ordered(
        &indexed,
        threads,
        |&(index, path)| -> anyhow::Result<Labelled> {
            let truth =
                truth_of(path)?.with_context(|| format!("{}: no truth for it", path.display()))?;
            let bytes = io::read_bytes(path)?;
            let cands = candidates(
                Source::Image(&bytes),
                &config,
                Some(&spec),
                diameters.as_ref().map(|d| &d[index]),
                &mut StageTimes::default(),
            )
            .with_context(|| path.display().to_string())?;
            let labels = label_candidates(&cands.objects, &truth);
            let rows = cands
                .objects
                .iter()
                .zip(&labels)
                .map(|(o, l)| {
                    [
                        path.display().to_string(),
                        l.as_str().to_string(),
                        format!("{:.2}", o.x),
                        format!("{:.2}", o.y),
                        o.area_px.to_string(),
                        format!("{:.2}", o.diameter_px),
                        truth.cells.len().to_string(),
                    ]
                })
                .collect();
            Ok(Labelled {
                crops: cands.crops.iter().copied().collect(),
                classes: labels,
                rows,
            })
        },
        |_, result| match result {
            Ok(l) => {
                for row in &l.rows {
                    if let Err(e) = csv.write_record(row) {
                        write_error.get_or_insert(e);
                    }
                }
                counts.add(&Counts::from_classes(l.classes));
                n += l.rows.len();
                crops.extend(l.crops.iter().flat_map(|v| v.to_le_bytes()));
            }
            Err(e) => {
                failed += 1;
                tracing::warn!("{e:#}");
            }
        },
    )?;
    if let Some(e) = write_error {
        return Err(anyhow::Error::from(e).context("cannot build crops.csv"));
    }
    io::write::ensure_dir(&args.out)?;
    write_atomic(&args.out.join("crops.f32"), &crops)?;
    let table = csv
        .into_inner()
        .map_err(|e| anyhow::anyhow!(e.to_string()))?;
    write_atomic(&args.out.join("crops.csv"), &table)?;
    let meta = serde_json::json!({
        "crops": n,
        "shape": [n, CROP_CHANNELS, spec.size, spec.size],
        "dtype": "float32 little-endian",
        "crop_size": spec.size,
        "crop_context": spec.context,
        "contrast_scale": spec.contrast_scale,
        "dye_scale": spec.dye_scale,
        "contrast_clip": spec.clip,
        "classes": {"live": counts.live, "dead": counts.dead, "debris": counts.debris},
        "config": config,
    });
    write_atomic(
        &args.out.join("dataset.json"),
        (serde_json::to_string_pretty(&meta)? + "\n").as_bytes(),
    )?;
    eprintln!(
        "cellvia: {n} crops (live {}, dead {}, debris {}) from {} images, {failed} failed",
        counts.live,
        counts.dead,
        counts.debris,
        found.images.len() - failed
    );
    Ok(if failed > 0 {
        EXIT_SOME_FAILED
    } else {
        EXIT_OK
    })
}
