//! The HTML around the charts: escaping, number formats, tables, sections, the table of
//! contents and the style sheet. Small `write!`/`format!` code: the page is a dozen
//! sections of tables and SVG, which no template engine would make shorter.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::market::Ts;

/// Escapes text for HTML element content and attribute values.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A fraction as a percentage with `digits` decimals, `–` when undefined.
pub(super) fn pct(x: f64, digits: usize) -> String {
    if x.is_finite() { format!("{:.digits$}%", x * 100.0) } else { "–".into() }
}

/// A number with `digits` decimals, `–` when undefined.
pub(super) fn num(x: f64, digits: usize) -> String {
    if x.is_finite() { format!("{x:.digits$}") } else { "–".into() }
}

/// Currency with thousands separators and two decimals.
pub(super) fn money(x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let s = format!("{:.2}", x.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}{grouped}.{frac}", if x < 0.0 { "−" } else { "" })
}

/// Tick format of a percentage axis whose values span `span` (a fraction).
pub(super) fn pct_axis(span: f64) -> impl Fn(f64) -> String {
    let digits = if span < 0.002 {
        3
    } else if span < 0.02 {
        2
    } else if span < 0.2 {
        1
    } else {
        0
    };
    move |y| pct(y, digits)
}

/// A timestamp for an axis or a table: a date when the data span weeks, else date and
/// time (UTC).
pub(super) fn time_label(ts: Ts, span_ns: i64) -> String {
    let t = DateTime::<Utc>::from_timestamp_nanos(ts);
    if span_ns > 20 * 86_400_000_000_000 {
        t.format("%Y-%m-%d").to_string()
    } else {
        t.format("%m-%d %H:%M").to_string()
    }
}

/// The UTC date of a timestamp, `YYYY-MM-DD`.
pub(super) fn date(ts: Ts) -> String {
    DateTime::<Utc>::from_timestamp_nanos(ts).format("%Y-%m-%d").to_string()
}

/// SHA-256 of the resolved configuration without `output.dir` (where a run was written is
/// not part of what was run: the same config into two folders has one digest), over the
/// TOML text re-serialised with sorted keys; the raw text's digest when it does not parse.
pub(super) fn config_digest(config_toml: &str) -> String {
    let text = match config_toml.parse::<toml::Table>() {
        Ok(mut t) => {
            if let Some(toml::Value::Table(out)) = t.get_mut("output") {
                out.remove("dir");
            }
            toml::to_string(&t).unwrap_or_else(|_| config_toml.to_string())
        }
        Err(_) => config_toml.to_string(),
    };
    Sha256::digest(text.as_bytes()).iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A table: header cells, then rows of cells (already HTML), with CSS `class` (`num`
/// right-aligns every column after the first; `metrics` also marks the first data column).
pub(super) fn table(header: &[String], rows: &[Vec<String>], class: &str) -> String {
    let mut out = format!("<div class=\"scroll\"><table class=\"{class}\">\n<thead><tr>");
    for h in header {
        let _ = write!(out, "<th>{h}</th>");
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{c}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
    out
}

/// A figure holding one chart's SVG, with an id for the browser check and `--png`.
pub(super) fn figure(id: &str, svg: &str, caption: &str) -> String {
    let mut out = format!("<figure class=\"chart\" id=\"{id}\">\n{svg}\n");
    if !caption.is_empty() {
        let _ = writeln!(out, "<figcaption>{caption}</figcaption>");
    }
    out.push_str("</figure>\n");
    out
}

/// A one-line note in place of a section's charts.
pub(super) fn note(text: &str) -> String {
    format!("<p class=\"note\">{text}</p>\n")
}

/// One section of the page.
pub(super) struct Section {
    pub id: &'static str,
    pub title: String,
    pub body: String,
}

const STYLE: &str = r#"
:root { --ink: #282c34; --muted: #667085; --rule: #e2e5ea; --accent: #1f5fbf; --bad: #b2182b; --good: #1b7837; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: #f6f7f9; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 60px; background: #fff; min-height: 100vh; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 8px; padding-top: 12px; border-top: 1px solid var(--rule); }
.sub { color: var(--muted); margin: 0 0 16px; }
nav ol { columns: 3; margin: 8px 0 0; padding-left: 20px; }
nav a, a { color: var(--accent); text-decoration: none; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 13px; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--rule); text-align: left; vertical-align: top; }
th { background: #f0f2f5; font-weight: 600; white-space: nowrap; }
table.num td:not(:first-child), table.num th:not(:first-child) { text-align: right; white-space: nowrap; }
table.num th:not(:first-child) { white-space: normal; min-width: 4.5em; }
td:first-child { white-space: nowrap; }
table.metrics td:nth-child(2), table.metrics th:nth-child(2) { background: #eef4fc; font-weight: 600; }
tr:hover td { background: #fafbfc; }
.scroll { overflow-x: auto; max-width: 100%; }
td.neg, span.neg { color: var(--bad); }
figure.chart { margin: 12px 0; }
figure.chart svg { max-width: 100%; height: auto; display: block; }
figcaption, .note { color: var(--muted); font-size: 13.5px; }
details { margin-top: 10px; }
pre { background: #f6f7f9; padding: 10px; overflow-x: auto; font-size: 12.5px; }
code { font-size: 13px; }
"#;

/// The whole page: title, subtitle, table of contents, sections.
pub(super) fn page(title: &str, subtitle: &str, sections: &[Section]) -> String {
    let mut out = String::with_capacity(1 << 20);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n<p class=\"sub\">{subtitle}</p>\n",
        esc(title),
        esc(title)
    );
    out.push_str("<nav id=\"contents\"><strong>Contents</strong>\n<ol>\n");
    for s in sections {
        let _ = writeln!(out, "<li><a href=\"#{}\">{}</a></li>", s.id, esc(&s.title));
    }
    out.push_str("</ol>\n</nav>\n");
    for s in sections {
        let _ = write!(out, "<section id=\"{}\">\n<h2>{}</h2>\n{}</section>\n", s.id, esc(&s.title), s.body);
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}
