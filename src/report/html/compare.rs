//! Several runs side by side: each run's strategy under test on one equity chart (on a
//! time axis, since the runs' steps differ; plus each run's buy-and-hold when the runs'
//! data differ), one metrics table with a column per run, and the config keys that differ.

use std::collections::BTreeMap;
use std::path::PathBuf;

use plotters::style::RGBColor;

use super::chart::{self, Axes, Line};
use super::page::{Section, config_digest, esc, figure, note, pct_axis, table, time_label};
use super::read::{RunFolder, read_run};
use super::sections::{METRICS, metric};
use super::{Chart, Result};

/// Run colours, in argument order.
const RUN: [RGBColor; 6] = [
    RGBColor(31, 95, 191),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 51, 153),
    RGBColor(86, 180, 233),
    RGBColor(153, 153, 51),
];

/// Halfway to white.
fn lighten(c: u8) -> u8 {
    ((u16::from(c) + 255) / 2) as u8
}

/// Short labels for the runs: folder names, or whole paths where names repeat.
fn labels(runs: &[RunFolder]) -> Vec<String> {
    let name = |r: &RunFolder| r.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let names: Vec<String> = runs.iter().map(name).collect();
    names
        .iter()
        .zip(runs)
        .map(|(n, r)| {
            if n.is_empty() || names.iter().filter(|m| *m == n).count() > 1 {
                r.dir.display().to_string()
            } else {
                n.clone()
            }
        })
        .collect()
}

/// What identifies a run's data: files, symbols, period, interval, session.
fn data_key(r: &RunFolder) -> String {
    let d = &r.summary.data;
    ["files", "symbols", "first", "last", "interval", "session"]
        .iter()
        .map(|k| d[*k].to_string())
        .collect::<Vec<_>>()
        .join("|")
}

/// A TOML table flattened to `a.b.c = value` lines.
fn flatten(prefix: &str, v: &toml::Value, out: &mut BTreeMap<String, String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, x) in t {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, x, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

fn config_keys(r: &RunFolder) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match r.config_toml.parse::<toml::Table>() {
        Ok(t) => flatten("", &toml::Value::Table(t), &mut out),
        Err(e) => {
            out.insert("(config.toml)".into(), format!("unreadable: {e}"));
        }
    }
    out
}

fn runs_section(runs: &[RunFolder], names: &[String]) -> Section {
    let header: Vec<String> = ["run", "folder", "strategy under test", "data", "config digest", "quorum"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let rows: Vec<Vec<String>> = runs
        .iter()
        .zip(names)
        .map(|(r, n)| {
            let d = &r.summary.data;
            let syms = d["symbols"]
                .as_array()
                .map(|a| a.iter().filter_map(|s| s.as_str()).collect::<Vec<_>>().join(","))
                .unwrap_or_default();
            vec![
                format!("<strong>{}</strong>", esc(n)),
                format!("<code>{}</code>", esc(&r.dir.display().to_string())),
                esc(&r.summary.strategies[0].name),
                esc(&format!(
                    "{} bars of {syms} ({}), {} .. {}",
                    d["bars"],
                    d["interval"].as_str().unwrap_or("?"),
                    d["first"].as_str().unwrap_or("?"),
                    d["last"].as_str().unwrap_or("?")
                )),
                format!("<code>{}</code>", &config_digest(&r.config_toml)[..16]),
                esc(&r.summary.quorum_version),
            ]
        })
        .collect();
    Section { id: "runs", title: "Runs compared".into(), body: table(&header, &rows, "") }
}

fn equity_section(runs: &[RunFolder], names: &[String], charts: &mut Vec<Chart>) -> Result<Section> {
    let same_data = runs.iter().all(|r| data_key(r) == data_key(&runs[0]));
    let mut lines = Vec::new();
    for (k, (r, n)) in runs.iter().zip(names).enumerate() {
        let x: Vec<f64> = r.equity.ts.iter().map(|&t| t as f64).collect();
        let color = RUN[k % RUN.len()];
        let curve = |e: &[f64]| {
            let base = e.iter().copied().find(|v| v.is_finite() && *v != 0.0).unwrap_or(1.0);
            e.iter().map(|v| v / base - 1.0).collect::<Vec<f64>>()
        };
        let (under_test, bench) = (&r.equity.curves[0], &r.equity.curves[r.equity.curves.len() - 1]);
        lines.push(Line {
            name: format!("{n}: {}", under_test.0),
            x: x.clone(),
            y: curve(&under_test.1),
            color,
            width: 2,
            fill: false,
        });
        if !same_data || k == 0 {
            let name = if same_data { "buy-and-hold (same data)".to_string() } else { format!("{n}: {}", bench.0) };
            let color = if same_data {
                RGBColor(30, 30, 30)
            } else {
                RGBColor(lighten(color.0), lighten(color.1), lighten(color.2))
            };
            lines.push(Line { name, x, y: curve(&bench.1), color, width: 1, fill: false });
        }
    }
    let (lo, hi) = chart::padded_range(lines.iter().flat_map(|l| l.y.iter().copied()));
    let y_fmt = pct_axis(hi - lo);
    let (t0, t1) = lines
        .iter()
        .flat_map(|l| l.x.first().into_iter().chain(l.x.last()))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let span = (t1 - t0).max(0.0) as i64;
    let svg = chart::lines(
        &Axes {
            title: "Cumulative return of each run's strategy under test",
            x_label: "time (UTC)",
            y_label: "return since start (%)",
            x_fmt: &|v| time_label(v as i64, span),
            y_fmt: &y_fmt,
            height: 420,
        },
        &lines,
        &[],
    )?;
    let caption = if same_data {
        "The runs share their data: one buy-and-hold line."
    } else {
        "The runs' data differ: each run's buy-and-hold in a lighter shade."
    };
    charts.push(Chart::new("compare-equity", svg.clone()));
    Ok(Section { id: "equity", title: "Equity curves".into(), body: figure("chart-compare-equity", &svg, caption) })
}

fn metrics_section(runs: &[RunFolder], names: &[String]) -> Section {
    let mut header = vec!["metric".to_string()];
    header.extend(
        runs.iter()
            .zip(names)
            .map(|(r, n)| format!("{}<br><small>{}</small>", esc(n), esc(&r.summary.strategies[0].name))),
    );
    let rows: Vec<Vec<String>> = METRICS
        .iter()
        .map(|(label, key, f)| {
            let mut row = vec![label.to_string()];
            row.extend(runs.iter().map(|r| f(metric(&r.summary.strategies[0].metrics, key))));
            row
        })
        .collect();
    Section {
        id: "metrics",
        title: "Metrics of the strategies under test".into(),
        body: table(&header, &rows, "num metrics"),
    }
}

fn config_section(runs: &[RunFolder], names: &[String]) -> Section {
    let keys: Vec<BTreeMap<String, String>> = runs.iter().map(config_keys).collect();
    let all: std::collections::BTreeSet<&String> = keys.iter().flat_map(|k| k.keys()).collect();
    let rows: Vec<Vec<String>> = all
        .into_iter()
        .filter(|k| k.as_str() != "output.dir")
        .filter(|k| keys.iter().any(|m| m.get(*k) != keys[0].get(*k)))
        .map(|k| {
            let mut row = vec![format!("<code>{}</code>", esc(k))];
            row.extend(
                keys.iter().map(|m| m.get(k).map_or("<em>absent</em>".into(), |v| format!("<code>{}</code>", esc(v)))),
            );
            row
        })
        .collect();
    let body = if rows.is_empty() {
        note("The runs' resolved configurations are the same (apart from output.dir).")
    } else {
        let mut header = vec!["config key".to_string()];
        header.extend(names.iter().map(|n| esc(n)));
        format!(
            "{}{}",
            note("Keys of config.toml whose values differ (output.dir left out)."),
            table(&header, &rows, "")
        )
    };
    Section { id: "config", title: "Configuration differences".into(), body }
}

/// The comparison page of `dirs` (each already checked to be a finished run folder).
pub(super) fn render(dirs: &[PathBuf]) -> Result<(String, Vec<Chart>)> {
    let runs: Vec<RunFolder> = dirs.iter().map(|d| read_run(d)).collect::<Result<_>>()?;
    let names = labels(&runs);
    let mut charts = Vec::new();
    let sections = vec![
        runs_section(&runs, &names),
        equity_section(&runs, &names, &mut charts)?,
        metrics_section(&runs, &names),
        config_section(&runs, &names),
    ];
    let subtitle = format!("{} runs: {}", runs.len(), names.iter().map(|n| esc(n)).collect::<Vec<_>>().join(" · "));
    Ok((super::page::page("quorum run comparison", &subtitle, &sections), charts))
}
