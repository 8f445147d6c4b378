//! Overlay pictures: the field in gray with each object outlined by class
//! (green live, red dead, magenta debris, blue cells left out by a gate), the
//! counting region (cyan) when one is set, each object's id, and the counts
//! in a caption band below the field.

use image::Rgb;

use super::canvas::{Canvas, Mark};
use super::font::{draw_text, CHAR_WIDTH, LINE_HEIGHT};
use crate::aggregate::Counts;
use crate::classify::CellClass;
use crate::gate::{CountingRegion, GateReason};
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
    /// How an object of `class` is drawn: as a gated-out cell when a gate
    /// left it out of the count.
    ///
    /// ```
    /// use cellvia::{classify::CellClass, gate::GateReason, report::overlay::Outline};
    /// assert_eq!(Outline::of(CellClass::Dead, None), Outline::Dead);
    /// assert_eq!(Outline::of(CellClass::Live, Some(GateReason::Circularity)), Outline::Gated);
    /// ```
    pub fn of(class: CellClass, gate: Option<GateReason>) -> Self {
        match gate {
            Some(_) => Outline::Gated,
            None => Outline::from(class),
        }
    }

    /// The object's outline colour, also given to exported outlines.
    ///
    /// ```
    /// use cellvia::report::overlay::Outline;
    /// assert_eq!(Outline::Live.colour().0, [0, 220, 0]);
    /// ```
    pub fn colour(self) -> Rgb<u8> {
        self.mark().colour()
    }

    fn mark(self) -> Mark {
        match self {
            Outline::Live => Mark::Live,
            Outline::Dead => Mark::Dead,
            Outline::Debris => Mark::Debris,
            Outline::Gated => Mark::Gated,
        }
    }
}

/// Pixels of a row tested at once for holding no object.
const BACKGROUND_SPAN: usize = 32;
/// Black margin around caption lines, pixels.
const CAPTION_MARGIN: u32 = 2;
/// Gap between an object's box and its id, pixels.
const ID_GAP: u32 = 2;

/// Draws the overlay at the field's own pixel grid, so a pixel's (x, y) is
/// the one `cells.csv` and the exports use: each object outlined by
/// `outlines[i]` (label `i + 1`) with its id beside its box in the same
/// colour, `region`, if any, as a rectangle, and the counts in a caption
/// band below the field (wrapped to its width).
///
/// ```
/// use cellvia::{aggregate::Counts, classify::CellClass, image_types::*, report::overlay::{render, Outline}};
/// let intensity = FloatImage::from_pixel(200, 40, image::Luma([0.5]));
/// let labels = LabelImage::from_fn(200, 40, |x, y| image::Luma([u32::from((10..20).contains(&x) && (15..25).contains(&y))]));
/// let img = render(&intensity, &labels, &[Outline::Live], &Counts::from_classes([CellClass::Live]), None).to_rgb();
/// assert_eq!(img.width(), 200); // native scale; the caption adds rows below
/// assert!(img.height() > 40);
/// assert_eq!(img.get_pixel(10, 20).0, [0, 220, 0]); // outline pixel
/// ```
pub fn render(
    intensity: &FloatImage,
    labels: &LabelImage,
    outlines: &[Outline],
    counts: &Counts,
    region: Option<&CountingRegion>,
) -> Canvas {
    let (w, h) = intensity.dimensions();
    let text_scale = (w / 600).max(1);
    let caption = caption_lines(counts, w, text_scale);
    let line_height = LINE_HEIGHT * text_scale;
    let band = caption.len() as u32 * line_height + 2 * CAPTION_MARGIN;
    let mut out = Canvas::new(w, h + band);
    let boxes = paint_field(&mut out, intensity, labels, outlines, region);
    for (i, (b, outline)) in boxes.iter().zip(outlines).enumerate() {
        if b[0] == u32::MAX {
            continue;
        }
        let id = (i + 1).to_string();
        let width = id.len() as u32 * CHAR_WIDTH;
        // Right of the box, else left of it, else inside at its left edge.
        let x = if b[2] + ID_GAP + width <= w {
            b[2] + ID_GAP
        } else {
            b[0].saturating_sub(ID_GAP + width)
        };
        let y = b[1].min(h.saturating_sub(LINE_HEIGHT));
        draw_text(&id, x, y, 1, |px, py| {
            if py < h {
                out.put(px, py, outline.mark());
            }
        });
    }
    for (row, line) in caption.iter().enumerate() {
        let y = h + CAPTION_MARGIN + row as u32 * line_height;
        draw_text(line, CAPTION_MARGIN, y, text_scale, |px, py| {
            out.put(px, py, Mark::Text);
        });
    }
    out
}

/// 2^23: adding it to a float in 0..256 leaves that float rounded to the
/// nearest integer (ties to even) in the low bits of the sum's mantissa.
const ROUNDING_BIAS: f32 = 8_388_608.0;

/// 0..=1 intensity as an 8-bit grey level, `(v × 255).round()` (NaN: 0).
/// Rounded with float adds and a bit cast, which vectorise, where a float
/// to integer cast (saturating in Rust) and `f32::round` (a library call on
/// baseline x86-64) ran one value at a time: drawing a 2048×1536 overlay
/// took about 60 % of its time here.
fn grey(v: f32) -> u8 {
    let x = if v >= 0.0 { v.min(1.0) } else { 0.0 } * 255.0;
    let biased = x + ROUNDING_BIAS;
    let nearest_even = biased - ROUNDING_BIAS;
    // A tie rounded down to even goes up instead, as `round` does.
    (biased.to_bits() as u8).wrapping_add(u8::from(x - nearest_even >= 0.5))
}

/// Paints the field part of an overlay (rows `0..h` of `out`) row by row:
/// grey intensity, the counting region's rectangle, and each outlined
/// object's edge pixels (those with a 4-neighbour of another label, or at
/// the image edge). Returns each outlined object's bounding box
/// `[x0, y0, x1, y1]` (`u32::MAX` where absent), for its id.
fn paint_field(
    out: &mut Canvas,
    intensity: &FloatImage,
    labels: &LabelImage,
    outlines: &[Outline],
    region: Option<&CountingRegion>,
) -> Vec<[u32; 4]> {
    let (w, h) = (intensity.width() as usize, intensity.height() as usize);
    // The rectangle's lines: a column (row) on a vertical (horizontal)
    // side, drawn over the other axis' extent.
    let (on_side_x, within_x) = region_lines(w, region.map(|r| (r.x_min, r.x_max)));
    let (on_side_y, within_y) = region_lines(h, region.map(|r| (r.y_min, r.y_max)));
    let mut boxes = vec![[u32::MAX, u32::MAX, 0, 0]; outlines.len()];
    let lab = labels.as_raw();
    for (y, (codes, values)) in out
        .rows_mut()
        .zip(intensity.as_raw().chunks_exact(w.max(1)))
        .enumerate()
    {
        for (code, &v) in codes.iter_mut().zip(values) {
            *code = u16::from(grey(v));
        }
        if region.is_some() {
            for (x, code) in codes.iter_mut().enumerate() {
                if (on_side_x[x] && within_y[y]) || (on_side_y[y] && within_x[x]) {
                    *code = Mark::Region.code();
                }
            }
        }
        let row = &lab[y * w..(y + 1) * w];
        let above = y.checked_sub(1).map(|a| &lab[a * w..(a + 1) * w]);
        let below = (y + 1 < h).then(|| &lab[(y + 1) * w..(y + 2) * w]);
        // Most of a field is background: spans of it are skipped with a
        // test that vectorises.
        for (span, labels_in_span) in row.chunks(BACKGROUND_SPAN).enumerate() {
            if labels_in_span.iter().fold(0, |any, &l| any | l) == 0 {
                continue;
            }
            for (i, &l) in labels_in_span.iter().enumerate() {
                let Some(outline) = l.checked_sub(1).and_then(|i| outlines.get(i as usize)) else {
                    continue;
                };
                let x = span * BACKGROUND_SPAN + i;
                let b = &mut boxes[(l - 1) as usize];
                let (xu, yu) = (x as u32, y as u32);
                *b = [b[0].min(xu), b[1].min(yu), b[2].max(xu), b[3].max(yu)];
                let differs = |other: Option<&u32>| other.is_none_or(|&o| o != l);
                let edge = differs(x.checked_sub(1).map(|a| &row[a]))
                    || differs(row.get(x + 1))
                    || differs(above.map(|a| &a[x]))
                    || differs(below.map(|b| &b[x]));
                if edge {
                    codes[x] = outline.mark().code();
                }
            }
        }
    }
    boxes
}

/// For each of `n` coordinates along one axis of a counting region spanning
/// `min..=max` on it: whether a side of the rectangle lies on it, and
/// whether it lies within the rectangle's extent (both false without one).
fn region_lines(n: usize, span: Option<(f64, f64)>) -> (Vec<bool>, Vec<bool>) {
    let near = |a: f64, b: f64| (a - b).abs() < 0.5;
    (0..n)
        .map(|i| {
            let f = i as f64;
            span.map_or((false, false), |(min, max)| {
                (
                    near(f, min) || near(f, max),
                    f >= min - 0.5 && f <= max + 0.5,
                )
            })
        })
        .unzip()
}

/// The counts, as lines that fit `width` pixels at `scale` (a part wider
/// than that gets a line of its own and is cut at the edge).
fn caption_lines(counts: &Counts, width: u32, scale: u32) -> Vec<String> {
    let viability = counts
        .viability()
        .map_or_else(|| "N/A".to_string(), |v| format!("{:.1}%", v * 100.0));
    let mut parts = vec![
        format!("LIVE {}", counts.live),
        format!("DEAD {}", counts.dead),
        format!("DEBRIS {}", counts.debris),
        format!("VIABILITY {viability}"),
    ];
    if counts.gated > 0 {
        parts.push(format!("GATED {}", counts.gated));
    }
    debug_assert!(parts
        .iter()
        .flat_map(|p| p.chars())
        .all(|c| c == ' ' || super::font::OVERLAY_CHARACTERS.contains(c)));
    let fits = (width.saturating_sub(2 * CAPTION_MARGIN) / (CHAR_WIDTH * scale)).max(1) as usize;
    let mut lines: Vec<String> = Vec::new();
    for part in parts {
        match lines.last_mut() {
            Some(line) if line.len() + 2 + part.len() <= fits => {
                line.push_str("  ");
                line.push_str(&part);
            }
            _ => lines.push(part),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slow reference: each pixel's colour on its own, with bounds-checked
    /// neighbour lookups.
    fn paint_reference(
        intensity: &FloatImage,
        labels: &LabelImage,
        outlines: &[Outline],
        region: Option<&CountingRegion>,
    ) -> image::RgbImage {
        let (w, h) = intensity.dimensions();
        let label_at = |x: i64, y: i64| -> u32 {
            if x < 0 || y < 0 || x >= i64::from(w) || y >= i64::from(h) {
                0
            } else {
                labels.get_pixel(x as u32, y as u32).0[0]
            }
        };
        image::RgbImage::from_fn(w, h, |x, y| {
            let v = (intensity.get_pixel(x, y).0[0].clamp(0.0, 1.0) * 255.0).round() as u8;
            let (xi, yi) = (i64::from(x), i64::from(y));
            let l = label_at(xi, yi);
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
            match outlines.get((l as usize).wrapping_sub(1)) {
                Some(outline) if edge => outline.colour(),
                _ if on_region => Mark::Region.colour(),
                _ => Rgb([v, v, v]),
            }
        })
    }

    /// `grey` rounds as `f32::round` does, at every tie of the 8-bit scale
    /// and the floats either side of it, at the ends and for NaN.
    #[test]
    fn grey_levels_round_half_up() {
        let reference = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        for k in 0..=255u16 {
            for x in [f32::from(k), f32::from(k) + 0.5] {
                let v = x / 255.0;
                for v in [v.next_down(), v, v.next_up()] {
                    assert_eq!(grey(v), reference(v), "{v}");
                }
            }
        }
        for v in [-1.0, -0.0, 0.0, 1.0, 2.0, f32::INFINITY, f32::NEG_INFINITY] {
            assert_eq!(grey(v), reference(v), "{v}");
        }
        assert_eq!(grey(f32::NAN), 0);
        assert_eq!(grey(-f32::NAN), 0);
    }

    proptest::proptest! {
        /// `grey` equals rounding on any float.
        #[test]
        fn grey_matches_rounding(bits: u32) {
            let v = f32::from_bits(bits);
            let expected = if v.is_nan() { 0 } else { (v.clamp(0.0, 1.0) * 255.0).round() as u8 };
            proptest::prop_assert_eq!(grey(v), expected);
        }

        /// The row-wise painting equals the per-pixel reference, with and
        /// without a counting region, for labels with and without outlines.
        #[test]
        fn field_painting_matches_the_reference(
            w in 1u32..70,
            h in 1u32..24,
            values in proptest::collection::vec(-0.2f32..1.2, 70 * 24),
            label_values in proptest::collection::vec(0u32..5, 70 * 24),
            outlined in 0usize..5,
            corners in (0.0f64..70.0, 0.0f64..70.0, 0.0f64..24.0, 0.0f64..24.0),
            with_region in proptest::bool::ANY,
        ) {
            let intensity = FloatImage::from_fn(w, h, |x, y| image::Luma([values[(y * 70 + x) as usize]]));
            let labels = LabelImage::from_fn(w, h, |x, y| image::Luma([label_values[(y * 70 + x) as usize]]));
            let outlines = [Outline::Live, Outline::Dead, Outline::Debris, Outline::Gated];
            let region = CountingRegion {
                x_min: corners.0.min(corners.1),
                x_max: corners.0.max(corners.1),
                y_min: corners.2.min(corners.3),
                y_max: corners.2.max(corners.3),
            };
            let region = with_region.then_some(&region);
            let outlines = &outlines[..outlined.min(4)];
            let mut fast = Canvas::new(w, h);
            paint_field(&mut fast, &intensity, &labels, outlines, region);
            proptest::prop_assert_eq!(fast.to_rgb(), paint_reference(&intensity, &labels, outlines, region));
        }
    }

    #[test]
    fn narrow_fields_wrap_the_caption_and_keep_their_pixels() {
        let counts = Counts::from_classes([CellClass::Live, CellClass::Dead]);
        let lines = caption_lines(&counts, 100, 1);
        assert!(lines.len() > 1, "{lines:?}");
        assert!(lines.iter().all(|l| l.len() as u32 * CHAR_WIDTH <= 96));
        assert_eq!(caption_lines(&counts, 2000, 1).len(), 1);
        let intensity = FloatImage::from_pixel(100, 50, image::Luma([0.25]));
        let labels = LabelImage::from_fn(100, 50, |x, y| {
            image::Luma([u32::from((40..60).contains(&x) && (20..30).contains(&y))])
        });
        let img = render(&intensity, &labels, &[Outline::Dead], &counts, None).to_rgb();
        assert_eq!(img.width(), 100);
        assert_eq!(img.get_pixel(40, 25).0, [255, 40, 40]); // outline where cells.csv puts it
        assert_eq!(img.get_pixel(5, 5).0, [64, 64, 64]); // field pixel untouched
                                                         // The id "1" in the object's colour, right of its box.
        let id_pixels = (62..67)
            .flat_map(|x| (20..27).map(move |y| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0 == [255, 40, 40])
            .count();
        assert!(id_pixels >= 5, "{id_pixels}");
    }
}
