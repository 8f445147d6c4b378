//! Ground truth: Pascal VOC XML (LDC style boxes labelled `Living Cell` /
//! `Dead Cell`), cellvia's own `*.truth.json` written by `cellvia synth`, and
//! COCO JSON, YOLO txt and points CSV ([`formats`]).

pub mod formats;

use serde::{Deserialize, Serialize};

use crate::classify::CellClass;

/// Schema tag of truth files written by `cellvia synth`.
pub const TRUTH_SCHEMA: &str = "cellvia.truth/1";

/// Where a true cell is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum TruthRegion {
    /// Inclusive pixel box.
    Box {
        xmin: f64,
        ymin: f64,
        xmax: f64,
        ymax: f64,
    },
    /// Disc around the cell's centre.
    Disc { radius: f64 },
    /// A clicked centre only: it matches the detection whose equivalent
    /// disc contains it.
    Point,
}

/// One true cell: centre, extent and label (live or dead).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TruthCell {
    pub x: f64,
    pub y: f64,
    pub region: TruthRegion,
    pub label: CellClass,
}

impl TruthCell {
    /// A cell labelled by its box, centred in it.
    pub fn boxed(xmin: f64, ymin: f64, xmax: f64, ymax: f64, label: CellClass) -> Self {
        Self {
            x: 0.5 * (xmin + xmax),
            y: 0.5 * (ymin + ymax),
            region: TruthRegion::Box {
                xmin,
                ymin,
                xmax,
                ymax,
            },
            label,
        }
    }

    /// Whether a detection centred at (`x`, `y`) with equivalent radius
    /// `radius` matches the cell: its centre lies inside the cell's box or
    /// disc, or (a point) the cell's point lies inside the detection.
    ///
    /// ```
    /// use cellvia::{classify::CellClass, truth::*};
    /// let c = TruthCell { x: 10.0, y: 10.0, region: TruthRegion::Disc { radius: 5.0 }, label: CellClass::Live };
    /// assert!(c.contains(13.0, 13.0, 1.0));
    /// assert!(!c.contains(14.0, 14.0, 1.0));
    /// let p = TruthCell { region: TruthRegion::Point, ..c };
    /// assert!(p.contains(14.0, 14.0, 6.0) && !p.contains(14.0, 14.0, 5.0));
    /// ```
    pub fn contains(&self, x: f64, y: f64, radius: f64) -> bool {
        match self.region {
            TruthRegion::Point => (x - self.x).powi(2) + (y - self.y).powi(2) <= radius * radius,
            TruthRegion::Box {
                xmin,
                ymin,
                xmax,
                ymax,
            } => x >= xmin && x <= xmax && y >= ymin && y <= ymax,
            TruthRegion::Disc { radius } => {
                (x - self.x).powi(2) + (y - self.y).powi(2) <= radius * radius
            }
        }
    }
}

/// The truth of one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    pub schema: String,
    pub width: u32,
    pub height: u32,
    pub cells: Vec<TruthCell>,
}

impl Truth {
    /// (live, dead) counts.
    pub fn counts(&self) -> (u32, u32) {
        let live = self
            .cells
            .iter()
            .filter(|c| c.label == CellClass::Live)
            .count() as u32;
        (live, self.cells.len() as u32 - live)
    }
}

/// A truth file that cannot be understood.
#[derive(Debug, thiserror::Error)]
#[error("truth file: {0}")]
pub struct TruthError(String);

/// Parses Pascal VOC XML: each `<object>` with `<name>` `Living Cell` or
/// `Dead Cell` and a `<bndbox>`. Other object names are an error (a typo in a
/// label file must not silently drop cells).
///
/// ```
/// let xml = "<annotation><size><width>20</width><height>10</height></size>\
///   <object><name>Dead Cell</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>5</xmax><ymax>6</ymax></bndbox></object>\
///   </annotation>";
/// let t = cellvia::truth::parse_voc(xml).unwrap();
/// assert_eq!(t.cells.len(), 1);
/// assert_eq!((t.cells[0].x, t.cells[0].y), (3.0, 4.0));
/// ```
pub fn parse_voc(xml: &str) -> Result<Truth, TruthError> {
    let doc =
        roxmltree::Document::parse(xml).map_err(|e| TruthError(format!("invalid XML: {e}")))?;
    let child_text = |node: roxmltree::Node, name: &str| -> Option<String> {
        node.children()
            .find(|c| c.has_tag_name(name))
            .and_then(|c| c.text())
            .map(|t| t.trim().to_string())
    };
    let number = |node: roxmltree::Node, name: &str| -> Result<f64, TruthError> {
        child_text(node, name)
            .and_then(|t| t.parse::<f64>().ok())
            .ok_or_else(|| TruthError(format!("missing or non-numeric <{name}>")))
    };
    let root = doc.root_element();
    let size = root.children().find(|c| c.has_tag_name("size"));
    let dim = |name| {
        size.and_then(|s| child_text(s, name))
            .and_then(|t| t.parse().ok())
            .unwrap_or(0)
    };
    let mut cells = Vec::new();
    for object in root.children().filter(|c| c.has_tag_name("object")) {
        let name = child_text(object, "name").unwrap_or_default();
        let label = match name.as_str() {
            "Living Cell" => CellClass::Live,
            "Dead Cell" => CellClass::Dead,
            other => return Err(TruthError(format!("unknown object name {other:?}"))),
        };
        let bbox = object
            .children()
            .find(|c| c.has_tag_name("bndbox"))
            .ok_or_else(|| TruthError("object without <bndbox>".into()))?;
        let (xmin, ymin, xmax, ymax) = (
            number(bbox, "xmin")?,
            number(bbox, "ymin")?,
            number(bbox, "xmax")?,
            number(bbox, "ymax")?,
        );
        cells.push(TruthCell::boxed(xmin, ymin, xmax, ymax, label));
    }
    Ok(Truth {
        schema: TRUTH_SCHEMA.to_string(),
        width: dim("width"),
        height: dim("height"),
        cells,
    })
}

/// The image stem a truth file belongs to: `a.xml` and `a.truth.json` → `a`.
///
/// ```
/// use cellvia::truth::truth_stem;
/// assert_eq!(truth_stem("cell (1).xml"), Some("cell (1)"));
/// assert_eq!(truth_stem("f-0001.truth.json"), Some("f-0001"));
/// assert_eq!(truth_stem("notes.json"), None);
/// ```
pub fn truth_stem(file_name: &str) -> Option<&str> {
    file_name
        .strip_suffix(".truth.json")
        .or_else(|| file_name.strip_suffix(".xml"))
        .filter(|s| !s.is_empty())
}

/// Parses a truth file by its name: VOC for `.xml`, else `*.truth.json`.
pub fn parse_truth_file(file_name: &str, text: &str) -> Result<Truth, TruthError> {
    if file_name.ends_with(".xml") {
        parse_voc(text)
    } else {
        parse_truth_json(text)
    }
}

/// Parses a `*.truth.json` written by `cellvia synth`.
pub fn parse_truth_json(text: &str) -> Result<Truth, TruthError> {
    let truth: Truth = serde_json::from_str(text).map_err(|e| TruthError(e.to_string()))?;
    if truth.schema != TRUTH_SCHEMA {
        return Err(TruthError(format!(
            "schema {:?}, expected {TRUTH_SCHEMA:?}",
            truth.schema
        )));
    }
    Ok(truth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_label_is_an_error() {
        let xml = "<annotation><object><name>Cell</name><bndbox><xmin>1</xmin><ymin>1</ymin>\
                   <xmax>2</xmax><ymax>2</ymax></bndbox></object></annotation>";
        assert!(parse_voc(xml).unwrap_err().to_string().contains("Cell"));
    }

    #[test]
    fn truth_json_round_trips() {
        let t = Truth {
            schema: TRUTH_SCHEMA.into(),
            width: 10,
            height: 10,
            cells: vec![TruthCell {
                x: 1.0,
                y: 2.0,
                region: TruthRegion::Disc { radius: 3.0 },
                label: CellClass::Dead,
            }],
        };
        assert_eq!(
            parse_truth_json(&serde_json::to_string(&t).unwrap()).unwrap(),
            t
        );
        assert!(parse_truth_json(r#"{"schema":"x","width":1,"height":1,"cells":[]}"#).is_err());
    }
}
