//! The QC record of a run: report.html rendered in headless Chromium, the
//! Allotrope document against its schema, the hash-chained run log and the
//! refusal to overwrite results.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Asserts that the command's output (stdout or stderr) contains `text`.
trait Says {
    fn stdout_or_stderr_has(self, text: &str);
}

impl Says for assert_cmd::assert::Assert {
    fn stdout_or_stderr_has(self, text: &str) {
        let out = self.get_output();
        let both = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(both.contains(text), "expected {text:?} in:\n{both}");
    }
}

fn cellvia() -> Command {
    Command::cargo_bin("cellvia").unwrap()
}

/// `analyze --quiet` of one folder.
fn analyze_folder(folder: &Path, out: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    cellvia()
        .arg("analyze")
        .arg(folder)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .args(extra)
        .assert()
}

/// `analyze` on the synthetic sample images (three fields, one sample) with
/// a pixel size, so concentrations and the ASM exist.
fn analyze(out: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    let mut args = vec!["--pixel-size", "0.5"];
    args.extend(extra);
    analyze_folder(&repo().join("sample-images/synthetic"), out, &args)
}

/// A record signed with `--signing-key` verifies with the public key; one
/// edited and re-sealed (its hash recomputed, as anyone can) verifies as a
/// chain but not as signed, and another lab's key is refused.
#[test]
fn a_signed_record_cannot_be_resealed() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("lab.key");
    let other = dir.path().join("other.key");
    for k in [&key, &other] {
        cellvia()
            .args(["audit", "keygen", "--out"])
            .arg(k)
            .assert()
            .code(0);
    }
    let out = dir.path().join("out");
    analyze(&out, &["--signing-key", key.to_str().unwrap()]).code(0);
    let log = out.join("run-log.jsonl");
    let verify = |log: &Path, public: &Path| {
        cellvia()
            .args(["audit", "verify"])
            .arg(log)
            .arg("--public-key")
            .arg(public)
            .assert()
    };
    let public = |k: &Path| PathBuf::from(format!("{}.pub", k.display()));
    verify(&log, &public(&key)).code(0);
    verify(&log, &public(&other)).code(1);
    // Re-seal: change the sample outcome, recompute the line's hash.
    let line = std::fs::read_to_string(&log).unwrap();
    let line = line.trim_end();
    let suffix = ",\"sha256\":\"".len() + 64 + 2;
    let open = line[..line.len() - suffix].replace("\"analysed\"", "\"PASS\"");
    let hash = cellvia::sha256_hex(format!("{open}}}").as_bytes());
    let forged = dir.path().join("forged.jsonl");
    std::fs::write(&forged, format!("{open},\"sha256\":\"{hash}\"}}\n")).unwrap();
    cellvia()
        .args(["audit", "verify"])
        .arg(&forged)
        .assert()
        .code(0);
    let said = verify(&forged, &public(&key)).code(1);
    let said = String::from_utf8_lossy(&said.get_output().stdout).into_owned();
    assert!(said.contains("does not match its content"), "{said}");
}

// ---------------------------------------------------------------- Allotrope

/// Serves the vendored schemas (from the allotropy package, MIT licence in
/// tests/data/asm-schemas/LICENSE.txt) for their purl.allotrope.org ids;
/// nothing is fetched.
struct VendoredSchemas;

const SCHEMA_ID_PREFIX: &str = "http://purl.allotrope.org/json-schemas/";

impl jsonschema::Retrieve for VendoredSchemas {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let relative = uri
            .as_str()
            .strip_prefix(SCHEMA_ID_PREFIX)
            .ok_or_else(|| format!("not a vendored schema: {uri}"))?;
        Ok(load_schema(&format!("{relative}.json")))
    }
}

/// A vendored schema with its `$ref`s as URIs: the Allotrope files write
/// IRIs (`units.schema#/$defs/μL`), which RFC 3987 maps to URIs by
/// percent-encoding the UTF-8 bytes of non-ASCII characters.
fn load_schema(relative: &str) -> Value {
    fn to_uris(value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    match v {
                        Value::String(r) if key == "$ref" && !r.is_ascii() => {
                            *r = r
                                .bytes()
                                .map(|b| {
                                    if b.is_ascii() {
                                        char::from(b).to_string()
                                    } else {
                                        format!("%{b:02X}")
                                    }
                                })
                                .collect();
                        }
                        _ => to_uris(v),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(to_uris),
            _ => {}
        }
    }
    let path = repo().join("tests/data/asm-schemas").join(relative);
    let mut schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    to_uris(&mut schema);
    schema
}

fn cell_counting_validator() -> jsonschema::Validator {
    let schema = load_schema("adm/cell-counting/REC/2024/09/cell-counting.schema.json");
    jsonschema::options()
        .with_retriever(VendoredSchemas)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

fn schema_errors(validator: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn asm_document_is_valid_cell_counting_rec_2024_09() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    analyze(
        &out,
        &["--asm", "--operator", "A. Analyst", "--meta", "batch=B-17"],
    )
    .code(0);
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.asm.json")).unwrap())
            .unwrap();
    let validator = cell_counting_validator();
    let errors = schema_errors(&validator, &doc);
    assert!(errors.is_empty(), "{errors:#?}");

    // The numbers are the sample's, in the schema's units.
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let sample = &results["samples"][0];
    let technique = &doc["cell counting aggregate document"]["cell counting document"][0];
    assert_eq!(technique["analyst"], "A. Analyst");
    let measurement = &technique["measurement aggregate document"]["measurement document"][0];
    let processed = &measurement["processed data aggregate document"]["processed data document"][0];
    assert_eq!(
        processed["total cell count"]["value"].as_f64().unwrap(),
        sample["counts"]["total"].as_f64().unwrap()
    );
    let viable_millions = processed["viable cell density (cell counter)"]["value"]
        .as_f64()
        .unwrap();
    let viable = sample["concentration_per_ml"]["live"]["value"]
        .as_f64()
        .unwrap();
    assert!(
        (viable_millions * 1e6 - viable).abs() <= 1.0,
        "{viable_millions} vs {viable}"
    );
    assert_eq!(
        measurement["sample document"]["batch identifier"], "B-17",
        "--meta describes the run's samples"
    );
    assert_eq!(results["run"]["metadata"]["batch"], "B-17");
    assert_eq!(
        measurement["image aggregate document"]["image document"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // The validator is not vacuous: a missing required value or a wrong unit fails.
    let mut missing = doc.clone();
    missing["cell counting aggregate document"]["cell counting document"][0]
        ["measurement aggregate document"]["measurement document"][0]
        ["processed data aggregate document"]["processed data document"][0]
        .as_object_mut()
        .unwrap()
        .remove("viability (cell counter)");
    assert!(!schema_errors(&validator, &missing).is_empty());
    let mut wrong_unit = doc;
    wrong_unit["cell counting aggregate document"]["cell counting document"][0]
        ["measurement aggregate document"]["measurement document"][0]
        ["processed data aggregate document"]["processed data document"][0]
        ["viable cell density (cell counter)"]["unit"] = "cells/mL".into();
    assert!(!schema_errors(&validator, &wrong_unit).is_empty());
}

#[test]
fn aopi_asm_document_is_valid_too() {
    let dir = tempfile::tempdir().unwrap();
    let fields = dir.path().join("fields");
    cellvia()
        .args(["synth", "--mode", "aopi", "--count", "2", "--cells", "60"])
        .args(["--width", "640", "--height", "480", "--out"])
        .arg(&fields)
        .assert()
        .code(0);
    let out = dir.path().join("out");
    analyze_folder(
        &fields,
        &out,
        &["--assay", "aopi", "--pixel-size", "0.65", "--asm"],
    )
    .code(0);
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.asm.json")).unwrap())
            .unwrap();
    let errors = schema_errors(&cell_counting_validator(), &doc);
    assert!(errors.is_empty(), "{errors:#?}");
    let measurement = &doc["cell counting aggregate document"]["cell counting document"][0]
        ["measurement aggregate document"]["measurement document"][0];
    assert_eq!(
        measurement["device control aggregate document"]["device control document"][0]
            ["detection type"],
        "fluorescence"
    );
}

#[test]
fn asm_without_pixel_size_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    analyze_folder(&repo().join("sample-images/synthetic"), &out, &["--asm"])
        .code(2)
        .stdout_or_stderr_has("pixel_size_um");
    assert!(!out.join("results.json").exists());
}

// ------------------------------------------------------- run log and audit

fn verify(log: &Path) -> assert_cmd::assert::Assert {
    cellvia().args(["audit", "verify"]).arg(log).assert()
}

fn verify_outputs(log: &Path) -> assert_cmd::assert::Assert {
    cellvia()
        .args(["audit", "verify", "--outputs"])
        .arg(log)
        .assert()
}

#[test]
fn run_log_chains_runs_and_audit_verify_catches_edits_and_deletions() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("lab-runs.jsonl");
    for run in ["a", "b", "c"] {
        analyze(
            &dir.path().join(run),
            &[
                "--no-html",
                "--overlays",
                "never",
                "--run-log",
                log.to_str().unwrap(),
                "--operator",
                "J. Doe",
            ],
        )
        .code(0);
    }
    verify(&log).code(0).stdout_or_stderr_has("OK, 3 records");

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    let second: Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(second["seq"], 1);
    assert_eq!(second["operator"], "J. Doe");
    let results_b = std::fs::read(dir.path().join("b/results.json")).unwrap();
    assert_eq!(
        second["outputs"]["results.json"].as_str().unwrap(),
        cellvia::sha256_hex(&results_b),
        "the log names the results by hash"
    );

    // One changed byte (a count in the middle record).
    let edited = dir.path().join("edited.jsonl");
    let at = text.find("\"images\":3").unwrap() + "\"images\":".len();
    let mut bytes = text.clone().into_bytes();
    bytes[at] = b'4';
    std::fs::write(&edited, &bytes).unwrap();
    verify(&edited)
        .code(1)
        .stdout_or_stderr_has("line 1: content changed");

    // A deleted line.
    let shortened = dir.path().join("shortened.jsonl");
    std::fs::write(&shortened, format!("{}\n{}\n", lines[0], lines[2])).unwrap();
    verify(&shortened).code(1).stdout_or_stderr_has("line 2");

    // Output files are checked against the log: all match, then one result
    // file edited after the run is reported.
    verify_outputs(&log)
        .code(0)
        .stdout_or_stderr_has("every output file matches the log");
    let images_csv = dir.path().join("c/images.csv");
    let mut edited_csv = std::fs::read_to_string(&images_csv).unwrap();
    edited_csv.push_str("forged,ok\n");
    std::fs::write(&images_csv, edited_csv).unwrap();
    verify_outputs(&log)
        .code(1)
        .stdout_or_stderr_has("c/images.csv: CHANGED");

    // A broken log is not appended to.
    analyze(
        &dir.path().join("d"),
        &["--no-html", "--run-log", shortened.to_str().unwrap()],
    )
    .code(2)
    .stdout_or_stderr_has("does not verify");
}

#[test]
fn existing_results_are_never_overwritten_silently() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    analyze(&out, &["--no-html", "--overlays", "never"]).code(0);
    let first = std::fs::read(out.join("results.json")).unwrap();

    analyze(&out, &["--no-html", "--overlays", "never"])
        .code(2)
        .stdout_or_stderr_has("--overwrite");
    assert_eq!(std::fs::read(out.join("results.json")).unwrap(), first);

    analyze(&out, &["--no-html", "--overlays", "never", "--overwrite"]).code(0);
    let log = std::fs::read_to_string(out.join("run-log.jsonl")).unwrap();
    let last: Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(last["seq"], 1, "the replacement is the log's second run");
    assert_eq!(
        last["replaced_results_sha256"].as_str().unwrap(),
        cellvia::sha256_hex(&first)
    );
    verify(&out.join("run-log.jsonl")).code(0);
}

// ----------------------------------------------------------------- report.html

/// Chromium from the OS packages (`CELLVIA_CHROMIUM` overrides).
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CELLVIA_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// Runs headless Chromium the way this machine allows (no sandbox as root,
/// no background networking: nothing may be fetched).
fn headless(browser: &Path, profile: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .unwrap()
}

/// Script appended to a copy of the report, for this test only: it records
/// whether every picture decoded and how many plots drew, where `--dump-dom`
/// shows it.
const RENDER_PROBE: &str = r#"<script>
window.addEventListener('load', () => {
  const images = [...document.images];
  const broken = images.filter(i => !(i.complete && i.naturalWidth > 0)).length;
  const plots = [...document.querySelectorAll('svg')].filter(s => s.getBBox().width > 0).length;
  const p = document.createElement('pre');
  p.id = 'render-probe';
  p.textContent = `images=${images.length} broken=${broken} plots=${plots} width=${document.body.scrollWidth}`;
  document.body.appendChild(p);
});
</script>"#;

/// `tool` when there is one; else says the test is skipped, which CI,
/// having run scripts/setup-tests.sh, must never do.
fn required(tool: Option<PathBuf>, what: &str) -> Option<PathBuf> {
    if tool.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have {what}: run scripts/setup-tests.sh (.ci/run does)"
        );
        eprintln!(
            "SKIPPED: no {what} (run scripts/setup-tests.sh; CELLVIA_CHROMIUM names a browser)"
        );
    }
    tool
}

#[test]
fn report_html_renders_in_headless_chromium() {
    let Some(browser) = required(chromium(), "Chromium") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let spec = dir.path().join("spec.toml");
    std::fs::write(&spec, "name = \"SOP <7>\"\nmin_viability = 0.9\n").unwrap();
    analyze(
        &out,
        &[
            "--spec",
            spec.to_str().unwrap(),
            "--operator",
            "Q. A. <Reviewer>",
        ],
    )
    .code(1);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(only_svg_namespace(&html), "nothing to fetch");
    assert!(
        !html.contains("<script"),
        "the record itself has no scripts"
    );
    assert!(html.contains("SOP &lt;7&gt;") && html.contains("Q. A. &lt;Reviewer&gt;"));
    assert!(html.contains("<span class=\"verdict FAIL\">FAIL</span>"));

    let probed = dir.path().join("probed.html");
    std::fs::write(
        &probed,
        html.replace("</body>", &format!("{RENDER_PROBE}</body>")),
    )
    .unwrap();
    let profile = dir.path().join("profile");
    let url = format!("file://{}", probed.display());
    let dom = headless(
        &browser,
        &profile,
        &[
            "--enable-logging=stderr",
            "--virtual-time-budget=10000",
            "--dump-dom",
            &url,
        ],
    );
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let probe = dom_text
        .split("<pre id=\"render-probe\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .unwrap_or_else(|| panic!("no render probe in the DOM:\n{dom_text}"));
    let field = |name: &str| -> u32 {
        probe
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in {probe}"))
    };
    assert_eq!(field("images"), 3, "{probe}: one thumbnail per field");
    assert_eq!(field("broken"), 0, "{probe}");
    assert_eq!(field("plots"), 1, "{probe}: the sample's size histogram");
    assert!(field("width") <= 1200, "{probe}: no sideways overflow");
    let stderr = String::from_utf8_lossy(&dom.stderr);
    let console_errors: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            l.contains(":CONSOLE") || l.contains("Uncaught") || l.contains("Not allowed to load")
        })
        .collect();
    assert!(console_errors.is_empty(), "{console_errors:?}");

    // A screenshot of the real file, kept for a human look.
    let shot = repo().join("target/report-render.png");
    let shot_run = headless(
        &browser,
        &profile,
        &[
            "--window-size=1200,1800",
            &format!("--screenshot={}", shot.display()),
            &format!("file://{}", out.join("report.html").display()),
        ],
    );
    assert!(shot_run.status.success());
    let picture = image::open(&shot).unwrap().to_luma8();
    let dark = picture.pixels().filter(|p| p.0[0] < 128).count();
    assert!(
        dark > picture.len() / 200,
        "the screenshot is blank ({dark} dark pixels)"
    );
}

/// The only URLs a report may hold are XML namespace names, which are never fetched.
fn only_svg_namespace(html: &str) -> bool {
    html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "")
        .find("http")
        .is_none()
}

// ------------------------------------------------------------ quality flags

#[test]
fn a_defocused_field_is_flagged_and_invalidates_a_strict_sample() {
    let dir = tempfile::tempdir().unwrap();
    let fields = dir.path().join("lot-7");
    std::fs::create_dir(&fields).unwrap();
    let sharp = image::open(repo().join("sample-images/synthetic/field-0101.png"))
        .unwrap()
        .to_luma8();
    sharp.save(fields.join("a-sharp.png")).unwrap();
    // 4 px of blur on 12-24 px cells: the model then calls most cells dead.
    image::imageops::blur(&sharp, 4.0)
        .save(fields.join("b-defocused.png"))
        .unwrap();
    let spec = dir.path().join("spec.toml");
    std::fs::write(&spec, "max_flagged_fields = 0\n").unwrap();
    let out = dir.path().join("out");
    analyze_folder(
        &fields,
        &out,
        &["--no-html", "--spec", spec.to_str().unwrap()],
    )
    .code(1);
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let flags = |i: usize| results["images"][i]["quality_flags"].clone();
    assert_eq!(flags(0), Value::Null, "the sharp field has no flags");
    assert_eq!(flags(1), serde_json::json!(["out_of_focus"]));
    let sample = &results["samples"][0];
    assert_eq!(sample["fields_flagged"], 1);
    assert_eq!(sample["verdict"]["verdict"], "INVALID");
    assert_eq!(
        sample["verdict"]["reasons"][0],
        "1 flagged fields (out_of_focus 1) > 0 allowed"
    );
    let images_csv = std::fs::read_to_string(out.join("images.csv")).unwrap();
    assert!(images_csv
        .lines()
        .nth(2)
        .unwrap()
        .contains(",out_of_focus,measured,"));
}

/// Printed on A4 and on Letter paper, every page of report.html carries the
/// footer naming its run (results.json's SHA-256): read back from Chromium's
/// PDF with pypdf (installed by scripts/setup-tests.sh).
#[test]
fn every_printed_page_names_the_run_on_a4_and_letter() {
    let python = repo().join("target/pytools/bin/python");
    let pypdf = python.is_file().then_some(python);
    let (Some(browser), Some(python)) = (
        required(chromium(), "Chromium"),
        required(pypdf, "target/pytools (pypdf)"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // Both sample folders: two samples, several pages.
    analyze_folder(
        &repo().join("sample-images"),
        &out,
        &["--pixel-size", "0.5"],
    )
    .code(0);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let results = std::fs::read(out.join("results.json")).unwrap();
    let hash = cellvia::sha256_hex(&results);
    assert!(html.contains(&hash));
    for (paper, size_pt) in [("A4", (595, 842)), ("Letter", (612, 792))] {
        let sized = html.replacen("@page{size:auto;", &format!("@page{{size:{paper};"), 1);
        assert_ne!(sized, html, "report.html sets its @page size");
        let page = dir.path().join(format!("{paper}.html"));
        std::fs::write(&page, sized).unwrap();
        let pdf = dir.path().join(format!("{paper}.pdf"));
        let printed = headless(
            &browser,
            &dir.path().join("profile"),
            &[
                "--no-pdf-header-footer",
                &format!("--print-to-pdf={}", pdf.display()),
                &format!("file://{}", page.display()),
            ],
        );
        assert!(
            pdf.is_file(),
            "{}",
            String::from_utf8_lossy(&printed.stderr)
        );
        let read = std::process::Command::new(&python)
            .args([
                "-c",
                "import sys, pypdf\n\
                 for p in pypdf.PdfReader(sys.argv[1]).pages:\n\
                 \x20   text = ''.join(p.extract_text().split())\n\
                 \x20   print(round(float(p.mediabox.width)), round(float(p.mediabox.height)), int(sys.argv[2] in text))",
            ])
            .arg(&pdf)
            .arg(&hash)
            .output()
            .unwrap();
        assert!(
            read.status.success(),
            "{}",
            String::from_utf8_lossy(&read.stderr)
        );
        let pages: Vec<String> = String::from_utf8_lossy(&read.stdout)
            .lines()
            .map(String::from)
            .collect();
        assert!(pages.len() >= 2, "{paper}: {pages:?}");
        let expected = format!("{} {} 1", size_pt.0, size_pt.1);
        assert!(
            pages.iter().all(|p| *p == expected),
            "{paper}: every page {expected:?} (width, height in pt, footer found): {pages:?}"
        );
    }
}
