//! The AO/PI fluorescence path on synthetic fields with exact truth: counts
//! and viability, composite versus single-channel pairs, and the CLI's
//! pairing of channel files.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::io::Cursor;
use std::path::Path;

use assert_cmd::Command;
use cellvia::aggregate::record::ImageRecord;
use cellvia::classify::{AopiRule, Viability};
use cellvia::config::{AopiConfig, Assay};
use cellvia::eval::{score_image, summarize};
use cellvia::pipeline::{analyze, Source};
use cellvia::synth::{render, SynthDepth, SynthMode, SynthParams};
use cellvia::Config;
use image::{DynamicImage, GrayImage, ImageFormat};

fn aopi_config() -> Config {
    Config {
        assay: Assay::Aopi,
        ..Config::default()
    }
}

fn rule() -> Viability {
    Viability::AopiRule(AopiRule::from_config(&AopiConfig::default()))
}

/// 800×600 AO/PI composite, 80 cells (30 % dead), 20 % in clumps.
fn field(seed: u64, depth: SynthDepth) -> SynthParams {
    SynthParams {
        mode: SynthMode::Aopi,
        width: 800,
        height: 600,
        cells: 80,
        dead_fraction: 0.3,
        clump_fraction: 0.2,
        depth,
        seed,
        ..Default::default()
    }
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn run(source: Source) -> ImageRecord {
    analyze("field", source, &aopi_config(), &rule(), false, None).record
}

/// Ten consecutive seeds, none left out, at 8 and 12 bits: total count
/// within 2 % and viability within 1 percentage point of the truth.
#[test]
fn counts_and_viability_match_the_truth() {
    for depth in [SynthDepth::Eight, SynthDepth::Twelve] {
        let mut scores = Vec::new();
        for seed in 300..310 {
            let p = field(seed, depth);
            let f = render(&p);
            let record = run(Source::Image(&encode(&f.image, p.file_format().1)));
            assert!(record.error.is_none(), "{:?}", record.error);
            assert!(
                record.quality_flags.is_empty(),
                "seed {seed}: a clean field flagged {:?} ({:?})",
                record.quality_flags,
                record.quality
            );
            scores.push(score_image("field", &record.cells, &f.truth));
        }
        let report = summarize(scores).overall;
        let count_error = report.total_count_error_pct.unwrap();
        assert!(
            count_error.abs() <= 2.0,
            "{depth:?}: count error {count_error} %"
        );
        let viability_error = report.viability_error_points.unwrap();
        assert!(
            viability_error.abs() <= 1.0,
            "{depth:?}: viability error {viability_error} points"
        );
        assert!(report.f1 >= 0.98, "{depth:?}: F1 {}", report.f1);
    }
}

/// Nuclei covering much of the field (600 in 800×600, 35 % clumped) do not
/// inflate the noise sigma: with the plain MAD every nucleus fell under the
/// stain threshold and was called debris (recall 0.02).
#[test]
fn dense_fields_are_counted() {
    let mut scores = Vec::new();
    for seed in 9300..9303 {
        let p = SynthParams {
            cells: 600,
            clump_fraction: 0.35,
            ..field(seed, SynthDepth::Eight)
        };
        let f = render(&p);
        let record = run(Source::Image(&encode(&f.image, p.file_format().1)));
        assert!(record.error.is_none(), "{:?}", record.error);
        scores.push(score_image("field", &record.cells, &f.truth));
    }
    let report = summarize(scores).overall;
    let count_error = report.total_count_error_pct.unwrap();
    assert!(count_error.abs() <= 3.0, "count error {count_error} %");
    let viability_error = report.viability_error_points.unwrap();
    assert!(
        viability_error.abs() <= 1.0,
        "viability error {viability_error} points"
    );
}

/// The same field as one RGB composite or as two gray files gives the same
/// cells, labels and stains.
#[test]
fn channel_pair_equals_composite() {
    let p = field(42, SynthDepth::Eight);
    let rgb = render(&p).image.to_rgb8();
    let channel = |c: usize| {
        let gray = GrayImage::from_fn(rgb.width(), rgb.height(), |x, y| {
            image::Luma([rgb.get_pixel(x, y).0[c]])
        });
        encode(&DynamicImage::ImageLuma8(gray), ImageFormat::Png)
    };
    let composite = run(Source::Image(&encode(
        &DynamicImage::ImageRgb8(rgb.clone()),
        ImageFormat::Png,
    )));
    let pair = run(Source::Pair {
        ao: &channel(1),
        pi: &channel(0),
    });
    assert!(composite.counts.unwrap().total >= 70);
    assert_eq!(composite.cells, pair.cells);
    assert_eq!(composite.counts, pair.counts);
    // Swapping the channels turns the live majority dead.
    let swapped = run(Source::Pair {
        ao: &channel(0),
        pi: &channel(1),
    });
    let (c, s) = (composite.counts.unwrap(), swapped.counts.unwrap());
    assert!(c.live > c.dead && s.dead > s.live, "{c:?} vs {s:?}");
}

/// A trypan config with the AO/PI rule (or the reverse) is refused per field.
#[test]
fn assay_mismatch_is_an_error_record() {
    let p = field(1, SynthDepth::Eight);
    let bytes = encode(&render(&p).image, ImageFormat::Png);
    let record = analyze(
        "field",
        Source::Image(&bytes),
        &Config::default(),
        &rule(),
        false,
        None,
    )
    .record;
    assert!(record.error.unwrap().contains("assay"));
}

fn write(path: &Path, image: &DynamicImage) {
    std::fs::write(path, encode(image, ImageFormat::Png)).unwrap();
}

/// `analyze --assay aopi` pairs NAME_AO/NAME_PI files, takes other images as
/// composites, and reports an unpaired channel file as an error (exit 1);
/// it needs no ONNX Runtime.
#[test]
fn cli_pairs_channel_files() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let rgb = render(&field(7, SynthDepth::Eight)).image.to_rgb8();
    let channel = |c: usize| {
        DynamicImage::ImageLuma8(GrayImage::from_fn(rgb.width(), rgb.height(), |x, y| {
            image::Luma([rgb.get_pixel(x, y).0[c]])
        }))
    };
    write(&input.join("well1_AO.png"), &channel(1));
    write(&input.join("well1_PI.png"), &channel(0));
    write(
        &input.join("well2.png"),
        &DynamicImage::ImageRgb8(rgb.clone()),
    );
    write(&input.join("well3_AO.png"), &channel(1));
    let out = dir.path().join("out");
    Command::cargo_bin("cellvia")
        .unwrap()
        .args([
            "analyze",
            "--assay",
            "aopi",
            "--quiet",
            "--overlays",
            "never",
        ])
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1);
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let images = results["images"].as_array().unwrap();
    assert_eq!(images.len(), 3);
    assert!(images[0]["path"]
        .as_str()
        .unwrap()
        .ends_with("well1_AO.png"));
    assert!(images[0]["pi_path"]
        .as_str()
        .unwrap()
        .ends_with("well1_PI.png"));
    assert!(images[1]["path"].as_str().unwrap().ends_with("well2.png"));
    assert_eq!(images[0]["counts"], images[1]["counts"]);
    assert_eq!(images[0]["cells"], images[1]["cells"]);
    assert!(images[2]["error"].as_str().unwrap().contains("_PI"));
    assert_eq!(results["model"]["name"], "cellvia-aopi-rule-v1");
    assert_eq!(results["config"]["assay"], "aopi");
    let cells_csv = std::fs::read_to_string(out.join("cells.csv")).unwrap();
    let header = cells_csv.lines().next().unwrap();
    assert!(header.ends_with(",ao,pi,pi_fraction,stain_sigma,novelty"));
    let first = cells_csv.lines().nth(1).unwrap();
    assert!(!first.ends_with(",,,,"), "stains missing: {first}");
}
