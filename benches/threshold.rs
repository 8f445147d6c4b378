//! Flattening (background, contrast, noise), the size-free first pass of
//! `--diameter auto`, and thresholding the z image.
//! `cargo bench --bench threshold`
use cellvia::preprocess;
use cellvia::segment::{scale::object_diameters, threshold, Appearance};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

mod common;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("threshold");
    g.sample_size(10);
    for f in common::fixtures() {
        let s = &f.config.segment;
        g.throughput(Throughput::Elements(u64::from(f.z.width() * f.z.height())));
        g.bench_function(BenchmarkId::new("flatten", &f.name), |b| {
            b.iter(|| preprocess::flatten(&f.intensity, f.diameter.typical()))
        });
        g.bench_function(BenchmarkId::new("first_pass", &f.name), |b| {
            b.iter(|| object_diameters(&f.intensity, Appearance::Brightfield))
        });
        g.bench_function(BenchmarkId::new("hysteresis", &f.name), |b| {
            b.iter(|| threshold::hysteresis(&f.z, s.extent_sigma, s.seed_sigma))
        });
        g.bench_function(BenchmarkId::new("otsu", &f.name), |b| {
            b.iter(|| threshold::otsu_mask(&f.z, s.extent_sigma))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
