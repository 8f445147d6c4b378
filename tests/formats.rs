//! Decoding what labs produce: every fixture holds the same gray gradient
//! g(x, y) = (3x + 2y) mod 256 in a different container.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use cellvia::config::{BitDepth, ChannelMode};
use cellvia::io::decode::decode;
use cellvia::preprocess::to_intensity;

fn expected(x: u32, y: u32) -> f32 {
    ((3 * x + 2 * y) % 256) as f32 / 255.0
}

fn check(file: &str, tolerance: f32) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(file);
    let image =
        decode(&std::fs::read(&path).unwrap(), 1 << 20).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!((image.width(), image.height()), (64, 48), "{file}");
    let intensity = to_intensity(&image, ChannelMode::Luminance, BitDepth::Auto);
    for (x, y, p) in intensity.enumerate_pixels() {
        let diff = (p.0[0] - expected(x, y)).abs();
        assert!(
            diff <= tolerance,
            "{file} at ({x}, {y}): {} vs {}",
            p.0[0],
            expected(x, y)
        );
    }
}

#[test]
fn eight_bit_gray_rgb_rgba_palette_bmp() {
    for file in [
        "gray8.png",
        "rgb8.png",
        "rgba8.png",
        "palette.png",
        "gray8.bmp",
    ] {
        check(file, 1e-5);
    }
}

#[test]
fn sixteen_bit_and_twelve_bit_in_sixteen() {
    check("gray16.png", 1e-5);
    check("gray12in16.tif", 0.5 / 4095.0 + 1e-5);
}

#[test]
fn multi_strip_tiff() {
    check("rgb8-multistrip.tif", 1e-5);
}

#[test]
fn jpeg_within_compression_error() {
    check("gray8.jpg", 0.06);
}
