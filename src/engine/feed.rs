//! Feeds: where the engine's steps of closed bars come from.
//!
//! A [`Feed`] owns (or borrows) a growing [`Bars`] and hands the engine one step at a time:
//! the rows of every bar that starts at the step's time, all closed. The engine reads the
//! rows from [`Feed::bars`], so a historical feed costs nothing over walking the frame
//! directly ([`HistoricalFeed`]: the loaded polars-built columns, borrowed), while a
//! replay or live feed appends each step's bars as they arrive.

use std::convert::Infallible;
use std::ops::Range;

use crate::market::Bars;

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
        let ts = &self.bars.ts;
        let start = self.next;
        let Some(&t) = ts.get(start) else { return Ok(None) };
        let mut end = start + 1;
        while end < ts.len() && ts[end] == t {
            end += 1;
        }
        self.next = end;
        Ok(Some(start..end))
    }

    fn bars(&self) -> &Bars {
        self.bars
    }

    fn len_hint(&self) -> Option<usize> {
        Some(self.bars.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
