//! `analyze --shard K/N` and `merge` (issue 17): merged outputs (exports
//! included) are the bytes of one run (but for its `run` block) for N = 1, 2, 3 and 7, over
//! trypan and AO/PI sample sets with a manifest and a spec; incomplete,
//! doubled, mismatched or edited shards are refused. Also the Kubernetes
//! Indexed Job's command line.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

/// A sample set: a manifest over its images, a spec, and analyze flags.
struct Set {
    manifest: PathBuf,
    spec: PathBuf,
    flags: Vec<String>,
}

fn trypan_set(dir: &Path) -> Set {
    let images = common::repo().join("sample-images");
    let manifest = dir.join("trypan.csv");
    let mut text = String::from("sample_id,image_path,dilution,donor\n");
    for (i, name) in [
        "ldc/cell (1).png",
        "ldc/cell (352).png",
        "ldc/d (1).png",
        "ldc/g (1).png",
        "ldc/g (3).png",
        "ldc/image_600.png",
        "synthetic/field-0101.png",
        "synthetic/field-0102.png",
        "synthetic/field-0103.tif",
    ]
    .iter()
    .enumerate()
    {
        let sample = ["A", "B", "C"][i % 3];
        text += &format!("{sample},{},2,D{sample}\n", images.join(name).display());
    }
    std::fs::write(&manifest, text).unwrap();
    let spec = dir.join("trypan-spec.toml");
    std::fs::write(&spec, "min_viability = 0.7\nmin_cells_counted = 20\n").unwrap();
    Set {
        manifest,
        spec,
        flags: [
            "--pixel-size",
            "0.5",
            "--overlays",
            "always",
            "--asm",
            "--meta",
            "batch=B-17",
            "--export",
            "masks,imagej,geojson",
        ]
        .map(String::from)
        .to_vec(),
    }
}

fn aopi_set(dir: &Path) -> Set {
    let fields = dir.join("aopi");
    common::cellvia()
        .args([
            "synth", "--mode", "aopi", "--count", "5", "--width", "400", "--height", "300",
            "--cells", "40", "--out",
        ])
        .arg(&fields)
        .assert()
        .code(0);
    let mut images: Vec<PathBuf> = std::fs::read_dir(&fields)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    images.sort();
    assert_eq!(images.len(), 5);
    let manifest = dir.join("aopi.csv");
    let mut text = String::from("sample_id,image_path\n");
    for (i, image) in images.iter().enumerate() {
        text += &format!(
            "{},{}\n",
            if i < 2 { "tube-1" } else { "tube-2" },
            image.display()
        );
    }
    std::fs::write(&manifest, text).unwrap();
    let spec = dir.join("aopi-spec.toml");
    std::fs::write(&spec, "min_viability = 0.5\nmin_cells_counted = 30\n").unwrap();
    Set {
        manifest,
        spec,
        flags: ["--assay", "aopi", "--pixel-size", "0.65"]
            .map(String::from)
            .to_vec(),
    }
}

fn analyze(set: &Set, out: &Path, extra: &[&str]) -> i32 {
    let output = common::cellvia()
        .args(["analyze", "--quiet", "--manifest"])
        .arg(&set.manifest)
        .args(&set.flags)
        .args(extra)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    output.status.code().unwrap()
}

fn merge(shards: &[PathBuf], out: &Path, extra: &[&str]) -> (i32, String) {
    let output = common::cellvia()
        .arg("merge")
        .args(shards)
        .arg("--quiet")
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// results.json without its `run` block.
fn results_without_run(out: &Path) -> Value {
    let mut results = common::read_json(&out.join("results.json"));
    results.as_object_mut().unwrap().remove("run");
    results
}

fn shards(set: &Set, dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|k| {
            let out = dir.join(format!("shard-{k}-of-{n}"));
            let code = analyze(
                set,
                &out,
                &["--shard", &format!("{k}/{n}"), "--threads", "1"],
            );
            assert!(code <= 1, "shard {k}/{n} exit {code}");
            out
        })
        .collect()
}

fn assert_merge_equals_one_run(set: &Set, dir: &Path, with_spec_at_merge: bool) {
    let plain = dir.join("plain");
    let spec_flag = ["--spec", set.spec.to_str().unwrap()];
    let code = analyze(
        set,
        &plain,
        if with_spec_at_merge { &spec_flag } else { &[] },
    );
    for n in [1, 2, 3, 7] {
        let mut shards = shards(set, dir, n);
        shards.reverse(); // any order
        let merged = dir.join(format!("merged-{n}"));
        let spec = set.spec.to_str().unwrap();
        let extra: &[&str] = if with_spec_at_merge {
            &["--spec", spec]
        } else {
            &[]
        };
        let (merge_code, stderr) = merge(&shards, &merged, extra);
        assert_eq!(merge_code, code, "N = {n}: {stderr}");
        for name in ["samples.csv", "images.csv", "cells.csv"] {
            assert_eq!(
                std::fs::read(merged.join(name)).unwrap(),
                std::fs::read(plain.join(name)).unwrap(),
                "N = {n}: {name}"
            );
        }
        assert_eq!(
            results_without_run(&merged),
            results_without_run(&plain),
            "N = {n}"
        );
        for sums in ["overlays/SHA256SUMS", "exports/SHA256SUMS"] {
            let read = |out: &Path| std::fs::read(out.join(sums)).ok();
            assert_eq!(read(&merged), read(&plain), "N = {n}: {sums}");
        }
        let log = std::fs::read_to_string(merged.join("run-log.jsonl")).unwrap();
        let record: Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
        assert_eq!(record["merged"].as_array().unwrap().len(), n);
        assert_eq!(record["merged"][0]["shard"], format!("0/{n}"));
    }
}

#[test]
fn merged_trypan_shards_equal_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let set = trypan_set(dir.path());
    assert_merge_equals_one_run(&set, dir.path(), true);
    let sums = std::fs::read_to_string(dir.path().join("plain/exports/SHA256SUMS")).unwrap();
    assert_eq!(sums.lines().count(), 9 * 3, "three exports per field");
    // The report thumbnails come through the shards too.
    let report = std::fs::read_to_string(dir.path().join("merged-3/report.html")).unwrap();
    let plain = std::fs::read_to_string(dir.path().join("plain/report.html")).unwrap();
    assert_eq!(
        report.matches("data:image/png;base64,").count(),
        plain.matches("data:image/png;base64,").count()
    );
}

#[test]
fn merged_aopi_shards_equal_one_run_with_the_shards_spec() {
    let dir = tempfile::tempdir().unwrap();
    let mut set = aopi_set(dir.path());
    // The spec given to the shards is the merge's when it gives none.
    let spec = set.spec.to_str().unwrap().to_string();
    set.flags.extend(["--spec".to_string(), spec]);
    assert_merge_equals_one_run(&set, dir.path(), false);
}

#[test]
fn incomplete_doubled_mismatched_or_edited_shards_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let set = trypan_set(dir.path());
    let three = shards(&set, dir.path(), 3);
    let refused = |shards: &[PathBuf], expected: &str| {
        let out = dir.path().join("refused");
        let (code, stderr) = merge(shards, &out, &[]);
        assert_eq!(code, 2, "{stderr}");
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in {stderr}"
        );
        assert!(!out.join("results.json").exists());
    };
    refused(&three[..2], "shards missing: 2/3");
    refused(
        &[
            three[0].clone(),
            three[1].clone(),
            three[1].clone(),
            three[2].clone(),
        ],
        "given twice",
    );
    let other = dir.path().join("other-config");
    analyze(&set, &other, &["--shard", "2/3", "--stain-dilution", "3"]);
    refused(
        &[three[0].clone(), three[1].clone(), other],
        "settings (config)",
    );
    let other_count = dir.path().join("other-count");
    analyze(&set, &other_count, &["--shard", "2/4"]);
    refused(
        &[three[0].clone(), three[1].clone(), other_count],
        "shard count",
    );
    // A model at another path is another model, to the record.
    let model = dir.path().join("copy.onnx");
    std::fs::copy(
        common::repo().join("models/cellvia-viability-v3.onnx"),
        &model,
    )
    .unwrap();
    let other_model = dir.path().join("other-model");
    analyze(
        &set,
        &other_model,
        &["--shard", "2/3", "--model", model.to_str().unwrap()],
    );
    refused(&[three[0].clone(), three[1].clone(), other_model], "model");
    // An edited image record, and an edited overlay.
    let results = three[1].join("results.json");
    let text = std::fs::read_to_string(&results).unwrap();
    std::fs::write(&results, text.replacen("\"live\"", "\"dead\"", 1)).unwrap();
    refused(&three, "results.json was changed after its run-log record");
    std::fs::write(&results, text).unwrap();
    let sums = std::fs::read_to_string(three[2].join("overlays/SHA256SUMS")).unwrap();
    let overlay = sums.lines().next().unwrap().split_once("  ").unwrap().1;
    std::fs::write(three[2].join("overlays").join(overlay), b"not the overlay").unwrap();
    refused(&three, "was changed after its run-log record");
}

#[test]
fn the_kubernetes_indexed_job_runs_one_shard_per_index() {
    let text = std::fs::read_to_string(common::repo().join("deploy/k8s/cellvia-indexed-job.json"))
        .unwrap();
    let job: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(job["kind"], "Job");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let shards = spec["completions"].as_u64().unwrap();
    assert!(spec["parallelism"].as_u64().unwrap() <= shards);
    let container = &spec["template"]["spec"]["containers"][0];
    let env: Vec<(&str, &str)> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| Some((e["name"].as_str()?, e["value"].as_str()?)))
        .collect();
    let shard_count = env.iter().find(|(n, _)| *n == "SHARDS").unwrap().1;
    assert_eq!(shard_count, shards.to_string());
    // The command line the shell builds, for index 4: `--shard 4/N`.
    let script = container["command"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap();
    assert!(script.contains("cellvia analyze"), "{script}");
    let built = script
        .replace("${JOB_COMPLETION_INDEX}", "4")
        .replace("${SHARDS}", shard_count);
    assert!(built.contains(&format!("--shard 4/{shards}")), "{built}");
    assert!(built.contains("--out /results/shard-4"), "{built}");
    let argv: Vec<&str> = built.split_whitespace().collect();
    let shard = argv[argv.iter().position(|a| *a == "--shard").unwrap() + 1];
    assert!(cellvia::batch::Shard::parse(shard).is_ok());
}
