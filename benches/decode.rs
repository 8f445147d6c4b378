//! Decoding (the floor every other stage is compared with) and conversion
//! to one intensity channel. `cargo bench --bench decode`
use cellvia::{io::decode::decode, preprocess};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

mod common;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    g.sample_size(20);
    for f in common::fixtures() {
        g.throughput(Throughput::Elements(u64::from(
            f.intensity.width() * f.intensity.height(),
        )));
        g.bench_function(BenchmarkId::new("png", &f.name), |b| {
            b.iter(|| decode(&f.png, u64::MAX))
        });
        let image = decode(&f.png, u64::MAX).expect("decodes");
        g.bench_function(BenchmarkId::new("to_intensity", &f.name), |b| {
            b.iter(|| preprocess::to_intensity(&image, f.config.channel, f.config.bit_depth))
        });
        // The same field as 8-bit RGB with R = G = B, as LDC's files are:
        // its intensity, and the dye channel's test that finds it grey.
        let rgb = image::DynamicImage::ImageRgb8(image.to_rgb8());
        g.bench_function(BenchmarkId::new("to_intensity_grey_rgb", &f.name), |b| {
            b.iter(|| preprocess::to_intensity(&rgb, f.config.channel, f.config.bit_depth))
        });
        g.bench_function(BenchmarkId::new("dye_excess_grey_rgb", &f.name), |b| {
            b.iter(|| preprocess::dye::dye_excess(&rgb))
        });
        // Tinted blue: a colour field, whose dye channel is made.
        let grey = image.to_luma8();
        let tinted = image::DynamicImage::ImageRgb8(image::ImageBuffer::from_fn(
            grey.width(),
            grey.height(),
            |x, y| {
                let v = grey.get_pixel(x, y).0[0];
                image::Rgb([v.saturating_sub(9), v.saturating_sub(4), v])
            },
        ));
        g.bench_function(BenchmarkId::new("dye_excess_colour_rgb", &f.name), |b| {
            b.iter(|| preprocess::dye::dye_excess(&tinted))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
