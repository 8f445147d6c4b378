//! report.html's Method block: every setting a reviewer needs to judge the
//! numbers, in words (a config hash alone cannot be read off a printout).

use super::html::{escape, row};
use super::RunSummary;
use crate::config::Assay;

/// Appends the Method table.
pub(super) fn method_section(out: &mut String, run: &RunSummary) {
    let c = run.config;
    let mut rows: Vec<(&str, String)> = Vec::new();
    rows.push((
        "Assay",
        match c.assay {
            Assay::Trypan => "trypan blue, brightfield; live/dead by the viability model".into(),
            Assay::Aopi => format!(
                "AO/PI fluorescence; dead when PI carries over {:.0} % of the signal (two-channel rule)",
                100.0 * c.aopi.dead_pi_fraction
            ),
        },
    ));
    if c.assay == Assay::Trypan {
        rows.push((
            "Viability model",
            format!("{} (SHA-256 {})", run.model.name, run.model.sha256),
        ));
    }
    rows.push((
        "Typical cell diameter",
        match (c.fixed_diameter(), c.diameter_um, c.pixel_size_um) {
            (Some(d), Some(um), Some(p)) => format!(
                "set: {}–{} µm = {:.1}–{:.1} px at {p} µm/px",
                um.min, um.max, d.min, d.max
            ),
            (Some(d), _, _) => format!("set: {}–{} px", d.min, d.max),
            (None, _, _) => {
                "auto: measured from each sample's fields (each sample's value is in its section)"
                    .into()
            }
        },
    ));
    rows.push((
        "Pixel size",
        c.pixel_size_um.map_or_else(
            || "not given: no concentrations; sizes in pixels".into(),
            |p| match run.run.pixel_size_source.as_deref() {
                Some("metadata") => format!("{p} µm/px (declared in the image files' metadata)"),
                Some("grid") => format!(
                    "{p} µm/px (measured from the chamber's rulings, {} µm apart)",
                    c.sample
                        .chamber_grid_pitch_um
                        .map_or_else(|| "?".into(), |pitch| pitch.to_string())
                ),
                _ => format!("{p} µm/px (given by --pixel-size or the config)"),
            },
        ),
    ));
    let s = &c.sample;
    rows.push((
        "Chamber",
        format!(
            "{:?}, {} µm deep",
            s.chamber,
            s.depth_um().map_or_else(|| "?".into(), |d| d.to_string())
        ),
    ));
    rows.push((
        "Dilution",
        format!(
            "pre-dilution ×{} (a manifest's dilution column overrides it per sample), stain ×{}",
            s.pre_dilution, s.stain_dilution
        ),
    ));
    rows.push(("Counting gates", gates(run)));
    rows.push((
        "Border objects",
        if c.segment.discard_border_objects {
            "discarded".into()
        } else {
            "counted".into()
        },
    ));
    rows.push((
        "Release spec",
        run.spec.map_or_else(
            || "none".into(),
            |spec| format!("{} ({})", spec.criteria.name, spec.path),
        ),
    ));
    out.push_str("<h2>Method</h2><table>");
    for (key, value) in rows {
        row(out, key, &escape(&value));
    }
    out.push_str("</table>");
}

/// The counting gates that are set, in words.
fn gates(run: &RunSummary) -> String {
    let g = &run.config.gate;
    let mut set = Vec::new();
    if let Some(i) = g.diameter_um {
        set.push(format!("diameter {}–{} µm", i.min, i.max));
    }
    if let Some(i) = g.diameter_px {
        set.push(format!("diameter {}–{} px", i.min, i.max));
    }
    if let Some(m) = g.min_circularity {
        set.push(format!("circularity ≥ {m}"));
    }
    if let Some(i) = g.mean_intensity {
        set.push(format!("mean intensity {}–{}", i.min, i.max));
    }
    if let Some(r) = g.counting_region {
        set.push(format!(
            "counting region x {}–{}, y {}–{} px",
            r.x_min, r.x_max, r.y_min, r.y_max
        ));
    }
    if set.is_empty() {
        "none".into()
    } else {
        set.join("; ")
    }
}
