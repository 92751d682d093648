//! M4 decimation of long series for drawing.
//!
//! A chart is some hundred pixel columns wide; a year of minute bars is ~100k points. M4
//! (Jugel, Lehner, Grall, Markl, Boncz: "M4: A Visualization-Oriented Time Series Data
//! Aggregation", PVLDB 7(10), 2014) keeps, per pixel column, the first, the minimum, the
//! maximum and the last point. A line through them draws the same pixels as a line through
//! every point (the column's vertical extent and its joins to the neighbours are kept), so
//! drawdowns and spikes survive, unlike averaging or taking every k-th point. LTTB keeps one
//! point per bucket chosen by triangle area and can drop a column's extreme; M4 is exact at
//! the pixel level for at most 4 points per column, which is what we need.

/// Indices of the points of (`x`, `y`) to draw in `columns` pixel columns spanning
/// [`x0`, `x1`]: per column the first, min, max and last point (at most 4), in order.
/// Points with a NaN `y` are skipped. `x` must be non-decreasing.
pub(super) fn m4(x: &[f64], y: &[f64], x0: f64, x1: f64, columns: usize) -> Vec<usize> {
    let columns = columns.max(1);
    let span = (x1 - x0).max(f64::MIN_POSITIVE);
    let column = |v: f64| (((v - x0) / span * columns as f64) as usize).min(columns - 1);
    let mut out = Vec::new();
    let mut bucket: Option<(usize, [usize; 4])> = None; // (column, [first, min, max, last])
    let flush = |b: Option<(usize, [usize; 4])>, out: &mut Vec<usize>| {
        if let Some((_, mut idx)) = b {
            idx.sort_unstable();
            for (k, &i) in idx.iter().enumerate() {
                if k == 0 || idx[k - 1] != i {
                    out.push(i);
                }
            }
        }
    };
    for i in 0..x.len().min(y.len()) {
        if y[i].is_nan() {
            continue;
        }
        let c = column(x[i]);
        match &mut bucket {
            Some((bc, idx)) if *bc == c => {
                if y[i] < y[idx[1]] {
                    idx[1] = i;
                }
                if y[i] > y[idx[2]] {
                    idx[2] = i;
                }
                idx[3] = i;
            }
            _ => {
                flush(bucket.take(), &mut out);
                bucket = Some((c, [i; 4]));
            }
        }
    }
    flush(bucket, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_m4_keeps_first_last_min_max_per_column() {
        let x: Vec<f64> = (0..1000).map(f64::from).collect();
        let y: Vec<f64> = (0..1000).map(|i| ((i * 7919) % 1000) as f64).collect();
        let keep = m4(&x, &y, 0.0, 999.0, 10);
        for c in 0..10 {
            let members: Vec<usize> = (0..1000).filter(|&i| ((i as f64 / 999.0 * 10.0) as usize).min(9) == c).collect();
            let kept: Vec<usize> = keep.iter().copied().filter(|i| members.contains(i)).collect();
            assert!(kept.len() <= 4, "column {c}: {kept:?}");
            let (first, last) = (members[0], *members.last().unwrap());
            assert!(kept.contains(&first) && kept.contains(&last), "column {c}");
            let min = members.iter().map(|&i| y[i]).fold(f64::INFINITY, f64::min);
            let max = members.iter().map(|&i| y[i]).fold(f64::NEG_INFINITY, f64::max);
            assert!(kept.iter().any(|&i| y[i] == min) && kept.iter().any(|&i| y[i] == max), "column {c}");
        }
        assert!(keep.windows(2).all(|w| w[0] < w[1]), "in order, no repeats");
    }

    #[test]
    fn test_m4_short_series_and_nan() {
        let cases: [(&str, Vec<f64>, Vec<usize>); 3] = [
            ("empty", vec![], vec![]),
            ("one point", vec![1.0], vec![0]),
            ("nan skipped", vec![1.0, f64::NAN, 3.0], vec![0, 2]),
        ];
        for (name, y, want) in cases {
            let x: Vec<f64> = (0..y.len()).map(|i| i as f64).collect();
            assert_eq!(m4(&x, &y, 0.0, 2.0, 100), want, "{name}");
        }
    }
}
