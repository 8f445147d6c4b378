//! Per-image files for other tools (`--export`): a label mask, an ImageJ ROI
//! set and QuPath GeoJSON, each describing the objects `cells.csv` lists
//! (counted cells, cells a gate left out, and debris when it is listed),
//! with the same ids and at the field's own pixel grid.

pub mod geojson;
pub mod imagej;
pub mod mask;

use crate::aggregate::record::CellRecord;
use crate::config::ExportKind;
use crate::image_types::LabelImage;
use crate::measure::polygon::{outer_rings, Vertex};

/// Why an export could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("label TIFF: {0}")]
    Tiff(#[from] tiff::TiffError),
    #[error("ImageJ ROI set: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("ImageJ ROI set: {0}")]
    Io(#[from] std::io::Error),
    #[error("ImageJ ROIs hold coordinates up to {max} px; this field is {width} x {height} px (use --export masks or geojson)")]
    TooLargeForImagej { width: u32, height: u32, max: u32 },
    #[error("ImageJ ROIs hold up to 65,535 corners; object {id}'s outline has {corners}")]
    TooManyCorners { id: u32, corners: usize },
}

/// One exported object: its record and its outline rings (largest first,
/// pixel-corner vertices, clockwise with y down).
#[derive(Debug)]
pub struct Outlined<'a> {
    pub record: &'a CellRecord,
    pub rings: Vec<Vec<Vertex>>,
}

/// Encodes the exports `kinds` of one field whose label image is `labels`;
/// `objects` are the records to export (any order; written by id).
///
/// ```
/// use cellvia::{config::ExportKind, image_types::LabelImage, report::export::encode};
/// let labels = LabelImage::from_raw(2, 1, vec![1, 0]).unwrap();
/// let files = encode(&[ExportKind::Masks], &labels, &[]).unwrap();
/// assert_eq!(files[0].0, ExportKind::Masks);
/// ```
pub fn encode(
    kinds: &[ExportKind],
    labels: &LabelImage,
    objects: &[&CellRecord],
) -> Result<Vec<(ExportKind, Vec<u8>)>, ExportError> {
    let mut sorted: Vec<&CellRecord> = objects.to_vec();
    sorted.sort_by_key(|r| r.id);
    let outlined: Vec<Outlined> = if kinds.iter().any(|k| *k != ExportKind::Masks) {
        sorted
            .iter()
            .map(|&record| Outlined {
                record,
                rings: outer_rings(labels, record.id, record.bbox),
            })
            .collect()
    } else {
        Vec::new()
    };
    kinds
        .iter()
        .map(|&kind| {
            let bytes = match kind {
                ExportKind::Masks => mask::label_tiff(labels, &sorted)?,
                ExportKind::Imagej => imagej::roi_set(labels.dimensions(), &outlined)?,
                ExportKind::Geojson => geojson::feature_collection(&outlined),
            };
            Ok((kind, bytes))
        })
        .collect()
}

/// What an exported object is, in the words the CSVs use.
fn class_name(record: &CellRecord) -> &'static str {
    match record.gated_out {
        Some(_) => "gated out",
        None => record.label.as_str(),
    }
}
