//! JSON helpers: non-finite floats become `null` (JSON has no NaN or infinity).

use serde::Serializer;

/// Serializes a float, writing `null` for NaN and infinities.
pub(super) fn finite<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    if x.is_finite() { s.serialize_f64(*x) } else { s.serialize_none() }
}
