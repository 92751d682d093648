//! A fake Alpaca for tests and dry runs: an HTTP server on 127.0.0.1 (an ephemeral port)
//! that speaks the documented JSON of the endpoints quorum uses (the field names and types
//! of docs.alpaca.markets: decimals as strings in the trading API, numbers in market data),
//! with a simple fill model and scriptable faults.
//!
//! Endpoints: `POST /v2/orders`, `GET /v2/orders` (`status=open|closed|all`),
//! `GET /v2/orders/{id}`, `DELETE /v2/orders/{id}` (204; 422 when already final), `GET /v2/orders:by_client_order_id`, `GET /v2/account`,
//! `GET /v2/positions`, `GET /v2/clock`, `GET /v2/stocks/bars` and
//! `GET /v1beta3/crypto/us/bars` (from a [`Bars`] table: `limit` counts bars of all symbols
//! together, sorted by symbol then time, `next_page_token` until `null`). Every trading reply
//! carries `X-RateLimit-Limit/Remaining/Reset`; past 200 requests a minute it answers 429.
//!
//! Fill model: a market order fills at once, in full, at the symbol's price (set with
//! [`FakeAlpaca::set_price`], 100 by default), unless a fault says otherwise. Orders are
//! validated as Alpaca does: a client order id over 128 characters or already used is a
//! 422 (`40010001`, "client_order_id must be unique"), a quantity that is not a positive
//! number is a 422, a buy beyond the cash is a 403 (`40310000`, "insufficient buying
//! power").
//!
//! Faults ([`Fault`]) apply to the next request whose method and path start match: 429
//! with `Retry-After` or `X-RateLimit-Reset`, 500/503, a reply slower than the client's
//! timeout, an order accepted whose reply is lost (the connection closes without a
//! reply), a partial fill, a reject, a malformed body, an HTML error page.
//!
//! Written by hand: no crate provides an Alpaca fake; `tiny_http` carries the HTTP.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::engine::clock::{Clock, WallClock};
use crate::market::Bars;
use crate::market::time::format_ts;

/// A scripted fault (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 429 with these headers (`Retry-After` seconds; `X-RateLimit-Reset` in seconds from now).
    TooMany {
        /// `Retry-After`, seconds.
        retry_after: Option<u64>,
        /// `X-RateLimit-Reset`, seconds from now.
        reset_in: Option<u64>,
    },
    /// This status with Alpaca's JSON error body (500, 503, …).
    Status(u16),
    /// The reply comes after this long (the request is processed first).
    Slow(Duration),
    /// The request is processed (an order is accepted) but the connection closes without a reply.
    LostReply,
    /// The order fills only this fraction now; the rest fills when it is next read.
    PartialFill(f64),
    /// The order is refused with this status (403 buying power, 422 bad order).
    Reject(u16),
    /// 200 with a body that is not JSON.
    Malformed,
    /// 502 with an HTML page (a proxy's error).
    Html,
    /// The request is processed (an order is accepted), then a gateway answers this 5xx
    /// status with its HTML page: the reply says error, but the order is placed.
    AfterStatus(u16),
}

/// One order in the fake's book.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeOrder {
    /// Alpaca's id.
    pub id: String,
    /// Client id.
    pub client_order_id: String,
    /// Symbol.
    pub symbol: String,
    /// `buy` / `sell`.
    pub side: String,
    /// Quantity.
    pub qty: f64,
    /// Filled.
    pub filled_qty: f64,
    /// Average fill price.
    pub filled_avg_price: Option<f64>,
    /// Status.
    pub status: String,
    /// Time in force.
    pub time_in_force: String,
    /// Created (RFC 3339).
    pub created_at: String,
    /// The price the rest fills at, for a partial fill.
    pending_price: f64,
}

impl FakeOrder {
    fn to_json(&self) -> Value {
        let s = |x: f64| format_decimal(x);
        json!({
            "id": self.id, "client_order_id": self.client_order_id,
            "created_at": self.created_at, "updated_at": self.created_at, "submitted_at": self.created_at,
            "filled_at": if self.status == "filled" { Value::from(self.created_at.clone()) } else { Value::Null },
            "expired_at": null, "canceled_at": null, "failed_at": null, "replaced_at": null,
            "replaced_by": null, "replaces": null,
            "asset_id": "00000000-0000-4000-8000-000000000000", "symbol": self.symbol,
            "asset_class": if self.symbol.contains('/') { "crypto" } else { "us_equity" },
            "notional": null, "qty": s(self.qty), "filled_qty": s(self.filled_qty),
            "filled_avg_price": self.filled_avg_price.map(s),
            "order_class": "", "order_type": "market", "type": "market", "side": self.side,
            "time_in_force": self.time_in_force, "limit_price": null, "stop_price": null,
            "status": self.status, "extended_hours": false, "legs": null,
            "trail_percent": null, "trail_price": null, "hwm": null, "subtag": null, "source": null
        })
    }
}

fn format_decimal(x: f64) -> String {
    let s = format!("{x:.9}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" { "0".into() } else { s.to_string() }
}

#[derive(Debug, Default)]
struct State {
    key_id: String,
    secret: String,
    orders: Vec<FakeOrder>,
    by_coid: HashMap<String, usize>,
    positions: BTreeMap<String, (f64, f64)>,
    cash: f64,
    prices: HashMap<String, f64>,
    faults: VecDeque<(String, String, Fault)>,
    sent: VecDeque<Instant>,
    per_minute: usize,
    /// Every `POST /v2/orders` body's client order id, in arrival order (duplicates included).
    posts: Vec<String>,
    bars: Option<Bars>,
    log: Vec<String>,
    /// Orders come back `accepted` with nothing filled and fill when next read (as Alpaca's
    /// paper API does), instead of filling inside the POST.
    fill_on_read: bool,
}

/// The fake server (see the module docs). Stops when dropped.
pub struct FakeAlpaca {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    state: Arc<Mutex<State>>,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for FakeAlpaca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeAlpaca").field("url", &self.url).finish()
    }
}

impl FakeAlpaca {
    /// Starts a fake on 127.0.0.1 that accepts the keys `key_id`/`secret`, with `cash` and,
    /// for the market-data endpoints, `bars`.
    pub fn start(key_id: &str, secret: &str, cash: f64, bars: Option<Bars>) -> std::io::Result<FakeAlpaca> {
        let server = tiny_http::Server::http("127.0.0.1:0").map_err(std::io::Error::other)?;
        let port = server.server_addr().to_ip().map(|a| a.port()).unwrap_or(0);
        let state = Arc::new(Mutex::new(State {
            key_id: key_id.into(),
            secret: secret.into(),
            cash,
            per_minute: 200,
            bars,
            ..Default::default()
        }));
        let server = Arc::new(server);
        let (srv, st) = (server.clone(), state.clone());
        let thread = std::thread::spawn(move || {
            for req in srv.incoming_requests() {
                handle(&st, req);
            }
        });
        Ok(FakeAlpaca { url: format!("http://127.0.0.1:{port}"), state, server, thread: Some(thread) })
    }

    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `fault` for the next request whose method is `method` and whose path starts
    /// with `path`.
    pub fn fault(&self, method: &str, path: &str, fault: Fault) {
        self.st().faults.push_back((method.into(), path.into(), fault));
    }

    /// Faults queued and not yet triggered.
    pub fn pending_faults(&self) -> usize {
        self.st().faults.len()
    }

    /// Sets the price market orders for `symbol` fill at.
    pub fn set_price(&self, symbol: &str, price: f64) {
        self.st().prices.insert(symbol.into(), price);
    }

    /// Orders are accepted unfilled and fill in full when next read (`true`), as Alpaca's
    /// paper API answers a market order; or fill inside the POST (`false`, the default).
    pub fn set_fill_on_read(&self, on: bool) {
        self.st().fill_on_read = on;
    }

    /// Changes `symbol`'s bar at `ts` as a late trade would: a new close (the high and low
    /// widened to hold it) and one more share of volume. False if there is no such bar.
    pub fn revise_bar(&self, symbol: &str, ts: crate::market::Ts, close: f64) -> bool {
        let mut st = self.st();
        let Some(bars) = st.bars.as_mut() else { return false };
        let Some(id) = bars.symbols.iter().position(|s| s == symbol) else { return false };
        let Some(i) = (0..bars.len()).find(|&i| bars.ts[i] == ts && bars.sym[i] as usize == id) else { return false };
        bars.close[i] = close;
        bars.high[i] = bars.high[i].max(close);
        bars.low[i] = bars.low[i].min(close);
        bars.volume[i] += 1.0;
        true
    }

    /// Sets the requests allowed per minute before 429s.
    pub fn set_rate_limit(&self, per_minute: usize) {
        self.st().per_minute = per_minute;
    }

    /// The book: every order, in arrival order.
    pub fn orders(&self) -> Vec<FakeOrder> {
        self.st().orders.clone()
    }

    /// Positions: symbol → signed quantity.
    pub fn positions(&self) -> BTreeMap<String, f64> {
        self.st().positions.iter().map(|(k, v)| (k.clone(), v.0)).collect()
    }

    /// Cash.
    pub fn cash(&self) -> f64 {
        self.st().cash
    }

    /// The client order id of every `POST /v2/orders`, duplicates and rejects included.
    pub fn posts(&self) -> Vec<String> {
        self.st().posts.clone()
    }

    /// One line per request: `METHOD path-and-query -> status` (no headers, so no keys).
    pub fn log(&self) -> Vec<String> {
        self.st().log.clone()
    }
}

impl Drop for FakeAlpaca {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A reply: status, JSON body, extra headers.
struct Reply {
    status: u16,
    body: String,
    headers: Vec<(String, String)>,
}

fn reply(status: u16, body: Value) -> Reply {
    Reply { status, body: body.to_string(), headers: Vec::new() }
}

fn error(status: u16, code: i64, message: &str) -> Reply {
    reply(status, json!({"code": code, "message": message}))
}

fn query(url: &str) -> (String, HashMap<String, String>) {
    let (path, q) = url.split_once('?').unwrap_or((url, ""));
    let params = q
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.split_once('=').or(Some((p, ""))))
        .map(|(k, v)| (k.to_string(), percent_decode(v)))
        .collect();
    (path.to_string(), params)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn handle(state: &Arc<Mutex<State>>, mut req: tiny_http::Request) {
    let method = req.method().as_str().to_string();
    let url = req.url().to_string();
    let mut body = String::new();
    let _ = req.as_reader().read_to_string(&mut body);
    let header = |name: &str| {
        req.headers()
            .iter()
            .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str().to_string())
    };
    let (key, secret) = (header("APCA-API-KEY-ID"), header("APCA-API-SECRET-KEY"));
    let (path, params) = query(&url);
    let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
    if method == "POST" && path == "/v2/orders" {
        let coid = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.get("client_order_id").and_then(|c| c.as_str()).map(str::to_string));
        st.posts.push(coid.unwrap_or_default());
    }
    let fault = st
        .faults
        .iter()
        .position(|(m, p, _)| *m == method && path.starts_with(p.as_str()))
        .and_then(|i| st.faults.remove(i))
        .map(|f| f.2);
    // Rate limit (trading API): a sliding minute.
    let now = Instant::now();
    while st.sent.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60)) {
        st.sent.pop_front();
    }
    let limited = st.sent.len() >= st.per_minute;
    if !limited {
        st.sent.push_back(now);
    }
    let remaining = st.per_minute.saturating_sub(st.sent.len());
    let reset = WallClock.now() / 1_000_000_000 + 60;
    let data = path.starts_with("/v2/stocks") || path.starts_with("/v1beta3/");
    let authorized = key.as_deref() == Some(st.key_id.as_str()) && secret.as_deref() == Some(st.secret.as_str());
    let mut r = if !authorized && !path.starts_with("/v1beta3/crypto") {
        reply(401, json!({"message": "unauthorized."}))
    } else if limited {
        error(429, 42910000, "rate limit exceeded")
    } else {
        match &fault {
            Some(Fault::TooMany { retry_after, reset_in }) => {
                let mut r = error(429, 42910000, "rate limit exceeded");
                if let Some(s) = retry_after {
                    r.headers.push(("Retry-After".into(), s.to_string()));
                }
                if let Some(s) = reset_in {
                    r.headers
                        .push(("X-RateLimit-Reset".into(), (WallClock.now() / 1_000_000_000 + *s as i64).to_string()));
                    r.headers.push(("X-RateLimit-Remaining".into(), "0".into()));
                }
                r
            }
            Some(Fault::Status(s)) => error(*s, i64::from(*s) * 100_000, "internal server error"),
            Some(Fault::Malformed) => Reply { status: 200, body: "{\"id\": \"trunc".into(), headers: Vec::new() },
            Some(Fault::Html) => Reply {
                status: 502,
                body: "<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>".into(),
                headers: vec![("Content-Type".into(), "text/html".into())],
            },
            Some(Fault::Reject(403)) => reply(
                403,
                json!({"buying_power": format_decimal(st.cash), "code": 40310000, "message": "insufficient buying power"}),
            ),
            Some(Fault::Reject(s)) => error(*s, 42210000, "order rejected by the fake"),
            Some(Fault::AfterStatus(s)) => {
                let _ = route(&mut st, &method, &path, &params, &body, None);
                Reply {
                    status: *s,
                    body: format!("<html><body>{s} Gateway error</body></html>"),
                    headers: vec![("Content-Type".into(), "text/html".into())],
                }
            }
            _ => route(&mut st, &method, &path, &params, &body, fault.as_ref()),
        }
    };
    if !data && !r.headers.iter().any(|h| h.0 == "X-RateLimit-Reset") {
        r.headers.push(("X-RateLimit-Limit".into(), st.per_minute.to_string()));
        r.headers.push(("X-RateLimit-Remaining".into(), remaining.to_string()));
        r.headers.push(("X-RateLimit-Reset".into(), reset.to_string()));
    }
    st.log.push(format!("{method} {url} -> {}", if fault == Some(Fault::LostReply) { 0 } else { r.status }));
    drop(st);
    match fault {
        Some(Fault::LostReply) => {
            // Processed, then the connection closes with nothing written.
            let mut w = req.into_writer();
            let _ = w.flush();
        }
        Some(Fault::Slow(d)) => {
            std::thread::spawn(move || {
                std::thread::sleep(d);
                respond(req, r);
            });
        }
        _ => respond(req, r),
    }
}

fn respond(req: tiny_http::Request, r: Reply) {
    let mut resp = tiny_http::Response::from_string(r.body).with_status_code(r.status);
    let mut typed = false;
    for (k, v) in &r.headers {
        typed |= k.eq_ignore_ascii_case("content-type");
        if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            resp.add_header(h);
        }
    }
    if !typed && let Ok(h) = tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]) {
        resp.add_header(h);
    }
    // One request per connection: tiny_http writes a reply in several small segments, and
    // on a kept-alive connection Nagle's algorithm meets the client's delayed ACK (~40 ms a
    // request on Linux); closing flushes at once.
    if let Ok(h) = tiny_http::Header::from_bytes(&b"Connection"[..], &b"close"[..]) {
        resp.add_header(h);
    }
    let _ = req.respond(resp);
}

fn route(
    st: &mut State,
    method: &str,
    path: &str,
    params: &HashMap<String, String>,
    body: &str,
    fault: Option<&Fault>,
) -> Reply {
    match (method, path) {
        ("POST", "/v2/orders") => place(st, body, fault),
        ("GET", "/v2/orders:by_client_order_id") => {
            let coid = params.get("client_order_id").cloned().unwrap_or_default();
            match st.by_coid.get(&coid).copied() {
                Some(i) => {
                    progress(st, i);
                    reply(200, st.orders[i].to_json())
                }
                None => error(404, 40410000, "order not found"),
            }
        }
        ("GET", "/v2/orders") => {
            let status = params.get("status").map_or("open", |s| s.as_str());
            for i in 0..st.orders.len() {
                progress(st, i);
            }
            let list: Vec<Value> = st
                .orders
                .iter()
                .filter(|o| {
                    let open = !matches!(o.status.as_str(), "filled" | "canceled" | "rejected" | "expired");
                    status == "all" || (status == "open") == open
                })
                .map(FakeOrder::to_json)
                .collect();
            reply(200, Value::Array(list))
        }
        ("DELETE", p) if p.starts_with("/v2/orders/") => {
            let id = &p["/v2/orders/".len()..];
            match st.orders.iter_mut().find(|o| o.id == id) {
                Some(o) if matches!(o.status.as_str(), "new" | "accepted" | "partially_filled") => {
                    o.status = "canceled".into();
                    Reply { status: 204, body: String::new(), headers: Vec::new() }
                }
                Some(o) => error(422, 42210000, &format!("order is already in \"{}\" state", o.status)),
                None => error(404, 40410000, "order not found"),
            }
        }
        ("GET", p) if p.starts_with("/v2/orders/") => {
            let id = &p["/v2/orders/".len()..];
            match st.orders.iter().position(|o| o.id == id) {
                Some(i) => {
                    progress(st, i);
                    reply(200, st.orders[i].to_json())
                }
                None => error(404, 40410000, "order not found"),
            }
        }
        ("GET", "/v2/account") => {
            let value: f64 =
                st.positions.iter().map(|(sym, (q, _))| q * st.prices.get(sym).copied().unwrap_or(100.0)).sum();
            let (cash, equity) = (format_decimal(st.cash), format_decimal(st.cash + value));
            reply(
                200,
                json!({"id": "1d9eed04-be39-4e01-9b84-a48ac5bbafcf", "account_number": "PA0FAKE", "status": "ACTIVE",
                    "currency": "USD", "cash": cash, "equity": equity, "portfolio_value": equity,
                    "buying_power": cash, "trading_blocked": false, "account_blocked": false,
                    "pattern_day_trader": false, "multiplier": "1", "daytrade_count": 0}),
            )
        }
        ("GET", "/v2/positions") => {
            let list: Vec<Value> = st
                .positions
                .iter()
                .filter(|(_, (q, _))| *q != 0.0)
                .map(|(sym, (q, avg))| {
                    json!({"asset_id": "00000000-0000-4000-8000-000000000000", "symbol": sym.replace('/', ""),
                        "exchange": "NYSE", "asset_class": "us_equity", "qty": format_decimal(*q),
                        "qty_available": format_decimal(*q), "avg_entry_price": format_decimal(*avg),
                        "side": if *q < 0.0 { "short" } else { "long" }})
                })
                .collect();
            reply(200, Value::Array(list))
        }
        ("GET", "/v2/clock") => reply(
            200,
            json!({"timestamp": format_ts(WallClock.now()), "is_open": true,
                "next_open": format_ts(WallClock.now()), "next_close": format_ts(WallClock.now())}),
        ),
        ("GET", "/v2/stocks/bars") | ("GET", "/v1beta3/crypto/us/bars") => bars_page(st, params),
        _ => error(404, 40410000, "endpoint not found"),
    }
}

/// A partly filled (or accepted, unfilled) order fills its rest the next time it is read.
fn progress(st: &mut State, i: usize) {
    let o = &st.orders[i];
    if o.status != "partially_filled" && o.status != "accepted" {
        return;
    }
    let (rest, price, symbol, side) = (o.qty - o.filled_qty, o.pending_price, o.symbol.clone(), o.side.clone());
    execute(st, &symbol, &side, rest, price);
    let o = &mut st.orders[i];
    let avg = o.filled_avg_price.unwrap_or(price);
    o.filled_avg_price = Some((avg * o.filled_qty + price * rest) / o.qty);
    o.filled_qty = o.qty;
    o.status = "filled".into();
}

fn execute(st: &mut State, symbol: &str, side: &str, qty: f64, price: f64) {
    let signed = if side == "sell" { -qty } else { qty };
    st.cash -= signed * price;
    let p = st.positions.entry(symbol.to_string()).or_insert((0.0, 0.0));
    let new = p.0 + signed;
    if new.abs() < 1e-12 {
        *p = (0.0, 0.0);
    } else if p.0 == 0.0 || p.0.signum() == signed.signum() {
        *p = (new, (p.0 * p.1 + signed * price) / new);
    } else {
        p.0 = new;
    }
}

fn place(st: &mut State, body: &str, fault: Option<&Fault>) -> Reply {
    let v: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(_) => return error(422, 40010000, "request body format is invalid"),
    };
    let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let coid = text("client_order_id").unwrap_or_else(|| format!("fake-{}", st.orders.len() + 1));
    if coid.len() > 128 {
        return error(422, 40010001, "client_order_id must be no more than 128 characters");
    }
    if st.by_coid.contains_key(&coid) {
        return error(422, 40010001, "client_order_id must be unique");
    }
    let qty = match v.get("qty") {
        Some(Value::String(s)) => s.parse::<f64>().ok(),
        Some(Value::Number(n)) => n.as_f64(),
        _ => None,
    };
    let Some(qty) = qty.filter(|q| q.is_finite() && *q > 0.0) else {
        return error(422, 40010001, "qty must be > 0");
    };
    let (Some(symbol), Some(side)) = (text("symbol"), text("side")) else {
        return error(422, 40010001, "symbol and side are required");
    };
    if side != "buy" && side != "sell" {
        return error(422, 40010001, "invalid side");
    }
    let tif = text("time_in_force").unwrap_or_default();
    let crypto = symbol.contains('/');
    if (crypto && !matches!(tif.as_str(), "gtc" | "ioc"))
        || (!crypto && !matches!(tif.as_str(), "day" | "gtc" | "ioc" | "fok" | "opg" | "cls"))
    {
        return error(422, 40010001, "invalid time_in_force");
    }
    let price = st.prices.get(&symbol).copied().unwrap_or(100.0);
    if side == "buy" && qty * price > st.cash.max(0.0) * 2.0 {
        return reply(
            403,
            json!({"buying_power": format_decimal(st.cash), "code": 40310000, "message": "insufficient buying power"}),
        );
    }
    let n = st.orders.len() + 1;
    let part = match fault {
        Some(Fault::PartialFill(f)) => (qty * f.clamp(0.0, 1.0)).floor().max(if crypto { 0.0 } else { 1.0 }).min(qty),
        _ if st.fill_on_read => 0.0,
        _ => qty,
    };
    execute(st, &symbol, &side, part, price);
    let order = FakeOrder {
        id: format!("{:08x}-0000-4000-8000-{:012x}", n, n),
        client_order_id: coid.clone(),
        symbol,
        side,
        qty,
        filled_qty: part,
        filled_avg_price: (part > 0.0).then_some(price),
        status: if part == 0.0 {
            "accepted".into()
        } else if part < qty {
            "partially_filled".into()
        } else {
            "filled".into()
        },
        time_in_force: tif,
        created_at: format_ts(WallClock.now()),
        pending_price: price,
    };
    st.by_coid.insert(coid, st.orders.len());
    st.orders.push(order.clone());
    reply(200, order.to_json())
}

fn bars_page(st: &State, params: &HashMap<String, String>) -> Reply {
    let Some(bars) = &st.bars else { return reply(200, json!({"bars": {}, "next_page_token": null})) };
    let symbols: Vec<String> =
        params.get("symbols").map(|s| s.split(',').map(|x| x.trim().to_string()).collect()).unwrap_or_default();
    if symbols.is_empty() || params.get("timeframe").is_none() {
        return error(400, 40010001, "symbols and timeframe are required");
    }
    let bound = |k: &str| params.get(k).and_then(|s| crate::market::time::parse_rfc3339(s));
    let (start, end) = (bound("start").unwrap_or(i64::MIN), bound("end").unwrap_or(i64::MAX));
    let limit: usize = params.get("limit").and_then(|s| s.parse().ok()).unwrap_or(1000).clamp(1, 10_000);
    let offset: usize =
        params.get("page_token").and_then(|s| s.strip_prefix("o").and_then(|x| x.parse().ok())).unwrap_or(0);
    let mut sorted: Vec<&String> = symbols.iter().collect();
    sorted.sort();
    // Every matching bar, by symbol then time; a page is `limit` of them from `offset`.
    let mut all: Vec<(String, usize)> = Vec::new();
    for sym in sorted {
        let Some(id) = bars.symbols.iter().position(|s| s == sym) else { continue };
        for i in 0..bars.len() {
            if bars.sym[i] as usize == id && bars.ts[i] >= start && bars.ts[i] <= end {
                all.push((sym.clone(), i));
            }
        }
    }
    let page = &all[offset.min(all.len())..(offset + limit).min(all.len())];
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (sym, i) in page {
        let b = bars.bar(*i);
        out.entry(sym.clone()).or_default().push(json!({"t": format_ts(b.ts), "o": b.open, "h": b.high, "l": b.low,
            "c": b.close, "v": b.volume, "n": 1, "vw": b.close}));
    }
    let next = (offset + limit < all.len()).then(|| format!("o{}", offset + limit));
    reply(200, json!({"bars": out, "next_page_token": next}))
}
