//! What a synthetic field is rendered from, and its checks.

use serde::{Deserialize, Serialize};

use super::brightfield;
use super::looks::{DeadLook, LiveLook};

/// Output sample depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SynthDepth {
    Eight,
    /// 12-bit samples in a 16-bit container, as many cameras write.
    Twelve,
    Sixteen,
}

/// Imaging mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SynthMode {
    /// Trypan-blue brightfield, one gray channel.
    Brightfield,
    /// AO/PI fluorescence, RGB composite (red = PI, green = AO).
    Aopi,
}

/// Most cells a field can hold: labels are written as 16-bit PNG.
pub const MAX_CELLS: u32 = u16::MAX as u32;

/// What to render.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SynthParams {
    pub mode: SynthMode,
    pub width: u32,
    pub height: u32,
    pub cells: u32,
    /// Fraction of cells that are dead.
    pub dead_fraction: f64,
    /// Cell diameter mean and standard deviation, pixels.
    pub diameter_mean: f64,
    pub diameter_sd: f64,
    /// Fraction of cells that sit in clumps (pairs, triples, short chains).
    pub clump_fraction: f64,
    pub debris: u32,
    /// Fraction of cells rendered out of focus.
    pub defocus_fraction: f64,
    /// Relative intensity drop from centre to corner.
    pub vignetting: f64,
    /// Brightfield lamp level at the centre, 0..=1 of full scale (AO/PI
    /// fields use a fixed dark level and stain brightness instead).
    pub background: f64,
    /// Photons collected at full scale (sets shot noise).
    pub photons_full_scale: f64,
    /// Read noise, fraction of full scale.
    pub read_noise: f64,
    pub depth: SynthDepth,
    /// Draw hemocytometer grid lines.
    pub grid: bool,
    /// Pixel size, µm/px: with `grid_pitch_um`, the rulings lie
    /// `grid_pitch_um / pixel_size_um` px apart (unset: 220–280 px at random).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pixel_size_um: Option<f64>,
    /// Pitch of the rulings, µm (see `pixel_size_um`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grid_pitch_um: Option<f64>,
    /// Live cells take these looks (at random, equally likely).
    pub live_looks: Vec<LiveLook>,
    /// Dead cells take these looks.
    pub dead_looks: Vec<DeadLook>,
    /// Dead cells' diameter relative to live cells'.
    pub dead_size_ratio: f64,
    /// Brightfield in RGB, dead cells' dye blue (else gray).
    pub colour: bool,
    /// Lamp colour: > 0 bluish, < 0 yellowish (RGB brightfield).
    pub colour_cast: f64,
    /// Write 8-bit fields as JPEG of this quality (1–100) instead of PNG.
    pub jpeg_quality: Option<u8>,
    /// Draw each field's optics and cells at random from its seed
    /// (domain randomisation); the fields above except size, mode and seed
    /// are then ignored.
    pub randomize: bool,
    pub seed: u64,
}

impl Default for SynthParams {
    fn default() -> Self {
        Self {
            mode: SynthMode::Brightfield,
            width: 800,
            height: 600,
            cells: 60,
            dead_fraction: 0.25,
            diameter_mean: 20.0,
            diameter_sd: 3.0,
            clump_fraction: 0.15,
            debris: 20,
            defocus_fraction: 0.1,
            vignetting: 0.2,
            background: 0.55,
            photons_full_scale: 4000.0,
            read_noise: 0.004,
            depth: SynthDepth::Eight,
            grid: false,
            pixel_size_um: None,
            grid_pitch_um: None,
            live_looks: vec![LiveLook::Refractile],
            dead_looks: vec![DeadLook::Dark],
            dead_size_ratio: 1.0,
            colour: false,
            colour_cast: 0.0,
            jpeg_quality: None,
            randomize: false,
            seed: 1,
        }
    }
}

/// Parameters a field cannot be rendered from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("synthetic field parameters: {0}")]
pub struct InvalidSynthParams(pub String);

impl SynthParams {
    /// Checks sizes, counts and fractions before rendering.
    ///
    /// ```
    /// use cellvia::synth::SynthParams;
    /// assert!(SynthParams::default().validate().is_ok());
    /// let tiny = SynthParams { width: 8, ..Default::default() };
    /// assert!(tiny.validate().unwrap_err().to_string().contains("16x16"));
    /// ```
    pub fn validate(&self) -> Result<(), InvalidSynthParams> {
        let fail = |m: String| Err(InvalidSynthParams(m));
        if self.width < 16 || self.height < 16 {
            return fail("fields must be at least 16x16 px".into());
        }
        if self.cells > MAX_CELLS {
            return fail(format!("at most {MAX_CELLS} cells per field"));
        }
        if !(self.diameter_mean >= 4.0 && self.diameter_sd >= 0.0) {
            return fail("cell diameter must be at least 4 px".into());
        }
        for (name, v) in [
            ("dead fraction", self.dead_fraction),
            ("clump fraction", self.clump_fraction),
            ("defocus fraction", self.defocus_fraction),
            ("vignetting", self.vignetting),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return fail(format!("{name} must lie in 0..=1"));
            }
        }
        if self.live_looks.is_empty() || self.dead_looks.is_empty() {
            return fail("give at least one live and one dead look".into());
        }
        if !(0.2..=5.0).contains(&self.dead_size_ratio) {
            return fail("dead size ratio must lie in 0.2..=5".into());
        }
        brightfield::ruling_period(self).map_err(InvalidSynthParams)?;
        if !(-0.5..=0.5).contains(&self.colour_cast) {
            return fail("colour cast must lie in -0.5..=0.5".into());
        }
        match self.jpeg_quality {
            Some(q) if !(1..=100).contains(&q) => {
                return fail("JPEG quality must lie in 1..=100".into())
            }
            Some(_) if self.depth != SynthDepth::Eight => {
                return fail("JPEG fields are 8-bit".into())
            }
            _ => {}
        }
        Ok(())
    }

    /// Radius range of debris specks, pixels: small specks, and in fields of
    /// large cells also fragments of up to a fifth of a cell's radius.
    pub(super) fn debris_radius(&self) -> (f64, f64) {
        (1.5, 4.0_f64.max(0.1 * self.diameter_mean))
    }

    /// Extension and encoding of a field file: 8-bit PNG (JPEG with a
    /// `jpeg_quality`), else (12/16-bit) TIFF.
    ///
    /// ```
    /// use cellvia::synth::{SynthDepth, SynthParams};
    /// let p = SynthParams { depth: SynthDepth::Twelve, ..Default::default() };
    /// assert_eq!(p.file_format(), ("tif", image::ImageFormat::Tiff));
    /// ```
    pub fn file_format(&self) -> (&'static str, image::ImageFormat) {
        match (self.depth, self.jpeg_quality) {
            (SynthDepth::Eight, Some(_)) => ("jpg", image::ImageFormat::Jpeg),
            (SynthDepth::Eight, None) => ("png", image::ImageFormat::Png),
            (SynthDepth::Twelve | SynthDepth::Sixteen, _) => ("tif", image::ImageFormat::Tiff),
        }
    }
}
