//! `cellvia audit verify` and `cellvia audit keygen`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use cellvia::audit::signature::{key_pair, RecordVerifier};
use cellvia::io::{self, commit};

use super::{EXIT_OK, EXIT_SOME_FAILED};
use cellvia::io::published::{parse_checksum_list, Folder};

/// `cellvia audit verify LOG [--outputs] [--public-key FILE]`.
pub fn verify(
    log: &Path,
    outputs: bool,
    public_key: Option<&Path>,
    root: Option<&Path>,
) -> anyhow::Result<u8> {
    let bytes = io::read_bytes(log)?;
    let (committed, torn) = cellvia::audit::split_torn(&bytes);
    let text = match cellvia::audit::committed_text(committed) {
        Ok(text) => text,
        Err(e) => {
            println!("{}: NOT VALID: {e}", log.display());
            return Ok(EXIT_SOME_FAILED);
        }
    };
    let verified = match cellvia::audit::verify(text) {
        Ok(v) => v,
        Err(e) => {
            println!("{}: NOT VALID: {e}", log.display());
            return Ok(EXIT_SOME_FAILED);
        }
    };
    if let Some(key) = public_key {
        let key = RecordVerifier::from_text(&io::read_text(key)?)
            .with_context(|| key.display().to_string())?;
        if let Err(e) = cellvia::audit::verify_signatures(text, &key) {
            println!("{}: NOT VALID: {e}", log.display());
            return Ok(EXIT_SOME_FAILED);
        }
    }
    let signed = if public_key.is_some() {
        ", every one signed by the given key"
    } else {
        ""
    };
    println!(
        "{}: OK, {} records{signed}, last sha256 {}",
        log.display(),
        verified.records,
        verified.last_sha256
    );
    if let Some(torn) = torn {
        println!(
            "{}: an unfinished line of {} bytes follows the last record: an append cut short (full disk or crash) that never committed; the next run moves it to {}.torn",
            log.display(),
            torn.len(),
            log.display()
        );
    }
    if !outputs {
        return Ok(EXIT_OK);
    }
    let mut problems = 0;
    let latest = cellvia::audit::latest_outputs(text)?;
    let moved_from = common_ancestor(latest.keys().map(Path::new));
    for (out, files) in latest {
        let out = match (root, &moved_from) {
            (Some(root), Some(from)) => {
                root.join(Path::new(&out).strip_prefix(from).unwrap_or(Path::new("")))
            }
            _ => PathBuf::from(&out),
        };
        let out = out.as_path();
        if out.join(commit::STAGING_DIR).exists() {
            println!(
                "{}: holds the staged files of an interrupted run; the next run into it finishes or removes them",
                out.display()
            );
        }
        for (name, logged) in files {
            problems += check_output(&out.join(&name), &logged);
            if let Some(folder) = Folder::of_sums(&name) {
                problems += check_folder(out, folder);
            }
        }
    }
    if problems > 0 {
        println!("{problems} output files are missing, changed or not vouched for by the log");
        return Ok(EXIT_SOME_FAILED);
    }
    println!("every output file matches the log");
    Ok(EXIT_OK)
}

/// The deepest folder holding every one of `paths` (the path itself, for one).
fn common_ancestor<'a>(paths: impl Iterator<Item = &'a Path>) -> Option<PathBuf> {
    paths.fold(None, |common: Option<PathBuf>, path| match common {
        None => Some(path.to_path_buf()),
        Some(common) => Some(
            common
                .components()
                .zip(path.components())
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a)
                .collect(),
        ),
    })
}

/// 0 when `path` holds the bytes whose hash is `logged`, else 1 (and says why).
fn check_output(path: &Path, logged: &str) -> usize {
    match io::read_bytes(path) {
        Ok(bytes) if cellvia::sha256_hex(&bytes) == logged => 0,
        Ok(_) => {
            println!("{}: CHANGED since it was logged", path.display());
            1
        }
        Err(_) => {
            println!("{}: MISSING (moved or deleted)", path.display());
            1
        }
    }
}

/// Checks every file of a published folder (overlays, exports) against its
/// checksum list (itself checked against the log) and flags files the list
/// does not name.
fn check_folder(out: &Path, folder: Folder) -> usize {
    let dir = out.join(folder.dir());
    let sums = io::read_text(&out.join(folder.sums())).unwrap_or_default();
    let listed = parse_checksum_list(&sums);
    let mut problems: usize = listed
        .iter()
        .map(|(name, hash)| check_output(&dir.join(name), hash))
        .sum();
    let sums_name = Path::new(folder.sums()).file_name();
    for file in io::discover::files_under(&dir).unwrap_or_default() {
        let name = file.file_name();
        let known = name.is_some_and(|n| n == sums_name.unwrap_or_default())
            || name
                .and_then(|n| n.to_str())
                .is_some_and(|n| listed.contains_key(n));
        if !known {
            println!(
                "{}: NOT VOUCHED FOR by the log (added later)",
                file.display()
            );
            problems += 1;
        }
    }
    problems
}

/// `cellvia audit keygen --out FILE`: FILE (secret) and FILE.pub.
pub fn keygen(out: &Path) -> anyhow::Result<u8> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).context("no randomness from the operating system")?;
    let (secret, public) = key_pair(seed);
    let mut public_path = out.as_os_str().to_owned();
    public_path.push(".pub");
    let public_path = std::path::PathBuf::from(public_path);
    io::write::write_new_private(out, secret.as_bytes())?;
    io::write::write_atomic(&public_path, public.as_bytes())?;
    println!(
        "secret key in {} (keep it to the signing account; give it to analyze --signing-key), public key in {}",
        out.display(),
        public_path.display()
    );
    Ok(EXIT_OK)
}
