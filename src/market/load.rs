//! The loading pipeline: files → validated bars → merged → filtered → adjusted → resampled.
//!
//! Order of steps, each recorded in the [`LoadReport`]:
//! 1. read every file (a folder means its `.csv`/`.parquet` files, sorted by name), keeping
//!    only the requested symbols, validating rows (see `validate`);
//! 2. merge into one table sorted by (timestamp, symbol), symbols numbered alphabetically;
//!    a (timestamp, symbol) present in two files is a duplicate;
//! 3. date range `[from, to)`;
//! 4. split adjustment (given splits and factor files; a `factor_files/` folder next to the
//!    data is used when none is given, and the report says so), then detection of splits
//!    left unadjusted, which stops the load unless `allow_unadjusted` (see `splits`);
//! 5. regular-session filter (equities only);
//! 6. resampling.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::bars::{Bars, ExtraColumn};
use super::error::{DataError, Result, RowLoc, RowProblem};
use super::read::{Format, read_file};
use super::resample::resample;
use super::session::{AssetClass, SessionMode, bars_per_regular_session, classify, filter_regular_session};
use super::splits::{Split, adjust, detect_jumps, factor_dir_splits};
use super::time::{Ts, format_duration, format_ts};
use super::validate::{BadRowPolicy, SkipCounts};

/// What to load and how.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// A file or a folder of files.
    pub path: PathBuf,
    /// Stop at the first bad row, or skip bad rows and count them by reason.
    pub on_bad_row: BadRowPolicy,
    /// Keep only these symbols (empty: all).
    pub symbols: Vec<String>,
    /// Inclusive lower bound on bar start.
    pub from: Option<Ts>,
    /// Exclusive upper bound on bar start.
    pub to: Option<Ts>,
    /// Time-of-day filter (regular session for equities, or every bar).
    pub session: SessionMode,
    /// Target interval in nanoseconds.
    pub resample: Option<i64>,
    /// Splits to apply: bars before each ex-date get prices / ratio, volume × ratio.
    pub splits: Vec<Split>,
    /// Folder of Lean factor files (`<symbol>.csv`). When `None`, a `factor_files/` folder
    /// next to the data (inside a data folder, or beside a data file) is used if present.
    pub factor_files: Option<PathBuf>,
    /// Load even when a detected split is left unadjusted (it becomes a warning).
    pub allow_unadjusted: bool,
    /// Quote suffixes that mark a symbol as crypto (e.g. `USDT`); the rest are equities.
    pub crypto_quotes: Vec<String>,
}

impl LoadOptions {
    /// Options that load `path` as it is: every filter off, bad rows fail, default crypto quotes.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LoadOptions {
            path: path.into(),
            on_bad_row: BadRowPolicy::Fail,
            symbols: Vec::new(),
            from: None,
            to: None,
            session: SessionMode::All,
            resample: None,
            splits: Vec::new(),
            factor_files: None,
            allow_unadjusted: false,
            crypto_quotes: super::session::default_crypto_quotes(),
        }
    }
}

/// One file's contribution.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FileReport {
    pub path: String,
    /// Rows kept after validation and the symbol filter.
    pub rows: usize,
}

/// What the loader did, for the run summary.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct LoadReport {
    /// Each file read, in name order, with its rows kept.
    pub files: Vec<FileReport>,
    /// Bad rows skipped, by reason (only with `--on-bad-row skip`).
    pub skipped: BTreeMap<String, usize>,
    /// Rows removed by filters, by filter (`date_range`, `session`).
    pub filtered: BTreeMap<String, usize>,
    /// Bars after every step.
    pub bars: usize,
    /// Symbols loaded, alphabetically (their index is their id).
    pub symbols: Vec<String>,
    /// Asset class of each symbol, in `symbols` order.
    pub asset_classes: Vec<AssetClass>,
    /// Start of the first bar, RFC 3339 UTC.
    pub first: String,
    /// Start of the last bar, RFC 3339 UTC.
    pub last: String,
    /// Bar interval after resampling, e.g. `1m`.
    pub interval: String,
    /// Bar interval after resampling, nanoseconds (0 when unknown).
    #[serde(skip)]
    pub interval_ns: i64,
    /// The session filter in force.
    pub session: SessionMode,
    /// Bars a full session holds at this interval (None when not calendar-defined).
    pub bars_per_session: Option<f64>,
    /// The factor-file folder used, and whether it was found next to the data.
    pub factor_files: Option<String>,
    /// Split adjustments applied.
    pub adjustments: Vec<String>,
    /// Warnings (probable unadjusted splits, ...).
    pub warnings: Vec<String>,
}

/// Lists the bar files of a path: the file itself, or a folder's CSV/Parquet files by name.
pub(super) fn list_files(path: &Path) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let rd = std::fs::read_dir(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    let mut files = Vec::new();
    for entry in rd {
        let p = entry.map_err(|source| DataError::Io { path: path.to_path_buf(), source })?.path();
        if p.is_file() && Format::of(&p).is_some() {
            files.push(p);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(DataError::NoFiles { path: path.to_path_buf() });
    }
    Ok(files)
}

/// Loads bars as `opts` says. See the module docs for the order of steps.
pub fn load(opts: &LoadOptions) -> Result<(Bars, LoadReport)> {
    let files = list_files(&opts.path)?;
    // Symbols are upper case everywhere (`read`): `--symbols spy` means SPY.
    let wanted: Vec<String> = opts.symbols.iter().map(|s| s.trim().to_ascii_uppercase()).collect();
    let keep = |s: &str| wanted.is_empty() || wanted.iter().any(|w| w == s);
    let mut report = LoadReport { session: opts.session, ..Default::default() };
    let mut skipped = SkipCounts::new();
    let mut parts = Vec::with_capacity(files.len());
    let _span = tracing::info_span!("load", path = %opts.path.display()).entered();
    for f in &files {
        let bars = read_file(f, opts.on_bad_row, &keep, &mut skipped)?;
        tracing::debug!(file = %f.display(), rows = bars.len(), symbols = bars.symbols.len(), "file read");
        report.files.push(FileReport { path: f.display().to_string(), rows: bars.len() });
        parts.push((f.clone(), bars));
    }
    let mut bars = merge(parts, opts.on_bad_row, &mut skipped)?;
    report.skipped = skipped;
    for w in &wanted {
        if w.len() > super::read::MAX_SYMBOL_LEN {
            let head: String = w.chars().take(super::read::MAX_SYMBOL_LEN).collect();
            return Err(DataError::Invalid(format!(
                "symbol {head:?}… ({} bytes) is longer than a symbol (at most {})",
                w.len(),
                super::read::MAX_SYMBOL_LEN
            )));
        }
        if bars.symbol_id(w).is_none() {
            return Err(DataError::Invalid(format!(
                "symbol `{w}` not found in {} (available: {})",
                opts.path.display(),
                available_symbols(&files)?
            )));
        }
    }
    if bars.is_empty() {
        return Err(DataError::NoBars(format!("{}: no valid rows", opts.path.display())));
    }

    if opts.from.is_some() || opts.to.is_some() {
        let from = opts.from.unwrap_or(i64::MIN);
        let to = opts.to.unwrap_or(i64::MAX);
        let mask: Vec<bool> = bars.ts.iter().map(|&t| t >= from && t < to).collect();
        let removed = mask.iter().filter(|k| !**k).count();
        bars.retain_mask(&mask);
        report.filtered.insert("date_range".into(), removed);
        if bars.is_empty() {
            return Err(DataError::NoBars(format!(
                "no bars between {} and {}",
                opts.from.map(format_ts).unwrap_or_else(|| "the start".into()),
                opts.to.map(format_ts).unwrap_or_else(|| "the end".into())
            )));
        }
        bars.compact_symbols();
    }

    let classes: Vec<AssetClass> = bars.symbols.iter().map(|s| classify(s, &opts.crypto_quotes)).collect();
    let mut splits = opts.splits.clone();
    let found = opts.factor_files.is_none().then(|| beside_data(&opts.path)).flatten();
    if let Some(dir) = opts.factor_files.as_ref().or(found.as_ref()) {
        splits.extend(factor_dir_splits(dir, &bars.symbols)?);
        report.factor_files = Some(match &found {
            Some(_) => format!("{} (found next to the data)", dir.display()),
            None => dir.display().to_string(),
        });
    }
    let (splits, notes) = dedup_splits(splits)?;
    report.warnings.extend(notes);
    report.adjustments = adjust(&mut bars, &classes, &splits);
    let jumps = detect_jumps(&bars, &classes);
    if !jumps.is_empty() && !opts.allow_unadjusted {
        let list: Vec<String> = jumps.iter().map(ToString::to_string).collect();
        let entries: Vec<String> = jumps.iter().map(|j| j.config_entry()).collect();
        return Err(DataError::UnadjustedSplit(list.join("\n"), entries.join("\n\n")));
    }
    for jump in jumps {
        tracing::warn!("{jump} (traded as a price move: --allow-unadjusted)");
        report.warnings.push(format!("{jump}; traded as a price move (--allow-unadjusted)"));
    }

    let source_interval = bars.infer_interval();
    if opts.session != SessionMode::All {
        let removed = filter_regular_session(&mut bars, &classes, source_interval.unwrap_or(0));
        report.filtered.insert("session".into(), removed);
        if bars.is_empty() {
            return Err(DataError::NoBars("no bars inside the regular session (try --session all)".into()));
        }
    }
    if let Some(target) = opts.resample {
        bars = resample(&bars, &classes, source_interval, target)?;
    }
    bars.compact_symbols();
    let classes: Vec<AssetClass> = bars.symbols.iter().map(|s| classify(s, &opts.crypto_quotes)).collect();

    let interval = opts.resample.or(source_interval).unwrap_or(0);
    report.bars = bars.len();
    report.symbols = bars.symbols.clone();
    report.asset_classes = classes.clone();
    report.first = format_ts(bars.ts[0]);
    report.last = format_ts(*bars.ts.last().expect("non-empty"));
    report.interval = format_duration(interval.max(1));
    report.interval_ns = interval;
    report.bars_per_session = calendar_bars_per_session(&classes, opts.session, interval);
    tracing::info!(
        bars = report.bars,
        symbols = %report.symbols.join(","),
        interval = %report.interval,
        first = %report.first,
        last = %report.last,
        skipped = ?report.skipped,
        filtered = ?report.filtered,
        adjustments = report.adjustments.len(),
        "data loaded"
    );
    for a in &report.adjustments {
        tracing::debug!("{a}");
    }
    Ok((bars, report))
}

/// The same split given twice (a `[[data.splits]]` entry and a factor file, whose ex-dates
/// may differ by a weekend) is applied once, with a note; two different ratios for one
/// split are an error naming both.
fn dedup_splits(mut splits: Vec<Split>) -> Result<(Vec<Split>, Vec<String>)> {
    splits.sort_by(|a, b| (&a.symbol, a.ex_date).cmp(&(&b.symbol, b.ex_date)));
    let mut out: Vec<Split> = Vec::with_capacity(splits.len());
    let mut notes = Vec::new();
    for sp in splits {
        if let Some(prev) = out.last().filter(|p| p.symbol == sp.symbol && (sp.ex_date - p.ex_date).num_days() <= 7) {
            if (sp.ratio / prev.ratio - 1.0).abs() > 1e-3 {
                return Err(DataError::Invalid(format!(
                    "{}: two different splits given within a week: ratio {} ex {} and ratio {} ex {} \
                     (check [[data.splits]] against the factor files)",
                    sp.symbol, prev.ratio, prev.ex_date, sp.ratio, sp.ex_date
                )));
            }
            notes.push(format!(
                "{}: the split ex {} (ratio {}) is given twice (config and factor file); applied once",
                sp.symbol, prev.ex_date, prev.ratio
            ));
            continue;
        }
        out.push(sp);
    }
    Ok((out, notes))
}

/// The `factor_files/` folder next to the data: inside a data folder, or beside a data file.
fn beside_data(path: &Path) -> Option<PathBuf> {
    let base = if path.is_dir() { path } else { path.parent()? };
    let dir = base.join("factor_files");
    dir.is_dir().then_some(dir)
}

/// Bars a full session holds, when the calendar defines it: the regular session for
/// equities (390 at 1m), 24h for crypto, and None for equities with extended hours kept.
pub(crate) fn calendar_bars_per_session(classes: &[AssetClass], session: SessionMode, interval: i64) -> Option<f64> {
    if interval <= 0 {
        return None;
    }
    if classes.contains(&AssetClass::Crypto) {
        Some(super::time::NS_PER_DAY as f64 / interval as f64)
    } else if session != SessionMode::All {
        Some(bars_per_regular_session(interval))
    } else {
        None
    }
}

fn available_symbols(files: &[PathBuf]) -> Result<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut skipped = SkipCounts::new();
    for f in files {
        let b = read_file(f, BadRowPolicy::Skip, &|_| true, &mut skipped)?;
        names.extend(b.symbols);
    }
    Ok(names.into_iter().collect::<Vec<_>>().join(", "))
}

/// Merges per-file bars into one table sorted by (timestamp, symbol), symbols alphabetical.
/// Columns are concatenated, then permuted only if the result is not already sorted (a
/// single sorted file costs one pass). A (timestamp, symbol) seen twice is a duplicate.
fn merge(mut parts: Vec<(PathBuf, Bars)>, policy: BadRowPolicy, skipped: &mut SkipCounts) -> Result<Bars> {
    let mut names: Vec<String> = parts.iter().flat_map(|(_, b)| b.symbols.iter().cloned()).collect();
    names.sort();
    names.dedup();
    let mut extra_names: Vec<String> = parts.iter().flat_map(|(_, b)| b.extra.iter().map(|e| e.name.clone())).collect();
    extra_names.sort();
    extra_names.dedup();
    let mut out = Bars {
        symbols: names,
        extra: extra_names.iter().map(|n| ExtraColumn { name: n.clone(), values: Vec::new() }).collect(),
        ..Default::default()
    };
    let mut starts = Vec::with_capacity(parts.len());
    for (_, b) in &mut parts {
        let remap: Vec<u32> =
            b.symbols.iter().map(|s| out.symbols.binary_search(s).expect("interned") as u32).collect();
        for s in &mut b.sym {
            *s = remap[*s as usize];
        }
        starts.push(out.len());
        if out.is_empty() && b.extra.iter().map(|e| &e.name).eq(extra_names.iter()) {
            // The first part (often the only one) moves in without a copy.
            let symbols = std::mem::take(&mut out.symbols);
            out = std::mem::take(b);
            out.symbols = symbols;
        } else {
            out.append(b);
        }
    }
    let key = |b: &Bars, i: usize| (b.ts[i], b.sym[i]);
    let sorted = (1..out.len()).all(|i| key(&out, i - 1) <= key(&out, i));
    let perm: Option<Vec<u32>> = (!sorted).then(|| {
        let mut idx: Vec<u32> = (0..out.len() as u32).collect();
        idx.sort_by_key(|&i| key(&out, i as usize));
        idx
    });
    if let Some(p) = &perm {
        out = out.gather(p);
    }
    // Where merged row k came from: (part, 1-based row within the part).
    let origin = |k: usize| -> (usize, usize) {
        let g = perm.as_ref().map(|p| p[k] as usize).unwrap_or(k);
        let part = starts.partition_point(|&s| s <= g) - 1;
        (part, g - starts[part] + 1)
    };
    let mut keep: Option<Vec<bool>> = None;
    for k in 1..out.len() {
        if key(&out, k - 1) != key(&out, k) {
            continue;
        }
        let (t, s) = key(&out, k);
        match policy {
            BadRowPolicy::Fail => {
                let (first, _) = origin(k - 1);
                let (part, row) = origin(k);
                return Err(DataError::BadRow {
                    path: parts[part].0.clone(),
                    loc: match Format::of(&parts[part].0) {
                        Some(Format::Csv) => RowLoc::Line(row + 1),
                        _ => RowLoc::Row(row),
                    },
                    problem: RowProblem::Duplicate {
                        symbol: format!("{} (also in {})", out.symbols[s as usize], parts[first].0.display()),
                        timestamp: format_ts(t),
                    },
                });
            }
            BadRowPolicy::Skip => {
                *skipped.entry("duplicate".to_string()).or_default() += 1;
                keep.get_or_insert_with(|| vec![true; out.len()])[k] = false;
            }
        }
    }
    if let Some(mask) = keep {
        out.retain_mask(&mask);
    }
    Ok(out)
}
