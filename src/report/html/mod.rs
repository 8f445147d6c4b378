//! `report.html`: the run as a record a QA reviewer signs. One self-contained
//! file (inline CSS, SVG plots, overlay thumbnails as data URIs, no scripts,
//! nothing fetched), laid out for screen and for print.

mod histogram;
mod sections;

use std::fmt::Write;

use super::{utc_iso8601, RunSummary};
use crate::aggregate::quality::QualityFlag;
use crate::aggregate::sample::{Estimate, SampleResult};
use crate::aggregate::spec::Verdict;
use sections::{audit_section, sample_section, spec_section};

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
}
