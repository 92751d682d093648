//! Historical bars from Alpaca's market-data API, in quorum's canonical layout.
//!
//! Stocks come from `GET /v2/stocks/bars` (`feed` iex by default, sip selectable,
//! `adjustment=raw`: quorum adjusts splits itself), crypto pairs (`BTC/USD`) from
//! `GET /v1beta3/crypto/us/bars`. Pages are followed with `page_token` until
//! `next_page_token` is `null`; `limit` counts the bars of all symbols together, and a page
//! may stop mid-symbol (bars come sorted by symbol, then time), so rows are gathered from
//! every page before the table is built: symbols in alphabetical order (their index is
//! their id, as the loader makes it), rows by time then symbol. A bar that comes twice for
//! the same symbol and time is kept once (the first) and counted.

use std::collections::BTreeMap;

use super::http::{AlpacaError, Http};
use super::model::BarsPage;
use super::trading::encode;
use crate::market::time::{format_ts, parse_rfc3339};
use crate::market::{Bar, Bars, Ts};

/// What [`fetch_bars`] returns besides the table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FetchReport {
    /// Pages read.
    pub pages: usize,
    /// Bars received for a (symbol, time) already seen, dropped.
    pub duplicates: usize,
}

/// Alpaca's timeframe for an interval in ns (`1Min`, `5Min`, `1Hour`, `1Day`), if Alpaca
/// has one.
pub fn timeframe(interval_ns: i64) -> Option<String> {
    let min = interval_ns / crate::market::time::NS_PER_MIN;
    if interval_ns % crate::market::time::NS_PER_MIN != 0 || min <= 0 {
        return None;
    }
    Some(match min {
        1..=59 => format!("{min}Min"),
        m if m % (24 * 60) == 0 && m == 24 * 60 => "1Day".to_string(),
        m if m % 60 == 0 && m / 60 <= 23 => format!("{}Hour", m / 60),
        _ => return None,
    })
}

/// Bars of `symbols` at `timeframe` (Alpaca's spelling) from `start` to `end` (inclusive, as
/// Alpaca reads them), stocks from `feed` (`iex` or `sip`), `page_limit` bars a page
/// (Alpaca's maximum is 10,000).
pub fn fetch_bars(
    http: &mut Http,
    symbols: &[String],
    timeframe: &str,
    (start, end): (Ts, Ts),
    feed: &str,
    page_limit: usize,
) -> Result<(Bars, FetchReport), AlpacaError> {
    let mut rows: BTreeMap<(Ts, String), [f64; 5]> = BTreeMap::new();
    let mut report = FetchReport::default();
    let (crypto, stocks): (Vec<&String>, Vec<&String>) = symbols.iter().partition(|s| s.contains('/'));
    for (base, group, extra) in [
        ("/v2/stocks/bars", stocks, format!("&feed={}&adjustment=raw", encode(feed))),
        ("/v1beta3/crypto/us/bars", crypto, String::new()),
    ] {
        if group.is_empty() {
            continue;
        }
        let list: Vec<String> = group.iter().map(|s| encode(s)).collect();
        let mut token: Option<String> = None;
        let mut seen = std::collections::BTreeSet::new();
        loop {
            let mut path = format!(
                "{base}?symbols={}&timeframe={}&start={}&end={}&limit={}&sort=asc{extra}",
                list.join(","),
                encode(timeframe),
                encode(&format_ts(start)),
                encode(&format_ts(end)),
                page_limit.clamp(1, 10_000),
            );
            if let Some(t) = &token {
                path.push_str(&format!("&page_token={}", encode(t)));
            }
            let page: BarsPage = http.get(&path)?;
            report.pages += 1;
            for (sym, bars) in page.bars {
                for b in bars {
                    let ts = parse_rfc3339(&b.t).ok_or_else(|| AlpacaError::Malformed {
                        method: "GET",
                        path: base.into(),
                        detail: format!("bar of {sym}: time {:?} is not RFC 3339", b.t),
                        excerpt: String::new(),
                    })?;
                    match rows.entry((ts, sym.clone())) {
                        std::collections::btree_map::Entry::Occupied(_) => report.duplicates += 1,
                        std::collections::btree_map::Entry::Vacant(v) => {
                            v.insert([b.o, b.h, b.l, b.c, b.v]);
                        }
                    }
                }
            }
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(t) if seen.insert(t.clone()) => token = Some(t),
                Some(t) => {
                    return Err(AlpacaError::Malformed {
                        method: "GET",
                        path: base.into(),
                        detail: format!("next_page_token {t:?} came back: the pages would never end"),
                        excerpt: String::new(),
                    });
                }
                None => break,
            }
        }
    }
    let mut names: Vec<String> = rows.keys().map(|(_, s)| s.clone()).collect();
    names.sort();
    names.dedup();
    let mut bars = Bars { symbols: names.clone(), ..Default::default() };
    for ((ts, sym), [open, high, low, close, volume]) in rows {
        let symbol = names.binary_search(&sym).unwrap_or(0) as u32;
        bars.push(Bar { ts, symbol, open, high, low, close, volume });
    }
    Ok((bars, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_timeframes_in_alpacas_spelling() {
        let m = crate::market::time::NS_PER_MIN;
        assert_eq!(timeframe(m).as_deref(), Some("1Min"));
        assert_eq!(timeframe(15 * m).as_deref(), Some("15Min"));
        assert_eq!(timeframe(60 * m).as_deref(), Some("1Hour"));
        assert_eq!(timeframe(24 * 60 * m).as_deref(), Some("1Day"));
        assert_eq!(timeframe(90 * m), None);
        assert_eq!(timeframe(m / 2), None);
    }
}
