//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use quorum::market::LoadOptions;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path under `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

/// The shipped multi-symbol minute file.
pub fn equities_1m() -> PathBuf {
    root().join("data/bars/equities_1m_2013-10.csv")
}

/// Loader options for `path` with every filter off.
pub fn opts(path: &Path) -> LoadOptions {
    LoadOptions::new(path)
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Every file under `dir`, recursively.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
