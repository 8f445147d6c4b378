//! Allotrope Simple Model (ASM) JSON, cell-counting REC/2024/09: the document
//! LIMS ingest (as the `allotropy` converters produce it for Vi-CELL, Countess
//! and NucleoCounter exports).
//!
//! One document per run; one `cell counting document` per sample, holding one
//! measurement: the sample's pooled counts, concentrations (10^6 cells/mL),
//! viability and mean diameters, with the settings that produced them. The
//! schema requires a viability and a viable-cell density for every
//! measurement, so a sample without them (no cells counted, or no pixel size
//! for the imaged volume) is left out and named in [`AsmDocument::omitted`].
//! Values the schema has no term for (confidence intervals, verdict, image
//! hashes) go into `custom information document`s, as allotropy does.

use serde_json::{json, Map, Value};

use super::{utc_iso8601, RunSummary};
use crate::aggregate::record::round;
use crate::aggregate::sample::SampleResult;
use crate::config::Assay;

/// The manifest IRI of the cell-counting REC/2024/09 schema.
pub const MANIFEST: &str =
    "http://purl.allotrope.org/manifests/cell-counting/REC/2024/09/cell-counting.manifest";

/// cells/mL per "10^6 cells/mL".
const CELLS_PER_MILLION: f64 = 1e6;

/// A run's ASM document and the samples it could not include.
#[derive(Debug, Clone, PartialEq)]
pub struct AsmDocument {
    /// `None` when no sample could be included (the schema needs at least one).
    pub document: Option<Value>,
    /// Sample id and why it was left out.
    pub omitted: Vec<(String, String)>,
}

fn quantity(value: f64, unit: &str) -> Value {
    json!({ "value": value, "unit": unit })
}

/// The ASM document of a finished run.
///
/// ```
/// use cellvia::report::{asm, RunFacts, RunSummary, Software};
/// let config = cellvia::Config::default();
/// let run = RunFacts { started_unix_s: 0.0, finished_unix_s: 1.0, host: "h".into(), threads: 1,
///                      operator: None, metadata: Default::default(), pixel_size_source: None };
/// let model = cellvia::classify::ModelInfo { name: "m".into(), sha256: "00".into(), path: "m.onnx".into() };
/// let summary = RunSummary { software: &Software::default(), model: &model, config: &config,
///     config_sha256: "ab", spec: None, samples: &[], fields: &[], summary: &Default::default(),
///     run: &run, out_dir: "out", results_sha256: None };
/// // No sample with a concentration: nothing the schema would accept.
/// assert!(asm::document(&summary).document.is_none());
/// ```
pub fn document(run: &RunSummary) -> AsmDocument {
    let mut omitted = Vec::new();
    let mut technique_documents = Vec::new();
    for (index, sample) in run.samples.iter().enumerate() {
        match measurement(run, index, sample) {
            Ok(m) => {
                let mut doc = Map::new();
                if let Some(op) = &run.run.operator {
                    doc.insert("analyst".into(), json!(op));
                }
                doc.insert(
                    "measurement aggregate document".into(),
                    json!({ "measurement document": [m] }),
                );
                technique_documents.push(Value::Object(doc));
            }
            Err(why) => omitted.push((sample.sample_id.clone(), why.to_string())),
        }
    }
    if technique_documents.is_empty() {
        return AsmDocument {
            document: None,
            omitted,
        };
    }
    let mut data_system = json!({
        "data system instance identifier": run.run.host,
        "file name": "results.json",
        "UNC path": run.out_dir,
        "software name": run.software.name,
        "software version": run.software.version,
        "ASM converter name": run.software.name,
        "ASM converter version": run.software.version,
        "ASM file identifier": "results.asm.json",
    });
    let mut run_info = Map::new();
    run_info.insert("model name".into(), json!(run.model.name));
    run_info.insert("model SHA-256".into(), json!(run.model.sha256));
    run_info.insert("config SHA-256".into(), json!(run.config_sha256));
    if let Some(spec) = run.spec {
        run_info.insert("spec SHA-256".into(), json!(spec.sha256));
    }
    for (key, value) in &run.run.metadata {
        run_info.insert(key.clone(), json!(value));
    }
    data_system["custom information document"] = Value::Object(run_info);
    let document = json!({
        "$asm.manifest": MANIFEST,
        "cell counting aggregate document": {
            // The instrument is the image analysis; the microscope is not known.
            "device system document": {
                "device identifier": run.software.name,
                "model number": run.software.version,
            },
            "data system document": data_system,
            "cell counting document": technique_documents,
        }
    });
    AsmDocument {
        document: Some(document),
        omitted,
    }
}

/// One sample's measurement document.
fn measurement(run: &RunSummary, index: usize, s: &SampleResult) -> Result<Value, &'static str> {
    let viability = s
        .viability
        .ok_or("no live or dead cell counted, so no viability")?;
    let concentration = s
        .concentration_per_ml
        .ok_or("no concentration (the imaged volume needs the pixel size)")?;
    let million = |v: f64| round(v / CELLS_PER_MILLION, 6);
    let mut processed = Map::new();
    let mut put = |key: &str, value: Value| {
        processed.insert(key.to_string(), value);
    };
    let config = run.config;
    let mut processing = json!({
        "cell type processing method": match config.assay {
            Assay::Trypan => "trypan blue exclusion, ONNX viability model",
            Assay::Aopi => "AO/PI fluorescence, two-channel rule",
        },
        "cell density dilution factor": quantity(s.dilution_factor, "(unitless)"),
    });
    if let (Some(p), Some(d)) = (config.pixel_size_um, s.diameter) {
        let d = crate::config::DiameterRange {
            min: d.min_px,
            max: d.max_px,
        };
        processing["minimum cell diameter setting"] = quantity(round(d.min * p, 3), "µm");
        processing["maximum cell diameter setting"] = quantity(round(d.max * p, 3), "µm");
    }
    put("data processing document", processing);
    put(
        "viability (cell counter)",
        quantity(round(viability.value * 100.0, 4), "%"),
    );
    put(
        "viable cell density (cell counter)",
        quantity(million(concentration.live.value), "10^6 cells/mL"),
    );
    put(
        "dead cell density (cell counter)",
        quantity(million(concentration.dead.value), "10^6 cells/mL"),
    );
    put(
        "total cell density (cell counter)",
        quantity(million(concentration.total.value), "10^6 cells/mL"),
    );
    put("total cell count", quantity(s.counts.total.into(), "cell"));
    put("viable cell count", quantity(s.counts.live.into(), "cell"));
    put("dead cell count", quantity(s.counts.dead.into(), "cell"));
    if let Some(d) = s.mean_diameter_um.live {
        put(
            "average live cell diameter (cell counter)",
            quantity(d, "µm"),
        );
    }
    if let Some(d) = s.mean_diameter_um.dead {
        put(
            "average dead cell diameter (cell counter)",
            quantity(d, "µm"),
        );
    }
    let ci = |e: crate::aggregate::sample::Estimate, scale: f64| {
        json!([round(e.ci95[0] * scale, 6), round(e.ci95[1] * scale, 6)])
    };
    let mut custom = json!({
        "viability 95 % CI (%)": ci(viability, 100.0),
        "viable cell density 95 % CI (10^6 cells/mL)": ci(concentration.live, 1e-6),
        "total cell density 95 % CI (10^6 cells/mL)": ci(concentration.total, 1e-6),
        "debris count": s.counts.debris,
        "fields analysed": s.fields - s.fields_failed,
        "fields failed": s.fields_failed,
        "fields with image-quality flags": s.fields_flagged,
    });
    if let Some(f) = s.aggregate_fraction {
        custom["aggregate percentage"] = json!(round(f * 100.0, 3));
    }
    if let Some(v) = &s.verdict {
        custom["release verdict"] = json!(v.verdict.as_str());
        custom["release verdict reasons"] = json!(v.reasons);
    }
    put("custom information document", custom);

    let mut sample_document = json!({ "sample identifier": s.sample_id });
    if let Some(batch) = s.metadata.get("batch") {
        sample_document["batch identifier"] = json!(batch);
    }
    if !s.metadata.is_empty() {
        sample_document["custom information document"] = json!(s.metadata);
    }
    let images: Vec<Value> = run
        .fields
        .iter()
        .filter(|f| f.sample == index)
        .map(|f| {
            let mut image = json!({ "experimental data identifier": f.path });
            if let Some(h) = &f.sha256 {
                image["custom information document"] = json!({ "SHA-256": h });
            }
            image
        })
        .collect();
    let mut measurement = json!({
        "measurement identifier": format!(
            "{}-{}-{:03}",
            run.software.name,
            utc_iso8601(run.run.started_unix_s),
            index + 1
        ),
        "measurement time": utc_iso8601(run.run.finished_unix_s),
        "sample document": sample_document,
        "device control aggregate document": {
            "device control document": [{
                "device type": "image cytometer",
                "detection type": match config.assay {
                    Assay::Trypan => "brightfield",
                    Assay::Aopi => "fluorescence",
                },
            }]
        },
        "processed data aggregate document": {
            "processed data document": [Value::Object(processed)]
        },
    });
    if !images.is_empty() {
        measurement["image aggregate document"] = json!({ "image document": images });
    }
    Ok(measurement)
}
