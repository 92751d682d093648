//! Event time: nanoseconds since the Unix epoch, UTC, the one time type of the engine.
//!
//! Bars carry the START of their interval. Wall-clock time never enters the engine, the
//! memory or the composer; it is used only for logs and elapsed-time printing at the CLI edge.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

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

/// A time or timeframe that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?}: expected {expected}")]
pub struct ParseTimeError {
    /// The text as given.
    pub text: String,
    /// What was expected.
    pub expected: &'static str,
}

/// A user-given time bound (`--from`, `--to`, `warmup_until`, ...): an RFC 3339 time, or a
/// bare date `YYYY-MM-DD` meaning that whole UTC day. Parsed once, when the config or the
/// flag is read; it keeps its text for messages and the resolved config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeBound {
    text: String,
    start: Ts,
    end: Ts,
}

impl TimeBound {
    /// Parses `s` (see [`parse_bound`]).
    pub fn parse(s: &str) -> Result<Self, ParseTimeError> {
        let bad = || ParseTimeError { text: s.to_string(), expected: "YYYY-MM-DD or an RFC 3339 time" };
        let start = parse_bound(s, false).ok_or_else(bad)?;
        let end = parse_bound(s, true).ok_or_else(bad)?;
        Ok(TimeBound { text: s.to_string(), start, end })
    }

    /// As a start, inclusive: the time itself, or the date's midnight (UTC).
    pub fn start(&self) -> Ts {
        self.start
    }

    /// As an end, exclusive: just after the time, or the next day's midnight (UTC).
    pub fn end(&self) -> Ts {
        self.end
    }

    /// The text as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// A bar timeframe such as `30s`, `1m`, `5m`, `15m`, `1h`: a whole number of seconds,
/// minutes (`m` or `min`) or hours. Parsed once when read; keeps its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeframe {
    text: String,
    ns: i64,
}

impl Timeframe {
    /// Parses `s`.
    pub fn parse(s: &str) -> Result<Self, ParseTimeError> {
        let bad = || ParseTimeError { text: s.to_string(), expected: "a number and a unit s, m or h (e.g. 5m, 1h)" };
        let t = s.trim();
        let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
        let n: i64 = num.parse().map_err(|_| bad())?;
        let mult = match unit {
            "s" => NS_PER_SEC,
            "m" | "min" => NS_PER_MIN,
            "h" => NS_PER_HOUR,
            _ => return Err(bad()),
        };
        let ns = n.checked_mul(mult).filter(|&ns| ns > 0).ok_or_else(bad)?;
        Ok(Timeframe { text: s.to_string(), ns })
    }

    /// The length in nanoseconds.
    pub fn ns(&self) -> i64 {
        self.ns
    }

    /// The text as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// `FromStr`, `Display` and serde (as the text given) for the parsed time types.
macro_rules! text_type {
    ($t:ty) => {
        impl FromStr for $t {
            type Err = ParseTimeError;
            fn from_str(s: &str) -> Result<Self, ParseTimeError> {
                <$t>::parse(s)
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.text)
            }
        }

        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.text)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                <$t>::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

text_type!(TimeBound);
text_type!(Timeframe);

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
    fn test_time_bound_start_end_and_text() {
        let d = TimeBound::parse("2013-10-07").unwrap();
        assert_eq!(d.end() - d.start(), NS_PER_DAY);
        assert_eq!(d.to_string(), "2013-10-07");
        let t = TimeBound::parse("2013-10-07T13:30:00Z").unwrap();
        assert_eq!(t.end(), t.start() + 1);
        let e = TimeBound::parse("last tuesday").unwrap_err().to_string();
        assert!(e.contains("last tuesday") && e.contains("RFC 3339"), "{e}");
    }

    #[test]
    fn test_timeframe_units_and_bad_values() {
        let cases: [(&str, Option<i64>); 14] = [
            ("30s", Some(30 * NS_PER_SEC)),
            ("5m", Some(5 * NS_PER_MIN)),
            ("15min", Some(15 * NS_PER_MIN)),
            ("1h", Some(NS_PER_HOUR)),
            ("0m", None),
            ("5x", None),
            ("m", None),
            ("99999999999h", None),
            ("", None),
            ("5", None),
            ("5d", None),
            ("-5m", None),
            ("5 m", None),
            (" 5m", Some(5 * NS_PER_MIN)),
        ];
        for (text, want) in cases {
            assert_eq!(Timeframe::parse(text).ok().map(|t| t.ns()), want, "{text}");
        }
    }

    #[test]
    fn test_format_duration_units() {
        assert_eq!(format_duration(NS_PER_MIN), "1m");
        assert_eq!(format_duration(15 * NS_PER_MIN), "15m");
        assert_eq!(format_duration(NS_PER_HOUR), "1h");
        assert_eq!(format_duration(90 * NS_PER_SEC), "90s");
    }
}
