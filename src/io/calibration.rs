//! The pixel size an image file declares: TIFF resolution tags, ImageJ's
//! `unit=` and OME-XML's `PhysicalSizeX`, so a lab need not type it.

use std::io::{Cursor, Read, Seek};

use tiff::decoder::Decoder;
use tiff::tags::Tag;

/// Pixel sizes a light-microscope image can declare, µm/px. Outside this
/// range the tags are a default, not a calibration: many programs write
/// 72–1200 dpi (21–350 µm/px), a print resolution.
pub const DECLARED_PIXEL_SIZE_UM: (f64, f64) = (0.01, 20.0);

/// Micrometres per unit of a length unit as written in ImageJ or OME
/// metadata.
fn micrometres_per(unit: &str) -> Option<f64> {
    match unit.trim().to_lowercase().as_str() {
        "micron" | "microns" | "um" | "µm" | "μm" | "micrometer" | "micrometre" => Some(1.0),
        "nm" | "nanometer" | "nanometre" => Some(1e-3),
        "mm" | "millimeter" | "millimetre" => Some(1e3),
        "cm" | "centimeter" | "centimetre" => Some(1e4),
        "inch" | "in" => Some(25_400.0),
        _ => None,
    }
}

/// The value of `key="…"` in XML-ish text.
fn attribute<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let start = text.find(&format!("{key}=\""))? + key.len() + 2;
    let end = text[start..].find('"')? + start;
    Some(&text[start..end])
}

/// The pixel size (µm/px, along x) a TIFF declares, from OME-XML, ImageJ's
/// description or the resolution tags; `None` for other formats, for
/// undeclared sizes and for values outside [`DECLARED_PIXEL_SIZE_UM`].
///
/// ```
/// use cellvia::io::calibration::declared_pixel_size_um;
/// assert_eq!(declared_pixel_size_um(b"\x89PNG not a tiff"), None);
/// ```
pub fn declared_pixel_size_um(bytes: &[u8]) -> Option<f64> {
    if !(bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*")) {
        return None;
    }
    declared_by_tiff(Cursor::new(bytes))
}

/// [`declared_pixel_size_um`] of a TIFF read through `reader`: only the
/// first directory and the values it points to are read.
fn declared_by_tiff(reader: impl Read + Seek) -> Option<f64> {
    let mut tiff = Decoder::new(reader).ok()?;
    let description = tiff
        .get_tag_ascii_string(Tag::ImageDescription)
        .unwrap_or_default();
    let x_resolution = tiff
        .find_tag(Tag::XResolution)
        .ok()
        .flatten()
        .and_then(|v| match v {
            tiff::decoder::ifd::Value::Rational(n, d) => Some(f64::from(n) / f64::from(d)),
            other => other.into_f64().ok(),
        })
        .filter(|r| r.is_finite() && *r > 0.0);
    let from_ome = || {
        let size: f64 = attribute(&description, "PhysicalSizeX")?.parse().ok()?;
        let unit = attribute(&description, "PhysicalSizeXUnit").unwrap_or("µm");
        Some(size * micrometres_per(unit)?)
    };
    let from_imagej = || {
        if !description.starts_with("ImageJ=") {
            return None;
        }
        let unit = description.lines().find_map(|l| l.strip_prefix("unit="))?;
        Some(micrometres_per(unit)? / x_resolution?)
    };
    let from_tags = || {
        let unit = tiff
            .find_tag_unsigned::<u16>(Tag::ResolutionUnit)
            .ok()
            .flatten();
        let per_unit = match unit.unwrap_or(2) {
            2 => 25_400.0,
            3 => 10_000.0,
            _ => return None,
        };
        Some(per_unit / x_resolution?)
    };
    let size = from_ome().or_else(from_imagej).or_else(from_tags)?;
    let (lo, hi) = DECLARED_PIXEL_SIZE_UM;
    (lo..=hi).contains(&size).then_some(size)
}

/// What a batch's files declare about their pixel size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Declared {
    /// No file declares one.
    Nothing,
    /// Every file declares the same size (within 1 %): this one, µm/px.
    Agreed(f64),
    /// Some files declare none, or they disagree.
    Mixed {
        declared: usize,
        files: usize,
        min: f64,
        max: f64,
    },
}

/// Files whose declared sizes differ by less than this agree.
const AGREEMENT: f64 = 0.01;

/// What the files at `paths` declare ([`declared_pixel_size_um`]). Only
/// TIFFs (regular files) can declare one, and only their tags are read;
/// other files count as declaring none.
pub fn declared_by_files(paths: &[&std::path::Path]) -> Declared {
    let declared = |path: &std::path::Path| -> Option<f64> {
        let is_tiff = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("tif") || e.eq_ignore_ascii_case("tiff"));
        // Checked before opening: opening a FIFO would block.
        if !is_tiff || !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
            return None;
        }
        let file = std::fs::File::open(path).ok()?;
        declared_by_tiff(std::io::BufReader::new(file))
    };
    let sizes: Vec<f64> = paths.iter().filter_map(|p| declared(p)).collect();
    let (min, max) = sizes.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &v| {
        (lo.min(v), hi.max(v))
    });
    match sizes.len() {
        0 => Declared::Nothing,
        n if n == paths.len() && max / min - 1.0 < AGREEMENT => Declared::Agreed(sizes[0]),
        declared => Declared::Mixed {
            declared,
            files: paths.len(),
            min,
            max,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tiff::encoder::{colortype::Gray8, Rational, TiffEncoder};
    use tiff::tags::ResolutionUnit;

    fn tiff_with(unit: ResolutionUnit, per_unit: Rational, description: Option<&str>) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let mut encoder = TiffEncoder::new(&mut out).unwrap();
        let mut image = encoder.new_image::<Gray8>(16, 16).unwrap();
        image.resolution(unit, per_unit);
        if let Some(text) = description {
            image
                .encoder()
                .write_tag(Tag::ImageDescription, text)
                .unwrap();
        }
        image.write_data(&[100u8; 256]).unwrap();
        out.into_inner()
    }

    #[test]
    fn resolution_tags_imagej_and_ome_are_read() {
        // 20,000 px per cm = 0.5 µm/px.
        let cm = tiff_with(
            ResolutionUnit::Centimeter,
            Rational { n: 20_000, d: 1 },
            None,
        );
        assert_eq!(declared_pixel_size_um(&cm), Some(0.5));
        // 50,800 dpi = 0.5 µm/px.
        let inch = tiff_with(ResolutionUnit::Inch, Rational { n: 50_800, d: 1 }, None);
        assert_eq!(declared_pixel_size_um(&inch), Some(0.5));
        // ImageJ: 1.538 px per micron.
        let imagej = tiff_with(
            ResolutionUnit::None,
            Rational { n: 1538, d: 1000 },
            Some("ImageJ=1.54f\nunit=micron\n"),
        );
        let size = declared_pixel_size_um(&imagej).unwrap();
        assert!((size - 0.6502).abs() < 1e-3, "{size}");
        let ome = tiff_with(
            ResolutionUnit::Inch,
            Rational { n: 72, d: 1 },
            Some(
                r#"<OME><Image><Pixels PhysicalSizeX="650" PhysicalSizeXUnit="nm"/></Image></OME>"#,
            ),
        );
        assert_eq!(declared_pixel_size_um(&ome), Some(0.65));
    }

    #[test]
    fn print_resolutions_are_not_a_calibration() {
        for dpi in [72, 96, 300, 1200] {
            let t = tiff_with(ResolutionUnit::Inch, Rational { n: dpi, d: 1 }, None);
            assert_eq!(declared_pixel_size_um(&t), None, "{dpi} dpi");
        }
    }
}
