//! `cellvia config` and `cellvia synth`.

use std::path::PathBuf;

use anyhow::Context;
use cellvia::io::{self, write::write_atomic};
use cellvia::synth::looks::{DeadLook, LiveLook};
use cellvia::synth::{render, SynthDepth, SynthField, SynthMode, SynthParams};
use clap::Args;

use super::{load_config, ConfigArgs, EXIT_OK};

pub fn config(args: &ConfigArgs) -> anyhow::Result<u8> {
    if let Some(path) = &args.resolve {
        let config = load_config(Some(path))?;
        config.validate()?;
        print!("{}", toml::to_string(&config)?);
    } else {
        print!("{}", cellvia::Config::default_toml_documented());
    }
    Ok(EXIT_OK)
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Output folder.
    #[arg(long, short)]
    out: PathBuf,
    /// Number of fields; field i uses seed SEED + i.
    #[arg(long, default_value_t = 1)]
    count: u32,
    /// File name prefix.
    #[arg(long, default_value = "synth")]
    prefix: String,
    /// Base parameters from a TOML file (see `cellvia::synth::SynthParams`); flags override them.
    #[arg(long)]
    params: Option<PathBuf>,
    /// Imaging mode: trypan-blue brightfield (gray) or AO/PI fluorescence (RGB: red = PI, green = AO).
    #[arg(long, value_parser = ["brightfield", "aopi"])]
    mode: Option<String>,
    #[arg(long)]
    width: Option<u32>,
    #[arg(long)]
    height: Option<u32>,
    /// Cells per field.
    #[arg(long)]
    cells: Option<u32>,
    #[arg(long)]
    dead_fraction: Option<f64>,
    #[arg(long)]
    clump_fraction: Option<f64>,
    /// Debris specks per field.
    #[arg(long)]
    debris: Option<u32>,
    /// Mean cell diameter, pixels (standard deviation 15 % of it unless --diameter-sd).
    #[arg(long)]
    diameter: Option<f64>,
    /// Standard deviation of the cell diameter, pixels.
    #[arg(long)]
    diameter_sd: Option<f64>,
    /// Fraction of cells rendered out of focus.
    #[arg(long)]
    defocus_fraction: Option<f64>,
    /// Relative illumination drop from centre to corner.
    #[arg(long)]
    vignetting: Option<f64>,
    /// Photons collected at full scale (sets shot noise).
    #[arg(long)]
    photons_full_scale: Option<f64>,
    /// Read noise, fraction of full scale.
    #[arg(long)]
    read_noise: Option<f64>,
    /// Sample depth: 8 (PNG), 12 (12-bit data in a 16-bit TIFF) or 16 (TIFF).
    #[arg(long, value_parser = ["8", "12", "16"])]
    depth: Option<String>,
    /// Draw hemocytometer grid lines (brightfield).
    #[arg(long)]
    grid: bool,
    /// With --grid: the rulings' pitch in µm (with --pixel-size; Neubauer: 50, 200, 250 or 1000).
    #[arg(long, value_name = "UM", requires = "pixel_size")]
    grid_pitch: Option<f64>,
    /// With --grid-pitch: the field's pixel size in µm/px; rulings lie pitch / pixel size px apart.
    #[arg(long, value_name = "UM", requires = "grid_pitch")]
    pixel_size: Option<f64>,
    /// Domain randomisation: each field draws its cell size (8-150 px), looks,
    /// size relation, focus, light, noise, depth, colour, JPEG, debris and
    /// rulings from its seed (size, mode and cell count are kept).
    #[arg(long)]
    randomize: bool,
    /// Live looks to draw from (comma-separated: refractile, halo-bright,
    /// halo-dark, dim; default refractile, with --randomize all).
    #[arg(long, value_delimiter = ',')]
    live_looks: Option<Vec<String>>,
    /// Dead looks to draw from (dark, textured, pale; default dark, with
    /// --randomize all).
    #[arg(long, value_delimiter = ',')]
    dead_looks: Option<Vec<String>>,
    /// Dead cells' diameter relative to live cells' (default 1).
    #[arg(long)]
    dead_size_ratio: Option<f64>,
    /// Brightfield in RGB: dead cells' trypan blue is blue.
    #[arg(long)]
    colour: bool,
    /// Lamp colour cast for --colour: > 0 bluish, < 0 yellowish.
    #[arg(long, allow_hyphen_values = true)]
    colour_cast: Option<f64>,
    /// Write 8-bit fields as JPEG of this quality (1-100).
    #[arg(long)]
    jpeg_quality: Option<u8>,
    /// Also write STEM.labels.png: 16-bit label mask, truth cell i = label i + 1.
    #[arg(long)]
    label_mask: bool,
    #[arg(long)]
    seed: Option<u64>,
}

pub fn synth(args: &SynthArgs) -> anyhow::Result<u8> {
    let mut p = match &args.params {
        Some(path) => toml::from_str::<SynthParams>(&io::read_text(path)?)
            .with_context(|| format!("synth parameters {}", path.display()))?,
        None => SynthParams::default(),
    };
    macro_rules! set {
        ($($field:ident),*) => { $(if let Some(v) = args.$field { p.$field = v; })* };
    }
    set!(
        width,
        height,
        cells,
        dead_fraction,
        clump_fraction,
        debris,
        defocus_fraction,
        vignetting,
        photons_full_scale,
        read_noise,
        dead_size_ratio,
        colour_cast,
        seed
    );
    if args.jpeg_quality.is_some() {
        p.jpeg_quality = args.jpeg_quality;
    }
    p.colour |= args.colour;
    p.randomize |= args.randomize;
    if p.randomize {
        p.live_looks = LiveLook::ALL.to_vec();
        p.dead_looks = DeadLook::ALL.to_vec();
    }
    if let Some(looks) = &args.live_looks {
        p.live_looks = parse_looks(looks, "--live-looks")?;
    }
    if let Some(looks) = &args.dead_looks {
        p.dead_looks = parse_looks(looks, "--dead-looks")?;
    }
    if let Some(d) = args.diameter {
        p.diameter_mean = d;
        p.diameter_sd = d * 0.15;
    }
    if let Some(sd) = args.diameter_sd {
        p.diameter_sd = sd;
    }
    if let Some(m) = &args.mode {
        p.mode = if m == "aopi" {
            SynthMode::Aopi
        } else {
            SynthMode::Brightfield
        };
    }
    if let Some(d) = &args.depth {
        p.depth = match d.as_str() {
            "12" => SynthDepth::Twelve,
            "16" => SynthDepth::Sixteen,
            _ => SynthDepth::Eight,
        };
    }
    p.grid |= args.grid;
    if args.grid_pitch.is_some() {
        p.grid_pitch_um = args.grid_pitch;
        p.pixel_size_um = args.pixel_size;
    }
    p.validate()?;
    io::write::ensure_dir(&args.out)?;
    let base_seed = p.seed;
    for i in 0..args.count {
        p.seed = base_seed + u64::from(i);
        let field = render(&p);
        let SynthField { truth, labels, .. } = &field;
        let stem = format!("{}-{:04}", args.prefix, p.seed);
        if truth.cells.len() < field.params.cells as usize {
            eprintln!(
                "cellvia: warning: {stem}: only {} of {} cells fit without overlapping",
                truth.cells.len(),
                field.params.cells
            );
        }
        if args.label_mask {
            let mut png = std::io::Cursor::new(Vec::new());
            labels.write_to(&mut png, image::ImageFormat::Png)?;
            write_atomic(&args.out.join(format!("{stem}.labels.png")), png.get_ref())?;
        }
        let (ext, bytes) = field.encode()?;
        write_atomic(&args.out.join(format!("{stem}.{ext}")), &bytes)?;
        let json = serde_json::to_string_pretty(truth)? + "\n";
        write_atomic(
            &args.out.join(format!("{stem}.truth.json")),
            json.as_bytes(),
        )?;
    }
    eprintln!(
        "cellvia: wrote {} synthetic fields to {}",
        args.count,
        args.out.display()
    );
    Ok(EXIT_OK)
}

/// A comma-separated list of looks by their kebab-case names.
fn parse_looks<T: serde::de::DeserializeOwned>(
    names: &[String],
    flag: &str,
) -> anyhow::Result<Vec<T>> {
    names
        .iter()
        .map(|n| {
            serde_json::from_value(serde_json::Value::String(n.trim().to_string()))
                .map_err(|_| anyhow::anyhow!("{flag}: unknown look {n:?}"))
        })
        .collect()
}
