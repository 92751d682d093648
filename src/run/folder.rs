//! Run folders that are all of one run or clearly not finished.
//!
//! A run is written into a temporary sibling, `DIR.tmp-<pid>`, whole: artifacts, memory
//! checkpoint and last a completion marker, [`MARKER`]; every file and the folder are
//! fsynced. Then the swap: `DIR` (if any) is renamed to `DIR.old-<pid>`, the temporary
//! folder is renamed to `DIR`, the old one is removed. A reader therefore sees the old run
//! or the new one, whole; a kill leaves leftovers that the next run into `DIR` settles
//! ([`Staging::begin`]):
//!
//! - `DIR` missing, a complete `DIR.tmp-*` present (killed between the two renames): the
//!   finished run is moved into place;
//! - `DIR` missing, only `DIR.old-*` present (killed before the temporary folder was
//!   complete): the old run is moved back;
//! - every other `DIR.tmp-*` / `DIR.old-*` is removed.
//!
//! Each case is reported (the run's warnings and the log). Readers of a run folder or of its
//! `memory/` call [`check_complete`], which refuses a folder without the marker and says
//! what happened. There is no rename that swaps two directories atomically on Linux
//! without `renameat2(RENAME_EXCHANGE)`, which std does not expose; the two renames and the
//! recovery above are the portable equivalent (a crash-safety pattern, not a crate: the
//! `tempfile` crate gives temporary names, not this protocol).
//!
//! Fault injection: with `QUORUM_FAULT=<point>` the process sends itself SIGKILL at that
//! point (`artifacts`: after the first artifact, `memory`: after the memory checkpoint,
//! `swap`: after the old run was moved aside). Only the crash tests set it.

use std::path::{Path, PathBuf};

/// The completion marker, written last into a finished run folder.
pub const MARKER: &str = "run.complete";

/// Why a run folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    /// A file or folder operation failed.
    #[error("{path}: {what}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// No run folder, but leftovers of a run into it that was killed while swapping in.
    #[error(
        "{0}: missing: a run into this folder was killed while swapping in its files ({1}); the next \
         `quorum backtest --out {0}` restores the finished one"
    )]
    Interrupted(PathBuf, String),
    /// The folder holds a run that never finished (or one written by a quorum without
    /// completion markers).
    #[error(
        "{0}: an unfinished run folder (no {MARKER}): the run that wrote it was killed or failed before it \
         finished, or an older quorum wrote it; run the backtest again into it"
    )]
    Incomplete(PathBuf),
}

fn io<'a>(path: &'a Path, what: &'static str) -> impl FnOnce(std::io::Error) -> FolderError + 'a {
    move |source| FolderError::Io { path: path.to_path_buf(), what, source }
}

/// A run being written into a temporary sibling of its folder.
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
    tmp: PathBuf,
}

fn sibling(dir: &Path, tag: &str, pid: u32) -> PathBuf {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "run".into());
    dir.with_file_name(format!("{name}.{tag}-{pid}"))
}

/// Leftovers of earlier runs into `dir`: (`tmp-*`, `old-*`) siblings.
fn leftovers(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (mut tmp, mut old) = (Vec::new(), Vec::new());
    let Some(name) = dir.file_name().map(|n| n.to_string_lossy().into_owned()) else { return (tmp, old) };
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let Ok(rd) = std::fs::read_dir(parent) else { return (tmp, old) };
    for e in rd.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = n.strip_prefix(&name) else { continue };
        let p = dir.with_file_name(&n);
        if rest.strip_prefix(".tmp-").is_some_and(|pid| pid.chars().all(|c| c.is_ascii_digit())) {
            tmp.push(p);
        } else if rest.strip_prefix(".old-").is_some_and(|pid| pid.chars().all(|c| c.is_ascii_digit())) {
            old.push(p);
        }
    }
    tmp.sort();
    old.sort();
    (tmp, old)
}

/// Settles what a killed run into `dir` left behind (see the module docs); returns one
/// line per action.
pub fn recover(dir: &Path) -> Result<Vec<String>, FolderError> {
    let (tmp, old) = leftovers(dir);
    let mut notes = Vec::new();
    let mut placed = dir.exists();
    let others = |p: &Path| -> bool {
        // Another live process writing into the same folder: leave its files alone.
        let pid = p.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default();
        let pid = pid.rsplit('-').next().unwrap_or_default().to_string();
        pid != std::process::id().to_string() && Path::new("/proc").join(&pid).exists()
    };
    // A finished new run first (killed between the renames), else the previous run aside.
    let candidates = tmp.iter().map(|p| (p, "a finished run was left unswapped", "an unfinished run left"));
    let candidates =
        candidates.chain(old.iter().map(|p| (p, "the previous run was left aside", "a previous run left aside")));
    for (p, whole, partial) in candidates {
        if others(p) {
            notes.push(format!("{}: another run into this folder is in progress; left alone", p.display()));
            continue;
        }
        if !placed && p.join(MARKER).is_file() {
            std::fs::rename(p, dir).map_err(io(p, "cannot move a run into place"))?;
            notes.push(format!("{}: {whole} by a crash; moved into place", p.display()));
            placed = true;
        } else {
            std::fs::remove_dir_all(p).map_err(io(p, "cannot remove a run left by a crash"))?;
            notes.push(format!("{}: removed {partial} by a crash", p.display()));
        }
    }
    for n in &notes {
        tracing::warn!("{n}");
    }
    Ok(notes)
}

impl Staging {
    /// Settles leftovers of `dir` and opens a fresh temporary folder for the new run.
    pub fn begin(dir: &Path) -> Result<(Staging, Vec<String>), FolderError> {
        let notes = recover(dir)?;
        let tmp = sibling(dir, "tmp", std::process::id());
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io(&tmp, "cannot remove"))?;
        }
        std::fs::create_dir_all(&tmp).map_err(io(&tmp, "cannot create"))?;
        Ok((Staging { dir: dir.to_path_buf(), tmp }, notes))
    }

    /// Where the run's files go until [`Staging::commit`].
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Marks the run finished and swaps it in place of the old one.
    pub fn commit(self) -> Result<(), FolderError> {
        let marker = self.tmp.join(MARKER);
        let text = format!("{{\"complete\": true, \"quorum_version\": \"{}\"}}\n", env!("CARGO_PKG_VERSION"));
        std::fs::write(&marker, text).map_err(io(&marker, "cannot write"))?;
        sync_tree(&self.tmp)?;
        let old = sibling(&self.dir, "old", std::process::id());
        if self.dir.exists() {
            std::fs::rename(&self.dir, &old).map_err(io(&self.dir, "cannot move the previous run aside"))?;
        }
        fault("swap");
        std::fs::rename(&self.tmp, &self.dir).map_err(io(&self.dir, "cannot move the run into place"))?;
        if let Some(parent) = self.dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(io(&old, "cannot remove the previous run"))?;
        }
        Ok(())
    }
}

fn sync_dir(dir: &Path) -> Result<(), FolderError> {
    std::fs::File::open(dir).and_then(|f| f.sync_all()).map_err(io(dir, "cannot fsync"))
}

/// fsyncs every file and folder under `dir` (the run's files were written by several
/// writers; one pass before the swap makes them all durable).
fn sync_tree(dir: &Path) -> Result<(), FolderError> {
    for e in std::fs::read_dir(dir).map_err(io(dir, "cannot list"))? {
        let p = e.map_err(io(dir, "cannot list"))?.path();
        if p.is_dir() {
            sync_tree(&p)?;
        } else {
            std::fs::File::open(&p).and_then(|f| f.sync_all()).map_err(io(&p, "cannot fsync"))?;
        }
    }
    sync_dir(dir)
}

/// Is `dir` a run folder (or inside one, for `DIR/memory`)? Then it must be complete.
/// A plain memory checkpoint (from `memory ingest`) is not a run folder and passes.
pub fn check_complete(path: &Path) -> Result<(), FolderError> {
    for candidate in [Some(path), path.parent().filter(|_| path.file_name().is_some_and(|n| n == "memory"))] {
        let Some(d) = candidate.filter(|d| !d.exists()) else { continue };
        let (tmp, old) = leftovers(d);
        if !tmp.is_empty() || !old.is_empty() {
            let names: Vec<String> = tmp.iter().chain(&old).map(|p| p.display().to_string()).collect();
            return Err(FolderError::Interrupted(d.to_path_buf(), names.join(", ")));
        }
    }
    let is_run = |d: &Path| d.join("summary.json").is_file() || d.join("config.toml").is_file();
    let run = if is_run(path) {
        Some(path)
    } else {
        path.parent().filter(|p| path.file_name().is_some_and(|n| n == "memory") && is_run(p))
    };
    match run {
        Some(r) if !r.join(MARKER).is_file() => Err(FolderError::Incomplete(r.to_path_buf())),
        _ => Ok(()),
    }
}

/// Sends SIGKILL to this process when `QUORUM_FAULT` names `point` (crash tests only).
pub fn fault(point: &str) {
    static FAULT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if FAULT.get_or_init(|| std::env::var("QUORUM_FAULT").ok()).as_deref() == Some(point) {
        let pid = std::process::id().to_string();
        let _ = std::process::Command::new("kill").args(["-KILL", &pid]).status();
        // SIGKILL cannot be caught; if `kill` is missing, stop as abruptly as we can.
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_into(dir: &Path, content: &str) {
        let (s, _) = Staging::begin(dir).unwrap();
        std::fs::write(s.path().join("summary.json"), content).unwrap();
        s.commit().unwrap();
    }

    #[test]
    fn test_staging_swaps_whole_runs_and_removes_stale_files() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("latest");
        run_into(&dir, "a");
        std::fs::write(dir.join("votes.parquet"), "stale").unwrap();
        run_into(&dir, "b");
        assert_eq!(std::fs::read_to_string(dir.join("summary.json")).unwrap(), "b");
        assert!(!dir.join("votes.parquet").exists(), "nothing of the old run survives");
        assert!(dir.join(MARKER).is_file());
        let names: Vec<_> = std::fs::read_dir(root.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("latest")]);
    }

    #[test]
    fn test_recover_after_kills_between_renames_and_before_the_marker() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("latest");
        // Killed between the two renames: old aside, new complete, no DIR.
        std::fs::create_dir_all(root.path().join("latest.old-999999991")).unwrap();
        std::fs::write(root.path().join("latest.old-999999991").join(MARKER), "").unwrap();
        std::fs::create_dir_all(root.path().join("latest.tmp-999999991")).unwrap();
        std::fs::write(root.path().join("latest.tmp-999999991/summary.json"), "new").unwrap();
        std::fs::write(root.path().join("latest.tmp-999999991").join(MARKER), "").unwrap();
        let notes = recover(&dir).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("summary.json")).unwrap(), "new");
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(!root.path().join("latest.old-999999991").exists());
        // Killed before the marker: the unfinished folder goes, DIR stays.
        std::fs::create_dir_all(root.path().join("latest.tmp-999999992")).unwrap();
        recover(&dir).unwrap();
        assert!(!root.path().join("latest.tmp-999999992").exists() && dir.join(MARKER).is_file());
        // Only the old run aside: it comes back.
        std::fs::rename(&dir, root.path().join("latest.old-999999993")).unwrap();
        recover(&dir).unwrap();
        assert!(dir.join(MARKER).is_file());
    }

    #[test]
    fn test_check_complete_refuses_unfinished_run_folders() {
        let root = tempfile::tempdir().unwrap();
        let run = root.path().join("r");
        std::fs::create_dir_all(run.join("memory")).unwrap();
        std::fs::write(run.join("summary.json"), "{}").unwrap();
        let e = check_complete(&run.join("memory")).unwrap_err().to_string();
        assert!(e.contains("unfinished run folder"), "{e}");
        std::fs::write(run.join(MARKER), "").unwrap();
        check_complete(&run.join("memory")).unwrap();
        check_complete(&root.path().join("plain-checkpoint")).unwrap();
    }
}
