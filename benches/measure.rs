//! Labelling and per-object measurement. `cargo bench --bench measure`
use cellvia::measure::measure;
use cellvia::segment::{label::label_components, regions::regions};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

mod common;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("measure");
    g.sample_size(10);
    for f in common::fixtures() {
        let seg = &f.segmentation;
        g.throughput(Throughput::Elements(u64::from(
            f.mask.width() * f.mask.height(),
        )));
        g.bench_function(BenchmarkId::new("label_components", &f.name), |b| {
            b.iter(|| label_components(&f.mask))
        });
        g.bench_function(BenchmarkId::new("regions", &f.name), |b| {
            b.iter(|| regions(&seg.labels, seg.regions.len() as u32))
        });
        g.bench_function(BenchmarkId::new("measure", &f.name), |b| {
            b.iter(|| measure(&seg.labels, &seg.regions, &f.intensity))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
