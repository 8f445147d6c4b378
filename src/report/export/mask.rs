//! The label mask: a 16- or 32-bit greyscale TIFF whose pixels hold the id
//! of the object they belong to (0: none), as Fiji, napari and QuPath read
//! label images.

use std::io::Cursor;

use tiff::encoder::{colortype, Compression, DeflateLevel, TiffEncoder};

use super::ExportError;
use crate::aggregate::record::CellRecord;
use crate::image_types::LabelImage;

/// A label TIFF of `labels` keeping only the ids of `objects` (sorted by
/// id): 16-bit while every id fits, else 32-bit; Deflate-compressed (label
/// images are mostly runs of 0).
///
/// ```
/// use cellvia::{image_types::LabelImage, report::export::mask::label_tiff};
/// let labels = LabelImage::from_raw(2, 1, vec![1, 2]).unwrap();
/// let tiff = label_tiff(&labels, &[]).unwrap();
/// assert!(tiff.starts_with(b"II*\0"));
/// ```
pub fn label_tiff(labels: &LabelImage, objects: &[&CellRecord]) -> Result<Vec<u8>, ExportError> {
    let max_id = objects.last().map_or(0, |r| r.id);
    let mut kept = vec![false; max_id as usize + 1];
    for r in objects {
        kept[r.id as usize] = true;
    }
    let keep = |&l: &u32| {
        if kept.get(l as usize) == Some(&true) {
            l
        } else {
            0
        }
    };
    let (w, h) = labels.dimensions();
    let mut out = Cursor::new(Vec::new());
    let mut encoder =
        TiffEncoder::new(&mut out)?.with_compression(Compression::Deflate(DeflateLevel::Balanced));
    if max_id <= u32::from(u16::MAX) {
        let data: Vec<u16> = labels.as_raw().iter().map(|l| keep(l) as u16).collect();
        encoder.write_image::<colortype::Gray16>(w, h, &data)?;
    } else {
        let data: Vec<u32> = labels.as_raw().iter().map(keep).collect();
        encoder.write_image::<colortype::Gray32>(w, h, &data)?;
    }
    Ok(out.into_inner())
}
