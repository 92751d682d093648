//! The trading API (paper by default): account, positions, orders, and placing an order
//! **exactly once**.
//!
//! [`Trading::place`] never re-sends an order blindly. When the reply to `POST /v2/orders`
//! is lost (a timeout, a closed connection, a 5xx), the order may or may not have reached
//! Alpaca: it is looked up by its client order id first. Found: that is the order (it is
//! not sent again). A 404: it never arrived, and it is sent again **under the same id**,
//! so even if the earlier request arrives late, Alpaca refuses the second copy (422,
//! "client_order_id must be unique") and the lookup finds the one order. A 422 for a
//! duplicate id is answered the same way. 403 (buying power) and other 422s are final:
//! the order is [`Placed::Rejected`], not retried.

use super::http::{AlpacaError, Http, Idempotent};
use super::model::{Account, NewOrder, Order, Position};

/// What became of an order sent to [`Trading::place`].
#[derive(Debug, Clone, PartialEq)]
pub enum Placed {
    /// Alpaca accepted it now.
    Accepted(Order),
    /// Alpaca already had it (a lost reply, a retry, a restart): the order on record.
    AlreadyThere(Order),
    /// Alpaca refused it (403 buying power, 422 invalid): final, journaled as rejected.
    Rejected {
        /// HTTP status.
        status: u16,
        /// Alpaca's code.
        code: Option<i64>,
        /// Alpaca's message.
        message: String,
    },
}

/// The trading API over one [`Http`] client.
#[derive(Debug)]
pub struct Trading {
    http: Http,
    /// Sends of one order before giving up (lookups between them).
    pub max_sends: u32,
}

/// `%`-encodes a query value (client order ids are `[0-9a-z-]`, symbols may have `/`).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Trading {
    /// The trading API at the client's base URL.
    pub fn new(http: Http) -> Self {
        Trading { http, max_sends: 3 }
    }

    /// The HTTP client (attempt counts for tests).
    pub fn http(&self) -> &Http {
        &self.http
    }

    /// `GET /v2/account`.
    pub fn account(&mut self) -> Result<Account, AlpacaError> {
        self.http.get("/v2/account")
    }

    /// `GET /v2/positions`.
    pub fn positions(&mut self) -> Result<Vec<Position>, AlpacaError> {
        self.http.get("/v2/positions")
    }

    /// `GET /v2/orders?status=…` (`open`, `closed`, `all`), oldest first, up to 500.
    pub fn orders(&mut self, status: &str) -> Result<Vec<Order>, AlpacaError> {
        self.http.get(&format!("/v2/orders?status={}&limit=500&direction=asc", encode(status)))
    }

    /// `GET /v2/orders:by_client_order_id`: the order, or `None` if Alpaca has none by that id.
    pub fn by_client_id(&mut self, coid: &str) -> Result<Option<Order>, AlpacaError> {
        self.http.get_opt(&format!("/v2/orders:by_client_order_id?client_order_id={}", encode(coid)))
    }

    /// `DELETE /v2/orders/{id}`: asks Alpaca to cancel an order; an order that is gone or
    /// already finished (404, 422) is not an error.
    pub fn cancel(&mut self, id: &str) -> Result<(), AlpacaError> {
        match self.http.delete(&format!("/v2/orders/{}", encode(id))) {
            Ok(()) => Ok(()),
            Err(e) if matches!(e.status(), Some(404 | 422)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Places `order` exactly once (see the module docs).
    pub fn place(&mut self, order: &NewOrder) -> Result<Placed, AlpacaError> {
        let mut last = None;
        for send in 1..=self.max_sends.max(1) {
            match self.http.post::<_, Order>("/v2/orders", order, Idempotent::No) {
                Ok(o) => return Ok(Placed::Accepted(o)),
                Err(AlpacaError::Status { status: 422, message, code, .. }) if message.contains("must be unique") => {
                    tracing::info!(coid = %order.client_order_id, "order already at Alpaca (duplicate id refused)");
                    return match self.by_client_id(&order.client_order_id)? {
                        Some(o) => Ok(Placed::AlreadyThere(o)),
                        // Alpaca has the id but will not show it: not a reject, an unknown
                        // outcome; the caller stops and a restart reconciles it.
                        None => Err(AlpacaError::Status {
                            method: "POST",
                            path: "/v2/orders".into(),
                            status: 422,
                            code,
                            message: format!("{message}; yet the order is not found by its client id"),
                        }),
                    };
                }
                Err(AlpacaError::Status { status: s @ (403 | 422), code, message, .. }) => {
                    return Ok(Placed::Rejected { status: s, code, message });
                }
                Err(e) if e.outcome_unknown() => {
                    tracing::warn!(coid = %order.client_order_id, send, error = %e, "order outcome unknown: looking it up");
                    if let Some(o) = self.by_client_id(&order.client_order_id)? {
                        return Ok(Placed::AlreadyThere(o));
                    }
                    tracing::warn!(coid = %order.client_order_id, "not at Alpaca: sending again under the same id");
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(AlpacaError::Connection {
            method: "POST",
            path: "/v2/orders".into(),
            detail: "no attempt made".into(),
            attempts: 0,
        }))
    }
}
