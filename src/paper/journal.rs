//! The paper run's journal: `journal.db` in the state folder, SQLite in WAL mode.
//!
//! Durability: a commit that carries order intents, or the broker's answers, is fsynced
//! before it returns (`synchronous = FULL`), and with it everything before it in the WAL.
//! A step without orders is committed with `synchronous = NORMAL`: in WAL mode that
//! survives the process being killed at any instant (the data is in the OS's page cache;
//! the SIGKILL tests), and only an OS crash or power loss can lose such steps, the latest
//! ones since the last fsync. Nothing outside the journal depended on them: a restart
//! recomputes them from the feed, fills the broker made meanwhile are in the broker's own
//! fsynced book (`local`) or read again from Alpaca, and a memory checkpoint fsyncs the
//! journal before it is saved ([`Journal::make_durable`]), so the journal is never behind
//! the memory on disk. Steps without orders are most
//! steps, and an fsync each made a paper replay of spy_1m_2011 run at 18% of the
//! backtest's speed (issue 14's target is 25%).
//!
//! Why SQLite rather than a hand-written append-only log: the journal is read back by
//! restarts (orders without a final status, the steps to verify), by `quorum paper status`
//! and by users (`sqlite3 state/journal.db 'select * from orders'`); SQLite gives atomic
//! multi-row commits, crash recovery of a torn write, indexes and a query language for
//! free, and `rusqlite`'s bundled build needs nothing from the machine. A fsynced commit
//! costs one WAL append and one fsync (about 0.15 ms on this machine's disk), an unsynced
//! one the append (see BENCHMARKS.md).
//!
//! What is written, and when (write before act):
//!
//! - one row per step in `steps`, committed when the step's decisions are made and
//!   **before** any of its orders goes to the broker: the bars seen, the fills they brought,
//!   the votes, the composed targets, cash, equity and positions;
//! - in the same commit, one row per order intent in `orders` with its deterministic client
//!   order id (`broker::ids`) and status `intent`;
//! - after the broker answers, the order's status (`working`, `filled`, `replaced`,
//!   `canceled`, `rejected`) and the broker's id, in their own commit; fills in `fills`,
//!   keyed by (symbol, bar, order), so a fill can never be journaled twice;
//! - `checkpoints`: each memory checkpoint written (step, items); `events`: restarts,
//!   reconciliations, shutdowns, in words.
//!
//! A step is journaled whole or not at all. The format version is in `meta`; a journal of a
//! newer format, or of another configuration, is refused (the message lists the config keys
//! that differ).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

/// The journal format this build writes and reads.
pub const FORMAT: i64 = 2;

/// WAL mode, commits fsynced (the journal relaxes this for steps without orders; the local
/// broker's book never does), a busy wait instead of an immediate "database is locked".
pub(crate) fn pragmas(db: &Connection) -> Result<(), rusqlite::Error> {
    db.pragma_update(None, "journal_mode", "WAL")?;
    db.pragma_update(None, "synchronous", "FULL")?;
    db.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}

/// The journal could not be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// SQLite failed.
    #[error("{path}: {error}")]
    Db {
        /// `journal.db`.
        path: PathBuf,
        /// What SQLite said.
        error: rusqlite::Error,
    },
    /// The journal was written by a newer build.
    #[error("{path}: journal format {found}, this build reads format {FORMAT} or older; use the quorum that wrote it")]
    Newer {
        /// `journal.db`.
        path: PathBuf,
        /// The format on disk.
        found: i64,
    },
    /// The journal was written by an earlier build, in a format this one does not resume.
    #[error(
        "{path}: journal format {found}, this build resumes format {FORMAT} (format 2 keys fills by order); finish the run with the quorum that started it, or use a new --state folder"
    )]
    Older {
        /// `journal.db`.
        path: PathBuf,
        /// The format on disk.
        found: i64,
    },
    /// The journal belongs to another configuration.
    #[error(
        "{path}: the state folder was started with another configuration; these keys differ (journal → now):\n{diff}\nuse a new --state folder, or resume with the journal's configuration (STATE/run/config.toml holds it after any stop)"
    )]
    OtherConfig {
        /// `journal.db`.
        path: PathBuf,
        /// The differing lines.
        diff: String,
    },
    /// The journal was written trading with another broker.
    #[error("{path}: the state folder trades with --broker {journal}, not {now}; use a new --state folder")]
    OtherBroker {
        /// `journal.db`.
        path: PathBuf,
        /// The journal's broker.
        journal: String,
        /// This run's.
        now: String,
    },
    /// A recomputed step differs from the journal's.
    #[error(
        "{path}: step {step} ({at}) recomputed on restart differs from the journal in `{field}`: the journal was written by another build, or edited; refusing to trade on it"
    )]
    Diverged {
        /// `journal.db`.
        path: PathBuf,
        /// The step's ordinal.
        step: u64,
        /// Its time, RFC 3339.
        at: String,
        /// The first field that differs.
        field: &'static str,
    },
}

/// What a broker said of an order: client id, status, signed filled quantity, broker id.
pub type OrderUpdate = (String, String, f64, Option<String>);

/// One step as journaled.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRow {
    /// The step's ordinal (0, 1, …).
    pub step: u64,
    /// Its bars' start.
    pub ts: i64,
    /// The runner was flattening (shutting down with `--flatten-on-exit`): targets all 0.
    pub flatten: bool,
    /// The bars, JSON: `[[symbol, [open, high, low, close, volume], [extra…]], …]`.
    pub bars: String,
    /// The fills the step's opens brought, JSON (engine fills, cash in lieu included).
    pub fills: String,
    /// The analysts' votes, JSON.
    pub votes: String,
    /// The composed targets, JSON `[[symbol, weight], …]`.
    pub targets: String,
    /// Cash after the step's fills.
    pub cash: f64,
    /// Equity marked at the step's closes.
    pub equity: f64,
    /// Positions, JSON.
    pub positions: String,
}

/// An order as the journal holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalOrder {
    /// Client order id.
    pub coid: String,
    /// The step that decided it.
    pub step: u64,
    /// Symbol id.
    pub symbol: u32,
    /// Attempt (0 first).
    pub attempt: u32,
    /// Quantity ordered.
    pub qty: f64,
    /// Decision time.
    pub decided_at: i64,
    /// `intent` until the broker answers, then the broker's status.
    pub status: String,
    /// Quantity filled (as last known).
    pub filled: f64,
    /// The broker's id, once known (a number for the local broker, a UUID for Alpaca).
    pub broker_id: Option<String>,
}

/// A fill to journal, with the order it belongs to (none for cash in lieu at a split).
#[derive(Debug, Clone, PartialEq)]
pub struct JournalFill {
    /// The order's client id.
    pub coid: Option<String>,
    /// The step whose open it came at.
    pub step: u64,
    /// The fill.
    pub fill: crate::portfolio::Fill,
}

/// The journal (see the module docs).
pub struct Journal {
    path: PathBuf,
    db: Connection,
    /// `synchronous = FULL` in force (else NORMAL).
    full: bool,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("path", &self.path).finish()
    }
}

/// What a journal says about the run it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The resolved config, TOML (its digest is the run's identity).
    pub config: String,
    /// The broker the run trades with (`local`, `alpaca`): a state folder keeps its broker.
    pub broker: String,
    /// A name for the run, unique per state folder (the client order ids' prefix).
    pub run_id: String,
}

impl Journal {
    /// Opens the journal at `path`, or creates it for `identity`. Returns the journal and
    /// whether it already existed; an existing journal must be of this format (or older)
    /// and of the same config. The run id of an existing journal is its own.
    pub fn open(path: &Path, identity: &Identity) -> Result<(Journal, Identity, bool), JournalError> {
        let db_err = |error| JournalError::Db { path: path.to_path_buf(), error };
        let existed = path.is_file();
        let db = Connection::open(path).map_err(db_err)?;
        pragmas(&db).map_err(db_err)?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS steps(step INTEGER PRIMARY KEY, ts INTEGER NOT NULL,
                flatten INTEGER NOT NULL, bars TEXT NOT NULL, fills TEXT NOT NULL, votes TEXT NOT NULL,
                targets TEXT NOT NULL, cash REAL NOT NULL, equity REAL NOT NULL, positions TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS orders(coid TEXT PRIMARY KEY, step INTEGER NOT NULL,
                symbol INTEGER NOT NULL, attempt INTEGER NOT NULL, qty REAL NOT NULL,
                decided_at INTEGER NOT NULL, status TEXT NOT NULL, filled REAL NOT NULL DEFAULT 0,
                broker_id TEXT);
             CREATE INDEX IF NOT EXISTS orders_status ON orders(status);
             CREATE TABLE IF NOT EXISTS fills(symbol INTEGER NOT NULL, ts INTEGER NOT NULL,
                coid TEXT NOT NULL DEFAULT '', step INTEGER NOT NULL, decided_at INTEGER NOT NULL,
                qty REAL NOT NULL, price REAL NOT NULL, commission REAL NOT NULL, slippage REAL NOT NULL,
                PRIMARY KEY(symbol, ts, coid));
             CREATE TABLE IF NOT EXISTS checkpoints(step INTEGER PRIMARY KEY, ts INTEGER NOT NULL,
                items INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY AUTOINCREMENT, step INTEGER,
                kind TEXT NOT NULL, detail TEXT NOT NULL);",
        )
        .map_err(db_err)?;
        let get = |k: &str| -> Result<Option<String>, JournalError> {
            db.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0)).optional().map_err(db_err)
        };
        let format = get("format")?;
        let Some(format) = format else {
            db.execute(
                "INSERT INTO meta VALUES ('format', ?1), ('config', ?2), ('run_id', ?3), ('broker', ?4)",
                params![FORMAT.to_string(), identity.config, identity.run_id, identity.broker],
            )
            .map_err(db_err)?;
            return Ok((Journal { path: path.to_path_buf(), db, full: true }, identity.clone(), existed));
        };
        let found = format.parse::<i64>().unwrap_or(i64::MAX);
        if found > FORMAT {
            return Err(JournalError::Newer { path: path.to_path_buf(), found });
        }
        if found < FORMAT {
            return Err(JournalError::Older { path: path.to_path_buf(), found });
        }
        let config = get("config")?.unwrap_or_default();
        if config != identity.config {
            return Err(JournalError::OtherConfig { path: path.to_path_buf(), diff: diff(&config, &identity.config) });
        }
        let broker = get("broker")?.unwrap_or_else(|| "local".into());
        if broker != identity.broker {
            return Err(JournalError::OtherBroker {
                path: path.to_path_buf(),
                journal: broker,
                now: identity.broker.clone(),
            });
        }
        let run_id = get("run_id")?.unwrap_or_default();
        Ok((Journal { path: path.to_path_buf(), db, full: true }, Identity { config, broker, run_id }, true))
    }

    /// Opens an existing journal to read it (`quorum paper status`).
    pub fn read(path: &Path) -> Result<Journal, JournalError> {
        let db_err = |error| JournalError::Db { path: path.to_path_buf(), error };
        let db = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(db_err)?;
        db.busy_timeout(std::time::Duration::from_secs(5)).map_err(db_err)?;
        let j = Journal { path: path.to_path_buf(), db, full: true };
        let format: Option<String> = j.meta("format")?;
        match format.and_then(|f| f.parse::<i64>().ok()) {
            Some(f) if f > FORMAT => Err(JournalError::Newer { path: path.to_path_buf(), found: f }),
            _ => Ok(j),
        }
    }

    fn err(&self, error: rusqlite::Error) -> JournalError {
        JournalError::Db { path: self.path.clone(), error }
    }

    /// Makes every commit so far durable (fsyncs the WAL) and keeps later commits fsynced
    /// until a step without orders: called before the memory checkpoint is saved, so the
    /// journal is never behind a checkpoint on disk.
    pub fn make_durable(&mut self) -> Result<(), JournalError> {
        self.sync(true)?;
        // A checkpoint fsyncs the WAL before copying it into the database.
        self.db.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())).map_err(|e| self.err(e))
    }

    /// Sets `synchronous` to FULL (`full`) or NORMAL for the next commits.
    fn sync(&mut self, full: bool) -> Result<(), JournalError> {
        if self.full != full {
            let mode = if full { "FULL" } else { "NORMAL" };
            self.db.pragma_update(None, "synchronous", mode).map_err(|e| self.err(e))?;
            self.full = full;
        }
        Ok(())
    }

    /// The journal's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A `meta` value.
    pub fn meta(&self, key: &str) -> Result<Option<String>, JournalError> {
        self.db
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The `meta` value of `key`, set to `value` first if it has none (kept for the run's life).
    pub fn meta_or_insert(&mut self, key: &str, value: &str) -> Result<String, JournalError> {
        self.db.execute("INSERT OR IGNORE INTO meta VALUES (?1, ?2)", [key, value]).map_err(|e| self.err(e))?;
        Ok(self.meta(key)?.unwrap_or_else(|| value.to_string()))
    }

    /// Steps journaled.
    pub fn steps(&self) -> Result<u64, JournalError> {
        let n: i64 = self.db.query_row("SELECT COUNT(*) FROM steps", [], |r| r.get(0)).map_err(|e| self.err(e))?;
        Ok(n as u64)
    }

    /// Step `k` as journaled.
    pub fn step(&self, k: u64) -> Result<Option<StepRow>, JournalError> {
        let mut q = self
            .db
            .prepare_cached(
                "SELECT step, ts, flatten, bars, fills, votes, targets, cash, equity, positions FROM steps WHERE step = ?1",
            )
            .map_err(|e| self.err(e))?;
        q.query_row([k as i64], |r| {
            Ok(StepRow {
                step: r.get::<_, i64>(0)? as u64,
                ts: r.get(1)?,
                flatten: r.get::<_, i64>(2)? != 0,
                bars: r.get(3)?,
                fills: r.get(4)?,
                votes: r.get(5)?,
                targets: r.get(6)?,
                cash: r.get(7)?,
                equity: r.get(8)?,
                positions: r.get(9)?,
            })
        })
        .optional()
        .map_err(|e| self.err(e))
    }

    /// Every journaled step's time and bars, in step order (a resumed run's first steps).
    pub fn step_bars(&self) -> Result<Vec<(i64, String)>, JournalError> {
        let mut q = self.db.prepare("SELECT ts, bars FROM steps ORDER BY step").map_err(|e| self.err(e))?;
        let rows = q.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// The last step journaled.
    pub fn last_step(&self) -> Result<Option<StepRow>, JournalError> {
        match self.steps()? {
            0 => Ok(None),
            n => self.step(n - 1),
        }
    }

    /// Checks a recomputed step against the journal's row.
    pub fn verify(&self, row: &StepRow) -> Result<(), JournalError> {
        let Some(j) = self.step(row.step)? else { return Ok(()) };
        let field = if j.ts != row.ts {
            "ts"
        } else if j.flatten != row.flatten {
            "flatten"
        } else if j.bars != row.bars {
            "bars"
        } else if j.fills != row.fills {
            "fills"
        } else if j.votes != row.votes {
            "votes"
        } else if j.targets != row.targets {
            "targets"
        } else if j.cash.to_bits() != row.cash.to_bits() || j.equity.to_bits() != row.equity.to_bits() {
            "cash and equity"
        } else if j.positions != row.positions {
            "positions"
        } else {
            return Ok(());
        };
        Err(JournalError::Diverged {
            path: self.path.clone(),
            step: row.step,
            at: crate::market::time::format_ts(row.ts),
            field,
        })
    }

    /// Journals a step, its fills and its order intents in one commit (before the orders go
    /// out).
    pub fn write_step(
        &mut self,
        row: &StepRow,
        fills: &[JournalFill],
        intents: &[JournalOrder],
    ) -> Result<(), JournalError> {
        // Fsynced when orders follow (see the module docs).
        self.sync(!intents.is_empty())?;
        let tx = self.db.transaction().map_err(|e| JournalError::Db { path: self.path.clone(), error: e })?;
        let r: Result<(), rusqlite::Error> = (|| {
            tx.prepare_cached(
                "INSERT INTO steps(step, ts, flatten, bars, fills, votes, targets, cash, equity, positions) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                row.step as i64,
                row.ts,
                row.flatten as i64,
                row.bars,
                row.fills,
                row.votes,
                row.targets,
                row.cash,
                row.equity,
                row.positions
            ])?;
            insert_fills(&tx, fills)?;
            let mut q = tx.prepare_cached(
                "INSERT INTO orders(coid, step, symbol, attempt, qty, decided_at, status, filled) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'intent', 0)",
            )?;
            for o in intents {
                q.execute(params![o.coid, o.step as i64, o.symbol as i64, o.attempt as i64, o.qty, o.decided_at])?;
            }
            Ok(())
        })();
        r.map_err(|e| JournalError::Db { path: self.path.clone(), error: e })?;
        tx.commit().map_err(|e| JournalError::Db { path: self.path.clone(), error: e })
    }

    /// Journals fills that were missing (a step recomputed on restart whose fills the broker
    /// made but the journal had not yet recorded); a fill on record is left alone.
    pub fn add_fills(&mut self, fills: &[JournalFill]) -> Result<usize, JournalError> {
        self.sync(true)?;
        let tx = self.db.transaction().map_err(|e| JournalError::Db { path: self.path.clone(), error: e })?;
        let n = insert_fills(&tx, fills).map_err(|e| JournalError::Db { path: self.path.clone(), error: e })?;
        tx.commit().map_err(|e| JournalError::Db { path: self.path.clone(), error: e })?;
        Ok(n)
    }

    /// Records what the broker said of orders: (client id, status, filled, broker id).
    pub fn update_orders(&mut self, updates: &[OrderUpdate]) -> Result<(), JournalError> {
        if updates.is_empty() {
            return Ok(());
        }
        self.sync(true)?;
        let tx = self.db.transaction().map_err(|e| JournalError::Db { path: self.path.clone(), error: e })?;
        let r: Result<(), rusqlite::Error> = (|| {
            let mut q = tx.prepare_cached(
                "UPDATE orders SET status = ?2, filled = ?3, broker_id = COALESCE(?4, broker_id) WHERE coid = ?1",
            )?;
            for (coid, status, filled, id) in updates {
                q.execute(params![coid, status, filled, id])?;
            }
            Ok(())
        })();
        r.map_err(|e| JournalError::Db { path: self.path.clone(), error: e })?;
        tx.commit().map_err(|e| JournalError::Db { path: self.path.clone(), error: e })
    }

    /// Orders whose status is not final (`intent`, the local broker's `working`, Alpaca's
    /// `new`, `accepted`, `partially_filled`, …), oldest first.
    pub fn open_orders(&self) -> Result<Vec<JournalOrder>, JournalError> {
        self.orders_where(
            "status NOT IN ('filled', 'canceled', 'expired', 'rejected', 'replaced', 'done_for_day', 'skipped', 'stale')",
        )
    }

    /// Orders of `step` that never reached the broker: refused when sent (a 403 or 422, so
    /// no broker id), or not sent (`skipped` outside the session, `stale` while catching
    /// up). The engine hears of them as rejects at the next step and decides them again.
    pub fn unplaced_of_step(&self, step: u64) -> Result<Vec<JournalOrder>, JournalError> {
        self.orders_where(&format!(
            "step = {step} AND broker_id IS NULL AND status IN ('rejected', 'skipped', 'stale')"
        ))
    }

    /// Every order, oldest first.
    pub fn all_orders(&self) -> Result<Vec<JournalOrder>, JournalError> {
        self.orders_where("1")
    }

    fn orders_where(&self, cond: &str) -> Result<Vec<JournalOrder>, JournalError> {
        let sql = format!(
            "SELECT coid, step, symbol, attempt, qty, decided_at, status, filled, CAST(broker_id AS TEXT) FROM orders WHERE {cond} ORDER BY step, symbol, attempt"
        );
        let mut q = self.db.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = q
            .query_map([], |r| {
                Ok(JournalOrder {
                    coid: r.get(0)?,
                    step: r.get::<_, i64>(1)? as u64,
                    symbol: r.get::<_, i64>(2)? as u32,
                    attempt: r.get::<_, i64>(3)? as u32,
                    qty: r.get(4)?,
                    decided_at: r.get(5)?,
                    status: r.get(6)?,
                    filled: r.get(7)?,
                    broker_id: r.get::<_, Option<String>>(8)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Every journaled fill, in (bar start, order applied) order, with its order's client id.
    pub fn fills(&self) -> Result<Vec<JournalFill>, JournalError> {
        self.fills_where("1", None)
    }

    /// The broker's fills journaled at step `step` (not cash in lieu), in the order applied.
    pub fn broker_fills_of_step(&self, step: u64) -> Result<Vec<JournalFill>, JournalError> {
        self.fills_where("step = ?1 AND coid != ''", Some(step))
    }

    fn fills_where(&self, cond: &str, step: Option<u64>) -> Result<Vec<JournalFill>, JournalError> {
        let sql = format!(
            "SELECT symbol, ts, coid, step, decided_at, qty, price, commission, slippage FROM fills WHERE {cond} ORDER BY ts, rowid"
        );
        let mut q = self.db.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let args: Vec<i64> = step.map(|s| s as i64).into_iter().collect();
        let rows = q
            .query_map(rusqlite::params_from_iter(args), |r| {
                Ok(JournalFill {
                    coid: Some(r.get::<_, String>(2)?).filter(|c| !c.is_empty()),
                    step: r.get::<_, i64>(3)? as u64,
                    fill: crate::portfolio::Fill {
                        symbol: r.get::<_, i64>(0)? as u32,
                        ts: r.get(1)?,
                        decided_at: r.get(4)?,
                        qty: r.get(5)?,
                        price: r.get(6)?,
                        commission: r.get(7)?,
                        slippage: r.get(8)?,
                    },
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Records a memory checkpoint written after step `step`.
    pub fn checkpoint(&mut self, step: u64, ts: i64, items: usize) -> Result<(), JournalError> {
        self.sync(true)?;
        self.db
            .execute(
                "INSERT OR REPLACE INTO checkpoints(step, ts, items) VALUES (?1, ?2, ?3)",
                params![step as i64, ts, items as i64],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// The latest memory checkpoint: (step, ts, items).
    pub fn last_checkpoint(&self) -> Result<Option<(u64, i64, usize)>, JournalError> {
        self.db
            .query_row("SELECT step, ts, items FROM checkpoints ORDER BY step DESC LIMIT 1", [], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get::<_, i64>(2)? as usize))
            })
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Records an event in words (restarts, reconciliations, shutdowns).
    pub fn event(&mut self, step: Option<u64>, kind: &str, detail: &str) -> Result<(), JournalError> {
        self.db
            .execute(
                "INSERT INTO events(step, kind, detail) VALUES (?1, ?2, ?3)",
                params![step.map(|s| s as i64), kind, detail],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Events journaled, by kind.
    pub fn event_counts(&self) -> Result<std::collections::BTreeMap<String, u64>, JournalError> {
        let mut q = self.db.prepare("SELECT kind, COUNT(*) FROM events GROUP BY kind").map_err(|e| self.err(e))?;
        let rows =
            q.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))).map_err(|e| self.err(e))?;
        rows.collect::<Result<std::collections::BTreeMap<_, _>, _>>().map_err(|e| self.err(e))
    }

    /// The latest `n` events, oldest first: (step, kind, detail).
    pub fn events(&self, n: usize) -> Result<Vec<(Option<u64>, String, String)>, JournalError> {
        let mut q = self
            .db
            .prepare("SELECT step, kind, detail FROM (SELECT * FROM events ORDER BY seq DESC LIMIT ?1) ORDER BY seq")
            .map_err(|e| self.err(e))?;
        let rows = q
            .query_map([n as i64], |r| Ok((r.get::<_, Option<i64>>(0)?.map(|x| x as u64), r.get(1)?, r.get(2)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }
}

fn insert_fills(tx: &rusqlite::Transaction<'_>, fills: &[JournalFill]) -> Result<usize, rusqlite::Error> {
    let mut q = tx.prepare_cached(
        "INSERT OR IGNORE INTO fills(symbol, ts, coid, step, decided_at, qty, price, commission, slippage) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let mut n = 0;
    for f in fills {
        let x = &f.fill;
        n += q.execute(params![
            x.symbol as i64,
            x.ts,
            f.coid.as_deref().unwrap_or(""),
            f.step as i64,
            x.decided_at,
            x.qty,
            x.price,
            x.commission,
            x.slippage
        ])?;
    }
    Ok(n)
}

/// The lines of TOML `a` and `b` that differ, as `- old` / `+ new` pairs (in order).
fn diff(a: &str, b: &str) -> String {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let mut out = Vec::new();
    let mut section = "";
    for i in 0..la.len().max(lb.len()) {
        let (x, y) = (la.get(i).copied().unwrap_or(""), lb.get(i).copied().unwrap_or(""));
        if x.starts_with('[') && x == y {
            section = x;
        }
        if x != y {
            out.push(format!("  {section} {x}  →  {y}"));
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(config: &str) -> Identity {
        Identity { config: config.into(), broker: "local".into(), run_id: "r1".into() }
    }

    fn row(step: u64) -> StepRow {
        StepRow {
            step,
            ts: step as i64 * 60,
            flatten: false,
            bars: "[[0,1,1,1,1,5]]".into(),
            fills: "[]".into(),
            votes: "[]".into(),
            targets: "[[0,0.5]]".into(),
            cash: 100.0,
            equity: 100.0,
            positions: "[0.0]".into(),
        }
    }

    /// Steps and intents commit together; a reopened journal has them, keeps its run id,
    /// verifies an equal step and names the field of a different one; fills are never
    /// recorded twice.
    #[test]
    fn test_journal_round_trip_verify_and_fill_idempotence() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal.db");
        let (mut j, ident, existed) = Journal::open(&p, &id("[a]\nx = 1\n")).unwrap();
        assert!(!existed);
        let intent = JournalOrder {
            coid: "q-1".into(),
            step: 0,
            symbol: 0,
            attempt: 0,
            qty: 5.0,
            decided_at: 0,
            status: "intent".into(),
            filled: 0.0,
            broker_id: None,
        };
        j.write_step(&row(0), &[], std::slice::from_ref(&intent)).unwrap();
        let fill = JournalFill {
            coid: Some("q-1".into()),
            step: 1,
            fill: crate::portfolio::Fill {
                ts: 60,
                decided_at: 0,
                symbol: 0,
                qty: 5.0,
                price: 1.0,
                commission: 1.0,
                slippage: 0.0,
            },
        };
        j.write_step(&row(1), std::slice::from_ref(&fill), &[]).unwrap();
        assert_eq!(j.add_fills(std::slice::from_ref(&fill)).unwrap(), 0, "on record already");
        j.update_orders(&[("q-1".into(), "filled".into(), 5.0, Some("7".into()))]).unwrap();
        drop(j);
        let (j, again, existed) =
            Journal::open(&p, &Identity { run_id: "other".into(), ..id("[a]\nx = 1\n") }).unwrap();
        assert!(existed);
        assert_eq!(again.run_id, ident.run_id, "the journal's own run id");
        assert_eq!(j.steps().unwrap(), 2);
        assert_eq!(j.open_orders().unwrap(), vec![]);
        assert_eq!(j.all_orders().unwrap()[0].broker_id.as_deref(), Some("7"));
        assert_eq!(j.fills().unwrap(), vec![fill]);
        j.verify(&row(1)).unwrap();
        let mut bad = row(1);
        bad.votes = "[1]".into();
        let e = j.verify(&bad).unwrap_err().to_string();
        assert!(e.contains("step 1") && e.contains("`votes`"), "{e}");
    }

    /// Another config is refused with the differing keys; a newer format is refused.
    #[test]
    fn test_journal_refuses_other_config_and_newer_format() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal.db");
        drop(Journal::open(&p, &id("[costs]\nslippage_bps = 1.0\n")).unwrap());
        let e = Journal::open(&p, &id("[costs]\nslippage_bps = 2.0\n")).unwrap_err().to_string();
        assert!(e.contains("[costs] slippage_bps = 1.0  →  slippage_bps = 2.0"), "{e}");
        let db = Connection::open(&p).unwrap();
        db.execute("UPDATE meta SET value = '99' WHERE key = 'format'", []).unwrap();
        drop(db);
        let e = Journal::open(&p, &id("[costs]\nslippage_bps = 1.0\n")).unwrap_err().to_string();
        assert!(e.contains("journal format 99"), "{e}");
    }
}
