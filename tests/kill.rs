//! kill -9 at random points of a 200-image run, 20 times (issue 13): after
//! each, the output folder holds either no final results or results a
//! verifying run-log record vouches for, and a rerun succeeds.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const IMAGES: usize = 200;
const KILLS: u64 = 20;

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cellvia"))
}

fn analyze(inputs: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(binary());
    command
        .arg("analyze")
        .arg(inputs)
        .arg("--out")
        .arg(out)
        .args(["--quiet", "--overlays", "always"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// Every final file in `out` is one the log's latest record for `out`
/// lists, with the bytes it lists (none may exist without a record).
fn finals_are_vouched_for(out: &Path) -> Result<usize, String> {
    let log = std::fs::read(out.join("run-log.jsonl")).unwrap_or_default();
    let text = cellvia::audit::committed_text(&log).map_err(|e| e.to_string())?;
    cellvia::audit::verify(text).map_err(|e| e.to_string())?;
    let latest = cellvia::audit::latest_outputs(text).map_err(|e| e.to_string())?;
    let key = std::path::absolute(out).unwrap().display().to_string();
    let listed = latest.get(&key).cloned().unwrap_or_default();
    let mut finals = 0;
    for name in cellvia::io::commit::OUTPUT_NAMES
        .iter()
        .copied()
        .chain([cellvia::io::published::Folder::Overlays.sums()])
    {
        let Ok(bytes) = std::fs::read(out.join(name)) else {
            continue;
        };
        finals += 1;
        if listed.get(name) != Some(&cellvia::sha256_hex(&bytes)) {
            return Err(format!(
                "{name} is final but no record vouches for its bytes"
            ));
        }
    }
    Ok(finals)
}

fn verify_outputs(out: &Path) -> bool {
    Command::new(binary())
        .args(["audit", "verify", "--outputs"])
        .arg(out.join("run-log.jsonl"))
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// A fixed pseudo-random sequence in [0, 1) (xorshift64*), so every CI run
/// kills at the same fractions of the run.
fn fractions() -> impl Iterator<Item = f64> {
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    std::iter::repeat_with(move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    })
}

#[test]
fn kill_9_never_leaves_results_the_log_does_not_vouch_for() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    let seeds: Vec<PathBuf> = [
        "cell (1)",
        "cell (352)",
        "d (1)",
        "g (1)",
        "g (3)",
        "image_600",
    ]
    .iter()
    .map(|s| Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("sample-images/ldc/{s}.png")))
    .collect();
    for i in 0..IMAGES {
        std::fs::copy(&seeds[i % seeds.len()], inputs.join(format!("f{i:03}.png"))).unwrap();
    }
    let started = Instant::now();
    let full = analyze(&inputs, &dir.path().join("full"), &[])
        .status()
        .unwrap();
    assert_eq!(full.code(), Some(0));
    let full_run = started.elapsed();

    let (mut with_results, mut without) = (0, 0);
    assert_eq!(finals_are_vouched_for(&dir.path().join("full")), Ok(6));
    for (kill, fraction) in (0..KILLS).zip(fractions()) {
        // Half the kills anywhere in the run, half in its last tenth, where
        // the outputs are staged, logged and moved into place.
        let at = if kill % 2 == 0 {
            1.05 * fraction
        } else {
            0.9 + 0.15 * fraction
        };
        let out = dir.path().join(format!("out{kill}"));
        let mut child = analyze(&inputs, &out, &[]).spawn().unwrap();
        std::thread::sleep(full_run.mul_f64(at));
        let _ = child.kill(); // SIGKILL; it may have finished already
        child.wait().unwrap();
        match finals_are_vouched_for(&out) {
            Err(e) => panic!("kill {kill} at {fraction:.2}: {e}"),
            Ok(0) => without += 1,
            Ok(_) => {
                // results.json goes into place last: with it, the set is whole.
                if out.join("results.json").exists() {
                    assert!(
                        verify_outputs(&out),
                        "kill {kill}: audit verify --outputs fails"
                    );
                }
                with_results += 1;
            }
        }
        let rerun = analyze(&inputs, &out, &["--overwrite"]).status().unwrap();
        assert_eq!(rerun.code(), Some(0), "kill {kill}: the rerun fails");
        assert!(
            verify_outputs(&out),
            "kill {kill}: the rerun's results do not verify"
        );
        assert!(!out.join(".cellvia-staging").exists());
    }
    eprintln!(
        "{KILLS} kills over a {:.1} s run: {with_results} left vouched-for final files, {without} left none",
        full_run.as_secs_f64()
    );
    assert!(full_run > Duration::ZERO);
}
