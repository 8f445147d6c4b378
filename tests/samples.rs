//! Samples through the CLI: grouping by manifest or folder, concentration
//! from the counts, release verdicts and the exit code they set.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn analyze(args: &[&str], out: &Path) -> assert_cmd::assert::Assert {
    Command::cargo_bin("cellvia")
        .unwrap()
        .arg("analyze")
        .args(args)
        .arg("--out")
        .arg(out)
        .args(["--quiet", "--overlays", "never"])
        .assert()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Two samples from a manifest (one pre-diluted 1:4), a spec only the
/// first meets: its concentration follows from its counts by hand, the
/// second FAILs, and the run exits 1.
#[test]
fn manifest_samples_get_concentrations_and_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let synthetic = repo().join("sample-images/synthetic");
    let manifest = dir.path().join("manifest.csv");
    std::fs::write(
        &manifest,
        format!(
            "sample_id,image_path,dilution,donor\n\
             lot-A,{0}/field-0101.png,,D1\n\
             lot-A,{0}/field-0102.png,,D1\n\
             lot-B,{0}/field-0103.tif,5,D2\n",
            synthetic.display()
        ),
    )
    .unwrap();
    let spec = dir.path().join("spec.toml");
    std::fs::write(
        &spec,
        "name = \"test SOP\"\nmin_cells_counted = 50\nviable_cells_per_ml = { min = 5.0e5, max = 2.0e6 }\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    analyze(
        &[
            "--manifest",
            manifest.to_str().unwrap(),
            "--spec",
            spec.to_str().unwrap(),
            "--pixel-size",
            "1.5",
            "--chamber",
            "countess",
        ],
        &out,
    )
    .code(1);
    let results = read_json(&out.join("results.json"));
    let images = results["images"].as_array().unwrap();
    assert_eq!(images.len(), 3);
    let samples = results["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 2);
    let (a, b) = (&samples[0], &samples[1]);
    assert_eq!(a["sample_id"], "lot-A");
    assert_eq!(a["fields"], 2);
    assert_eq!(a["metadata"]["donor"], "D1");
    // By hand: two 800×600 fields at 1.5 µm/px, 100 µm deep.
    let live = |i: usize| images[i]["counts"]["live"].as_u64().unwrap() as f64;
    let volume_ml = 2.0 * 800.0 * 600.0 * 1.5 * 1.5 * 100.0 * 1e-12;
    let expected = (live(0) + live(1)) / volume_ml * 2.0;
    let got = a["concentration_per_ml"]["live"]["value"].as_f64().unwrap();
    assert!((got - expected).abs() < 0.1, "{got} vs {expected}");
    assert_eq!(a["verdict"]["verdict"], "PASS");
    // lot-B: pre-diluted ×5 and stained 1:1 → ×10, which puts it over 2e6.
    assert_eq!(b["dilution_factor"], 10.0);
    assert_eq!(b["verdict"]["verdict"], "FAIL");
    assert!(b["verdict"]["reasons"][0]
        .as_str()
        .unwrap()
        .starts_with("viable concentration"));
    assert_eq!(results["spec"]["criteria"]["name"], "test SOP");
    // Audit trail: every input's SHA-256 and the resolved config's.
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(synthetic.join("field-0101.png")).unwrap();
    assert_eq!(
        images[0]["sha256"].as_str().unwrap(),
        format!("{:x}", Sha256::digest(bytes))
    );
    assert_eq!(results["config_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(results["spec"]["sha256"].as_str().unwrap().len(), 64);
    let csv = std::fs::read_to_string(out.join("samples.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 3);
    assert!(rows[1].starts_with("lot-A,2,0,") && rows[1].contains(",PASS,"));
    assert!(rows[2].starts_with("lot-B,1,0,") && rows[2].contains(",FAIL,"));
    // The manifest's metadata are columns of samples.csv; images.csv and
    // cells.csv name each row's sample.
    assert!(rows[0].ends_with(",warnings,donor"), "{}", rows[0]);
    assert!(rows[1].ends_with(",D1") && rows[2].ends_with(",D2"));
    let images_csv = std::fs::read_to_string(out.join("images.csv")).unwrap();
    let samples_of: Vec<&str> = images_csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(samples_of, ["lot-A", "lot-A", "lot-B"]);
    let cells_csv = std::fs::read_to_string(out.join("cells.csv")).unwrap();
    let lot_b = cells_csv.lines().filter(|l| l.contains(",lot-B,")).count() as u64;
    assert_eq!(lot_b, images[2]["counts"]["total"].as_u64().unwrap());
}

/// Without a manifest each folder is a sample; without a pixel size there
/// is no concentration, and a spec that needs one makes the sample INVALID.
#[test]
fn folders_are_samples_and_missing_facts_are_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.toml");
    std::fs::write(&spec, "viable_cells_per_ml = { min = 1.0, max = 1.0e9 }\n").unwrap();
    let out = dir.path().join("out");
    let samples_dir = repo().join("sample-images");
    analyze(
        &[
            samples_dir.to_str().unwrap(),
            "--spec",
            spec.to_str().unwrap(),
        ],
        &out,
    )
    .code(1);
    let results = read_json(&out.join("results.json"));
    let samples = results["samples"].as_array().unwrap();
    let ids: Vec<&str> = samples
        .iter()
        .map(|s| s["sample_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(
        ids[0].ends_with("ldc") && ids[1].ends_with("synthetic"),
        "{ids:?}"
    );
    for s in samples {
        assert!(s["concentration_per_ml"].is_null());
        assert_eq!(s["verdict"]["verdict"], "INVALID");
    }
}

#[test]
fn a_bad_spec_or_manifest_is_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.toml");
    std::fs::write(&spec, "min_viability = 70\n").unwrap();
    let image = repo().join("sample-images/synthetic/field-0101.png");
    let out = dir.path().join("out");
    let assert = analyze(
        &[image.to_str().unwrap(), "--spec", spec.to_str().unwrap()],
        &out,
    )
    .code(2);
    assert!(String::from_utf8_lossy(&assert.get_output().stderr).contains("0.7"));
    let manifest = dir.path().join("m.csv");
    std::fs::write(&manifest, "sample,path\nA,a.png\n").unwrap();
    let assert = analyze(&["--manifest", manifest.to_str().unwrap()], &out).code(2);
    assert!(
        String::from_utf8_lossy(&assert.get_output().stderr).contains("sample_id and image_path")
    );
}

/// TIFFs that declare their pixel size (resolution tags) need no
/// `--pixel-size`: the size and its source are recorded and concentrations
/// computed; a flag that disagrees wins, with a warning.
#[test]
fn the_pixel_size_is_read_from_tiff_resolution_tags() {
    use tiff::encoder::{colortype::Gray8, Rational, TiffEncoder};
    let dir = tempfile::tempdir().unwrap();
    let fields = dir.path().join("fields");
    std::fs::create_dir(&fields).unwrap();
    for name in ["field-0101", "field-0102"] {
        let gray = image::open(repo().join(format!("sample-images/synthetic/{name}.png")))
            .unwrap()
            .to_luma8();
        let mut bytes = std::io::Cursor::new(Vec::new());
        let mut encoder = TiffEncoder::new(&mut bytes).unwrap();
        let mut tiff = encoder
            .new_image::<Gray8>(gray.width(), gray.height())
            .unwrap();
        // 20,000 px per cm: 0.5 µm/px.
        tiff.resolution(
            tiff::tags::ResolutionUnit::Centimeter,
            Rational { n: 20_000, d: 1 },
        );
        tiff.write_data(gray.as_raw()).unwrap();
        std::fs::write(fields.join(format!("{name}.tif")), bytes.into_inner()).unwrap();
    }
    let out = dir.path().join("out");
    analyze(&[fields.to_str().unwrap()], &out).code(0);
    let results = read_json(&out.join("results.json"));
    assert_eq!(results["config"]["pixel_size_um"], 0.5);
    assert_eq!(results["run"]["pixel_size_source"], "metadata");
    assert!(
        results["samples"][0]["concentration_per_ml"]["live"]["value"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("0.5 µm/px (declared in the image files"));

    // Settings that need a pixel size accept the files' one.
    let in_um = dir.path().join("in-um");
    analyze(&[fields.to_str().unwrap(), "--diameter-um", "6,30"], &in_um).code(0);
    let results = read_json(&in_um.join("results.json"));
    assert_eq!(results["config"]["diameter_um"]["min"], 6.0);

    let flagged = dir.path().join("flagged");
    let run = analyze(&[fields.to_str().unwrap(), "--pixel-size", "0.8"], &flagged).code(0);
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
    assert!(
        stderr.contains("differs from the one the files declare"),
        "{stderr}"
    );
    let results = read_json(&flagged.join("results.json"));
    assert_eq!(results["config"]["pixel_size_um"], 0.8);
    assert_eq!(results["run"]["pixel_size_source"], "flag");
}
