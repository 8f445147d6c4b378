//! Overlay pictures: the field in gray with each object outlined by class
//! (green live, red dead, magenta debris, blue cells left out by a gate), the
//! counting region (cyan) when one is set, and the counts written on top.

use image::{Rgb, RgbImage};

use super::font::{draw_text, CHAR_WIDTH, LINE_HEIGHT};
use crate::aggregate::Counts;
use crate::classify::CellClass;
use crate::gate::CountingRegion;
use crate::image_types::{FloatImage, LabelImage};

/// How an object is outlined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outline {
    Live,
    Dead,
    Debris,
    /// A cell a gate left out of the count.
    Gated,
}

impl From<CellClass> for Outline {
    fn from(class: CellClass) -> Self {
        match class {
            CellClass::Live => Outline::Live,
            CellClass::Dead => Outline::Dead,
            CellClass::Debris => Outline::Debris,
        }
    }
}

impl Outline {
    /// The object's outline colour, also given to exported outlines.
    ///
    /// ```
    /// use cellvia::report::overlay::Outline;
    /// assert_eq!(Outline::Live.colour().0, [0, 220, 0]);
    /// ```
    pub fn colour(self) -> Rgb<u8> {
        match self {
            Outline::Live => LIVE_COLOUR,
            Outline::Dead => DEAD_COLOUR,
            Outline::Debris => DEBRIS_COLOUR,
            Outline::Gated => GATED_COLOUR,
        }
    }
}

const LIVE_COLOUR: Rgb<u8> = Rgb([0, 220, 0]);
const DEAD_COLOUR: Rgb<u8> = Rgb([255, 40, 40]);
/// Magenta: a grey outline vanished on the grey field (issue 16), and
/// magenta is far from every other outline colour and from any stain.
const DEBRIS_COLOUR: Rgb<u8> = Rgb([230, 0, 230]);
const GATED_COLOUR: Rgb<u8> = Rgb([60, 140, 255]);
const REGION_COLOUR: Rgb<u8> = Rgb([0, 220, 220]);
const TEXT_COLOUR: Rgb<u8> = Rgb([255, 255, 0]);
/// Small fields are enlarged by a whole factor up to this width so outlines
/// and text stay legible.
const MIN_OVERLAY_WIDTH: u32 = 450;
const MAX_UPSCALE: u32 = 4;

/// Draws the overlay. `outlines[i]` is how label `i + 1` is drawn;
/// `region`, if any, is drawn as a rectangle.
///
/// ```
/// use cellvia::{aggregate::Counts, classify::CellClass, image_types::*, report::overlay::{render, Outline}};
/// let intensity = FloatImage::from_pixel(500, 40, image::Luma([0.5]));
/// let labels = LabelImage::from_fn(500, 40, |x, y| image::Luma([u32::from((10..20).contains(&x) && (15..25).contains(&y))]));
/// let img = render(&intensity, &labels, &[Outline::Live], &Counts::from_classes([CellClass::Live]), None);
/// assert_eq!(img.get_pixel(10, 20).0, [0, 220, 0]); // outline pixel
/// ```
pub fn render(
    intensity: &FloatImage,
    labels: &LabelImage,
    outlines: &[Outline],
    counts: &Counts,
    region: Option<&CountingRegion>,
) -> RgbImage {
    let (w, h) = intensity.dimensions();
    let scale = MIN_OVERLAY_WIDTH.div_ceil(w.max(1)).clamp(1, MAX_UPSCALE);
    let mut out = RgbImage::new(w * scale, h * scale);
    let label_at = |x: i64, y: i64| -> u32 {
        if x < 0 || y < 0 || x >= i64::from(w) || y >= i64::from(h) {
            0
        } else {
            labels.get_pixel(x as u32, y as u32).0[0]
        }
    };
    for y in 0..h {
        for x in 0..w {
            let v = (intensity.get_pixel(x, y).0[0].clamp(0.0, 1.0) * 255.0).round() as u8;
            let l = label_at(i64::from(x), i64::from(y));
            let (xi, yi) = (i64::from(x), i64::from(y));
            let edge = l != 0
                && [(xi - 1, yi), (xi + 1, yi), (xi, yi - 1), (xi, yi + 1)]
                    .iter()
                    .any(|&(nx, ny)| label_at(nx, ny) != l);
            let on_region = region.is_some_and(|r| {
                let (fx, fy) = (f64::from(x), f64::from(y));
                let near = |a: f64, b: f64| (a - b).abs() < 0.5;
                let within_x = fx >= r.x_min - 0.5 && fx <= r.x_max + 0.5;
                let within_y = fy >= r.y_min - 0.5 && fy <= r.y_max + 0.5;
                ((near(fx, r.x_min) || near(fx, r.x_max)) && within_y)
                    || ((near(fy, r.y_min) || near(fy, r.y_max)) && within_x)
            });
            let colour = match outlines.get(l as usize - usize::from(l > 0)) {
                Some(outline) if edge => outline.colour(),
                _ if on_region => REGION_COLOUR,
                _ => Rgb([v, v, v]),
            };
            for dy in 0..scale {
                for dx in 0..scale {
                    out.put_pixel(x * scale + dx, y * scale + dy, colour);
                }
            }
        }
    }
    let viability = counts
        .viability()
        .map_or_else(|| "N/A".to_string(), |v| format!("{:.1}%", v * 100.0));
    let mut text = format!(
        "LIVE {}  DEAD {}  DEBRIS {}  VIABILITY {viability}",
        counts.live, counts.dead, counts.debris
    );
    if counts.gated > 0 {
        text.push_str(&format!("  GATED {}", counts.gated));
    }
    debug_assert!(text
        .chars()
        .all(|c| c == ' ' || super::font::OVERLAY_CHARACTERS.contains(c)));
    let text_scale = (out.width() / 600).max(1);
    let band_height = (LINE_HEIGHT * text_scale + 2).min(out.height());
    let band_width = (text.len() as u32 * CHAR_WIDTH * text_scale + 4).min(out.width());
    for y in 0..band_height {
        for x in 0..band_width {
            out.put_pixel(x, y, Rgb([0, 0, 0]));
        }
    }
    let (ow, oh) = out.dimensions();
    draw_text(&text, 2, 2, text_scale, |x, y| {
        if x < ow && y < oh {
            out.put_pixel(x, y, TEXT_COLOUR);
        }
    });
    out
}

/// Encodes an overlay as PNG bytes.
pub fn encode_png(image: &RgbImage) -> Result<Vec<u8>, image::ImageError> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png)?;
    Ok(out.into_inner())
}

/// A copy of an overlay at most `max_side` pixels on its longer side (never
/// enlarged), for report thumbnails.
///
/// ```
/// let overlay = image::RgbImage::new(900, 450);
/// let small = cellvia::report::overlay::thumbnail(&overlay, 240);
/// assert_eq!(small.dimensions(), (240, 120));
/// ```
pub fn thumbnail(image: &RgbImage, max_side: u32) -> RgbImage {
    let (w, h) = image.dimensions();
    let longer = w.max(h);
    if longer <= max_side {
        return image.clone();
    }
    let scale =
        |v: u32| ((u64::from(v) * u64::from(max_side)).div_ceil(u64::from(longer)) as u32).max(1);
    image::imageops::resize(
        image,
        scale(w),
        scale(h),
        image::imageops::FilterType::Triangle,
    )
}
