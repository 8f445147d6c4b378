//! Seeds for declumping: one per cell, at maxima of the distance transform.

use crate::image_types::FloatImage;

/// A seed point and its distance-transform value (the local cell radius).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seed {
    pub x: u32,
    pub y: u32,
    pub radius: f32,
}

/// A seed suppresses weaker maxima within this fraction of its own radius.
/// Touching cells have maxima at least ~1.7 radii apart (overlap down to 85 %
/// of the radii sum), so they are kept apart; the ripples of one disc's ridge
/// lie within about half a radius. 0.9 merged clumps whose filled centres
/// deepen the distance map; 0.6 split irregular cells (synthetic fields).
const SUPPRESSION_RADIUS_FRACTION: f32 = 0.75;

/// Finds seeds: 3×3 local maxima of `distance` of at least `min_radius`,
/// taken strongest first, each suppressing weaker ones closer than
/// `max(min_separation, 0.75 × its radius)`. Ties go in raster order, so
/// the result is deterministic.
///
/// ```
/// use cellvia::segment::{distance::distance_to_background, seeds::find_seeds};
/// // Two discs of radius 6 whose edges touch.
/// let m = image::GrayImage::from_fn(40, 20, |x, y| {
///     let d = |cx: f32| ((x as f32 - cx).powi(2) + (y as f32 - 10.0).powi(2)).sqrt();
///     image::Luma([if d(13.0) <= 6.0 || d(25.0) <= 6.0 { 255 } else { 0 }])
/// });
/// let seeds = find_seeds(&distance_to_background(&m), 2.0, 4.0);
/// assert_eq!(seeds.len(), 2);
/// ```
pub fn find_seeds(distance: &FloatImage, min_radius: f32, min_separation: f32) -> Vec<Seed> {
    strongest_apart(local_maxima(distance, min_radius), min_separation)
}

/// The 3×3 local maxima of `distance` of at least `min_radius`, in raster
/// order (pixels beyond the image edge do not count).
pub(crate) fn local_maxima(distance: &FloatImage, min_radius: f32) -> Vec<Seed> {
    let (w, h) = (distance.width() as i64, distance.height() as i64);
    let d = distance.as_raw();
    let mut candidates = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let v = d[(y * w + x) as usize];
            if v < min_radius {
                continue;
            }
            let is_max = (-1..=1).all(|dy| {
                (-1..=1).all(|dx| {
                    let (nx, ny) = (x + dx, y + dy);
                    nx < 0 || ny < 0 || nx >= w || ny >= h || d[(ny * w + nx) as usize] <= v
                })
            });
            if is_max {
                candidates.push(Seed {
                    x: x as u32,
                    y: y as u32,
                    radius: v,
                });
            }
        }
    }
    candidates
}

/// Seeds from candidates in raster order: strongest first (ties in raster
/// order), each suppressing weaker ones closer than
/// `max(min_separation, 0.75 × its radius)`.
pub(crate) fn strongest_apart(candidates: Vec<Seed>, min_separation: f32) -> Vec<Seed> {
    // Taken strongest first, every kept seed is at least as strong as the
    // candidate, so the larger radius is the kept seed's.
    add_apart(Vec::new(), candidates, min_separation)
}

/// `seeds` followed by those of `candidates` (in raster order) apart from
/// every seed kept so far, strongest first: closer than
/// `max(min_separation, 0.75 × the larger radius)` is too close.
pub(crate) fn add_apart(
    mut seeds: Vec<Seed>,
    mut candidates: Vec<Seed>,
    min_separation: f32,
) -> Vec<Seed> {
    // Stable sort keeps raster order among equal radii.
    candidates.sort_by(|a, b| b.radius.total_cmp(&a.radius));
    for c in candidates {
        let suppressed = seeds.iter().any(|s| {
            let reach = min_separation.max(SUPPRESSION_RADIUS_FRACTION * s.radius.max(c.radius));
            let dx = s.x as f32 - c.x as f32;
            let dy = s.y as f32 - c.y as f32;
            dx * dx + dy * dy < reach * reach
        });
        if !suppressed {
            seeds.push(c);
        }
    }
    seeds
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::distance::distance_to_background;

    fn ellipse(a: f32, b: f32) -> image::GrayImage {
        image::GrayImage::from_fn(60, 40, |x, y| {
            let u = (x as f32 - 30.0) / a;
            let v = (y as f32 - 20.0) / b;
            image::Luma([if u * u + v * v <= 1.0 { 255 } else { 0 }])
        })
    }

    #[test]
    fn one_seed_for_an_elongated_cell() {
        let seeds = find_seeds(&distance_to_background(&ellipse(14.0, 9.0)), 2.0, 4.0);
        assert_eq!(seeds.len(), 1, "{seeds:?}");
    }

    #[test]
    fn thin_structures_give_no_seed() {
        let line =
            image::GrayImage::from_fn(60, 10, |_, y| image::Luma([if y == 5 { 255 } else { 0 }]));
        assert!(find_seeds(&distance_to_background(&line), 2.0, 4.0).is_empty());
    }
}
