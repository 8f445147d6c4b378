//! `--export masks,imagej,geojson` (issue 16): per-image label TIFFs, ImageJ
//! ROI sets and QuPath GeoJSON whose objects are exactly the rows of
//! cells.csv, opened by the tools labs use (tifffile, roifile, geojson;
//! installed by scripts/setup-tests.sh) and vouched for by the run log.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Analyses sample-images/ with every export, a circularity gate (so some
/// rows are gated out) and listed debris.
fn analyze_with_exports(out: &Path) {
    common::cellvia()
        .args(["analyze", "--quiet", "--export", "geojson,masks,imagej"])
        .args(["--gate-circularity", "0.9", "--list-debris", "--out"])
        .arg(out)
        .arg(common::repo().join("sample-images"))
        .assert()
        .code(0);
}

/// cells.csv rows by image path: id -> (area_px, counted).
fn cell_rows(out: &Path) -> BTreeMap<String, BTreeMap<u32, (u64, bool)>> {
    let mut rows: BTreeMap<String, BTreeMap<u32, (u64, bool)>> = BTreeMap::new();
    let mut reader = csv::Reader::from_path(out.join("cells.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (path, id, area, counted) = (
        column("path"),
        column("id"),
        column("area_px"),
        column("counted"),
    );
    for row in reader.records() {
        let row = row.unwrap();
        rows.entry(row[path].to_string()).or_default().insert(
            row[id].parse().unwrap(),
            (row[area].parse().unwrap(), &row[counted] == "true"),
        );
    }
    rows
}

/// Pixel counts per label of a 16-bit label TIFF.
fn label_areas(path: &Path) -> ((u32, u32), BTreeMap<u32, u64>) {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut decoder = tiff::decoder::Decoder::new(file).unwrap();
    let size = decoder.dimensions().unwrap();
    let tiff::decoder::DecodingResult::U16(pixels) = decoder.read_image().unwrap() else {
        panic!("{}: not a 16-bit label image", path.display());
    };
    let mut areas = BTreeMap::new();
    for v in pixels.into_iter().filter(|&v| v != 0) {
        *areas.entry(u32::from(v)).or_insert(0) += 1;
    }
    (size, areas)
}

#[test]
fn label_masks_hold_every_listed_object_with_its_cells_csv_id() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    analyze_with_exports(&out);
    let results = common::read_json(&out.join("results.json"));
    let rows = cell_rows(&out);
    let mut gated = 0;
    for (index, image) in results["images"].as_array().unwrap().iter().enumerate() {
        let path = image["path"].as_str().unwrap();
        let stem = Path::new(path).file_stem().unwrap().to_str().unwrap();
        let mask = out.join(format!("exports/{index:05}_{stem}.labels.tif"));
        let (size, areas) = label_areas(&mask);
        assert_eq!(
            size,
            (
                image["width"].as_u64().unwrap() as u32,
                image["height"].as_u64().unwrap() as u32
            ),
            "{path}: native resolution"
        );
        let listed = &rows[path];
        let from_csv: BTreeMap<u32, u64> = listed.iter().map(|(&id, &(a, _))| (id, a)).collect();
        assert_eq!(areas, from_csv, "{path}: ids and areas");
        gated += listed.values().filter(|(_, counted)| !counted).count();
        for kind in ["rois.zip", "geojson"] {
            assert!(out
                .join(format!("exports/{index:05}_{stem}.{kind}"))
                .is_file());
        }
    }
    assert!(gated > 0, "the gate left some cells out");
}

/// The interpreter with tifffile, roifile and geojson that
/// scripts/setup-tests.sh installs.
fn python_tools() -> Option<PathBuf> {
    let python = common::repo().join("target/pytools/bin/python");
    python.is_file().then_some(python)
}

#[test]
fn exports_open_in_tifffile_roifile_and_geojson() {
    let Some(python) = python_tools() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must check the exports with Python's tools: run scripts/setup-tests.sh"
        );
        eprintln!("SKIPPED: no target/pytools (run scripts/setup-tests.sh)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    analyze_with_exports(&out);
    let check = std::process::Command::new(python)
        .arg(common::repo().join("tests/exports_check.py"))
        .arg(&out)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let objects: usize = said
        .trim()
        .strip_prefix("exports ok: ")
        .and_then(|s| s.strip_suffix(" objects"))
        .unwrap()
        .parse()
        .unwrap();
    let rows: usize = cell_rows(&out).values().map(BTreeMap::len).sum();
    assert_eq!(objects, rows);
}

#[test]
fn a_changed_or_added_export_fails_verification() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    analyze_with_exports(&out);
    let verify = || {
        common::cellvia()
            .args(["audit", "verify", "--outputs"])
            .arg(out.join("run-log.jsonl"))
            .assert()
    };
    verify().code(0);
    let sums = std::fs::read_to_string(out.join("exports/SHA256SUMS")).unwrap();
    assert_eq!(sums.lines().count(), 9 * 3);
    let (_, first) = sums.lines().next().unwrap().split_once("  ").unwrap();
    std::fs::write(out.join("exports").join(first), b"edited").unwrap();
    let said = verify().code(1).get_output().stdout.clone();
    assert!(String::from_utf8_lossy(&said).contains("CHANGED"));
}
