//! Clocks: what time it is for a run that is not a backtest.
//!
//! A backtest needs no clock: its time is the event time of the bars (each step is stamped
//! with its bars' start, and nothing reads the machine's time). A replay paced at `--speed
//! N` and a live run do: they wait for wall time to pass and measure how far they lag the
//! feed. [`WallClock`] is the only place quorum reads the machine's clock — `clippy.toml`
//! bans `SystemTime::now` everywhere else, and this module carries the one `allow`.
//! [`ManualClock`] moves only when told (tests of pacing, deterministic replays).

use std::sync::atomic::{AtomicI64, Ordering};

use crate::market::Ts;

/// A source of the current time and of waiting.
pub trait Clock {
    /// Now, in nanoseconds since the Unix epoch (UTC).
    fn now(&self) -> Ts;

    /// Returns when [`Clock::now`] has reached `t` (at once if it has).
    fn sleep_until(&self, t: Ts);
}

/// The machine's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct WallClock;

impl Clock for WallClock {
    // The one use of the wall clock in the library (see the module docs).
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> Ts {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        since.map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }

    fn sleep_until(&self, t: Ts) {
        let now = self.now();
        if t > now {
            std::thread::sleep(std::time::Duration::from_nanos((t - now) as u64));
        }
    }
}

/// A clock that moves only when told, or when something sleeps until a later time.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    /// A clock at `t`.
    pub fn at(t: Ts) -> Self {
        ManualClock { now: AtomicI64::new(t) }
    }

    /// Moves the clock forward by `ns`.
    pub fn advance(&self, ns: i64) {
        self.now.fetch_add(ns, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Ts {
        self.now.load(Ordering::SeqCst)
    }

    fn sleep_until(&self, t: Ts) {
        self.now.fetch_max(t, Ordering::SeqCst);
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Ts {
        (**self).now()
    }

    fn sleep_until(&self, t: Ts) {
        (**self).sleep_until(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_manual_clock_sleeps_forward_only() {
        let c = ManualClock::at(100);
        c.sleep_until(50);
        assert_eq!(c.now(), 100, "a past time returns at once");
        c.sleep_until(250);
        assert_eq!(c.now(), 250);
        c.advance(10);
        assert_eq!(c.now(), 260);
    }

    #[test]
    fn test_wall_clock_is_after_2020_and_waits() {
        let w = WallClock;
        let t = w.now();
        assert!(t > 1_577_836_800_000_000_000, "{t}");
        w.sleep_until(t + 2_000_000);
        assert!(w.now() >= t + 2_000_000);
    }
}
