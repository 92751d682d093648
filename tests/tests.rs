//! Integration tests: one binary, a module per area.

mod alpaca;
mod common;
mod engine;
mod features;
mod graph;
mod live;
mod loader;
mod memory;
mod memory_cli;
mod paper;
mod pipeline;
mod report;
mod research;
mod run;
mod serde;
