//! The committed viability model: contract, real crops, batching.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::path::{Path, PathBuf};

use cellvia::classify::{CellClass, Classifier};
use cellvia::config::{default_model_path, ClassifyConfig};
use cellvia::dataset::label_candidates;
use cellvia::pipeline::{candidates, StageTimes};
use cellvia::truth::parse_voc;
use cellvia::Config;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(batch_size: usize) -> Classifier {
    Classifier::load(
        &default_model_path(),
        &ClassifyConfig {
            batch_size,
            ..Default::default()
        },
    )
    .expect("committed model loads")
}

#[test]
fn committed_model_meets_contract() {
    let classifier = load(64);
    let spec = classifier.crop_spec();
    assert_eq!(spec.size, 32);
    assert_eq!(
        spec,
        cellvia::measure::crop::DEFAULT_CROP_SPEC,
        "model trained with the default crop spec"
    );
    let info = classifier.info();
    assert_eq!(info.name, "cellvia-viability-v1");
    let card = std::fs::read_to_string(repo().join("models/cellvia-viability-v1.md")).unwrap();
    assert!(
        card.contains(&info.sha256),
        "model card must state the model's SHA-256 {}",
        info.sha256
    );
}

/// Candidates of real LDC images from the held-out groups, labelled by their
/// VOC boxes: the model must get nearly all of them right.
#[test]
fn real_held_out_crops_are_classified() {
    let classifier = load(64);
    let config = Config::default();
    let (mut right, mut total) = (0, 0);
    for name in ["cell (1)", "cell (57)", "g (1)", "g (3)"] {
        let dir = repo().join("sample-images/ldc");
        let bytes = std::fs::read(dir.join(format!("{name}.png"))).unwrap();
        let truth =
            parse_voc(&std::fs::read_to_string(dir.join(format!("{name}.xml"))).unwrap()).unwrap();
        let cands = candidates(
            &bytes,
            &config,
            &classifier.crop_spec(),
            &mut StageTimes::default(),
        )
        .unwrap();
        let expected = label_candidates(&cands.objects, &truth);
        let probs = classifier.classify(&cands.crops).unwrap();
        for (p, want) in probs.iter().zip(&expected) {
            total += 1;
            right += usize::from(p.class() == *want);
            let sum = p.live + p.dead + p.debris;
            assert!((sum - 1.0).abs() < 1e-4, "probabilities sum to {sum}");
        }
        assert!(
            expected.iter().filter(|c| **c != CellClass::Debris).count() >= 3,
            "{name} has labelled cells"
        );
    }
    assert!(total >= 20, "{total} candidates");
    assert!(right as f64 / total as f64 >= 0.9, "{right}/{total} right");
}

#[test]
fn batched_equals_one_by_one() {
    let config = Config::default();
    let bytes = std::fs::read(repo().join("sample-images/synthetic/field-0101.png")).unwrap();
    let batched = load(64);
    let single = load(1);
    let cands = candidates(
        &bytes,
        &config,
        &batched.crop_spec(),
        &mut StageTimes::default(),
    )
    .unwrap();
    assert!(cands.crops.shape()[0] > 64, "more crops than one batch");
    let a = batched.classify(&cands.crops).unwrap();
    let b = single.classify(&cands.crops).unwrap();
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert!(
            (x.live - y.live).abs() < 1e-5 && (x.dead - y.dead).abs() < 1e-5,
            "{x:?} vs {y:?}"
        );
        assert_eq!(x.class(), y.class());
    }
}

#[test]
fn model_without_cellvia_metadata_is_refused() {
    // A valid ONNX graph (Identity) that lacks cellvia's contract.
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/identity.onnx");
    let err = Classifier::load(&model, &ClassifyConfig::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("input contract") && err.contains("cellvia.classes"),
        "{err}"
    );
}
