//! What a field keeps of its decoded image while it is flattened and
//! segmented (which read only z), and how its intensity and the planes its
//! measurement reads come back after, to the same bits, once z is freed.

use image::DynamicImage;

use crate::config::Config;
use crate::image_types::{FloatImage, LabelImage};
use crate::measure::crop::PlaneWindows;
use crate::measure::object_means;
use crate::preprocess::dye::{dye_cast, dye_excess, DyeWindows};
use crate::preprocess::{subtract_background, to_intensity, Fluorescence};

/// What `intensity_of` gives besides the intensity.
pub(super) enum Decoded {
    Brightfield(DynamicImage),
    Fluorescence(Fluorescence),
}

/// What a field keeps of its decoded image while it is flattened: the
/// image, when it is smaller than the float planes it stands for, else
/// those planes (a brightfield field's dye channel; AO/PI's channels).
pub(super) enum Kept {
    Image(DynamicImage),
    Dye(Option<FloatImage>),
    Fluorescence(Fluorescence),
    Channels { ao: FloatImage, pi: FloatImage },
}

impl Kept {
    pub(super) fn of(decoded: Decoded) -> Self {
        let floats = |planes: usize| planes * std::mem::size_of::<f32>();
        match decoded {
            Decoded::Brightfield(image)
                if usize::from(image.color().bytes_per_pixel()) < floats(1) =>
            {
                Kept::Image(image)
            }
            Decoded::Brightfield(image) => Kept::Dye(dye_excess(&image)),
            // Parked, the decoded field also stands for the intensity.
            Decoded::Fluorescence(field) if field.bytes_per_pixel() < floats(3) => {
                Kept::Fluorescence(field)
            }
            Decoded::Fluorescence(field) => Kept::Channels {
                ao: field.ao(),
                pi: field.pi(),
            },
        }
    }
}

/// A field's intensity and the planes its measurement reads, while
/// segmentation runs: kept as decoded where that is smaller (8-bit grey: 1
/// byte a pixel instead of 4; 8-bit RGB and 16-bit grey 3 and 2; an 8-bit
/// AO/PI composite 3 instead of 12) and converted again after. Segmentation
/// holding z, the labels, two masks and the intensity was a field's peak:
/// one 10000×10000 8-bit field, one thread, default outputs, peak RSS
/// 1,629,436 → 1,521,464 KiB (16.7 → 15.6 bytes a pixel, the process's
/// ~125 MiB of runtime and model included), for about 2 ms more decoding
/// on a 2048×1536 field (`cellvia bench`, forty fields).
///
/// The dye channel of a colour field, read only by the crops, is not held
/// through flattening and segmentation (4 bytes a pixel): when a parked
/// image comes back, only its colour cast is measured, and the crops read
/// the dye window by window from the image ([`DyeWindows`]), which stays
/// parked (3 bytes a pixel for 8-bit RGB) instead of becoming a plane beside
/// the intensity and the labels. An image not worth parking gives its dye
/// plane and is dropped before flattening. One 10000×10000 8-bit RGB
/// field, 1 thread: peak RSS 2,940,812 → 1,817,268 KiB with the dye
/// converted in strips ([`dye_excess`]), → 1,549,580–1,554,336 KiB (about
/// 15.9 bytes a pixel with the runtime) with windows; outputs
/// byte-identical.
///
/// An AO/PI field's channels come back one at a time, each reduced to its
/// objects' mean signal before the next is made, and its intensity last
/// (strip by strip, [`Fluorescence::mean`]). Holding the intensity and both
/// signals through segmentation, and the channels beside the first pass,
/// was an AO/PI field's peak: one 10000×10000 8-bit composite, 1 thread:
/// 2,256,872–2,276,364 → 1,371,256–1,658,356 KiB (six runs; mimalloc
/// returns freed pages at its own pace), outputs byte-identical.
pub(super) enum Parked {
    Brightfield {
        intensity: FloatImage,
        dye: Option<FloatImage>,
    },
    BrightfieldImage(DynamicImage),
    Fluorescence {
        intensity: FloatImage,
        ao: FloatImage,
        pi: FloatImage,
    },
    FluorescenceField(Fluorescence),
}

/// A field's intensity, with the dye channel of a colour brightfield field
/// or each object's mean AO and PI signal (background subtracted) of a
/// fluorescence field.
pub(super) struct Restored {
    pub intensity: FloatImage,
    pub dye: Option<Box<dyn PlaneWindows>>,
    pub signals: Option<(Vec<f64>, Vec<f64>)>,
}

/// The segmented objects an AO/PI field's signals are averaged over.
pub(super) struct Objects<'a> {
    pub labels: &'a LabelImage,
    pub count: usize,
    /// The typical diameter the background is subtracted at.
    pub typical_diameter: f64,
}

impl Objects<'_> {
    fn mean_signal(&self, channel: FloatImage) -> Vec<f64> {
        let signal = subtract_background(channel, self.typical_diameter);
        object_means(self.labels, self.count, &signal)
    }
}

impl Parked {
    pub(super) fn new(intensity: FloatImage, kept: Kept) -> Self {
        match kept {
            Kept::Image(decoded) => Parked::BrightfieldImage(decoded),
            Kept::Dye(dye) => Parked::Brightfield { intensity, dye },
            Kept::Fluorescence(field) => Parked::FluorescenceField(field),
            Kept::Channels { ao, pi } => Parked::Fluorescence { intensity, ao, pi },
        }
    }

    pub(super) fn restore(self, config: &Config, objects: &Objects) -> Restored {
        let (intensity, dye, signals) = match self {
            Parked::Brightfield { intensity, dye } => (
                intensity,
                dye.map(|d| Box::new(d) as Box<dyn PlaneWindows>),
                None,
            ),
            Parked::BrightfieldImage(image) => {
                // The cast first: its pass holds a float plane of excess
                // beside the image, before the intensity joins them.
                let cast = dye_cast(&image);
                let intensity = to_intensity(&image, config.channel, config.bit_depth);
                let dye = cast
                    .map(|cast| Box::new(DyeWindows::new(image, cast)) as Box<dyn PlaneWindows>);
                (intensity, dye, None)
            }
            Parked::Fluorescence { intensity, ao, pi } => {
                let signals = (objects.mean_signal(ao), objects.mean_signal(pi));
                (intensity, None, Some(signals))
            }
            Parked::FluorescenceField(field) => {
                let signals = (
                    objects.mean_signal(field.ao()),
                    objects.mean_signal(field.pi()),
                );
                (field.mean(), None, Some(signals))
            }
        };
        Restored {
            intensity,
            dye,
            signals,
        }
    }
}
