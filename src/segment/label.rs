//! Connected-component labelling and relabelling to contiguous ids.

use super::runs::{Components, Connectivity};
use crate::image_types::{LabelImage, Mask};

/// Labels 8-connected objects of a mask 1..=n in raster order of their first pixel.
///
/// ```
/// let m = image::GrayImage::from_raw(5, 1, vec![255, 0, 255, 255, 0]).unwrap();
/// let (labels, n) = cellvia::segment::label::label_components(&m);
/// assert_eq!(n, 2);
/// assert_eq!(labels.as_raw(), &[1, 0, 2, 2, 0]);
/// ```
pub fn label_components(mask: &Mask) -> (LabelImage, u32) {
    let found = Components::of(
        mask.as_raw(),
        mask.width() as usize,
        |&v| v != 0,
        Connectivity::Eight,
    );
    labelled(&found, mask.width(), mask.height())
}

/// The label image of components found by [`Components::of`] (component
/// `c` is label `c + 1`) and their count.
pub fn labelled(found: &Components, width: u32, height: u32) -> (LabelImage, u32) {
    let mut labels = LabelImage::new(width, height);
    found.paint(&mut labels, 1);
    (labels, found.count)
}

/// Renumbers labels 1..=n in raster order of first appearance; returns n.
/// Makes ids independent of how a labelling was computed.
///
/// ```
/// let mut l = cellvia::image_types::LabelImage::from_raw(4, 1, vec![7, 0, 3, 7]).unwrap();
/// assert_eq!(cellvia::segment::label::relabel_sequential(&mut l), 2);
/// assert_eq!(l.as_raw(), &[1, 0, 2, 1]);
/// ```
pub fn relabel_sequential(labels: &mut LabelImage) -> u32 {
    let max = labels.as_raw().iter().copied().max().unwrap_or(0) as usize;
    let mut map = vec![0u32; max + 1];
    let mut next = 0;
    for v in labels.as_mut().iter_mut() {
        if *v == 0 {
            continue;
        }
        let slot = &mut map[*v as usize];
        if *slot == 0 {
            next += 1;
            *slot = next;
        }
        *v = *slot;
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_blobs_with_diagonal_contact_as_one() {
        let m = Mask::from_raw(
            4,
            4,
            vec![
                255, 0, 0, 255, //
                0, 255, 0, 0, //
                0, 0, 0, 0, //
                255, 255, 0, 255,
            ],
        )
        .unwrap();
        let (labels, n) = label_components(&m);
        assert_eq!(n, 4);
        assert_eq!(labels.get_pixel(1, 1).0[0], 1);
        assert_eq!(labels.get_pixel(3, 0).0[0], 2);
    }

    proptest::proptest! {
        /// Same labels as imageproc's 8-connected labelling, renumbered
        /// (from 2×2 up: imageproc 0.25 panics on a set 1×1 image).
        #[test]
        fn matches_imageproc(
            w in 2u32..24,
            h in 2u32..24,
            bits in proptest::collection::vec(proptest::bool::weighted(0.5), 576),
        ) {
            use imageproc::region_labelling::{connected_components, Connectivity};
            let mask = crate::image_types::mask_from_bits(w, h, &bits);
            let mut theirs = connected_components(&mask, Connectivity::Eight, image::Luma([0u8]));
            let n_theirs = relabel_sequential(&mut theirs);
            let (ours, n) = label_components(&mask);
            proptest::prop_assert_eq!(n, n_theirs);
            proptest::prop_assert_eq!(ours, theirs);
        }
    }
}
