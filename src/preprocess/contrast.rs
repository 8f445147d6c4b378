//! The flattened field's contrast, recomputed for any window from the
//! intensity and what flattening measured (block medians, ruling
//! profiles). After the blur only the model's crops read the contrast, in
//! small windows around objects, so no full-size plane of it is kept: 4
//! bytes per pixel off a field's peak memory.

use super::background::BlockBackground;
use super::rulings::RulingProfiles;
use super::MIN_BACKGROUND;
use crate::image_types::FloatImage;

/// How a pixel's contrast follows from its intensity I and background B.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum ContrastKind {
    /// Brightfield: Weber contrast (I − B) / B ([`weber`]).
    Weber {
        /// Background below this is unlit: contrast 0.
        dark: f32,
    },
    /// Fluorescence: I − B.
    Difference,
}

/// Weber contrast of one pixel: (I − B) / B, with B clamped to
/// [`MIN_BACKGROUND`]; 0 where B is below `dark` (an unlit corner).
pub(super) fn weber(intensity: f32, background: f32, dark: f32) -> f32 {
    // Both sides computed, then selected: no branch in the loops that call it.
    let b = background.max(MIN_BACKGROUND);
    let contrast = (intensity - b) / b;
    if background < dark {
        0.0
    } else {
        contrast
    }
}

/// A field's contrast, computed where asked for.
#[derive(Debug, Clone)]
pub struct Contrast {
    background: BlockBackground,
    kind: ContrastKind,
    /// Ruling profiles subtracted from the contrast, if any were found.
    rulings: Option<RulingProfiles>,
}

impl Contrast {
    pub(super) fn new(
        background: BlockBackground,
        kind: ContrastKind,
        rulings: Option<RulingProfiles>,
    ) -> Self {
        Contrast {
            background,
            kind,
            rulings,
        }
    }

    /// The contrast of columns `x0..x1` and rows `y0..y1` (clipped to the
    /// image) of the `intensity` this was measured on: the same bits as
    /// the whole plane flattening computed.
    ///
    /// ```
    /// use cellvia::preprocess::flatten;
    /// let img = image::ImageBuffer::from_fn(60, 40, |x, y| image::Luma([0.4 + 0.002 * x as f32 - if (x, y) == (30, 20) { 0.2 } else { 0.0 }]));
    /// let flat = flatten(&img, 8.0);
    /// let plane = flat.contrast.plane(&img);
    /// let window = flat.contrast.window(&img, 25, 18, 35, 90);
    /// assert_eq!(window.dimensions(), (10, 22));
    /// assert_eq!(window.get_pixel(5, 2), plane.get_pixel(30, 20));
    /// assert!(plane.get_pixel(30, 20).0[0] < -0.3);
    /// ```
    pub fn window(&self, intensity: &FloatImage, x0: u32, y0: u32, x1: u32, y1: u32) -> FloatImage {
        let (w, h) = intensity.dimensions();
        let (x1, y1) = (x1.min(w), y1.min(h));
        let (x0, y0) = (x0.min(x1), y0.min(y1));
        let mut out = FloatImage::new(x1 - x0, y1 - y0);
        let (x0, width) = (x0 as usize, (x1 - x0) as usize);
        if width == 0 {
            return out;
        }
        for (k, row) in out.as_mut().chunks_exact_mut(width).enumerate() {
            let y = y0 as usize + k;
            let source = &intensity.as_raw()[y * w as usize + x0..][..width];
            self.row_into(source, x0, y, row);
        }
        out
    }

    /// The contrast of `source`, columns `x0..` of row `y`, into `out`.
    fn row_into(&self, source: &[f32], x0: usize, y: usize, out: &mut [f32]) {
        self.background.row_into(y, x0, out);
        match self.kind {
            ContrastKind::Weber { dark } => {
                for (v, &i) in out.iter_mut().zip(source) {
                    *v = weber(i, *v, dark);
                }
            }
            ContrastKind::Difference => {
                for (v, &i) in out.iter_mut().zip(source) {
                    *v = i - *v;
                }
            }
        }
        if let Some(rulings) = &self.rulings {
            rulings.subtract_from_row(out, x0, rulings.rows[y]);
        }
    }

    /// [`Self::plane`] written over the `intensity` it is computed from, a
    /// row at a time: no second plane.
    pub(crate) fn replace(&self, intensity: &mut FloatImage) {
        let w = intensity.width() as usize;
        if w == 0 {
            return;
        }
        let mut row = vec![0.0f32; w];
        for (y, source) in intensity.as_mut().chunks_exact_mut(w).enumerate() {
            self.row_into(source, 0, y, &mut row);
            source.copy_from_slice(&row);
        }
    }

    /// The whole contrast plane of `intensity`.
    pub fn plane(&self, intensity: &FloatImage) -> FloatImage {
        let (w, h) = intensity.dimensions();
        self.window(intensity, 0, 0, w, h)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{block_median_background, flatten, flatten_fluorescence, remove_rulings};
    use super::*;
    use proptest::prelude::*;

    /// The plain whole-image computation flattening did before the contrast
    /// was recomputed on request.
    fn reference_weber(intensity: &FloatImage, typical: f64) -> FloatImage {
        let background =
            block_median_background(intensity, super::super::background_block(typical));
        let mut sorted = background.as_raw().clone();
        sorted.sort_by(f32::total_cmp);
        let median = sorted[sorted.len() / 2].max(MIN_BACKGROUND);
        let dark = super::super::MIN_ILLUMINATION_FRACTION * median;
        let mut contrast = FloatImage::from_fn(intensity.width(), intensity.height(), |x, y| {
            let (i, b) = (
                intensity.get_pixel(x, y).0[0],
                background.get_pixel(x, y).0[0],
            );
            image::Luma([if b < dark {
                0.0
            } else {
                (i - b.max(MIN_BACKGROUND)) / b.max(MIN_BACKGROUND)
            }])
        });
        remove_rulings(&mut contrast);
        contrast
    }

    /// A field with noise, dark discs, optionally a ruling and an unlit corner.
    fn field(w: u32, h: u32, seed: u64, ruling: bool, unlit: bool) -> FloatImage {
        FloatImage::from_fn(w, h, |x, y| {
            let hash = (u64::from(x) * 7919 + u64::from(y) * 104_729 + seed)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let noise = (hash >> 40) as f32 / (1u64 << 24) as f32 * 0.02;
            let disc = (x % 23).abs_diff(11).pow(2) + (y % 19).abs_diff(9).pow(2) < 16;
            let mut v = 0.5 + 0.001 * x as f32 + noise - if disc { 0.2 } else { 0.0 };
            if ruling && (w / 3..w / 3 + 2).contains(&x) {
                v -= 0.15;
            }
            if unlit && x < w / 4 && y < h / 4 {
                v = 0.005;
            }
            image::Luma([v])
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(40))]
        /// The recomputed plane equals the whole-image reference bit for bit,
        /// any window equals that part of it, and so does the whole plane
        /// written over the image.
        #[test]
        fn windows_equal_the_whole_image_reference(
            w in 8u32..120, h in 8u32..120, seed in 0u64..1000,
            ruling: bool, unlit: bool, typical in 4.0f64..30.0,
            x0 in 0u32..130, y0 in 0u32..130, dx in 0u32..60, dy in 0u32..60,
        ) {
            let img = field(w, h, seed, ruling, unlit);
            let flat = flatten(&img, typical);
            let plane = flat.contrast.plane(&img);
            let reference = reference_weber(&img, typical);
            let bits = |f: &FloatImage| f.as_raw().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&plane), bits(&reference));
            let window = flat.contrast.window(&img, x0, y0, x0 + dx, y0 + dy);
            let (x0, y0) = (x0.min(w), y0.min(h));
            prop_assert_eq!(window.dimensions(), ((x0 + dx).min(w) - x0, (y0 + dy).min(h) - y0));
            for (x, y, v) in window.enumerate_pixels() {
                prop_assert_eq!(v.0[0].to_bits(), plane.get_pixel(x0 + x, y0 + y).0[0].to_bits());
            }
            let mut replaced = img.clone();
            flat.contrast.replace(&mut replaced);
            prop_assert_eq!(bits(&replaced), bits(&plane));
        }
    }

    #[test]
    fn fluorescence_contrast_is_the_background_subtracted_signal() {
        let img = field(90, 70, 3, false, false);
        let flat = flatten_fluorescence(&img, 10.0);
        let background = block_median_background(&img, super::super::background_block(10.0));
        let signal = FloatImage::from_fn(90, 70, |x, y| {
            image::Luma([img.get_pixel(x, y).0[0] - background.get_pixel(x, y).0[0]])
        });
        assert_eq!(flat.contrast.plane(&img), signal);
        assert_eq!(super::super::subtract_background(img, 10.0), signal);
    }
}
