//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use quorum::market::{BadRowPolicy, LoadOptions, SessionMode};

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
    LoadOptions {
        path: path.to_path_buf(),
        on_bad_row: BadRowPolicy::Fail,
        symbols: vec![],
        from: None,
        to: None,
        session: SessionMode::All,
        resample: None,
        splits: vec![],
        factor_files: None,
        crypto_quotes: quorum::market::session::default_crypto_quotes(),
    }
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}
