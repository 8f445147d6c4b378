//! Connected components of run-length encoded rows: the engine behind
//! labelling, hole filling and hysteresis.
//!
//! A row is cut into runs of pixels that pass a test, and a run joins the
//! runs of the row above that it overlaps (4-connectivity) or touches
//! diagonally (8-connectivity), in a union-find forest over runs. The work
//! is one sequential scan of the pixels plus a little per run, where a
//! pixel-by-pixel flood or queue pays for every pixel's neighbours: on a
//! 2048×1536 field with 250 cells, the floods of hole filling, the queue of
//! hysteresis and a pixel-wise two-pass labelling were 20 % of the CPU.

use crate::image_types::LabelImage;

/// Which neighbours join: edge neighbours only, or corners too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connectivity {
    Four,
    Eight,
}

/// A horizontal run of passing pixels: row `y`, columns `x0..x1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub y: usize,
    pub x0: usize,
    pub x1: usize,
}

/// The runs of an image in raster order, and each run's component.
/// Components are numbered 0.. in raster order of their first pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Components {
    pub runs: Vec<Run>,
    /// `component[i]`: the component of `runs[i]`.
    pub component: Vec<u32>,
    pub count: u32,
}

impl Components {
    /// Runs of a `w`-wide row-major raster whose pixels pass `test`, joined
    /// into components.
    ///
    /// ```
    /// use cellvia::segment::runs::{Components, Connectivity};
    /// // Two diagonal pixels: one component with corners, two without.
    /// let pixels = [1u8, 0, 0, 1];
    /// assert_eq!(Components::of(&pixels, 2, |&p| p != 0, Connectivity::Eight).count, 1);
    /// assert_eq!(Components::of(&pixels, 2, |&p| p != 0, Connectivity::Four).count, 2);
    /// ```
    pub fn of<T>(
        pixels: &[T],
        w: usize,
        test: impl Fn(&T) -> bool,
        connectivity: Connectivity,
    ) -> Self {
        let rows = pixels.len().checked_div(w).unwrap_or(0);
        Self::build(rows, connectivity, |y, runs| {
            let row = &pixels[y * w..(y + 1) * w];
            push_runs(
                w,
                y,
                |base, n| chunk_mask(&row[base..base + n], &test),
                runs,
            );
        })
    }

    /// Runs of a `w`×`h` raster where `test(y, x)` holds, joined into
    /// components (for tests that read more than one image).
    ///
    /// ```
    /// use cellvia::segment::runs::{Components, Connectivity};
    /// let (a, b) = ([1u8, 1, 0, 1], [0u8, 1, 0, 1]);
    /// // Set in `a` but not in `b`: only pixel 0.
    /// let only_a = Components::where_true(4, 1, |_, x| a[x] != 0 && b[x] == 0, Connectivity::Four);
    /// assert_eq!(only_a.runs.len(), 1);
    /// assert_eq!((only_a.runs[0].x0, only_a.runs[0].x1), (0, 1));
    /// ```
    pub fn where_true(
        w: usize,
        h: usize,
        test: impl Fn(usize, usize) -> bool,
        connectivity: Connectivity,
    ) -> Self {
        Self::build(if w == 0 { 0 } else { h }, connectivity, |y, runs| {
            let mask = |base, n| (0..n).fold(0, |bits, i| bits | u32::from(test(y, base + i)) << i);
            push_runs(w, y, mask, runs);
        })
    }

    /// Runs row by row from `runs_of_row(y, runs)` (which appends row `y`'s
    /// runs in column order), joined into components.
    fn build(
        h: usize,
        connectivity: Connectivity,
        mut runs_of_row: impl FnMut(usize, &mut Vec<Run>),
    ) -> Self {
        let mut runs = Vec::new();
        let mut parent: Vec<u32> = Vec::new();
        // Runs of the previous row: runs[above.0..above.1].
        let mut above = (0, 0);
        // A run of row y touches one of row y - 1 when their column ranges,
        // widened by `reach` for corners, overlap.
        let reach = usize::from(connectivity == Connectivity::Eight);
        for y in 0..h {
            let first = runs.len();
            runs_of_row(y, &mut runs);
            parent.extend(first as u32..runs.len() as u32);
            // Join this row's runs to the overlapping runs above (both sorted).
            let mut k = above.0;
            for i in first..runs.len() {
                let run = runs[i];
                while k < above.1 && runs[k].x1 + reach <= run.x0 {
                    k += 1;
                }
                let mut j = k;
                while j < above.1 && runs[j].x0 < run.x1 + reach {
                    union(&mut parent, i as u32, j as u32);
                    j += 1;
                }
            }
            above = (first, runs.len());
        }
        // Roots are each set's first run (unions keep the lower index), so
        // numbering roots in order numbers components in raster order.
        let mut component = vec![0u32; runs.len()];
        let mut count = 0;
        for i in 0..runs.len() {
            let root = find(&mut parent, i as u32) as usize;
            if root == i {
                component[i] = count;
                count += 1;
            } else {
                component[i] = component[root];
            }
        }
        Self {
            runs,
            component,
            count,
        }
    }
}

/// Pixels tested per step of [`push_runs`], one bit each.
const SCAN_CHUNK: usize = 32;

/// Appends the runs of a row of `len` pixels (row `y`), in column order:
/// `mask(base, n)` has bit `i` set where pixel `base + i` passes (`n` ≤
/// [`SCAN_CHUNK`]). Made a chunk at a time in a loop without branches, the
/// mask gives the runs at its edges, so the branches are per run, not per
/// pixel: scanning pixel by pixel for where the test flips was most of
/// hysteresis's time on 2048×1536 fields.
fn push_runs(len: usize, y: usize, mask: impl Fn(usize, usize) -> u32, runs: &mut Vec<Run>) {
    let mut start = None;
    let whole = len - len % SCAN_CHUNK;
    for base in (0..whole).step_by(SCAN_CHUNK) {
        push_edges(
            mask(base, SCAN_CHUNK),
            SCAN_CHUNK,
            base,
            y,
            &mut start,
            runs,
        );
    }
    push_edges(
        mask(whole, len - whole),
        len - whole,
        whole,
        y,
        &mut start,
        runs,
    );
    if let Some(x0) = start {
        runs.push(Run { y, x0, x1: len });
    }
}

/// Bit `i` set where `pixels[i]` passes `test` (at most [`SCAN_CHUNK`] pixels).
fn chunk_mask<T>(pixels: &[T], test: &impl Fn(&T) -> bool) -> u32 {
    pixels
        .iter()
        .enumerate()
        .fold(0, |bits, (i, p)| bits | u32::from(test(p)) << i)
}

/// Reads the runs in the low `n` bits of `bits` (pixels `base..base + n`
/// of row `y`; bit `i` set where pixel `base + i` passes): `start` holds the
/// first column of a run still open from the previous chunk, and holds the
/// one left open at the end of this one.
fn push_edges(
    bits: u32,
    n: usize,
    base: usize,
    y: usize,
    start: &mut Option<usize>,
    runs: &mut Vec<Run>,
) {
    let inside = if n == 0 {
        0
    } else {
        u32::MAX >> (SCAN_CHUNK - n)
    };
    // Bits below `from` are read.
    let mut from = 0;
    loop {
        let unread = inside & u32::MAX.checked_shl(from).unwrap_or(0);
        match *start {
            None => {
                let set = bits & unread;
                if set == 0 {
                    return;
                }
                from = set.trailing_zeros();
                *start = Some(base + from as usize);
            }
            Some(x0) => {
                let clear = !bits & unread;
                if clear == 0 {
                    return;
                }
                from = clear.trailing_zeros();
                runs.push(Run {
                    y,
                    x0,
                    x1: base + from as usize,
                });
                *start = None;
            }
        }
    }
}

/// A component's pixel count and bounding box: columns `x0..x1`, rows
/// `y0..y1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub area: usize,
    pub x0: usize,
    pub y0: usize,
    pub x1: usize,
    pub y1: usize,
}

impl Components {
    /// Writes component `c` into `labels` as label `first + c` over its runs
    /// (other pixels are left as they are).
    ///
    /// ```
    /// use cellvia::segment::runs::{Components, Connectivity};
    /// let pixels = [1u8, 0, 1];
    /// let mut labels = cellvia::image_types::LabelImage::new(3, 1);
    /// Components::of(&pixels, 3, |&p| p != 0, Connectivity::Eight).paint(&mut labels, 5);
    /// assert_eq!(labels.as_raw(), &[5, 0, 6]);
    /// ```
    pub fn paint(&self, labels: &mut LabelImage, first: u32) {
        let w = labels.width() as usize;
        let out = labels.as_mut();
        for (run, &c) in self.runs.iter().zip(&self.component) {
            out[run.y * w + run.x0..run.y * w + run.x1].fill(first + c);
        }
    }

    /// Each component's area and bounding box, by component number.
    ///
    /// ```
    /// use cellvia::segment::runs::{Components, Connectivity};
    /// let pixels = [0u8, 1, 1, 0, 1, 0];
    /// let e = Components::of(&pixels, 3, |&p| p != 0, Connectivity::Eight).extents();
    /// assert_eq!((e[0].area, e[0].x0, e[0].y0, e[0].x1, e[0].y1), (3, 1, 0, 3, 2));
    /// ```
    pub fn extents(&self) -> Vec<Extent> {
        let empty = Extent {
            area: 0,
            x0: usize::MAX,
            y0: usize::MAX,
            x1: 0,
            y1: 0,
        };
        let mut extents = vec![empty; self.count as usize];
        for (run, &c) in self.runs.iter().zip(&self.component) {
            let e = &mut extents[c as usize];
            e.area += run.x1 - run.x0;
            e.x0 = e.x0.min(run.x0);
            e.y0 = e.y0.min(run.y);
            e.x1 = e.x1.max(run.x1);
            e.y1 = e.y1.max(run.y + 1);
        }
        extents
    }
}

fn find(parent: &mut [u32], mut a: u32) -> u32 {
    while parent[a as usize] != a {
        let grand = parent[parent[a as usize] as usize];
        parent[a as usize] = grand;
        a = grand;
    }
    a
}

fn union(parent: &mut [u32], a: u32, b: u32) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        let (low, high) = (ra.min(rb), ra.max(rb));
        parent[high as usize] = low;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Slow reference: a breadth-first flood per component, components
    /// numbered by their first pixel in raster order; per pixel its component.
    fn reference(on: &[bool], w: usize, connectivity: Connectivity) -> Vec<Option<u32>> {
        let h = on.len() / w;
        let mut id = vec![None; on.len()];
        let mut next = 0;
        for start in 0..on.len() {
            if !on[start] || id[start].is_some() {
                continue;
            }
            id[start] = Some(next);
            let mut queue = std::collections::VecDeque::from([start]);
            while let Some(i) = queue.pop_front() {
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
                    if connectivity == Connectivity::Four && dx != 0 && dy != 0 {
                        continue;
                    }
                    let (nx, ny) = (x + dx, y + dy);
                    if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                        continue;
                    }
                    let j = (ny * w as i64 + nx) as usize;
                    if on[j] && id[j].is_none() {
                        id[j] = Some(next);
                        queue.push_back(j);
                    }
                }
            }
            next += 1;
        }
        id
    }

    proptest! {
        #[test]
        fn components_match_a_flood(
            w in 1usize..80,
            h in 1usize..20,
            bits in proptest::collection::vec(proptest::bool::weighted(0.55), 1600),
            eight in proptest::bool::ANY,
        ) {
            let on = &bits[..w * h];
            let connectivity = if eight { Connectivity::Eight } else { Connectivity::Four };
            let c = Components::of(on, w, |&b| b, connectivity);
            prop_assert_eq!(&Components::where_true(w, h, |y, x| on[y * w + x], connectivity), &c);
            let mut per_pixel = vec![None; w * h];
            for (run, &comp) in c.runs.iter().zip(&c.component) {
                for x in run.x0..run.x1 {
                    per_pixel[run.y * w + x] = Some(comp);
                }
            }
            let expected = reference(on, w, connectivity);
            prop_assert_eq!(c.count, expected.iter().flatten().max().map_or(0, |m| m + 1));
            prop_assert_eq!(per_pixel, expected);
        }
    }
}
