//! Shared bench helpers. Benches read the real files in `../shared/data` (see its README);
//! on a machine without it they fall back to the repo's `data/bars` sample and say so.

#![allow(dead_code)]

use std::path::PathBuf;

use quorum::market::LoadOptions;

/// `../shared/data/<name>` if present, else `None`.
pub fn shared(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data").join(name);
    p.exists().then_some(p)
}

/// `../shared/data/<name>`, or the repo sample with a note on stderr.
pub fn shared_or_sample(name: &str) -> PathBuf {
    shared(name).unwrap_or_else(|| {
        eprintln!("note: ../shared/data/{name} not found; benchmarking data/bars instead");
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/bars")
    })
}

/// Loader options with no filters.
pub fn raw_opts(path: PathBuf) -> LoadOptions {
    LoadOptions::new(path)
}

/// Benches use the same allocator as the `quorum` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
