//! The committed viability model: contract, real crops, batching.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::path::{Path, PathBuf};

use cellvia::classify::{CellClass, Classifier};
use cellvia::config::{default_model_path, ClassifyConfig};
use cellvia::dataset::label_candidates;
use cellvia::pipeline::{candidates, Source, StageTimes};
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
    assert_eq!(info.name, "cellvia-viability-v3");
    assert!(classifier.scores_novelty(), "v3 exports its features");
    let card = std::fs::read_to_string(repo().join("models/cellvia-viability-v3.md")).unwrap();
    assert!(
        card.contains(&info.sha256),
        "model card must state the model's SHA-256 {}",
        info.sha256
    );
}

fn classified_candidates(
    classifier: &Classifier,
    name: &str,
) -> (Vec<(f64, f64)>, Vec<CellClass>, Vec<CellClass>) {
    let dir = repo().join("sample-images/ldc");
    let bytes = std::fs::read(dir.join(format!("{name}.png"))).unwrap();
    let truth =
        parse_voc(&std::fs::read_to_string(dir.join(format!("{name}.xml"))).unwrap()).unwrap();
    let cands = candidates(
        Source::Image(&bytes),
        &Config::default(),
        Some(&classifier.crop_spec()),
        None,
        &mut StageTimes::default(),
    )
    .unwrap();
    let labels = label_candidates(&cands.objects, &truth);
    let probs = classifier.classify(&cands.crops).unwrap();
    for s in &probs {
        let p = s.probabilities;
        let sum = p.live + p.dead + p.debris;
        assert!((sum - 1.0).abs() < 1e-4, "probabilities sum to {sum}");
    }
    let centroids = cands.objects.iter().map(|o| (o.x, o.y)).collect();
    (
        centroids,
        labels,
        probs.iter().map(|p| p.probabilities.class()).collect(),
    )
}

/// Unambiguous objects in held-out LDC images (groups `cell` and `g`), with
/// the class their VOC labels (or, for debris, their absence) give.
#[test]
fn clear_held_out_crops_get_their_labels() {
    use CellClass::{Dead, Debris, Live};
    let expectations = [
        ("cell (1)", 176.5, 92.9, Live),
        ("cell (352)", 70.8, 71.0, Live),
        ("cell (352)", 148.6, 172.5, Dead),
        ("cell (352)", 19.6, 208.4, Dead),
        ("g (1)", 98.3, 73.0, Live),
        ("g (1)", 108.0, 33.8, Debris),
        ("g (3)", 158.3, 49.8, Live),
        ("g (3)", 9.1, 9.2, Debris), // ruling crossing
    ];
    let classifier = load(64);
    for (name, x, y, want) in expectations {
        let (centroids, labels, classes) = classified_candidates(&classifier, name);
        let nearest = (0..centroids.len())
            .min_by(|&a, &b| {
                let d = |i: usize| (centroids[i].0 - x).hypot(centroids[i].1 - y);
                d(a).total_cmp(&d(b))
            })
            .unwrap();
        let (cx, cy) = centroids[nearest];
        assert!(
            (cx - x).hypot(cy - y) < 3.0,
            "{name}: no candidate at ({x}, {y})"
        );
        assert_eq!(labels[nearest], want, "{name} ({x}, {y}): truth");
        assert_eq!(classes[nearest], want, "{name} ({x}, {y}): model");
    }
}

/// All candidates of the held-out sample images, ambiguous ones included:
/// a floor, not a target (held-out crop accuracy is about 0.9; these four
/// fields hold a cell split by a ruling and unlabelled dark objects).
#[test]
fn held_out_candidates_mostly_right() {
    let classifier = load(64);
    let (mut right, mut total) = (0, 0);
    for name in ["cell (1)", "cell (352)", "g (1)", "g (3)"] {
        let (_, labels, classes) = classified_candidates(&classifier, name);
        total += labels.len();
        right += labels.iter().zip(&classes).filter(|(a, b)| a == b).count();
    }
    assert!(total >= 30, "{total} candidates");
    assert!(right as f64 / total as f64 >= 0.75, "{right}/{total} right");
}

#[test]
fn batched_equals_one_by_one() {
    let config = Config::default();
    let bytes = std::fs::read(repo().join("sample-images/synthetic/field-0101.png")).unwrap();
    let batched = load(64);
    let single = load(1);
    let cands = candidates(
        Source::Image(&bytes),
        &config,
        Some(&batched.crop_spec()),
        None,
        &mut StageTimes::default(),
    )
    .unwrap();
    assert!(cands.crops.shape()[0] > 64, "more crops than one batch");
    let a = batched.classify(&cands.crops).unwrap();
    let b = single.classify(&cands.crops).unwrap();
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        let (x, y) = (x.probabilities, y.probabilities);
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

/// The committed model is what the committed script trains from the
/// committed code and data, bit for bit. It retrains from scratch (about
/// 25 minutes on 2 cores, after `cargo build --release` and
/// `pip install -r models/train/requirements.txt`), so it is not part of the
/// default run: `cargo test --release --test model -- --ignored`.
#[test]
#[ignore = "retrains the model from scratch (about 25 minutes)"]
fn committed_model_is_reproduced_by_its_script() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("retrained.onnx");
    let status = std::process::Command::new("python3")
        .current_dir(repo())
        .arg("models/train/train.py")
        .args(["--ldc", "../shared/data/ldc", "--work"])
        .arg(work.path().join("work"))
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "training script failed");
    let retrained = std::fs::read(&out).unwrap();
    let committed = std::fs::read(default_model_path()).unwrap();
    assert!(
        retrained == committed,
        "retrained model differs from the committed one"
    );
}
