//! Outlines as a GeoJSON FeatureCollection in QuPath's layout: each object
//! a `detection` feature with its class under `classification` and its
//! measurements under `measurements`, coordinates in pixels from the
//! image's top-left corner (QuPath's convention).

use serde_json::{json, Map, Value};

use super::{class_name, Outlined};
use crate::report::overlay::Outline;

/// The FeatureCollection of one field's objects (sorted by id), as JSON
/// bytes. An object in several 4-connected pieces is a MultiPolygon.
///
/// ```
/// let bytes = cellvia::report::export::geojson::feature_collection(&[]);
/// let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
/// assert_eq!(v["type"], "FeatureCollection");
/// ```
pub fn feature_collection(objects: &[Outlined]) -> Vec<u8> {
    let features: Vec<Value> = objects
        .iter()
        .filter(|o| !o.rings.is_empty())
        .map(feature)
        .collect();
    let collection = json!({ "type": "FeatureCollection", "features": features });
    let mut bytes = serde_json::to_vec(&collection).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

fn feature(object: &Outlined) -> Value {
    // Closed rings, as GeoJSON wants: the first vertex again at the end.
    let polygons: Vec<Value> = object
        .rings
        .iter()
        .map(|ring| {
            let mut points: Vec<[u32; 2]> = ring.iter().map(|&(x, y)| [x, y]).collect();
            points.extend(points.first().copied());
            json!([points])
        })
        .collect();
    let geometry = match polygons.as_slice() {
        [one] => json!({ "type": "Polygon", "coordinates": one }),
        _ => json!({ "type": "MultiPolygon", "coordinates": polygons }),
    };
    let r = object.record;
    let outline = Outline::of(r.label, r.gated_out);
    let mut measurements = Map::new();
    let mut put = |name: &str, value: Option<f64>| {
        if let Some(v) = value {
            measurements.insert(name.to_string(), json!(v));
        }
    };
    put("Centroid X px", Some(r.x));
    put("Centroid Y px", Some(r.y));
    put("Area px^2", Some(f64::from(r.area_px)));
    put("Diameter px", Some(r.diameter_px));
    put("Diameter µm", r.diameter_um);
    put("Circularity", Some(r.circularity));
    put("Mean intensity", Some(r.mean_intensity));
    put("Min intensity", Some(r.min_intensity));
    put("Max intensity", Some(r.max_intensity));
    put("P(live)", Some(r.p_live));
    put("P(cell)", Some(r.p_cell));
    put("Cluster size", Some(f64::from(r.cluster_size)));
    put("Novelty", r.novelty);
    let name = class_name(r);
    let mut class = name.to_string();
    class[..1].make_ascii_uppercase();
    json!({
        "type": "Feature",
        "geometry": geometry,
        "properties": {
            "objectType": "detection",
            "name": r.id.to_string(),
            "classification": { "name": class, "color": outline.colour().0 },
            "isLocked": false,
            "measurements": measurements,
        },
    })
}
