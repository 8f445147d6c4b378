//! Label formats a lab's own annotations come in, besides Pascal VOC and
//! cellvia's `*.truth.json`: COCO JSON, YOLO txt and a points CSV. Each
//! becomes a [`Truth`] per image.
//!
//! Class names are matched case-insensitively by [`class_of_name`], so
//! `Living Cell`, `live` and `viable` all mean live; any other name is an
//! error, never a silently dropped cell.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Truth, TruthCell, TruthError, TruthRegion, TRUTH_SCHEMA};
use crate::classify::CellClass;

/// The class a label name means: live (`live`, `living`, `living cell`,
/// `live cell`, `alive`, `viable`) or dead (`dead`, `dead cell`, `nonviable`,
/// `non-viable`, `non viable`).
///
/// ```
/// use cellvia::{classify::CellClass, truth::formats::class_of_name};
/// assert_eq!(class_of_name(" Living Cell "), Some(CellClass::Live));
/// assert_eq!(class_of_name("Non-viable"), Some(CellClass::Dead));
/// assert_eq!(class_of_name("cell"), None);
/// ```
pub fn class_of_name(name: &str) -> Option<CellClass> {
    match name.trim().to_ascii_lowercase().as_str() {
        "live" | "living" | "living cell" | "live cell" | "alive" | "viable" => {
            Some(CellClass::Live)
        }
        "dead" | "dead cell" | "nonviable" | "non-viable" | "non viable" => Some(CellClass::Dead),
        _ => None,
    }
}

fn class_or_error(name: &str) -> Result<CellClass, TruthError> {
    class_of_name(name).ok_or_else(|| {
        TruthError(format!(
            "unknown class name {name:?} (use live/living/viable or dead/nonviable)"
        ))
    })
}

#[derive(Deserialize)]
struct Coco {
    images: Vec<CocoImage>,
    annotations: Vec<CocoAnnotation>,
    categories: Vec<CocoCategory>,
}

#[derive(Deserialize)]
struct CocoImage {
    id: u64,
    file_name: String,
    #[serde(default)]
    width: u32,
    #[serde(default)]
    height: u32,
}

#[derive(Deserialize)]
struct CocoAnnotation {
    image_id: u64,
    category_id: u64,
    /// x, y, width, height of the box, pixels.
    bbox: [f64; 4],
}

#[derive(Deserialize)]
struct CocoCategory {
    id: u64,
    name: String,
}

/// Parses a COCO JSON file (object detection: `images`, `annotations` with
/// `bbox` = [x, y, width, height], `categories`): the truth of each image,
/// keyed by its `file_name`.
///
/// ```
/// let coco = r#"{"images": [{"id": 7, "file_name": "a.png", "width": 50, "height": 40}],
///   "annotations": [{"image_id": 7, "category_id": 2, "bbox": [10, 10, 8, 6]}],
///   "categories": [{"id": 2, "name": "dead"}]}"#;
/// let t = cellvia::truth::formats::parse_coco(coco).unwrap();
/// assert_eq!((t["a.png"].cells[0].x, t["a.png"].cells[0].y), (14.0, 13.0));
/// ```
pub fn parse_coco(text: &str) -> Result<BTreeMap<String, Truth>, TruthError> {
    let coco: Coco =
        serde_json::from_str(text).map_err(|e| TruthError(format!("COCO JSON: {e}")))?;
    let mut classes = BTreeMap::new();
    for c in &coco.categories {
        classes.insert(c.id, class_or_error(&c.name)?);
    }
    let mut by_id: BTreeMap<u64, Truth> = BTreeMap::new();
    for image in &coco.images {
        by_id.insert(
            image.id,
            Truth {
                schema: TRUTH_SCHEMA.to_string(),
                width: image.width,
                height: image.height,
                cells: Vec::new(),
            },
        );
    }
    for a in &coco.annotations {
        let label = *classes.get(&a.category_id).ok_or_else(|| {
            TruthError(format!("annotation of unknown category {}", a.category_id))
        })?;
        let truth = by_id
            .get_mut(&a.image_id)
            .ok_or_else(|| TruthError(format!("annotation of unknown image {}", a.image_id)))?;
        let [x, y, w, h] = a.bbox;
        truth
            .cells
            .push(TruthCell::boxed(x, y, x + w, y + h, label));
    }
    Ok(coco
        .images
        .iter()
        .filter_map(|i| by_id.remove(&i.id).map(|t| (i.file_name.clone(), t)))
        .collect())
}

/// Parses one image's YOLO label file (`class cx cy w h` per line, all
/// relative to the image size); `classes` are the names of class indices
/// (`classes.txt`, one per line) and `width` × `height` the image's size.
///
/// ```
/// let classes = ["live".to_string(), "dead".to_string()];
/// let t = cellvia::truth::formats::parse_yolo("1 0.5 0.25 0.1 0.1\n", &classes, 200, 100).unwrap();
/// assert_eq!((t.cells[0].x, t.cells[0].y, t.cells[0].label), (100.0, 25.0, cellvia::classify::CellClass::Dead));
/// ```
pub fn parse_yolo(
    text: &str,
    classes: &[String],
    width: u32,
    height: u32,
) -> Result<Truth, TruthError> {
    let (w, h) = (f64::from(width), f64::from(height));
    let mut cells = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let bad = || TruthError(format!("YOLO line {}: expected `class cx cy w h`", n + 1));
        let [class, cx, cy, bw, bh] = fields[..] else {
            return Err(bad());
        };
        let index: usize = class.parse().map_err(|_| bad())?;
        let name = classes.get(index).ok_or_else(|| {
            TruthError(format!(
                "YOLO line {}: class {index} not in classes.txt",
                n + 1
            ))
        })?;
        let label = class_or_error(name)?;
        let v: Vec<f64> = [cx, cy, bw, bh]
            .iter()
            .map(|s| s.parse::<f64>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        let (cx, cy, bw, bh) = (v[0] * w, v[1] * h, v[2] * w, v[3] * h);
        cells.push(TruthCell::boxed(
            cx - bw / 2.0,
            cy - bh / 2.0,
            cx + bw / 2.0,
            cy + bh / 2.0,
            label,
        ));
    }
    Ok(Truth {
        schema: TRUTH_SCHEMA.to_string(),
        width,
        height,
        cells,
    })
}

#[derive(Deserialize)]
struct PointRow {
    image: String,
    x: f64,
    y: f64,
    label: String,
}

/// Parses a points CSV (`image,x,y,label`, one row per cell, pixel
/// coordinates; the form a click-counting tool exports): the truth of each
/// image, keyed by the `image` column as written. A point matches the
/// detected object whose outline (equivalent disc) contains it.
///
/// ```
/// let csv = "image,x,y,label\na.png,10,12,live\na.png,30,5,dead\nb.png,1,1,live\n";
/// let t = cellvia::truth::formats::parse_points_csv(csv).unwrap();
/// assert_eq!((t["a.png"].cells.len(), t["b.png"].cells.len()), (2, 1));
/// ```
pub fn parse_points_csv(text: &str) -> Result<BTreeMap<String, Truth>, TruthError> {
    let mut out: BTreeMap<String, Truth> = BTreeMap::new();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    for (n, row) in reader.deserialize::<PointRow>().enumerate() {
        let row = row.map_err(|e| TruthError(format!("points CSV row {}: {e}", n + 1)))?;
        let label = class_or_error(&row.label)?;
        out.entry(row.image)
            .or_insert_with(|| Truth {
                schema: TRUTH_SCHEMA.to_string(),
                width: 0,
                height: 0,
                cells: Vec::new(),
            })
            .cells
            .push(TruthCell {
                x: row.x,
                y: row.y,
                region: TruthRegion::Point,
                label,
            });
    }
    Ok(out)
}
