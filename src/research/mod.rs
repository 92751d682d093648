//! Research at scale (issue 17): evaluating the analyst graph out of sample.
//!
//! - [`walk_forward`]: learn on a window, trade the next with the memory as it stood,
//!   move on; every fold a run folder of its own, the out-of-sample curves stitched.
//! - [`overfit`]: the Deflated Sharpe Ratio and the Probability of Backtest Overfitting.
//! - [`sweep`]: parameter grids run as shards (plan, run, merge), locally or on a scheduler.

pub mod overfit;
pub mod sweep;
pub mod walk_forward;

pub use walk_forward::{Fold, Plan, PlanError, Span, Timeline, WalkForward, WalkForwardError, WalkForwardOutput};
