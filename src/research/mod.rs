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

use std::path::Path;

/// Makes `dir` an empty folder for a `what` (a walk-forward, a sweep): missing, empty, or
/// an earlier one, known by its `mark` file. An earlier one is emptied with the mark
/// removed last, so a kill mid-removal leaves a folder still known as one; anything else is
/// refused, since these folders are replaced whole. The mark is written first.
pub(crate) fn claim_folder(dir: &Path, mark: &str, what: &str) -> Result<(), String> {
    let io = |doing: &str, e: std::io::Error| format!("{doing}: {e}");
    if let Ok(meta) = std::fs::symlink_metadata(dir) {
        if !meta.is_dir() {
            return Err("exists and is not a folder; choose another --out".into());
        }
        let mut entries = std::fs::read_dir(dir).map_err(|e| io("cannot list", e))?.peekable();
        if entries.peek().is_some() {
            if !dir.join(mark).is_file() {
                return Err(format!(
                    "exists and is not a {what} folder; a {what} replaces its folder whole, so quorum will not write \
                     over it; choose another --out or empty it"
                ));
            }
            for entry in entries {
                let path = entry.map_err(|e| io("cannot list", e))?.path();
                if path.file_name().is_some_and(|n| n == mark) {
                    continue;
                }
                let removed = if path.is_dir() && !path.is_symlink() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                removed.map_err(|e| io(&format!("cannot remove the earlier {what}"), e))?;
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| io("cannot create", e))?;
    std::fs::write(dir.join(mark), b"").map_err(|e| io("cannot write its mark", e))
}

/// Ends `cfg`'s data before the held-out period that starts at `holdout` (unless it ends
/// earlier already): `data.to` is exclusive just after its time, so it is set to the last
/// nanosecond before `holdout`.
pub fn hold_out(cfg: &mut crate::config::Config, holdout: &crate::market::TimeBound) {
    if cfg.data.to.as_ref().is_none_or(|t| t.end() > holdout.start()) {
        let end = crate::market::time::format_ts(holdout.start() - 1);
        cfg.data.to = Some(crate::market::TimeBound::parse(&end).expect("format_ts writes RFC 3339"));
    }
}
