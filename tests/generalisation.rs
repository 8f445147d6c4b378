//! Generalisation: what cellvia reports must not depend on magnification,
//! the `--diameter` setting, or whether dead cells are smaller or larger
//! than live ones; and when images are unlike anything the model knows, it
//! must say so.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use cellvia::aggregate::record::ImageRecord;
use cellvia::classify::Viability;
use cellvia::config::{BitDepth, ChannelMode, DiameterRange};
use cellvia::eval::score_image;
use cellvia::pipeline::analyze_bytes;
use cellvia::preprocess::to_intensity;
use cellvia::segment::{scale::estimate_diameter, Appearance};
use cellvia::synth::looks::{DeadLook, LiveLook};
use cellvia::synth::{render, SynthParams};
use cellvia::Config;

fn classifier() -> Viability {
    Viability::for_config(&Config::default()).unwrap()
}

fn png(image: &image::DynamicImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Pooled viability of fields, in percent.
fn viability(records: &[ImageRecord]) -> f64 {
    let (live, total) = records.iter().fold((0, 0), |(l, t), r| {
        let c = r.counts.unwrap();
        (l + c.live, t + c.total)
    });
    100.0 * f64::from(live) / f64::from(total)
}

/// The auto diameter lands within ±15 % of the true cell diameter on
/// synthetic fields of 12 to 120 px cells (±20 % at 10 px).
#[test]
fn auto_diameter_finds_the_cell_size() {
    for (i, diameter) in [10.0, 16.0, 25.0, 40.0, 60.0, 90.0, 120.0]
        .into_iter()
        .enumerate()
    {
        let side = ((diameter * 12.0) as u32).max(320);
        let field = render(&SynthParams {
            width: side,
            height: side,
            cells: 30,
            diameter_mean: diameter,
            diameter_sd: 0.1 * diameter,
            seed: 700 + i as u64,
            ..Default::default()
        });
        let intensity = to_intensity(&field.image, ChannelMode::Luminance, BitDepth::Auto);
        let e = estimate_diameter(&intensity, Appearance::Brightfield).unwrap();
        let ratio = e.diameter_px / diameter;
        // Rims and the first pass's 1 px smoothing add about 2 px: +19 % at
        // 10 px, within ±15 % from 12 px up.
        let tolerance = if diameter < 12.0 { 0.2 } else { 0.15 };
        assert!(
            (ratio - 1.0).abs() <= tolerance,
            "true {diameter} px, measured {:.1} px",
            e.diameter_px
        );
    }
}

/// A field of `cells` cells of `diameter` px, 40 % dead, with two live and
/// two dead looks; dead cells `dead_size_ratio` times the live size.
fn field(seed: u64, diameter: f64, dead_size_ratio: f64) -> SynthParams {
    SynthParams {
        width: 900,
        height: 700,
        cells: 120,
        dead_fraction: 0.4,
        diameter_mean: diameter,
        diameter_sd: 0.1 * diameter,
        clump_fraction: 0.1,
        live_looks: vec![LiveLook::Refractile, LiveLook::HaloBright],
        dead_looks: vec![DeadLook::Dark, DeadLook::Pale],
        dead_size_ratio,
        seed,
        ..Default::default()
    }
}

/// Dead cells smaller than, as large as, or larger than live ones: the
/// viability is right in each case (the model reads the stain, not the size).
#[test]
fn size_swapped_fields_get_the_right_viability() {
    let classifier = classifier();
    for ratio in [0.6, 1.0, 1.6] {
        let (mut records, mut live, mut total) = (Vec::new(), 0, 0);
        for seed in 0..3 {
            let f = render(&field(810 + seed, 22.0, ratio));
            let (l, d) = f.truth.counts();
            (live, total) = (live + l, total + l + d);
            records.push(analyze_bytes(
                "f",
                &png(&f.image),
                &Config::default(),
                &classifier,
            ));
        }
        let truth = 100.0 * f64::from(live) / f64::from(total);
        let counted = viability(&records);
        // Measured: −0.1 / −1.2 / −3.6 points for ×0.6 / ×1 / ×1.6 (the
        // model misses more live cells beside large dead ones; issue target 2).
        assert!(
            (counted - truth).abs() <= 4.0,
            "dead size x{ratio}: viability {counted:.1} %, truth {truth:.1} %"
        );
    }
}

/// The same field at twice the magnification gives the same viability
/// within a point, with default settings.
#[test]
fn resampled_field_keeps_its_viability() {
    let classifier = classifier();
    let (mut small, mut large) = (Vec::new(), Vec::new());
    for seed in 0..2 {
        let f = render(&field(820 + seed, 16.0, 1.0));
        let (w, h) = (f.image.width(), f.image.height());
        let doubled = f
            .image
            .resize_exact(2 * w, 2 * h, image::imageops::FilterType::Triangle);
        small.push(analyze_bytes(
            "f",
            &png(&f.image),
            &Config::default(),
            &classifier,
        ));
        large.push(analyze_bytes(
            "f",
            &png(&doubled),
            &Config::default(),
            &classifier,
        ));
    }
    let (a, b) = (viability(&small), viability(&large));
    assert!((a - b).abs() <= 1.0, "x1 {a:.2} %, x2 {b:.2} %");
}

/// Dim live cells (a thin dark outline round a clear interior) among large
/// dark dead cells that cover much of the field, as in unseen synthetic
/// field 17: the dead cells inflate the field's MAD noise, smoothing at a
/// twentieth of a 60 px cell takes two thirds of a 3 px outline's depth, and
/// an outline that never reaches 6σ was kept only if its own pixels covered
/// a small cell's disc. 13 of its 20 live cells were lost that way, and
/// here recall was 0.66 and viability 0 % (truth 34 %); now 0.958 and
/// −2.9 points.
#[test]
fn dim_live_cells_among_crowded_dead_cells_are_counted() {
    let classifier = classifier();
    let (mut records, mut found, mut cells, mut live) = (Vec::new(), 0, 0, 0);
    for seed in 0..2 {
        let f = render(&SynthParams {
            width: 768,
            height: 768,
            cells: 60,
            dead_fraction: 0.65,
            diameter_mean: 60.0,
            diameter_sd: 6.0,
            clump_fraction: 0.0,
            live_looks: vec![LiveLook::Dim],
            dead_looks: vec![DeadLook::Dark, DeadLook::Textured],
            dead_size_ratio: 1.1,
            seed: 830 + seed,
            ..Default::default()
        });
        let record = analyze_bytes("f", &png(&f.image), &Config::default(), &classifier);
        let tally = score_image("f", &record.cells, &f.truth).tally;
        (found, cells, live) = (
            found + tally.true_positives,
            cells + tally.truth_cells,
            live + tally.truth_live,
        );
        records.push(record);
    }
    let recall = f64::from(found) / f64::from(cells);
    let (counted, truth) = (
        viability(&records),
        100.0 * f64::from(live) / f64::from(cells),
    );
    assert!(
        recall >= 0.93 && (counted - truth).abs() <= 4.0,
        "recall {recall:.3}; viability {counted:.1} %, truth {truth:.1} %"
    );
}

/// Any `--diameter` range that brackets the true size gives the same
/// viability as the measured one, within a point.
#[test]
fn diameter_setting_does_not_move_viability() {
    let classifier = classifier();
    let fields: Vec<Vec<u8>> = (0..2)
        .map(|s| png(&render(&field(830 + s, 20.0, 1.0)).image))
        .collect();
    let run = |diameter: Option<DiameterRange>| {
        let config = Config {
            diameter_px: diameter,
            ..Config::default()
        };
        let records: Vec<ImageRecord> = fields
            .iter()
            .map(|b| analyze_bytes("f", b, &config, &classifier))
            .collect();
        viability(&records)
    };
    let auto = run(None);
    for (min, max) in [(10.0, 30.0), (14.0, 36.0), (8.0, 40.0)] {
        let fixed = run(Some(DiameterRange { min, max }));
        assert!(
            (fixed - auto).abs() <= 1.0,
            "--diameter {min},{max}: {fixed:.2} % vs auto {auto:.2} %"
        );
    }
}

/// A fluorescence composite analysed as trypan-blue brightfield is refused
/// (`wrong_assay`), not counted as "0 cells"; lifted onto a lit grey
/// background it is analysed, and its blobs, all called debris (not novel:
/// see the model card's leave-one-look-out note), make the sample low
/// confidence. An ordinary trypan field of the same scene raises no such
/// warning.
#[test]
fn a_fluorescence_field_under_trypan_is_refused_and_a_trypan_one_is_not() {
    use cellvia::synth::SynthMode;
    let classifier = classifier();
    let config = Config::default();
    let aopi = render(&SynthParams {
        mode: SynthMode::Aopi,
        seed: 3,
        cells: 80,
        ..Default::default()
    });
    let refused = analyze_bytes("f", &png(&aopi.image), &config, &classifier);
    let error = refused.error.unwrap_or_default();
    assert!(error.contains("wrong_assay"), "{error}");
    assert!(refused.counts.is_none());
    let low_confidence = |record: &ImageRecord| {
        let mut acc = cellvia::aggregate::sample::SampleAccumulator::default();
        acc.add(record, &config);
        let sample = acc.finish("s", None, &config);
        let warned = sample
            .warnings
            .iter()
            .any(|w| w.starts_with("low confidence"));
        (warned, sample.warnings)
    };
    let grey = aopi.image.to_luma8();
    let lifted = image::DynamicImage::ImageLuma8(image::GrayImage::from_fn(
        grey.width(),
        grey.height(),
        |x, y| image::Luma([150 + (f32::from(grey.get_pixel(x, y).0[0]) * 0.4) as u8]),
    ));
    let record = analyze_bytes("f", &png(&lifted), &config, &classifier);
    let counts = record.counts.unwrap();
    assert!(counts.debris > 10 * counts.total, "{counts:?}");
    let (warned, warnings) = low_confidence(&record);
    assert!(warned, "{warnings:?}");
    // An ordinary trypan field of the same scene raises no such warning.
    let trypan = render(&SynthParams {
        seed: 3,
        cells: 80,
        ..Default::default()
    });
    let record = analyze_bytes("f", &png(&trypan.image), &config, &classifier);
    let (warned, warnings) = low_confidence(&record);
    assert!(!warned, "{warnings:?}");
}
