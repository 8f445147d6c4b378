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
//!    column, seldom cause; and unlike a column crowded with large cells, a
//!    ruling's column differs from the columns just beside it along its
//!    whole length. That median profile is subtracted where it exceeds
//!    5 % contrast (and one pixel either side), leaving cells that sit on a
//!    ruling as ordinary deviations from it. What a ruling leaves behind
//!    (it is never perfectly straight or even) is noise of its own: z inside
//!    ruling bands is scaled by the noise sigma measured there. The rulings'
//!    spacing ([`ruling_spacing`]) can give the pixel size.
//! 5. **z** = the contrast smoothed by a small Gaussian, divided by its robust
//!    noise sigma (1.4826 × median absolute deviation): the segmentation's input,
//!    so thresholds mean the same on quiet and noisy cameras.

mod background;
mod blur;
mod clipping;
mod contrast;
pub mod dye;
mod fluorescence;
mod grid;
mod intensity;
mod lattice;
mod rulings;
mod statistics;

use background::{background_block, BlockBackground};
pub(crate) use background::{block_median_background, map_with_block_median};
pub use blur::gaussian_blur_in_place;
pub use clipping::background_sigma;
use clipping::brightfield_noise_sigma;
pub use contrast::Contrast;
use contrast::{weber, ContrastKind};
pub use fluorescence::Fluorescence;
pub use grid::ruling_spacing;
pub use intensity::to_intensity;
use rulings::subtract_ruling_profiles;
pub use rulings::{remove_rulings, RulingBands};
pub use statistics::robust_sigma;
pub(crate) use statistics::{median_in_place, median_of};

use crate::image_types::FloatImage;

/// Background intensities below this (a black vignetted corner) are clamped,
/// so Weber contrast stays finite.
const MIN_BACKGROUND: f32 = 0.02;

/// Background below this fraction of the median background is not analysed.
const MIN_ILLUMINATION_FRACTION: f32 = 0.4;

/// The contrast is smoothed at a twentieth of the typical diameter before
/// thresholding, within these bounds (px). The upper one because a live
/// cell's outline is a few pixels wide whatever the cell's diameter: at
/// 3.3 px (66 px cells) smoothing took two thirds of a 3 px outline's depth
/// (unseen synthetic field 17). LDC's cells (about 21 px) smooth at about
/// 1 px, inside the bounds. 1.5 was the only cap measured (README, accuracy).
const SMOOTH_SIGMA_PX: (f64, f64) = (0.7, 1.5);

/// The flattened image and the facts measured while flattening it.
#[derive(Debug, Clone)]
pub struct Flattened {
    /// (intensity − background) / background (fluorescence: intensity −
    /// background), recomputed from the intensity where it is read.
    pub contrast: Contrast,
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
/// assert!(flat.contrast.plane(&ramp).pixels().all(|p| p.0[0].abs() < 0.05));
/// ```
pub fn flatten(intensity: &FloatImage, typical_diameter: f64) -> Flattened {
    let blocks = BlockBackground::of(intensity, background_block(typical_diameter));
    let background = blocks.plane();
    let background_mean =
        background.as_raw().iter().sum::<f32>() / background.as_raw().len().max(1) as f32;
    let median_background = median_of(background.as_raw()).max(MIN_BACKGROUND);
    let dark = MIN_ILLUMINATION_FRACTION * median_background;
    let illumination_spread = illumination_spread(&background, dark);
    // The contrast takes the background plane's place, value by value: no
    // new plane to fault in (the kernel zeroing fresh pages inside flatten
    // was 3 % of a 2048×1536 field's CPU under perf) and one plane fewer
    // at flattening's peak.
    let mut contrast = background;
    let mut excluded = 0usize;
    for (c, &i) in contrast.as_mut().iter_mut().zip(intensity.as_raw()) {
        excluded += usize::from(*c < dark);
        *c = weber(i, *c, dark);
    }
    let excluded_fraction = excluded as f32 / contrast.as_raw().len().max(1) as f32;
    let (bands, rulings) = subtract_ruling_profiles(&mut contrast);
    let smooth_sigma = (typical_diameter / 20.0).clamp(SMOOTH_SIGMA_PX.0, SMOOTH_SIGMA_PX.1) as f32;
    let mut z = contrast;
    gaussian_blur_in_place(&mut z, smooth_sigma);
    let noise_sigma;
    if bands.columns.iter().chain(&bands.rows).any(|&b| b) {
        let in_band: Vec<bool> = bands
            .rows
            .iter()
            .flat_map(|&row| bands.columns.iter().map(move |&column| row || column))
            .collect();
        let (mut band_values, mut field_values) = (Vec::new(), Vec::new());
        for (&v, &band) in z.as_raw().iter().zip(&in_band) {
            if band {
                band_values.push(v);
            } else {
                field_values.push(v);
            }
        }
        noise_sigma = brightfield_noise_sigma(&field_values);
        let band_sigma = robust_sigma(&band_values).max(noise_sigma);
        for (v, &band) in z.as_mut().iter_mut().zip(&in_band) {
            *v /= if band { band_sigma } else { noise_sigma };
        }
    } else {
        noise_sigma = brightfield_noise_sigma(z.as_raw());
        z.as_mut().iter_mut().for_each(|v| *v /= noise_sigma);
    }
    Flattened {
        contrast: Contrast::new(blocks, ContrastKind::Weber { dark }, rulings),
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
/// the normal case). `z` is the smoothed signal in noise sigmas of the
/// background ([`background_sigma`]: nuclei can cover half of a dense
/// field, where the plain MAD measured 11 times the noise), clipped at 0:
/// only brighter than background can be an object.
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
/// assert!((flat.contrast.plane(&img).get_pixel(30, 30).0[0] - 0.47).abs() < 0.01);
/// ```
pub fn flatten_fluorescence(intensity: &FloatImage, typical_diameter: f64) -> Flattened {
    let contrast = fluorescence_contrast(intensity, typical_diameter);
    let signal = contrast.plane(intensity);
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
    let mut z = signal;
    gaussian_blur_in_place(&mut z, smooth_sigma);
    let noise_sigma = background_sigma(z.as_raw()).max(MIN_FLUORESCENCE_SIGMA);
    for v in z.as_mut() {
        *v = (*v / noise_sigma).max(0.0);
    }
    Flattened {
        contrast,
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
/// let s = cellvia::preprocess::subtract_background(img, 8.0);
/// assert!((s.get_pixel(20, 3).0[0] - 0.8).abs() < 0.01);
/// assert!(s.get_pixel(3, 3).0[0].abs() < 0.01);
/// ```
///
/// The channel is consumed and overwritten row by row: an AO/PI field's two
/// channels and their signals were four planes at once, its peak.
pub fn subtract_background(mut intensity: FloatImage, typical_diameter: f64) -> FloatImage {
    fluorescence_contrast(&intensity, typical_diameter).replace(&mut intensity);
    intensity
}

/// Intensity minus its block-median background, computed where asked for.
fn fluorescence_contrast(intensity: &FloatImage, typical_diameter: f64) -> Contrast {
    let blocks = BlockBackground::of(intensity, background_block(typical_diameter));
    Contrast::new(blocks, ContrastKind::Difference, None)
}

#[cfg(test)]
/// A xorshift64 generator: random test pixels from a proptest seed.
pub(crate) fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed | 1;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// A random 16-bit RGB test image: channel `c` of each pixel is below
/// `limits[c]`, drawn from `next`.
#[cfg(test)]
pub(crate) fn random_rgb16(
    w: u32,
    h: u32,
    next: &mut impl FnMut() -> u64,
    limits: [u64; 3],
) -> image::ImageBuffer<image::Rgb<u16>, Vec<u16>> {
    image::ImageBuffer::from_fn(w, h, |_, _| {
        let v = next();
        image::Rgb(std::array::from_fn(|c| {
            ((v >> (16 * c)) % limits[c]) as u16
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn dark_spot_on_vignetted_field_stands_out() {
        let img = FloatImage::from_fn(120, 120, |x, y| {
            let vignette = 0.6 - 0.0015 * (x as f32 + y as f32);
            let dx = x as f32 - 60.0;
            let dy = y as f32 - 60.0;
            let spot = if dx * dx + dy * dy < 36.0 { -0.2 } else { 0.0 };
            Luma([vignette + spot])
        });
        let flat = flatten(&img, 12.0);
        let contrast = flat.contrast.plane(&img);
        assert!(contrast.get_pixel(60, 60).0[0] < -0.3);
        assert!(contrast.get_pixel(5, 5).0[0].abs() < 0.05);
        assert!(contrast.get_pixel(115, 115).0[0].abs() < 0.05);
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
        assert_eq!(flat.contrast.plane(&img).get_pixel(2, 2).0[0], 0.0);
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
            proptest::prop_assert_eq!(median_of(&values).to_bits(), sorted[sorted.len() / 2].to_bits());
            let mut v = values;
            proptest::prop_assert_eq!(median_in_place(&mut v).to_bits(), sorted[sorted.len() / 2].to_bits());
        }
    }
}
