//! The sections of one run's report, each built from the run folder alone.

use std::collections::BTreeSet;
use std::fmt::Write;

use plotters::style::RGBColor;

use super::chart::{self, Axes, BarGroup, Line, Marker, Reliability};
use super::page::{Section, config_digest, date, esc, figure, money, note, num, pct, pct_axis, table, time_label};
use super::read::{BreakdownRow, RunFolder};
use super::{Chart, Result};
use crate::market::Ts;

/// Colour of the strategy under test.
const UNDER_TEST: RGBColor = RGBColor(31, 95, 191);
/// Colour of buy-and-hold.
const BENCHMARK: RGBColor = RGBColor(30, 30, 30);
const EQUAL: RGBColor = RGBColor(230, 159, 0);
const NO_RECALL: RGBColor = RGBColor(204, 51, 153);
/// Analyst colours, by roster position (Okabe–Ito and Tableau hues, colour-blind safe).
const ANALYST: [RGBColor; 8] = [
    RGBColor(0, 158, 115),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(140, 107, 177),
    RGBColor(153, 153, 51),
    RGBColor(127, 127, 127),
    RGBColor(23, 190, 207),
    RGBColor(188, 189, 34),
];

/// A metric row: label (as in the terminal table), `summary.json` key, format.
type MetricRow = (&'static str, &'static str, fn(f64) -> String);

/// The rows of the metrics table: the terminal table's (`report::table`), same order.
pub(super) const METRICS: [MetricRow; 21] = [
    ("Total return", "total_return", |x| pct(x, 2)),
    ("CAGR", "cagr", |x| pct(x, 2)),
    ("Volatility (ann.)", "volatility", |x| pct(x, 2)),
    ("Sharpe", "sharpe", |x| num(x, 2)),
    ("Sortino", "sortino", |x| num(x, 2)),
    ("Max drawdown", "max_drawdown", |x| pct(x, 2)),
    ("Max DD duration (bars)", "max_drawdown_bars", |x| num(x, 0)),
    ("Max DD duration (days)", "max_drawdown_days", |x| num(x, 2)),
    ("Calmar", "calmar", |x| num(x, 2)),
    ("Trades", "trades", |x| num(x, 0)),
    ("Win rate", "win_rate", |x| pct(x, 2)),
    ("Profit factor", "profit_factor", |x| num(x, 2)),
    ("Avg trade P&L", "avg_trade", money),
    ("Avg trade return", "avg_trade_return", |x| pct(x, 2)),
    ("Turnover (x equity)", "turnover", |x| num(x, 2)),
    ("Turnover (ann.)", "annual_turnover", |x| num(x, 2)),
    ("Time in market", "time_in_market", |x| pct(x, 2)),
    ("Avg gross exposure", "avg_gross_exposure", |x| pct(x, 2)),
    ("Fills", "fills", |x| num(x, 0)),
    ("Total costs", "total_costs", money),
    ("Final equity", "final_equity", money),
];

/// A cell's HTML: the value, in red when negative.
fn signed(x: f64, text: String) -> String {
    if x < 0.0 { format!("<span class=\"neg\">{text}</span>") } else { text }
}

/// A metric of a `summary.json` strategy (NaN when null or missing).
pub(super) fn metric(m: &serde_json::Map<String, serde_json::Value>, key: &str) -> f64 {
    m.get(key).and_then(|v| v.as_f64()).unwrap_or(f64::NAN)
}

/// Colour of a strategy curve by name: under test, buy-and-hold, equal weights, the memory
/// ablation, or the analyst whose votes it replays.
pub(super) fn strategy_colour(name: &str, index: usize, count: usize, analysts: &[String]) -> (RGBColor, u32) {
    if index == 0 {
        return (UNDER_TEST, 3);
    }
    if index + 1 == count {
        return (BENCHMARK, 2);
    }
    match name {
        "equal-weight" | "composed" => (EQUAL, 2),
        "no-recall" => (NO_RECALL, 2),
        _ => {
            let agent = name.strip_prefix("votes:").unwrap_or(name);
            let k = analysts.iter().position(|a| a == agent).unwrap_or(index);
            (ANALYST[k % ANALYST.len()], 1)
        }
    }
}

fn analyst_colour(analysts: &[String], name: &str) -> RGBColor {
    let k = analysts.iter().position(|a| a == name).unwrap_or(0);
    ANALYST[k % ANALYST.len()]
}

/// The x axis of one run's time charts: the step index (no overnight gaps), labelled with
/// the step's time.
struct Steps<'a> {
    ts: &'a [Ts],
}

impl Steps<'_> {
    fn span(&self) -> i64 {
        match (self.ts.first(), self.ts.last()) {
            (Some(a), Some(b)) => b - a,
            _ => 0,
        }
    }
    fn label(&self, x: f64) -> String {
        let i = x.round().max(0.0) as usize;
        self.ts.get(i).map(|&t| time_label(t, self.span())).unwrap_or_default()
    }
    /// The step of time `t`: the last step at or before it.
    fn index(&self, t: Ts) -> f64 {
        self.ts.partition_point(|&s| s <= t).saturating_sub(1) as f64
    }
    fn x_label(&self) -> &'static str {
        if self.span() > 20 * 86_400_000_000_000 {
            "bar (date, UTC; nights and weekends removed)"
        } else {
            "bar (month-day time, UTC; nights removed)"
        }
    }
}

fn what_was_run(run: &RunFolder) -> Section {
    let s = &run.summary;
    let d = &s.data;
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
    let list = |v: &serde_json::Value| -> String {
        v.as_array().map(|a| a.iter().map(|x| esc(&text(x))).collect::<Vec<_>>().join(", ")).unwrap_or_default()
    };
    let files: Vec<String> = d["files"]
        .as_array()
        .map(|a| a.iter().map(|f| format!("<code>{}</code> ({} rows)", esc(&text(&f["path"])), f["rows"])).collect())
        .unwrap_or_default();
    let counts = |v: &serde_json::Value| -> String {
        v.as_object()
            .filter(|o| !o.is_empty())
            .map(|o| o.iter().map(|(k, n)| format!("{} {n}", esc(k))).collect::<Vec<_>>().join(", "))
            .unwrap_or_else(|| "none".into())
    };
    let names: Vec<String> = s.strategies.iter().map(|x| esc(&x.name)).collect();
    let folder = super::run_name(&run.config_toml).unwrap_or_default();
    let mut rows = vec![
        ("Run folder", format!("<code>{}</code> (output.dir)", esc(&folder))),
        ("Data files", files.join("<br>")),
        ("Period (bar starts, UTC)", format!("{} .. {}", esc(&text(&d["first"])), esc(&text(&d["last"])))),
        ("Bars", format!("{} of {}", d["bars"], list(&d["symbols"]))),
        ("Interval, session", format!("{}, session {}", esc(&text(&d["interval"])), esc(&text(&d["session"])))),
        ("Rows filtered out", counts(&d["filtered"])),
        ("Bad rows skipped", counts(&d["skipped"])),
        ("Strategy under test", format!("<strong>{}</strong>", names[0])),
        ("Compared with", names[1..].join(", ")),
    ];
    if !s.analysts.is_empty() {
        rows.push(("Analysts", esc(&s.analysts.join(", "))));
    }
    if let Some(w) = &s.warmup_until {
        rows.push(("Warm-up until", format!("{} (memory learns before, metrics start there)", esc(w))));
    }
    if let Some(f) = d["factor_files"].as_str() {
        rows.push(("Factor files", esc(f)));
    }
    for (label, key) in [("Split adjustments", "adjustments"), ("Data warnings", "warnings")] {
        if d[key].as_array().is_some_and(|a| !a.is_empty()) {
            rows.push((label, list(&d[key])));
        }
    }
    let ppy = s.annualisation["periods_per_year"].as_f64().unwrap_or(f64::NAN);
    rows.push((
        "Annualisation",
        format!("{} periods per year; risk-free rate {}", num(ppy, 1), pct(s.risk_free_rate, 2)),
    ));
    rows.push((
        "Config digest",
        format!("<code>{}</code> (SHA-256 of config.toml without output.dir)", config_digest(&run.config_toml)),
    ));
    rows.push(("Run written by", format!("quorum {}", esc(&s.quorum_version))));
    rows.push((
        "Report written by",
        format!("quorum {} (git {})", env!("CARGO_PKG_VERSION"), env!("QUORUM_GIT_REVISION")),
    ));
    let rows: Vec<Vec<String>> = rows.into_iter().map(|(k, v)| vec![k.to_string(), v]).collect();
    let mut body =
        table(&["".into(), "".into()], &rows, "facts").replace("<thead><tr><th></th><th></th></tr></thead>\n", "");
    let _ = write!(
        body,
        "<details><summary>config.toml (the resolved configuration)</summary>\n<pre>{}</pre>\n</details>\n",
        esc(&run.config_toml)
    );
    Section { id: "run", title: "What was run".into(), body }
}

fn metrics(run: &RunFolder) -> Section {
    let s = &run.summary;
    let mut header = vec!["metric".to_string()];
    // Let long names ("votes:sentiment") break after the colon.
    header.extend(s.strategies.iter().map(|x| esc(&x.name).replacen(':', ":<wbr>", 1)));
    let rows: Vec<Vec<String>> = METRICS
        .iter()
        .map(|(label, key, f)| {
            let mut r = vec![label.to_string()];
            r.extend(s.strategies.iter().map(|x| {
                let v = metric(&x.metrics, key);
                signed(v, f(v))
            }));
            r
        })
        .collect();
    let mut body = note(&format!(
        "The strategy under test first, then baselines on the same votes and bars, buy-and-hold last{}. \
         The README's \"What the output means\" defines each row.",
        if s.warmup_until.is_some() { "; over the steps after the warm-up" } else { "" }
    ));
    body.push_str(&table(&header, &rows, "num metrics"));
    Section { id: "metrics", title: "Metrics".into(), body }
}

/// Cumulative return of an equity curve from its first value.
fn cumulative(e: &[f64]) -> Vec<f64> {
    let base = e.iter().copied().find(|v| v.is_finite() && *v != 0.0).unwrap_or(1.0);
    e.iter().map(|v| v / base - 1.0).collect()
}

/// Drawdown from the running peak, as a (non-positive) fraction.
pub(super) fn underwater(e: &[f64]) -> Vec<f64> {
    let mut peak = f64::NEG_INFINITY;
    e.iter()
        .map(|&v| {
            peak = peak.max(v);
            if peak > 0.0 { v / peak - 1.0 } else { 0.0 }
        })
        .collect()
}

fn span_of<'a>(ys: impl Iterator<Item = &'a [f64]>) -> f64 {
    let (lo, hi) = chart::padded_range(ys.flat_map(|y| y.iter().copied()));
    hi - lo
}

fn equity_curves(run: &RunFolder, charts: &mut Vec<Chart>) -> Result<Section> {
    let steps = Steps { ts: &run.equity.ts };
    let n = run.equity.curves.len();
    let x: Vec<f64> = (0..steps.ts.len()).map(|i| i as f64).collect();
    let lines: Vec<Line> = run
        .equity
        .curves
        .iter()
        .enumerate()
        .map(|(i, (name, e))| {
            let (color, width) = strategy_colour(name, i, n, &run.summary.analysts);
            Line { name: name.clone(), x: x.clone(), y: cumulative(e), color, width, fill: false }
        })
        .collect();
    let y_fmt = pct_axis(span_of(lines.iter().map(|l| l.y.as_slice())));
    let svg = chart::lines(
        &Axes {
            title: "Cumulative return: strategy under test, baselines, buy-and-hold",
            x_label: steps.x_label(),
            y_label: "return since start (%)",
            x_fmt: &|v| steps.label(v),
            y_fmt: &y_fmt,
            height: 420,
        },
        &lines,
        &[],
    )?;
    let body = figure(
        "chart-equity",
        &svg,
        "Thick blue: the strategy under test; black: buy-and-hold on the same bars and costs; thin lines: each analyst's votes alone.",
    );
    charts.push(Chart::new("equity", svg));
    Ok(Section { id: "equity", title: "Equity curves".into(), body })
}

fn drawdown(run: &RunFolder, charts: &mut Vec<Chart>) -> Result<Section> {
    let steps = Steps { ts: &run.equity.ts };
    let x: Vec<f64> = (0..steps.ts.len()).map(|i| i as f64).collect();
    let curves = &run.equity.curves;
    let n = curves.len();
    let pick = [0, n - 1];
    let lines: Vec<Line> = pick
        .iter()
        .map(|&i| {
            let (color, width) = strategy_colour(&curves[i].0, i, n, &run.summary.analysts);
            Line {
                name: curves[i].0.clone(),
                x: x.clone(),
                y: underwater(&curves[i].1),
                color,
                width: width.min(2),
                fill: true,
            }
        })
        .collect();
    let y_fmt = pct_axis(span_of(lines.iter().map(|l| l.y.as_slice())));
    let svg = chart::lines(
        &Axes {
            title: "Underwater: drawdown from the running peak",
            x_label: steps.x_label(),
            y_label: "drawdown (%)",
            x_fmt: &|v| steps.label(v),
            y_fmt: &y_fmt,
            height: 300,
        },
        &lines,
        &[],
    )?;
    let body = figure("chart-drawdown", &svg, "");
    charts.push(Chart::new("drawdown", svg));
    Ok(Section { id: "drawdown", title: "Underwater drawdown".into(), body })
}

const NOT_GRAPH: &str = "Not an analyst-graph run: this strategy has no analysts, votes or weights.";

fn weights(run: &RunFolder, charts: &mut Vec<Chart>) -> Result<Section> {
    let title = "Composer weights over time".to_string();
    let Some(w) = &run.weights else { return Ok(Section { id: "weights", title, body: note(NOT_GRAPH) }) };
    let steps = Steps { ts: &run.equity.ts };
    let x: Vec<f64> = w.ts.iter().map(|&t| steps.index(t)).collect();
    let lines: Vec<Line> = w
        .agents
        .iter()
        .map(|(name, y)| Line {
            name: name.clone(),
            x: x.clone(),
            y: y.clone(),
            color: analyst_colour(&run.summary.analysts, name),
            width: 2,
            fill: false,
        })
        .collect();
    let svg = chart::lines(
        &Axes {
            title: "Evidence weight of each analyst in the composer",
            x_label: steps.x_label(),
            y_label: "weight (share of the vote)",
            x_fmt: &|v| steps.label(v),
            y_fmt: &|v| pct(v, 0),
            height: 340,
        },
        &lines,
        &[],
    )?;
    let body = figure(
        "chart-weights",
        &svg,
        "The memory-based weights at each step (logged whatever the composer mode); equal weights are 1/n until an analyst's remembered win rate is 2 posterior standard deviations from ½.",
    );
    charts.push(Chart::new("weights", svg));
    Ok(Section { id: "weights", title, body })
}

fn attribution(run: &RunFolder, charts: &mut Vec<Chart>) -> Result<Section> {
    let title = "Who earned what: attribution, Shapley, leave-one-out".to_string();
    let s = &run.summary;
    let Some(att) = &s.attribution else { return Ok(Section { id: "attribution", title, body: note(NOT_GRAPH) }) };
    let shap = s.shapley.as_ref();
    let find = |name: &str| shap.and_then(|sh| sh.agents.iter().find(|a| a.agent == name));
    let header: Vec<String> = [
        "analyst",
        "votes",
        "mean confidence",
        "mean weight",
        "P&amp;L",
        "costs",
        "Shapley: return",
        "Shapley: Sharpe",
        "Shapley: costs",
        "leave-one-out: return",
        "leave-one-out: Sharpe",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    let mut rows: Vec<Vec<String>> = att
        .agents
        .iter()
        .map(|a| {
            let sh = find(&a.agent);
            let f = |g: fn(&crate::report::shapley::AgentShapley) -> f64| sh.map_or(f64::NAN, g);
            let pp = |x: f64| signed(x, if x.is_finite() { format!("{:+.3} pp", x * 100.0) } else { "–".into() });
            vec![
                esc(&a.agent),
                a.votes.to_string(),
                num(a.mean_confidence, 2),
                pct(a.mean_weight, 1),
                signed(a.pnl, money(a.pnl)),
                money(a.costs),
                pp(f(|v| v.total_return)),
                signed(f(|v| v.sharpe), num(f(|v| v.sharpe), 2)),
                money(f(|v| v.total_costs)),
                pp(f(|v| v.loo_total_return)),
                signed(f(|v| v.loo_sharpe), num(f(|v| v.loo_sharpe), 2)),
            ]
        })
        .collect();
    let blank = || vec![String::new(); 9];
    let mut r = vec!["unattributed".to_string(), String::new()];
    r.extend(blank());
    r[4] = signed(att.unattributed, money(att.unattributed));
    rows.push(r);
    let mut r = vec!["<strong>book total</strong>".to_string(), String::new()];
    r.extend(blank());
    r[4] = format!("<strong>{}</strong>", signed(att.total_pnl, money(att.total_pnl)));
    if let Some(sh) = shap {
        r[6] = format!("{:+.3} pp", sh.total_return_all * 100.0);
    }
    rows.push(r);
    let mut body = note(
        "P&amp;L: each step's P&amp;L of the book (position moves and fills' edge, net of commission) credited to the analysts \
         by their signed contribution to the decision behind it; the parts and the unattributed rest sum to the book's P&amp;L. \
         Shapley values (exact, over every coalition of analysts; they sum to v(all) − v(none), the book total row) and leave-one-out (v(all) − v(all but one)) of total return \
         in percentage points (pp), Sharpe and total costs.",
    );
    body.push_str(&table(&header, &rows, "num"));
    match shap {
        Some(sh) if !sh.agents.is_empty() => {
            let labels: Vec<String> = sh.agents.iter().map(|a| a.agent.clone()).collect();
            let mut groups = vec![BarGroup {
                name: format!("Shapley value ({} mode)", sh.mode),
                color: UNDER_TEST,
                values: sh.agents.iter().map(|a| a.total_return).collect(),
            }];
            // Full mode (each coalition re-ran the graph with its own memory), when computed.
            if let Some(full) = s.shapley_full.as_ref().filter(|f| f.agents.len() == sh.agents.len()) {
                groups.push(BarGroup {
                    name: "Shapley value (full mode)".into(),
                    color: RGBColor(120, 90, 170),
                    values: full.agents.iter().map(|a| a.total_return).collect(),
                });
            }
            groups.push(BarGroup {
                name: "leave-one-out".into(),
                color: RGBColor(90, 130, 200),
                values: sh.agents.iter().map(|a| a.loo_total_return).collect(),
            });
            let svg = chart::hbars(
                "Each analyst's contribution to total return (percentage points)",
                &labels,
                &groups,
                &|x| format!("{:+.3}", x * 100.0 + 0.0),
            )?;
            body.push_str(&figure("chart-shapley", &svg, "Negative contributions in red."));
            charts.push(Chart::new("shapley", svg));
        }
        _ => body.push_str(&note("No Shapley values in this run (more analysts than the exact computation covers).")),
    }
    Ok(Section { id: "attribution", title, body })
}

fn calibration(run: &RunFolder, charts: &mut Vec<Chart>) -> Result<Section> {
    let title = "Calibration of the votes' confidence".to_string();
    let s = &run.summary;
    if s.learning.is_empty() {
        return Ok(Section { id: "calibration", title, body: note(NOT_GRAPH) });
    }
    let curves: Vec<Reliability> = s
        .learning
        .iter()
        .map(|l| Reliability {
            name: format!("{} · Brier {}", l.agent, l.brier.map_or("–".into(), |b| format!("{b:.3}"))),
            color: analyst_colour(&s.analysts, &l.agent),
            points: l
                .reliability
                .iter()
                .filter_map(|b| Some((b.mean_confidence?, b.hit_rate?, b.votes)))
                .filter(|p| p.2 > 0)
                .collect(),
        })
        .collect();
    let mut body = String::new();
    if curves.iter().all(|c| c.points.is_empty()) {
        body.push_str(&note("No vote was judged in this run, so there is nothing to calibrate."));
    } else {
        let svg = chart::calibration(&curves)?;
        body.push_str(&figure(
            "chart-calibration",
            &svg,
            "A calibrated analyst's points lie on the diagonal: votes given 70% confidence win 70% of the time. \
             Brier score: mean squared error of the confidence as the chance of winning (0 perfect, 0.25 a coin at ½).",
        ));
        charts.push(Chart::new("calibration", svg));
    }
    // Hit rates at fixed horizons, from the attribution (every vote, overlapping).
    let horizons: Vec<usize> = s
        .attribution
        .as_ref()
        .and_then(|a| a.agents.first())
        .map(|a| a.hit_rate_by_horizon.iter().map(|h| h.horizon).filter(|h| [1, 5, 15, 60].contains(h)).collect())
        .unwrap_or_default();
    let by_horizon = |agent: &str, h: usize| -> String {
        let a = s.attribution.as_ref().and_then(|a| a.agents.iter().find(|x| x.agent == agent));
        let hit = a.and_then(|a| a.hit_rate_by_horizon.iter().find(|x| x.horizon == h)).and_then(|x| x.hit_rate);
        pct(hit.unwrap_or(f64::NAN), 1)
    };
    let stance = |l: &crate::report::html::read::Learning, k: usize| -> String {
        l.evidence.get(k).map_or("–".into(), |x| format!("{} ({})", pct(x.hit_rate.unwrap_or(f64::NAN), 1), x.judged))
    };
    let rows: Vec<Vec<String>> = s
        .learning
        .iter()
        .map(|l| {
            let mut r = vec![
                esc(&l.agent),
                l.resolved.to_string(),
                pct(l.hit_rate.unwrap_or(f64::NAN), 1),
                l.brier.map_or("–".into(), |b| format!("{b:.3}")),
                l.win_rate_outcome_corr.map_or("–".into(), |c| format!("{c:+.3}")),
                stance(l, 0),
                stance(l, 1),
                stance(l, 2),
            ];
            r.extend(horizons.iter().map(|&h| by_horizon(&l.agent, h)));
            r
        })
        .collect();
    let mut header: Vec<String> = [
        "analyst",
        "votes judged",
        "hit rate",
        "Brier",
        "win rate ↔ outcome",
        "evidence agreed",
        "evidence disagreed",
        "no evidence",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    header.extend(horizons.iter().map(|h| format!("hit rate at {h} bar{}", if *h == 1 { "" } else { "s" })));
    body.push_str(&table(&header, &rows, "num"));
    body.push_str(&note(
        "Does the memory help? <em>win rate ↔ outcome</em>: correlation of the composer's remembered win rate at each \
         vote with its result (near 0: it does not predict). <em>Evidence agreed / disagreed</em>: hit rate (and count) of \
         the judged votes whose recalled outcome memories mostly won / mostly lost; if <em>agreed</em> does not beat \
         <em>disagreed</em>, the evidence is not informative. Compare also the <code>no-recall</code> column (the same \
         analysts without recall) in the metrics. Hit rate at h bars: every vote, judged h bars later (overlapping: \
         descriptive).",

    ));
    Ok(Section { id: "calibration", title, body })
}

/// The buckets of one breakdown dimension, sorted, and the rows ("who") with
/// the analysts' roster order first and `composed` last.
fn grid<'a>(
    rows: &'a [BreakdownRow],
    dimension: &str,
    analysts: &[String],
) -> (Vec<String>, Vec<String>, Vec<&'a BreakdownRow>) {
    let picked: Vec<&BreakdownRow> = rows.iter().filter(|r| r.dimension == dimension).collect();
    // Sets, not `Vec::contains`: 23 years of hourly bars have ~5,800 days, and a linear
    // search per row made this quadratic (half of `quorum report`'s time on that run).
    let buckets: Vec<String> =
        picked.iter().map(|r| r.bucket.as_str()).collect::<BTreeSet<&str>>().into_iter().map(String::from).collect();
    let mut who: Vec<String> =
        picked.iter().map(|r| r.who.as_str()).collect::<BTreeSet<&str>>().into_iter().map(String::from).collect();
    let rank =
        |w: &String| analysts.iter().position(|a| a == w).unwrap_or(analysts.len() + usize::from(w != "composed"));
    who.sort_by_key(|w| (rank(w), w.clone()));
    (who, buckets, picked)
}

/// A heatmap of one dimension of `breakdown.parquet`, or `None` when it has no rows.
pub(super) fn breakdown_heatmap(
    rows: &[BreakdownRow],
    dimension: &str,
    title: &str,
    analysts: &[String],
) -> Result<Option<String>> {
    let (who, buckets, picked) = grid(rows, dimension, analysts);
    if picked.is_empty() {
        return Ok(None);
    }
    let cell = |r: usize, c: usize| {
        picked
            .iter()
            .find(|x| x.who == who[r] && x.bucket == buckets[c])
            .map_or((f64::NAN, 0), |x| (if x.judged > 0 { x.hit_rate } else { f64::NAN }, x.judged))
    };
    // Crypto's 24 UTC hours: "14Z" rather than "14:00Z", so the column labels fit.
    let labels: Vec<String> =
        buckets.iter().map(|b| b.strip_suffix(":00Z").map_or_else(|| b.clone(), |h| format!("{h}Z"))).collect();
    chart::heatmap(title, &who, &labels, &cell).map(Some)
}

fn by_day_table(rows: &[BreakdownRow], analysts: &[String]) -> String {
    let (who, days, picked) = grid(rows, "day", analysts);
    if picked.is_empty() {
        return String::new();
    }
    let body: Vec<Vec<String>> = who
        .iter()
        .map(|w| {
            let mine: Vec<&&BreakdownRow> = picked.iter().filter(|r| &r.who == w && r.judged > 0).collect();
            let above = mine.iter().filter(|r| r.hit_rate > 0.5).count();
            let best = mine.iter().max_by(|a, b| a.hit_rate.total_cmp(&b.hit_rate));
            let worst = mine.iter().min_by(|a, b| a.hit_rate.total_cmp(&b.hit_rate));
            let day = |r: Option<&&&BreakdownRow>| {
                r.map_or("–".into(), |r| format!("{} ({})", esc(&r.bucket), pct(r.hit_rate, 0)))
            };
            let pnl: f64 = picked.iter().filter(|r| &r.who == w).map(|r| r.pnl).sum();
            vec![
                esc(w),
                mine.len().to_string(),
                format!("{above} ({})", pct(above as f64 / mine.len().max(1) as f64, 0)),
                day(best),
                day(worst),
                signed(pnl, money(pnl)),
            ]
        })
        .collect();
    let header: Vec<String> =
        ["who", "days with judged votes", "days above 50%", "best day (hit rate)", "worst day (hit rate)", "P&amp;L"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    format!(
        "<h3>By day</h3>\n{}{}",
        note(&format!("{} days in breakdown.parquet.", days.len())),
        table(&header, &body, "num")
    )
}

fn breakdown(run: &RunFolder, charts: &mut Vec<Chart>) -> Result<Section> {
    let title = "Hit rate by regime, time of day, symbol and day".to_string();
    if run.weights.is_none() {
        return Ok(Section { id: "breakdown", title, body: note(NOT_GRAPH) });
    }
    let Some(rows) = &run.breakdown else {
        return Ok(Section {
            id: "breakdown",
            title,
            body: note(
                "This run folder has no breakdown.parquet (written by quorum versions with per-regime breakdowns).",
            ),
        });
    };
    let mut body = note(
        "Colour: the hit rate of the judged votes (blue above 50%, red below, grey: none judged); \
         cell text: how many votes were judged. <code>composed</code> is the book's own direction.",
    );
    let analysts = &run.summary.analysts;
    for (dim, label) in [
        ("regime", "Markov regime (trend / volatility)"),
        ("time_of_day", "time of day (30-minute buckets, New York; UTC hours for crypto)"),
        ("symbol", "symbol"),
    ] {
        if let Some(svg) = breakdown_heatmap(rows, dim, &format!("Hit rate by {label}"), analysts)? {
            let id = format!("heatmap-{}", dim.replace('_', "-"));
            body.push_str(&figure(&id, &svg, ""));
            charts.push(Chart::new(&id, svg));
        }
    }
    body.push_str(&by_day_table(rows, analysts));
    Ok(Section { id: "breakdown", title, body })
}

/// Symbols drawn at most on the trades section.
const MAX_SYMBOLS: usize = 12;

fn trades(run: &RunFolder, charts: &mut Vec<Chart>) -> Result<Section> {
    let title = "Trades on the price chart".to_string();
    let Some(prices) = &run.prices else {
        return Ok(Section {
            id: "trades",
            title,
            body: note("This run folder has no prices.parquet (written by newer quorum versions)."),
        });
    };
    let f = &run.fills;
    let mut body = if f.ts.is_empty() {
        note("The strategy under test made no fills in this run; the closes it saw are shown.")
    } else {
        note(&format!(
            "{} fills of the strategy under test: ▲ buy, ▼ sell, at the fill price (the next bar's open with slippage).",
            f.ts.len()
        ))
    };
    let steps = Steps { ts: &run.equity.ts };
    let mut symbols: Vec<&(String, Vec<Ts>, Vec<f64>)> = prices.symbols.iter().collect();
    // Symbols with fills first (stable: alphabetical within each group).
    symbols.sort_by_key(|(s, _, _)| !f.symbol.contains(s));
    if symbols.len() > MAX_SYMBOLS {
        body.push_str(&note(&format!(
            "The first {MAX_SYMBOLS} of {} symbols are drawn (those with fills first).",
            symbols.len()
        )));
    }
    for (sym, ts, close) in symbols.into_iter().take(MAX_SYMBOLS) {
        let x: Vec<f64> = ts.iter().map(|&t| steps.index(t)).collect();
        let markers: Vec<Marker> = (0..f.ts.len())
            .filter(|&i| &f.symbol[i] == sym)
            .map(|i| Marker { x: steps.index(f.ts[i]), y: f.price[i], buy: f.buy[i] })
            .collect();
        let line = Line {
            name: format!("{sym} close"),
            x,
            y: close.clone(),
            color: RGBColor(80, 90, 110),
            width: 1,
            fill: false,
        };
        let chart_title = format!("{sym}: close and fills ({} fills)", markers.len());
        let svg = chart::lines(
            &Axes {
                title: &chart_title,
                x_label: steps.x_label(),
                y_label: "price (adjusted)",
                x_fmt: &|v| steps.label(v),
                y_fmt: &|v| num(v, 2),
                height: 300,
            },
            &[line],
            &markers,
        )?;
        let id = format!(
            "chart-price-{}",
            sym.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect::<String>()
        );
        body.push_str(&figure(&id, &svg, ""));
        charts.push(Chart::new(&id, svg));
    }
    Ok(Section { id: "trades", title, body })
}

/// Period returns of `equity` by period key (day or month of each step): the last equity of
/// each period over the last of the one before (the first period over the first equity).
pub(super) fn period_returns(ts: &[Ts], equity: &[f64], key: &dyn Fn(Ts) -> String) -> (Vec<String>, Vec<f64>) {
    let (mut keys, mut rets): (Vec<String>, Vec<f64>) = (Vec::new(), Vec::new());
    let mut prev = equity.first().copied().unwrap_or(f64::NAN);
    for i in 0..ts.len().min(equity.len()) {
        let k = key(ts[i]);
        let closes_period = i + 1 == ts.len() || key(ts[i + 1]) != k;
        if closes_period {
            rets.push(equity[i] / prev - 1.0);
            keys.push(k);
            prev = equity[i];
        }
    }
    (keys, rets)
}

fn daily(run: &RunFolder, charts: &mut Vec<Chart>) -> Result<Section> {
    let ts = &run.equity.ts;
    let curves = &run.equity.curves;
    let days = period_returns(ts, &curves[0].1, &|t| date(t)).0.len();
    let monthly = days > 300;
    let key = |t: Ts| if monthly { date(t)[..7].to_string() } else { date(t) };
    let word = if monthly { "Monthly" } else { "Daily" };
    let picks = [0, curves.len() - 1];
    let mut labels = Vec::new();
    let groups: Vec<BarGroup> = picks
        .iter()
        .map(|&i| {
            let (k, r) = period_returns(ts, &curves[i].1, &key);
            labels = k;
            let (color, _) = strategy_colour(&curves[i].0, i, curves.len(), &run.summary.analysts);
            BarGroup { name: curves[i].0.clone(), color, values: r }
        })
        .collect();
    let y_fmt = pct_axis(span_of(groups.iter().map(|g| g.values.as_slice())));
    let chart_title = format!("{word} returns: strategy under test and buy-and-hold");
    let svg = chart::bars(
        &Axes {
            title: &chart_title,
            x_label: if monthly { "month (UTC)" } else { "day (UTC)" },
            y_label: "return (%)",
            x_fmt: &|v| labels.get(v.floor().max(0.0) as usize).cloned().unwrap_or_default(),
            y_fmt: &y_fmt,
            height: 320,
        },
        labels.len(),
        &groups,
    )?;
    let body = figure(
        "chart-daily",
        &svg,
        &format!("{} {}.", labels.len(), if monthly { "months (more than 300 days: bars per month)" } else { "days" }),
    );
    charts.push(Chart::new("daily", svg));
    Ok(Section { id: "daily", title: format!("{word} returns"), body })
}

fn costs(run: &RunFolder, charts: &mut Vec<Chart>) -> Result<Section> {
    let title = "Costs".to_string();
    let f = &run.fills;
    if f.ts.is_empty() {
        return Ok(Section {
            id: "costs",
            title,
            body: note("The strategy under test made no fills, so it paid no costs."),
        });
    }
    let steps = Steps { ts: &run.equity.ts };
    let mut order: Vec<usize> = (0..f.ts.len()).collect();
    order.sort_by_key(|&i| f.ts[i]);
    // A step line over the whole run: 0 from the first step, a jump at each fill, flat to
    // the last step (so the x axis is the run's time, not the fills' few days).
    let last = run.equity.ts.len().saturating_sub(1) as f64;
    let running = |g: &dyn Fn(usize) -> f64| -> (Vec<f64>, Vec<f64>) {
        let (mut x, mut y, mut acc) = (vec![0.0], vec![0.0], 0.0);
        for &i in &order {
            let at = steps.index(f.ts[i]);
            x.push(at);
            y.push(acc);
            acc += g(i);
            x.push(at);
            y.push(acc);
        }
        x.push(last.max(x[x.len() - 1]));
        y.push(acc);
        (x, y)
    };
    let line = |name: &str, g: &dyn Fn(usize) -> f64, color| {
        let (x, y) = running(g);
        Line { name: name.into(), x, y, color, width: 2, fill: false }
    };
    let lines = vec![
        line("commission + slippage", &|i| f.commission[i] + f.slippage[i], BENCHMARK),
        line("commission", &|i| f.commission[i], UNDER_TEST),
        line("slippage", &|i| f.slippage[i], EQUAL),
    ];
    let total: f64 = lines[0].y.last().copied().unwrap_or(0.0);
    let svg = chart::lines(
        &Axes {
            title: "Cumulative costs of the strategy under test",
            x_label: steps.x_label(),
            y_label: "currency",
            x_fmt: &|v| steps.label(v),
            y_fmt: &|v| num(v, 0),
            height: 300,
        },
        &lines,
        &[],
    )?;
    let body = figure("chart-costs", &svg, &format!("{} fills, {} in costs.", f.ts.len(), money(total)));
    charts.push(Chart::new("costs", svg));
    Ok(Section { id: "costs", title, body })
}

/// Every section of one run's report, in page order, and the charts drawn.
pub(super) fn sections(run: &RunFolder) -> Result<(Vec<Section>, Vec<Chart>)> {
    let mut charts = Vec::new();
    let sections = vec![
        what_was_run(run),
        metrics(run),
        equity_curves(run, &mut charts)?,
        drawdown(run, &mut charts)?,
        weights(run, &mut charts)?,
        attribution(run, &mut charts)?,
        calibration(run, &mut charts)?,
        breakdown(run, &mut charts)?,
        trades(run, &mut charts)?,
        daily(run, &mut charts)?,
        costs(run, &mut charts)?,
    ];
    Ok((sections, charts))
}
