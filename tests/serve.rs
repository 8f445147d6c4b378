//! `cellvia serve` over real HTTP on 127.0.0.1 (issue 15): submit, poll and
//! fetch, tokens, roots, limits, concurrency, cancel, kill -9 and restart,
//! and the OpenAPI document.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::{multipart, Client};
use reqwest::StatusCode;
use serde_json::{json, Value};

const TOKEN: &str = "test-token-0123456789abcdef";

/// A server on a free port; killed (SIGKILL) when dropped.
struct Server {
    child: Child,
    base: String,
    client: Client,
}

impl Server {
    fn start(data: &Path, roots: &[&Path], extra: &[&str]) -> Self {
        let tokens = data.with_extension("tokens");
        std::fs::write(&tokens, format!("# the QC system\nqc-lims {TOKEN}\n")).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_cellvia"));
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--threads",
                "1",
                "--data",
            ])
            .arg(data)
            .arg("--token-file")
            .arg(&tokens)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for root in roots {
            command.arg("--root").arg(root);
        }
        let mut child = command.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("cellvia: listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Self {
            child,
            base: addr,
            client: Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn get(&self, path: &str) -> reqwest::blocking::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(TOKEN)
            .send()
            .unwrap()
    }

    fn submit(&self, body: &Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url("/v1/runs"))
            .bearer_auth(TOKEN)
            .json(body)
            .send()
            .unwrap();
        let status = response.status();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// Polls a run until it ends; panics after `limit`.
    fn wait(&self, id: &str, limit: Duration) -> Value {
        let started = Instant::now();
        loop {
            let run: Value = self.get(&format!("/v1/runs/{id}")).json().unwrap();
            if !matches!(run["state"].as_str(), Some("queued" | "running")) {
                return run;
            }
            assert!(started.elapsed() < limit, "run {id} still {}", run["state"]);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn samples() -> PathBuf {
    common::repo().join("sample-images")
}

#[test]
fn a_run_is_submitted_polled_and_every_file_fetched_with_the_cli_s_results() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[&samples()], &[]);
    let (status, body) = server.submit(&json!({
        "inputs": ["ldc"],
        "settings": { "pixel_size_um": 0.5, "report": { "overlays": "always" } },
        "spec": "min_viability = 0.7\nmin_cells_counted = 10\n",
        "meta": { "batch": "B-17" }
    }));
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    assert_eq!(body["state"], "queued");
    let run = server.wait(&id, Duration::from_secs(60));
    assert_eq!(run["state"], "done", "{run}");
    assert_eq!(run["operator"], "qc-lims");
    assert_eq!(run["progress"], json!({ "done": 6, "total": 6 }));
    assert_eq!(run["summary"]["images"], 6);
    assert_eq!(run["samples"][0]["sample_id"], "ldc");
    assert_eq!(run["samples"][0]["verdict"], "PASS");

    // The same images through the CLI give the same samples.csv bytes.
    let cli_out = dir.path().join("cli");
    let spec = dir.path().join("spec.toml");
    std::fs::write(&spec, "min_viability = 0.7\nmin_cells_counted = 10\n").unwrap();
    common::cellvia()
        .current_dir(samples())
        .args([
            "analyze",
            "ldc",
            "--pixel-size",
            "0.5",
            "--meta",
            "batch=B-17",
            "--quiet",
            "--out",
        ])
        .arg(&cli_out)
        .arg("--spec")
        .arg(&spec)
        .assert()
        .code(0);

    let cli_results = common::read_json(&cli_out.join("results.json"));
    assert_eq!(run["summary"], cli_results["summary"]);

    let files: Vec<String> = run["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    for name in [
        "results.json",
        "samples.csv",
        "images.csv",
        "cells.csv",
        "report.html",
    ] {
        assert!(files.contains(&name.to_string()), "{name} not listed");
    }
    let mut fetched = 0;
    for name in &files {
        let response = server.get(&format!("/v1/runs/{id}/files/{name}"));
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        let bytes = response.bytes().unwrap();
        let on_disk = std::fs::read(
            dir.path()
                .join("data/runs")
                .join(&id)
                .join("out")
                .join(name),
        )
        .unwrap();
        assert_eq!(bytes.as_ref(), on_disk.as_slice(), "{name}");
        fetched += 1;
    }
    let sums = String::from_utf8(
        server
            .get(&format!("/v1/runs/{id}/files/overlays/SHA256SUMS"))
            .bytes()
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    let overlay = sums.lines().next().unwrap().split_once("  ").unwrap().1;
    let png = server.get(&format!("/v1/runs/{id}/files/overlays/{overlay}"));
    assert_eq!(png.headers()["content-type"], "image/png");
    assert!(png.bytes().unwrap().starts_with(b"\x89PNG"));
    assert!(fetched >= 6);
    let service_samples = server
        .get(&format!("/v1/runs/{id}/files/samples.csv"))
        .text()
        .unwrap();
    assert_eq!(
        service_samples,
        std::fs::read_to_string(cli_out.join("samples.csv")).unwrap()
    );
    for missing in [
        "nothing.csv",
        "../jobs.sqlite",
        "overlays/../../../jobs.sqlite",
    ] {
        let status = server
            .get(&format!("/v1/runs/{id}/files/{missing}"))
            .status();
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    }
    // The run is in the service's run log, which verifies.
    common::cellvia()
        .args(["audit", "verify", "--outputs"])
        .arg(dir.path().join("data/run-log.jsonl"))
        .assert()
        .code(0);
    let log = std::fs::read_to_string(dir.path().join("data/run-log.jsonl")).unwrap();
    assert!(log.contains("\"operator\":\"qc-lims\""));
}

#[test]
fn every_route_but_healthz_needs_a_valid_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[&samples()], &[]);
    let health = server.client.get(server.url("/healthz")).send().unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    for (method, path) in [
        ("GET", "/metrics"),
        ("GET", "/v1/openapi.json"),
        ("GET", "/v1/runs"),
        ("POST", "/v1/runs"),
        ("GET", "/v1/runs/abc"),
        ("DELETE", "/v1/runs/abc"),
        ("GET", "/v1/runs/abc/files/results.json"),
    ] {
        for token in [None, Some("wrong-token-0123456789"), Some("")] {
            let mut request = server
                .client
                .request(method.parse().unwrap(), server.url(path));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().unwrap();
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} {token:?}"
            );
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
        }
    }
}

#[test]
fn paths_outside_the_roots_are_refused_even_through_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("inside")).unwrap();
    std::fs::copy(samples().join("ldc/g (1).png"), root.join("inside/a.png")).unwrap();
    std::os::unix::fs::symlink(samples().join("ldc"), root.join("escape")).unwrap();
    std::fs::create_dir(root.join("mixed")).unwrap();
    std::os::unix::fs::symlink(samples().join("ldc/g (3).png"), root.join("mixed/b.png")).unwrap();
    let server = Server::start(&dir.path().join("data"), &[&root], &[]);
    let outside = samples().join("ldc").display().to_string();
    for path in [
        "../root/../..",
        "/etc",
        outside.as_str(),
        "escape",
        "escape/g (1).png",
        "mixed",
        "inside/../../",
    ] {
        let (status, body) = server.submit(&json!({ "inputs": [path] }));
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains("outside"),
            "{body}"
        );
    }
    let manifest = format!("sample_id,image_path\nA,inside/a.png\nB,{outside}/g (1).png\n");
    let (status, _) = server.submit(&json!({ "manifest": manifest }));
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = server.submit(&json!({ "inputs": ["inside/missing.png"] }));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = server.submit(&json!({ "inputs": ["inside"] }));
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, body) = server.submit(
        &json!({ "inputs": ["inside"], "settings": { "classify": { "model": "/tmp/x.onnx" } } }),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = server.submit(&json!({ "inputs": ["inside"], "nonsense": 1 }));
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[test]
fn uploads_and_image_counts_over_the_limits_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("data"),
        &[&samples()],
        &["--max-upload-mib", "1", "--max-images", "5"],
    );
    let big = multipart::Form::new().part(
        "files",
        multipart::Part::bytes(vec![0u8; 2 << 20]).file_name("big.png"),
    );
    // A client of its own: the server may close the connection after refusing
    // the body, and the shared client's pool would hand that connection to
    // the next request (which then failed with "IncompleteMessage").
    let once = Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let response = once
        .post(server.url("/v1/runs"))
        .bearer_auth(TOKEN)
        .multipart(big)
        .send();
    // The server may answer 413 before reading the whole body, or close it.
    if let Ok(response) = response {
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    let (status, body) = server.submit(&json!({ "inputs": ["ldc"] }));
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    // A small upload within the limits is analysed as sample "upload".
    let bytes = std::fs::read(samples().join("ldc/g (1).png")).unwrap();
    let form = multipart::Form::new()
        .part(
            "files",
            multipart::Part::bytes(bytes).file_name("field1.png"),
        )
        .text("operator", "alice");
    let response = server
        .client
        .post(server.url("/v1/runs"))
        .bearer_auth(TOKEN)
        .multipart(form)
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let id = response.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let run = server.wait(&id, Duration::from_secs(60));
    assert_eq!(
        (run["state"].as_str(), run["operator"].as_str()),
        (Some("done"), Some("alice"))
    );
    assert_eq!(run["samples"][0]["sample_id"], "upload");
}

#[test]
fn twenty_concurrent_submissions_are_all_analysed_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[&samples()], &["--workers", "2"]);
    let ids: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let server = &server;
                scope.spawn(move || {
                    let (status, body) = server.submit(
                        &json!({ "inputs": ["synthetic"], "meta": { "client": i.to_string() } }),
                    );
                    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
                    body["id"].as_str().unwrap().to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 20);
    for id in &ids {
        let run = server.wait(id, Duration::from_secs(120));
        assert_eq!(run["state"], "done", "{run}");
        assert_eq!(run["summary"]["images"], 3);
    }
    let listed: Value = server.get("/v1/runs?state=done&limit=50").json().unwrap();
    assert_eq!(listed["runs"].as_array().unwrap().len(), 20);
    let log = std::fs::read_to_string(dir.path().join("data/run-log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 20);
    for i in 0..20 {
        assert_eq!(
            log.matches(&format!("\"client\":\"{i}\"")).count(),
            1,
            "client {i}"
        );
    }
    let metrics = server.get("/metrics").text().unwrap();
    assert!(
        metrics.contains("cellvia_runs{state=\"done\"} 20"),
        "{metrics}"
    );
    assert!(
        metrics.contains("cellvia_images_analysed_total 60"),
        "{metrics}"
    );
    assert!(metrics.contains("cellvia_queue_depth 0"), "{metrics}");
}

/// `count` copies of the LDC sample images in a new folder.
fn many_fields(dir: &Path, count: usize) -> PathBuf {
    let folder = dir.join("many");
    std::fs::create_dir_all(&folder).unwrap();
    let seeds: Vec<PathBuf> = std::fs::read_dir(samples().join("ldc"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    for i in 0..count {
        std::fs::copy(&seeds[i % seeds.len()], folder.join(format!("f{i:04}.png"))).unwrap();
    }
    folder
}

#[test]
fn queued_and_running_runs_can_be_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    many_fields(&root, 300);
    let server = Server::start(&dir.path().join("data"), &[&root], &[]);
    let (_, first) = server.submit(&json!({ "inputs": ["many"] }));
    let (_, second) = server.submit(&json!({ "inputs": ["many"] }));
    let (first, second) = (
        first["id"].as_str().unwrap(),
        second["id"].as_str().unwrap(),
    );
    // The second waits behind the first (one worker): cancelled at once.
    let response = server
        .client
        .delete(server.url(&format!("/v1/runs/{second}")))
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        server.wait(second, Duration::from_secs(5))["state"],
        "cancelled"
    );
    // The first, once running, stops before committing anything.
    let started = Instant::now();
    while server
        .get(&format!("/v1/runs/{first}"))
        .json::<Value>()
        .unwrap()["state"]
        != "running"
    {
        assert!(started.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(20));
    }
    let response = server
        .client
        .delete(server.url(&format!("/v1/runs/{first}")))
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let run = server.wait(first, Duration::from_secs(60));
    assert_eq!(run["state"], "cancelled", "{run}");
    assert!(!dir
        .path()
        .join("data/runs")
        .join(first)
        .join("out/results.json")
        .exists());
    let again = server
        .client
        .delete(server.url(&format!("/v1/runs/{first}")))
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let files = server.get(&format!("/v1/runs/{first}/files/results.json"));
    assert_eq!(files.status(), StatusCode::CONFLICT);
}

#[test]
fn a_run_interrupted_by_kill_9_completes_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    many_fields(&root, 300);
    let data = dir.path().join("data");
    let mut server = Server::start(&data, &[&root], &[]);
    let (_, body) = server.submit(&json!({ "inputs": ["many"] }));
    let id = body["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    loop {
        let run: Value = server.get(&format!("/v1/runs/{id}")).json().unwrap();
        if run["state"] == "running" && run["progress"]["done"].as_u64().unwrap_or(0) > 10 {
            break;
        }
        // A first poll may come before a worker has picked the run up.
        assert!(
            run["state"] == "queued" || run["state"] == "running",
            "finished before the kill: {run}"
        );
        assert!(started.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(10));
    }
    // It answers /healthz while analysing.
    let health = server.client.get(server.url("/healthz")).send().unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    drop(server);
    let server = Server::start(&data, &[&root], &[]);
    let run = server.wait(&id, Duration::from_secs(120));
    assert_eq!(run["state"], "done", "{run}");
    assert_eq!(run["summary"]["images"], 300);
    let listed: Value = server.get("/v1/runs?state=running").json().unwrap();
    assert!(listed["runs"].as_array().unwrap().is_empty());
    common::cellvia()
        .args(["audit", "verify", "--outputs"])
        .arg(data.join("run-log.jsonl"))
        .assert()
        .code(0);
}

#[test]
fn the_openapi_document_lists_every_route_and_each_answers() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[&samples()], &[]);
    let doc: Value = server.get("/v1/openapi.json").json().unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            routes.push(format!("{} {path}", method.to_uppercase()));
            let concrete = path
                .replace("{id}", "0000")
                .replace("{name}", "results.json");
            let response = server
                .client
                .request(
                    method.to_uppercase().parse().unwrap(),
                    server.url(&concrete),
                )
                .bearer_auth(TOKEN)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .unwrap();
            // Routed: a success, or an error from the handler in JSON
            // (an unrouted path would be a bare 404 or 405).
            let status = response.status();
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            if !status.is_success() {
                let body: Value = response.json().unwrap_or(Value::Null);
                assert!(body["error"].is_string(), "{method} {path}: {status}");
            }
        }
    }
    routes.sort();
    assert_eq!(
        routes,
        [
            "DELETE /v1/runs/{id}",
            "GET /healthz",
            "GET /metrics",
            "GET /v1/openapi.json",
            "GET /v1/runs",
            "GET /v1/runs/{id}",
            "GET /v1/runs/{id}/files/{name}",
            "POST /v1/runs",
        ]
    );
}

#[test]
fn a_symlink_swapped_in_after_submission_is_refused_when_the_run_starts() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    many_fields(&root, 200);
    std::fs::create_dir_all(root.join("later")).unwrap();
    std::fs::copy(samples().join("ldc/g (1).png"), root.join("later/a.png")).unwrap();
    let server = Server::start(&dir.path().join("data"), &[&root], &[]);
    // One worker: the second run waits behind the first.
    let (_, busy) = server.submit(&json!({ "inputs": ["many"] }));
    let (status, body) = server.submit(&json!({ "inputs": ["later"] }));
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    std::fs::remove_file(root.join("later/a.png")).unwrap();
    std::os::unix::fs::symlink(samples().join("ldc/g (3).png"), root.join("later/a.png")).unwrap();
    server.wait(busy["id"].as_str().unwrap(), Duration::from_secs(120));
    let run = server.wait(body["id"].as_str().unwrap(), Duration::from_secs(60));
    assert_eq!(run["state"], "failed", "{run}");
    assert!(run["error"].as_str().unwrap().contains("outside"), "{run}");
}
