//! Cosine similarity of unit vectors: normalising a vector, and the dot product of two.
//! The table normalises vectors as they are stored, so every scan's cosine is a dot
//! product. Its own module so the table and the scans (`vector`, `ivf`) both depend on it
//! without depending on each other.

/// Dot product of two equal-length slices, 8 independent accumulators.
#[inline]
pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// Unit-normalises a vector (zero stays zero). Returns false for non-finite input.
pub(super) fn normalise(v: &mut [f32]) -> bool {
    if v.iter().any(|x| !x.is_finite()) {
        return false;
    }
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_dot_and_normalise() {
        let a: Vec<f32> = (0..19).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..19).map(|i| (i % 3) as f32).collect();
        let want: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - want).abs() < 1e-3);
        let mut v = vec![3.0, 4.0];
        assert!(normalise(&mut v));
        assert_eq!(v, vec![0.6, 0.8]);
        assert!(!normalise(&mut [f32::NAN]));
    }
}
