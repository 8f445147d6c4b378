//! Per-stage benchmarks on synthetic fields of two sizes.
//! `cargo bench --bench stages` (ONNX Runtime must be fetched for `classify`).

use std::io::Cursor;

use cellvia::classify::Classifier;
use cellvia::config::{default_model_path, ClassifyConfig};
use cellvia::measure::{crop::crops, measure};
use cellvia::synth::{render, SynthParams};
use cellvia::{io::decode::decode, preprocess, segment, Config};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

fn field(width: u32, height: u32, cells: u32) -> Vec<u8> {
    let image = render(&SynthParams {
        width,
        height,
        cells,
        seed: 5,
        ..Default::default()
    })
    .image;
    let mut png = Cursor::new(Vec::new());
    image
        .write_to(&mut png, image::ImageFormat::Png)
        .expect("encode");
    png.into_inner()
}

fn stages(c: &mut Criterion) {
    let config = Config::default();
    let d = config.diameter();
    let classifier = Classifier::load(&default_model_path(), &ClassifyConfig::default()).ok();
    for (w, h, n) in [(225, 219, 4), (2048, 1536, 250)] {
        let png = field(w, h, n);
        let size = format!("{w}x{h}");
        let image = decode(&png, config.max_image_pixels).expect("decodes");
        let intensity = preprocess::to_intensity(&image, config.channel, config.bit_depth);
        let flat = preprocess::flatten(&intensity, d.typical());
        let seg = segment::segment(&flat.z, d, &config.segment);
        let objects = measure(&seg.labels, &seg.regions, &intensity);
        let spec = cellvia::measure::crop::DEFAULT_CROP_SPEC;
        let tensor = crops(&flat.contrast, &seg.labels, &objects, d.typical(), &spec);

        let mut g = c.benchmark_group("stages");
        g.sample_size(10);
        g.bench_function(BenchmarkId::new("decode_png", &size), |b| {
            b.iter(|| decode(&png, u64::MAX))
        });
        g.bench_function(BenchmarkId::new("flatten", &size), |b| {
            b.iter(|| preprocess::flatten(&intensity, d.typical()))
        });
        g.bench_function(BenchmarkId::new("segment", &size), |b| {
            b.iter(|| segment::segment(&flat.z, d, &config.segment))
        });
        g.bench_function(BenchmarkId::new("measure_and_crop", &size), |b| {
            b.iter(|| {
                let objects = measure(&seg.labels, &seg.regions, &intensity);
                crops(&flat.contrast, &seg.labels, &objects, d.typical(), &spec)
            })
        });
        if let Some(classifier) = &classifier {
            g.bench_function(BenchmarkId::new("classify", &size), |b| {
                b.iter(|| classifier.classify(&tensor))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, stages);
criterion_main!(benches);
