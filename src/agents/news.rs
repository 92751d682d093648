//! Headlines: loading a news file and scoring headlines with a finance lexicon.
//!
//! File layout (as `../shared/data/news_2019-04-17.csv`): `timestamp,tickers,source,
//! headline`, `timestamp` RFC 3339, `tickers` a comma-separated list (quoted) matched to
//! symbols case-insensitively. Bad rows are errors naming the line and field.
//!
//! Score = (positive − negative) / (positive + negative + 1) over the headline's words,
//! with word lists in the spirit of Loughran & McDonald's finance sentiment dictionaries
//! ("When Is a Liability Not a Liability?", 2011): finance-specific polarity ("beat",
//! "downgrade", "lawsuit"), not general-language sentiment, and negation ("not", "no",
//! "without") flipping the next word.

use std::path::Path;

use polars::prelude::*;

use crate::market::Ts;
use crate::market::time::parse_rfc3339;

/// One headline.
#[derive(Debug, Clone, PartialEq)]
pub struct Headline {
    /// Publication time, nanoseconds since the Unix epoch (the file's `timestamp`).
    pub ts: Ts,
    /// Lower-case tickers.
    pub tickers: Vec<String>,
    /// Publisher, as in the file's `source` column.
    pub source: String,
    /// The headline, trimmed.
    pub text: String,
    /// Lexicon score in (-1, 1).
    pub score: f64,
}

const POSITIVE: &[&str] = &[
    "beat",
    "beats",
    "upbeat",
    "upgrade",
    "upgraded",
    "upgrades",
    "surge",
    "surges",
    "soar",
    "soars",
    "jump",
    "jumps",
    "rally",
    "rallies",
    "record",
    "growth",
    "grow",
    "grows",
    "profit",
    "profits",
    "profitable",
    "strong",
    "stronger",
    "gain",
    "gains",
    "raise",
    "raises",
    "raised",
    "settle",
    "settlement",
    "settles",
    "approve",
    "approved",
    "approval",
    "win",
    "wins",
    "boost",
    "boosts",
    "rebound",
    "outperform",
    "bullish",
    "buy",
    "optimistic",
    "expand",
    "expands",
    "deal",
    "agreement",
    "partnership",
    "launch",
    "launches",
    "higher",
    "top",
    "tops",
    "positive",
    "recovery",
];
const NEGATIVE: &[&str] = &[
    "miss",
    "misses",
    "missed",
    "downgrade",
    "downgraded",
    "downgrades",
    "plunge",
    "plunges",
    "fall",
    "falls",
    "drop",
    "drops",
    "slump",
    "slumps",
    "loss",
    "losses",
    "weak",
    "weaker",
    "cut",
    "cuts",
    "lawsuit",
    "sue",
    "sues",
    "probe",
    "investigation",
    "decline",
    "declines",
    "disappoint",
    "disappoints",
    "disappointing",
    "warning",
    "warns",
    "fine",
    "fined",
    "recall",
    "bearish",
    "sell",
    "selloff",
    "concern",
    "concerns",
    "risk",
    "risks",
    "lower",
    "slow",
    "slows",
    "slowdown",
    "layoffs",
    "fraud",
    "antitrust",
    "ban",
    "tariff",
    "tariffs",
    "negative",
    "crash",
    "halt",
];
const NEGATIONS: &[&str] = &["not", "no", "without", "never", "neither"];

/// Lexicon score of a headline in (-1, 1).
pub fn score(text: &str) -> f64 {
    let (mut pos, mut neg) = (0.0f64, 0.0f64);
    let mut negate = false;
    for w in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        let w = w.to_ascii_lowercase();
        if NEGATIONS.contains(&w.as_str()) {
            negate = true;
            continue;
        }
        let polarity = if POSITIVE.contains(&w.as_str()) {
            1
        } else if NEGATIVE.contains(&w.as_str()) {
            -1
        } else {
            0
        };
        match if negate { -polarity } else { polarity } {
            1 => pos += 1.0,
            -1 => neg += 1.0,
            _ => {}
        }
        negate = false;
    }
    (pos - neg) / (pos + neg + 1.0)
}

/// Errors loading a news file.
#[derive(Debug, thiserror::Error)]
pub enum NewsError {
    /// The file cannot be read or parsed as CSV.
    #[error("{path}: {message}")]
    File {
        /// The news file, as displayed.
        path: String,
        /// What went wrong (missing file or column, CSV error).
        message: String,
    },
    /// A row is bad.
    #[error("{path}: line {line}: {message}")]
    Row {
        /// The news file, as displayed.
        path: String,
        /// The CSV line, 1-based, the header being line 1.
        line: usize,
        /// What is wrong with the row, naming the field.
        message: String,
    },
}

/// Loads a news file, sorted by time (stable).
pub fn load(path: &Path) -> Result<Vec<Headline>, NewsError> {
    let p = path.display().to_string();
    let file_err = |m: String| NewsError::File { path: p.clone(), message: m };
    if !path.is_file() {
        return Err(file_err("cannot read: no such file".into()));
    }
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|r| r.finish())
        .map_err(|e| file_err(e.to_string()))?;
    let col = |name: &str| -> Result<&StringChunked, NewsError> {
        df.column(name)
            .and_then(|c| c.str())
            .map_err(|_| file_err(format!("missing column `{name}` (expected timestamp,tickers,source,headline)")))
    };
    let (ts, tickers, source, headline) = (col("timestamp")?, col("tickers")?, col("source")?, col("headline")?);
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let line = i + 2;
        let row_err = |m: String| NewsError::Row { path: p.clone(), line, message: m };
        let t = ts.get(i).unwrap_or("");
        let t =
            parse_rfc3339(t).ok_or_else(|| row_err(format!("field `timestamp`: cannot parse {t:?} as RFC 3339")))?;
        let text = headline.get(i).unwrap_or("").trim().to_string();
        if text.is_empty() {
            return Err(row_err("field `headline` is empty".into()));
        }
        let tk: Vec<String> = tickers
            .get(i)
            .unwrap_or("")
            .split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        if tk.is_empty() {
            return Err(row_err("field `tickers` is empty".into()));
        }
        out.push(Headline {
            ts: t,
            tickers: tk,
            source: source.get(i).unwrap_or("").to_string(),
            score: score(&text),
            text,
        });
    }
    out.sort_by_key(|h| h.ts);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_lexicon_scores() {
        assert!(score("Apple beats estimates, shares surge to record") > 0.5);
        assert!(score("Regulator opens antitrust probe; shares fall") < -0.5);
        assert_eq!(score("Company holds annual meeting"), 0.0);
        assert!(score("Earnings did not disappoint") > 0.0, "negation flips");
    }
}

#[cfg(test)]
mod file_tests {
    use super::*;

    #[test]
    fn test_news_file_loads_and_bad_rows_are_named() {
        let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/news/news_2019-04-17.csv");
        let news = load(&shipped).unwrap();
        assert_eq!(news.len(), 57);
        assert!(news.windows(2).all(|w| w[0].ts <= w[1].ts));
        assert!(news.iter().any(|h| h.tickers.contains(&"aapl".to_string())));
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("timestamp,tickers,source,headline\nyesterday,aapl,x,Apple beats\n", "line 2"),
            ("timestamp,tickers,source,headline\n2019-04-17T10:00:00Z,,x,Apple beats\n", "`tickers`"),
            ("timestamp,tickers,headline\n2019-04-17T10:00:00Z,aapl,Apple beats\n", "missing column `source`"),
        ];
        for (k, (text, want)) in cases.iter().enumerate() {
            let p = dir.path().join(format!("n{k}.csv"));
            std::fs::write(&p, text).unwrap();
            let e = load(&p).unwrap_err().to_string();
            assert!(e.contains(&format!("n{k}.csv")) && e.contains(want), "{e}");
        }
        assert!(load(&dir.path().join("none.csv")).unwrap_err().to_string().contains("none.csv"));
    }
}
