//! Errors of the memory area.

use std::path::PathBuf;

/// Result of the memory area.
pub type Result<T> = std::result::Result<T, MemoryError>;

/// Errors raised by the memory store, its checkpoints and its JSONL files.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// A file or folder could not be read or written.
    #[error("{path}: {action}")]
    Io {
        /// The file or folder concerned.
        path: PathBuf,
        /// What failed, e.g. `cannot read`, `cannot write`, `cannot fsync`.
        action: &'static str,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The text index failed.
    #[error("text index: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// An item or query is invalid (wrong vector dimension, importance out of range, ...).
    #[error("{0}")]
    Invalid(String),
    /// The store's parameters are out of range.
    #[error(transparent)]
    Params(#[from] crate::error::InvalidValue),
    /// A JSONL line is malformed.
    #[error("{path}: line {line}: {message}")]
    BadLine {
        /// The JSONL file.
        path: PathBuf,
        /// The bad line, 1-based.
        line: usize,
        /// What is wrong with the line.
        message: String,
    },
    /// A checkpoint is corrupt, truncated, incomplete or of another format version.
    #[error("{path}: corrupt checkpoint: {message}")]
    Corrupt {
        /// The checkpoint file or folder.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

impl MemoryError {
    /// An I/O error on `path` while doing `action`.
    pub fn io(path: impl Into<PathBuf>, action: &'static str, source: std::io::Error) -> Self {
        MemoryError::Io { path: path.into(), action, source }
    }

    /// A corrupt checkpoint file.
    pub fn corrupt(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        MemoryError::Corrupt { path: path.into(), message: message.into() }
    }
}
