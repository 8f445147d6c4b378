//! Overlays and report thumbnails: drawing, PNG encoding and downscaling.
//! `cargo bench --bench report`
use cellvia::aggregate::Counts;
use cellvia::classify::CellClass;
use cellvia::report::{overlay, thumbnail};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

mod common;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("report");
    g.sample_size(10);
    for f in common::fixtures() {
        let seg = &f.segmentation;
        // Alternate classes so every outline colour is drawn.
        let classes: Vec<CellClass> = (0..seg.regions.len())
            .map(|i| [CellClass::Live, CellClass::Dead, CellClass::Debris][i % 3])
            .collect();
        let outlines: Vec<overlay::Outline> =
            classes.iter().map(|&c| overlay::Outline::from(c)).collect();
        let counts = Counts::from_classes(classes.iter().copied());
        let drawn = overlay::render(&f.intensity, &seg.labels, &outlines, &counts, None);
        g.throughput(Throughput::Elements(u64::from(
            f.intensity.width() * f.intensity.height(),
        )));
        g.bench_function(BenchmarkId::new("draw_overlay", &f.name), |b| {
            b.iter(|| overlay::render(&f.intensity, &seg.labels, &outlines, &counts, None))
        });
        g.bench_function(BenchmarkId::new("encode_overlay_png", &f.name), |b| {
            b.iter(|| drawn.encode_png())
        });
        g.bench_function(BenchmarkId::new("thumbnail", &f.name), |b| {
            b.iter(|| thumbnail::thumbnail(&drawn, thumbnail::REPORT_SIDE))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
