//! Errors shared by areas: a configuration value out of range, and reading a panic. Each area validates its own
//! config section (`[memory]`, `[composer]`, ...) and reports the key it checked; the
//! config area wraps these (`ConfigError::Invalid`), the memory area too when a store is
//! created with bad parameters.

/// A config key whose value is out of range or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config key `{key}` = {value}: {reason}")]
pub struct InvalidValue {
    /// The key, with its section (`composer.floor`).
    pub key: String,
    /// The value as written or read.
    pub value: String,
    /// What the value must be.
    pub reason: String,
}

impl InvalidValue {
    /// `key` = `value` is bad because of `reason`.
    pub fn new(key: impl Into<String>, value: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        InvalidValue { key: key.into(), value: value.to_string(), reason: reason.into() }
    }
}

/// The message of a panic payload (a `&str` or `String`, as `panic!` makes them).
pub(crate) fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}
