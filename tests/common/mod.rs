//! Helpers shared by the end-to-end tests of the `cellvia` binary.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// The repository root (sample images, models).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The built `cellvia` binary.
pub fn cellvia() -> Command {
    Command::cargo_bin("cellvia").expect("binary built")
}

/// A JSON output file, parsed.
pub fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("results written"))
        .expect("valid JSON")
}
