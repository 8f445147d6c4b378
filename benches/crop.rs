//! Cutting the classifier's input tensor: resampled three-channel crops
//! per object, windows of their own size, the contrast recomputed for
//! each window as in the pipeline. `cargo bench --bench crop`
use cellvia::measure::crop::{crops, CropSource, FlattenedContrast, DEFAULT_CROP_SPEC};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

mod common;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("crop");
    g.sample_size(20);
    for f in common::fixtures() {
        g.throughput(Throughput::Elements(f.objects.len() as u64));
        g.bench_function(BenchmarkId::new("crops", &f.name), |b| {
            b.iter(|| {
                let source = CropSource {
                    contrast: &FlattenedContrast {
                        contrast: &f.contrast,
                        intensity: &f.intensity,
                    },
                    dye: None,
                    labels: &f.segmentation.labels,
                };
                crops(&source, &f.objects, &DEFAULT_CROP_SPEC)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
