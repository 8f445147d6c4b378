//! Removal of counting-chamber rulings: straight runs far longer than any cell.

use crate::image_types::Mask;

/// Clears every pixel that lies on a horizontal or vertical run of set pixels
/// at least `min_length` long (a one-dimensional opening with a line). Grid
/// lines of hemocytometers are such runs; no cell or small clump is, so a cell
/// touching a ruling loses only the ruling.
///
/// ```
/// let mut m = image::GrayImage::from_fn(20, 20, |x, y| image::Luma([if y == 3 || (x == 10 && y > 8 && y < 13) { 255 } else { 0 }]));
/// cellvia::segment::lines::remove_long_runs(&mut m, 10);
/// assert_eq!(m.get_pixel(5, 3).0[0], 0);     // the 20 px ruling is gone
/// assert_eq!(m.get_pixel(10, 10).0[0], 255); // the short mark stays
/// ```
pub fn remove_long_runs(mask: &mut Mask, min_length: usize) {
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    let data = mask.as_raw();
    let mut clear = vec![false; data.len()];
    let mut mark_runs = |index: &dyn Fn(usize, usize) -> usize, outer: usize, inner: usize| {
        for o in 0..outer {
            let mut start = None;
            for i in 0..=inner {
                let on = i < inner && data[index(o, i)] != 0;
                match (on, start) {
                    (true, None) => start = Some(i),
                    (false, Some(s)) => {
                        if i - s >= min_length {
                            (s..i).for_each(|k| clear[index(o, k)] = true);
                        }
                        start = None;
                    }
                    _ => {}
                }
            }
        }
    };
    mark_runs(&|row, col| row * w + col, h, w);
    mark_runs(&|col, row| row * w + col, w, h);
    for (v, c) in mask.as_mut().iter_mut().zip(clear) {
        if c {
            *v = 0;
        }
    }
}
