//! Where ONNX Runtime's shared library is looked for (see [`super::onnx`]
//! for how it is loaded).

use std::path::{Path, PathBuf};

/// Library file name of ONNX Runtime on this platform.
const RUNTIME_FILE: &str = if cfg!(target_os = "macos") {
    "libonnxruntime.dylib"
} else if cfg!(target_os = "windows") {
    "onnxruntime.dll"
} else {
    "libonnxruntime.so"
};

/// Where ONNX Runtime is looked for, in order: `$ORT_DYLIB_PATH` alone when
/// set, else beside the executable, in `../lib`, and in this source tree's
/// `vendor/onnxruntime/`.
///
/// ```
/// let candidates = cellvia::classify::runtime_candidates();
/// assert!(!candidates.is_empty());
/// ```
pub fn runtime_candidates() -> Vec<PathBuf> {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return vec![PathBuf::from(p)];
    }
    let mut out = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        out.push(dir.join(RUNTIME_FILE));
        out.push(dir.join("..").join("lib").join(RUNTIME_FILE));
    }
    out.push(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("vendor")
            .join("onnxruntime")
            .join(RUNTIME_FILE),
    );
    out
}
