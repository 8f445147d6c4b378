//! The JSON Schema of results.json (issue 16): the shipped file is the one
//! the code generates, and real outputs (trypan with a spec and metadata,
//! AO/PI, a failed image) validate against it; a wrong type does not.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod common;

use std::path::Path;

use serde_json::Value;

fn shipped() -> Value {
    let path = common::repo().join("schemas/results.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn errors(validator: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn the_shipped_schema_is_the_generated_one() {
    let output = common::cellvia().arg("schema").output().unwrap();
    assert!(output.status.success());
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        printed,
        shipped(),
        "schemas/results.schema.json is stale: cellvia schema > schemas/results.schema.json"
    );
    assert_eq!(printed, cellvia::report::results_schema());
}

#[test]
fn real_results_validate_and_a_wrong_type_does_not() {
    let validator = jsonschema::validator_for(&shipped()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let samples = common::repo().join("sample-images");
    let spec = dir.path().join("spec.toml");
    std::fs::write(&spec, "min_viability = 0.7\nmin_cells_counted = 10\n").unwrap();
    let broken = dir.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join("cut.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let aopi = dir.path().join("aopi");
    common::cellvia()
        .args([
            "synth", "--mode", "aopi", "--count", "2", "--width", "300", "--height", "200", "--out",
        ])
        .arg(&aopi)
        .assert()
        .code(0);
    let runs: Vec<(&str, Vec<&Path>, Vec<&str>)> = vec![
        (
            "trypan",
            vec![&samples, &broken],
            vec![
                "--pixel-size",
                "0.5",
                "--asm",
                "--list-debris",
                "--meta",
                "batch=B-1",
                "--operator",
                "QC",
            ],
        ),
        ("aopi", vec![&aopi], vec!["--assay", "aopi"]),
    ];
    for (name, inputs, flags) in runs {
        let out = dir.path().join(format!("out-{name}"));
        let run = common::cellvia()
            .arg("analyze")
            .args(inputs)
            .args(&flags)
            .arg("--spec")
            .arg(&spec)
            .args(["--quiet", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(matches!(run.status.code(), Some(0 | 1)), "{name}: {run:?}");
        let results = common::read_json(&out.join("results.json"));
        let found = errors(&validator, &results);
        assert!(found.is_empty(), "{name}: {found:#?}");
        if name == "trypan" {
            assert!(results["images"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["status"] == "error"));
            let mut wrong = results.clone();
            wrong["images"][0]["counts"]["total"] = Value::from("many");
            wrong["summary"]["viability"] = Value::from("high");
            assert_eq!(errors(&validator, &wrong).len(), 2);
        }
    }
}
