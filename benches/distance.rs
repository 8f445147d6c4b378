//! Mask clean-up and the distance transform: closing, hole filling, ruling
//! removal, opening, exact EDT. `cargo bench --bench distance`
use cellvia::segment::{distance::distance_to_background, fill, lines, morphology};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

mod common;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("distance");
    g.sample_size(10);
    for f in common::fixtures() {
        g.throughput(Throughput::Elements(u64::from(
            f.mask.width() * f.mask.height(),
        )));
        g.bench_function(BenchmarkId::new("close_1", &f.name), |b| {
            b.iter(|| morphology::close(&mut f.mask.clone(), 1))
        });
        g.bench_function(BenchmarkId::new("fill_holes", &f.name), |b| {
            b.iter(|| fill::fill_holes(&mut f.mask.clone(), 1257))
        });
        g.bench_function(BenchmarkId::new("remove_long_runs", &f.name), |b| {
            b.iter(|| lines::remove_long_runs(&mut f.mask.clone(), 120))
        });
        g.bench_function(BenchmarkId::new("open_2", &f.name), |b| {
            b.iter(|| morphology::open(&mut f.mask.clone(), 2))
        });
        g.bench_function(BenchmarkId::new("euclidean", &f.name), |b| {
            b.iter(|| distance_to_background(&f.mask))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
