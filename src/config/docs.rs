//! The meaning of every setting, and the documented default TOML
//! (`cellvia config --print-default`).

use super::Config;

/// One setting's key and meaning, for `cellvia config --print-default`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingDoc {
    /// Dotted path: `segment.seed_sigma`.
    pub key: &'static str,
    pub meaning: &'static str,
    /// A value to show for settings that are unset by default.
    pub example: &'static str,
}

const fn doc(key: &'static str, meaning: &'static str) -> SettingDoc {
    SettingDoc {
        key,
        meaning,
        example: "",
    }
}

/// The meaning of every setting, in the order they are printed.
pub const SETTING_DOCS: &[SettingDoc] = &[
    doc("assay", "trypan (brightfield, ONNX model) or aopi (fluorescence: RGB composite red = PI, green = AO, or paired single-channel files; two-channel rule)"),
    doc("channel", "(trypan) channel analysed in colour images: luminance (0.299R+0.587G+0.114B), red, green or blue"),
    doc("bit_depth", "auto: 16-bit files whose samples fit 10/12/14 bits are scaled by that depth; container: full container range; twelve: 12-bit data"),
    SettingDoc { key: "diameter_px", meaning: "typical cell diameter in pixels {min, max}; objects outside about 0.75*min..1.5*max are dropped (unset: measured from the images, per sample: --diameter auto)", example: "{ min = 12.0, max = 40.0 }" },
    SettingDoc { key: "pixel_size_um", meaning: "pixel size in micrometres per pixel (unset: unknown)", example: "0.5" },
    SettingDoc { key: "diameter_um", meaning: "typical cell diameter in micrometres {min, max}; overrides diameter_px when pixel_size_um is set", example: "{ min = 6.0, max = 20.0 }" },
    doc("max_image_pixels", "images with more pixels are refused before decoding"),
    doc("max_seconds_per_image", "a field whose analysis takes longer (checked between stages) becomes an error record; the only setting that makes results depend on the machine's speed, and only for fields that hit it"),
    doc("segment.threshold", "hysteresis (seed at seed_sigma, extend to extent_sigma) or otsu (one global level on |z| by Otsu's method, at least extent_sigma)"),
    doc("segment.seed_sigma", "an object must reach this contrast (robust noise sigmas from the flattened background) somewhere"),
    doc("segment.extent_sigma", "an object extends over connected pixels above this contrast"),
    doc("segment.declump", "split touching cells by a distance-transform marker watershed"),
    doc("segment.seed_separation", "seeds closer than this fraction of the minimum diameter belong to one cell"),
    doc("segment.min_circularity", "objects less round than this (4*pi*area/perimeter^2) are dropped"),
    doc("segment.discard_border_objects", "drop objects touching the image edge"),
    SettingDoc { key: "classify.model", meaning: "ONNX viability model (unset: the shipped models/cellvia-viability-v3.onnx)", example: "\"models/cellvia-viability-v3.onnx\"" },
    doc("classify.batch_size", "crops per ONNX inference call"),
    doc("classify.max_uncertain_fraction", "a sample with a larger share of uncertain live/dead calls (P(live) 0.2-0.8) is warned 'low confidence' (INVALID under a spec)"),
    doc("classify.max_debris_fraction", "a sample with a larger share of its objects called debris is warned 'low confidence' (INVALID under a spec)"),
    doc("classify.max_novel_fraction", "a sample with a larger share of objects unlike the model's training images (novelty > 1) is warned 'low confidence' (INVALID under a spec)"),
    doc("aopi.ao_suffix", "(aopi) files named STEM + ao_suffix pair with STEM + pi_suffix (any image extension, case-insensitive); other images are RGB composites"),
    doc("aopi.pi_suffix", "(aopi) see ao_suffix"),
    doc("aopi.dead_pi_fraction", "(aopi) a cell with PI / (AO + PI) at least this is dead (raise it if AO bleeds into the red channel)"),
    doc("aopi.min_cell_sigma", "(aopi) objects whose mean stain is below this many noise sigmas are debris"),
    doc("sample.chamber", "counting chamber: neubauer-improved (100 um deep), countess (100 um), cellometer-sd100 (100 um), cellometer-sd025 (25 um) or custom"),
    SettingDoc { key: "sample.chamber_depth_um", meaning: "chamber depth in micrometres; overrides the preset, required for custom", example: "100.0" },
    SettingDoc { key: "sample.chamber_grid_pitch_um", meaning: "pitch in micrometres of the chamber rulings the fields show (improved Neubauer: 50 small squares, 200 triple lines, 250 corner squares, 1000 large squares); with no pixel size given or declared, the pixel size is measured from the rulings (unset: not measured, since the spacing alone cannot tell 50 from 250 um)", example: "50.0" },
    doc("sample.pre_dilution", "dilution of the sample before staining (a manifest's dilution column overrides it per sample)"),
    doc("sample.stain_dilution", "dilution by the stain: 2 for the usual 1:1 mix with trypan blue or AO/PI"),
    doc("sample.target_precision", "wanted relative half-width of the 95 % interval of the count; fewer cells than that needs get a warning"),
    doc("sample.max_linear_cells_per_ml", "upper end of the linear range, cells/mL in the chamber (before dilution factors); above it the sample is flagged over-dense"),
    doc("sample.histogram_bin_um", "bin width of the size histograms, micrometres"),
    doc("sample.max_diameter_ratio", "fields of one sample whose measured cell diameters differ by more than this factor get a warning"),
    SettingDoc { key: "gate.diameter_um", meaning: "count only cells whose equivalent diameter in micrometres lies in {min, max} (needs pixel_size_um; unset: no size gate)", example: "{ min = 8.0, max = 30.0 }" },
    SettingDoc { key: "gate.diameter_px", meaning: "count only cells whose equivalent diameter in pixels lies in {min, max} (unset: no gate)", example: "{ min = 14.0, max = 36.0 }" },
    SettingDoc { key: "gate.min_circularity", meaning: "count only cells at least this round (unset: no gate; segment.min_circularity still drops non-cells)", example: "0.6" },
    SettingDoc { key: "gate.mean_intensity", meaning: "count only cells whose mean intensity (0..1 of full scale) lies in {min, max} (unset: no gate)", example: "{ min = 0.1, max = 0.9 }" },
    SettingDoc { key: "gate.counting_region", meaning: "count only cells whose centroid lies in this rectangle, pixels (unset: the whole image)", example: "{ x_min = 0.0, y_min = 0.0, x_max = 1023.0, y_max = 767.0 }" },
    doc("quality.max_edge_width_px", "flag a trypan field out_of_focus when its cells' median edge width (range / steepest slope of the smoothed image) exceeds this, pixels"),
    doc("quality.max_edge_width_px_fluorescence", "the same for AO/PI fields, whose filled cells have wider edges in focus, pixels"),
    doc("quality.max_illumination_spread", "flag a brightfield field uneven_illumination when its lit background's (p95 - p5) / median exceeds this"),
    doc("quality.max_saturated_fraction", "flag a field overexposed when more of its pixels than this are at full scale"),
    doc("quality.max_excluded_fraction", "flag a field mostly_unlit when more of it than this is too dark to analyse"),
    doc("quality.max_cell_coverage", "flag a field crowded when counted cells cover more of the analysed area than this"),
    doc("report.overlays", "overlay PNG per image: auto (batches up to 50 images), always or never"),
    doc("report.list_debris", "list debris objects in results.json, not only their count"),
    doc("report.html", "write report.html: samples, verdicts, plots, thumbnails, spec and audit block"),
    doc("report.html_thumbnails", "overlay thumbnails per sample in report.html (its first fields)"),
    doc("report.asm", "write results.asm.json (Allotrope Simple Model, cell-counting REC/2024/09; needs pixel_size_um)"),
    SettingDoc { key: "report.exports", meaning: "per-image files in exports/: masks (label TIFF, ids = cells.csv ids), imagej (ROI set .zip), geojson (QuPath outlines); none by default", example: "[\"masks\", \"imagej\", \"geojson\"]" },
];

impl Config {
    /// The default config as commented TOML: every setting with its meaning,
    /// unset ones as commented-out examples. Parses back to the defaults.
    pub fn default_toml_documented() -> String {
        let value = toml::Value::try_from(Config::default())
            .unwrap_or(toml::Value::Table(toml::map::Map::new()));
        let mut out = String::from(
            "# cellvia analysis settings (defaults). Give any subset in a TOML or JSON file with --config.\n",
        );
        let mut section = "";
        for d in SETTING_DOCS {
            let (table, key) = d.key.split_once('.').unwrap_or(("", d.key));
            if table != section {
                out.push_str(&format!("\n[{table}]\n"));
                section = table;
            }
            let found = if table.is_empty() {
                value.get(key)
            } else {
                value.get(table).and_then(|t| t.get(key))
            };
            out.push_str(&format!("# {}\n", d.meaning));
            match found {
                Some(v) => out.push_str(&format!("{key} = {}\n", render_value(v))),
                None => out.push_str(&format!("# {key} = {}\n", d.example)),
            }
        }
        out
    }
}

fn render_value(value: &toml::Value) -> String {
    match value {
        toml::Value::Table(t) => {
            let parts: Vec<String> = t.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            format!("{{ {} }}", parts.join(", "))
        }
        other => other.to_string(),
    }
}
