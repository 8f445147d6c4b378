//! End-to-end tests of the `cellvia` binary on the shipped sample images.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::path::{Path, PathBuf};

mod common;

use cellvia::truth::{parse_truth_json, parse_voc, Truth};
use common::{cellvia, read_json, repo};
use serde_json::Value;

fn analyze(inputs: &[&Path], out: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    cellvia()
        .arg("analyze")
        .args(inputs)
        .arg("--out")
        .arg(out)
        .args(["--quiet"])
        .args(extra)
        .assert()
}

fn truth_for(image: &Path) -> Truth {
    let stem = image.file_stem().unwrap().to_string_lossy().into_owned();
    let dir = image.parent().unwrap();
    let xml = dir.join(format!("{stem}.xml"));
    if xml.is_file() {
        parse_voc(&std::fs::read_to_string(xml).unwrap()).unwrap()
    } else {
        parse_truth_json(&std::fs::read_to_string(dir.join(format!("{stem}.truth.json"))).unwrap())
            .unwrap()
    }
}

#[test]
fn sample_images_are_counted_close_to_truth() {
    let out = tempfile::tempdir().unwrap();
    let samples = repo().join("sample-images");
    analyze(&[&samples], out.path(), &[]).code(0);
    let results = read_json(&out.path().join("results.json"));
    for key in [
        "schema", "software", "model", "config", "images", "summary", "run",
    ] {
        assert!(results.get(key).is_some(), "results.json lacks {key}");
    }
    assert_eq!(results["schema"], "cellvia.results/1");
    assert_eq!(results["software"]["name"], "cellvia");
    assert_eq!(results["model"]["sha256"].as_str().unwrap().len(), 64);
    let images = results["images"].as_array().unwrap();
    assert_eq!(images.len(), 9, "6 LDC + 3 synthetic images");
    let (mut found, mut expected) = (0i64, 0i64);
    for image in images {
        assert_eq!(image["status"], "ok", "{image}");
        let path = PathBuf::from(image["path"].as_str().unwrap());
        let truth = truth_for(&path);
        let (live, dead) = truth.counts();
        let counts = &image["counts"];
        let total = counts["total"].as_i64().unwrap();
        assert_eq!(
            total,
            counts["live"].as_i64().unwrap() + counts["dead"].as_i64().unwrap()
        );
        assert_eq!(image["cells"].as_array().unwrap().len() as i64, total);
        let want = i64::from(live + dead);
        // Per image: within 2 cells or 10 %, whichever is larger.
        let tolerance = (want / 10).max(2);
        assert!(
            (total - want).abs() <= tolerance,
            "{}: counted {total}, truth {want}",
            path.display()
        );
        found += total;
        expected += want;
        let cell = &image["cells"][0];
        for key in ["id", "x", "y", "area_px", "diameter_px", "label", "p_live"] {
            assert!(cell.get(key).is_some(), "cell lacks {key}");
        }
    }
    let error = (found - expected).abs() as f64 / expected as f64;
    assert!(error <= 0.05, "total counted {found}, truth {expected}");
    // One overlay per image plus their checksum list, and the CSVs have
    // one row per image / cell.
    assert_eq!(
        std::fs::read_dir(out.path().join("overlays"))
            .unwrap()
            .count(),
        9 + 1
    );
    let sums = std::fs::read_to_string(out.path().join("overlays/SHA256SUMS")).unwrap();
    assert_eq!(sums.lines().count(), 9);
    let images_csv = std::fs::read_to_string(out.path().join("images.csv")).unwrap();
    assert_eq!(images_csv.lines().count(), 10);
    let cells_csv = std::fs::read_to_string(out.path().join("cells.csv")).unwrap();
    assert_eq!(cells_csv.lines().count() as i64, found + 1);
}

#[test]
fn bad_files_become_error_records_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    let good = repo().join("sample-images/ldc/g (1).png");
    std::fs::copy(&good, inputs.join("a-good.png")).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(inputs.join("b-truncated.png"), &bytes[..bytes.len() / 3]).unwrap();
    std::fs::write(
        inputs.join("c-text.png"),
        b"this is a lab note, not an image\n",
    )
    .unwrap();
    std::fs::write(inputs.join("d-empty.tif"), b"").unwrap();
    std::fs::write(inputs.join("notes.txt"), b"skipped").unwrap();
    let out = dir.path().join("out");
    let missing = dir.path().join("missing.png");
    let assert = analyze(&[&inputs, &missing], &out, &[]).code(1);
    assert!(String::from_utf8_lossy(&assert.get_output().stderr).contains("c-text.png"));
    let results = read_json(&out.join("results.json"));
    let images = results["images"].as_array().unwrap();
    let status: Vec<(&str, &str)> = images
        .iter()
        .map(|i| {
            (
                Path::new(i["path"].as_str().unwrap())
                    .file_name()
                    .unwrap()
                    .to_str()
                    .unwrap(),
                i["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        status,
        [
            ("a-good.png", "ok"),
            ("b-truncated.png", "error"),
            ("c-text.png", "error"),
            ("d-empty.tif", "error"),
            ("missing.png", "error")
        ]
    );
    assert!(images[0]["counts"]["total"].as_i64().unwrap() >= 4);
    for (image, fragment) in images[1..].iter().zip([
        "cannot decode",
        "not a supported image",
        "empty",
        "cannot read",
    ]) {
        let message = image["error"].as_str().unwrap();
        assert!(message.contains(fragment), "{message}");
        assert!(message.contains(
            Path::new(image["path"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
        ));
    }
    assert_eq!(results["summary"]["images_failed"], 4);
    assert_eq!(results["skipped"].as_array().unwrap().len(), 1);
}

/// Everything but the run block is byte-identical whatever the thread count.
#[test]
fn results_do_not_depend_on_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let samples = repo().join("sample-images");
    let one = dir.path().join("one");
    let two = dir.path().join("two");
    analyze(&[&samples], &one, &["--threads", "1"]).code(0);
    analyze(&[&samples], &two, &["--threads", "2"]).code(0);
    for file in ["images.csv", "cells.csv"] {
        assert_eq!(
            std::fs::read(one.join(file)).unwrap(),
            std::fs::read(two.join(file)).unwrap(),
            "{file}"
        );
    }
    let strip = |p: &Path| {
        let mut v = read_json(p);
        v.as_object_mut().unwrap().remove("run");
        serde_json::to_string(&v).unwrap()
    };
    assert_eq!(
        strip(&one.join("results.json")),
        strip(&two.join("results.json"))
    );
    let overlays = |d: &Path| {
        let mut names: Vec<_> = std::fs::read_dir(d.join("overlays"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| std::fs::read(p).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(overlays(&one), overlays(&two));
}

#[test]
fn missing_runtime_is_fatal_with_instructions() {
    let out = tempfile::tempdir().unwrap();
    let assert = cellvia()
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .args(["analyze", "--quiet", "--out"])
        .arg(out.path())
        .arg(repo().join("sample-images/ldc"))
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        stderr.contains("ONNX Runtime library not found"),
        "{stderr}"
    );
    assert!(stderr.contains("fetch-onnxruntime.sh"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn corrupt_or_wrong_model_is_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt.onnx");
    std::fs::write(&corrupt, b"\x08\x01garbage").unwrap();
    let samples = repo().join("sample-images/ldc");
    let assert = analyze(
        &[&samples],
        &dir.path().join("o1"),
        &["--model", corrupt.to_str().unwrap()],
    )
    .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        stderr.contains("corrupt.onnx") && stderr.contains("not a usable ONNX model"),
        "{stderr}"
    );
    let missing = dir.path().join("nope.onnx");
    let assert = analyze(
        &[&samples],
        &dir.path().join("o2"),
        &["--model", missing.to_str().unwrap()],
    )
    .code(2);
    assert!(String::from_utf8_lossy(&assert.get_output().stderr).contains("nope.onnx"));
}

#[test]
fn bad_arguments_are_fatal() {
    let out = tempfile::tempdir().unwrap();
    let samples = repo().join("sample-images/ldc");
    let assert = analyze(&[&samples], out.path(), &["--diameter", "30,10"]).code(2);
    assert!(String::from_utf8_lossy(&assert.get_output().stderr)
        .contains("min must be smaller than max"));
    analyze(&[&samples], out.path(), &["--diameter-um", "5,10"]).code(2);
    let assert = analyze(&[&samples], out.path(), &["--gate-diameter-um", "5,10"]).code(2);
    assert!(String::from_utf8_lossy(&assert.get_output().stderr).contains("gate.diameter_um"));
    analyze(
        &[&samples],
        out.path(),
        &["--counting-region", "10,10,5,50"],
    )
    .code(2);
    let cfg = out.path().join("c.toml");
    std::fs::write(&cfg, "[segment]\nseed_sigmaa = 3\n").unwrap();
    let assert = analyze(
        &[&samples],
        out.path(),
        &["--config", cfg.to_str().unwrap()],
    )
    .code(2);
    assert!(String::from_utf8_lossy(&assert.get_output().stderr).contains("seed_sigmaa"));
}

#[test]
fn config_file_and_flags_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("lab.json");
    std::fs::write(
        &cfg,
        r#"{"pixel_size_um": 0.5, "report": {"overlays": "never"}}"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let image = repo().join("sample-images/ldc/g (1).png");
    analyze(
        &[&image],
        &out,
        &["--config", cfg.to_str().unwrap(), "--diameter-um", "6,20"],
    )
    .code(0);
    let results = read_json(&out.join("results.json"));
    assert_eq!(results["config"]["diameter_um"]["min"], 6.0);
    assert_eq!(results["config"]["pixel_size_um"], 0.5);
    assert!(!out.join("overlays").exists());
    let cell = &results["images"][0]["cells"][0];
    let px = cell["diameter_px"].as_f64().unwrap();
    assert!((cell["diameter_um"].as_f64().unwrap() - px * 0.5).abs() < 0.011);
}

/// Gated-out cells leave the count, keep their records and reasons, and
/// every counted cell meets the gates.
#[test]
fn gates_leave_cells_out_of_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let image = repo().join("sample-images/synthetic/field-0101.png");
    let (all, gated) = (dir.path().join("all"), dir.path().join("gated"));
    analyze(&[&image], &all, &["--overlays", "never"]).code(0);
    analyze(
        &[&image],
        &gated,
        &[
            "--overlays",
            "never",
            "--counting-region",
            "0,0,399,599",
            "--gate-diameter",
            "24,40",
        ],
    )
    .code(0);
    let all = &read_json(&all.join("results.json"))["images"][0];
    let gated = &read_json(&gated.join("results.json"))["images"][0];
    let (n_all, n_counted, n_gated) = (
        all["counts"]["total"].as_u64().unwrap(),
        gated["counts"]["total"].as_u64().unwrap(),
        gated["counts"]["gated"].as_u64().unwrap(),
    );
    assert_eq!(n_counted + n_gated, n_all);
    assert!(
        n_counted > 10 && n_gated > 10,
        "{n_counted} counted, {n_gated} gated"
    );
    for cell in gated["cells"].as_array().unwrap() {
        assert!(cell["x"].as_f64().unwrap() <= 399.0);
        assert!(cell["diameter_px"].as_f64().unwrap() >= 24.0);
    }
    let reasons: Vec<&str> = gated["gated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["gated_out"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len() as u64, n_gated);
    assert!(reasons.contains(&"outside_counting_region"));
    assert!(reasons.contains(&"diameter"));
}

/// `bench --json` reports every documented field (values are timings, so
/// only their presence and sanity are checked).
#[test]
fn bench_json_reports_every_field() {
    let assert = cellvia()
        .args([
            "bench",
            "--synthetic",
            "3",
            "--size",
            "200x150",
            "--cells",
            "8",
            "--threads",
            "2",
            "--overlays",
            "--json",
        ])
        .assert()
        .code(0);
    let report: Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    // Overlays were asked for, so drawing and encoding them took time.
    assert!(report["stages"]["overlay"].as_f64().unwrap() > 0.0);
    for key in [
        "images_per_s",
        "megapixels_per_s",
        "cells_per_s",
        "floor_images_per_s",
        "ratio_to_floor",
        "peak_rss_bytes",
    ] {
        assert!(report.get(key).is_some(), "{key} missing");
    }
    assert_eq!(report["images"], 3);
    assert_eq!(report["images_failed"], 0);
    assert!(report["images_per_s"].as_f64().unwrap() > 0.0);
    for stage in [
        "decode",
        "preprocess",
        "segment",
        "measure",
        "classify",
        "report",
    ] {
        assert!(report["stages"][stage].as_f64().unwrap() >= 0.0, "{stage}");
    }
    let threads: Vec<u64> = report["scaling"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["threads"].as_u64().unwrap())
        .collect();
    assert_eq!(threads, [1, 2]);
}

#[test]
fn print_default_config_is_stable() {
    let assert = cellvia()
        .args(["config", "--print-default"])
        .assert()
        .code(0);
    insta::assert_snapshot!(String::from_utf8_lossy(&assert.get_output().stdout));
}

#[test]
fn help_documents_exit_codes() {
    let assert = cellvia().args(["analyze", "--help"]).assert().code(0);
    let help = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(
        help.contains("0  all inputs analysed") && help.contains("2  fatal"),
        "{help}"
    );
}

#[test]
fn synth_is_deterministic_and_writes_truth() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a", "b"] {
        cellvia()
            .args([
                "synth", "--width", "120", "--height", "90", "--cells", "5", "--seed", "9", "--out",
            ])
            .arg(dir.path().join(name))
            .assert()
            .code(0);
    }
    let a = std::fs::read(dir.path().join("a/synth-0009.png")).unwrap();
    assert_eq!(
        a,
        std::fs::read(dir.path().join("b/synth-0009.png")).unwrap()
    );
    let truth = parse_truth_json(
        &std::fs::read_to_string(dir.path().join("a/synth-0009.truth.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(truth.cells.len(), 5);
}

#[test]
fn eval_scores_sample_results_against_their_truth() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    analyze(
        &[&repo().join("sample-images")],
        &out,
        &["--overlays", "never"],
    )
    .code(0);
    let assert = cellvia()
        .args(["eval", "--json", "--truth"])
        .arg(repo().join("sample-images"))
        .arg(out.join("results.json"))
        .assert()
        .code(0);
    let report: Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    let overall = &report["overall"];
    assert_eq!(overall["images_scored"], 9);
    assert_eq!(overall["images_without_truth"], 0);
    assert!(overall["f1"].as_f64().unwrap() >= 0.95, "{overall}");
    assert!(
        overall["viability_error_points"].as_f64().unwrap().abs() <= 3.0,
        "{overall}"
    );
    let table = cellvia()
        .args(["eval", "--truth"])
        .arg(repo().join("sample-images"))
        .arg(out.join("results.json"))
        .assert()
        .code(0);
    let text = String::from_utf8_lossy(&table.get_output().stdout).into_owned();
    assert!(
        text.contains("field-0101.png") && text.contains("live/dead accuracy on matched cells"),
        "{text}"
    );
}

/// cells.csv lists every object with its fate: counted cells, cells a gate
/// left out (naming the gate) and, with --list-debris, debris.
#[test]
fn cells_csv_lists_gated_cells_and_debris_with_a_counted_column() {
    let out = tempfile::tempdir().unwrap();
    cellvia()
        .arg("analyze")
        .arg(repo().join("sample-images/synthetic"))
        .args([
            "--quiet",
            "--list-debris",
            "--gate-diameter",
            "20,1000",
            "--out",
        ])
        .arg(out.path())
        .assert()
        .code(0);
    let results = read_json(&out.path().join("results.json"));
    let images = results["images"].as_array().unwrap();
    let count = |key: &str| -> usize {
        images
            .iter()
            .map(|i| match key {
                "debris" => i["debris"]["objects"].as_array().map_or(0, Vec::len),
                _ => i[key].as_array().map_or(0, Vec::len),
            })
            .sum()
    };
    let (cells, gated, debris) = (count("cells"), count("gated"), count("debris"));
    assert!(gated > 0 && debris > 0, "gated {gated}, debris {debris}");
    let text = std::fs::read_to_string(out.path().join("cells.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (label, counted, gated_out) = (column("label"), column("counted"), column("gated_out"));
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), cells + gated + debris);
    let of = |want_counted: &str, want_gate: &str, want_label: Option<&str>| {
        rows.iter()
            .filter(|r| r[counted] == *want_counted && r[gated_out] == *want_gate)
            .filter(|r| want_label.is_none_or(|l| r[label] == *l))
            .count()
    };
    assert_eq!(of("true", "", None), cells);
    assert_eq!(of("false", "diameter", None), gated);
    assert_eq!(of("false", "", Some("debris")), debris);
}
