//! Trading calendars: which symbols trade a US equity session and which trade 24/7, the
//! regular-session filter (09:30–16:00 America/New_York, DST-correct via chrono-tz) and
//! session dates.
//!
//! A bar `[start, start + interval)` is in the regular session when it overlaps
//! 09:30–16:00 New York time. The overlap rule (rather than "start ≥ 09:30") keeps vendor
//! hourly bars labelled at the clock hour: Lean's 09:00 bar covers 09:30–10:00 and is kept,
//! while a 09:29 minute bar (ending 09:30) is dropped. Holidays and early closes are not
//! modelled: the data simply has no bars then.
//!
//! A symbol is crypto (24/7, no session filter, 365 days a year) when its name ends with a
//! quote currency from `crypto_quotes` (default USDT, USDC, BUSD, USD, BTC, ETH) and is longer
//! than it; every other symbol is a US equity.

use chrono::{Datelike, NaiveDate, Offset, TimeZone, Weekday};
use chrono_tz::America::New_York;
use serde::{Deserialize, Serialize};

use super::bars::Bars;
use super::time::{NS_PER_DAY, NS_PER_MIN, NS_PER_SEC, Ts};

/// Regular session open, minutes after local midnight (09:30).
pub const OPEN_MIN: i64 = 9 * 60 + 30;
/// Regular session close, minutes after local midnight (16:00).
pub const CLOSE_MIN: i64 = 16 * 60;
/// Early close on NYSE half days, minutes after local midnight (13:00).
pub const EARLY_CLOSE_MIN: i64 = 13 * 60;

/// The regular session's close on `date` (New York), in minutes after local midnight:
/// 13:00 on NYSE's early-close days, 16:00 otherwise.
///
/// The early closes follow NYSE's published rule (nyse.com, "Holidays and Trading Hours":
/// "each market will close early at 1:00 p.m." on the day before Independence Day, the day
/// after Thanksgiving and Christmas Eve):
/// - **July 3**, when it is a weekday and not itself the observed Independence Day (July 4
///   on a Saturday is observed on Friday July 3, a full holiday; July 4 on a Sunday makes
///   July 3 a Saturday).
/// - **The day after Thanksgiving** (the fourth Thursday of November).
/// - **December 24**, when it is a weekday and not the observed Christmas (Christmas on a
///   Saturday is observed on Friday December 24).
///
/// A hand-written table of rules rather than a crate: the calendar crates found cover
/// 2010 or 2020 onward (`exchange-hours`, `trading-calendar`) and quorum's data goes back to
/// 1998. The rules match NYSE's published early closes for 2010 onward (the tests pin
/// 2018-07-03, 2019-11-29 and 2019-12-24); one older exception is kept: in 2002 (July 4 on
/// a Thursday) the early close was Friday July 5. Other pre-2010 July early closes are not
/// verified here. Full-day holidays need no table: they have no bars. The regular-session
/// filter and `--flatten-at-close` both use it.
pub fn close_minute(date: NaiveDate) -> i64 {
    let weekday = |d: NaiveDate| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
    let (m, d) = (date.month(), date.day());
    let early = match (m, d) {
        // 2002: July 4 on a Thursday; NYSE closed early on Friday July 5, not on July 3
        // (from 2013 the early close moved to July 3 in such years).
        (7, 3) => weekday(date) && date.weekday() != Weekday::Fri && date.year() != 2002,
        (7, 5) => date.year() == 2002,
        (12, 24) => weekday(date) && date.weekday() != Weekday::Fri,
        (11, 23..=29) => {
            // The Friday after the fourth Thursday: the fourth Thursday falls on 22..=28.
            date.weekday() == Weekday::Fri && (22..=28).contains(&(d - 1))
        }
        _ => false,
    };
    if early { EARLY_CLOSE_MIN } else { CLOSE_MIN }
}
/// Trading days a year for US equities.
pub const EQUITY_DAYS_PER_YEAR: f64 = 252.0;
/// Calendar days a year for 24/7 markets.
pub const CRYPTO_DAYS_PER_YEAR: f64 = 365.0;

/// The kind of market a symbol trades in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AssetClass {
    /// US equity: regular session 09:30–16:00 New York, 252 days a year.
    Equity,
    /// 24/7 market, UTC days, 365 days a year.
    Crypto,
}

/// Which bars to keep by time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionMode {
    /// Regular session for equities, everything for crypto.
    #[default]
    Auto,
    /// Regular session for equities (crypto is unaffected: it has no session).
    Regular,
    /// Keep every bar, extended hours included.
    All,
}

impl std::fmt::Display for SessionMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SessionMode::Auto => "auto",
            SessionMode::Regular => "regular",
            SessionMode::All => "all",
        })
    }
}

/// Classifies a symbol by its name.
pub fn classify(symbol: &str, crypto_quotes: &[String]) -> AssetClass {
    let up = symbol.to_ascii_uppercase();
    let crypto = crypto_quotes.iter().any(|q| {
        let q = q.to_ascii_uppercase();
        up.len() > q.len() && up.ends_with(&q)
    });
    if crypto { AssetClass::Crypto } else { AssetClass::Equity }
}

/// The default quote currencies that mark a symbol as crypto.
pub fn default_crypto_quotes() -> Vec<String> {
    ["USDT", "USDC", "BUSD", "USD", "BTC", "ETH"].iter().map(|s| s.to_string()).collect()
}

/// Converts UTC timestamps to New York local time with a cached offset.
///
/// The cache holds one UTC day when the offset at its first and last second agree (a day
/// holds at most one DST transition, so equal ends mean no transition), else one UTC hour
/// (transitions fall on the hour). A chrono-tz lookup costs ~100 ns; bars of one day then
/// share one or two lookups, which matters for hourly data where every bar is a new hour.
#[derive(Debug, Default, Clone)]
pub struct NyClock {
    from: i64,
    until: i64,
    offset_ns: i64,
}

fn ny_offset_at(ts: Ts) -> i64 {
    let secs = ts.div_euclid(NS_PER_SEC);
    let off = New_York.timestamp_opt(secs, 0).single().map(|d| d.offset().fix().local_minus_utc()).unwrap_or(0);
    off as i64 * NS_PER_SEC
}

impl NyClock {
    /// A fresh clock with an empty cache.
    pub fn new() -> Self {
        NyClock { from: 0, until: 0, offset_ns: 0 }
    }

    /// The UTC offset of New York at `ts`, in nanoseconds (e.g. -4h during EDT).
    #[inline]
    pub fn offset(&mut self, ts: Ts) -> i64 {
        if ts < self.from || ts >= self.until {
            self.refill(ts);
        }
        self.offset_ns
    }

    #[cold]
    fn refill(&mut self, ts: Ts) {
        let day = ts.div_euclid(NS_PER_DAY) * NS_PER_DAY;
        let (a, b) = (ny_offset_at(day), ny_offset_at(day + NS_PER_DAY - NS_PER_SEC));
        if a == b {
            (self.from, self.until, self.offset_ns) = (day, day + NS_PER_DAY, a);
        } else {
            let hour = ts.div_euclid(3_600 * NS_PER_SEC) * 3_600 * NS_PER_SEC;
            (self.from, self.until, self.offset_ns) = (hour, hour + 3_600 * NS_PER_SEC, ny_offset_at(hour));
        }
    }

    /// Days since 1970-01-01 of the New York local date of `ts`.
    #[inline]
    pub fn day(&mut self, ts: Ts) -> i64 {
        self.local(ts).div_euclid(NS_PER_DAY)
    }

    /// New York local time of `ts` as nanoseconds since the local epoch.
    #[inline]
    pub fn local(&mut self, ts: Ts) -> i64 {
        ts + self.offset(ts)
    }

    /// The New York session date of `ts`.
    pub fn date(&mut self, ts: Ts) -> NaiveDate {
        day_to_date(self.day(ts))
    }

    /// UTC time of the given New York local minute-of-day on the local date of `ts`.
    pub fn utc_at_local_minute(&mut self, ts: Ts, minute: i64) -> Ts {
        let off = self.offset(ts);
        let local_midnight = (ts + off).div_euclid(NS_PER_DAY) * NS_PER_DAY;
        local_midnight + minute * NS_PER_MIN - off
    }
}

/// True if a bar `[ts, ts + interval)` overlaps the regular session of a weekday (which
/// ends at 13:00 on NYSE's early-close days, [`close_minute`]).
#[inline]
pub fn in_regular_session(clock: &mut NyClock, ts: Ts, interval: i64) -> bool {
    let local = clock.local(ts);
    let day = local.div_euclid(NS_PER_DAY);
    // 1970-01-01 was a Thursday: day 0 -> Thu; weekday index with Monday = 0.
    let weekday = (day + 3).rem_euclid(7);
    if weekday >= 5 {
        return false;
    }
    let tod = local.rem_euclid(NS_PER_DAY);
    let close = if tod >= EARLY_CLOSE_MIN * NS_PER_MIN { close_minute(day_to_date(day)) } else { CLOSE_MIN };
    tod < close * NS_PER_MIN && tod + interval > OPEN_MIN * NS_PER_MIN
}

/// The session day of a bar as days since 1970-01-01: the New York date for equities, the
/// UTC date for crypto. Integer days compare cheaply; [`day_to_date`] converts.
#[inline]
pub fn session_day(clock: &mut NyClock, class: AssetClass, ts: Ts) -> i64 {
    match class {
        AssetClass::Equity => clock.day(ts),
        AssetClass::Crypto => ts.div_euclid(NS_PER_DAY),
    }
}

/// The session date of a bar (see [`session_day`]).
pub fn session_date(clock: &mut NyClock, class: AssetClass, ts: Ts) -> NaiveDate {
    day_to_date(session_day(clock, class, ts))
}

/// Days since 1970-01-01 as a date.
pub fn day_to_date(day: i64) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day as i32 + 719_163).unwrap_or_default()
}

/// A date as days since 1970-01-01.
pub fn date_to_day(d: NaiveDate) -> i64 {
    d.num_days_from_ce() as i64 - 719_163
}

/// Number of `interval`-long clock-aligned buckets that overlap the regular session:
/// 390 for 1m, 78 for 5m, 26 for 15m, 13 for 30m, 7 for 1h (09:00 bucket covers 09:30–10:00).
pub fn bars_per_regular_session(interval: i64) -> f64 {
    let i = interval.max(1) as f64 / NS_PER_MIN as f64;
    ((CLOSE_MIN as f64) / i).ceil() - ((OPEN_MIN as f64) / i).floor()
}

/// Keeps regular-session bars of equity symbols; crypto bars all pass.
/// Returns how many bars were removed.
pub fn filter_regular_session(bars: &mut Bars, classes: &[AssetClass], interval: i64) -> usize {
    let mut clock = NyClock::new();
    let keep: Vec<bool> = (0..bars.len())
        .map(|i| match classes[bars.sym[i] as usize] {
            AssetClass::Crypto => true,
            AssetClass::Equity => in_regular_session(&mut clock, bars.ts[i], interval),
        })
        .collect();
    let removed = keep.iter().filter(|k| !**k).count();
    if removed > 0 {
        bars.retain_mask(&keep);
    }
    removed
}

/// True if the date is a Saturday or Sunday.
pub fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_early_closes_on_nyse_half_days() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        // Half days, then ordinary days and full holidays (observed July 4th / Christmas).
        let early =
            [(2018, 7, 3), (2019, 11, 29), (2019, 12, 24), (2013, 7, 3), (2024, 11, 29), (2015, 12, 24), (2002, 7, 5)];
        let full =
            [(2018, 7, 2), (2019, 11, 28), (2020, 7, 3), (2021, 12, 24), (2019, 11, 22), (2013, 10, 7), (2002, 7, 3)];
        let cases = early.iter().map(|&x| (x, EARLY_CLOSE_MIN)).chain(full.iter().map(|&x| (x, CLOSE_MIN)));
        for ((y, m, dd), want) in cases {
            assert_eq!(close_minute(d(y, m, dd)), want, "{y}-{m}-{dd}");
        }
        // The regular-session filter ends at 13:00 on a half day: the 13:00 bar is out.
        let mut clock = NyClock::new();
        let at = |s: &str| crate::market::time::parse_rfc3339(s).unwrap();
        assert!(in_regular_session(&mut clock, at("2018-07-03T16:59:00Z"), NS_PER_MIN));
        assert!(!in_regular_session(&mut clock, at("2018-07-03T17:00:00Z"), NS_PER_MIN));
        assert!(in_regular_session(&mut clock, at("2018-07-02T17:00:00Z"), NS_PER_MIN));
    }
    use crate::market::time::parse_rfc3339;

    fn ts(s: &str) -> Ts {
        parse_rfc3339(s).unwrap()
    }

    #[test]
    fn test_session_edges_in_edt_and_est() {
        let mut c = NyClock::new();
        let m = NS_PER_MIN;
        // EDT (UTC-4): 09:30 ET = 13:30Z.
        assert!(!in_regular_session(&mut c, ts("2013-10-07T13:29:00Z"), m));
        assert!(in_regular_session(&mut c, ts("2013-10-07T13:30:00Z"), m));
        assert!(in_regular_session(&mut c, ts("2013-10-07T19:59:00Z"), m));
        assert!(!in_regular_session(&mut c, ts("2013-10-07T20:00:00Z"), m));
        // EST (UTC-5): 09:30 ET = 14:30Z.
        assert!(!in_regular_session(&mut c, ts("2011-01-03T14:29:00Z"), m));
        assert!(in_regular_session(&mut c, ts("2011-01-03T14:30:00Z"), m));
        assert!(!in_regular_session(&mut c, ts("2011-01-03T21:00:00Z"), m));
    }

    #[test]
    fn test_session_dst_switch_weekend() {
        let mut c = NyClock::new();
        // DST began 2011-03-13 (Sunday); Friday 11th is EST, Monday 14th is EDT.
        assert!(in_regular_session(&mut c, ts("2011-03-11T14:30:00Z"), NS_PER_MIN));
        assert!(in_regular_session(&mut c, ts("2011-03-14T14:29:00Z"), NS_PER_MIN));
        assert!(in_regular_session(&mut c, ts("2011-03-14T13:30:00Z"), NS_PER_MIN));
        assert!(!in_regular_session(&mut c, ts("2011-03-14T13:29:00Z"), NS_PER_MIN));
        // Saturday.
        assert!(!in_regular_session(&mut c, ts("2011-03-12T15:00:00Z"), NS_PER_MIN));
    }

    #[test]
    fn test_hourly_vendor_bar_at_nine_is_kept() {
        let mut c = NyClock::new();
        let h = 60 * NS_PER_MIN;
        assert!(in_regular_session(&mut c, ts("1998-01-02T14:00:00Z"), h)); // 09:00 EST
        assert!(in_regular_session(&mut c, ts("1998-01-02T20:00:00Z"), h)); // 15:00 EST
        assert!(!in_regular_session(&mut c, ts("1998-01-02T21:00:00Z"), h)); // 16:00 EST
        assert!(!in_regular_session(&mut c, ts("1998-01-02T13:00:00Z"), h)); // 08:00 EST
    }

    #[test]
    fn test_bars_per_regular_session() {
        assert_eq!(bars_per_regular_session(NS_PER_MIN), 390.0);
        assert_eq!(bars_per_regular_session(5 * NS_PER_MIN), 78.0);
        assert_eq!(bars_per_regular_session(15 * NS_PER_MIN), 26.0);
        assert_eq!(bars_per_regular_session(30 * NS_PER_MIN), 13.0);
        assert_eq!(bars_per_regular_session(60 * NS_PER_MIN), 7.0);
    }

    #[test]
    fn test_classify_symbols() {
        let q = default_crypto_quotes();
        assert_eq!(classify("BTCUSDT", &q), AssetClass::Crypto);
        assert_eq!(classify("ethbtc", &q), AssetClass::Crypto);
        assert_eq!(classify("SPY", &q), AssetClass::Equity);
        assert_eq!(classify("USD", &q), AssetClass::Equity);
    }

    #[test]
    fn test_clock_cache_matches_direct_lookup_across_dst() {
        let mut c = NyClock::new();
        let start = ts("2011-03-12T00:00:00Z");
        for k in 0..(4 * 24 * 4) {
            let t = start + k * 15 * NS_PER_MIN;
            assert_eq!(c.offset(t), ny_offset_at(t), "at {}", crate::market::time::format_ts(t));
        }
        let start = ts("2013-11-02T00:00:00Z");
        for k in 0..(3 * 24 * 4) {
            let t = start + k * 15 * NS_PER_MIN;
            assert_eq!(c.offset(t), ny_offset_at(t));
        }
        assert_eq!(date_to_day(day_to_date(15_000)), 15_000);
    }

    #[test]
    fn test_session_date_and_local_minute() {
        let mut c = NyClock::new();
        // 2013-10-08T01:00Z is 21:00 ET on the 7th.
        assert_eq!(c.date(ts("2013-10-08T01:00:00Z")), NaiveDate::from_ymd_opt(2013, 10, 7).unwrap());
        assert_eq!(c.utc_at_local_minute(ts("2013-10-07T15:00:00Z"), CLOSE_MIN), ts("2013-10-07T20:00:00Z"));
        assert_eq!(c.utc_at_local_minute(ts("2011-01-03T15:00:00Z"), CLOSE_MIN), ts("2011-01-03T21:00:00Z"));
    }
}
