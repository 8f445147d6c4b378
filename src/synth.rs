//! Synthetic counting-chamber fields with exact ground truth.
//!
//! Rendered from a physical description, sharing no code with the analysis
//! (a generator that mirrored the segmenter's assumptions would prove
//! nothing). Objects are placed first (free cells, clumps grown as chains of
//! touching cells, debris), then imaged:
//!
//! - **brightfield** (trypan blue): a lamp field with vignetting multiplied by
//!   each object's transmission profile, optional defocus, hemocytometer grid
//!   lines. Live cell: refractile bright centre, dark rim, faint bright halo;
//!   dead cell: dye-filled, uniformly darker with texture, irregular outline;
//!   debris: small faint irregular specks, never in the truth.
//! - **AO/PI** fluorescence: emission added on a dark background, two
//!   channels written as an RGB composite as instruments export it (red = PI,
//!   green = AO). AO stains every nucleated cell green; PI enters only dead
//!   cells (red), whose AO signal it quenches; debris is barely stained.
//!   Rulings are invisible in fluorescence, so none are drawn.
//!
//! Then photon (Poisson, Gaussian-approximated) and read noise, quantised to
//! 8 or 12/16 bits. A label mask (cell `i` of the truth = label `i + 1`)
//! marks each cell's in-focus outline.

use image::{DynamicImage, ImageBuffer, Luma};
use serde::{Deserialize, Serialize};

use crate::classify::CellClass;
use crate::truth::{Truth, TruthCell, TruthRegion, TRUTH_SCHEMA};

/// Output sample depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SynthDepth {
    Eight,
    /// 12-bit samples in a 16-bit container, as many cameras write.
    Twelve,
    Sixteen,
}

/// Imaging mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SynthMode {
    /// Trypan-blue brightfield, one gray channel.
    Brightfield,
    /// AO/PI fluorescence, RGB composite (red = PI, green = AO).
    Aopi,
}

/// Most cells a field can hold: labels are written as 16-bit PNG.
pub const MAX_CELLS: u32 = u16::MAX as u32;

/// What to render.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SynthParams {
    pub mode: SynthMode,
    pub width: u32,
    pub height: u32,
    pub cells: u32,
    /// Fraction of cells that are dead.
    pub dead_fraction: f64,
    /// Cell diameter mean and standard deviation, pixels.
    pub diameter_mean: f64,
    pub diameter_sd: f64,
    /// Fraction of cells that sit in clumps (pairs, triples, short chains).
    pub clump_fraction: f64,
    pub debris: u32,
    /// Fraction of cells rendered out of focus.
    pub defocus_fraction: f64,
    /// Relative intensity drop from centre to corner.
    pub vignetting: f64,
    /// Brightfield lamp level at the centre, 0..=1 of full scale (AO/PI
    /// fields use a fixed dark level and stain brightness instead).
    pub background: f64,
    /// Photons collected at full scale (sets shot noise).
    pub photons_full_scale: f64,
    /// Read noise, fraction of full scale.
    pub read_noise: f64,
    pub depth: SynthDepth,
    /// Draw hemocytometer grid lines.
    pub grid: bool,
    pub seed: u64,
}

impl Default for SynthParams {
    fn default() -> Self {
        Self {
            mode: SynthMode::Brightfield,
            width: 800,
            height: 600,
            cells: 60,
            dead_fraction: 0.25,
            diameter_mean: 20.0,
            diameter_sd: 3.0,
            clump_fraction: 0.15,
            debris: 20,
            defocus_fraction: 0.1,
            vignetting: 0.2,
            background: 0.55,
            photons_full_scale: 4000.0,
            read_noise: 0.004,
            depth: SynthDepth::Eight,
            grid: false,
            seed: 1,
        }
    }
}

/// Parameters a field cannot be rendered from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("synthetic field parameters: {0}")]
pub struct InvalidSynthParams(pub String);

impl SynthParams {
    /// Checks sizes, counts and fractions before rendering.
    ///
    /// ```
    /// use cellvia::synth::SynthParams;
    /// assert!(SynthParams::default().validate().is_ok());
    /// let tiny = SynthParams { width: 8, ..Default::default() };
    /// assert!(tiny.validate().unwrap_err().to_string().contains("16x16"));
    /// ```
    pub fn validate(&self) -> Result<(), InvalidSynthParams> {
        let fail = |m: String| Err(InvalidSynthParams(m));
        if self.width < 16 || self.height < 16 {
            return fail("fields must be at least 16x16 px".into());
        }
        if self.cells > MAX_CELLS {
            return fail(format!("at most {MAX_CELLS} cells per field"));
        }
        if !(self.diameter_mean >= 4.0 && self.diameter_sd >= 0.0) {
            return fail("cell diameter must be at least 4 px".into());
        }
        for (name, v) in [
            ("dead fraction", self.dead_fraction),
            ("clump fraction", self.clump_fraction),
            ("defocus fraction", self.defocus_fraction),
            ("vignetting", self.vignetting),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return fail(format!("{name} must lie in 0..=1"));
            }
        }
        Ok(())
    }

    /// Extension and encoding of a field file: 8-bit PNG, else (12/16-bit) TIFF.
    ///
    /// ```
    /// use cellvia::synth::{SynthDepth, SynthParams};
    /// let p = SynthParams { depth: SynthDepth::Twelve, ..Default::default() };
    /// assert_eq!(p.file_format(), ("tif", image::ImageFormat::Tiff));
    /// ```
    pub fn file_format(&self) -> (&'static str, image::ImageFormat) {
        match self.depth {
            SynthDepth::Eight => ("png", image::ImageFormat::Png),
            SynthDepth::Twelve | SynthDepth::Sixteen => ("tif", image::ImageFormat::Tiff),
        }
    }
}

/// SplitMix64: tiny, fast, and fixed forever, so a seed always renders the same field.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }
    fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

#[derive(Debug, Clone, Copy)]
struct Body {
    x: f64,
    y: f64,
    radius: f64,
    kind: CellClass,
    defocus: f64,
    /// Outline harmonics (amplitude, phase) for irregular shapes.
    wobble: [(f64, f64); 2],
    /// Strength of the object's contrast, 0..1 scale per kind.
    strength: f64,
}

/// Transmission (1 = clear) of an object at normalised radius `rho`.
fn profile(kind: CellClass, rho: f64, strength: f64, texture: f64) -> f64 {
    match kind {
        CellClass::Live => {
            if rho < 0.45 {
                1.0 + 0.5 * strength * (1.0 - (rho / 0.45).powi(2))
            } else if rho < 1.0 {
                1.0 - 0.6 * strength * (std::f64::consts::PI * (rho - 0.45) / 0.55).sin()
            } else if rho < 1.25 {
                1.0 + 0.06 * strength
            } else {
                1.0
            }
        }
        CellClass::Dead => {
            let edge = ((1.05 - rho) / 0.15).clamp(0.0, 1.0);
            1.0 - strength * edge * (0.8 + 0.2 * texture)
        }
        CellClass::Debris => {
            if rho < 1.0 {
                1.0 + strength * (1.0 - rho * rho)
            } else {
                1.0
            }
        }
    }
}

fn place_free(rng: &mut Rng, bodies: &[Body], r: f64, w: f64, h: f64) -> Option<(f64, f64)> {
    (0..200).find_map(|_| {
        let (x, y) = (rng.range(r, w - r), rng.range(r, h - r));
        let free = bodies
            .iter()
            .all(|b| (b.x - x).hypot(b.y - y) > b.radius + r + 2.0);
        free.then_some((x, y))
    })
}

/// A rendered field: the image, its truth and a label mask.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthField {
    /// Gray (brightfield) or RGB (AO/PI), 8-bit or 16-bit samples.
    pub image: DynamicImage,
    pub truth: Truth,
    /// Truth cell `i` is label `i + 1`: pixels inside its in-focus outline
    /// (where cells overlap, the one whose outline is relatively nearer).
    pub labels: ImageBuffer<Luma<u16>, Vec<u16>>,
}

/// Fluorescence dark level (camera offset + autofluorescence), full scale.
const FLUORESCENCE_DARK: f64 = 0.03;
/// Emission of the brightest stained cell at the field centre, full scale.
const FLUORESCENCE_PEAK: f64 = 0.6;

/// Renders a field, its truth and label mask. At most [`MAX_CELLS`] cells;
/// fewer when the field cannot hold `cells` without overlaps (check
/// `truth.cells.len()`).
///
/// ```
/// use cellvia::synth::{render, SynthMode, SynthParams};
/// let p = SynthParams { width: 200, height: 150, cells: 10, ..Default::default() };
/// let field = render(&p);
/// assert_eq!((field.image.width(), field.image.height()), (200, 150));
/// assert_eq!(field.truth.cells.len(), 10);
/// assert_eq!(render(&p), field); // deterministic for a seed
/// let aopi = render(&SynthParams { mode: SynthMode::Aopi, ..p });
/// assert!(aopi.image.as_rgb8().is_some());
/// ```
pub fn render(p: &SynthParams) -> SynthField {
    let mut rng = Rng(p.seed);
    let (w, h) = (f64::from(p.width), f64::from(p.height));
    let mut bodies: Vec<Body> = Vec::new();
    let new_body = |rng: &mut Rng, x, y, radius| {
        let kind = if rng.uniform() < p.dead_fraction {
            CellClass::Dead
        } else {
            CellClass::Live
        };
        let irregular = if kind == CellClass::Dead { 0.08 } else { 0.03 };
        Body {
            x,
            y,
            radius,
            kind,
            defocus: if rng.uniform() < p.defocus_fraction {
                rng.range(1.0, 2.5)
            } else {
                0.0
            },
            wobble: [
                (
                    irregular * rng.uniform(),
                    rng.range(0.0, std::f64::consts::TAU),
                ),
                (
                    irregular * rng.uniform(),
                    rng.range(0.0, std::f64::consts::TAU),
                ),
            ],
            strength: match kind {
                CellClass::Live => rng.range(0.6, 1.0),
                _ => rng.range(0.3, 0.5),
            },
        }
    };
    let draw_radius =
        |rng: &mut Rng| (0.5 * (p.diameter_mean + p.diameter_sd * rng.normal())).max(2.5);
    let target = p.cells.min(MAX_CELLS) as usize;
    let clumped_target = (p.clump_fraction * p.cells as f64).round() as usize;
    let mut clumped = 0;
    let mut attempts = 0;
    while bodies.len() < target && attempts < target * 50 {
        attempts += 1;
        let r = draw_radius(&mut rng);
        let Some((x, y)) = place_free(&mut rng, &bodies, r, w, h) else {
            continue;
        };
        bodies.push(new_body(&mut rng, x, y, r));
        let remaining = target - bodies.len();
        if clumped < clumped_target && remaining > 0 {
            // Grow a clump of 2..=4 touching cells from this one.
            let size = (2 + (rng.uniform() * 3.0) as usize)
                .min(clumped_target - clumped + 1)
                .min(remaining + 1);
            if size < 2 {
                continue;
            }
            clumped += 1;
            let mut last = bodies.len() - 1;
            for _ in 1..size {
                let r2 = draw_radius(&mut rng);
                let anchor = bodies[last];
                let placed = (0..30).find_map(|_| {
                    let angle = rng.range(0.0, std::f64::consts::TAU);
                    let dist = (anchor.radius + r2) * rng.range(0.85, 1.0);
                    let (nx, ny) = (anchor.x + dist * angle.cos(), anchor.y + dist * angle.sin());
                    let inside = nx > r2 && ny > r2 && nx < w - r2 && ny < h - r2;
                    let clear = bodies.iter().enumerate().all(|(i, b)| {
                        i == last || (b.x - nx).hypot(b.y - ny) > (b.radius + r2) * 0.85
                    });
                    (inside && clear).then_some((nx, ny))
                });
                let Some((nx, ny)) = placed else { break };
                bodies.push(new_body(&mut rng, nx, ny, r2));
                clumped += 1;
                last = bodies.len() - 1;
            }
        }
    }
    let truth_cells: Vec<TruthCell> = bodies
        .iter()
        .map(|b| TruthCell {
            x: b.x,
            y: b.y,
            region: TruthRegion::Disc {
                radius: b.radius * 1.1,
            },
            label: b.kind,
        })
        .collect();
    for _ in 0..p.debris {
        let r = rng.range(1.5, 4.0);
        let (x, y) = (rng.range(0.0, w), rng.range(0.0, h));
        bodies.push(Body {
            x,
            y,
            radius: r,
            kind: CellClass::Debris,
            defocus: if rng.uniform() < 0.5 {
                rng.range(0.5, 1.5)
            } else {
                0.0
            },
            wobble: [
                (0.3 * rng.uniform(), rng.range(0.0, 6.3)),
                (0.2 * rng.uniform(), rng.range(0.0, 6.3)),
            ],
            strength: rng.range(-0.3, 0.2),
        });
    }

    let labels = label_mask(&bodies[..truth_cells.len()], p.width, p.height);
    let image = match p.mode {
        SynthMode::Brightfield => brightfield(p, &bodies, &mut rng),
        SynthMode::Aopi => fluorescence(p, &bodies, &mut rng),
    };
    let truth = Truth {
        schema: TRUTH_SCHEMA.to_string(),
        width: p.width,
        height: p.height,
        cells: truth_cells,
    };
    SynthField {
        image,
        truth,
        labels,
    }
}

/// Normalised radius of a point relative to a body's (wobbly) outline.
fn outline_rho(b: &Body, dx: f64, dy: f64) -> f64 {
    let theta = dy.atan2(dx);
    let outline = 1.0
        + b.wobble[0].0 * (3.0 * theta + b.wobble[0].1).sin()
        + b.wobble[1].0 * (5.0 * theta + b.wobble[1].1).sin();
    dx.hypot(dy) / (b.radius * outline)
}

fn label_mask(cells: &[Body], width: u32, height: u32) -> ImageBuffer<Luma<u16>, Vec<u16>> {
    let (w, h) = (width as usize, height as usize);
    let mut labels = vec![0u16; w * h];
    let mut nearest = vec![f64::INFINITY; w * h];
    for (n, b) in cells.iter().enumerate() {
        let x0 = (b.x - 1.3 * b.radius).floor().max(0.0) as usize;
        let y0 = (b.y - 1.3 * b.radius).floor().max(0.0) as usize;
        let x1 = ((b.x + 1.3 * b.radius).ceil() as usize).min(w.saturating_sub(1));
        let y1 = ((b.y + 1.3 * b.radius).ceil() as usize).min(h.saturating_sub(1));
        for y in y0..=y1 {
            for x in x0..=x1 {
                let rho = outline_rho(b, x as f64 - b.x, y as f64 - b.y);
                let i = y * w + x;
                if rho <= 1.0 && rho < nearest[i] {
                    nearest[i] = rho;
                    labels[i] = (n + 1).min(usize::from(u16::MAX)) as u16;
                }
            }
        }
    }
    ImageBuffer::from_raw(width, height, labels)
        .unwrap_or_else(|| ImageBuffer::from_pixel(width, height, Luma([0])))
}

/// Photon and read noise on a 0..=1 signal.
fn noisy(p: &SynthParams, signal: f64, rng: &mut Rng) -> f64 {
    let photons = signal * p.photons_full_scale;
    let shot = photons.sqrt() * rng.normal() / p.photons_full_scale;
    (signal + shot + p.read_noise * rng.normal()).clamp(0.0, 1.0)
}

/// Relative illumination at a pixel: 1 at the centre, 1 − vignetting at the corners.
fn illumination(p: &SynthParams, x: usize, y: usize) -> f64 {
    let (cx, cy) = (f64::from(p.width) / 2.0, f64::from(p.height) / 2.0);
    let r = ((x as f64 - cx).hypot(y as f64 - cy)) / cx.hypot(cy).max(1.0);
    1.0 - p.vignetting * r * r
}

fn brightfield(p: &SynthParams, bodies: &[Body], rng: &mut Rng) -> DynamicImage {
    let (wi, hi) = (p.width as usize, p.height as usize);
    let mut transmission = vec![1.0f64; wi * hi];
    for b in bodies {
        let texture_seed = rng.next_u64();
        let (x0, y0, pw, ph, patch) = stamp(wi, hi, b, texture_seed, |rho, texture| {
            profile(b.kind, rho, b.strength, texture) - 1.0
        });
        for py in 0..ph {
            for px in 0..pw {
                let i = (y0 + py) * wi + x0 + px;
                transmission[i] *= (1.0 + patch[py * pw + px]).max(0.0);
            }
        }
    }
    if p.grid {
        draw_grid(&mut transmission, wi, hi, rng);
    }
    let mut values = Vec::with_capacity(wi * hi);
    for y in 0..hi {
        for x in 0..wi {
            let lamp = p.background * illumination(p, x, y);
            let signal = (lamp * transmission[y * wi + x]).clamp(0.0, 1.0);
            values.push(noisy(p, signal, rng));
        }
    }
    let full = full_scale(p.depth);
    match p.depth {
        SynthDepth::Eight => DynamicImage::ImageLuma8(
            ImageBuffer::from_raw(
                p.width,
                p.height,
                values.iter().map(|v| (v * full).round() as u8).collect(),
            )
            .unwrap_or_else(|| ImageBuffer::from_pixel(p.width, p.height, Luma([0]))),
        ),
        SynthDepth::Twelve | SynthDepth::Sixteen => DynamicImage::ImageLuma16(
            ImageBuffer::from_raw(
                p.width,
                p.height,
                values.iter().map(|v| (v * full).round() as u16).collect(),
            )
            .unwrap_or_else(|| ImageBuffer::from_pixel(p.width, p.height, Luma([0]))),
        ),
    }
}

fn full_scale(depth: SynthDepth) -> f64 {
    match depth {
        SynthDepth::Eight => 255.0,
        SynthDepth::Twelve => 4095.0,
        SynthDepth::Sixteen => 65535.0,
    }
}

/// AO (green) and PI (red) stain of an object, relative to the brightest cell.
fn stains(b: &Body) -> (f64, f64) {
    match b.kind {
        CellClass::Live => (b.strength, 0.0),
        // PI quenches AO in dead cells: dim green, bright red.
        CellClass::Dead => (0.3 * b.strength, 1.2 * b.strength + 0.3),
        CellClass::Debris => (0.15 * b.strength.abs(), 0.0),
    }
}

fn fluorescence(p: &SynthParams, bodies: &[Body], rng: &mut Rng) -> DynamicImage {
    let (wi, hi) = (p.width as usize, p.height as usize);
    let mut green = vec![0.0f64; wi * hi];
    let mut red = vec![0.0f64; wi * hi];
    for b in bodies {
        let texture_seed = rng.next_u64();
        // Projected thickness of a sphere, mottled by chromatin texture.
        let (x0, y0, pw, ph, patch) = stamp(wi, hi, b, texture_seed, |rho, texture| {
            (1.0 - rho * rho).max(0.0).sqrt() * (0.85 + 0.15 * texture)
        });
        let (g, r) = stains(b);
        for py in 0..ph {
            for px in 0..pw {
                let i = (y0 + py) * wi + x0 + px;
                green[i] += g * patch[py * pw + px];
                red[i] += r * patch[py * pw + px];
            }
        }
    }
    let full = full_scale(p.depth);
    let mut samples = Vec::with_capacity(wi * hi * 3);
    for y in 0..hi {
        for x in 0..wi {
            let excitation = FLUORESCENCE_PEAK * illumination(p, x, y);
            let i = y * wi + x;
            for emission in [red[i], green[i], 0.0] {
                let signal = (FLUORESCENCE_DARK + excitation * emission).clamp(0.0, 1.0);
                samples.push((noisy(p, signal, rng) * full).round());
            }
        }
    }
    match p.depth {
        SynthDepth::Eight => DynamicImage::ImageRgb8(
            ImageBuffer::from_raw(
                p.width,
                p.height,
                samples.iter().map(|&v| v as u8).collect(),
            )
            .unwrap_or_else(|| ImageBuffer::new(p.width, p.height)),
        ),
        SynthDepth::Twelve | SynthDepth::Sixteen => DynamicImage::ImageRgb16(
            ImageBuffer::from_raw(
                p.width,
                p.height,
                samples.iter().map(|&v| v as u16).collect(),
            )
            .unwrap_or_else(|| ImageBuffer::new(p.width, p.height)),
        ),
    }
}

/// One object's patch: `value(rho, texture)` averaged over 2×2 subsamples,
/// then blurred if the object is out of focus. Returns the patch origin,
/// size and values.
fn stamp(
    w: usize,
    h: usize,
    b: &Body,
    texture_seed: u64,
    value: impl Fn(f64, f64) -> f64,
) -> (usize, usize, usize, usize, Vec<f64>) {
    let reach = b.radius * 1.35 + 3.0 * b.defocus + 2.0;
    let x0 = (b.x - reach).floor().max(0.0) as usize;
    let y0 = (b.y - reach).floor().max(0.0) as usize;
    let x1 = ((b.x + reach).ceil() as usize).min(w.saturating_sub(1));
    let y1 = ((b.y + reach).ceil() as usize).min(h.saturating_sub(1));
    if x1 < x0 || y1 < y0 {
        return (0, 0, 0, 0, Vec::new());
    }
    let (pw, ph) = (x1 - x0 + 1, y1 - y0 + 1);
    let mut patch = vec![0.0f64; pw * ph];
    let mut tex = Rng(texture_seed);
    let texture_phase = [tex.range(0.0, 6.3), tex.range(0.0, 6.3)];
    for py in 0..ph {
        for px in 0..pw {
            let mut acc = 0.0;
            for (sx, sy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                let dx = (x0 + px) as f64 + sx - 0.5 - b.x;
                let dy = (y0 + py) as f64 + sy - 0.5 - b.y;
                let rho = outline_rho(b, dx, dy);
                let texture =
                    (0.9 * dx + texture_phase[0]).sin() * (0.8 * dy + texture_phase[1]).cos();
                acc += value(rho, texture);
            }
            patch[py * pw + px] = acc / 4.0;
        }
    }
    if b.defocus > 0.0 {
        patch = blur(&patch, pw, ph, b.defocus);
    }
    (x0, y0, pw, ph, patch)
}

fn blur(src: &[f64], w: usize, h: usize, sigma: f64) -> Vec<f64> {
    let r = (3.0 * sigma).ceil() as i64;
    let k: Vec<f64> = (-r..=r)
        .map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f64 = k.iter().sum();
    let pass = |input: &[f64], horizontal: bool| -> Vec<f64> {
        let mut out = vec![0.0; input.len()];
        for y in 0..h as i64 {
            for x in 0..w as i64 {
                let mut acc = 0.0;
                for (j, kv) in k.iter().enumerate() {
                    let o = j as i64 - r;
                    let (sx, sy) = if horizontal { (x + o, y) } else { (x, y + o) };
                    if sx >= 0 && sy >= 0 && sx < w as i64 && sy < h as i64 {
                        acc += kv * input[(sy * w as i64 + sx) as usize];
                    }
                }
                out[(y * w as i64 + x) as usize] = acc / sum;
            }
        }
        out
    };
    pass(&pass(src, true), false)
}

/// Hemocytometer rulings: triple lines (dark, bright, dark) every ~250 px.
fn draw_grid(field: &mut [f64], w: usize, h: usize, rng: &mut Rng) {
    let period = rng.range(220.0, 280.0);
    let (ox, oy) = (rng.range(0.0, period), rng.range(0.0, period));
    let line = |d: f64| -> f64 {
        // Distance to the nearest ruling, folded into one period.
        let d = d.rem_euclid(period);
        let d = d.min(period - d);
        if d < 1.5 {
            0.6
        } else if d < 2.5 {
            1.25
        } else if d < 4.0 {
            0.7
        } else {
            1.0
        }
    };
    for y in 0..h {
        let across = line(y as f64 - oy);
        for x in 0..w {
            field[y * w + x] *= line(x as f64 - ox) * across;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_labels_and_depths_follow_params() {
        let p = SynthParams {
            width: 400,
            height: 300,
            cells: 40,
            dead_fraction: 0.5,
            seed: 7,
            ..Default::default()
        };
        let truth = render(&p).truth;
        assert_eq!(truth.cells.len(), 40);
        let (live, dead) = truth.counts();
        assert!(live > 8 && dead > 8, "{live} {dead}");
        let twelve = SynthParams {
            depth: SynthDepth::Twelve,
            ..p
        };
        let img = render(&twelve).image;
        let max = img
            .as_luma16()
            .unwrap()
            .pixels()
            .map(|p| p.0[0])
            .max()
            .unwrap();
        assert!(max <= 4095);
    }

    #[test]
    fn cells_are_darker_or_brighter_than_background() {
        let p = SynthParams {
            width: 200,
            height: 200,
            cells: 1,
            debris: 0,
            vignetting: 0.0,
            ..Default::default()
        };
        let SynthField { image, truth, .. } = render(&p);
        let g = image.to_luma8();
        let c = truth.cells[0];
        let v = |x: f64, y: f64| f64::from(g.get_pixel(x as u32, y as u32).0[0]);
        let bg = v(2.0, 2.0).max(v(197.0, 197.0));
        let r = match c.region {
            TruthRegion::Disc { radius } => radius / 1.1,
            TruthRegion::Box { .. } => unreachable!(),
        };
        // Dead cells are dark throughout; live cells have a dark rim.
        assert!(
            v(c.x + 0.75 * r, c.y) < bg - 15.0,
            "rim {} bg {bg}",
            v(c.x + 0.75 * r, c.y)
        );
    }

    #[test]
    fn label_mask_marks_each_cell_once() {
        let p = SynthParams {
            width: 300,
            height: 200,
            cells: 25,
            clump_fraction: 0.5,
            seed: 3,
            ..Default::default()
        };
        let field = render(&p);
        let mut area = [0u32; 26];
        for px in field.labels.pixels() {
            area[usize::from(px.0[0])] += 1;
        }
        for (i, c) in field.truth.cells.iter().enumerate() {
            let r = match c.region {
                TruthRegion::Disc { radius } => radius / 1.1,
                TruthRegion::Box { .. } => unreachable!(),
            };
            // Clumped cells overlap a little; each keeps most of its disc.
            let disc = std::f64::consts::PI * r * r;
            let a = f64::from(area[i + 1]);
            assert!(
                a > 0.6 * disc && a < 1.4 * disc,
                "cell {i}: {a} px vs disc {disc}"
            );
            assert_eq!(
                field.labels.get_pixel(c.x as u32, c.y as u32).0[0] as usize,
                i + 1
            );
        }
    }

    #[test]
    fn aopi_stains_live_green_and_dead_red() {
        let p = SynthParams {
            mode: SynthMode::Aopi,
            width: 400,
            height: 300,
            cells: 30,
            dead_fraction: 0.4,
            defocus_fraction: 0.0,
            seed: 11,
            ..Default::default()
        };
        let field = render(&p);
        let rgb = field.image.as_rgb8().unwrap();
        let (bg_r, bg_g) = (rgb.get_pixel(0, 0).0[0], rgb.get_pixel(0, 0).0[1]);
        assert!(bg_r < 25 && bg_g < 25, "dark background {bg_r} {bg_g}");
        for c in &field.truth.cells {
            let [r, g, _] = rgb.get_pixel(c.x as u32, c.y as u32).0;
            match c.label {
                CellClass::Live => assert!(g > 60 && r < 30, "live {r} {g}"),
                _ => assert!(r > 60 && r > g, "dead {r} {g}"),
            }
        }
    }
}
