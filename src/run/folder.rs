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
//! Only folders that carry quorum's staging mark (`tmp-*`) or a completion marker (`old-*`)
//! are leftovers; a user's `latest.old-2024` is never touched. One run at a time per
//! folder: `begin` takes an exclusive lock on `.NAME.lock` beside it (`File::lock`, flock on
//! Linux), so a second run into the same folder waits (and says so), and a leftover is
//! never a live run's. `--out` must name a folder of its own:
//! an existing folder that is not a run folder (no `summary.json`), a file, `.`, `..` or
//! `/` are refused before anything is computed, since a run replaces its folder whole.
//!
//! Each case is reported in the log (warn). Readers of a run folder or of its
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
/// Written first into a temporary run folder: only folders holding it are ever treated as
/// a crashed run's leftovers (a user's `latest.old-2024` is left alone).
const STAGING: &str = ".quorum-staging";

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
    /// `--out` does not name a folder quorum may create or replace.
    #[error("{0}: {1}")]
    Target(PathBuf, &'static str),
    /// No run folder, but leftovers of a run into it that was killed.
    #[error("{0}: missing: a run into this folder was killed ({1}); {2}")]
    Interrupted(PathBuf, String, &'static str),
    /// A run folder was given where its memory checkpoint is meant.
    #[error("{0}: this is a run folder, not a memory checkpoint; pass its memory/ folder: {0}/memory")]
    RunNotMemory(PathBuf),
    /// `RUN/memory` of a finished run that kept no memory (not an analyst-graph run).
    #[error("{0}: this run folder holds no memory: only analyst-graph runs (the default strategy) write one")]
    NoMemory(PathBuf),
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

/// A run being written into a temporary sibling of its folder, under a lock.
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
    tmp: PathBuf,
    /// `.<name>.lock` beside the folder, held (flock) from `begin` to the end of `commit`.
    _lock: std::fs::File,
    /// Set by `commit`; a staging dropped without it (the run failed) removes its folder.
    done: bool,
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done && self.tmp.exists() {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

fn sibling(dir: &Path, tag: &str, pid: u32) -> PathBuf {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "run".into());
    dir.with_file_name(format!("{name}.{tag}-{pid}"))
}

/// `--out` as a folder path quorum may own: `.` components dropped, `..` resolved
/// lexically; `.`, `..` and `/` are refused (they name a folder that holds other things).
pub fn normalise(dir: &Path) -> Result<PathBuf, FolderError> {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in dir.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    if out.file_name().is_none() || out.ends_with("..") {
        return Err(FolderError::Target(
            dir.to_path_buf(),
            "--out must name a folder of its own (e.g. runs/latest), not ., .. or /",
        ));
    }
    Ok(out)
}

/// Is `dir` something quorum may replace: missing, empty, or a run folder.
fn replaceable(dir: &Path) -> Result<(), FolderError> {
    let Ok(meta) = std::fs::symlink_metadata(dir) else { return Ok(()) };
    if !meta.is_dir() {
        return Err(FolderError::Target(dir.to_path_buf(), "exists and is not a folder; choose another --out"));
    }
    let is_run = dir.join(MARKER).is_file() || dir.join("summary.json").is_file();
    let empty = std::fs::read_dir(dir).map_err(io(dir, "cannot list"))?.next().is_none();
    if is_run || empty {
        Ok(())
    } else {
        Err(FolderError::Target(
            dir.to_path_buf(),
            "exists and is not a quorum run folder (no summary.json): a run replaces its folder whole, \
             so quorum will not write over it; choose another --out or empty it",
        ))
    }
}

/// Leftovers of earlier runs into `dir`: (`tmp-*` holding the staging mark, `old-*` holding
/// a complete run).
fn leftovers(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (mut tmp, mut old) = (Vec::new(), Vec::new());
    let Some(name) = dir.file_name().map(|n| n.to_string_lossy().into_owned()) else { return (tmp, old) };
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let Ok(rd) = std::fs::read_dir(parent) else { return (tmp, old) };
    let pid_suffix = |rest: &str, tag: &str| {
        rest.strip_prefix(tag).is_some_and(|pid| !pid.is_empty() && pid.chars().all(|c| c.is_ascii_digit()))
    };
    for e in rd.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = n.strip_prefix(&name) else { continue };
        let p = dir.with_file_name(&n);
        if pid_suffix(rest, ".tmp-") && p.join(STAGING).is_file() {
            tmp.push(p);
        } else if pid_suffix(rest, ".old-") && p.join(MARKER).is_file() {
            old.push(p);
        }
    }
    tmp.sort();
    old.sort();
    (tmp, old)
}

/// Settles what a killed run into `dir` left behind (see the module docs); returns one
/// line per action. The caller holds the folder's lock, so no live run owns them.
fn recover(dir: &Path) -> Result<Vec<String>, FolderError> {
    let (tmp, old) = leftovers(dir);
    let mut notes = Vec::new();
    let mut placed = dir.exists();
    // A finished new run first (killed between the renames), else the previous run aside.
    let candidates = tmp.iter().map(|p| (p, "a finished run was left unswapped", "an unfinished run left"));
    let candidates =
        candidates.chain(old.iter().map(|p| (p, "the previous run was left aside", "a previous run left aside")));
    for (p, whole, partial) in candidates {
        if !placed && p.join(MARKER).is_file() {
            std::fs::rename(p, dir).map_err(io(p, "cannot move a run into place"))?;
            let _ = std::fs::remove_file(dir.join(STAGING));
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
    /// Takes the folder's lock, settles leftovers of `dir`, checks that `dir` may be
    /// replaced, and opens a fresh temporary folder for the new run. Call it before the
    /// run, so a refused `--out` costs nothing.
    pub fn begin(dir: &Path) -> Result<(Staging, Vec<String>), FolderError> {
        let dir = normalise(dir)?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io(parent, "cannot create"))?;
        }
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let lock_path = dir.with_file_name(format!(".{name}.lock"));
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path, "cannot open the run folder's lock"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                tracing::warn!("{}: another quorum run is writing into this folder; waiting for it", dir.display());
                lock.lock().map_err(io(&lock_path, "cannot lock"))?;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&lock_path, "cannot lock")(e)),
        }
        let notes = recover(&dir)?;
        replaceable(&dir)?;
        let tmp = sibling(&dir, "tmp", std::process::id());
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io(&tmp, "cannot remove"))?;
        }
        std::fs::create_dir_all(&tmp).map_err(io(&tmp, "cannot create"))?;
        std::fs::write(tmp.join(STAGING), "").map_err(io(&tmp, "cannot write the staging mark"))?;
        Ok((Staging { dir, tmp, _lock: lock, done: false }, notes))
    }

    /// Where the run's files go until [`Staging::commit`].
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Marks the run finished and swaps it in place of the old one.
    pub fn commit(mut self) -> Result<(), FolderError> {
        self.done = true;
        let staging = self.tmp.join(STAGING);
        std::fs::remove_file(&staging).map_err(io(&staging, "cannot remove"))?;
        let marker = self.tmp.join(MARKER);
        let text = format!("{{\"complete\": true, \"quorum_version\": \"{}\"}}\n", env!("CARGO_PKG_VERSION"));
        std::fs::write(&marker, text).map_err(io(&marker, "cannot write"))?;
        // Leftover recognition needs the staging mark on an unfinished folder and the
        // marker on a finished one; between the two writes the folder has neither, and a
        // crash there leaves a `tmp-*` no later run recognises. Write the mark back until
        // the swap, so the folder is always recognised.
        std::fs::write(&staging, "").map_err(io(&staging, "cannot write"))?;
        sync_tree(&self.tmp)?;
        let old = sibling(&self.dir, "old", std::process::id());
        if self.dir.exists() {
            std::fs::rename(&self.dir, &old).map_err(io(&self.dir, "cannot move the previous run aside"))?;
        }
        fault("swap");
        std::fs::rename(&self.tmp, &self.dir).map_err(io(&self.dir, "cannot move the run into place"))?;
        let staging = self.dir.join(STAGING);
        std::fs::remove_file(&staging).map_err(io(&staging, "cannot remove"))?;
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
            let whole = tmp.iter().chain(&old).any(|p| p.join(MARKER).is_file());
            let what = if whole {
                "the next backtest into it restores the finished run"
            } else {
                "it had not finished and no finished run remains; run the backtest again"
            };
            return Err(FolderError::Interrupted(d.to_path_buf(), names.join(", "), what));
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

/// What every reader of a memory checkpoint checks first (`memory stats/search/bench`,
/// `--memory-from`): [`check_complete`], then that `dir` is a checkpoint and not the run
/// folder holding one, nor the missing `memory/` of a run that kept none.
pub fn check_memory_dir(dir: &Path) -> Result<(), FolderError> {
    check_complete(dir)?;
    let is_checkpoint = |d: &Path| d.join("manifest.json").is_file();
    if is_checkpoint(dir) {
        return Ok(());
    }
    if is_checkpoint(&dir.join("memory")) {
        return Err(FolderError::RunNotMemory(dir.to_path_buf()));
    }
    let run = dir.parent().filter(|_| dir.file_name().is_some_and(|n| n == "memory"));
    if run.is_some_and(|r| r.join(MARKER).is_file()) {
        return Err(FolderError::NoMemory(dir.to_path_buf()));
    }
    Ok(())
}

/// Sends SIGKILL to this process when `QUORUM_FAULT` names `point` (crash tests only):
/// `point` kills at its first pass, `point@N` at its N-th (1-based).
pub fn fault(point: &str) {
    static FAULT: std::sync::OnceLock<Option<(String, usize)>> = std::sync::OnceLock::new();
    static HITS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let armed = FAULT.get_or_init(|| {
        let v = std::env::var("QUORUM_FAULT").ok()?;
        Some(match v.split_once('@') {
            Some((p, n)) => (p.to_string(), n.parse().unwrap_or(1)),
            None => (v, 1),
        })
    });
    let Some((name, nth)) = armed else { return };
    if name == point && HITS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1 == *nth {
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
        let mut names: Vec<_> = std::fs::read_dir(root.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        names.sort();
        assert_eq!(names, vec![std::ffi::OsString::from(".latest.lock"), std::ffi::OsString::from("latest")]);
    }

    #[test]
    fn test_recover_after_kills_between_renames_and_before_the_marker() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("latest");
        // Killed between the two renames: old aside, new complete, no DIR.
        std::fs::create_dir_all(root.path().join("latest.old-999999991")).unwrap();
        std::fs::write(root.path().join("latest.old-999999991").join(MARKER), "").unwrap();
        std::fs::create_dir_all(root.path().join("latest.tmp-999999991")).unwrap();
        std::fs::write(root.path().join("latest.tmp-999999991").join(STAGING), "").unwrap();
        std::fs::write(root.path().join("latest.tmp-999999991/summary.json"), "new").unwrap();
        std::fs::write(root.path().join("latest.tmp-999999991").join(MARKER), "").unwrap();
        let notes = recover(&dir).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("summary.json")).unwrap(), "new");
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(!root.path().join("latest.old-999999991").exists());
        // Killed before the marker: the unfinished folder goes, DIR stays; a user's folder
        // that merely looks like a leftover (no staging mark) is not touched.
        std::fs::create_dir_all(root.path().join("latest.tmp-999999992")).unwrap();
        std::fs::write(root.path().join("latest.tmp-999999992").join(STAGING), "").unwrap();
        std::fs::create_dir_all(root.path().join("latest.old-2024")).unwrap();
        recover(&dir).unwrap();
        assert!(!root.path().join("latest.tmp-999999992").exists() && dir.join(MARKER).is_file());
        assert!(root.path().join("latest.old-2024").exists());
        assert!(!dir.join(STAGING).exists());
        // Only the old run aside: it comes back.
        std::fs::rename(&dir, root.path().join("latest.old-999999993")).unwrap();
        recover(&dir).unwrap();
        assert!(dir.join(MARKER).is_file());
    }

    #[test]
    fn test_staging_refuses_targets_it_must_not_replace() {
        let root = tempfile::tempdir().unwrap();
        let precious = root.path().join("precious");
        std::fs::create_dir_all(&precious).unwrap();
        std::fs::write(precious.join("thesis.txt"), "mine").unwrap();
        let e = Staging::begin(&precious).unwrap_err().to_string();
        assert!(e.contains("not a quorum run folder"), "{e}");
        assert!(precious.join("thesis.txt").is_file());
        let file = root.path().join("afile");
        std::fs::write(&file, "hi").unwrap();
        assert!(Staging::begin(&file).unwrap_err().to_string().contains("not a folder"));
        for bad in [".", "..", "/", "a/.."] {
            assert!(normalise(Path::new(bad)).is_err(), "{bad}");
        }
        assert_eq!(normalise(Path::new("out/.")).unwrap(), PathBuf::from("out"));
        assert_eq!(normalise(Path::new("a/../b")).unwrap(), PathBuf::from("b"));
        // One run at a time per folder: a second one waits for the first.
        let dir = root.path().join("latest");
        let (held, _) = Staging::begin(&dir).unwrap();
        let d2 = dir.clone();
        let second = std::thread::spawn(move || Staging::begin(&d2).map(|_| ()));
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(!second.is_finished(), "waits while the first holds the folder");
        drop(held);
        second.join().unwrap().unwrap();
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
