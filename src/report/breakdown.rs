//! Breakdowns: where each analyst and the composed book were right and earned, by symbol,
//! by Markov regime, by time of day and by day (`breakdown.parquet`, the report's heatmaps).
//!
//! One row per (who, dimension, bucket), for every bucket the run's bars reached:
//!
//! - **who**: an analyst, or the book under test (its strategy name, e.g. `composed`);
//! - **dimension** and **bucket**: `symbol` (the symbol); `regime` (the six trend ×
//!   volatility states of the Markov analyst, computed for every bar with its default
//!   parameters whether or not it is in the roster, or `warming up`); `time_of_day` (the
//!   30-minute bucket of the New York clock the bar *starts* in — `09:30` … `15:30` for
//!   minute bars, `09:00` … `15:00` for hourly bars, whose first bar starts at 09:00 — or
//!   for crypto the UTC hour, `14:00Z`); `day` (the session date: New York for equities,
//!   UTC for crypto). The first bucket of a session also holds the overnight gap.
//!
//! Everything the run did is counted, a warm-up included (`graph.warmup_until`): the
//! analysts vote and are judged then, while the book trades nothing.
//!
//! For an analyst, `votes` counts its non-zero votes in the bucket (at the vote's bar),
//! `judged` and `hits` its votes judged by the learning loop and the winners among them
//! (flat outcomes are left out, as in the hit rate; bucketed at the vote's bar, so "by
//! regime" is the regime the analyst voted in), and `pnl` / `costs` the P&L and costs
//! attribution credited it (`attribution`'s rule; bucketed at the bar where the P&L
//! accrued). For the book, `votes` counts its fills, `judged` the bars it held a position
//! over that moved (a bar with no price change is left out, as flat outcomes are for the
//! analysts) and `hits` those whose holding P&L was positive, and `pnl` / `costs` are its
//! own.
//! Over any dimension the analysts' `pnl` plus the unattributed residual sum to the book's.

use rustc_hash::FxHashMap;

use crate::agents::kinds::markov::REGIMES;
use crate::market::session::{AssetClass, NyClock, day_to_date, session_day};
use crate::market::time::{NS_PER_DAY, NS_PER_MIN};
use crate::market::{Bars, SymbolId, Ts};
use crate::report::attribution::walk;
use crate::run::{RunResult, VoteLog};

/// A vote the learning loop judged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judged {
    /// The analyst, roster index.
    pub agent: usize,
    /// The symbol voted on.
    pub symbol: SymbolId,
    /// The vote's step.
    pub vote_ts: Ts,
    /// `sign(direction) × return` over the horizon: > 0 won, < 0 lost, 0 flat.
    pub outcome: f64,
}

/// One row of `breakdown.parquet`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BreakdownRow {
    /// Analyst name or the book's strategy name.
    pub who: String,
    /// `symbol`, `regime`, `time_of_day` or `day`.
    pub dimension: &'static str,
    /// The bucket's label.
    pub bucket: String,
    /// Non-zero votes (analysts) or fills (the book).
    pub votes: u64,
    /// Judged votes (analysts) or bars held (the book).
    pub judged: u64,
    /// Of them, the winners (analysts) or bars with positive holding P&L (the book).
    pub hits: u64,
    /// `hits / judged`, None when nothing was judged.
    pub hit_rate: Option<f64>,
    /// P&L in currency, costs included.
    pub pnl: f64,
    /// Commission and slippage in currency.
    pub costs: f64,
}

/// The dimensions, in output order.
pub const DIMENSIONS: [&str; 4] = ["symbol", "regime", "time_of_day", "day"];

/// The bucket of every bar in each dimension, and the buckets' labels.
struct Buckets {
    /// Per row: bucket index in each dimension.
    of_row: Vec<[u32; 4]>,
    /// Per dimension: labels by bucket index.
    labels: [Vec<String>; 4],
}

const TOD_CRYPTO: u32 = 48;

fn buckets(bars: &Bars, classes: &[AssetClass], regimes: &[u8]) -> Buckets {
    let mut clock = NyClock::new();
    let class = |s: usize| classes.get(s).copied().unwrap_or(AssetClass::Equity);
    let mut days: std::collections::BTreeMap<i64, u32> = std::collections::BTreeMap::new();
    let mut raw = Vec::with_capacity(bars.len());
    for i in 0..bars.len() {
        let (s, ts) = (bars.sym[i] as usize, bars.ts[i]);
        let c = class(s);
        let tod = match c {
            AssetClass::Equity => (clock.local(ts).rem_euclid(NS_PER_DAY) / (30 * NS_PER_MIN)) as u32,
            AssetClass::Crypto => TOD_CRYPTO + (ts.rem_euclid(NS_PER_DAY) / (60 * NS_PER_MIN)) as u32,
        };
        let day = session_day(&mut clock, c, ts);
        days.insert(day, 0);
        let regime = regimes.get(i).copied().map_or(REGIMES.len() as u32, |r| u32::from(r).min(REGIMES.len() as u32));
        raw.push(([s as u32, regime, tod], day));
    }
    for (k, v) in days.values_mut().enumerate() {
        *v = k as u32;
    }
    let of_row = raw.iter().map(|&([s, r, t], day)| [s, r, t, days[&day]]).collect();
    let tod_label = |b: u32| {
        if b >= TOD_CRYPTO { format!("{:02}:00Z", b - TOD_CRYPTO) } else { format!("{:02}:{:02}", b / 2, (b % 2) * 30) }
    };
    Buckets {
        of_row,
        labels: [
            bars.symbols.clone(),
            REGIMES.iter().map(|s| s.to_string()).chain(["warming up".to_string()]).collect(),
            (0..TOD_CRYPTO + 24).map(tod_label).collect(),
            days.keys().map(|&d| day_to_date(d).to_string()).collect(),
        ],
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    votes: u64,
    judged: u64,
    hits: u64,
    pnl: f64,
    costs: f64,
}

/// The breakdown rows of a graph run (module docs): `run` is the book under test,
/// `trading_weights[k]` the weights it traded with at step k, `regimes` the Markov state
/// of every bar in row order (`u8::MAX` warming up), `judged` the learning loop's verdicts.
#[allow(clippy::too_many_arguments)]
pub fn breakdown(
    bars: &Bars,
    classes: &[AssetClass],
    run: &RunResult,
    votes: &VoteLog,
    trading_weights: &[Vec<f64>],
    agents: &[String],
    regimes: &[u8],
    judged: &[Judged],
) -> Vec<BreakdownRow> {
    let n = agents.len();
    let b = buckets(bars, classes, regimes);
    let sizes: Vec<usize> = b.labels.iter().map(Vec::len).collect();
    // acc[who][dim][bucket]; who n is the book.
    let mut acc: Vec<Vec<Vec<Acc>>> =
        (0..=n).map(|_| sizes.iter().map(|&s| vec![Acc::default(); s]).collect()).collect();
    let mut seen: Vec<Vec<bool>> = sizes.iter().map(|&s| vec![false; s]).collect();
    let mut add = |who: usize, row: usize, f: &dyn Fn(&mut Acc)| {
        for (d, &k) in b.of_row[row].iter().enumerate() {
            f(&mut acc[who][d][k as usize]);
        }
    };
    for row in &b.of_row {
        for (d, &k) in row.iter().enumerate() {
            seen[d][k as usize] = true;
        }
    }
    // Votes at their bar: step k of the log is the k-th step of the bars.
    let mut row_of: FxHashMap<(Ts, SymbolId), usize> = FxHashMap::default();
    for (k, range) in bars.steps().enumerate() {
        for i in range {
            row_of.insert((bars.ts[i], bars.sym[i]), i);
        }
        for v in votes.step(k).iter().filter(|v| v.direction != 0.0 && v.agent < n) {
            if let Some(&row) = row_of.get(&(v.ts, v.symbol)) {
                add(v.agent, row, &|a| a.votes += 1);
            }
        }
    }
    for j in judged.iter().filter(|j| j.outcome != 0.0 && j.agent < n) {
        if let Some(&row) = row_of.get(&(j.vote_ts, j.symbol)) {
            let win = u64::from(j.outcome > 0.0);
            add(j.agent, row, &|a| {
                a.judged += 1;
                a.hits += win;
            });
        }
    }
    walk(bars, run, votes, trading_weights, n, |part| {
        let (pnl, costs) = (part.pnl, part.costs);
        if let Some(sh) = part.shares {
            for (a, s) in sh.iter().enumerate() {
                add(a, part.row, &|x| {
                    x.pnl += pnl * s;
                    x.costs += costs * s;
                });
            }
        }
        let holding = part.holding;
        add(n, part.row, &|x| {
            x.pnl += pnl;
            x.costs += costs;
            if holding {
                if pnl != 0.0 {
                    x.judged += 1;
                    x.hits += u64::from(pnl > 0.0);
                }
            } else {
                x.votes += 1;
            }
        });
    });
    let mut rows = Vec::new();
    for (who, dims) in acc.iter().enumerate() {
        let name = agents.get(who).cloned().unwrap_or_else(|| run.strategy.clone());
        for (d, cells) in dims.iter().enumerate() {
            for (k, a) in cells.iter().enumerate().filter(|(k, _)| seen[d][*k]) {
                rows.push(BreakdownRow {
                    who: name.clone(),
                    dimension: DIMENSIONS[d],
                    bucket: b.labels[d][k].clone(),
                    votes: a.votes,
                    judged: a.judged,
                    hits: a.hits,
                    hit_rate: (a.judged > 0).then(|| a.hits as f64 / a.judged as f64),
                    pnl: a.pnl,
                    costs: a.costs,
                });
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::Vote;
    use crate::market::Bar;
    use crate::portfolio::Fill;
    use crate::run::EquityCurve;

    const MIN: i64 = NS_PER_MIN;
    /// 2013-10-07 13:30 UTC = 09:30 New York (EDT).
    const OPEN: i64 = 1_381_152_600 * 1_000_000_000;

    fn vote(ts: Ts, agent: usize, direction: f64) -> Vote {
        Vote::new(ts, 0, agent, direction, 1.0)
    }

    /// Three 1-minute bars from 09:30 and one at 10:00: hedge long, wyckoff against; a buy
    /// of 10 at 100 (commission 1), closes 100 → 103 → 103 → 101. Hand-computed: the book
    /// earns 29 in the 09:30 bucket and −20 at 10:00; hedge is credited 4/3 of each part.
    #[test]
    fn test_breakdown_hand_computed_buckets_and_sums() {
        let mut bars = Bars { symbols: vec!["X".into()], ..Default::default() };
        let times = [OPEN, OPEN + MIN, OPEN + 2 * MIN, OPEN + 30 * MIN];
        for (t, c) in times.iter().zip([100.0, 103.0, 103.0, 101.0]) {
            bars.push(Bar { ts: *t, symbol: 0, open: 100.0, high: c, low: 100.0, close: c, volume: 1e6 });
        }
        let mut votes = VoteLog::default();
        votes.push_step(times[0], &[vote(times[0], 0, 0.8), vote(times[0], 1, -0.2)]);
        for &t in &times[1..] {
            votes.push_step(t, &[]);
        }
        let fill = Fill {
            ts: times[1],
            decided_at: times[0],
            symbol: 0,
            qty: 10.0,
            price: 100.0,
            commission: 1.0,
            slippage: 0.5,
        };
        let equity = EquityCurve { ts: times.to_vec(), ..Default::default() };
        let run = RunResult {
            strategy: "composed".into(),
            initial_cash: 1000.0,
            equity,
            fills: vec![fill],
            ..Default::default()
        };
        let w = vec![vec![0.5, 0.5]; 4];
        let agents = ["hedge".to_string(), "wyckoff".to_string()];
        let judged = [
            Judged { agent: 0, symbol: 0, vote_ts: times[0], outcome: 0.01 },
            Judged { agent: 1, symbol: 0, vote_ts: times[0], outcome: -0.01 },
        ];
        let regimes = [u8::MAX, 1, 1, 5];
        let rows = breakdown(&bars, &[AssetClass::Equity], &run, &votes, &w, &agents, &regimes, &judged);
        let get = |who: &str, dim: &str, bucket: &str| {
            rows.iter().find(|r| r.who == who && r.dimension == dim && r.bucket == bucket).cloned()
        };
        let book = get("composed", "time_of_day", "09:30").unwrap();
        assert_eq!((book.votes, book.judged, book.hits), (1, 0, 0), "a held bar with no move is not judged: {book:?}");
        assert!((book.pnl - 29.0).abs() < 1e-9 && (book.costs - 1.5).abs() < 1e-12);
        let late = get("composed", "time_of_day", "10:00").unwrap();
        assert_eq!((late.judged, late.hits), (1, 0));
        assert!((late.pnl + 20.0).abs() < 1e-9);
        let hedge = get("hedge", "time_of_day", "09:30").unwrap();
        assert!((hedge.pnl - 29.0 * 4.0 / 3.0).abs() < 1e-9);
        assert_eq!((hedge.votes, hedge.judged, hedge.hits, hedge.hit_rate), (1, 1, 1, Some(1.0)));
        let wy = get("wyckoff", "regime", "warming up").unwrap();
        assert_eq!((wy.votes, wy.judged, wy.hits), (1, 1, 0));
        assert!(get("hedge", "regime", "volatile uptrend").is_some());
        assert!(get("hedge", "regime", "calm uptrend").is_none(), "buckets no bar reached are left out");
        assert_eq!(get("hedge", "day", "2013-10-07").unwrap().votes, 1);
        // Every dimension sums to the book's P&L (nothing is unattributed here).
        for dim in DIMENSIONS {
            let agents: f64 = rows.iter().filter(|r| r.dimension == dim && r.who != "composed").map(|r| r.pnl).sum();
            let book: f64 = rows.iter().filter(|r| r.dimension == dim && r.who == "composed").map(|r| r.pnl).sum();
            assert!((agents - 9.0).abs() < 1e-9 && (book - 9.0).abs() < 1e-9, "{dim}: {agents} {book}");
        }
    }

    #[test]
    fn test_crypto_buckets_are_utc_hours() {
        let mut bars = Bars { symbols: vec!["BTCUSDT".into()], ..Default::default() };
        bars.push(Bar { ts: OPEN, symbol: 0, open: 1.0, high: 1.0, low: 1.0, close: 1.0, volume: 1.0 });
        let b = buckets(&bars, &[AssetClass::Crypto], &[0]);
        assert_eq!(b.labels[2][b.of_row[0][2] as usize], "13:00Z");
        assert_eq!(b.labels[3][b.of_row[0][3] as usize], "2013-10-07");
    }
}
