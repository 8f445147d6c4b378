//! The ImageJ/Fiji ROI set: a zip of `.roi` files in ImageJ's binary ROI
//! format (big-endian; ImageJ's `RoiEncoder`), one traced polygon per
//! object, opened by File > Open or the ROI Manager.

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use super::{class_name, ExportError, Outlined};
use crate::report::overlay::Outline;

/// ROI format version written (ImageJ 1.52+ reads names from header 2).
const VERSION: u16 = 228;
/// ImageJ's type code for a traced polygon (integer pixel-corner vertices,
/// as the wand tool makes).
const TYPE_TRACED: u8 = 8;
/// Size of the header and of header 2, bytes.
const HEADER_SIZE: usize = 64;
/// Vertices are 16-bit offsets from the box and the box 16-bit signed.
const MAX_COORDINATE: u32 = i16::MAX as u32;

/// The ROI set of one field of `size` (width, height): an entry
/// `ID-CLASS.roi` per object, its largest outline ring. Entries are stored
/// uncompressed with a fixed date, so the same objects give the same bytes.
///
/// ```
/// use cellvia::report::export::imagej::roi_set;
/// let zip = roi_set((10, 10), &[]).unwrap();
/// assert!(zip.starts_with(b"PK"));
/// ```
pub fn roi_set(size: (u32, u32), objects: &[Outlined]) -> Result<Vec<u8>, ExportError> {
    if size.0 > MAX_COORDINATE || size.1 > MAX_COORDINATE {
        return Err(ExportError::TooLargeForImagej {
            width: size.0,
            height: size.1,
            max: MAX_COORDINATE,
        });
    }
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .last_modified_time(DateTime::default());
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for object in objects {
        let Some(ring) = object.rings.first() else {
            continue;
        };
        if ring.len() > usize::from(u16::MAX) {
            return Err(ExportError::TooManyCorners {
                id: object.record.id,
                corners: ring.len(),
            });
        }
        let name = format!(
            "{:05}-{}",
            object.record.id,
            class_name(object.record).replace(' ', "-")
        );
        zip.start_file(format!("{name}.roi"), options)?;
        let outline = Outline::of(object.record.label, object.record.gated_out);
        zip.write_all(&roi(ring, &name, outline.colour().0))?;
    }
    Ok(zip.finish()?.into_inner())
}

/// One `.roi` file: header, vertex offsets (all x, then all y), header 2
/// and the name in UTF-16.
fn roi(ring: &[(u32, u32)], name: &str, rgb: [u8; 3]) -> Vec<u8> {
    let left = ring.iter().map(|v| v.0).min().unwrap_or(0);
    let top = ring.iter().map(|v| v.1).min().unwrap_or(0);
    let right = ring.iter().map(|v| v.0).max().unwrap_or(0);
    let bottom = ring.iter().map(|v| v.1).max().unwrap_or(0);
    let n = ring.len();
    let mut out = vec![0u8; HEADER_SIZE];
    out[0..4].copy_from_slice(b"Iout");
    out[4..6].copy_from_slice(&VERSION.to_be_bytes());
    out[6] = TYPE_TRACED;
    for (at, value) in [(8, top), (10, left), (12, bottom), (14, right)] {
        out[at..at + 2].copy_from_slice(&(value as u16).to_be_bytes());
    }
    out[16..18].copy_from_slice(&(n as u16).to_be_bytes());
    // Stroke colour, ARGB.
    out[40..44].copy_from_slice(&[255, rgb[0], rgb[1], rgb[2]]);
    let header2 = HEADER_SIZE + 4 * n;
    out[60..64].copy_from_slice(&(header2 as u32).to_be_bytes());
    for v in ring {
        out.extend_from_slice(&((v.0 - left) as u16).to_be_bytes());
    }
    for v in ring {
        out.extend_from_slice(&((v.1 - top) as u16).to_be_bytes());
    }
    let mut second = [0u8; HEADER_SIZE];
    let name_offset = (header2 + HEADER_SIZE) as u32;
    let units: Vec<u16> = name.encode_utf16().collect();
    second[16..20].copy_from_slice(&name_offset.to_be_bytes());
    second[20..24].copy_from_slice(&(units.len() as u32).to_be_bytes());
    out.extend_from_slice(&second);
    for unit in units {
        out.extend_from_slice(&unit.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_roi_holds_its_box_vertices_and_name() {
        let ring = [(3, 4), (6, 4), (6, 9), (3, 9)];
        let bytes = roi(&ring, "00001-live", [0, 220, 0]);
        let be16 = |at: usize| u16::from_be_bytes([bytes[at], bytes[at + 1]]);
        assert_eq!(&bytes[0..4], b"Iout");
        assert_eq!(bytes[6], TYPE_TRACED);
        assert_eq!([be16(8), be16(10), be16(12), be16(14)], [4, 3, 9, 6]);
        assert_eq!(be16(16), 4);
        // x offsets, then y offsets.
        assert_eq!(
            (0..4).map(|i| be16(64 + 2 * i)).collect::<Vec<_>>(),
            [0, 3, 3, 0]
        );
        assert_eq!(
            (0..4).map(|i| be16(72 + 2 * i)).collect::<Vec<_>>(),
            [0, 0, 5, 5]
        );
        let header2 = u32::from_be_bytes(bytes[60..64].try_into().unwrap()) as usize;
        assert_eq!(header2, 80);
        let name_at =
            u32::from_be_bytes(bytes[header2 + 16..header2 + 20].try_into().unwrap()) as usize;
        let name: Vec<u16> = (0..10).map(|i| be16(name_at + 2 * i)).collect();
        assert_eq!(String::from_utf16(&name).unwrap(), "00001-live");
        assert_eq!(bytes.len(), name_at + 20);
    }
}
