//! Decodes image bytes (PNG, TIFF, JPEG, BMP; 8/16-bit; gray, RGB, RGBA,
//! palette) into an [`image::DynamicImage`], refusing absurd sizes before any
//! pixel buffer is allocated.

use std::io::Cursor;

use image::{DynamicImage, ImageReader, Limits};

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
    #[error("cannot decode {format}: {message}")]
    Corrupt { format: String, message: String },
}

/// Memory the decoder may allocate per pixel of the largest supported layout
/// (16-bit RGBA), plus slack for decoder state.
const DECODER_BYTES_PER_PIXEL: u64 = 8;
const DECODER_SLACK_BYTES: u64 = 64 << 20;

/// Decodes `bytes`, refusing images with more than `max_pixels` pixels.
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
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc =
        Some(u64::from(width) * u64::from(height) * DECODER_BYTES_PER_PIXEL + DECODER_SLACK_BYTES);
    let mut reader = reader()?;
    reader.limits(limits);
    reader.decode().map_err(corrupt)
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
        let g16 = DynamicImage::ImageLuma16(image::ImageBuffer::from_pixel(5, 4, Luma([4095u16])));
        let back = decode(&encode(&g16, ImageFormat::Tiff), 1000).unwrap();
        assert_eq!(back.as_luma16().unwrap().get_pixel(2, 2).0, [4095]);
        let rgb = DynamicImage::ImageRgb8(image::ImageBuffer::from_pixel(3, 3, Rgb([1, 2, 3])));
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
}
