//! Analyst profiles: `agents/*.toml`, one file per analyst.
//!
//! ```toml
//! name = "wyckoff"          # memory agent name; unique
//! kind = "wyckoff"          # a registered kind: hedge | liquidity | markov | sentiment | wyckoff
//! enabled = true            # false: skipped
//! horizon = 15              # bars a vote is held before it is judged
//! recall_k = 6              # memories recalled per decision that recalls
//! [params]                  # the kind's own parameters (see its module docs)
//! lookback = 60
//! ```
//!
//! A kind may be instantiated several times under different names with different
//! parameters. Unknown keys, in the file or in `[params]`, are errors naming file and key.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::kinds::Registry;

/// Errors loading profiles.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The folder or a file cannot be read.
    #[error("{path}: cannot read")]
    Io {
        /// The folder or profile file that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not a valid profile (unknown key, wrong type, bad value).
    #[error("{path}: {message}")]
    Invalid {
        /// The profile file.
        path: PathBuf,
        /// What is wrong, naming the key.
        message: String,
    },
    /// Two profiles share a name.
    #[error("{path}: analyst name `{name}` is already used by {other}")]
    Duplicate {
        /// The profile file read second.
        path: PathBuf,
        /// The shared analyst name.
        name: String,
        /// The profile file that already has the name.
        other: PathBuf,
    },
    /// No enabled profile (or no profile named by `--only`).
    #[error("{0}")]
    NoneSelected(String),
}

fn yes() -> bool {
    true
}

fn default_k() -> usize {
    6
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: String,
    kind: String,
    #[serde(default = "yes")]
    enabled: bool,
    horizon: usize,
    #[serde(default = "default_k")]
    recall_k: usize,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    params: toml::Table,
}

/// A loaded profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// The profile file it was loaded from.
    pub path: PathBuf,
    /// Analyst name: unique, letters, digits, `_` or `-`; also its memory agent name.
    pub name: String,
    /// A kind of the [`Registry`] the profile is built with.
    pub kind: String,
    /// False skips the analyst unless it is chosen with `--only` (default true).
    pub enabled: bool,
    /// Bars a vote is held before it is judged, in 1..=10000.
    pub horizon: usize,
    /// Memories recalled per decision that recalls, in 1..=100 (default 6).
    pub recall_k: usize,
    /// Free text describing the analyst (not used by the engine).
    pub description: Option<String>,
    /// The kind's own `[params]` table, parsed by [`Profile::params`].
    pub params: toml::Table,
}

impl Profile {
    /// Parses the kind-specific parameters (defaults for missing keys).
    pub fn params<T: for<'de> Deserialize<'de>>(&self) -> Result<T, ProfileError> {
        toml::Value::Table(self.params.clone())
            .try_into::<T>()
            .map_err(|e| ProfileError::Invalid { path: self.path.clone(), message: format!("[params]: {e}") })
    }
}

/// Parses one profile file's text; its kind must be in `registry`, and its `[params]` are
/// checked by building it once.
pub fn parse_profile(path: &Path, text: &str, registry: &Registry) -> Result<Profile, ProfileError> {
    let f: ProfileFile =
        toml::from_str(text).map_err(|e| ProfileError::Invalid { path: path.to_path_buf(), message: e.to_string() })?;
    let bad = |m: String| ProfileError::Invalid { path: path.to_path_buf(), message: m };
    if f.name.trim().is_empty() || !f.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(bad(format!("key `name` = {:?}: use letters, digits, '_' or '-'", f.name)));
    }
    if f.horizon == 0 || f.horizon > 10_000 {
        return Err(bad(format!("key `horizon` = {}: must be in 1..=10000 bars", f.horizon)));
    }
    if f.recall_k == 0 || f.recall_k > 100 {
        return Err(bad(format!("key `recall_k` = {}: must be in 1..=100", f.recall_k)));
    }
    let p = Profile {
        path: path.to_path_buf(),
        name: f.name,
        kind: f.kind,
        enabled: f.enabled,
        horizon: f.horizon,
        recall_k: f.recall_k,
        description: f.description,
        params: f.params,
    };
    // Check the kind and parameters now, so a typo fails at load time with the file named.
    registry.build(&p)?;
    Ok(p)
}

/// Loads every `*.toml` of `dir` (sorted by file name) and keeps the enabled ones, or only
/// the one named `only` (enabled or not). Kinds are looked up in `registry`.
pub fn load_profiles(dir: &Path, only: Option<&str>, registry: &Registry) -> Result<Vec<Profile>, ProfileError> {
    let io = |source| ProfileError::Io { path: dir.to_path_buf(), source };
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let p = entry.map_err(io)?.path();
        if p.extension().is_some_and(|x| x == "toml") {
            files.push(p);
        }
    }
    files.sort();
    let mut all: Vec<Profile> = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|source| ProfileError::Io { path: f.clone(), source })?;
        let p = parse_profile(&f, &text, registry)?;
        if let Some(other) = all.iter().find(|o| o.name == p.name) {
            return Err(ProfileError::Duplicate { path: f.clone(), name: p.name.clone(), other: other.path.clone() });
        }
        all.push(p);
    }
    let chosen: Vec<Profile> = match only {
        Some(name) => all.iter().filter(|p| p.name == name).cloned().collect(),
        None => all.iter().filter(|p| p.enabled).cloned().collect(),
    };
    if chosen.is_empty() {
        let names: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
        return Err(ProfileError::NoneSelected(match only {
            Some(n) => format!("no analyst named `{n}` in {} (profiles: {})", dir.display(), names.join(", ")),
            None => format!("no enabled analyst profile in {}", dir.display()),
        }));
    }
    Ok(chosen)
}
