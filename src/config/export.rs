//! Which per-image files for other tools a run writes (`--export`).

use serde::{Deserialize, Serialize};

/// A per-image export, written to `exports/` beside the results.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ExportKind {
    /// A label image (16-bit TIFF, 32-bit past 65,535 objects) at the
    /// field's own resolution, each object's pixels set to its `cells.csv` id.
    Masks,
    /// An ImageJ/Fiji ROI set (`.zip` of `.roi` files), one outline per object.
    Imagej,
    /// A QuPath-compatible GeoJSON FeatureCollection of outlines, with class
    /// and measurements as properties.
    Geojson,
}

impl ExportKind {
    /// The end of the export's file name, after the field's own stem.
    ///
    /// ```
    /// assert_eq!(cellvia::config::ExportKind::Imagej.suffix(), ".rois.zip");
    /// ```
    pub fn suffix(self) -> &'static str {
        match self {
            ExportKind::Masks => ".labels.tif",
            ExportKind::Imagej => ".rois.zip",
            ExportKind::Geojson => ".geojson",
        }
    }
}
