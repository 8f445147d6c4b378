//! Flattening (background, contrast, noise; the blur, the noise's MAD and
//! its sigma-clipped estimate alone too), the size-free first pass of `--diameter auto`, and
//! thresholding the z image.
//! `cargo bench --bench threshold`
use cellvia::preprocess;
use cellvia::segment::{scale::object_diameters, threshold, Appearance};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};

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
        // The smoothing of z, as `flatten` does it (sigma a twentieth of
        // the typical diameter, within 0.7-1.5 px).
        let sigma = (f.diameter.typical() / 20.0).clamp(0.7, 1.5) as f32;
        g.bench_function(BenchmarkId::new("blur", &f.name), |b| {
            b.iter_batched_ref(
                || f.z.clone(),
                |z| preprocess::gaussian_blur_in_place(z, sigma),
                BatchSize::LargeInput,
            )
        });
        g.bench_function(BenchmarkId::new("robust_sigma", &f.name), |b| {
            b.iter(|| preprocess::robust_sigma(f.z.as_raw()))
        });
        g.bench_function(BenchmarkId::new("background_sigma", &f.name), |b| {
            b.iter(|| preprocess::background_sigma(f.z.as_raw()))
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
