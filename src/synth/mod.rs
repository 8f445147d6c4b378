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
//! 8 or 12/16 bits, optionally as JPEG. A label mask (cell `i` of the truth =
//! label `i + 1`) marks each cell's in-focus outline.
//!
//! **Domain randomisation** (`randomize`): every field draws its own optics
//! and cells from its seed ([`randomize`]): cell diameter 8–150 px, live and
//! dead looks ([`looks`]), dead cells smaller than, as large as or larger
//! than live ones, focus, lamp level and evenness, noise, bit depth, gray or
//! colour with a colour cast, JPEG artefacts, debris and rulings, so that a
//! model trained on such fields can only rely on what all of them share: the
//! stain.

mod bodies;
mod brightfield;
mod fluorescence;
mod imaging;
pub mod looks;
mod params;
mod randomize;
mod rng;

use image::{DynamicImage, ImageBuffer, Luma};

use bodies::{label_mask, outline_rho, place_free, Body};
use looks::Look;
pub use params::{InvalidSynthParams, SynthDepth, SynthMode, SynthParams, MAX_CELLS};
use rng::Rng;

use crate::truth::{Truth, TruthCell, TruthRegion, TRUTH_SCHEMA};

/// A rendered field: the image, its truth and a label mask.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthField {
    /// Gray or RGB (brightfield), RGB (AO/PI), 8-bit or 16-bit samples.
    pub image: DynamicImage,
    pub truth: Truth,
    /// Truth cell `i` is label `i + 1`: pixels inside its in-focus outline
    /// (where cells overlap, the one whose outline is relatively nearer).
    pub labels: ImageBuffer<Luma<u16>, Vec<u16>>,
    /// The parameters the field was rendered with (drawn from the seed when
    /// `randomize` was asked for).
    pub params: SynthParams,
}

impl SynthField {
    /// The field as a file: its extension and bytes (PNG, TIFF, or JPEG at
    /// the params' quality).
    pub fn encode(&self) -> Result<(&'static str, Vec<u8>), image::ImageError> {
        let (ext, format) = self.params.file_format();
        let mut bytes = std::io::Cursor::new(Vec::new());
        match (format, self.params.jpeg_quality) {
            (image::ImageFormat::Jpeg, Some(q)) => {
                let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, q);
                self.image.write_with_encoder(encoder)?;
            }
            _ => self.image.write_to(&mut bytes, format)?,
        }
        Ok((ext, bytes.into_inner()))
    }
}

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
/// let aopi = render(&SynthParams { mode: SynthMode::Aopi, ..p.clone() });
/// assert!(aopi.image.as_rgb8().is_some());
/// let random = render(&SynthParams { randomize: true, ..p });
/// assert_eq!(random.params.width, 200); // size kept, the rest drawn
/// ```
pub fn render(p: &SynthParams) -> SynthField {
    let mut rng = Rng(p.seed);
    let p = &if p.randomize {
        randomize::draw(p, &mut rng)
    } else {
        p.clone()
    };
    let (w, h) = (f64::from(p.width), f64::from(p.height));
    let mut bodies: Vec<Body> = Vec::new();
    let pick =
        |rng: &mut Rng, n: usize| ((rng.uniform() * n as f64) as usize).min(n.saturating_sub(1));
    // The look (and so the size) is drawn first: dead cells may be smaller
    // or larger than live ones.
    let draw_look = |rng: &mut Rng| -> Look {
        if rng.uniform() < p.dead_fraction {
            Look::Dead(p.dead_looks[pick(rng, p.dead_looks.len())])
        } else {
            Look::Live(p.live_looks[pick(rng, p.live_looks.len())])
        }
    };
    let draw_radius = |rng: &mut Rng, look: Look| {
        let scale = if matches!(look, Look::Dead(_)) {
            p.dead_size_ratio
        } else {
            1.0
        };
        (0.5 * scale * (p.diameter_mean + p.diameter_sd * rng.normal())).max(2.5)
    };
    let new_body = |rng: &mut Rng, x, y, radius, look: Look| {
        let irregular = if matches!(look, Look::Dead(_)) {
            0.08
        } else {
            0.03
        };
        Body {
            x,
            y,
            radius,
            look,
            // Defocus blur grows with the cell: the same depth of field
            // blurs a large cell by more pixels.
            defocus: if rng.uniform() < p.defocus_fraction {
                rng.range(1.0, 2.5) * (radius / 10.0).max(1.0)
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
            strength: match look {
                Look::Live(_) => rng.range(0.6, 1.0),
                Look::Dead(d) => {
                    let (lo, hi) = d.strength_range();
                    rng.range(lo, hi)
                }
                Look::Debris => rng.range(-0.3, 0.2),
            },
        }
    };
    let target = p.cells.min(MAX_CELLS) as usize;
    let clumped_target = (p.clump_fraction * p.cells as f64).round() as usize;
    let mut clumped = 0;
    let mut attempts = 0;
    while bodies.len() < target && attempts < target * 50 {
        attempts += 1;
        let look = draw_look(&mut rng);
        let r = draw_radius(&mut rng, look);
        let Some((x, y)) = place_free(&mut rng, &bodies, r, w, h) else {
            continue;
        };
        bodies.push(new_body(&mut rng, x, y, r, look));
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
                let look2 = draw_look(&mut rng);
                let r2 = draw_radius(&mut rng, look2);
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
                bodies.push(new_body(&mut rng, nx, ny, r2, look2));
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
            label: b.class(),
        })
        .collect();
    let (debris_lo, debris_hi) = p.debris_radius();
    for _ in 0..p.debris {
        let r = rng.range(debris_lo, debris_hi);
        let (x, y) = (rng.range(0.0, w), rng.range(0.0, h));
        bodies.push(Body {
            x,
            y,
            radius: r,
            look: Look::Debris,
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
        SynthMode::Brightfield => brightfield::brightfield(p, &bodies, &mut rng),
        SynthMode::Aopi => fluorescence::fluorescence(p, &bodies, &mut rng),
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
        params: p.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::CellClass;

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
            TruthRegion::Box { .. } | TruthRegion::Point => unreachable!(),
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
                TruthRegion::Box { .. } | TruthRegion::Point => unreachable!(),
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
