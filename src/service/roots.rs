//! The folders whose images a client may name: every path is resolved and
//! must stay under one of them.

use std::path::{Component, Path, PathBuf};

use crate::io::folders::canonical;
use crate::io::IoError;

/// A path a client named that the service will not read.
#[derive(Debug, thiserror::Error)]
pub enum PathRefused {
    #[error("{0} is outside the folders this service may read")]
    Outside(String),
    #[error("{0} does not exist")]
    Missing(String),
    #[error("no --root is configured: this service takes uploads only")]
    NoRoots,
}

/// The allowed folders, as given and resolved.
#[derive(Debug, Clone, Default)]
pub struct Roots(Vec<(PathBuf, PathBuf)>);

/// `path` made absolute against `base`, with `.` and `..` applied to the
/// text only (no filesystem access).
fn lexical(base: &Path, path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in base.join(path).components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

impl Roots {
    /// The folders `paths`, which must exist.
    pub fn new(paths: &[PathBuf]) -> Result<Self, IoError> {
        paths
            .iter()
            .map(|p| {
                let absolute = std::path::absolute(p).unwrap_or_else(|_| p.clone());
                Ok((lexical(Path::new("/"), &absolute), canonical(p)?))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// The resolved roots.
    pub fn resolved(&self) -> Vec<PathBuf> {
        self.0
            .iter()
            .map(|(_, canonical)| canonical.clone())
            .collect()
    }

    /// The first root (relative paths are taken from it).
    pub fn first(&self) -> Option<&Path> {
        self.0.first().map(|(_, canonical)| canonical.as_path())
    }

    /// Resolves a client's path (relative ones from the first root): `..`
    /// and symbolic links that lead out of every root are refused.
    ///
    /// ```
    /// use cellvia::service::roots::{Roots, PathRefused};
    /// let roots = Roots::new(&["sample-images".into()])?;
    /// assert!(roots.resolve("ldc".as_ref()).is_ok());
    /// assert!(matches!(roots.resolve("../Cargo.toml".as_ref()), Err(PathRefused::Outside(_))));
    /// assert!(matches!(roots.resolve("/etc/passwd".as_ref()), Err(PathRefused::Outside(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resolve(&self, path: &Path) -> Result<PathBuf, PathRefused> {
        let first = self.first().ok_or(PathRefused::NoRoots)?;
        let shown = path.display().to_string();
        let named = lexical(first, path);
        // Checked on the text first, so nothing outside is even looked at.
        if !self
            .0
            .iter()
            .any(|(given, resolved)| named.starts_with(given) || named.starts_with(resolved))
        {
            return Err(PathRefused::Outside(shown));
        }
        let resolved = canonical(&named).map_err(|_| PathRefused::Missing(shown.clone()))?;
        self.check(&resolved)
            .map_err(|_| PathRefused::Outside(shown))?;
        Ok(resolved)
    }

    /// Checks that an already resolved path (a file found in a folder) is
    /// under a root: a symbolic link inside a root may lead out of it.
    pub fn check(&self, resolved: &Path) -> Result<(), PathRefused> {
        if self.0.iter().any(|(_, root)| resolved.starts_with(root)) {
            Ok(())
        } else {
            Err(PathRefused::Outside(resolved.display().to_string()))
        }
    }
}
