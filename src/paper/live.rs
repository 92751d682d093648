//! The live feed of a paper run: Alpaca's bars, polled after each interval's close.
//!
//! `quorum paper --feed alpaca` asks Alpaca's REST bars endpoint (`/v2/stocks/bars`,
//! `/v1beta3/crypto/us/bars`, through [`crate::alpaca::data::fetch_bars`]) for the bars of
//! the run's symbols a few seconds (`alpaca.bar_delay_secs`) after each interval mark, and
//! hands the engine one step per bar start, **only once its interval has closed** (a bar
//! `[t, t + interval)` is handed out when the clock is at or past `t + interval`; the bar in
//! progress that Alpaca also returns is left for the next poll).
//!
//! Why polling and not the bar websocket (`wss://stream.data.alpaca.markets/v2/{iex|sip}`):
//! - one code path for history, live bars and the gap after an outage: every poll asks
//!   from the first bar not yet handed out, so a missed poll, a restart or an outage is
//!   filled from REST by the next successful poll, where a stream would need REST
//!   backfill anyway (and a second connection held open, re-authenticated and
//!   re-subscribed after every drop);
//! - a late trade (the stream's `updatedBars`) shows up as a changed bar in the next
//!   poll, which re-reads the last [`RECHECK`] intervals;
//! - the cost is a few seconds of latency per bar and one request a minute per interval
//!   (of Alpaca's 200 a minute), which a minute-bar strategy does not notice.
//!
//! History first: with `--from` the first poll reads every bar from there on, handed out as
//! fast as the graph takes them (the analysts and the memory warm up on it); the run
//! trades only from the moment it started live (`live_from`, kept in the journal, so a
//! restart keeps it). A bar that comes late or changed for a step already handed out is
//! never applied retroactively: it is reported as a [`FeedEvent::Correction`] (the paper
//! loop journals and counts it). A poll that fails after the HTTP client's retries is an
//! outage: reported once, retried at every interval mark, and the gap is filled when
//! Alpaca answers again ([`FeedEvent::Reconnected`]). Wrong keys or a refused request
//! (401, 403, other 4xx) end the run with the error, and so does a failure of the first
//! poll (Alpaca never reached: a wrong URL or no network).
//!
//! The live feed applies no split adjustments (Alpaca's bars are asked `adjustment=raw`
//! for history too, so history and live bars are on the same basis): a split during a
//! live run is seen as a price move. Stop the run over a split, and start a new state
//! folder after it.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;

use crate::alpaca::data::fetch_bars;
use crate::alpaca::{AlpacaError, Http};
use crate::engine::clock::Clock;
use crate::engine::feed::Feed;
use crate::market::session::{AssetClass, NyClock, SessionMode, in_regular_session};
use crate::market::time::format_ts;
use crate::market::{Bar, Bars, Ts};

/// Intervals before the first bar not yet handed out that every poll reads again, to see
/// late trades and late bars of steps already handed out.
pub const RECHECK: i64 = 2;

/// What the feed noticed, for the journal, the log and the notifications.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedEvent {
    /// A bar of a step already handed out came later, or changed: not applied.
    Correction(String),
    /// A poll failed after the client's retries; the feed keeps trying.
    Outage(String),
    /// Alpaca answered again after an outage; the gap is filled from REST.
    Reconnected(String),
}

impl FeedEvent {
    /// The journal's event kind.
    pub fn kind(&self) -> &'static str {
        match self {
            FeedEvent::Correction(_) => "correction",
            FeedEvent::Outage(_) => "outage",
            FeedEvent::Reconnected(_) => "reconnect",
        }
    }

    /// What happened, in words.
    pub fn detail(&self) -> &str {
        match self {
            FeedEvent::Correction(s) | FeedEvent::Outage(s) | FeedEvent::Reconnected(s) => s,
        }
    }
}

/// Where and what the live feed asks.
#[derive(Debug, Clone)]
pub struct LiveSpec {
    /// The run's symbols in Alpaca's spelling (`SPY`, `BTC/USD`), sorted (their index is
    /// their id).
    pub symbols: Vec<String>,
    /// Asset class of each symbol.
    pub classes: Vec<AssetClass>,
    /// The bar interval, ns (one Alpaca has: [`crate::alpaca::data::timeframe`]).
    pub interval: i64,
    /// Stock feed: `iex` or `sip`.
    pub feed: String,
    /// Keep only regular-session bars of stocks (crypto bars all pass).
    pub session: SessionMode,
    /// The first bar to hand out (history before the live start warms the analysts up).
    pub from: Ts,
    /// Stop before the bar starting here (`--to`), or run until stopped.
    pub until: Option<Ts>,
    /// How long after an interval's close to ask for its bar, ns (bars settle).
    pub delay: i64,
}

/// See the module docs.
#[derive(Debug)]
pub struct AlpacaFeed<C: Clock> {
    http: Http,
    spec: LiveSpec,
    timeframe: String,
    clock: C,
    bars: Bars,
    /// The start of the first bar not yet handed out.
    next: Ts,
    queue: VecDeque<(Ts, Vec<Bar>)>,
    /// What was handed out over the last [`RECHECK`] intervals: (start, symbol) → OHLCV.
    handed: BTreeMap<(Ts, u32), [f64; 5]>,
    events: Vec<FeedEvent>,
    /// Polls failed in a row.
    failures: u32,
    /// Alpaca has answered a poll of this feed.
    answered: bool,
    /// Polls made, and bars of steps already handed out reported (late or changed).
    polls: u64,
    corrections: u64,
    ny: NyClock,
    /// Outages and reconnections go out at once (not when the next step does).
    notify: Option<crate::paper::notify::Handle>,
}

impl<C: Clock> AlpacaFeed<C> {
    /// A feed over `http` (the market-data API) as `spec` says, timed by `clock`.
    pub fn new(http: Http, spec: LiveSpec, clock: C) -> Result<Self, AlpacaError> {
        let timeframe = crate::alpaca::data::timeframe(spec.interval).ok_or_else(|| AlpacaError::Status {
            method: "GET",
            path: "bars".into(),
            status: 400,
            code: None,
            message: format!(
                "Alpaca has no timeframe for {} bars (1-59m, 1-23h, 1d)",
                crate::market::time::format_duration(spec.interval.max(1))
            ),
        })?;
        let bars = Bars { symbols: spec.symbols.clone(), ..Default::default() };
        let next = spec.from;
        Ok(AlpacaFeed {
            http,
            spec,
            timeframe,
            clock,
            bars,
            next,
            queue: VecDeque::new(),
            handed: BTreeMap::new(),
            events: Vec::new(),
            failures: 0,
            answered: false,
            polls: 0,
            corrections: 0,
            ny: NyClock::new(),
            notify: None,
        })
    }

    /// Posts outages and reconnections to the operator's webhook as they happen.
    pub fn set_notifier(&mut self, handle: crate::paper::notify::Handle) {
        self.notify = Some(handle);
    }

    /// Records `e` for the runner, and tells the operator now if it is an outage or a
    /// reconnection.
    fn report(&mut self, e: FeedEvent) {
        if let (Some(n), FeedEvent::Outage(_) | FeedEvent::Reconnected(_)) = (&self.notify, &e) {
            let notice = crate::paper::notify::Notice {
                kind: e.kind(),
                text: e.detail().to_string(),
                fields: serde_json::json!({}),
            };
            n.send(None, &format_ts(self.clock.now()), notice);
        }
        self.events.push(e);
    }

    /// Events since last asked.
    pub fn take_events(&mut self) -> Vec<FeedEvent> {
        std::mem::take(&mut self.events)
    }

    /// Polls made so far.
    pub fn polls(&self) -> u64 {
        self.polls
    }

    /// Bars of steps already handed out that came late or changed (never applied).
    pub fn corrections(&self) -> u64 {
        self.corrections
    }

    /// How far the clock is past the close of the latest step handed out, ns.
    pub fn lag(&self) -> i64 {
        self.bars.ts.last().map_or(0, |&t| (self.clock.now() - (t + self.spec.interval)).max(0))
    }

    /// Waits until `t`; false if the wait ended early (the run is stopping).
    fn wait(&self, t: Ts) -> bool {
        self.clock.sleep_until(t);
        self.clock.now() >= t
    }

    /// One poll: every bar from [`RECHECK`] intervals before the first not handed out up
    /// to now. Closed new bars are queued by start; bars of steps already handed out are
    /// compared with what was handed out.
    fn poll(&mut self) -> Result<(), AlpacaError> {
        let now = self.clock.now();
        let iv = self.spec.interval;
        let start = (self.next - RECHECK * iv).max(self.spec.from);
        // Whole seconds (Alpaca's examples; the bar in progress is filtered out below).
        let end = now.div_euclid(1_000_000_000) * 1_000_000_000;
        self.polls += 1;
        let (got, _) =
            fetch_bars(&mut self.http, &self.spec.symbols, &self.timeframe, (start, end), &self.spec.feed, 10_000)?;
        let mut fresh: BTreeMap<Ts, Vec<Bar>> = BTreeMap::new();
        for i in 0..got.len() {
            let mut b = got.bar(i);
            let Ok(id) = self.spec.symbols.binary_search(&got.symbols[b.symbol as usize]) else { continue };
            b.symbol = id as u32;
            if b.ts + iv > now || b.ts < self.spec.from || self.spec.until.is_some_and(|u| b.ts >= u) {
                continue; // in progress, or outside the run's window
            }
            if self.spec.session != SessionMode::All
                && self.spec.classes[id] == AssetClass::Equity
                && !in_regular_session(&mut self.ny, b.ts, iv)
            {
                continue;
            }
            let values = [b.open, b.high, b.low, b.close, b.volume];
            if b.ts < self.next {
                let sym = &self.spec.symbols[id];
                let what = match self.handed.get(&(b.ts, b.symbol)) {
                    Some(v) if v == &values => continue,
                    Some(v) => format!(
                        "{sym} at {}: the bar changed after it was used (close {} → {}, volume {} → {}); not applied",
                        format_ts(b.ts),
                        v[3],
                        values[3],
                        v[4],
                        values[4]
                    ),
                    None => {
                        format!("{sym} at {}: the bar came after its step was handed out; not applied", format_ts(b.ts))
                    }
                };
                self.handed.insert((b.ts, b.symbol), values);
                self.corrections += 1;
                tracing::warn!(%what, "late bar");
                self.events.push(FeedEvent::Correction(what));
                continue;
            }
            fresh.entry(b.ts).or_default().push(b);
        }
        // Queue what is new (a poll is made only when the queue is empty); symbol order
        // within a step, as in the table.
        for (t, mut rows) in fresh {
            rows.sort_by_key(|b| b.symbol);
            self.queue.push_back((t, rows));
        }
        Ok(())
    }

    /// A failed poll: fatal for refusals (wrong keys, a bad request) and when Alpaca has
    /// never answered this feed (a wrong URL or no network is a setup problem, not an
    /// outage to wait out); an outage otherwise.
    fn failed(&mut self, e: AlpacaError) -> Result<(), AlpacaError> {
        if let AlpacaError::Status { status, .. } = &e
            && (400..500).contains(status)
            && *status != 429
        {
            return Err(e);
        }
        if !self.answered {
            return Err(e);
        }
        if self.failures == 0 {
            let what = format!("polling Alpaca's bars failed ({e}); retrying at every interval mark");
            tracing::warn!(%what, "outage");
            self.report(FeedEvent::Outage(what));
        }
        self.failures += 1;
        Ok(())
    }
}

impl<C: Clock> Feed for AlpacaFeed<C> {
    type Error = AlpacaError;

    fn next_step(&mut self) -> Result<Option<Range<usize>>, AlpacaError> {
        let iv = self.spec.interval;
        loop {
            if let Some((t, rows)) = self.queue.pop_front() {
                let start = self.bars.len();
                for b in rows {
                    self.handed.insert((t, b.symbol), [b.open, b.high, b.low, b.close, b.volume]);
                    self.bars.push(b);
                }
                self.next = t + iv;
                let keep = self.next - RECHECK * iv;
                self.handed.retain(|k, _| k.0 >= keep);
                return Ok(Some(start..self.bars.len()));
            }
            if self.spec.until.is_some_and(|u| self.next >= u) {
                return Ok(None);
            }
            // The next bar can be asked for once its interval has closed and settled.
            let due = self.next + iv + self.spec.delay;
            if !self.wait(due) {
                return Ok(None);
            }
            let failures = self.failures;
            let polled = self.poll();
            if polled.is_ok() {
                self.answered = true;
            }
            match polled {
                Ok(()) if failures > 0 => {
                    self.failures = 0;
                    let what = format!(
                        "Alpaca answers again after {failures} failed poll(s); {} step(s) of the gap filled from REST",
                        self.queue.len()
                    );
                    tracing::info!(%what, "reconnected");
                    self.report(FeedEvent::Reconnected(what));
                }
                Ok(()) => {}
                Err(e) => self.failed(e)?,
            }
            if self.queue.is_empty() {
                // Nothing new closed yet (a quiet minute, a night, an outage): the next mark.
                let now = self.clock.now();
                if let Some(u) = self.spec.until
                    && now >= u + self.spec.delay
                    && self.failures == 0
                {
                    // Every bar before the end has closed and been asked for.
                    self.next = self.next.max(u);
                    continue;
                }
                let mark = (now - self.spec.delay).div_euclid(iv) * iv + iv + self.spec.delay;
                if !self.wait(mark.max(now + 1)) {
                    return Ok(None);
                }
            }
        }
    }

    fn bars(&self) -> &Bars {
        &self.bars
    }

    fn len_hint(&self) -> Option<usize> {
        None
    }
}
