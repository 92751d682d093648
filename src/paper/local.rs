//! The local paper broker: the backtest's fill model ([`SimBroker`]: market orders at the
//! next bar's open, with the same costs and participation cap) behind a durable book of its
//! own, `broker.db` in the state folder, so that it behaves as a remote broker would across
//! a crash of the paper runner:
//!
//! - an order is known by its client order id: placing an id the book already holds
//!   returns the order on record and trades nothing ([`LocalBroker::place`] is idempotent);
//! - the book remembers, per symbol, the latest bar whose open it processed with an order
//!   working; a bar at or before that mark answers from the record (the fill it made, or
//!   none) instead of trading again ([`LocalBroker::on_open`] is idempotent per bar);
//! - every placement and every processed open is one SQLite transaction (WAL, `synchronous
//!   = FULL`), committed before the call returns, so what the runner was told is on disk.
//!
//! What it keeps in memory only is the previous bar's volume per symbol (the participation
//! cap's input), which the runner's replay of the journaled bars restores exactly: every bar
//! passes through [`LocalBroker::on_open`], recorded or not.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use crate::broker::{Instrument, Order, OrderId, SimBroker};
use crate::market::{Bar, SymbolId, Ts};
use crate::portfolio::{CostConfig, Fill, QTY_EPS};

/// The book's format version.
const FORMAT: i64 = 1;

/// The local broker failed: its book could not be read or written, or belongs to another
/// universe.
#[derive(Debug, thiserror::Error)]
pub enum LocalBrokerError {
    /// SQLite failed on the book.
    #[error("{path}: the local broker's book: {error}")]
    Db {
        /// `broker.db`.
        path: PathBuf,
        /// What SQLite said.
        error: rusqlite::Error,
    },
    /// The book was written for other symbols or by a newer build.
    #[error("{path}: {reason}")]
    Foreign {
        /// `broker.db`.
        path: PathBuf,
        /// What does not match.
        reason: String,
    },
}

/// Where an order stands at the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    /// Accepted and (partly) unfilled: it may still fill.
    Working,
    /// Filled in full (a remainder under one whole share is cancelled with it).
    Filled,
    /// A later order for the same symbol replaced its unfilled rest.
    Replaced,
    /// Nothing to trade (a zero quantity: it only cancelled the symbol's working order).
    Canceled,
}

impl OrderStatus {
    /// The status's name in the books and the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Working => "working",
            OrderStatus::Filled => "filled",
            OrderStatus::Replaced => "replaced",
            OrderStatus::Canceled => "canceled",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "working" => OrderStatus::Working,
            "filled" => OrderStatus::Filled,
            "replaced" => OrderStatus::Replaced,
            "canceled" => OrderStatus::Canceled,
            _ => return None,
        })
    }

    /// Nothing more will happen to the order.
    pub fn is_final(self) -> bool {
        self != OrderStatus::Working
    }
}

/// An order as the broker's book holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRecord {
    /// The broker's id.
    pub id: OrderId,
    /// The client order id it was placed under.
    pub coid: String,
    /// The order as placed.
    pub order: Order,
    /// Quantity filled so far (signed).
    pub filled: f64,
    /// Where it stands.
    pub status: OrderStatus,
}

/// The durable local broker (see the module docs).
pub struct LocalBroker {
    path: PathBuf,
    db: Connection,
    sim: SimBroker,
    /// Per symbol: the latest bar whose open was processed with an order working.
    seen: Vec<Ts>,
    /// The fills on record, by (symbol, bar start).
    fills: HashMap<(SymbolId, Ts), (OrderId, Fill)>,
    orders: Vec<OrderRecord>,
    by_coid: HashMap<String, usize>,
}

impl std::fmt::Debug for LocalBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBroker").field("path", &self.path).field("orders", &self.orders.len()).finish()
    }
}

impl LocalBroker {
    /// Opens (or creates) the book at `path` for `symbols` traded as `instruments`, with the
    /// cost model `costs`.
    pub fn open(
        path: &Path,
        symbols: &[String],
        costs: CostConfig,
        instruments: Vec<Instrument>,
    ) -> Result<Self, LocalBrokerError> {
        let db_err = |error| LocalBrokerError::Db { path: path.to_path_buf(), error };
        let db = Connection::open(path).map_err(db_err)?;
        super::journal::pragmas(&db).map_err(db_err)?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS orders(id INTEGER PRIMARY KEY, coid TEXT UNIQUE NOT NULL,
                symbol INTEGER NOT NULL, qty REAL NOT NULL, decided_at INTEGER NOT NULL,
                filled REAL NOT NULL, status TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS working(symbol INTEGER PRIMARY KEY, id INTEGER NOT NULL,
                qty REAL NOT NULL, decided_at INTEGER NOT NULL, paid_rate REAL);
             CREATE TABLE IF NOT EXISTS fills(symbol INTEGER NOT NULL, ts INTEGER NOT NULL,
                id INTEGER NOT NULL, decided_at INTEGER NOT NULL, qty REAL NOT NULL, price REAL NOT NULL,
                commission REAL NOT NULL, slippage REAL NOT NULL, PRIMARY KEY(symbol, ts));
             CREATE TABLE IF NOT EXISTS seen(symbol INTEGER PRIMARY KEY, ts INTEGER NOT NULL);",
        )
        .map_err(db_err)?;
        let foreign = |reason: String| LocalBrokerError::Foreign { path: path.to_path_buf(), reason };
        let names = serde_json::to_string(symbols).unwrap_or_default();
        let meta = |k: &str| -> Result<Option<String>, rusqlite::Error> {
            db.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0)).optional()
        };
        match (meta("format").map_err(db_err)?, meta("symbols").map_err(db_err)?) {
            (None, _) => {
                db.execute(
                    "INSERT INTO meta VALUES ('format', ?1), ('symbols', ?2)",
                    params![FORMAT.to_string(), names],
                )
                .map_err(db_err)?;
            }
            (Some(f), s) => {
                if f.parse::<i64>().ok() != Some(FORMAT) {
                    return Err(foreign(format!("book format {f}; this build reads format {FORMAT}")));
                }
                if s.as_deref() != Some(names.as_str()) {
                    return Err(foreign(format!(
                        "the book is for the symbols {}, this run trades {names}",
                        s.unwrap_or_default()
                    )));
                }
            }
        }
        let mut sim = SimBroker::new(costs, instruments);
        let n = symbols.len();
        let mut seen = vec![i64::MIN; n];
        let mut orders = Vec::new();
        let mut fills = HashMap::new();
        {
            let mut q = db
                .prepare("SELECT id, coid, symbol, qty, decided_at, filled, status FROM orders ORDER BY id")
                .map_err(db_err)?;
            let rows = q
                .query_map([], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, f64>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, f64>(5)?,
                        r.get::<_, String>(6)?,
                    ))
                })
                .map_err(db_err)?;
            for row in rows {
                let (id, coid, symbol, qty, decided_at, filled, status) = row.map_err(db_err)?;
                let status = OrderStatus::parse(&status)
                    .ok_or_else(|| foreign(format!("order {coid}: unknown status {status:?}")))?;
                orders.push(OrderRecord {
                    id: OrderId(id as u64),
                    coid,
                    order: Order { symbol: symbol as SymbolId, qty, decided_at },
                    filled,
                    status,
                });
            }
            let mut q = db.prepare("SELECT symbol, id, qty, decided_at, paid_rate FROM working").map_err(db_err)?;
            let rows = q
                .query_map([], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, f64>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, Option<f64>>(4)?,
                    ))
                })
                .map_err(db_err)?;
            for row in rows {
                let (s, id, qty, decided_at, paid) = row.map_err(db_err)?;
                let s = s as usize;
                if s >= n {
                    return Err(foreign(format!("a working order for symbol #{s}, beyond the {n} symbols")));
                }
                sim.restore(s, Some((Order { symbol: s as SymbolId, qty, decided_at }, OrderId(id as u64), paid)));
            }
            let mut q = db.prepare("SELECT symbol, ts FROM seen").map_err(db_err)?;
            for row in q.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))).map_err(db_err)? {
                let (s, ts) = row.map_err(db_err)?;
                if let Some(x) = seen.get_mut(s as usize) {
                    *x = ts;
                }
            }
            let mut q = db
                .prepare("SELECT symbol, ts, id, decided_at, qty, price, commission, slippage FROM fills")
                .map_err(db_err)?;
            let rows = q
                .query_map([], |r| {
                    let fill = Fill {
                        symbol: r.get::<_, i64>(0)? as SymbolId,
                        ts: r.get(1)?,
                        decided_at: r.get(3)?,
                        qty: r.get(4)?,
                        price: r.get(5)?,
                        commission: r.get(6)?,
                        slippage: r.get(7)?,
                    };
                    Ok((OrderId(r.get::<_, i64>(2)? as u64), fill))
                })
                .map_err(db_err)?;
            for row in rows {
                let (id, fill) = row.map_err(db_err)?;
                fills.insert((fill.symbol, fill.ts), (id, fill));
            }
        }
        let by_coid = orders.iter().enumerate().map(|(i, o)| (o.coid.clone(), i)).collect();
        Ok(LocalBroker { path: path.to_path_buf(), db, sim, seen, fills, orders, by_coid })
    }

    fn db_err(&self, error: rusqlite::Error) -> LocalBrokerError {
        LocalBrokerError::Db { path: self.path.clone(), error }
    }

    /// The order placed under `coid`, if the book holds it.
    pub fn lookup(&self, coid: &str) -> Option<&OrderRecord> {
        self.by_coid.get(coid).map(|&i| &self.orders[i])
    }

    /// The order with the broker's id `id`.
    pub fn by_id(&self, id: OrderId) -> Option<&OrderRecord> {
        // Ids are 1, 2, … in placement order.
        self.orders.get((id.0 as usize).wrapping_sub(1)).filter(|o| o.id == id)
    }

    /// Every order on the book, in placement order.
    pub fn orders(&self) -> &[OrderRecord] {
        &self.orders
    }

    /// Every fill on the book, in (bar start, symbol) order.
    pub fn fills(&self) -> Vec<(OrderId, Fill)> {
        let mut v: Vec<(OrderId, Fill)> = self.fills.values().cloned().collect();
        v.sort_by_key(|(_, f)| (f.ts, f.symbol));
        v
    }

    /// Places `order` under the client order id `coid`, replacing the symbol's working
    /// order; returns the order on record and whether it is new. An id the book already
    /// holds trades nothing: it returns that order.
    pub fn place(&mut self, coid: &str, order: Order) -> Result<(OrderRecord, bool), LocalBrokerError> {
        if let Some(o) = self.lookup(coid) {
            return Ok((o.clone(), false));
        }
        let s = order.symbol as usize;
        let id = OrderId(self.orders.last().map_or(1, |o| o.id.0 + 1));
        let status = if order.qty.abs() > QTY_EPS { OrderStatus::Working } else { OrderStatus::Canceled };
        let replaced = self.sim.working(s).map(|(_, old, _)| old);
        let tx = self.db.unchecked_transaction().map_err(|e| self.db_err(e))?;
        let r: Result<(), rusqlite::Error> = (|| {
            tx.execute(
                "INSERT INTO orders(id, coid, symbol, qty, decided_at, filled, status) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
                params![id.0 as i64, coid, s as i64, order.qty, order.decided_at, status.as_str()],
            )?;
            if let Some(old) = replaced {
                tx.execute("UPDATE orders SET status = 'replaced' WHERE id = ?1", [old.0 as i64])?;
            }
            if status == OrderStatus::Working {
                tx.execute(
                    "INSERT OR REPLACE INTO working(symbol, id, qty, decided_at, paid_rate) VALUES (?1, ?2, ?3, ?4, NULL)",
                    params![s as i64, id.0 as i64, order.qty, order.decided_at],
                )?;
            } else {
                tx.execute("DELETE FROM working WHERE symbol = ?1", [s as i64])?;
            }
            Ok(())
        })();
        r.map_err(|e| self.db_err(e))?;
        crate::run::fault("broker-place");
        tx.commit().map_err(|e| self.db_err(e))?;
        if let Some(old) = replaced
            && let Some(o) = self.orders.iter_mut().rev().find(|o| o.id == old)
        {
            o.status = OrderStatus::Replaced;
        }
        self.sim.place(order, id);
        let rec = OrderRecord { id, coid: coid.to_string(), order, filled: 0.0, status };
        self.by_coid.insert(coid.to_string(), self.orders.len());
        self.orders.push(rec.clone());
        Ok((rec, true))
    }

    /// Bar `bar` has opened: the fill of its symbol's working order, as the backtest's
    /// simulator makes it, recorded before it is returned; a bar already processed answers
    /// from the record.
    pub fn on_open(&mut self, bar: &Bar, factor: f64) -> Result<Option<(OrderId, Fill)>, LocalBrokerError> {
        let s = bar.symbol as usize;
        if bar.ts <= self.seen[s] {
            self.sim.observe(bar);
            return Ok(self.fills.get(&(bar.symbol, bar.ts)).cloned());
        }
        let eligible = self.sim.working(s).is_some_and(|(o, _, _)| o.decided_at < bar.ts);
        let fill = self.sim.fill_at_open(bar, factor);
        if !eligible {
            return Ok(fill);
        }
        let after = self.sim.working(s);
        let tx = self.db.unchecked_transaction().map_err(|e| self.db_err(e))?;
        let r: Result<(), rusqlite::Error> = (|| {
            tx.execute("INSERT OR REPLACE INTO seen(symbol, ts) VALUES (?1, ?2)", params![s as i64, bar.ts])?;
            if let Some((id, f)) = &fill {
                tx.execute(
                    "INSERT INTO fills(symbol, ts, id, decided_at, qty, price, commission, slippage) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![s as i64, f.ts, id.0 as i64, f.decided_at, f.qty, f.price, f.commission, f.slippage],
                )?;
                let status = if after.is_some_and(|(_, w, _)| w == *id) { "working" } else { "filled" };
                tx.execute(
                    "UPDATE orders SET filled = filled + ?1, status = ?2 WHERE id = ?3",
                    params![f.qty, status, id.0 as i64],
                )?;
            }
            match after {
                Some((o, id, paid)) => tx.execute(
                    "INSERT OR REPLACE INTO working(symbol, id, qty, decided_at, paid_rate) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![s as i64, id.0 as i64, o.qty, o.decided_at, paid],
                )?,
                None => tx.execute("DELETE FROM working WHERE symbol = ?1", [s as i64])?,
            };
            Ok(())
        })();
        r.map_err(|e| self.db_err(e))?;
        crate::run::fault("broker-fill");
        tx.commit().map_err(|e| self.db_err(e))?;
        self.seen[s] = bar.ts;
        if let Some((id, f)) = &fill {
            self.fills.insert((bar.symbol, bar.ts), (*id, *f));
            let done = after.is_none_or(|(_, w, _)| w != *id);
            if let Some(o) = self.orders.iter_mut().rev().find(|o| o.id == *id) {
                o.filled += f.qty;
                o.status = if done { OrderStatus::Filled } else { OrderStatus::Working };
            }
        }
        Ok(fill)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(ts: i64, open: f64, volume: f64) -> Bar {
        Bar { ts, symbol: 0, open, high: open, low: open, close: open, volume }
    }

    fn costs() -> CostConfig {
        CostConfig { max_participation: 0.5, slippage_bps: 0.0, impact_bps: 0.0, ..Default::default() }
    }

    fn open(dir: &Path) -> LocalBroker {
        LocalBroker::open(&dir.join("broker.db"), &["X".into()], costs(), vec![Instrument::default()]).unwrap()
    }

    /// The book makes the simulator's fills, survives a reopen mid-order (the rest of a
    /// partial fill keeps working, with its paid commission), answers a processed bar from
    /// the record, and never places an id twice.
    #[test]
    fn test_local_broker_is_the_simulator_with_a_durable_idempotent_book() {
        let dir = tempfile::tempdir().unwrap();
        let mut sim = SimBroker::new(costs(), vec![Instrument::default()]);
        let mut b = open(dir.path());
        let bars = [bar(0, 10.0, 200.0), bar(1, 10.0, 200.0), bar(2, 11.0, 200.0), bar(3, 11.0, 200.0)];
        let order = Order { symbol: 0, qty: 150.0, decided_at: 0 };
        assert_eq!(b.on_open(&bars[0], 1.0).unwrap(), None);
        sim.fill_at_open(&bars[0], 1.0);
        let (rec, new) = b.place("c1", order).unwrap();
        assert!(new);
        assert_eq!(b.place("c1", order).unwrap(), (rec.clone(), false), "the same id places nothing");
        let _ = crate::broker::Broker::submit(&mut sim, order);
        let f1 = b.on_open(&bars[1], 1.0).unwrap().unwrap().1;
        assert_eq!(Some(f1), sim.fill_at_open(&bars[1], 1.0).map(|x| x.1));
        assert_eq!(b.lookup("c1").unwrap().status, OrderStatus::Working, "50 shares still to fill");
        // Crash and reopen: the bars seen again answer from the record; the rest fills as
        // the simulator's does (no second minimum commission).
        drop(b);
        let mut b = open(dir.path());
        assert_eq!(b.on_open(&bars[0], 1.0).unwrap(), None);
        assert_eq!(b.on_open(&bars[1], 1.0).unwrap().map(|x| x.1), Some(f1));
        let f2 = b.on_open(&bars[2], 1.0).unwrap().map(|x| x.1);
        assert_eq!(f2, sim.fill_at_open(&bars[2], 1.0).map(|x| x.1));
        assert_eq!(f2.unwrap().commission, 0.0);
        let rec = b.lookup("c1").unwrap();
        assert_eq!((rec.status, rec.filled), (OrderStatus::Filled, 150.0));
        assert_eq!(b.on_open(&bars[3], 1.0).unwrap(), None);
        assert_eq!(b.fills().len(), 2);
        // A new order replaces the working one; a zero quantity only cancels.
        b.place("c2", Order { symbol: 0, qty: -10.0, decided_at: 3 }).unwrap();
        b.place("c3", Order { symbol: 0, qty: 0.0, decided_at: 3 }).unwrap();
        assert_eq!(b.lookup("c2").unwrap().status, OrderStatus::Replaced);
        assert_eq!(b.lookup("c3").unwrap().status, OrderStatus::Canceled);
        drop(b);
        let b = open(dir.path());
        assert_eq!(b.orders().len(), 3);
        assert_eq!(b.lookup("c2").unwrap().status, OrderStatus::Replaced, "statuses are durable");
    }

    /// A book opened for other symbols is refused, naming both lists.
    #[test]
    fn test_local_broker_refuses_a_book_of_other_symbols() {
        let dir = tempfile::tempdir().unwrap();
        drop(open(dir.path()));
        let e = LocalBroker::open(&dir.path().join("broker.db"), &["Y".into()], costs(), vec![Instrument::default()])
            .unwrap_err();
        assert!(e.to_string().contains("[\"X\"]") && e.to_string().contains("[\"Y\"]"), "{e}");
    }
}
