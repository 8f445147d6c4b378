//! Binary morphology with square structuring elements (the L∞ ball of
//! radius r, side 2r + 1), separable into a horizontal and a vertical
//! running max (dilation) or min (erosion). Pixels outside the image are
//! ignored: they neither add to a dilation nor erode the border.
//!
//! Same results as imageproc's `close_mut`/`open_mut` with `Norm::LInf`
//! (except on images whose width + height is at most r, where that one
//! saturates its distance map), at a fraction of the passes: two cheap
//! sweeps per operation instead of two chamfer distance transforms.

use crate::image_types::Mask;

/// Running max (`MAX`) or min over a (2r + 1)² square, clipped to the image.
fn running<const MAX: bool>(mask: &mut Mask, radius: usize) {
    let op = |a: u8, b: u8| if MAX { a.max(b) } else { a.min(b) };
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    if w == 0 || h == 0 || radius == 0 {
        return;
    }
    let mut across = vec![0u8; w * h];
    for (src, dst) in mask
        .as_raw()
        .chunks_exact(w)
        .zip(across.chunks_exact_mut(w))
    {
        dst.copy_from_slice(src);
        // Right and left neighbours in separate loops: one loop updating
        // both `dst[x]` and `dst[x + shift]` carries a dependency from one
        // iteration to the next and does not vectorise.
        for shift in 1..=radius.min(w - 1) {
            for (d, &s) in dst.iter_mut().zip(&src[shift..]) {
                *d = op(*d, s);
            }
            for (d, &s) in dst[shift..].iter_mut().zip(src) {
                *d = op(*d, s);
            }
        }
    }
    let out = mask.as_mut();
    for y in 0..h {
        let (lo, hi) = (y.saturating_sub(radius), (y + radius).min(h - 1));
        let row = &mut out[y * w..(y + 1) * w];
        row.copy_from_slice(&across[lo * w..(lo + 1) * w]);
        for other in across[(lo + 1) * w..(hi + 1) * w].chunks_exact(w) {
            for (o, &v) in row.iter_mut().zip(other) {
                *o = op(*o, v);
            }
        }
    }
}

/// Sets every pixel within L∞ distance `radius` of a set pixel.
///
/// ```
/// let mut m = image::GrayImage::from_raw(5, 1, vec![0, 0, 255, 0, 0]).unwrap();
/// cellvia::segment::morphology::dilate(&mut m, 1);
/// assert_eq!(m.as_raw(), &[0, 255, 255, 255, 0]);
/// ```
pub fn dilate(mask: &mut Mask, radius: usize) {
    running::<true>(mask, radius);
}

/// Clears every pixel within L∞ distance `radius` of a clear pixel.
///
/// ```
/// let mut m = image::GrayImage::from_raw(5, 1, vec![255, 255, 255, 0, 255]).unwrap();
/// cellvia::segment::morphology::erode(&mut m, 1);
/// assert_eq!(m.as_raw(), &[255, 255, 0, 0, 0]);
/// ```
pub fn erode(mask: &mut Mask, radius: usize) {
    running::<false>(mask, radius);
}

/// Dilation then erosion: bridges gaps narrower than 2 × `radius` + 1.
///
/// ```
/// let mut m = image::GrayImage::from_raw(5, 1, vec![255, 255, 0, 255, 255]).unwrap();
/// cellvia::segment::morphology::close(&mut m, 1);
/// assert_eq!(m.as_raw(), &[255; 5]);
/// ```
pub fn close(mask: &mut Mask, radius: usize) {
    dilate(mask, radius);
    erode(mask, radius);
}

/// Erosion then dilation: removes parts thinner than 2 × `radius` + 1.
///
/// ```
/// let mut m = image::GrayImage::from_raw(7, 1, vec![255, 0, 255, 255, 255, 0, 0]).unwrap();
/// cellvia::segment::morphology::open(&mut m, 1);
/// assert_eq!(m.as_raw(), &[0, 0, 255, 255, 255, 0, 0]); // the lone pixel is gone
/// ```
pub fn open(mask: &mut Mask, radius: usize) {
    erode(mask, radius);
    dilate(mask, radius);
}

#[cfg(test)]
mod tests {
    use super::*;
    use imageproc::distance_transform::Norm;
    use proptest::prelude::*;

    proptest! {
        /// Same as imageproc's distance-transform morphology wherever that
        /// one does not saturate (width + height > radius).
        #[test]
        fn matches_imageproc(
            w in 1u32..30,
            h in 1u32..30,
            radius in 1u8..4,
            bits in proptest::collection::vec(proptest::bool::weighted(0.5), 900),
        ) {
            prop_assume!(w + h > u32::from(radius));
            let mask = crate::image_types::mask_from_bits(w, h, &bits);
            let (mut ours, mut theirs) = (mask.clone(), mask.clone());
            close(&mut ours, usize::from(radius));
            imageproc::morphology::close_mut(&mut theirs, Norm::LInf, radius);
            prop_assert_eq!(&ours, &theirs);
            let (mut ours, mut theirs) = (mask.clone(), mask);
            open(&mut ours, usize::from(radius));
            imageproc::morphology::open_mut(&mut theirs, Norm::LInf, radius);
            prop_assert_eq!(ours, theirs);
        }
    }
}
