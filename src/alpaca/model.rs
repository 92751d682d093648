//! Alpaca's JSON, as documented (docs.alpaca.markets, cross-checked with alpaca-py and the
//! `apca` crate; see /work/notes/alpaca-api.md in the team's notes). The trading API sends
//! decimals as JSON strings; market data sends numbers. Every optional field is an
//! `Option`, and unknown fields are ignored, so a reply with more fields (Alpaca adds them)
//! still parses.

use serde::{Deserialize, Deserializer, Serialize};

/// A decimal as the trading API sends it: a string (`"184.05"`), or a number.
#[derive(Deserialize)]
#[serde(untagged)]
enum Num {
    S(String),
    F(f64),
}

impl Num {
    fn value<E: serde::de::Error>(self) -> Result<f64, E> {
        match self {
            Num::F(x) => Ok(x),
            Num::S(s) => s.trim().parse::<f64>().map_err(|_| E::custom(format!("not a decimal: {s:?}"))),
        }
    }
}

/// A decimal the trading API sends as a string (`"184.05"`); a number is accepted too.
pub fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Num::deserialize(d)?.value()
}

/// An optional decimal (`null` or a string or a number).
pub fn opt_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Option::<Num>::deserialize(d)?.map(Num::value).transpose()
}

/// Alpaca's terminal order states: nothing more will fill.
pub fn is_final_status(status: &str) -> bool {
    matches!(status, "filled" | "canceled" | "expired" | "rejected" | "replaced" | "done_for_day")
}

/// An order as the trading API returns it (the fields quorum reads; see the module docs).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Order {
    /// Alpaca's order id (a UUID).
    pub id: String,
    /// Our client order id.
    pub client_order_id: String,
    /// The symbol (`SPY`, `BTC/USD`).
    pub symbol: String,
    /// `buy` or `sell`.
    pub side: String,
    /// Ordered quantity (absent for notional orders).
    #[serde(default, deserialize_with = "opt_decimal")]
    pub qty: Option<f64>,
    /// Filled so far (unsigned).
    #[serde(deserialize_with = "decimal")]
    pub filled_qty: f64,
    /// Average fill price, once something filled.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub filled_avg_price: Option<f64>,
    /// `new`, `accepted`, `partially_filled`, `filled`, `canceled`, `rejected`, …
    pub status: String,
    /// Time in force.
    #[serde(default)]
    pub time_in_force: String,
    /// Order type.
    #[serde(rename = "type", default)]
    pub order_type: String,
    /// When it was created (RFC 3339).
    #[serde(default)]
    pub created_at: Option<String>,
    /// When it filled in full.
    #[serde(default)]
    pub filled_at: Option<String>,
}

impl Order {
    /// Nothing more will fill (Alpaca's terminal states).
    pub fn is_final(&self) -> bool {
        is_final_status(&self.status)
    }

    /// Signed filled quantity (sells negative).
    pub fn signed_filled(&self) -> f64 {
        if self.side == "sell" { -self.filled_qty } else { self.filled_qty }
    }
}

/// The body of `POST /v2/orders`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewOrder {
    /// Symbol.
    pub symbol: String,
    /// Unsigned quantity, as a decimal string.
    pub qty: String,
    /// `buy` or `sell`.
    pub side: String,
    /// `market`.
    #[serde(rename = "type")]
    pub order_type: String,
    /// `day` for stocks, `gtc` for crypto.
    pub time_in_force: String,
    /// Our deterministic id (`broker::ids`).
    pub client_order_id: String,
}

/// `GET /v2/account` (the fields quorum reads).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Account {
    /// Cash.
    #[serde(deserialize_with = "decimal")]
    pub cash: f64,
    /// Equity.
    #[serde(deserialize_with = "decimal")]
    pub equity: f64,
    /// Buying power.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub buying_power: Option<f64>,
    /// `ACTIVE`, …
    #[serde(default)]
    pub status: String,
    /// Trading blocked by Alpaca.
    #[serde(default)]
    pub trading_blocked: bool,
}

/// One of `GET /v2/positions`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Position {
    /// Symbol (crypto without the slash in some replies: `BTCUSD`).
    pub symbol: String,
    /// Signed quantity (negative when short).
    #[serde(deserialize_with = "decimal")]
    pub qty: f64,
    /// Average entry price.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub avg_entry_price: Option<f64>,
}

/// Alpaca's error body: `{"code": 40010001, "message": "..."}` (data errors may have no code).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
pub struct ApiError {
    /// Alpaca's code.
    #[serde(default)]
    pub code: Option<i64>,
    /// The message.
    #[serde(default)]
    pub message: String,
}

/// One bar of the market-data API.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Bar {
    /// Bar start, RFC 3339.
    pub t: String,
    /// Open.
    pub o: f64,
    /// High.
    pub h: f64,
    /// Low.
    pub l: f64,
    /// Close.
    pub c: f64,
    /// Volume (fractional for crypto).
    pub v: f64,
    /// Trades.
    #[serde(default)]
    pub n: Option<u64>,
    /// VWAP.
    #[serde(default)]
    pub vw: Option<f64>,
}

/// A page of `GET /v2/stocks/bars` or `/v1beta3/crypto/us/bars`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct BarsPage {
    /// Bars by symbol (a symbol without bars is absent).
    #[serde(default)]
    pub bars: std::collections::BTreeMap<String, Vec<Bar>>,
    /// The next page, or `null` on the last.
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented example replies parse: strings and numbers for decimals, nulls,
    /// unknown fields ignored.
    #[test]
    fn test_documented_replies_parse() {
        let o: Order = serde_json::from_str(
            r#"{"id":"7b08df51-c1ac-453c-99f9-323a5f075f0d","client_order_id":"q1-0-0-0","created_at":"2023-12-12T22:31:24.668464435Z",
            "symbol":"AAPL","asset_class":"us_equity","notional":null,"qty":"2","filled_qty":"0","filled_avg_price":null,
            "order_class":"","order_type":"market","type":"market","side":"buy","time_in_force":"day","status":"accepted",
            "extended_hours":false,"legs":null,"subtag":null}"#,
        )
        .unwrap();
        assert_eq!((o.qty, o.filled_qty, o.filled_avg_price, o.is_final()), (Some(2.0), 0.0, None, false));
        let f: Order = serde_json::from_str(
            r#"{"id":"a","client_order_id":"b","symbol":"SPY","side":"sell","qty":3.5,"filled_qty":"3.5","filled_avg_price":"105.8988475","status":"filled"}"#,
        )
        .unwrap();
        assert_eq!((f.signed_filled(), f.filled_avg_price, f.is_final()), (-3.5, Some(105.8988475), true));
        let p: BarsPage = serde_json::from_str(
            r#"{"bars":{"SPY":[{"t":"2024-01-03T14:30:00Z","o":470.43,"h":470.66,"l":470.1,"c":470.2,"v":912233,"n":6412,"vw":470.372934}]},"next_page_token":null}"#,
        )
        .unwrap();
        assert_eq!(p.bars["SPY"][0].c, 470.2);
        assert!(
            serde_json::from_str::<Order>(
                r#"{"id":"a","client_order_id":"b","symbol":"S","side":"buy","filled_qty":"x","status":"new"}"#
            )
            .is_err()
        );
    }
}
