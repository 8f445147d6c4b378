//! Decodes image bytes (PNG, TIFF, JPEG, BMP; 8/16-bit; gray, RGB, RGBA,
//! palette) into an [`image::DynamicImage`], refusing absurd sizes before any
//! pixel buffer is allocated.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};

/// Why bytes could not become an image.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("file is empty")]
    Empty,
    #[error("not a supported image (PNG, TIFF, JPEG or BMP expected)")]
    UnknownFormat,
    #[error("image is {width}x{height} px, over the limit of {limit} pixels")]
    TooLarge { width: u32, height: u32, limit: u64 },
    #[error("image has zero width or height")]
    ZeroSized,
    #[error("image is {width}x{height} px: a field must be at least {min} px on each side to hold a cell")]
    TooNarrow { width: u32, height: u32, min: u32 },
    #[error(
        "JPEG is truncated (no end-of-image marker after its last scan): the file was cut short"
    )]
    TruncatedJpeg,
    #[error("TIFF holds {pages} or more pages; cellvia analyses one field per file (split the pages into files)")]
    MultiPageTiff { pages: usize },
    #[error("cannot decode {format}: {message}")]
    Corrupt { format: String, message: String },
}

/// The narrowest field analysed. The smallest cells cellvia segments are
/// about 8 px across (`cellvia synth --randomize`'s lower bound) and need
/// their surroundings too; a strip narrower than this holds no cell, and
/// refusing it before decoding keeps a 1 x 10^8 px strip from costing minutes.
pub const MIN_FIELD_SIDE_PX: u32 = 16;

/// Memory the decoder may allocate per pixel of the largest supported layout
/// (16-bit RGBA), plus slack for decoder state.
const DECODER_BYTES_PER_PIXEL: u64 = 8;
const DECODER_SLACK_BYTES: u64 = 64 << 20;

/// The largest file that can hold an image of `max_pixels` pixels:
/// uncompressed 16-bit RGBA plus room for metadata. Anything larger is
/// refused before it is read.
///
/// ```
/// assert_eq!(cellvia::io::decode::max_encoded_bytes(1_000), 8_000 + (64 << 20));
/// ```
pub fn max_encoded_bytes(max_pixels: u64) -> u64 {
    max_pixels
        .saturating_mul(DECODER_BYTES_PER_PIXEL)
        .saturating_add(DECODER_SLACK_BYTES)
}

/// Decodes `bytes`, refusing images with more than `max_pixels` pixels or a
/// side under [`MIN_FIELD_SIDE_PX`], truncated JPEGs (which the decoder
/// would fill in silently) and multi-page TIFFs (which it would cut to the
/// first page).
///
/// The format is read from the content, not the file name, so a text file
/// named `.png` is reported as such.
///
/// ```
/// use cellvia::io::decode::{decode, DecodeError};
/// assert!(matches!(decode(b"not an image", 1_000_000), Err(DecodeError::UnknownFormat)));
/// ```
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<DynamicImage, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let reader = || -> Result<ImageReader<Cursor<&[u8]>>, DecodeError> {
        let reader = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|_| DecodeError::UnknownFormat)?;
        if reader.format().is_none() {
            return Err(DecodeError::UnknownFormat);
        }
        Ok(reader)
    };
    let format = reader()?
        .format()
        .map_or_else(|| "image".to_string(), |f| format!("{f:?}").to_uppercase());
    let corrupt = |e: image::ImageError| DecodeError::Corrupt {
        format: format.clone(),
        message: e.to_string(),
    };
    let (width, height) = reader()?.into_dimensions().map_err(corrupt)?;
    if width == 0 || height == 0 {
        return Err(DecodeError::ZeroSized);
    }
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(DecodeError::TooLarge {
            width,
            height,
            limit: max_pixels,
        });
    }
    if width.min(height) < MIN_FIELD_SIDE_PX {
        return Err(DecodeError::TooNarrow {
            width,
            height,
            min: MIN_FIELD_SIDE_PX,
        });
    }
    match reader()?.format() {
        Some(ImageFormat::Jpeg) if !jpeg_is_complete(bytes) => {
            return Err(DecodeError::TruncatedJpeg)
        }
        Some(ImageFormat::Png) => {
            if let Some(length) = bad_png_palette(bytes) {
                return Err(DecodeError::Corrupt {
                    format: "PNG".into(),
                    message: format!(
                        "PLTE chunk of {length} bytes is not 1 to 256 RGB entries (3 bytes each)"
                    ),
                });
            }
        }
        Some(ImageFormat::Tiff) if full_resolution_pages(bytes) > 1 => {
            return Err(DecodeError::MultiPageTiff { pages: 2 });
        }
        _ => {}
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc =
        Some(u64::from(width) * u64::from(height) * DECODER_BYTES_PER_PIXEL + DECODER_SLACK_BYTES);
    let mut reader = reader()?;
    reader.limits(limits);
    reader.decode().map_err(corrupt)
}

/// Whether a JPEG reaches its end-of-image marker.
///
/// Walks the markers from the start: segments by their length (so an EXIF
/// thumbnail's own markers inside APP1 are skipped), scans byte by byte to
/// the next marker (entropy-coded data stuffs every 0xFF with 0x00, and
/// restart markers belong to the scan). True at the first EOI; data a
/// camera appends after it does not matter.
///
/// ```
/// use cellvia::io::decode::jpeg_is_complete;
/// let sos = [0xFF, 0xDA, 0x00, 0x03, 0x01];
/// let whole = [&[0xFF, 0xD8][..], &sos, &[0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD9]].concat();
/// assert!(jpeg_is_complete(&whole));
/// assert!(jpeg_is_complete(&[&whole[..], &[0xFF, 0xDA, 0x99]].concat())); // a trailer
/// assert!(!jpeg_is_complete(&whole[..whole.len() - 2]));
/// ```
pub fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let mut at = 2; // after SOI
    loop {
        // Fill bytes may precede a marker.
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (bytes.get(at), bytes.get(at + 1)) else {
            return false;
        };
        at += 2;
        match marker {
            0xD9 => return true,
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let Some(length) = bytes
            .get(at..at + 2)
            .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
        else {
            return false;
        };
        at += length;
        if marker == 0xDA {
            // Entropy-coded data runs to the first marker that is not a
            // stuffed 0xFF or a restart.
            loop {
                match (bytes.get(at), bytes.get(at + 1)) {
                    (Some(0xFF), Some(0x00 | 0xD0..=0xD7)) => at += 2,
                    (Some(0xFF), Some(_)) => break,
                    (Some(_), _) => at += 1,
                    (None, _) => return false,
                }
            }
        }
    }
}

/// The length of a PNG's PLTE chunk when it is not a whole number of RGB
/// entries (1 to 256). `png` 0.18.1, the newest release, panics expanding
/// a palette of 4 or 5 bytes (decoder/transform/palette.rs:74); that panic
/// would be caught per field, but a clear error is better, and the fuzz
/// harness can then look for new bugs. Chunks are read up to the first IDAT.
fn bad_png_palette(bytes: &[u8]) -> Option<usize> {
    let mut at = 8; // after the signature
    while let Some(header) = bytes.get(at..at + 8) {
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        match &header[4..8] {
            b"PLTE" if length == 0 || !length.is_multiple_of(3) || length > 768 => {
                return Some(length)
            }
            b"IDAT" => return None,
            _ => at = at.saturating_add(length).saturating_add(12),
        }
    }
    None
}

/// Full-resolution pages of a TIFF, counted up to 2: reduced-resolution
/// pages (previews, NewSubfileType bit 0) do not count, and a broken link
/// to a next page ends the count (the first page is still decoded).
fn full_resolution_pages(bytes: &[u8]) -> usize {
    let Ok(mut tiff) = tiff::decoder::Decoder::new(Cursor::new(bytes)) else {
        return 1;
    };
    let mut pages = 0;
    loop {
        let reduced = tiff
            .find_tag(tiff::tags::Tag::NewSubfileType)
            .ok()
            .flatten()
            .and_then(|v| v.into_u32().ok())
            .is_some_and(|kind| kind & 1 == 1);
        pages += usize::from(!reduced);
        if pages > 1 || !tiff.more_images() || tiff.next_image().is_err() {
            return pages.max(1);
        }
    }
}

/// The width and height an encoded image declares, without decoding it.
///
/// ```
/// let mut png = std::io::Cursor::new(Vec::new());
/// image::GrayImage::new(7, 3).write_to(&mut png, image::ImageFormat::Png).unwrap();
/// assert_eq!(cellvia::io::decode::dimensions(png.get_ref()).unwrap(), (7, 3));
/// ```
pub fn dimensions(bytes: &[u8]) -> Result<(u32, u32), DecodeError> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| DecodeError::UnknownFormat)?;
    let format = reader
        .format()
        .map_or_else(|| "image".to_string(), |f| format!("{f:?}").to_uppercase());
    reader.into_dimensions().map_err(|e| DecodeError::Corrupt {
        format,
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Luma, Rgb};

    fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn decodes_gray16_tiff_and_rgb_png() {
        let g16 =
            DynamicImage::ImageLuma16(image::ImageBuffer::from_pixel(17, 16, Luma([4095u16])));
        let back = decode(&encode(&g16, ImageFormat::Tiff), 1000).unwrap();
        assert_eq!(back.width(), 17);
        assert_eq!(back.as_luma16().unwrap().get_pixel(2, 2).0, [4095]);
        let rgb = DynamicImage::ImageRgb8(image::ImageBuffer::from_pixel(16, 16, Rgb([1, 2, 3])));
        let back = decode(&encode(&rgb, ImageFormat::Png), 1000).unwrap();
        assert_eq!(back.as_rgb8().unwrap().get_pixel(0, 0).0, [1, 2, 3]);
    }

    #[test]
    fn empty_text_truncated_and_huge_are_refused() {
        assert!(matches!(decode(b"", 10), Err(DecodeError::Empty)));
        assert!(matches!(
            decode(b"hello, world", 10),
            Err(DecodeError::UnknownFormat)
        ));
        let png = encode(
            &DynamicImage::ImageLuma8(image::ImageBuffer::from_pixel(64, 64, Luma([7u8]))),
            ImageFormat::Png,
        );
        let truncated = &png[..png.len() / 2];
        assert!(matches!(
            decode(truncated, 1 << 20),
            Err(DecodeError::Corrupt { .. })
        ));
        let err = decode(&png, 100).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::TooLarge {
                    width: 64,
                    height: 64,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn strips_cut_jpegs_and_page_stacks_are_refused() {
        let strip = DynamicImage::ImageLuma8(image::ImageBuffer::from_pixel(15, 400, Luma([9u8])));
        let err = decode(&encode(&strip, ImageFormat::Png), 1 << 20).unwrap_err();
        assert!(
            matches!(err, DecodeError::TooNarrow { width: 15, .. }),
            "{err}"
        );
        let field = DynamicImage::ImageRgb8(image::ImageBuffer::from_fn(64, 64, |x, y| {
            Rgb([(x * 4) as u8, (y * 4) as u8, 90])
        }));
        let jpeg = encode(&field, ImageFormat::Jpeg);
        assert!(decode(&jpeg, 1 << 20).is_ok());
        for cut in [jpeg.len() / 10, jpeg.len() / 2, jpeg.len() - 2] {
            let err = decode(&jpeg[..cut], 1 << 20).unwrap_err();
            assert!(
                matches!(
                    err,
                    DecodeError::TruncatedJpeg | DecodeError::Corrupt { .. }
                ),
                "{cut}: {err}"
            );
        }
        let mut tiff = Cursor::new(Vec::new());
        let mut encoder = tiff::encoder::TiffEncoder::new(&mut tiff).unwrap();
        for _ in 0..3 {
            encoder
                .write_image::<tiff::encoder::colortype::Gray8>(16, 16, &[7u8; 256])
                .unwrap();
        }
        let err = decode(tiff.get_ref(), 1 << 20).unwrap_err();
        assert!(matches!(err, DecodeError::MultiPageTiff { .. }), "{err}");
    }
}
