//! The feed of a paper run that may be resuming: the journaled steps first, with their bars
//! **as journaled**, then the live feed's steps after the last journaled one.
//!
//! A resumed run recomputes what it did from what it saw, not from what the source says now:
//! a replayed file edited since, or a vendor's late correction of a bar already used, is
//! logged and counted ([`ResumeFeed::corrections`]), never applied retroactively. The inner
//! feed is walked alongside the journaled steps (unpaced) so it resumes right after them.

use std::ops::Range;

use super::PaperError;
use crate::engine::feed::Feed;
use crate::market::time::format_ts;
use crate::market::{Bar, Bars, ExtraColumn, Ts};

/// One journaled step: its time and its bars' JSON (`journal::StepRow::bars`).
pub type JournaledBars = (Ts, String);

/// See the module docs.
#[derive(Debug)]
pub struct ResumeFeed<F: Feed> {
    inner: F,
    journaled: Vec<JournaledBars>,
    next: usize,
    bars: Bars,
    corrections: Vec<String>,
    /// An inner step read ahead while matching the journal, not yet handed out.
    peeked: Option<Range<usize>>,
}

/// A step's bars as journaled: symbol, `[open, high, low, close, volume]`, extra values.
type Row = (u32, [f64; 5], Vec<Option<f64>>);

impl<F: Feed> ResumeFeed<F> {
    /// A feed that hands out `journaled` first, then `inner` after it.
    pub fn new(inner: F, journaled: Vec<JournaledBars>) -> Self {
        let src = inner.bars();
        let bars = Bars {
            symbols: src.symbols.clone(),
            extra: src.extra.iter().map(|c| ExtraColumn { name: c.name.clone(), values: Vec::new() }).collect(),
            splits: src.splits.clone(),
            ..Default::default()
        };
        ResumeFeed { inner, journaled, next: 0, bars, corrections: Vec::new(), peeked: None }
    }

    /// The inner (live) feed.
    pub fn inner(&self) -> &F {
        &self.inner
    }

    /// The inner feed, to change its pacing.
    pub fn inner_mut(&mut self) -> &mut F {
        &mut self.inner
    }

    /// Bars of journaled steps the source now gives differently (or not at all), in words.
    pub fn corrections(&self) -> &[String] {
        &self.corrections
    }

    /// Journaled steps still to hand out.
    pub fn replaying(&self) -> bool {
        self.next < self.journaled.len()
    }

    fn push_rows(&mut self, ts: Ts, rows: &[Row]) -> Range<usize> {
        let start = self.bars.len();
        for (symbol, [open, high, low, close, volume], extra) in rows {
            self.bars.push(Bar {
                ts,
                symbol: *symbol,
                open: *open,
                high: *high,
                low: *low,
                close: *close,
                volume: *volume,
            });
            for (col, v) in self.bars.extra.iter_mut().zip(extra) {
                if let Some(slot) = col.values.last_mut() {
                    *slot = v.unwrap_or(f64::NAN);
                }
            }
        }
        start..self.bars.len()
    }

    /// The inner feed's step as journal rows.
    fn rows_of(bars: &Bars, r: Range<usize>) -> Vec<Row> {
        r.map(|i| {
            let b = bars.bar(i);
            let extra = bars.extra.iter().map(|c| c.values.get(i).copied().filter(|v| !v.is_nan())).collect();
            (b.symbol, [b.open, b.high, b.low, b.close, b.volume], extra)
        })
        .collect()
    }
}

impl<F: Feed> Feed for ResumeFeed<F>
where
    PaperError: From<F::Error>,
{
    type Error = PaperError;

    fn next_step(&mut self) -> Result<Option<Range<usize>>, PaperError> {
        if let Some((ts, json)) = self.journaled.get(self.next).cloned() {
            self.next += 1;
            let rows: Vec<Row> = serde_json::from_str(&json).map_err(|e| PaperError::State {
                path: "journal.db".into(),
                reason: format!("step at {}: the journaled bars are not readable ({e})", format_ts(ts)),
            })?;
            // Walk the source to the same step and note any difference.
            loop {
                let r = match self.peeked.take() {
                    Some(r) => r,
                    None => match self.inner.next_step()? {
                        Some(r) => r,
                        None => {
                            self.corrections
                                .push(format!("{}: the source ends before this journaled step", format_ts(ts)));
                            break;
                        }
                    },
                };
                let t = self.inner.bars().ts[r.start];
                if t < ts {
                    self.corrections.push(format!("{}: a step the journal does not have", format_ts(t)));
                    continue;
                }
                if t > ts {
                    self.corrections.push(format!("{}: the source no longer has this step", format_ts(ts)));
                    self.peeked = Some(r);
                } else {
                    let now = Self::rows_of(self.inner.bars(), r);
                    if now != rows {
                        self.corrections
                            .push(format!("{}: the source's bars differ from the journal's", format_ts(ts)));
                    }
                }
                break;
            }
            return Ok(Some(self.push_rows(ts, &rows)));
        }
        let last = self.journaled.last().map(|j| j.0);
        loop {
            let r = match self.peeked.take() {
                Some(r) => r,
                None => match self.inner.next_step()? {
                    Some(r) => r,
                    None => return Ok(None),
                },
            };
            let t = self.inner.bars().ts[r.start];
            if last.is_some_and(|l| t <= l) {
                continue; // before the journal's end (only when the source has extra steps)
            }
            let rows = Self::rows_of(self.inner.bars(), r);
            return Ok(Some(self.push_rows(t, &rows)));
        }
    }

    fn bars(&self) -> &Bars {
        &self.bars
    }

    fn len_hint(&self) -> Option<usize> {
        self.inner.len_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::clock::ManualClock;
    use crate::engine::feed::ReplayFeed;

    fn source(steps: &[(Ts, f64)]) -> Bars {
        let mut b = Bars { symbols: vec!["A".into()], ..Default::default() };
        for &(ts, p) in steps {
            b.push(Bar { ts, symbol: 0, open: p, high: p, low: p, close: p, volume: 1.0 });
        }
        b
    }

    fn journal_of(bars: &Bars, upto: usize) -> Vec<JournaledBars> {
        (0..upto)
            .map(|i| {
                (
                    bars.ts[i],
                    serde_json::to_string(&ResumeFeed::<ReplayFeed<ManualClock>>::rows_of(bars, i..i + 1)).unwrap(),
                )
            })
            .collect()
    }

    fn all<F: Feed>(f: &mut F) -> Vec<(Ts, f64)>
    where
        PaperError: From<F::Error>,
    {
        let mut out = Vec::new();
        while let Ok(Some(r)) = f.next_step() {
            out.push((f.bars().ts[r.start], f.bars().close[r.start]));
        }
        out
    }

    /// The journaled steps come first as journaled; the source continues after them; a
    /// source that now differs (an edited bar, a missing step, an extra one) is noted, not
    /// used, and no later source step is lost.
    #[test]
    fn test_resume_feed_journal_first_then_source_corrections_noted() {
        let clock = ManualClock::at(0);
        let orig = source(&[(0, 1.0), (60, 2.0), (120, 3.0), (180, 4.0)]);
        let journal = journal_of(&orig, 2);
        let mut same = ResumeFeed::new(ReplayFeed::new(orig.clone(), 60, None, &clock), journal.clone());
        assert_eq!(all(&mut same), vec![(0, 1.0), (60, 2.0), (120, 3.0), (180, 4.0)]);
        assert!(same.corrections().is_empty());
        // Edited bar at 60, step 0 gone, an extra step at 90 before the journal's end.
        let edited = source(&[(60, 9.0), (90, 5.0), (120, 3.0), (180, 4.0)]);
        let mut f = ResumeFeed::new(ReplayFeed::new(edited, 60, None, &clock), journal);
        assert_eq!(all(&mut f), vec![(0, 1.0), (60, 2.0), (90, 5.0), (120, 3.0), (180, 4.0)]);
        assert_eq!(f.corrections().len(), 2, "{:?}", f.corrections());
        assert!(f.corrections()[0].contains("no longer has this step"));
        assert!(f.corrections()[1].contains("differ"));
    }
}
