//! Operator notifications: `quorum paper --notify-webhook URL`.
//!
//! Each message is one JSON `POST` to the URL: a `text` field a Slack incoming webhook (and
//! Mattermost, Discord's `/slack` endpoint, most chat bridges) shows as it is, plus
//! structured fields for machines: `kind` (`fill`, `reject`, `error`, `outage`,
//! `reconnect`, `summary`), `run_id`, `step`, `ts` and the kind's own fields (see
//! [`Notice`]). Messages go out when:
//! - a live step fills an order (one message per fill, cash in lieu of a fraction too);
//! - an order is rejected by the broker or not sent (`skipped` outside the session);
//! - the live feed loses Alpaca and when it gets it back;
//! - a session day ends (and when the run stops): the day's fills, rejects, P&L, equity
//!   and positions;
//! - the run stops on an error (its message: never a key, see `alpaca::http`).
//!
//! Steps recomputed after a restart send nothing (their messages went out the first time).
//!
//! Delivery never holds up trading: messages are queued (up to [`QUEUE`]; beyond that they
//! are dropped and counted) to a thread of their own that posts them in order with a
//! 5-second timeout, one attempt each; a failure is logged (`warn`) and counted, and the
//! run goes on. At the end of the run the thread is given [`FINISH`] to deliver what is
//! queued; what is left is counted as not delivered and the process exits.
//!
//! A webhook URL is a credential (Slack's and Discord's carry their secret in the path):
//! logs and errors name only its scheme and host.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use serde_json::{Value, json};

/// One message: its kind, the human text, and the structured fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// `fill`, `reject`, `error`, `outage`, `reconnect`, `summary`.
    pub kind: &'static str,
    /// What a person reads.
    pub text: String,
    /// The kind's own fields (merged into the JSON object).
    pub fields: Value,
}

/// Messages queued at most; more are dropped (and counted) until the queue drains.
pub const QUEUE: usize = 1_000;

/// How long the end of a run waits for queued messages to go out.
pub const FINISH: std::time::Duration = std::time::Duration::from_secs(10);

/// A URL as logs may show it: scheme and host only.
pub fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!("{}://{}/…", u.scheme(), u.host_str().unwrap_or("?")),
        Err(_) => "(not a URL)".into(),
    }
}

/// Where messages are queued from (the runner, the live feed).
#[derive(Debug, Clone)]
pub struct Handle {
    run_id: String,
    tx: mpsc::SyncSender<Value>,
    dropped: Arc<AtomicU64>,
}

impl Handle {
    /// Queues `notice` about `step` (bars at `ts`, RFC 3339), returning at once.
    pub fn send(&self, step: Option<u64>, ts: &str, notice: Notice) {
        let mut msg = json!({
            "text": format!("quorum paper {}: {}", self.run_id, notice.text),
            "kind": notice.kind,
            "run_id": self.run_id,
            "step": step,
            "ts": ts,
        });
        if let (Some(m), Value::Object(extra)) = (msg.as_object_mut(), notice.fields) {
            m.extend(extra);
        }
        if self.tx.try_send(msg).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The webhook's sender (see the module docs).
#[derive(Debug)]
pub struct Notifier {
    handle: Option<Handle>,
    thread: Option<std::thread::JoinHandle<()>>,
    done: mpsc::Receiver<()>,
    failed: Arc<AtomicU64>,
    sent: Arc<AtomicU64>,
}

impl Notifier {
    /// A sender to `url` (http or https) for the run `run_id`.
    pub fn start(url: &str, run_id: &str) -> Result<Notifier, String> {
        let shown = redact(url);
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("--notify-webhook {shown}: not a URL ({e})"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("--notify-webhook {shown}: must be an http:// or https:// URL"));
        }
        let client = reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("--notify-webhook: cannot build an HTTP client ({e})"))?;
        let (tx, rx) = mpsc::sync_channel::<Value>(QUEUE);
        let (done_tx, done) = mpsc::channel::<()>();
        let (failed, sent) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (f, s) = (failed.clone(), sent.clone());
        let thread = std::thread::Builder::new()
            .name("quorum-notify".into())
            .spawn(move || {
                for msg in rx {
                    let kind = msg.get("kind").and_then(Value::as_str).unwrap_or("?").to_string();
                    match client
                        .post(parsed.clone())
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(msg.to_string())
                        .send()
                    {
                        Ok(r) if r.status().is_success() => {
                            s.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(r) => {
                            f.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(%kind, status = r.status().as_u16(), "webhook refused a notification");
                        }
                        Err(e) => {
                            f.fetch_add(1, Ordering::Relaxed);
                            // Without the URL: it is a credential.
                            tracing::warn!(%kind, error = %e.without_url(), "webhook notification failed");
                        }
                    }
                }
                let _ = done_tx.send(());
            })
            .map_err(|e| format!("--notify-webhook: cannot start its thread ({e})"))?;
        let handle = Handle { run_id: run_id.into(), tx, dropped: Arc::new(AtomicU64::new(0)) };
        Ok(Notifier { handle: Some(handle), thread: Some(thread), done, failed, sent })
    }

    /// Queues `notice` about `step` (bars at `ts`, RFC 3339), returning at once.
    pub fn send(&self, step: Option<u64>, ts: &str, notice: Notice) {
        if let Some(h) = &self.handle {
            h.send(step, ts, notice);
        }
    }

    /// A handle that queues to this notifier (for the live feed).
    pub fn handle(&self) -> Option<Handle> {
        self.handle.clone()
    }

    /// Delivers what is queued within [`FINISH`] and stops; returns (sent, not delivered:
    /// failed, dropped from a full queue, or left when time ran out).
    pub fn finish(mut self) -> (u64, u64) {
        let dropped = self.handle.as_ref().map_or(0, |h| h.dropped.load(Ordering::Relaxed));
        let on_time = self.close(FINISH);
        let sent = self.sent.load(Ordering::Relaxed);
        let failed = self.failed.load(Ordering::Relaxed) + dropped;
        if !on_time {
            tracing::warn!(sent, "the webhook did not take every notification in time; the rest are dropped");
        }
        (sent, failed)
    }

    /// Closes the queue and waits up to `wait` for the thread; true if it finished.
    fn close(&mut self, wait: std::time::Duration) -> bool {
        self.handle.take();
        match self.done.recv_timeout(wait) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                if let Some(t) = self.thread.take() {
                    let _ = t.join();
                }
                true
            }
            // Left running: the process is about to exit, and a post ends at its timeout.
            Err(mpsc::RecvTimeoutError::Timeout) => false,
        }
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        if self.handle.is_some() {
            self.close(FINISH);
        }
    }
}

/// The day's tally for the summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Day {
    /// The session date (New York for stocks, UTC for crypto).
    pub date: String,
    /// Live steps taken.
    pub steps: u64,
    /// Fills and rejects.
    pub fills: u64,
    /// Orders rejected or not sent.
    pub rejects: u64,
    /// Equity before the day's first step.
    pub open_equity: f64,
}

impl Day {
    /// The summary notice of the day, with the `equity` and `positions` (name, quantity)
    /// at its end.
    pub fn summary(&self, equity: f64, positions: &[(String, f64)], ended: bool) -> Notice {
        let pnl = equity - self.open_equity;
        let held: Vec<String> = positions.iter().map(|(s, q)| format!("{s} {q:+}")).collect();
        let when = if ended { "so far (run stopped)" } else { "day closed" };
        Notice {
            kind: "summary",
            text: format!(
                "{} {when}: {} steps, {} fills, {} rejects, P&L {pnl:+.2} ({:+.2}%), equity {:.2}, positions [{}]",
                self.date,
                self.steps,
                self.fills,
                self.rejects,
                if self.open_equity != 0.0 { 100.0 * pnl / self.open_equity } else { 0.0 },
                equity,
                held.join(", ")
            ),
            fields: json!({
                "date": self.date, "steps": self.steps, "fills": self.fills, "rejects": self.rejects,
                "pnl": pnl, "equity": equity, "final": ended,
                "positions": positions.iter().map(|(s, q)| json!({"symbol": s, "qty": q})).collect::<Vec<_>>(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message reaches a loopback receiver in order, with a Slack `text` and the
    /// structured fields; an unreachable webhook only counts failures.
    #[test]
    fn test_notifier_posts_in_order_and_survives_a_dead_webhook() {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        let got = std::thread::spawn(move || {
            let mut bodies = Vec::new();
            for mut req in server.incoming_requests().take(3) {
                let mut s = String::new();
                let _ = req.as_reader().read_to_string(&mut s);
                bodies.push(s);
                let _ = req.respond(tiny_http::Response::empty(200));
            }
            bodies
        });
        let n = Notifier::start(&format!("http://127.0.0.1:{port}/hook"), "r1").unwrap();
        for k in 0..3 {
            n.send(
                Some(k),
                "2024-01-02T14:30:00Z",
                Notice { kind: "fill", text: format!("f{k}"), fields: json!({"qty": k}) },
            );
        }
        assert_eq!(n.finish(), (3, 0));
        let bodies = got.join().unwrap();
        for (k, b) in bodies.iter().enumerate() {
            let v: Value = serde_json::from_str(b).unwrap();
            assert_eq!(v["text"], format!("quorum paper r1: f{k}"));
            assert_eq!(
                (v["kind"].as_str(), v["step"].as_u64(), v["qty"].as_u64()),
                (Some("fill"), Some(k as u64), Some(k as u64))
            );
        }
        // Nothing listens on this port once the receiver above is gone.
        let dead = Notifier::start(&format!("http://127.0.0.1:{port}/hook"), "r1").unwrap();
        dead.send(None, "", Notice { kind: "error", text: "x".into(), fields: Value::Null });
        assert_eq!(dead.finish(), (0, 1));
        assert!(Notifier::start("ftp://x", "r").unwrap_err().contains("http"));
        assert!(Notifier::start("not a url", "r").unwrap_err().contains("not a URL"));
        // The secret path of a Slack URL is never shown.
        let e = Notifier::start("ftp://hooks.slack.com/services/T0/B0/s3cr3t", "r").unwrap_err();
        assert!(!e.contains("s3cr3t") && e.contains("hooks.slack.com"), "{e}");
    }
}
