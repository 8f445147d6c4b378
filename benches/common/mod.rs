//! Shared fixtures for the stage benchmarks: synthetic fields at the sizes
//! users meet (an LDC crop, a 1024×768 camera field, a 2048×1536 field) and
//! every intermediate product the stages consume.

#![allow(dead_code)] // each bench binary uses a different part

use std::io::Cursor;

use cellvia::config::DiameterRange;
use cellvia::image_types::{FloatImage, Mask};
use cellvia::measure::{
    crop::{crops, CropSource, FlattenedContrast},
    measure, ObjectMeasurement,
};
use cellvia::segment::{distance::distance_to_background, Segmentation};
use cellvia::synth::{render, SynthParams};
use cellvia::{io::decode::decode, preprocess, segment, Config};
use ndarray::Array4;

/// (width, height, cells): about the density of the LDC images throughout.
pub const SIZES: [(u32, u32, u32); 3] = [(225, 219, 4), (1024, 768, 64), (2048, 1536, 250)];

/// One synthetic field and everything computed from it.
pub struct Fixture {
    pub name: String,
    pub png: Vec<u8>,
    pub config: Config,
    pub diameter: DiameterRange,
    pub intensity: FloatImage,
    pub contrast: preprocess::Contrast,
    pub z: FloatImage,
    pub mask: Mask,
    pub distance: FloatImage,
    pub segmentation: Segmentation,
    pub objects: Vec<ObjectMeasurement>,
    pub crops: Array4<f32>,
}

pub fn fixture(width: u32, height: u32, cells: u32) -> Fixture {
    let image = render(&SynthParams {
        width,
        height,
        cells,
        seed: 5,
        ..Default::default()
    })
    .image;
    let mut png = Cursor::new(Vec::new());
    image
        .write_to(&mut png, image::ImageFormat::Png)
        .expect("encode");
    let png = png.into_inner();
    let config = Config::default();
    let decoded = decode(&png, config.max_image_pixels).expect("decodes");
    let intensity = preprocess::to_intensity(&decoded, config.channel, config.bit_depth);
    let own = segment::scale::object_diameters(&intensity, segment::Appearance::Brightfield);
    let diameter = segment::scale::FieldDiameter::resolve(None, None, &own).range();
    let flat = preprocess::flatten(&intensity, diameter.typical());
    let mask = segment::threshold::hysteresis(
        &flat.z,
        config.segment.extent_sigma,
        config.segment.seed_sigma,
    );
    let distance = distance_to_background(&mask);
    let segmentation = segment::segment(
        &flat.z,
        diameter,
        &config.segment,
        segment::Appearance::Brightfield,
    );
    let objects = measure(&segmentation.labels, &segmentation.regions, &intensity);
    let spec = cellvia::measure::crop::DEFAULT_CROP_SPEC;
    let crops = crops(
        &CropSource {
            contrast: &FlattenedContrast {
                contrast: &flat.contrast,
                intensity: &intensity,
            },
            dye: None,
            labels: &segmentation.labels,
        },
        &objects,
        &spec,
    );
    Fixture {
        name: format!("{width}x{height}"),
        png,
        config,
        diameter,
        intensity,
        contrast: flat.contrast,
        z: flat.z,
        mask,
        distance,
        segmentation,
        objects,
        crops,
    }
}

pub fn fixtures() -> Vec<Fixture> {
    SIZES.iter().map(|&(w, h, n)| fixture(w, h, n)).collect()
}
