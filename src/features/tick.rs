//! Trade direction of a bar by the tick rule.
//!
//! Lee & Ready ("Inferring trade direction from intraday data", 1991) sign a trade by its
//! price change from the previous trade. Applied to bars: sign(close − open), and when that
//! is 0, sign(close − previous close); when that is 0 too the bar has no direction (signed
//! volume 0). Lee & Ready's "zero tick" would carry the last non-zero direction forward;
//! a bar that went nowhere is given no direction here instead. Signs use
//! [`crate::num::sign`], so an unchanged bar is not a buy (`f64::signum(0.0)` is +1; with it,
//! 46.8% of BAC's regular-session minutes in the shipped data, close = open, were buys).

/// Signed volume of a bar: its tick-rule direction (−1, 0, +1) times `volume`.
pub fn signed_volume(open: f64, close: f64, prev_close: f64, volume: f64) -> f64 {
    let by_body = crate::num::sign(close - open);
    let s = if by_body != 0.0 { by_body } else { crate::num::sign(close - prev_close) };
    s * volume
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_signed_volume_tick_rule() {
        struct Case {
            name: &'static str,
            open: f64,
            close: f64,
            prev: f64,
            want: f64,
        }
        let cases = [
            Case { name: "up bar", open: 100.0, close: 101.0, prev: 102.0, want: 500.0 },
            Case { name: "down bar", open: 101.0, close: 100.0, prev: 99.0, want: -500.0 },
            Case { name: "unchanged bar, uptick", open: 100.0, close: 100.0, prev: 99.5, want: 500.0 },
            Case { name: "unchanged bar, downtick", open: 100.0, close: 100.0, prev: 100.5, want: -500.0 },
            Case { name: "no change at all", open: 100.0, close: 100.0, prev: 100.0, want: 0.0 },
        ];
        for c in cases {
            assert_eq!(signed_volume(c.open, c.close, c.prev, 500.0), c.want, "{}", c.name);
        }
    }
}
