//! The hot folder (issue 15): drops with READY or as a manifest, failures
//! with a reason, and restarts in the middle that neither lose a drop nor
//! analyse it twice into the outbox.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn ldc_images() -> Vec<PathBuf> {
    let mut images: Vec<PathBuf> = std::fs::read_dir(common::repo().join("sample-images/ldc"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    images.sort();
    images
}

/// A folder of `count` LDC images, with READY when `ready`.
fn drop_folder(folder: &Path, count: usize, ready: bool) {
    std::fs::create_dir_all(folder).unwrap();
    let seeds = ldc_images();
    for i in 0..count {
        std::fs::copy(&seeds[i % seeds.len()], folder.join(format!("f{i:04}.png"))).unwrap();
    }
    if ready {
        std::fs::write(folder.join("READY"), b"").unwrap();
    }
}

fn watch(inbox: &Path, outbox: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cellvia"));
    command
        .args(["watch", "--threads", "1", "--inbox"])
        .arg(inbox)
        .arg("--outbox")
        .arg(outbox)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

fn log_records(outbox: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(outbox.join("run-log.jsonl")).unwrap_or_default();
    cellvia::audit::verify(&text).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn sample_ids(results: &Path) -> Vec<String> {
    common::read_json(results)["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sample_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn ready_folders_and_manifests_are_analysed_and_moved_on() {
    let dir = tempfile::tempdir().unwrap();
    let (inbox, outbox) = (dir.path().join("inbox"), dir.path().join("outbox"));
    drop_folder(&inbox.join("batch-7"), 2, true);
    drop_folder(&inbox.join("batch-7/tube-2"), 1, false);
    drop_folder(&inbox.join("still-copying"), 2, false);
    drop_folder(&inbox.join("pool"), 3, false);
    std::fs::write(
        inbox.join("lot-9.csv"),
        "sample_id,image_path,dilution\nA,pool/f0000.png,2\nA,pool/f0001.png,2\nB,pool/f0002.png,\n",
    )
    .unwrap();
    drop_folder(&dir.path().join("elsewhere"), 1, false);
    std::fs::write(
        inbox.join("sneaky.csv"),
        "sample_id,image_path\nA,../elsewhere/f0000.png\n",
    )
    .unwrap();
    std::fs::create_dir_all(inbox.join("empty")).unwrap();
    std::fs::write(inbox.join("empty/READY"), b"").unwrap();
    let status = watch(&inbox, &outbox).arg("--once").status().unwrap();
    assert!(status.success());

    assert_eq!(
        sample_ids(&outbox.join("batch-7/results.json")),
        ["batch-7", "batch-7/tube-2"]
    );
    assert_eq!(sample_ids(&outbox.join("lot-9/results.json")), ["A", "B"]);
    assert!(inbox.join(".done/batch-7/READY").exists());
    assert!(inbox.join(".done/lot-9.csv").exists());
    // Not ready: left where it is; images a manifest names stay too.
    assert!(inbox.join("still-copying/f0000.png").exists());
    assert!(inbox.join("pool/f0002.png").exists());
    assert!(!outbox.join("still-copying").exists());
    let reason = std::fs::read_to_string(inbox.join(".failed/empty.reason.txt")).unwrap();
    assert!(reason.contains("no image"), "{reason}");
    let reason = std::fs::read_to_string(inbox.join(".failed/sneaky.csv.reason.txt")).unwrap();
    assert!(
        reason.contains("not in the inbox's own folders"),
        "{reason}"
    );
    assert!(inbox.join(".failed/sneaky.csv").exists());
    let records = log_records(&outbox);
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r["operator"] == "hot-folder"));
    // A drop with a name already analysed is not analysed over it.
    drop_folder(&inbox.join("batch-7"), 1, true);
    assert!(watch(&inbox, &outbox)
        .arg("--once")
        .status()
        .unwrap()
        .success());
    let reason = std::fs::read_to_string(inbox.join(".failed/batch-7.reason.txt")).unwrap();
    assert!(reason.contains("already holds results"), "{reason}");
    assert_eq!(log_records(&outbox).len(), 2);
}

#[test]
fn a_drop_claimed_before_a_stop_is_finished_once_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (inbox, outbox) = (dir.path().join("inbox"), dir.path().join("outbox"));
    drop_folder(&inbox.join("done-before-stop"), 2, true);
    assert!(watch(&inbox, &outbox)
        .arg("--once")
        .status()
        .unwrap()
        .success());
    assert_eq!(log_records(&outbox).len(), 1);
    // As if stopped after the commit, before the move to .done.
    std::fs::rename(
        inbox.join(".done/done-before-stop"),
        inbox.join(".work/done-before-stop"),
    )
    .unwrap();
    // As if stopped right after claiming.
    drop_folder(&inbox.join(".work/claimed"), 2, true);
    assert!(watch(&inbox, &outbox)
        .arg("--once")
        .status()
        .unwrap()
        .success());
    let records = log_records(&outbox);
    assert_eq!(records.len(), 2, "the committed drop was analysed again");
    assert!(inbox.join(".done/done-before-stop").exists());
    assert!(inbox.join(".done/claimed").exists());
    assert!(outbox.join("claimed/results.json").exists());
    assert!(std::fs::read_dir(inbox.join(".work"))
        .unwrap()
        .next()
        .is_none());
}

#[test]
fn kill_9_in_the_middle_then_a_restart_analyses_the_drop_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let (inbox, outbox) = (dir.path().join("inbox"), dir.path().join("outbox"));
    drop_folder(&inbox.join("big"), 300, true);
    let mut child = watch(&inbox, &outbox)
        .args(["--poll-ms", "50"])
        .spawn()
        .unwrap();
    let started = Instant::now();
    // Killed while the drop is claimed and being analysed.
    while !outbox.join("big/.cellvia-staging").exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(inbox.join(".work/big").exists(), "the claimed drop is gone");
    assert!(watch(&inbox, &outbox)
        .arg("--once")
        .status()
        .unwrap()
        .success());
    let records = log_records(&outbox);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["images"], 300);
    assert!(inbox.join(".done/big").exists());
    common::cellvia()
        .args(["audit", "verify", "--outputs"])
        .arg(outbox.join("run-log.jsonl"))
        .assert()
        .code(0);
}

#[test]
fn serve_runs_a_hot_folder_into_the_service_run_log() {
    let dir = tempfile::tempdir().unwrap();
    let (inbox, outbox) = (dir.path().join("inbox"), dir.path().join("outbox"));
    let data = dir.path().join("data");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "qc test-token-0123456789abcdef\n").unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_cellvia"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--poll-ms",
            "50",
            "--data",
        ])
        .arg(&data)
        .arg("--token-file")
        .arg(&tokens)
        .arg("--watch")
        .arg(&inbox)
        .arg("--outbox")
        .arg(&outbox)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::fs::create_dir_all(&inbox).unwrap();
    drop_folder(&dir.path().join("staging/tube-1"), 2, true);
    // Written elsewhere, then moved in whole.
    std::fs::rename(dir.path().join("staging/tube-1"), inbox.join("tube-1")).unwrap();
    let started = Instant::now();
    while !inbox.join(".done/tube-1").exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "not taken");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(sample_ids(&outbox.join("tube-1/results.json")), ["tube-1"]);
    let log = std::fs::read_to_string(data.join("run-log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 1);
}
