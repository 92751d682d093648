//! Research at scale (issue 17): evaluating the analyst graph out of sample.
//!
//! - [`walk_forward`]: learn on a window, trade the next with the memory as it stood,
//!   move on; every fold a run folder of its own, the out-of-sample curves stitched.

pub mod walk_forward;

pub use walk_forward::{Fold, Plan, PlanError, Span, Timeline, WalkForward, WalkForwardError, WalkForwardOutput};
