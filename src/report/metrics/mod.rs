//! Performance metrics, one per file, each with its formula and reference in its docs.
//! Every run reports them for its strategy and for buy-and-hold on the same bars.

pub mod activity;
pub mod annualise;
pub mod calmar;
pub mod drawdown;
pub mod returns;
pub mod sharpe;
pub mod sortino;
pub mod trades;

pub use annualise::Annualisation;

use serde::Serialize;

use crate::report::json::finite;
use crate::run::RunResult;

/// The metrics of one run. Ratios are fractions (0.05 = 5%); undefined values are NaN in
/// memory and `null` in JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Final equity / starting equity − 1, as a fraction.
    #[serde(serialize_with = "finite")]
    pub total_return: f64,
    /// Compound annual growth: (E_n / E_0)^(1 / years) − 1 (−1 if wiped out).
    #[serde(serialize_with = "finite")]
    pub cagr: f64,
    /// Annualised volatility: sample stdev of period returns · √periods_per_year.
    #[serde(serialize_with = "finite")]
    pub volatility: f64,
    /// Annualised Sharpe: mean excess period return / its stdev · √periods_per_year.
    #[serde(serialize_with = "finite")]
    pub sharpe: f64,
    /// Annualised Sortino: mean excess return / downside deviation · √periods_per_year.
    #[serde(serialize_with = "finite")]
    pub sortino: f64,
    /// Largest peak-to-trough loss as a fraction of the peak (0.12 = 12%).
    #[serde(serialize_with = "finite")]
    pub max_drawdown: f64,
    /// Longest time under water, in equity marks (steps).
    pub max_drawdown_bars: usize,
    /// Longest time under water, in calendar days.
    #[serde(serialize_with = "finite")]
    pub max_drawdown_days: f64,
    /// Calmar: CAGR / max drawdown (NaN without a drawdown).
    #[serde(serialize_with = "finite")]
    pub calmar: f64,
    /// Share of round trips with P&L > 0, in [0, 1].
    #[serde(serialize_with = "finite")]
    pub win_rate: f64,
    /// Gross profit / gross loss over round trips (NaN without a losing trade).
    #[serde(serialize_with = "finite")]
    pub profit_factor: f64,
    /// Mean round-trip P&L net of commissions, in currency.
    #[serde(serialize_with = "finite")]
    pub avg_trade: f64,
    /// Mean round-trip return: P&L over peak entry notional.
    #[serde(serialize_with = "finite")]
    pub avg_trade_return: f64,
    /// Traded notional / mean equity over the whole span.
    #[serde(serialize_with = "finite")]
    pub turnover: f64,
    /// Turnover per year: turnover / years.
    #[serde(serialize_with = "finite")]
    pub annual_turnover: f64,
    /// Share of equity marks with any position, in [0, 1].
    #[serde(serialize_with = "finite")]
    pub time_in_market: f64,
    /// Mean gross exposure Σ|position × mark| / equity, as a fraction of equity.
    #[serde(serialize_with = "finite")]
    pub avg_gross_exposure: f64,
    /// Round trips, including any still open at the end (marked at the last close).
    pub trades: usize,
    /// Executions.
    pub fills: usize,
    /// Total commission paid, in currency.
    #[serde(serialize_with = "finite")]
    pub commission: f64,
    /// Total slippage cost, in currency.
    #[serde(serialize_with = "finite")]
    pub slippage: f64,
    /// Commission + slippage, in currency.
    #[serde(serialize_with = "finite")]
    pub total_costs: f64,
    /// Equity at the last mark, in currency.
    #[serde(serialize_with = "finite")]
    pub final_equity: f64,
    /// Number of period returns (equity marks − 1).
    pub periods: usize,
    /// Years spanned: periods / periods_per_year.
    #[serde(serialize_with = "finite")]
    pub years: f64,
}

/// Computes every metric of a run.
pub fn compute(run: &RunResult, a: &Annualisation, risk_free: f64) -> Metrics {
    let eq = &run.equity;
    let rets = returns::period_returns(&eq.equity);
    let total = returns::total_return(run.initial_cash, &eq.equity);
    let years = returns::years(rets.len(), a);
    let cagr = returns::cagr(total, years);
    let dd = drawdown::drawdown(run.initial_cash, &eq.ts, &eq.equity);
    let ts = trades::trade_stats(&run.trades);
    let act = activity::activity(&run.fills, &eq.equity, &eq.gross, years);
    Metrics {
        total_return: total,
        cagr,
        volatility: returns::volatility(&rets, a),
        sharpe: sharpe::sharpe(&rets, risk_free, a),
        sortino: sortino::sortino(&rets, risk_free, a),
        max_drawdown: dd.max,
        max_drawdown_bars: dd.duration_bars,
        max_drawdown_days: dd.duration_days,
        calmar: calmar::calmar(cagr, dd.max),
        win_rate: ts.win_rate,
        profit_factor: ts.profit_factor,
        avg_trade: ts.avg_trade,
        avg_trade_return: ts.avg_trade_return,
        turnover: act.turnover,
        annual_turnover: act.annual_turnover,
        time_in_market: act.time_in_market,
        avg_gross_exposure: act.avg_gross_exposure,
        trades: ts.trades,
        fills: run.fills.len(),
        commission: act.commission,
        slippage: act.slippage,
        total_costs: act.commission + act.slippage,
        final_equity: eq.equity.last().copied().unwrap_or(run.initial_cash),
        periods: rets.len(),
        years,
    }
}
