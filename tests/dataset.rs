//! `cellvia dataset`: the model's training crops, labelled from the truth,
//! at the shipped model's crop size or another one.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::path::Path;

mod common;

use common::{cellvia, read_json, repo};

fn dataset(out: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    cellvia()
        .arg("dataset")
        .arg(repo().join("sample-images/ldc"))
        .arg("--out")
        .arg(out)
        .args(extra)
        .assert()
}

#[test]
fn crops_are_exported_at_the_asked_size_with_the_same_objects() {
    let default = tempfile::tempdir().unwrap();
    dataset(default.path(), &[]).success();
    let meta = read_json(&default.path().join("dataset.json"));
    let n = meta["shape"][0].as_u64().unwrap();
    assert_eq!(meta["shape"], serde_json::json!([n, 3, 32, 32]));
    assert_eq!(meta["crop_size"], 32);
    let classes = &meta["classes"];
    let count = |c: &str| classes[c].as_u64().unwrap();
    assert!(
        count("live") > 0 && count("dead") > 0 && count("debris") > 0,
        "{classes}"
    );
    assert_eq!(count("live") + count("dead") + count("debris"), n);
    let bytes = |dir: &Path, name: &str| std::fs::read(dir.join(name)).unwrap();
    assert_eq!(
        bytes(default.path(), "crops.f32").len() as u64,
        n * 3 * 32 * 32 * 4
    );
    let csv = bytes(default.path(), "crops.csv");
    assert_eq!(csv.iter().filter(|&&b| b == b'\n').count() as u64, n + 1);

    let small = tempfile::tempdir().unwrap();
    dataset(small.path(), &["--crop-size", "24"]).success();
    let meta = read_json(&small.path().join("dataset.json"));
    assert_eq!(meta["shape"], serde_json::json!([n, 3, 24, 24]));
    assert_eq!(
        bytes(small.path(), "crops.f32").len() as u64,
        n * 3 * 24 * 24 * 4
    );
    // The objects and their labels do not depend on the crop size.
    assert_eq!(bytes(small.path(), "crops.csv"), csv);
}

#[test]
fn crop_sizes_the_model_cannot_pool_are_refused() {
    let out = tempfile::tempdir().unwrap();
    for size in ["20", "8", "72"] {
        let assert = dataset(out.path(), &["--crop-size", size]).code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(
            stderr.contains("multiple of 8 from 16 to 64"),
            "{size}: {stderr}"
        );
    }
}
