//! Client order ids: the name quorum gives an order before a broker sees it, so a paper run
//! that restarts after a crash can ask the broker "did this order arrive?" instead of
//! sending it twice.
//!
//! ```text
//! q<run>-<step>-<symbol>-<attempt>
//! run:     the first 16 hex digits of SHA-256 of the run's identity (e.g. its config digest)
//! step:    the step's ordinal, base 36      symbol: the symbol id, base 36
//! attempt: 0 for the first send, then 1, 2, … for a re-send after a reject or a lost order
//! ```
//!
//! Deterministic (the same run, step, symbol and attempt give the same id, which is what a
//! restart relies on), unique per run, step, symbol and attempt (each part is delimited
//! and written in full), and at most 47 characters for any values (Alpaca's limit is 48),
//! of `[0-9a-z-]` only.

use sha2::{Digest, Sha256};

/// The longest id [`client_order_id`] can make: 1 + 16 + 1 + 13 (u64) + 1 + 7 + 1 + 7.
pub const MAX_LEN: usize = 47;

/// The id of attempt `attempt` at the order of `symbol` decided at step `step` of the run
/// identified by `run` (see the module docs).
pub fn client_order_id(run: &str, step: u64, symbol: u32, attempt: u32) -> String {
    let digest = Sha256::digest(run.as_bytes());
    let mut id = String::with_capacity(MAX_LEN);
    id.push('q');
    for b in &digest[..8] {
        id.push_str(&format!("{b:02x}"));
    }
    for part in [step, u64::from(symbol), u64::from(attempt)] {
        id.push('-');
        id.push_str(&base36(part));
    }
    id
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::with_capacity(13);
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn test_client_order_id_hand_checked() {
        let id = client_order_id("run-a", 1_000, 3, 0);
        assert!(id.starts_with('q') && id.ends_with("-rs-3-0"), "{id}");
        assert_eq!(id.len(), 1 + 16 + "-rs-3-0".len());
        assert_eq!(id, client_order_id("run-a", 1_000, 3, 0), "deterministic");
        assert_ne!(id, client_order_id("run-b", 1_000, 3, 0), "another run");
        let longest = client_order_id("x", u64::MAX, u32::MAX, u32::MAX);
        assert_eq!(longest.len(), MAX_LEN);
        assert!(longest.len() <= 48, "Alpaca's limit");
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
    }

    proptest! {
        /// Different (step, symbol, attempt) give different ids; every id is short and
        /// made of lower-case letters, digits and dashes.
        #[test]
        fn prop_client_order_ids_are_unique_and_short(
            a in (any::<u64>(), any::<u32>(), any::<u32>()),
            b in (any::<u64>(), any::<u32>(), any::<u32>()),
        ) {
            let (x, y) = (client_order_id("r", a.0, a.1, a.2), client_order_id("r", b.0, b.1, b.2));
            prop_assert_eq!(x == y, a == b);
            for id in [&x, &y] {
                prop_assert!(id.len() <= MAX_LEN);
                prop_assert!(id.bytes().all(|c| c.is_ascii_digit() || c.is_ascii_lowercase() || c == b'-'));
            }
        }
    }
}
