//! The fuzz regression corpus (`tests/fuzz-corpus/`): every input that ever
//! crashed or hung `cellvia analyze` (found by `scripts/fuzz.sh` or by hand),
//! analysed in one batch. Each must become an error record or a result,
//! never a lost batch.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::path::PathBuf;

use assert_cmd::Command;

/// The error each known input gets (files added later need only a record
/// without a caught panic).
const EXPECTED: &[(&str, &str)] = &[
    ("jpeg-truncated-half.jpg", "JPEG is truncated"),
    ("png-palette-plte4-8x8.png", "at least 16 px on each side"),
    ("png-palette-plte5-32x32.png", "PLTE chunk of 5 bytes"),
    ("png-strip-1x100000000.png", "at least 16 px on each side"),
];

#[test]
fn every_input_that_ever_crashed_is_now_a_record() {
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus");
    let files = std::fs::read_dir(&corpus).unwrap().count();
    assert!(files >= 4, "the corpus is in the repository");
    for threads in ["1", "2"] {
        let out = tempfile::tempdir().unwrap();
        let run = Command::cargo_bin("cellvia")
            .unwrap()
            .arg("analyze")
            .arg(&corpus)
            .arg("--out")
            .arg(out.path())
            .args(["--quiet", "--threads", threads])
            .timeout(std::time::Duration::from_secs(120))
            .assert();
        let code = run.get_output().status.code();
        assert!(
            matches!(code, Some(0 | 1)),
            "exit {code:?}: the batch was lost"
        );
        let results: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.path().join("results.json")).unwrap())
                .unwrap();
        let images = results["images"].as_array().unwrap();
        assert_eq!(images.len(), files, "one record per corpus file");
        for image in images {
            let path = image["path"].as_str().unwrap();
            let error = image["error"].as_str().unwrap_or_default();
            // A caught panic keeps the batch but is still a bug.
            assert!(!error.contains("internal error"), "{error}");
            if let Some((_, expected)) = EXPECTED.iter().find(|(name, _)| path.ends_with(name)) {
                assert!(error.contains(expected), "{path}: {error:?}");
            }
        }
    }
}
