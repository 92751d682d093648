//! Feeds: where the engine's steps of closed bars come from.
//!
//! A [`Feed`] owns (or borrows) a growing [`Bars`] and hands the engine one step at a time:
//! the rows of every bar that starts at the step's time, all closed. The engine reads the
//! rows from [`Feed::bars`], so a historical feed costs nothing over walking the frame
//! directly ([`HistoricalFeed`]: the loaded polars-built columns, borrowed), while a
//! replay or live feed appends each step's bars as they arrive ([`ReplayFeed`]: a loaded
//! file handed out one step at a time, at `speed`× wall time or as fast as possible).

use std::convert::Infallible;
use std::ops::Range;

use super::clock::Clock;
use crate::market::{Bars, ExtraColumn, Ts};

/// A source of steps of closed bars.
pub trait Feed {
    /// Why the feed could not go on.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The next step: the rows of [`Feed::bars`] that hold its bars (one timestamp, in
    /// symbol order), or `None` at the end of the feed.
    fn next_step(&mut self) -> Result<Option<Range<usize>>, Self::Error>;

    /// Every bar handed out so far (and, for a historical feed, the rest too). Symbols,
    /// asset data and applied splits are known from the start.
    fn bars(&self) -> &Bars;

    /// Bars the whole feed will hand out, when known (for progress and buffer sizing).
    fn len_hint(&self) -> Option<usize>;
}

/// The bars of a loaded file or folder, step by step.
#[derive(Debug)]
pub struct HistoricalFeed<'a> {
    bars: &'a Bars,
    next: usize,
}

impl<'a> HistoricalFeed<'a> {
    /// A feed over `bars` from the first step.
    pub fn new(bars: &'a Bars) -> Self {
        HistoricalFeed { bars, next: 0 }
    }
}

impl Feed for HistoricalFeed<'_> {
    type Error = Infallible;

    #[inline(always)]
    fn next_step(&mut self) -> Result<Option<Range<usize>>, Infallible> {
        let step = step_at(&self.bars.ts, self.next);
        if let Some(r) = &step {
            self.next = r.end;
        }
        Ok(step)
    }

    fn bars(&self) -> &Bars {
        self.bars
    }

    fn len_hint(&self) -> Option<usize> {
        Some(self.bars.len())
    }
}

/// The next step of `ts` from row `start`: the rows sharing its timestamp.
#[inline(always)]
fn step_at(ts: &[Ts], start: usize) -> Option<Range<usize>> {
    let t = *ts.get(start)?;
    let mut end = start + 1;
    while end < ts.len() && ts[end] == t {
        end += 1;
    }
    Some(start..end)
}

/// A loaded file played step by step as a live feed would hand it over: each step's bars
/// are copied into a growing table when their interval has closed — at `speed`× wall time
/// (`Some(60.0)`: a minute of bars a second), or as fast as possible (`None`). The bars,
/// symbols, extra columns and split schedule are the file's, so the engine sees exactly
/// what a backtest of the same file sees. Gaps (nights, weekends) pass at the same speed:
/// a night of a minute file is 17.5 minutes at 60×.
#[derive(Debug)]
pub struct ReplayFeed<C: Clock> {
    source: Bars,
    bars: Bars,
    next: usize,
    interval: i64,
    speed: Option<f64>,
    clock: C,
    /// (wall time, event time) of the first step's close: the pacing's origin.
    anchor: Option<(Ts, Ts)>,
}

impl<C: Clock> ReplayFeed<C> {
    /// A replay of `source` (bars of `interval` ns) paced by `clock` at `speed`.
    pub fn new(source: Bars, interval: i64, speed: Option<f64>, clock: C) -> Self {
        let bars = Bars {
            symbols: source.symbols.clone(),
            extra: source.extra.iter().map(|c| ExtraColumn { name: c.name.clone(), values: Vec::new() }).collect(),
            splits: source.splits.clone(),
            ..Default::default()
        };
        ReplayFeed { source, bars, next: 0, interval, speed: speed.filter(|s| *s > 0.0), clock, anchor: None }
    }

    /// Paces the steps from the next one on at `speed` (`None`: as fast as possible), from
    /// the next step's close: a restarted paper run replays its journaled steps at once,
    /// then plays the rest of the file at the speed asked.
    pub fn set_speed(&mut self, speed: Option<f64>) {
        self.speed = speed.filter(|s| *s > 0.0);
        self.anchor = None;
    }

    /// The clock pacing the replay.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// How far the wall clock is past the close of the latest step handed out, in ns (0
    /// before the first step, or when replaying as fast as possible).
    pub fn lag(&self) -> i64 {
        match (self.anchor, self.speed, self.bars.ts.last()) {
            (Some((wall, event)), Some(speed), Some(&last)) => {
                let due = wall + ((last + self.interval - event) as f64 / speed) as i64;
                (self.clock.now() - due).max(0)
            }
            _ => 0,
        }
    }
}

impl<C: Clock> Feed for ReplayFeed<C> {
    type Error = Infallible;

    fn next_step(&mut self) -> Result<Option<Range<usize>>, Infallible> {
        let Some(src) = step_at(&self.source.ts, self.next) else { return Ok(None) };
        self.next = src.end;
        if let Some(speed) = self.speed {
            let close = self.source.ts[src.start] + self.interval;
            let (wall, event) = *self.anchor.get_or_insert((self.clock.now(), close));
            self.clock.sleep_until(wall + ((close - event) as f64 / speed) as i64);
        }
        let start = self.bars.len();
        for i in src {
            self.bars.push(self.source.bar(i)); // pads the extra columns with NaN
            for (to, from) in self.bars.extra.iter_mut().zip(&self.source.extra) {
                if let (Some(slot), Some(&v)) = (to.values.last_mut(), from.values.get(i)) {
                    *slot = v;
                }
            }
        }
        Ok(Some(start..self.bars.len()))
    }

    fn bars(&self) -> &Bars {
        &self.bars
    }

    fn len_hint(&self) -> Option<usize> {
        Some(self.source.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::clock::ManualClock;
    use crate::market::Bar;

    /// The historical feed hands out exactly `Bars::steps`.
    #[test]
    fn test_historical_feed_is_bars_steps() {
        let mut bars = Bars { symbols: vec!["A".into(), "B".into()], ..Default::default() };
        for (ts, s) in [(0, 0), (0, 1), (1, 1), (2, 0), (2, 1)] {
            bars.push(Bar { ts, symbol: s, open: 1.0, high: 1.0, low: 1.0, close: 1.0, volume: 1.0 });
        }
        let mut feed = HistoricalFeed::new(&bars);
        let mut got = Vec::new();
        while let Ok(Some(r)) = feed.next_step() {
            got.push(r);
        }
        assert_eq!(got, bars.steps().collect::<Vec<_>>());
        assert_eq!(feed.len_hint(), Some(5));
    }

    fn two_symbols() -> Bars {
        let mut bars = Bars { symbols: vec!["A".into(), "B".into()], ..Default::default() };
        bars.extra.push(ExtraColumn { name: "x".into(), values: Vec::new() });
        for (k, (ts, s)) in [(0, 0), (0, 1), (60, 1), (120, 0), (120, 1)].into_iter().enumerate() {
            let c = 10.0 + k as f64;
            bars.push(Bar { ts, symbol: s, open: c, high: c, low: c, close: c, volume: 1.0 });
            *bars.extra[0].values.last_mut().unwrap() = k as f64;
        }
        bars
    }

    /// A replay hands out the same steps as the historical feed, builds up the same table
    /// (extra columns included), and at speed 60 waits a second of wall time per minute of
    /// bars, from the first step's close.
    #[test]
    fn test_replay_feed_is_the_file_step_by_step_and_paced() {
        let source = two_symbols();
        let clock = ManualClock::at(1_000);
        let mut replay = ReplayFeed::new(source.clone(), 60, Some(60.0), &clock);
        let mut hist = HistoricalFeed::new(&source);
        let mut walls = Vec::new();
        while let Ok(Some(r)) = replay.next_step() {
            assert_eq!(Ok(Some(r.clone())), hist.next_step());
            walls.push(clock.now());
            assert_eq!(replay.lag(), 0);
        }
        assert_eq!(replay.bars(), &source, "the same table, row for row");
        // Steps close at 60, 120, 180 (event ns); 60× speed: 0, 1, 2 wall ns after the first.
        assert_eq!(walls, vec![1_000, 1_001, 1_002]);
        clock.advance(50);
        assert_eq!(replay.lag(), 50, "the wall clock ran past the last close");
        let mut fast = ReplayFeed::new(source, 60, None, &clock);
        while let Ok(Some(_)) = fast.next_step() {}
        assert_eq!(clock.now(), 1_052, "as fast as possible never waits");
    }
}
