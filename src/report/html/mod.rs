//! The run report: one self-contained HTML page per run folder (`report.html`), and a
//! comparison page of several runs.
//!
//! **One code path.** The page is built from the run folder's files alone (`summary.json`,
//! `config.toml`, the Parquet artifacts), never from the runner's memory: `quorum backtest`
//! calls [`write_report`] on its staging folder after every other artifact is written and
//! before `run.complete` (so the report is part of the whole, atomic run folder), and
//! `quorum report RUN_DIR` calls it on any finished run folder later.
//!
//! **Self-contained.** Inline CSS, charts as inline SVG drawn with `plotters` (SVG backend,
//! no font files: text is laid out by the browser), no script, no external resource: the
//! page opens offline. `.ci/check-report` opens it in headless Chromium and fails on any
//! request other than the file itself.
//!
//! **Size.** Long series are decimated with M4 to the plot's pixel columns (at most four
//! points per column: first, min, max, last; Jugel et al., PVLDB 2014, see
//! [`decimate`]); fill markers are thinned to one per side per pixel cell. A year of minute
//! bars (spy_1m_2011, 16,770 steps) gives a page of about 0.4 MB, the 23-year 5-symbol
//! hourly set about 0.9 MB (BENCHMARKS.md).
//!
//! **Deterministic.** No generation time, no maps iterated in hash order: the same run
//! folder gives the same bytes (tested). The git revision of the quorum that wrote the page
//! is embedded at build time (`build.rs`).
//!
//! **Hand-written parts.** The HTML around the charts is small `write!` code (a dozen
//! sections of tables; a template engine would add a dependency and no brevity); the
//! heatmap is drawn cell by cell on plotters' drawing area, which has no heatmap series.
//!
//! `breakdown.parquet` (when present): `who` (analyst or `composed`), `dimension`
//! (`symbol`, `regime`, `time_of_day`, `day`), `bucket`, `votes`, `judged`, `hits`,
//! `hit_rate` (null when nothing was judged), `pnl`, `costs`. `--png DIR` renders each
//! chart's SVG to PNG with `resvg` and the system fonts.

mod chart;
mod compare;
mod decimate;
mod page;
mod png;
mod read;
mod sections;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use crate::run::{FolderError, MARKER, check_complete};

/// Errors of the HTML report.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// A file of the run folder is missing, unreadable or malformed.
    #[error("{path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the field or column.
        message: String,
    },
    /// The folder is not a finished run folder.
    #[error(transparent)]
    Folder(#[from] FolderError),
    /// The folder holds no run at all.
    #[error("{0}: not a quorum run folder (no {MARKER}); pass a folder written by `quorum backtest`")]
    NotRun(PathBuf),
    /// plotters could not draw a chart.
    #[error("cannot draw a chart: {0}")]
    Chart(String),
    /// The page or a PNG could not be written.
    #[error("{path}: cannot write")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The output path is refused (it would overwrite something that is not a report).
    #[error("{0}: {1}")]
    Target(PathBuf, &'static str),
    /// A chart could not be rendered to PNG.
    #[error("{path}: cannot render the PNG: {message}")]
    Png {
        /// The PNG being written.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}

/// Result of the HTML report.
pub type Result<T> = std::result::Result<T, PageError>;

/// One chart of a page: a file-friendly name and its SVG.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Name for `--png` (`equity`, `chart-price-SPY`, ...).
    pub name: String,
    /// The SVG document.
    pub svg: String,
}

impl Chart {
    fn new(name: &str, svg: String) -> Chart {
        Chart { name: name.strip_prefix("chart-").unwrap_or(name).to_string(), svg }
    }
}

/// What [`report`] wrote.
#[derive(Debug)]
pub struct Written {
    /// The HTML page.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: usize,
    /// PNG files written (with `--png`).
    pub pngs: Vec<PathBuf>,
    /// Warnings to show the user (e.g. no system fonts for the PNGs).
    pub warnings: Vec<String>,
}

/// The report page of the run folder `dir` and its charts (the folder's completeness is
/// the caller's check).
pub fn render_run(dir: &Path) -> Result<(String, Vec<Chart>)> {
    let run = read::read_run(dir)?;
    let (sections, charts) = sections::sections(&run)?;
    // Named by `output.dir` of its config, not by `dir`: the runner writes the page in its
    // staging folder, and a page must not depend on where it was written.
    let name = run_name(&run.config_toml).unwrap_or_else(|| {
        dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| dir.display().to_string())
    });
    let d = &run.summary.data;
    let subtitle = format!(
        "{} on {} bars of {} ({}), {} .. {}",
        page::esc(&run.summary.strategies[0].name),
        d["bars"],
        page::esc(
            &d["symbols"]
                .as_array()
                .map(|a| a.iter().filter_map(|s| s.as_str()).collect::<Vec<_>>().join(", "))
                .unwrap_or_default()
        ),
        page::esc(d["interval"].as_str().unwrap_or("?")),
        page::esc(d["first"].as_str().unwrap_or("?")),
        page::esc(d["last"].as_str().unwrap_or("?")),
    );
    Ok((page::page(&format!("quorum run report: {name}"), &subtitle, &sections), charts))
}

/// `output.dir` of a run's `config.toml`: the folder the run was written to.
pub(super) fn run_name(config_toml: &str) -> Option<String> {
    let t = config_toml.parse::<toml::Table>().ok()?;
    t.get("output")?.get("dir")?.as_str().map(str::to_string)
}

/// Writes `text` to `path` through a temporary sibling and a rename.
fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("html.tmp");
    std::fs::write(&tmp, text).map_err(|source| PageError::Write { path: tmp.clone(), source })?;
    std::fs::rename(&tmp, path).map_err(|source| PageError::Write { path: path.to_path_buf(), source })
}

/// Writes `dir/report.html` from the run folder's files; returns its size in bytes. The
/// runner calls it on its staging folder, before the completion marker.
pub fn write_report(dir: &Path) -> Result<usize> {
    let (html, _) = render_run(dir)?;
    write_atomic(&dir.join("report.html"), &html)?;
    Ok(html.len())
}

/// Refuses anything but a finished run folder, with the readers' messages.
pub fn check_run(dir: &Path) -> Result<()> {
    check_complete(dir)?;
    if dir.join(MARKER).is_file() { Ok(()) } else { Err(PageError::NotRun(dir.to_path_buf())) }
}

/// Where a comparison page goes without `--out`.
pub const COMPARE_DEFAULT: &str = "compare.html";

/// `out` may be written: missing, or an earlier HTML page (never another kind of file).
fn check_target(out: &Path) -> Result<()> {
    let html_name = out.extension().is_some_and(|e| e == "html" || e == "htm");
    if !html_name {
        return Err(PageError::Target(out.to_path_buf(), "the report is HTML: name the file *.html"));
    }
    if out.is_dir() {
        return Err(PageError::Target(out.to_path_buf(), "is a folder; name an .html file"));
    }
    if out.exists() {
        let head = std::fs::read(out).map_err(|source| PageError::Write { path: out.to_path_buf(), source })?;
        let start = String::from_utf8_lossy(&head[..head.len().min(64)]).to_ascii_lowercase();
        if !start.trim_start().starts_with("<!doctype html") {
            return Err(PageError::Target(
                out.to_path_buf(),
                "exists and is not an HTML page; quorum will not overwrite it",
            ));
        }
    }
    Ok(())
}

/// `quorum report RUN... [--out FILE] [--png DIR]`: one run's page (default
/// `RUN/report.html`) or, with several runs, a comparison page (default
/// [`COMPARE_DEFAULT`] in the current folder); with `png`, each chart as a PNG there.
pub fn report(runs: &[PathBuf], out: Option<&Path>, png: Option<&Path>) -> Result<Written> {
    for r in runs {
        check_run(r)?;
    }
    let (path, (html, charts)) = match runs {
        [] => return Err(PageError::Target(PathBuf::from("RUN_DIR"), "name at least one run folder")),
        [one] => (out.map_or_else(|| one.join("report.html"), Path::to_path_buf), render_run(one)?),
        many => (out.map_or_else(|| PathBuf::from(COMPARE_DEFAULT), Path::to_path_buf), compare::render(many)?),
    };
    check_target(&path)?;
    write_atomic(&path, &html)?;
    let (pngs, warnings) = match png {
        Some(dir) => png::write_all(&charts, dir)?,
        None => (Vec::new(), Vec::new()),
    };
    Ok(Written { path, bytes: html.len(), pngs, warnings })
}
