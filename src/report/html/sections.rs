//! The per-sample, specification and audit sections of report.html.

use std::fmt::Write;

use super::histogram::histogram_svg;
use super::{base64, ci, escape, flag_list, percent, row, sci, verdict_badge, RunSummary};
use crate::aggregate::record::round;
use crate::aggregate::sample::SampleResult;
use crate::report::utc_iso8601;
use crate::segment::scale::DiameterSource;

pub(super) fn sample_section(out: &mut String, run: &RunSummary, index: usize, s: &SampleResult) {
    let _ = write!(
        out,
        "<h2>Sample {} {}</h2>",
        escape(&s.sample_id),
        verdict_badge(s)
    );
    if let Some(v) = &s.verdict {
        if !v.reasons.is_empty() {
            out.push_str("<ul>");
            for r in &v.reasons {
                let _ = write!(out, "<li>{}</li>", escape(r));
            }
            out.push_str("</ul>");
        }
    }
    for w in &s.warnings {
        let _ = write!(out, "<p class=\"warn\">Warning: {}</p>", escape(w));
    }
    out.push_str("<table>");
    row(
        out,
        "Dilution factor (pre-dilution × stain)",
        &format!("{}", round(s.dilution_factor, 6)),
    );
    row(out, "Chamber depth", &format!("{} µm", s.chamber_depth_um));
    if let (Some(a), Some(v)) = (s.imaged_area_mm2, s.imaged_volume_ul) {
        row(
            out,
            "Imaged area / volume",
            &format!("{a:.4} mm² / {v:.5} µL"),
        );
    }
    if let Some(c) = &s.concentration_per_ml {
        row(out, "Dead cells/mL (95 % CI)", &ci(&c.dead, sci));
    }
    if let Some(d) = &s.diameter {
        let how = match (d.source, d.measured_px) {
            (DiameterSource::Fixed, _) => "fixed by the settings".to_string(),
            (_, Some(m)) => format!(
                "measured from the images: typical {m:.1} px (fields alone: {})",
                match (d.measured_min_px, d.measured_max_px) {
                    (Some(lo), Some(hi)) => format!("{lo:.1}–{hi:.1} px"),
                    _ => "too few objects each".into(),
                }
            ),
            _ => "too few objects to measure: fallback range".to_string(),
        };
        row(
            out,
            "Cell diameter range used",
            &format!("{:.1}–{:.1} px, {how}", d.min_px, d.max_px),
        );
    }
    if let Some(c) = &s.call_confidence {
        let pct = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{:.1} %", 100.0 * v));
        row(
            out,
            "Uncertain live/dead calls / cells unlike the training images",
            &format!("{} / {}", pct(c.uncertain_fraction), pct(c.novel_fraction)),
        );
    }
    for (key, value) in &s.metadata {
        row(out, key, &escape(value));
    }
    out.push_str("</table>");
    out.push_str("<h3>Cell size distribution</h3>");
    match &s.size_histogram {
        Some(h) => out.push_str(&histogram_svg(h)),
        None => out.push_str("<p class=\"muted\">No size histogram.</p>"),
    }
    let fields: Vec<_> = run.fields.iter().filter(|f| f.sample == index).collect();
    let thumbs: Vec<_> = fields
        .iter()
        .filter(|f| f.thumbnail_png.is_some())
        .collect();
    if !thumbs.is_empty() {
        let _ = write!(
            out,
            "<h3>Fields ({} of {} shown; outlines: green live, red dead, magenta debris, blue gated out)</h3><div class=\"thumbs\">",
            thumbs.len(),
            fields.len()
        );
        for f in thumbs {
            let mut caption = match f.counts {
                Some(c) => format!("{} live, {} dead", c.live, c.dead),
                None => "failed".into(),
            };
            if !f.quality_flags.is_empty() {
                let _ = write!(
                    caption,
                    "<br><span class=\"warn\">{}</span>",
                    flag_list(&f.quality_flags)
                );
            }
            let _ = write!(
                out,
                "<figure><img alt=\"overlay of {0}\" src=\"data:image/png;base64,{1}\"><figcaption>{0}<br>{caption}</figcaption></figure>",
                escape(&f.path),
                base64(f.thumbnail_png.as_deref().unwrap_or_default())
            );
        }
        out.push_str("</div>");
    }
    let failed: Vec<_> = fields.iter().filter(|f| f.error.is_some()).collect();
    if !failed.is_empty() {
        out.push_str("<h3>Failed fields</h3><ul>");
        for f in failed {
            let _ = write!(
                out,
                "<li class=\"warn\">{}</li>",
                escape(f.error.as_deref().unwrap_or_default())
            );
        }
        out.push_str("</ul>");
    }
}

pub(super) fn spec_section(out: &mut String, run: &RunSummary) {
    out.push_str("<h2>Release specification</h2>");
    let Some(spec) = run.spec else {
        out.push_str("<p>No release spec was applied: samples have no verdict.</p>");
        return;
    };
    out.push_str("<table>");
    row(out, "Name", &escape(&spec.criteria.name));
    row(out, "File", &escape(&spec.path));
    row(
        out,
        "SHA-256",
        &format!("<span class=\"mono\">{}</span>", escape(&spec.sha256)),
    );
    let c = &spec.criteria;
    if let Some(v) = c.min_viability {
        row(out, "Minimum viability", &format!("{} %", percent(v)));
    }
    if let Some(r) = c.viable_cells_per_ml {
        row(
            out,
            "Viable cells/mL",
            &format!("{} – {}", sci(r.min), sci(r.max)),
        );
    }
    if let Some(n) = c.min_cells_counted {
        row(out, "Minimum cells counted", &n.to_string());
    }
    if let Some(v) = c.max_aggregate_fraction {
        row(out, "Maximum aggregates", &format!("{} %", percent(v)));
    }
    if let Some(v) = c.max_debris_fraction {
        row(out, "Maximum debris", &format!("{} %", percent(v)));
    }
    row(
        out,
        "Maximum failed fields",
        &c.max_failed_fields.to_string(),
    );
    out.push_str("</table>");
}

pub(super) fn audit_section(out: &mut String, run: &RunSummary) {
    let facts = run.run;
    let mono = |s: &str| format!("<span class=\"mono\">{}</span>", escape(s));
    out.push_str("<h2>Audit</h2><table>");
    row(
        out,
        "Software",
        &escape(&format!("{} {}", run.software.name, run.software.version)),
    );
    row(
        out,
        "Viability model",
        &format!("{} {}", escape(&run.model.name), mono(&run.model.sha256)),
    );
    row(out, "Resolved config SHA-256", &mono(run.config_sha256));
    if let Some(spec) = run.spec {
        row(out, "Spec SHA-256", &mono(&spec.sha256));
    }
    row(out, "Started (UTC)", &utc_iso8601(facts.started_unix_s));
    row(out, "Finished (UTC)", &utc_iso8601(facts.finished_unix_s));
    row(out, "Host", &escape(&facts.host));
    row(
        out,
        "Operator",
        &escape(facts.operator.as_deref().unwrap_or("not given")),
    );
    for (key, value) in &facts.metadata {
        row(out, key, &escape(value));
    }
    row(out, "Output folder", &escape(run.out_dir));
    out.push_str("</table><h3>Input files</h3><table><tr><th>#</th><th>File</th><th>Sample</th><th>SHA-256</th><th>Outcome</th></tr>");
    for (i, f) in run.fields.iter().enumerate() {
        let outcome = match (&f.error, f.counts) {
            (Some(_), _) => "<span class=\"warn\">failed</span>".to_string(),
            (None, Some(c)) if f.quality_flags.is_empty() => format!("{} cells", c.total),
            (None, Some(c)) => format!(
                "{} cells; <span class=\"warn\">{}</span>",
                c.total,
                flag_list(&f.quality_flags)
            ),
            (None, None) => String::new(),
        };
        let sample = run
            .samples
            .get(f.sample)
            .map_or("", |s| s.sample_id.as_str());
        let _ = write!(
            out,
            "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{outcome}</td></tr>",
            i + 1,
            escape(&f.path),
            escape(sample),
            mono(f.sha256.as_deref().unwrap_or("–"))
        );
    }
    out.push_str("</table>");
}
