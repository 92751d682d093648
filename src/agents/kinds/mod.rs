//! The analyst kinds, one file each, and the registry that builds them by name.
//!
//! A profile's `kind` names an entry of a [`Registry`]; the entry parses the profile's
//! `[params]` and builds the analyst. [`Registry::default`] holds the five kinds below;
//! a program using quorum as a library can [`Registry::register`] its own kinds and run
//! them in the graph beside these (`engine::backtest_with`). Adding a kind to quorum
//! itself is its file here, one `mod` line and one `register` line below, its profile in
//! `agents/`, and its tests (the recipe: `agents/README.md`).

pub mod hedge;
pub mod liquidity;
pub mod markov;
pub mod sentiment;
pub mod wyckoff;

use std::collections::BTreeMap;

use super::Analyst;
use super::profile::{Profile, ProfileError};

/// Builds an analyst from its profile (parsing the profile's `[params]`).
pub type Builder = fn(&Profile) -> Result<Box<dyn Analyst>, ProfileError>;

/// The analyst kinds a profile's `kind` may name.
#[derive(Debug, Clone)]
pub struct Registry {
    kinds: BTreeMap<String, Builder>,
}

impl Default for Registry {
    /// The five shipped kinds.
    fn default() -> Self {
        let mut r = Registry { kinds: BTreeMap::new() };
        r.register("hedge", |p| Ok(Box::new(hedge::Hedge::new(p, p.params()?))));
        r.register("liquidity", |p| Ok(Box::new(liquidity::Liquidity::new(p, p.params()?))));
        r.register("markov", |p| Ok(Box::new(markov::Markov::new(p, p.params()?))));
        r.register("sentiment", |p| Ok(Box::new(sentiment::Sentiment::new(p, p.params()?))));
        r.register("wyckoff", |p| Ok(Box::new(wyckoff::Wyckoff::new(p, p.params()?))));
        r
    }
}

impl Registry {
    /// Adds (or replaces) kind `name`.
    pub fn register(&mut self, name: &str, build: Builder) -> &mut Self {
        self.kinds.insert(name.to_string(), build);
        self
    }

    /// The registered kind names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.kinds.keys().map(String::as_str)
    }

    /// True if `name` is a registered kind.
    pub fn contains(&self, name: &str) -> bool {
        self.kinds.contains_key(name)
    }

    /// Builds the analyst `profile` describes; an unknown kind or bad `[params]` is an
    /// error naming the profile's file.
    pub fn build(&self, profile: &Profile) -> Result<Box<dyn Analyst>, ProfileError> {
        match self.kinds.get(&profile.kind) {
            Some(build) => build(profile),
            None => Err(ProfileError::Invalid {
                path: profile.path.clone(),
                message: format!(
                    "key `kind` = {:?}: not a known analyst kind (kinds: {})",
                    profile.kind,
                    self.names().collect::<Vec<_>>().join(", ")
                ),
            }),
        }
    }
}
