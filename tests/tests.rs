//! Integration tests: one binary, a module per area.

mod common;
mod engine;
mod loader;
mod memory;
mod pipeline;
mod run;
