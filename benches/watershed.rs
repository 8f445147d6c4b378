//! Declumping: seeds at distance maxima and the marker watershed, and the
//! whole segmentation for scale. `cargo bench --bench watershed`
use cellvia::segment::{self, seeds::find_seeds, watershed::watershed};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

mod common;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("watershed");
    g.sample_size(10);
    for f in common::fixtures() {
        let (min_radius, separation) = (0.4 * f.diameter.min as f32, 0.6 * f.diameter.min as f32);
        let seeds = find_seeds(&f.distance, min_radius, separation);
        g.throughput(Throughput::Elements(u64::from(
            f.mask.width() * f.mask.height(),
        )));
        g.bench_function(BenchmarkId::new("find_seeds", &f.name), |b| {
            b.iter(|| find_seeds(&f.distance, min_radius, separation))
        });
        g.bench_function(BenchmarkId::new("watershed", &f.name), |b| {
            b.iter(|| watershed(&f.mask, &f.distance, &seeds))
        });
        g.bench_function(BenchmarkId::new("segment_all_steps", &f.name), |b| {
            b.iter(|| {
                segment::segment(
                    &f.z,
                    f.diameter,
                    &f.config.segment,
                    segment::Appearance::Brightfield,
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
