//! Small numeric rules shared by the whole crate.
//!
//! Rust's `f64::signum` returns +1 for `0.0` and −1 for `-0.0`, so a zero return or a zero
//! signal would count as a direction. Everywhere a direction is read from a number, quorum
//! uses [`sign`], which has three values: a zero (either sign) and NaN are no direction.

/// The direction of `x`: −1, 0 or +1 (0 for ±0 and NaN).
#[inline]
pub fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_sign_is_three_way() {
        assert_eq!(sign(2.5), 1.0);
        assert_eq!(sign(-1e-300), -1.0);
        assert_eq!(sign(0.0), 0.0);
        assert_eq!(sign(-0.0), 0.0);
        assert_eq!(sign(f64::NAN), 0.0);
        assert_eq!(0.0f64.signum(), 1.0, "the trap this function exists for");
    }
}
