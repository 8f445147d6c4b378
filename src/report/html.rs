//! `report.html`: the run as a record a QA reviewer signs. One self-contained
//! file (inline CSS, SVG plots, overlay thumbnails as data URIs, no scripts,
//! nothing fetched), laid out for screen and for print.

use crate::segment::scale::DiameterSource;
use std::fmt::Write;

use super::{utc_iso8601, RunSummary};
use crate::aggregate::quality::QualityFlag;
use crate::aggregate::record::round;
use crate::aggregate::sample::{Estimate, SampleResult};
use crate::aggregate::size::{SizeHistogram, SizeUnit};
use crate::aggregate::spec::Verdict;

/// Escapes text for HTML content and attribute values.
///
/// ```
/// assert_eq!(cellvia::report::html::escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
/// ```
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d232a;margin:24px auto;max-width:1100px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:2px solid #d8dde3;padding-bottom:3px}
h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;margin:6px 0 12px;width:100%}th,td{border:1px solid #cfd5dc;padding:4px 7px;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#5d6873}.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
.verdict{display:inline-block;padding:1px 8px;border-radius:3px;font-weight:700;color:#fff}
.PASS{background:#1f7a3a}.FAIL{background:#b3261e}.INVALID{background:#8a5a00}.NONE{background:#5d6873}
.banner{padding:10px 14px;border-radius:4px;margin:12px 0;font-size:15px;border:1px solid #cfd5dc;background:#f6f8fa}
.warn{color:#8a5a00}.thumbs{display:flex;flex-wrap:wrap;gap:10px}.ci{font-size:12px;color:#5d6873;white-space:nowrap}
figure{margin:0;width:180px}figure img{width:180px;height:auto;border:1px solid #cfd5dc;image-rendering:pixelated}
figcaption{font-size:11px;color:#5d6873;word-break:break-all}
.sign{display:grid;grid-template-columns:1fr 1fr 1fr;gap:24px;margin-top:36px}.sign div{border-top:1px solid #1d232a;padding-top:4px;font-size:12px}
.footer{margin-top:24px;font-size:10px;color:#5d6873;font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
@page{size:auto;margin:14mm 12mm 18mm}
@media print{body{margin:0;max-width:none}h2,h3{break-after:avoid}figure,tr,svg{break-inside:avoid}.footer{display:none}}
"#;

/// How the run line looks in the bottom margin of each printed page (a CSS
/// page margin box: every page, whatever the paper, where a fixed-position
/// footer was left off the first page by Chromium).
const PAGE_FOOTER_STYLE: &str =
    "font:8px ui-monospace,Menlo,Consolas,monospace;color:#5d6873;vertical-align:top";

fn percent(v: f64) -> String {
    format!("{:.1}", 100.0 * v)
}

/// 1234567 -> "1.235×10<sup>6</sup>".
fn sci(v: f64) -> String {
    let text = format!("{v:.3e}");
    match text.split_once('e') {
        Some((mantissa, "0")) => mantissa.to_string(),
        Some((mantissa, exponent)) => format!("{mantissa}×10<sup>{exponent}</sup>"),
        None => text,
    }
}

/// A value with its 95 % interval on the line below.
fn ci(e: &Estimate, fmt: fn(f64) -> String) -> String {
    format!(
        "{}<br><span class=\"ci\">({} – {})</span>",
        fmt(e.value),
        fmt(e.ci95[0]),
        fmt(e.ci95[1])
    )
}

fn verdict_badge(s: &SampleResult) -> String {
    match &s.verdict {
        Some(v) => {
            let name = v.verdict.as_str();
            format!("<span class=\"verdict {name}\">{name}</span>")
        }
        None => "<span class=\"verdict NONE\">no spec</span>".into(),
    }
}

/// Bar colours of live and dead cells in the histograms.
const LIVE_FILL: &str = "#2e8b57";
const DEAD_FILL: &str = "#c0392b";

/// A stacked live/dead bar chart of a size histogram, as inline SVG.
fn histogram_svg(h: &SizeHistogram) -> String {
    let unit = match h.unit {
        SizeUnit::Um => "µm",
        SizeUnit::Px => "px",
    };
    let bins = h.live.len().max(h.dead.len());
    let count = |v: &[u32], i: usize| v.get(i).copied().unwrap_or(0);
    let cells = |i: usize| count(&h.live, i) + count(&h.dead, i);
    let first = (0..bins).find(|&i| cells(i) > 0);
    let last = (0..bins).rev().find(|&i| cells(i) > 0);
    let (Some(first), Some(last)) = (first, last) else {
        return "<p class=\"muted\">No cells to plot.</p>".into();
    };
    let peak = (first..=last).map(cells).max().unwrap_or(1).max(1);
    let (width, height, left, bottom, top) = (520.0, 200.0, 44.0, 34.0, 10.0);
    let plot_w = width - left - 10.0;
    let plot_h = height - bottom - top;
    let n = (last - first + 1) as f64;
    let bar = plot_w / n;
    let y = |c: u32| top + plot_h * (1.0 - f64::from(c) / f64::from(peak));
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"cell diameter histogram\" font-size=\"11\" font-family=\"sans-serif\">"
    );
    let _ = write!(
        svg,
        "<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{}\" stroke=\"#1d232a\"/><line x1=\"{left}\" y1=\"{0}\" x2=\"{}\" y2=\"{0}\" stroke=\"#1d232a\"/>",
        top + plot_h,
        left + plot_w
    );
    for tick in [0, peak / 2, peak] {
        let ty = y(tick);
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{tick}</text><line x1=\"{}\" y1=\"{ty:.1}\" x2=\"{left}\" y2=\"{ty:.1}\" stroke=\"#1d232a\"/>",
            left - 5.0,
            ty + 4.0,
            left - 3.0
        );
    }
    let label_every = (n / 10.0).ceil().max(1.0) as usize;
    for (k, i) in (first..=last).enumerate() {
        let x = left + bar * k as f64;
        let (live, dead) = (count(&h.live, i), count(&h.dead, i));
        // Dead stacked on live.
        for (base, c, fill, class) in [
            (0, live, LIVE_FILL, "live"),
            (live, dead, DEAD_FILL, "dead"),
        ] {
            let _ = write!(
                svg,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\"><title>{:.0}–{:.0} {unit}: {c} {class}</title></rect>",
                x + 1.0,
                y(base + c),
                (bar - 2.0).max(1.0),
                y(base) - y(base + c),
                i as f64 * h.bin_width,
                (i + 1) as f64 * h.bin_width
            );
        }
        if k % label_every == 0 {
            let _ = write!(
                svg,
                "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{:.0}</text>",
                top + plot_h + 14.0,
                i as f64 * h.bin_width
            );
        }
    }
    let _ = write!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">equivalent diameter, {unit}</text><text x=\"12\" y=\"{:.1}\" transform=\"rotate(-90 12 {:.1})\" text-anchor=\"middle\">cells</text>",
        left + plot_w / 2.0,
        height - 4.0,
        top + plot_h / 2.0,
        top + plot_h / 2.0
    );
    let _ = write!(
        svg,
        "<rect x=\"{0:.1}\" y=\"{top}\" width=\"10\" height=\"10\" fill=\"{LIVE_FILL}\"/><text x=\"{1:.1}\" y=\"{2}\">live</text><rect x=\"{0:.1}\" y=\"{3}\" width=\"10\" height=\"10\" fill=\"{DEAD_FILL}\"/><text x=\"{1:.1}\" y=\"{4}\">dead</text></svg>",
        width - 60.0,
        width - 46.0,
        top + 9.0,
        top + 14.0,
        top + 23.0
    );
    svg
}

fn flag_list(flags: &[QualityFlag]) -> String {
    flags
        .iter()
        .map(|f| f.as_str().replace('_', " "))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A table row: `key` escaped here, `value` already HTML.
pub(super) fn row(out: &mut String, key: &str, value: &str) {
    let _ = write!(out, "<tr><th>{}</th><td>{value}</td></tr>", escape(key));
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * k)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The whole report page.
///
/// ```
/// use cellvia::report::{html, RunFacts, RunSummary, Software};
/// let config = cellvia::Config::default();
/// let run = RunFacts { started_unix_s: 0.0, finished_unix_s: 1.0, host: "h".into(), threads: 1,
///                      operator: Some("<A. Analyst>".into()), metadata: Default::default(), pixel_size_source: None };
/// let model = cellvia::classify::ModelInfo { name: "m".into(), sha256: "00".into(), path: "m.onnx".into() };
/// let page = html::render(&RunSummary { software: &Software::default(), model: &model,
///     config: &config, config_sha256: "ab", spec: None, samples: &[], fields: &[],
///     summary: &Default::default(), run: &run, out_dir: "out", results_sha256: Some("ab12") });
/// assert!(page.starts_with("<!DOCTYPE html>"));
/// assert!(page.contains("&lt;A. Analyst&gt;"));
/// assert!(page.contains("<h2>Method</h2>") && page.contains("results.json SHA-256 ab12"));
/// ```
pub fn render(run: &RunSummary) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let facts = run.run;
    // Which run a sheet belongs to, at the foot of every printed page (a
    // page margin box) and once at the end on screen. Both parts are digits,
    // hex and ISO 8601 punctuation: safe inside a CSS string and in HTML.
    let run_line = format!(
        "cellvia report · finished {} · results.json SHA-256 {}",
        utc_iso8601(facts.finished_unix_s),
        run.results_sha256.unwrap_or("not written")
    );
    debug_assert!(!run_line.contains(['"', '\\', '<', '&']));
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>cellvia report {}</title><style>{STYLE}@page{{@bottom-left{{content:\"{}\";{PAGE_FOOTER_STYLE}}}}}</style></head><body>",
        escape(&utc_iso8601(facts.finished_unix_s)),
        escape(&run_line)
    );
    let _ = write!(
        out,
        "<h1>Cell count and viability report</h1><p class=\"muted\">{} {} · finished {} · host {} · operator {}</p>",
        escape(&run.software.name),
        escape(&run.software.version),
        escape(&utc_iso8601(facts.finished_unix_s)),
        escape(&facts.host),
        escape(facts.operator.as_deref().unwrap_or("not given"))
    );
    banner(&mut out, run);
    samples_table(&mut out, run);
    for (index, sample) in run.samples.iter().enumerate() {
        sample_section(&mut out, run, index, sample);
    }
    super::method::method_section(&mut out, run);
    spec_section(&mut out, run);
    audit_section(&mut out, run);
    out.push_str(
        "<div class=\"sign\"><div>Analysed by (name, signature, date)</div><div>Reviewed by QA (name, signature, date)</div><div>Batch / release decision</div></div>",
    );
    let _ = write!(out, "<div class=\"footer\">{}</div>", escape(&run_line));
    out.push_str("</body></html>\n");
    out
}

fn banner(out: &mut String, run: &RunSummary) {
    let count = |v: Verdict| {
        run.samples
            .iter()
            .filter(|s| s.verdict.as_ref().map(|x| x.verdict) == Some(v))
            .count()
    };
    let s = run.summary;
    let verdicts = match run.spec {
        Some(_) => format!(
            "{} PASS, {} FAIL, {} INVALID",
            count(Verdict::Pass),
            count(Verdict::Fail),
            count(Verdict::Invalid)
        ),
        None => "no release spec applied".into(),
    };
    let _ = write!(
        out,
        "<div class=\"banner\"><b>{} sample(s)</b>: {verdicts}. {} image(s) analysed, {} failed; {} cells counted ({} live, {} dead), {} debris objects.</div>",
        run.samples.len(),
        s.images - s.images_failed,
        s.images_failed,
        s.counts.total,
        s.counts.live,
        s.counts.dead,
        s.counts.debris
    );
}

fn samples_table(out: &mut String, run: &RunSummary) {
    out.push_str("<h2>Samples</h2><table><tr><th>Sample</th><th>Verdict</th><th>Fields</th><th>Cells (live / dead)</th><th>Viability % (95 % CI)</th><th>Viable cells/mL (95 % CI)</th><th>Total cells/mL (95 % CI)</th><th>Mean diameter live / dead (µm, else px)</th><th>Aggregates %</th><th>Debris %</th><th>Fields flagged</th></tr>");
    for s in run.samples {
        let fields = if s.fields_failed > 0 {
            format!(
                "{} <span class=\"warn\">({} failed)</span>",
                s.fields, s.fields_failed
            )
        } else {
            s.fields.to_string()
        };
        let na = || "<span class=\"muted\">n/a</span>".to_string();
        // In µm with a pixel size, else in pixels, marked.
        let diameter = |um: Option<f64>, px: Option<f64>| match (um, px) {
            (Some(d), _) => format!("{d:.1}"),
            (None, Some(d)) => format!("{d:.1} px"),
            (None, None) => "–".into(),
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{fields}</td><td class=\"num\">{} ({} / {})</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{} / {}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&s.sample_id),
            verdict_badge(s),
            s.counts.total,
            s.counts.live,
            s.counts.dead,
            s.viability.map_or_else(na, |v| ci(&v, percent)),
            s.concentration_per_ml
                .map_or_else(na, |c| ci(&c.live, sci)),
            s.concentration_per_ml
                .map_or_else(na, |c| ci(&c.total, sci)),
            diameter(s.mean_diameter_um.live, s.mean_diameter_px.live),
            diameter(s.mean_diameter_um.dead, s.mean_diameter_px.dead),
            s.aggregate_fraction.map_or_else(na, percent),
            s.debris_fraction.map_or_else(na, percent),
            s.fields_flagged,
        );
    }
    out.push_str("</table>");
}

fn sample_section(out: &mut String, run: &RunSummary, index: usize, s: &SampleResult) {
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

fn spec_section(out: &mut String, run: &RunSummary) {
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

fn audit_section(out: &mut String, run: &RunSummary) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scientific_numbers_use_superscript_exponents() {
        assert_eq!(sci(1_234_567.0), "1.235×10<sup>6</sup>");
        assert_eq!(sci(0.5), "5.000×10<sup>-1</sup>");
        assert_eq!(sci(2.0), "2.000");
    }

    #[test]
    fn base64_matches_the_standard_alphabet_and_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
    }

    #[test]
    fn histogram_plots_only_the_occupied_bins_with_both_classes() {
        let h = SizeHistogram {
            unit: SizeUnit::Um,
            bin_width: 2.0,
            live: vec![0, 0, 3, 5, 1],
            dead: vec![0, 0, 0, 2, 0, 0],
        };
        let svg = histogram_svg(&h);
        assert_eq!(
            svg.matches("<rect").count(),
            3 * 2 + 2,
            "3 bins x 2 + legend"
        );
        assert!(svg.contains("6–8 µm: 5 live"));
        assert!(svg.contains("6–8 µm: 2 dead"));
        assert!(!svg.contains("2–4 µm"));
    }
}
