//! The terminal summary: one row per metric, one column per strategy.

use super::artifacts::RunSummary;
use super::metrics::Metrics;

fn pct(x: f64) -> String {
    if x.is_finite() { format!("{:.2}%", x * 100.0) } else { "-".into() }
}

fn num(x: f64) -> String {
    if x.is_finite() { format!("{x:.2}") } else { "-".into() }
}

fn money(x: f64) -> String {
    if x.is_finite() { format!("{x:.2}") } else { "-".into() }
}

pub(crate) type Row = (&'static str, fn(&Metrics) -> String);

pub(crate) const ROWS: [Row; 21] = [
    ("Total return", |m| pct(m.total_return)),
    ("CAGR", |m| pct(m.cagr)),
    ("Volatility (ann.)", |m| pct(m.volatility)),
    ("Sharpe", |m| num(m.sharpe)),
    ("Sortino", |m| num(m.sortino)),
    ("Max drawdown", |m| pct(m.max_drawdown)),
    ("Max DD duration (bars)", |m| m.max_drawdown_bars.to_string()),
    ("Max DD duration (days)", |m| num(m.max_drawdown_days)),
    ("Calmar", |m| num(m.calmar)),
    ("Trades", |m| m.trades.to_string()),
    ("Win rate", |m| pct(m.win_rate)),
    ("Profit factor", |m| num(m.profit_factor)),
    ("Avg trade P&L", |m| money(m.avg_trade)),
    ("Avg trade return", |m| pct(m.avg_trade_return)),
    ("Turnover (x equity)", |m| num(m.turnover)),
    ("Turnover (ann.)", |m| num(m.annual_turnover)),
    ("Time in market", |m| pct(m.time_in_market)),
    ("Avg gross exposure", |m| pct(m.avg_gross_exposure)),
    ("Fills", |m| m.fills.to_string()),
    ("Total costs", |m| money(m.total_costs)),
    ("Final equity", |m| money(m.final_equity)),
];

/// Renders who earned what: the book's P&L split among the analysts.
pub fn render_pnl(att: &crate::report::attribution::PnlAttribution) -> String {
    let mut out = format!(
        "who earned what (the book's P&L {:.2}, split by each analyst's signed contribution to the decisions)\n",
        att.total_pnl
    );
    for a in &att.agents {
        out.push_str(&format!(
            "  {:<12} P&L {:>10.2}  costs {:>9.2}  votes {:>7}  mean confidence {:>5.2}  mean weight {:>5.3}\n",
            a.agent, a.pnl, a.costs, a.votes, a.mean_confidence, a.mean_weight
        ));
    }
    out.push_str(&format!("  {:<12} P&L {:>10.2}\n", "unattributed", att.unattributed));
    if att.agents.iter().any(|a| !a.hit_rate_by_horizon.is_empty()) {
        out.push_str("\nhit rate of every vote by horizon (bars later; overlapping votes, so descriptive)\n");
        for a in &att.agents {
            let cells: Vec<String> =
                a.hit_rate_by_horizon.iter().map(|h| format!("{:>3}: {:>6}", h.horizon, opt_pct(h.hit_rate))).collect();
            out.push_str(&format!("  {:<12} {}\n", a.agent, cells.join("  ")));
        }
    }
    out
}

/// Renders Shapley and leave-one-out values.
pub fn render_shapley(sh: &crate::report::shapley::ShapleyReport) -> String {
    let mut out = format!(
        "Shapley values ({} mode, all {} coalitions; they sum to v(all) − v(none) = {:+.3}% total return)\n",
        sh.mode,
        1u64 << sh.agents.len(),
        sh.total_return_all * 100.0
    );
    for a in &sh.agents {
        out.push_str(&format!(
            "  {:<12} total return {:>+8.3}%  Sharpe {:>+7.2}  costs {:>9.2}   leave-one-out: {:>+8.3}%  {:>+7.2}  {:>9.2}\n",
            a.agent,
            a.total_return * 100.0,
            a.sharpe,
            a.total_costs,
            a.loo_total_return * 100.0,
            a.loo_sharpe,
            a.loo_total_costs
        ));
    }
    out
}

fn opt_pct(x: Option<f64>) -> String {
    x.map_or("n/a".into(), |v| format!("{:.1}%", v * 100.0))
}

/// Renders whether the remembered win rates and the recalled evidence predicted outcomes.
pub fn render_learning(learning: &[crate::engine::graph::AnalystCalibration]) -> String {
    let mut out =
        "does the remembered win rate predict the next outcome? (correlation with win = 1, loss = 0)\n".to_string();
    for l in learning {
        out.push_str(&format!(
            "  {:<12} judged {:>6} (flat {:>5})  hit rate {:>6}  mean win rate at vote {:>6}  correlation {}  Brier {}\n",
            l.agent,
            l.resolved,
            l.flat,
            opt_pct(l.hit_rate),
            opt_pct(l.mean_win_rate),
            l.win_rate_outcome_corr.map_or("n/a".into(), |v| format!("{v:+.3}")),
            l.brier.map_or("n/a".into(), |b| format!("{b:.3}"))
        ));
    }
    out.push_str(
        "\ndoes the memory's evidence help? (hit rate of judged votes whose recalled outcomes won = agree, lost = disagree)\n",
    );
    for l in learning {
        let parts: Vec<String> =
            l.evidence.iter().map(|s| format!("{} {:>6} of {:>5}", s.stance, opt_pct(s.hit_rate), s.judged)).collect();
        out.push_str(&format!("  {:<12} {}\n", l.agent, parts.join("  ")));
        out.push_str(&format!(
            "  {:<12} recalled per vote: wins {}  losses {}\n",
            "",
            per_vote(&l.memory_of_wins),
            per_vote(&l.memory_of_losses)
        ));
    }
    out
}

/// "outcome 2.80 · short 2.10 mid 0.70": memories recalled per vote, by kind then layer.
fn per_vote(m: &crate::engine::graph::MemoryUsed) -> String {
    let part = |counts: &std::collections::BTreeMap<String, u64>| -> Vec<String> {
        let mut k: Vec<(&String, &u64)> = counts.iter().filter(|(_, c)| **c > 0).collect();
        k.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        k.iter().map(|(n, c)| format!("{n} {:.2}", **c as f64 / m.votes.max(1) as f64)).collect()
    };
    let (kinds, layers) = (part(&m.kinds), part(&m.layers));
    if kinds.is_empty() { "nothing".into() } else { format!("{} · {}", kinds.join(" "), layers.join(" ")) }
}

/// Renders `attribution.json` (for `quorum attribution`).
pub fn render_attribution(file: &crate::report::attribution::AttributionFile) -> String {
    let mut out = render_pnl(&file.pnl);
    for sh in [&file.shapley, &file.shapley_full].into_iter().flatten() {
        out.push('\n');
        out.push_str(&render_shapley(sh));
    }
    if !file.learning.is_empty() {
        out.push('\n');
        out.push_str(&render_learning(&file.learning));
    }
    out
}

/// Renders the summary table as text.
pub fn render(summary: &RunSummary) -> String {
    let d = &summary.data;
    let ppy = summary.annualisation.periods_per_year;
    let ppy = if (ppy - ppy.round()).abs() < 1e-9 { format!("{ppy:.0}") } else { format!("{ppy:.1}") };
    let mut out = format!(
        "{} bars of {} ({}), {} .. {}, session {}, {} periods/year\n",
        d.bars,
        d.symbols.join(","),
        d.interval,
        d.first,
        d.last,
        d.session,
        ppy
    );
    if let Some(w) = &summary.warmup_until {
        out.push_str(&format!("warm-up until {w}: the memory learns before it, nothing trades; metrics start there\n"));
    }
    if let Some(f) = &d.factor_files {
        out.push_str(&format!("factor files: {f}\n"));
    }
    for a in &d.adjustments {
        out.push_str(&format!("adjusted: {a}\n"));
    }
    for w in &d.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    if !d.skipped.is_empty() {
        let s: Vec<String> = d.skipped.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&format!("skipped rows: {}\n", s.join(", ")));
    }
    let names: Vec<&str> = summary.strategies.iter().map(|s| s.name.as_str()).collect();
    let w0 = ROWS.iter().map(|r| r.0.len()).max().unwrap_or(10) + 2;
    let cols: Vec<Vec<String>> =
        summary.strategies.iter().map(|s| ROWS.iter().map(|r| (r.1)(&s.metrics)).collect()).collect();
    let widths: Vec<usize> =
        names.iter().zip(&cols).map(|(n, c)| c.iter().map(|x| x.len()).max().unwrap_or(0).max(n.len()) + 2).collect();
    out.push_str(&format!("{:<w0$}", "metric"));
    for (n, w) in names.iter().zip(&widths) {
        out.push_str(&format!("{n:>w$}"));
    }
    out.push('\n');
    out.push_str(&"-".repeat(w0 + widths.iter().sum::<usize>()));
    out.push('\n');
    for (i, r) in ROWS.iter().enumerate() {
        out.push_str(&format!("{:<w0$}", r.0));
        for (c, w) in cols.iter().zip(&widths) {
            out.push_str(&format!("{:>w$}", c[i]));
        }
        out.push('\n');
    }
    if let Some(att) = &summary.attribution {
        out.push('\n');
        out.push_str(&render_pnl(att));
    }
    for sh in [&summary.shapley, &summary.shapley_full].into_iter().flatten() {
        out.push('\n');
        out.push_str(&render_shapley(sh));
    }
    if !summary.learning.is_empty() {
        out.push('\n');
        out.push_str(&render_learning(&summary.learning));
    }
    out
}
