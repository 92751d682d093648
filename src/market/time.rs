//! Event time: nanoseconds since the Unix epoch, UTC, the one time type of the engine.
//!
//! Bars carry the START of their interval. Wall-clock time never enters the engine, the
//! memory or the composer; it is used only for logs and elapsed-time printing at the CLI edge.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

/// Nanoseconds since 1970-01-01T00:00:00Z.
pub type Ts = i64;

/// Nanoseconds in one second.
pub const NS_PER_SEC: i64 = 1_000_000_000;
/// Nanoseconds in one minute.
pub const NS_PER_MIN: i64 = 60 * NS_PER_SEC;
/// Nanoseconds in one hour.
pub const NS_PER_HOUR: i64 = 60 * NS_PER_MIN;
/// Nanoseconds in one day.
pub const NS_PER_DAY: i64 = 24 * NS_PER_HOUR;

/// Parses an RFC 3339 timestamp with an offset (`2013-10-07T13:30:00Z`, `...-04:00`,
/// fractional seconds allowed) into UTC nanoseconds.
pub fn parse_rfc3339(s: &str) -> Option<Ts> {
    let dt = DateTime::parse_from_rfc3339(s.trim()).ok()?;
    dt.timestamp_nanos_opt()
}

/// Parses a user bound: an RFC 3339 time, or a bare date `YYYY-MM-DD` meaning that UTC day's
/// midnight (for `--from`) or the end of that UTC day (for `--to`, `end_of_day = true`).
/// The returned bound is inclusive for `from` and exclusive for `to`.
pub fn parse_bound(s: &str, end_of_day: bool) -> Option<Ts> {
    if let Some(ts) = parse_rfc3339(s) {
        return Some(if end_of_day { ts + 1 } else { ts });
    }
    let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()?;
    let d = if end_of_day { d.succ_opt()? } else { d };
    d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_nanos_opt()
}

/// Formats UTC nanoseconds as RFC 3339 with a `Z` suffix (seconds precision unless needed).
pub fn format_ts(ts: Ts) -> String {
    DateTime::<Utc>::from_timestamp_nanos(ts).to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The UTC calendar date of a timestamp.
pub fn utc_date(ts: Ts) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_nanos(ts).date_naive()
}

/// Formats a duration in nanoseconds compactly: `1m`, `5m`, `1h`, `1d`, `90s`.
pub fn format_duration(ns: i64) -> String {
    if ns % NS_PER_DAY == 0 {
        format!("{}d", ns / NS_PER_DAY)
    } else if ns % NS_PER_HOUR == 0 {
        format!("{}h", ns / NS_PER_HOUR)
    } else if ns % NS_PER_MIN == 0 {
        format!("{}m", ns / NS_PER_MIN)
    } else if ns % NS_PER_SEC == 0 {
        format!("{}s", ns / NS_PER_SEC)
    } else {
        format!("{ns}ns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_parse_rfc3339_zulu_and_offset_agree() {
        let a = parse_rfc3339("2013-10-07T13:30:00Z").unwrap();
        let b = parse_rfc3339("2013-10-07T09:30:00-04:00").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, 1_381_152_600 * NS_PER_SEC);
        assert_eq!(format_ts(a), "2013-10-07T13:30:00Z");
    }

    #[test]
    fn test_parse_rfc3339_rejects_garbage_and_naive() {
        assert!(parse_rfc3339("2013-10-07 13:30").is_none());
        assert!(parse_rfc3339("2013-10-07T13:30:00").is_none());
        assert!(parse_rfc3339("yesterday").is_none());
    }

    #[test]
    fn test_parse_bound_dates_cover_whole_day() {
        let from = parse_bound("2013-10-07", false).unwrap();
        let to = parse_bound("2013-10-07", true).unwrap();
        assert_eq!(to - from, NS_PER_DAY);
        assert_eq!(parse_bound("2013-10-07T13:30:00Z", true).unwrap(), from + 13 * NS_PER_HOUR + 30 * NS_PER_MIN + 1);
    }

    #[test]
    fn test_format_duration_units() {
        assert_eq!(format_duration(NS_PER_MIN), "1m");
        assert_eq!(format_duration(15 * NS_PER_MIN), "15m");
        assert_eq!(format_duration(NS_PER_HOUR), "1h");
        assert_eq!(format_duration(90 * NS_PER_SEC), "90s");
    }
}
