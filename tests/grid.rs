//! The pixel size from a counting chamber's rulings: `cellvia synth` renders
//! ruled fields of known pixel size at three magnifications, and `cellvia
//! analyze`, told the rulings' pitch and given no pixel size, must find it
//! within ±2 % and say it came from the grid; `--pixel-size` still wins.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

#[allow(dead_code)] // helpers shared by the end-to-end tests; not all are used here
mod common;

use std::path::{Path, PathBuf};

use common::{cellvia, read_json};

/// Two ruled 400×320 fields rendered at `pixel_size` µm/px with rulings
/// `pitch` µm apart, in a new folder under `dir`.
fn ruled_fields(dir: &Path, pixel_size: f64, pitch: f64) -> PathBuf {
    let fields = dir.join(format!("fields-{pixel_size}"));
    cellvia()
        .args([
            "synth", "--width", "400", "--height", "320", "--cells", "12",
        ])
        .args(["--count", "2", "--seed", "21", "--grid"])
        .args(["--grid-pitch", &pitch.to_string()])
        .args(["--pixel-size", &pixel_size.to_string()])
        .arg("--out")
        .arg(&fields)
        .assert()
        .code(0);
    fields
}

/// Analyses `fields` with the chamber's grid pitch set (when given) and
/// `extra` flags; returns results.json and stderr.
fn analyze(
    fields: &Path,
    out: &Path,
    pitch: Option<f64>,
    extra: &[&str],
) -> (serde_json::Value, String) {
    let config = out.with_extension("toml");
    let sample = pitch.map_or_else(String::new, |p| {
        format!("[sample]\nchamber_grid_pitch_um = {p}\n")
    });
    std::fs::write(&config, format!("{sample}[report]\nhtml = false\n")).unwrap();
    let run = cellvia()
        .arg("analyze")
        .arg(fields)
        .arg("--out")
        .arg(out)
        .args(["--quiet", "--overlays", "never", "--config"])
        .arg(&config)
        .args(extra)
        .assert()
        .code(0);
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
    (read_json(&out.join("results.json")), stderr)
}

#[test]
fn the_pixel_size_is_measured_from_the_rulings() {
    let dir = tempfile::tempdir().unwrap();
    // 10×-, 16×- and 4×-class magnifications: rulings 83.3, 55.6 and 92.6 px apart.
    for (pixel_size, pitch) in [(0.6, 50.0), (0.9, 50.0), (2.7, 250.0)] {
        let fields = ruled_fields(dir.path(), pixel_size, pitch);
        let out = dir.path().join(format!("out-{pixel_size}"));
        let (results, stderr) = analyze(&fields, &out, Some(pitch), &[]);
        assert_eq!(results["run"]["pixel_size_source"], "grid", "{stderr}");
        let found = results["config"]["pixel_size_um"].as_f64().unwrap();
        assert!(
            (found / pixel_size - 1.0).abs() < 0.02,
            "{found} µm/px measured for {pixel_size}"
        );
        assert!(
            results["samples"][0]["concentration_per_ml"]["total"]["value"]
                .as_f64()
                .unwrap()
                > 0.0
        );
    }
}

#[test]
fn a_pixel_size_given_wins_and_is_checked_against_the_rulings() {
    let dir = tempfile::tempdir().unwrap();
    let fields = ruled_fields(dir.path(), 0.6, 50.0);

    // The pitch set and a size given that disagrees: the size given wins.
    let (results, stderr) = analyze(
        &fields,
        &dir.path().join("given"),
        Some(50.0),
        &["--pixel-size", "0.5"],
    );
    assert_eq!(results["run"]["pixel_size_source"], "flag");
    assert_eq!(results["config"]["pixel_size_um"], 0.5);
    assert!(
        stderr.contains("the chamber's rulings give") && stderr.contains("using the one given"),
        "{stderr}"
    );

    // No pitch set: the rulings set nothing, but 83.3 px at 0.5 µm/px is
    // 41.7 µm, no pitch of an improved Neubauer.
    let (results, stderr) = analyze(
        &fields,
        &dir.path().join("unchecked"),
        None,
        &["--pixel-size", "0.5"],
    );
    assert_eq!(results["run"]["pixel_size_source"], "flag");
    assert!(
        stderr.contains("no ruling pitch of the chamber"),
        "{stderr}"
    );
    // The right size agrees with a pitch of 50 µm: no warning.
    let (_, stderr) = analyze(
        &fields,
        &dir.path().join("right"),
        None,
        &["--pixel-size", "0.6"],
    );
    assert!(!stderr.contains("ruling"), "{stderr}");

    // No pitch and no size: nothing is guessed.
    let (results, _) = analyze(&fields, &dir.path().join("unknown"), None, &[]);
    assert!(results["run"]["pixel_size_source"].is_null());
    assert!(results["config"]["pixel_size_um"].is_null());
}
