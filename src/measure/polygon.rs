//! An object's outline as polygons along pixel edges: the shape ImageJ and
//! QuPath draw and fill back to exactly the object's pixels.

use crate::image_types::LabelImage;

/// A polygon vertex at a pixel corner: pixel (x, y) covers [x, x+1]×[y, y+1].
pub type Vertex = (u32, u32);

/// The outer boundary of each 4-connected piece of label `label` (inclusive
/// bounding box `bbox`), largest piece first. Each ring runs clockwise on
/// screen (y down), is not closed (its last vertex is not the first again)
/// and keeps only the corners where it turns. Holes are not traced: an
/// object's outline encloses whatever it surrounds.
///
/// ```
/// use cellvia::{image_types::LabelImage, measure::polygon::outer_rings};
/// // An L of three pixels.
/// let l = LabelImage::from_raw(3, 3, vec![0, 0, 0, 0, 7, 0, 0, 7, 7]).unwrap();
/// let rings = outer_rings(&l, 7, [1, 1, 2, 2]);
/// assert_eq!(rings, vec![vec![(1, 1), (2, 1), (2, 2), (3, 2), (3, 3), (1, 3)]]);
/// ```
pub fn outer_rings(labels: &LabelImage, label: u32, bbox: [u32; 4]) -> Vec<Vec<Vertex>> {
    let (w, h) = (i64::from(labels.width()), i64::from(labels.height()));
    let data = labels.as_raw();
    let is_object = |x: i64, y: i64| -> bool {
        x >= 0 && y >= 0 && x < w && y < h && data[(y * w + x) as usize] == label
    };
    // Boundary edges with the object on their right, keyed by start corner
    // on a grid one larger than the box; a corner starts at most two.
    let (x0, y0) = (i64::from(bbox[0]), i64::from(bbox[1]));
    let gw = (i64::from(bbox[2]) - x0 + 2) as usize;
    let gh = (i64::from(bbox[3]) - y0 + 2) as usize;
    let mut starts: Vec<[Option<Direction>; 2]> = vec![[None, None]; gw * gh];
    let corner = |x: i64, y: i64| (y - y0) as usize * gw + (x - x0) as usize;
    let mut add = |x: i64, y: i64, d: Direction| {
        let slot = &mut starts[corner(x, y)];
        if slot[0].is_none() {
            slot[0] = Some(d);
        } else {
            slot[1] = Some(d);
        }
    };
    for y in y0..=i64::from(bbox[3]) {
        for x in x0..=i64::from(bbox[2]) {
            if !is_object(x, y) {
                continue;
            }
            if !is_object(x, y - 1) {
                add(x, y, Direction::Right);
            }
            if !is_object(x + 1, y) {
                add(x + 1, y, Direction::Down);
            }
            if !is_object(x, y + 1) {
                add(x + 1, y + 1, Direction::Left);
            }
            if !is_object(x - 1, y) {
                add(x, y + 1, Direction::Up);
            }
        }
    }
    let mut rings: Vec<(i64, Vec<Vertex>)> = Vec::new();
    for first in 0..starts.len() {
        while let Some(start_direction) = take(&mut starts[first], None) {
            let (sx, sy) = ((first % gw) as i64 + x0, (first / gw) as i64 + y0);
            let (mut x, mut y, mut d) = (sx, sy, start_direction);
            let mut ring: Vec<Vertex> = Vec::new();
            loop {
                let (dx, dy) = d.step();
                let (nx, ny) = (x + dx, y + dy);
                let slot = &mut starts[corner(nx, ny)];
                // Back at the start the first edge (already taken) closes the
                // ring, unless the piece passes this corner again first.
                let closes = (nx, ny) == (sx, sy)
                    && (start_direction == d.right() || !slot.contains(&Some(d.right())));
                let next = if closes { None } else { take(slot, Some(d)) };
                let Some(next) = next else {
                    if closes && start_direction != d {
                        ring.insert(0, (nx as u32, ny as u32));
                    }
                    break;
                };
                if next != d {
                    ring.push((nx as u32, ny as u32));
                }
                (x, y, d) = (nx, ny, next);
            }
            // Twice the area, positive for clockwise rings in y-down space.
            let n = ring.len();
            let twice_area: i64 = (0..n)
                .map(|i| {
                    let (a, b) = (ring[i], ring[(i + 1) % n]);
                    i64::from(a.0) * i64::from(b.1) - i64::from(b.0) * i64::from(a.1)
                })
                .sum();
            if twice_area > 0 {
                rings.push((twice_area, ring));
            }
        }
    }
    rings.sort_by_key(|r| std::cmp::Reverse(r.0));
    rings.into_iter().map(|(_, ring)| ring).collect()
}

/// The direction of a boundary edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Right,
    Down,
    Left,
    Up,
}

impl Direction {
    fn step(self) -> (i64, i64) {
        match self {
            Direction::Right => (1, 0),
            Direction::Down => (0, 1),
            Direction::Left => (-1, 0),
            Direction::Up => (0, -1),
        }
    }

    /// The direction after a right turn (y down).
    fn right(self) -> Direction {
        match self {
            Direction::Right => Direction::Down,
            Direction::Down => Direction::Left,
            Direction::Left => Direction::Up,
            Direction::Up => Direction::Right,
        }
    }
}

/// Takes an edge starting at a corner. Arriving in direction `from` at a
/// corner where two pieces touch diagonally, the right turn stays with the
/// piece being traced (4-connectivity); `None` takes any.
fn take(slot: &mut [Option<Direction>; 2], from: Option<Direction>) -> Option<Direction> {
    let index = match (from, slot[0], slot[1]) {
        (_, None, None) => return None,
        (Some(d), _, Some(second)) if second == d.right() => 1,
        (_, Some(_), _) => 0,
        (_, None, Some(_)) => 1,
    };
    slot[index].take()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Pixels inside a ring by the even-odd rule at pixel centres: the slow
    /// reference for what a viewer fills.
    fn filled(ring: &[Vertex], x: u32, y: u32) -> bool {
        let (px, py) = (f64::from(x) + 0.5, f64::from(y) + 0.5);
        let mut inside = false;
        for i in 0..ring.len() {
            let (a, b) = (ring[i], ring[(i + 1) % ring.len()]);
            let (ax, ay, bx, by) = (
                f64::from(a.0),
                f64::from(a.1),
                f64::from(b.0),
                f64::from(b.1),
            );
            if (ay > py) != (by > py) && px < ax + (py - ay) / (by - ay) * (bx - ax) {
                inside = !inside;
            }
        }
        inside
    }

    #[test]
    fn diagonal_pieces_are_separate_rings() {
        let l = LabelImage::from_raw(2, 2, vec![1, 0, 0, 1]).unwrap();
        let rings = outer_rings(&l, 1, [0, 0, 1, 1]);
        assert_eq!(rings.len(), 2);
        assert!(rings.iter().all(|r| r.len() == 4));
    }

    #[test]
    fn a_ring_around_a_hole_encloses_it() {
        let l = LabelImage::from_fn(5, 5, |x, y| {
            image::Luma([u32::from(
                (1..4).contains(&x) && (1..4).contains(&y) && (x, y) != (2, 2),
            )])
        });
        assert_eq!(
            outer_rings(&l, 1, [1, 1, 3, 3]),
            vec![vec![(1, 1), (4, 1), (4, 4), (1, 4)]]
        );
    }

    /// Pixels of a `w`×`w` image not reachable from outside through
    /// background, stepping to any of 8 neighbours (the pinch between two
    /// diagonal object pixels lets background through).
    fn enclosed(object: &[bool], w: usize) -> Vec<bool> {
        let mut outside = vec![false; w * w];
        let mut stack: Vec<usize> = (0..w * w)
            .filter(|&i| {
                let (x, y) = (i % w, i / w);
                !object[i] && (x == 0 || y == 0 || x == w - 1 || y == w - 1)
            })
            .collect();
        while let Some(i) = stack.pop() {
            if outside[i] {
                continue;
            }
            outside[i] = true;
            let (x, y) = ((i % w) as i64, (i / w) as i64);
            for (dx, dy) in [
                (-1, -1),
                (0, -1),
                (1, -1),
                (-1, 0),
                (1, 0),
                (-1, 1),
                (0, 1),
                (1, 1),
            ] {
                let (nx, ny) = (x + dx, y + dy);
                if (0..w as i64).contains(&nx) && (0..w as i64).contains(&ny) {
                    let j = ny as usize * w + nx as usize;
                    if !object[j] && !outside[j] {
                        stack.push(j);
                    }
                }
            }
        }
        outside.iter().map(|&o| !o).collect()
    }

    /// The 4-connected piece of `bits` (a `w`×`w` image) holding its first set pixel.
    fn first_piece(bits: &[bool], w: usize) -> Vec<bool> {
        let mut piece = vec![false; w * w];
        let mut stack: Vec<usize> = bits.iter().position(|&b| b).into_iter().collect();
        while let Some(i) = stack.pop() {
            if piece[i] || !bits[i] {
                continue;
            }
            piece[i] = true;
            let (x, y) = (i % w, i / w);
            if x > 0 {
                stack.push(i - 1);
            }
            if x + 1 < w {
                stack.push(i + 1);
            }
            if y > 0 {
                stack.push(i - w);
            }
            if y + 1 < w {
                stack.push(i + w);
            }
        }
        piece
    }

    proptest! {
        #[test]
        fn a_piece_fills_back_to_its_pixels_and_what_they_enclose(
            bits in proptest::collection::vec(proptest::bool::weighted(0.6), 64),
        ) {
            let w = 8u32;
            prop_assume!(bits.iter().any(|&b| b));
            let piece = first_piece(&bits, w as usize);
            // Other pieces carry another label, as neighbouring objects do.
            let labels = LabelImage::from_fn(w, w, |x, y| {
                let i = (y * w + x) as usize;
                image::Luma([if piece[i] { 1 } else { 2 * u32::from(bits[i]) }])
            });
            let region = crate::segment::regions::regions(&labels, 2)[0];
            let rings = outer_rings(&labels, 1, region.bbox);
            prop_assert_eq!(rings.len(), 1);
            let inside = enclosed(&piece, w as usize);
            for y in 0..w {
                for x in 0..w {
                    prop_assert_eq!(filled(&rings[0], x, y), inside[(y * w + x) as usize], "pixel {} {}", x, y);
                }
            }
        }
    }
}
