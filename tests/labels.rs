//! A lab's own labels in each format cellvia reads (Pascal VOC, COCO JSON,
//! YOLO txt, points CSV) score the same results alike, and `cellvia
//! validate` reports a model's figures and viability bias on them.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use cellvia::classify::CellClass;
use cellvia::truth::{parse_voc, TruthRegion};
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cellvia() -> Command {
    Command::cargo_bin("cellvia").unwrap()
}

/// xmin, ymin, xmax, ymax, dead.
type LabelledBox = (f64, f64, f64, f64, bool);

/// (stem, width, height, boxes) of the sample LDC images.
fn boxes() -> Vec<(String, u32, u32, Vec<LabelledBox>)> {
    let dir = repo().join("sample-images/ldc");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "xml") {
            let t = parse_voc(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let cells = t
                .cells
                .iter()
                .map(|c| match c.region {
                    TruthRegion::Box {
                        xmin,
                        ymin,
                        xmax,
                        ymax,
                    } => (xmin, ymin, xmax, ymax, c.label == CellClass::Dead),
                    _ => unreachable!(),
                })
                .collect();
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            let (w, h) = image::image_dimensions(dir.join(format!("{stem}.png"))).unwrap();
            out.push((stem, w, h, cells));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(out.len(), 6);
    out
}

fn eval(results: &Path, truth: &Path) -> Value {
    let out = cellvia()
        .args(["eval", "--json", "--truth"])
        .arg(truth)
        .arg(results)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn every_label_format_scores_alike() {
    let tmp = tempfile::tempdir().unwrap();
    let ldc = repo().join("sample-images/ldc");
    let results = tmp.path().join("out");
    cellvia()
        .args([
            "analyze",
            "--quiet",
            "--overlays",
            "never",
            "--no-html",
            "--out",
        ])
        .arg(&results)
        .arg(&ldc)
        .assert()
        .success();
    let results = results.join("results.json");
    let boxes = boxes();

    // COCO: one file, boxes as x, y, width, height.
    let (mut images, mut annotations) = (Vec::new(), Vec::new());
    for (i, (stem, w, h, cells)) in boxes.iter().enumerate() {
        images.push(serde_json::json!({"id": i, "file_name": format!("{stem}.png"), "width": w, "height": h}));
        for &(x0, y0, x1, y1, dead) in cells {
            annotations.push(
                serde_json::json!({"image_id": i, "category_id": u8::from(dead) + 1,
                "bbox": [x0, y0, x1 - x0, y1 - y0]}),
            );
        }
    }
    let coco = tmp.path().join("labels.json");
    let categories =
        serde_json::json!([{"id": 1, "name": "viable"}, {"id": 2, "name": "nonviable"}]);
    std::fs::write(
        &coco,
        serde_json::json!({"images": images, "annotations": annotations, "categories": categories})
            .to_string(),
    )
    .unwrap();

    // YOLO: one txt per image, relative centre and size, classes.txt beside.
    let yolo = tmp.path().join("yolo");
    std::fs::create_dir(&yolo).unwrap();
    std::fs::write(yolo.join("classes.txt"), "Living Cell\nDead Cell\n").unwrap();
    for (stem, w, h, cells) in &boxes {
        let (w, h) = (f64::from(*w), f64::from(*h));
        let lines: String = cells
            .iter()
            .map(|&(x0, y0, x1, y1, dead)| {
                format!(
                    "{} {} {} {} {}\n",
                    u8::from(dead),
                    (x0 + x1) / 2.0 / w,
                    (y0 + y1) / 2.0 / h,
                    (x1 - x0) / w,
                    (y1 - y0) / h
                )
            })
            .collect();
        std::fs::write(yolo.join(format!("{stem}.txt")), lines).unwrap();
        // YOLO needs the image for its size: labels and images side by side.
        std::fs::copy(
            ldc.join(format!("{stem}.png")),
            yolo.join(format!("{stem}.png")),
        )
        .unwrap();
    }

    // Points: box centres.
    let points = tmp.path().join("points.csv");
    let mut csv = String::from("image,x,y,label\n");
    for (stem, _, _, cells) in &boxes {
        for &(x0, y0, x1, y1, dead) in cells {
            let label = if dead { "dead" } else { "live" };
            csv.push_str(&format!(
                "{stem}.png,{},{},{label}\n",
                (x0 + x1) / 2.0,
                (y0 + y1) / 2.0
            ));
        }
    }
    std::fs::write(&points, csv).unwrap();

    let voc = eval(&results, &ldc)["overall"].clone();
    assert!(voc["tally"]["truth_cells"].as_u64().unwrap() > 20);
    for (name, truth) in [("COCO", &coco), ("YOLO", &yolo)] {
        let o = eval(&results, truth)["overall"].clone();
        assert_eq!(o["tally"], voc["tally"], "{name}");
    }
    // A point matches the object containing it, a box the object whose
    // centre it contains: the same cells, nearly the same matches.
    let o = eval(&results, &points)["overall"].clone();
    assert_eq!(o["tally"]["truth_cells"], voc["tally"]["truth_cells"]);
    assert_eq!(o["tally"]["truth_live"], voc["tally"]["truth_live"]);
    let (a, b) = (o["f1"].as_f64().unwrap(), voc["f1"].as_f64().unwrap());
    assert!((a - b).abs() < 0.05, "points F1 {a}, VOC F1 {b}");

    // An unknown class name is an error, not a dropped cell.
    std::fs::write(&points, "image,x,y,label\ncell (1).png,1,1,blob\n").unwrap();
    let refused = cellvia()
        .args(["eval", "--truth"])
        .arg(&points)
        .arg(&results)
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&refused.get_output().stderr).into_owned();
    assert!(stderr.contains("blob"), "{stderr}");
}

#[test]
fn validate_reports_bias_with_an_interval() {
    let ldc = repo().join("sample-images/ldc");
    let out = cellvia()
        .arg("validate")
        .arg(repo().join("models/cellvia-viability-v3.onnx"))
        .arg(&ldc)
        .arg("--truth")
        .arg(&ldc)
        .arg("--json")
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let report: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(report["model"]["name"], "cellvia-viability-v3");
    let bias = &report["viability_bias"];
    let (b, lo, hi) = (
        bias["bias_points"].as_f64().unwrap(),
        bias["ci95_points"][0].as_f64().unwrap(),
        bias["ci95_points"][1].as_f64().unwrap(),
    );
    assert!(lo <= b && b <= hi && hi - lo > 0.0, "{bias}");
    assert_eq!(bias["fields"], 6);
    assert!(report["overall"]["f1"].as_f64().unwrap() > 0.8);
    // Fields without truth are reported and make the exit code 1.
    let synthetic = repo().join("sample-images/synthetic");
    cellvia()
        .arg("validate")
        .arg(repo().join("models/cellvia-viability-v3.onnx"))
        .arg(&synthetic)
        .arg("--truth")
        .arg(&ldc)
        .assert()
        .code(1);
}
