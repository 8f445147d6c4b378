//! The ONNX stage: cost per cell at several batch sizes, one intra-op
//! thread (as under the scheduler). Needs ONNX Runtime
//! (`bash scripts/fetch-onnxruntime.sh`). `cargo bench --bench classify`
use cellvia::classify::Classifier;
use cellvia::config::{default_model_path, ClassifyConfig};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::Array4;

mod common;

fn bench(c: &mut Criterion) {
    let f = common::fixture(2048, 1536, 250);
    // 256 crops: the field's own, repeated (all channels, as the model's
    // contract asks; hesitant ones get their second opinions, as in use).
    let &[n, channels, side, _] = f.crops.shape() else {
        unreachable!("crops are 4-D")
    };
    let crops: Array4<f32> = Array4::from_shape_fn((256, channels, side, side), |(i, ch, y, x)| {
        f.crops[[i % n, ch, y, x]]
    });
    let mut g = c.benchmark_group("classify");
    g.sample_size(20);
    g.throughput(Throughput::Elements(256));
    for batch_size in [1, 8, 32, 64, 128, 256] {
        let Ok(classifier) = Classifier::load(
            &default_model_path(),
            &ClassifyConfig {
                batch_size,
                ..Default::default()
            },
        ) else {
            eprintln!("classify: ONNX Runtime or model not available, skipped");
            return;
        };
        // A failing run would time the error path, not the model.
        if let Err(e) = classifier.classify(&crops) {
            panic!("classify: {e}");
        }
        g.bench_function(BenchmarkId::new("256_cells_batch", batch_size), |b| {
            b.iter(|| classifier.classify(&crops))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
