//! Preprocessing: reduce any decoded image to one intensity channel in 0..=1,
//! then flatten uneven illumination.
//!
//! Brightfield cells differ from the background in both directions (a live
//! cell under trypan blue has a dark rim and a bright centre; a dead one is
//! dark), so later stages work on the deviation from a smooth background:
//!
//! 1. **Background**: the median of blocks about 2.5 typical diameters wide,
//!    interpolated bilinearly between block centres. A median ignores the
//!    cells (they cover a small part of a block) and follows vignetting.
//! 2. **Contrast** = (intensity − background) / background, Weber contrast,
//!    which does not change with exposure or lamp brightness: the model's input.
//! 3. **Exclusion**: where the background is under 40 % of its median (a
//!    black vignetted corner, outside the illuminated field) nothing can be
//!    seen; contrast and z are set to 0 there and the area is reported.
//! 4. **Rulings**: a counting chamber's grid lines run the length of the
//!    field, so a column (row) crossed by a vertical (horizontal) ruling has a
//!    median contrast far from 0, which cells, covering a small part of a
//!    column, cannot cause. That median profile is subtracted where it exceeds
//!    5 % contrast (and one pixel either side), leaving cells that sit on a
//!    ruling as ordinary deviations from it. What a ruling leaves behind
//!    (it is never perfectly straight or even) is noise of its own: z inside
//!    ruling bands is scaled by the noise sigma measured there.
//! 5. **z** = the contrast smoothed by a small Gaussian, divided by its robust
//!    noise sigma (1.4826 × median absolute deviation): the segmentation's input,
//!    so thresholds mean the same on quiet and noisy cameras.

pub mod dye;

use image::{DynamicImage, GenericImageView};

use crate::config::{BitDepth, ChannelMode};
use crate::image_types::FloatImage;

/// Rec. 601 luma weights, the usual gray conversion of microscope RGB exports.
const LUMA_WEIGHTS: [f32; 3] = [0.299, 0.587, 0.114];

/// Background blocks are this many typical diameters wide: wide enough that
/// cells cover well under half a block, narrow enough to follow vignetting.
const BACKGROUND_BLOCK_DIAMETERS: f64 = 2.5;

/// Background intensities below this (a black vignetted corner) are clamped,
/// so Weber contrast stays finite.
const MIN_BACKGROUND: f32 = 0.02;

/// Background below this fraction of the median background is not analysed.
const MIN_ILLUMINATION_FRACTION: f32 = 0.4;

/// A column or row whose median Weber contrast exceeds this is a ruling. Cell
/// contrast is ±0.2–0.6 but cells cover a small part of a column; noise moves
/// a median of hundreds of pixels by well under 0.01.
const RULING_MIN_MEDIAN_CONTRAST: f32 = 0.05;

/// Floor for the noise sigma of the smoothed contrast: half an 8-bit step on a
/// mid-gray background. Noise-free synthetic images would otherwise give
/// infinite z-scores.
const MIN_NOISE_SIGMA: f32 = 0.004;

/// Histogram resolution used for medians of values in 0..=1.
const MEDIAN_BINS: usize = 1024;

/// Converts a decoded image to one channel of intensities in 0..=1.
///
/// ```
/// use cellvia::{config::{BitDepth, ChannelMode}, preprocess::to_intensity};
/// let img = image::DynamicImage::ImageLuma16(image::ImageBuffer::from_pixel(2, 2, image::Luma([4095u16])));
/// let f = to_intensity(&img, ChannelMode::Luminance, BitDepth::Auto);
/// assert_eq!(f.get_pixel(0, 0).0[0], 1.0); // 12-bit data in a 16-bit file
/// ```
pub fn to_intensity(image: &DynamicImage, channel: ChannelMode, bit_depth: BitDepth) -> FloatImage {
    let samples = channel_samples(image, channel);
    let full_scale = samples.kind.full_scale(bit_depth, || samples.max());
    samples.into_intensity(full_scale)
}

/// The AO (green) and PI (red) channels of a fluorescence field, in 0..=1 of
/// one common full scale, so their ratio means the same in every field:
/// from one RGB composite (`red` = `None`: red = PI, green = AO, as
/// instruments export it) or from two single-channel files.
///
/// ```
/// use cellvia::{config::BitDepth, preprocess::fluorescence_channels};
/// let rgb = image::DynamicImage::ImageRgb16(image::ImageBuffer::from_pixel(2, 2, image::Rgb([4000u16, 1000, 0])));
/// let (ao, pi) = fluorescence_channels(&rgb, None, BitDepth::Auto).unwrap();
/// // One 12-bit scale for both channels, not one per channel.
/// assert!((pi.get_pixel(0, 0).0[0] - 4000.0 / 4095.0).abs() < 1e-6);
/// assert!((ao.get_pixel(0, 0).0[0] - 1000.0 / 4095.0).abs() < 1e-6);
/// ```
pub fn fluorescence_channels(
    green: &DynamicImage,
    red: Option<&DynamicImage>,
    bit_depth: BitDepth,
) -> Result<(FloatImage, FloatImage), String> {
    let (ao, pi) = match red {
        None => (
            channel_samples(green, ChannelMode::Green),
            channel_samples(green, ChannelMode::Red),
        ),
        Some(red) => {
            if red.dimensions() != green.dimensions() {
                return Err(format!(
                    "the AO image is {}x{} but the PI image is {}x{}",
                    green.width(),
                    green.height(),
                    red.width(),
                    red.height()
                ));
            }
            (
                channel_samples(green, ChannelMode::Luminance),
                channel_samples(red, ChannelMode::Luminance),
            )
        }
    };
    if ao.kind != pi.kind {
        return Err("the AO and PI images have different bit depths".into());
    }
    // Auto depth from the brighter channel: a dim channel must not be
    // stretched to a scale of its own.
    let full_scale = ao.kind.full_scale(bit_depth, || ao.max().max(pi.max()));
    Ok((ao.into_intensity(full_scale), pi.into_intensity(full_scale)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SampleKind {
    Eight,
    Sixteen,
    Float,
}

impl SampleKind {
    /// The sample value that maps to 1.0; `max` (the largest sample) is only
    /// computed for 16-bit data under `BitDepth::Auto`.
    fn full_scale(self, bit_depth: BitDepth, max: impl FnOnce() -> f32) -> f32 {
        match self {
            SampleKind::Float => 1.0,
            SampleKind::Eight => 255.0,
            SampleKind::Sixteen => match bit_depth {
                BitDepth::Container => 65535.0,
                BitDepth::Twelve => 4095.0,
                BitDepth::Auto => {
                    let max = max();
                    [1023.0, 4095.0, 16383.0]
                        .into_iter()
                        .find(|&full| max <= full)
                        .unwrap_or(65535.0)
                }
            },
        }
    }
}

/// One channel's raw samples, before scaling to 0..=1.
struct ChannelSamples {
    width: u32,
    height: u32,
    kind: SampleKind,
    raw: Vec<f32>,
}

impl ChannelSamples {
    fn max(&self) -> f32 {
        self.raw.iter().copied().fold(0.0f32, f32::max)
    }

    fn into_intensity(self, full_scale: f32) -> FloatImage {
        let scale = 1.0 / full_scale;
        let data = self
            .raw
            .into_iter()
            .map(|v| (v * scale).clamp(0.0, 1.0))
            .collect();
        FloatImage::from_raw(self.width, self.height, data)
            .unwrap_or_else(|| FloatImage::new(self.width, self.height))
    }
}

fn channel_samples(image: &DynamicImage, channel: ChannelMode) -> ChannelSamples {
    let is_16bit = matches!(
        image,
        DynamicImage::ImageLuma16(_)
            | DynamicImage::ImageLumaA16(_)
            | DynamicImage::ImageRgb16(_)
            | DynamicImage::ImageRgba16(_)
    );
    let is_float = matches!(
        image,
        DynamicImage::ImageRgb32F(_) | DynamicImage::ImageRgba32F(_)
    );
    let pick = |rgb: [f32; 3]| -> f32 {
        match channel {
            ChannelMode::Luminance => {
                LUMA_WEIGHTS[0] * rgb[0] + LUMA_WEIGHTS[1] * rgb[1] + LUMA_WEIGHTS[2] * rgb[2]
            }
            ChannelMode::Red => rgb[0],
            ChannelMode::Green => rgb[1],
            ChannelMode::Blue => rgb[2],
        }
    };
    let (kind, raw): (SampleKind, Vec<f32>) = if is_float {
        (
            SampleKind::Float,
            image.to_rgb32f().pixels().map(|p| pick(p.0)).collect(),
        )
    } else if is_16bit {
        let raw = match image {
            DynamicImage::ImageLuma16(g) => g.as_raw().iter().map(|&v| f32::from(v)).collect(),
            other => other
                .to_rgb16()
                .pixels()
                .map(|p| pick(p.0.map(f32::from)))
                .collect(),
        };
        (SampleKind::Sixteen, raw)
    } else {
        let raw = match image {
            DynamicImage::ImageLuma8(g) => g.as_raw().iter().map(|&v| f32::from(v)).collect(),
            other => other
                .to_rgb8()
                .pixels()
                .map(|p| pick(p.0.map(f32::from)))
                .collect(),
        };
        (SampleKind::Eight, raw)
    };
    ChannelSamples {
        width: image.width(),
        height: image.height(),
        kind,
        raw,
    }
}

/// The flattened image and the facts measured while flattening it.
#[derive(Debug, Clone)]
pub struct Flattened {
    /// (intensity − background) / background.
    pub contrast: FloatImage,
    /// Smoothed contrast in units of its robust noise sigma.
    pub z: FloatImage,
    /// Mean background intensity, 0..=1 (an illumination quality figure).
    pub background_mean: f32,
    /// Robust noise sigma of the smoothed contrast.
    pub noise_sigma: f32,
    /// Fraction of the image excluded as too dark to analyse.
    pub excluded_fraction: f32,
    /// Brightfield: (95th − 5th percentile) / median of the lit background,
    /// the field's illumination unevenness; `None` for fluorescence, whose
    /// dark background says nothing about the excitation's evenness.
    pub illumination_spread: Option<f32>,
}

/// Every how many background pixels one enters the illumination percentiles:
/// the background is smooth (interpolated block medians), so a sparse sample
/// gives the same percentiles at a fraction of the cost.
const ILLUMINATION_SAMPLE_STEP: usize = 7;

/// Illumination unevenness of a background map: (p95 − p5) / p50 of the
/// pixels at or above `lit` (unlit corners are reported as excluded instead).
fn illumination_spread(background: &FloatImage, lit: f32) -> Option<f32> {
    let mut sample: Vec<f32> = background
        .as_raw()
        .iter()
        .step_by(ILLUMINATION_SAMPLE_STEP)
        .copied()
        .filter(|&b| b >= lit)
        .collect();
    if sample.is_empty() {
        return None;
    }
    let mut at = |q: f64| {
        let k = ((sample.len() - 1) as f64 * q).round() as usize;
        *sample.select_nth_unstable_by(k, f32::total_cmp).1
    };
    let (p5, p50, p95) = (at(0.05), at(0.5), at(0.95));
    Some((p95 - p5) / p50.max(MIN_BACKGROUND))
}

/// Flattens illumination for cells of the given typical diameter (pixels).
///
/// ```
/// use cellvia::preprocess::flatten;
/// // A left-to-right ramp has no cells: everything flattens to ~0.
/// let ramp = image::ImageBuffer::from_fn(64, 64, |x, _| image::Luma([0.3 + x as f32 * 0.004]));
/// let flat = flatten(&ramp, 10.0);
/// assert!(flat.contrast.pixels().all(|p| p.0[0].abs() < 0.05));
/// ```
pub fn flatten(intensity: &FloatImage, typical_diameter: f64) -> Flattened {
    let background = block_median_background(intensity, background_block(typical_diameter));
    let background_mean =
        background.as_raw().iter().sum::<f32>() / background.as_raw().len().max(1) as f32;
    let median_background = median_in_place(&mut background.as_raw().clone()).max(MIN_BACKGROUND);
    let dark = MIN_ILLUMINATION_FRACTION * median_background;
    let mut excluded = 0usize;
    let contrast_data: Vec<f32> = intensity
        .as_raw()
        .iter()
        .zip(background.as_raw())
        .map(|(&i, &b)| {
            if b < dark {
                excluded += 1;
                return 0.0;
            }
            let b = b.max(MIN_BACKGROUND);
            (i - b) / b
        })
        .collect();
    let excluded_fraction = excluded as f32 / contrast_data.len().max(1) as f32;
    let illumination_spread = illumination_spread(&background, dark);
    let (w, h) = intensity.dimensions();
    let mut contrast =
        FloatImage::from_raw(w, h, contrast_data).unwrap_or_else(|| FloatImage::new(w, h));
    let bands = remove_rulings(&mut contrast);
    let smooth_sigma = (typical_diameter / 20.0).max(0.7) as f32;
    let mut z = gaussian_blur(&contrast, smooth_sigma);
    let row = w as usize;
    let in_band: Vec<bool> = (0..z.as_raw().len())
        .map(|i| bands.contains(i % row, i / row))
        .collect();
    let (mut band_values, mut field_values) = (Vec::new(), Vec::new());
    for (&v, &band) in z.as_raw().iter().zip(&in_band) {
        if band {
            band_values.push(v);
        } else {
            field_values.push(v);
        }
    }
    let noise_sigma = robust_sigma(&field_values).max(MIN_NOISE_SIGMA);
    let band_sigma = robust_sigma(&band_values).max(noise_sigma);
    for (v, &band) in z.as_mut().iter_mut().zip(&in_band) {
        *v /= if band { band_sigma } else { noise_sigma };
    }
    Flattened {
        contrast,
        z,
        background_mean,
        noise_sigma,
        excluded_fraction,
        illumination_spread,
    }
}

/// Floor for the noise sigma of a fluorescence signal: half an 8-bit step.
/// Noise-free synthetic images would otherwise give infinite z-scores.
const MIN_FLUORESCENCE_SIGMA: f32 = 0.5 / 255.0;

/// Flattens a fluorescence image (bright objects on a dark background).
///
/// Fluorescence is additive light on a camera offset, so the background is
/// subtracted, not divided out: `contrast` is intensity − background (0..=1
/// of full scale), with the same block-median background as [`flatten`].
/// There are no rulings and no unlit areas to exclude (a dark background is
/// the normal case). `z` is the smoothed signal in robust noise sigmas,
/// clipped at 0: only brighter than background can be an object.
///
/// ```
/// use cellvia::preprocess::flatten_fluorescence;
/// // A bright disc on a dark, slightly noisy background.
/// let img = image::ImageBuffer::from_fn(60, 60, |x, y| {
///     let d = ((x as f32 - 30.0).powi(2) + (y as f32 - 30.0).powi(2)).sqrt();
///     image::Luma([if d < 6.0 { 0.5 } else { 0.03 + 0.002 * ((x * 7 + y * 3) % 3) as f32 }])
/// });
/// let flat = flatten_fluorescence(&img, 12.0);
/// assert!(flat.z.get_pixel(30, 30).0[0] > 50.0);
/// assert_eq!(flat.z.get_pixel(5, 5).0[0].max(0.0), flat.z.get_pixel(5, 5).0[0]);
/// assert!((flat.contrast.get_pixel(30, 30).0[0] - 0.47).abs() < 0.01);
/// ```
pub fn flatten_fluorescence(intensity: &FloatImage, typical_diameter: f64) -> Flattened {
    let signal = subtract_background(intensity, typical_diameter);
    let background_mean = {
        let n = intensity.as_raw().len().max(1) as f64;
        let diff: f64 = intensity
            .as_raw()
            .iter()
            .zip(signal.as_raw())
            .map(|(&i, &s)| f64::from(i - s))
            .sum();
        (diff / n) as f32
    };
    let smooth_sigma = (typical_diameter / 20.0).max(0.7) as f32;
    let mut z = gaussian_blur(&signal, smooth_sigma);
    let noise_sigma = robust_sigma(z.as_raw()).max(MIN_FLUORESCENCE_SIGMA);
    for v in z.as_mut() {
        *v = (*v / noise_sigma).max(0.0);
    }
    Flattened {
        contrast: signal,
        z,
        background_mean,
        noise_sigma,
        excluded_fraction: 0.0,
        illumination_spread: None,
    }
}

/// Intensity minus its block-median background (see [`flatten`]), for a
/// fluorescence channel.
///
/// ```
/// let img = image::ImageBuffer::from_fn(40, 40, |x, _| image::Luma([if x == 20 { 0.9 } else { 0.1 }]));
/// let s = cellvia::preprocess::subtract_background(&img, 8.0);
/// assert!((s.get_pixel(20, 3).0[0] - 0.8).abs() < 0.01);
/// assert!(s.get_pixel(3, 3).0[0].abs() < 0.01);
/// ```
pub fn subtract_background(intensity: &FloatImage, typical_diameter: f64) -> FloatImage {
    let mut signal = block_median_background(intensity, background_block(typical_diameter));
    for (b, &i) in signal.as_mut().iter_mut().zip(intensity.as_raw()) {
        *b = i - *b;
    }
    signal
}

/// Columns and rows found to be chamber rulings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulingBands {
    pub columns: Vec<bool>,
    pub rows: Vec<bool>,
}

impl RulingBands {
    /// Whether pixel (x, y) lies in a ruling band.
    pub fn contains(&self, x: usize, y: usize) -> bool {
        self.columns.get(x).copied().unwrap_or(false) || self.rows.get(y).copied().unwrap_or(false)
    }
}

/// Subtracts the median-contrast profile of columns and rows that are
/// rulings (see the module documentation); returns where they are.
///
/// ```
/// use cellvia::image_types::FloatImage;
/// // A dark vertical ruling at x = 10..13 with a bright cell on it.
/// let mut c = FloatImage::from_fn(40, 60, |x, y| {
///     let ruling = if (10..13).contains(&x) { -0.4 } else { 0.0 };
///     let cell = if (20..26).contains(&y) && (9..15).contains(&x) { 0.3 } else { 0.0 };
///     image::Luma([ruling + cell])
/// });
/// let bands = cellvia::preprocess::remove_rulings(&mut c);
/// assert!(bands.contains(11, 0) && !bands.contains(30, 0));
/// assert!(c.get_pixel(11, 40).0[0].abs() < 1e-6); // ruling gone
/// assert!((c.get_pixel(11, 22).0[0] - 0.3).abs() < 1e-6); // cell kept
/// ```
pub fn remove_rulings(contrast: &mut FloatImage) -> RulingBands {
    let (w, h) = (contrast.width() as usize, contrast.height() as usize);
    if w < 3 || h < 3 {
        return RulingBands::default();
    }
    let data = contrast.as_raw();
    let columns: Vec<f32> = transpose(data, w, h)
        .chunks_exact_mut(h)
        .map(median_in_place)
        .collect();
    let rows: Vec<f32> = (0..h)
        .map(|y| median_in_place(&mut data[y * w..(y + 1) * w].to_vec()))
        .collect();
    // Ruling positions widened by one pixel, whose soft edges fall under the threshold.
    let ruling_profile = |profile: &[f32]| -> Vec<f32> {
        let on: Vec<bool> = profile
            .iter()
            .map(|p| p.abs() > RULING_MIN_MEDIAN_CONTRAST)
            .collect();
        (0..profile.len())
            .map(|i| {
                let near = on[i.saturating_sub(1)..=(i + 1).min(profile.len() - 1)]
                    .iter()
                    .any(|&b| b);
                if near {
                    profile[i]
                } else {
                    0.0
                }
            })
            .collect()
    };
    let columns = ruling_profile(&columns);
    let rows = ruling_profile(&rows);
    let bands = RulingBands {
        columns: columns.iter().map(|&p| p != 0.0).collect(),
        rows: rows.iter().map(|&p| p != 0.0).collect(),
    };
    if bands.columns.iter().chain(&bands.rows).any(|&b| b) {
        for (i, v) in contrast.as_mut().iter_mut().enumerate() {
            *v -= columns[i % w] + rows[i / w];
        }
    }
    bands
}

/// `data` (`w`×`h`, row-major) column-major, copied in tiles that stay in cache.
fn transpose(data: &[f32], w: usize, h: usize) -> Vec<f32> {
    const TILE: usize = 32;
    let mut out = vec![0.0f32; data.len()];
    for y0 in (0..h).step_by(TILE) {
        for x0 in (0..w).step_by(TILE) {
            for y in y0..(y0 + TILE).min(h) {
                for x in x0..(x0 + TILE).min(w) {
                    out[x * h + y] = data[y * w + x];
                }
            }
        }
    }
    out
}

/// Side of a background block for cells of the typical diameter (pixels).
fn background_block(typical_diameter: f64) -> u32 {
    (BACKGROUND_BLOCK_DIAMETERS * typical_diameter)
        .round()
        .max(8.0) as u32
}

/// Median of each `block`×`block` tile, interpolated bilinearly between tile centres.
pub(crate) fn block_median_background(image: &FloatImage, block: u32) -> FloatImage {
    let (w, h) = image.dimensions();
    let nx = w.div_ceil(block).max(1);
    let ny = h.div_ceil(block).max(1);
    let mut medians = vec![0.0f32; (nx * ny) as usize];
    let mut hist = vec![0u32; MEDIAN_BINS];
    for by in 0..ny {
        for bx in 0..nx {
            hist.iter_mut().for_each(|c| *c = 0);
            let (x0, y0) = (bx * block, by * block);
            let (x1, y1) = ((x0 + block).min(w), (y0 + block).min(h));
            for row in image
                .as_raw()
                .chunks_exact(w as usize)
                .take(y1 as usize)
                .skip(y0 as usize)
            {
                for &v in &row[x0 as usize..x1 as usize] {
                    hist[bin(v)] += 1;
                }
            }
            let n = (x1 - x0) * (y1 - y0);
            medians[(by * nx + bx) as usize] = histogram_median(&hist, n);
        }
    }
    // Tile centres in pixel coordinates. Beyond the outermost centres the
    // gradient is extrapolated for up to half a tile, so vignetting is
    // followed right to the image edge.
    let centre = |i: u32, n_px: u32| -> f32 {
        let start = i * block;
        let end = (start + block).min(n_px);
        0.5 * (start + end) as f32 - 0.5
    };
    let cx: Vec<f32> = (0..nx).map(|i| centre(i, w)).collect();
    let cy: Vec<f32> = (0..ny).map(|i| centre(i, h)).collect();
    let xs = interpolation_table(w, &cx);
    let ys = interpolation_table(h, &cy);
    // Rows of tile medians blended across x, recomputed only when the pair
    // of tile rows changes.
    let across = |tile_row: usize| -> Vec<f32> {
        let m = |xx: usize| medians[tile_row * nx as usize + xx];
        xs.iter()
            .map(|&(x0, x1, tx)| m(x0) * (1.0 - tx) + m(x1) * tx)
            .collect()
    };
    let mut out = FloatImage::new(w, h);
    let mut cached: Option<(usize, usize, Vec<f32>, Vec<f32>)> = None;
    for (y, row) in out.as_mut().chunks_exact_mut(w as usize).enumerate() {
        let (y0, y1, ty) = ys[y];
        if !matches!(&cached, Some((a, b, _, _)) if (*a, *b) == (y0, y1)) {
            cached = Some((y0, y1, across(y0), across(y1)));
        }
        if let Some((_, _, top, bottom)) = &cached {
            for ((o, &t), &b) in row.iter_mut().zip(top).zip(bottom) {
                *o = t * (1.0 - ty) + b * ty;
            }
        }
    }
    out
}

/// For each pixel coordinate `0..n_px`, the two tile centres it is blended
/// between and its weight on the second (extrapolated up to half a tile
/// beyond the outermost centres). One forward walk: O(n_px + centres), so
/// a 1 x N strip costs O(N) (a search per pixel made it quadratic).
fn interpolation_table(n_px: u32, centres: &[f32]) -> Vec<(usize, usize, f32)> {
    let last = centres.len().saturating_sub(1);
    if last == 0 {
        return vec![(0, 0, 0.0); n_px as usize];
    }
    let mut i = 0;
    (0..n_px)
        .map(|v| {
            let v = v as f32;
            while i + 1 < last && centres[i + 1] <= v {
                i += 1;
            }
            let t = (v - centres[i]) / (centres[i + 1] - centres[i]);
            (i, i + 1, t.clamp(-0.5, 1.5))
        })
        .collect()
}

fn bin(v: f32) -> usize {
    ((v.clamp(0.0, 1.0) * (MEDIAN_BINS - 1) as f32).round() as usize).min(MEDIAN_BINS - 1)
}

fn histogram_median(hist: &[u32], n: u32) -> f32 {
    let half = n.div_ceil(2);
    let mut seen = 0;
    for (i, &c) in hist.iter().enumerate() {
        seen += c;
        if seen >= half {
            return i as f32 / (MEDIAN_BINS - 1) as f32;
        }
    }
    0.0
}

/// 1.4826 × the median absolute deviation from the median: the standard
/// deviation of Gaussian noise, unmoved by the few pixels that are cells.
///
/// ```
/// // Median 3; absolute deviations 2, 1, 0, 1, 97 have median 1.
/// let v = [1.0f32, 2.0, 3.0, 4.0, 100.0];
/// assert!((cellvia::preprocess::robust_sigma(&v) - 1.4826).abs() < 1e-4);
/// ```
pub fn robust_sigma(values: &[f32]) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    let median = median_in_place(&mut v);
    v.iter_mut().for_each(|x| *x = (*x - median).abs());
    1.4826 * median_in_place(&mut v)
}

/// Slices at least this long take the median by histograms of the values'
/// leading key bits (12 bits, then the next 12 within the median's bin),
/// and select only among the few values left.
const RADIX_SELECT_MIN_LEN: usize = 4096;

/// The upper median (element `len / 2` in `f32::total_cmp` order), possibly
/// reordering `values`; 0 for an empty slice.
pub(crate) fn median_in_place(values: &mut [f32]) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let mid = values.len() / 2;
    if values.len() < RADIX_SELECT_MIN_LEN {
        return *values.select_nth_unstable_by(mid, f32::total_cmp).1;
    }
    // An unsigned key in total_cmp order (the same bit trick total_cmp uses).
    let key = |v: f32| {
        let bits = v.to_bits() as i32;
        (bits ^ ((((bits >> 31) as u32) >> 1) as i32)) as u32 ^ 0x8000_0000
    };
    let mut rank = mid;
    let mut prefix = 0u32; // key bits above `shift` shared by the candidates
    let mut hist = vec![0usize; 1 << 12];
    for shift in [20u32, 8] {
        hist.fill(0);
        let above = shift + 12;
        for &v in values.iter() {
            let k = key(v);
            if above >= 32 || k >> above == prefix {
                hist[((k >> shift) & 0xFFF) as usize] += 1;
            }
        }
        let mut bin = 0;
        while rank >= hist[bin] {
            rank -= hist[bin];
            bin += 1;
        }
        prefix = (prefix << 12) | bin as u32;
    }
    let mut left: Vec<f32> = values
        .iter()
        .copied()
        .filter(|&v| key(v) >> 8 == prefix)
        .collect();
    *left.select_nth_unstable_by(rank, f32::total_cmp).1
}

/// Separable Gaussian blur with edge clamping.
///
/// ```
/// let img = image::ImageBuffer::from_pixel(9, 9, image::Luma([2.0f32]));
/// let b = cellvia::preprocess::gaussian_blur(&img, 1.5);
/// assert!((b.get_pixel(0, 4).0[0] - 2.0).abs() < 1e-5);
/// ```
pub fn gaussian_blur(image: &FloatImage, sigma: f32) -> FloatImage {
    let radius = (3.0 * sigma).ceil() as i64;
    let kernel: Vec<f32> = (-radius..=radius)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f32 = kernel.iter().sum();
    let kernel: Vec<f32> = kernel.iter().map(|k| k / total).collect();
    let (w, h) = (image.width() as i64, image.height() as i64);
    let src = image.as_raw();
    let mut tmp = vec![0.0f32; src.len()];
    for y in 0..h {
        let row = &src[(y * w) as usize..((y + 1) * w) as usize];
        let out_row = &mut tmp[(y * w) as usize..((y + 1) * w) as usize];
        for x in 0..w {
            let mut acc = 0.0;
            if x >= radius && x + radius < w {
                // Interior: no clamping; same terms in the same order.
                let window = &row[(x - radius) as usize..=(x + radius) as usize];
                for (&weight, &v) in kernel.iter().zip(window) {
                    acc += weight * v;
                }
            } else {
                for (k, &weight) in kernel.iter().enumerate() {
                    let xx = (x + k as i64 - radius).clamp(0, w - 1);
                    acc += weight * row[xx as usize];
                }
            }
            out_row[x as usize] = acc;
        }
    }
    let mut out = vec![0.0f32; src.len()];
    for y in 0..h {
        for (k, &weight) in kernel.iter().enumerate() {
            let yy = (y + k as i64 - radius).clamp(0, h - 1);
            let src_row = &tmp[(yy * w) as usize..((yy + 1) * w) as usize];
            let dst_row = &mut out[(y * w) as usize..((y + 1) * w) as usize];
            for (d, s) in dst_row.iter_mut().zip(src_row) {
                *d += weight * s;
            }
        }
    }
    FloatImage::from_raw(image.width(), image.height(), out)
        .unwrap_or_else(|| FloatImage::new(image.width(), image.height()))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The one-pass interpolation table equals a search per pixel.
        #[test]
        fn interpolation_table_matches_a_search_per_pixel(n_px in 1u32..300, block in 1u32..80) {
            let n = n_px.div_ceil(block);
            let centres: Vec<f32> = (0..n)
                .map(|i| 0.5 * ((i * block) + ((i + 1) * block).min(n_px)) as f32 - 0.5)
                .collect();
            let table = interpolation_table(n_px, &centres);
            for (v, &(i0, i1, t)) in table.iter().enumerate() {
                let last = centres.len() - 1;
                if last == 0 {
                    proptest::prop_assert_eq!((i0, i1, t), (0, 0, 0.0));
                    continue;
                }
                let i = centres.iter().rposition(|&c| c <= v as f32).unwrap_or(0).min(last - 1);
                let expected = ((v as f32 - centres[i]) / (centres[i + 1] - centres[i])).clamp(-0.5, 1.5);
                proptest::prop_assert_eq!((i0, i1, t), (i, i + 1, expected));
            }
        }
    }

    #[test]
    fn illumination_spread_measures_the_lit_backgrounds_unevenness() {
        let even = FloatImage::from_pixel(64, 64, image::Luma([0.5]));
        assert_eq!(flatten(&even, 10.0).illumination_spread, Some(0.0));
        // Background rising 0.3 -> 0.6 across the field: (p95 - p5) / p50
        // of a uniform ramp is 0.9 x 0.3 / 0.45 = 0.6.
        let ramp =
            FloatImage::from_fn(200, 200, |x, _| image::Luma([0.3 + 0.3 * x as f32 / 199.0]));
        let spread = flatten(&ramp, 10.0).illumination_spread.unwrap();
        assert!((spread - 0.6).abs() < 0.03, "{spread}");
    }
    use image::Luma;

    #[test]
    fn fluorescence_pairs_must_match_in_size_and_depth() {
        let gray8 =
            |w, h| DynamicImage::ImageLuma8(image::ImageBuffer::from_pixel(w, h, Luma([9u8])));
        let gray16 =
            DynamicImage::ImageLuma16(image::ImageBuffer::from_pixel(4, 4, Luma([900u16])));
        let err =
            fluorescence_channels(&gray8(4, 4), Some(&gray8(4, 5)), BitDepth::Auto).unwrap_err();
        assert!(err.contains("4x4") && err.contains("4x5"), "{err}");
        let err = fluorescence_channels(&gray8(4, 4), Some(&gray16), BitDepth::Auto).unwrap_err();
        assert!(err.contains("bit depths"), "{err}");
        let (ao, pi) =
            fluorescence_channels(&gray8(4, 4), Some(&gray8(4, 4)), BitDepth::Auto).unwrap();
        assert_eq!(ao.get_pixel(0, 0).0[0], 9.0 / 255.0);
        assert_eq!(ao, pi);
    }

    #[test]
    fn eight_bit_rgb_luminance_and_channels() {
        let img = DynamicImage::ImageRgb8(image::ImageBuffer::from_pixel(
            1,
            1,
            image::Rgb([255, 0, 0]),
        ));
        let lum = to_intensity(&img, ChannelMode::Luminance, BitDepth::Auto);
        assert!((lum.get_pixel(0, 0).0[0] - 0.299).abs() < 1e-6);
        let red = to_intensity(&img, ChannelMode::Red, BitDepth::Auto);
        assert_eq!(red.get_pixel(0, 0).0[0], 1.0);
    }

    #[test]
    fn twelve_bit_in_sixteen_matches_eight_bit() {
        let g8 = DynamicImage::ImageLuma8(image::ImageBuffer::from_fn(4, 1, |x, _| {
            image::Luma([x as u8 * 60])
        }));
        let g16 = DynamicImage::ImageLuma16(image::ImageBuffer::from_fn(4, 1, |x, _| {
            image::Luma([(f32::from(x as u8 * 60) / 255.0 * 4095.0).round() as u16])
        }));
        let a = to_intensity(&g8, ChannelMode::Luminance, BitDepth::Auto);
        let b = to_intensity(&g16, ChannelMode::Luminance, BitDepth::Auto);
        for (p, q) in a.pixels().zip(b.pixels()) {
            assert!((p.0[0] - q.0[0]).abs() < 1e-3);
        }
        let full = to_intensity(&g16, ChannelMode::Luminance, BitDepth::Container);
        assert!(full.get_pixel(3, 0).0[0] < 0.1);
    }

    #[test]
    fn dark_spot_on_vignetted_field_stands_out() {
        let img = FloatImage::from_fn(120, 120, |x, y| {
            let vignette = 0.6 - 0.0015 * (x as f32 + y as f32);
            let dx = x as f32 - 60.0;
            let dy = y as f32 - 60.0;
            let spot = if dx * dx + dy * dy < 36.0 { -0.2 } else { 0.0 };
            Luma([vignette + spot])
        });
        let flat = flatten(&img, 12.0);
        assert!(flat.contrast.get_pixel(60, 60).0[0] < -0.3);
        assert!(flat.contrast.get_pixel(5, 5).0[0].abs() < 0.05);
        assert!(flat.contrast.get_pixel(115, 115).0[0].abs() < 0.05);
        assert!(flat.z.get_pixel(60, 60).0[0] < -10.0);
        assert_eq!(flat.excluded_fraction, 0.0);
    }

    #[test]
    fn unlit_corner_is_excluded() {
        let img = FloatImage::from_fn(100, 100, |x, y| {
            Luma([if x < 30 && y < 30 { 0.01 } else { 0.5 }])
        });
        let flat = flatten(&img, 8.0);
        assert!(flat.excluded_fraction > 0.04, "{}", flat.excluded_fraction);
        assert_eq!(flat.contrast.get_pixel(2, 2).0[0], 0.0);
    }

    proptest::proptest! {
        /// The histogram-first median equals the element a full sort puts in the middle.
        #[test]
        fn median_matches_sorting(
            values in proptest::collection::vec(
                proptest::prop_oneof![-2.0f32..2.0, 0.3f32..0.31, proptest::num::f32::NORMAL],
                1..9000,
            ),
        ) {
            let mut sorted = values.clone();
            sorted.sort_by(f32::total_cmp);
            let mut v = values;
            proptest::prop_assert_eq!(median_in_place(&mut v).to_bits(), sorted[sorted.len() / 2].to_bits());
        }
    }
}
