//! `Bars`: a columnar table of OHLCV bars for many symbols, sorted by (timestamp, symbol).
//!
//! Columnar (one `Vec` per field) because the engine walks millions of bars and touches a
//! few fields each; a row view (`Bar`) is built on demand and is `Copy`. Symbols are
//! interned as `u32` ids, assigned in alphabetical order so ids do not depend on file order.

use std::collections::BTreeMap;
use std::ops::Range;

use super::time::Ts;

/// Interned symbol id: an index into `Bars::symbols`.
pub type SymbolId = u32;

/// One bar, by value. `ts` is the bar's start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    /// Bar start, nanoseconds since the Unix epoch (UTC).
    pub ts: Ts,
    /// Interned symbol id: index into `Bars::symbols`.
    pub symbol: SymbolId,
    /// Opening price of the bar.
    pub open: f64,
    /// Highest price of the bar.
    pub high: f64,
    /// Lowest price of the bar.
    pub low: f64,
    /// Closing price of the bar.
    pub close: f64,
    /// Volume traded: shares; for crypto, quote currency when `costs.crypto_volume_in_quote`.
    pub volume: f64,
}

/// An extra numeric column carried along with the bars (e.g. option-flow `net_gamma`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExtraColumn {
    /// Column name as in the data file (e.g. `net_gamma`).
    pub name: String,
    /// One value per bar; NaN where the source had none.
    pub values: Vec<f64>,
}

/// Columnar bars, sorted by (timestamp, symbol id).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bars {
    /// Symbol names; the id of a symbol is its index here. Sorted alphabetically.
    pub symbols: Vec<String>,
    /// Bar start per row, nanoseconds since the Unix epoch (UTC).
    pub ts: Vec<Ts>,
    /// Symbol id per row (index into `symbols`).
    pub sym: Vec<SymbolId>,
    /// Opening price per row.
    pub open: Vec<f64>,
    /// High per row.
    pub high: Vec<f64>,
    /// Low per row.
    pub low: Vec<f64>,
    /// Close per row.
    pub close: Vec<f64>,
    /// Volume per row, in the units of [`Bar::volume`].
    pub volume: Vec<f64>,
    /// Extra numeric columns beyond OHLCV, row-aligned with the others.
    pub extra: Vec<ExtraColumn>,
    /// Splits the prices were back-adjusted for (see [`super::AsTraded`]).
    pub splits: Vec<super::splits::AppliedSplit>,
}

impl Bars {
    /// Number of bars.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// True when there are no bars.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// The bar at row `i`.
    #[inline(always)]
    pub fn bar(&self, i: usize) -> Bar {
        Bar {
            ts: self.ts[i],
            symbol: self.sym[i],
            open: self.open[i],
            high: self.high[i],
            low: self.low[i],
            close: self.close[i],
            volume: self.volume[i],
        }
    }

    /// The name of symbol `id`.
    pub fn symbol_name(&self, id: SymbolId) -> &str {
        &self.symbols[id as usize]
    }

    /// The id of symbol `name`, if present.
    pub fn symbol_id(&self, name: &str) -> Option<SymbolId> {
        self.symbols.iter().position(|s| s == name).map(|i| i as SymbolId)
    }

    /// Appends one bar (extra columns get NaN). The caller keeps the sort order.
    pub fn push(&mut self, b: Bar) {
        self.ts.push(b.ts);
        self.sym.push(b.symbol);
        self.open.push(b.open);
        self.high.push(b.high);
        self.low.push(b.low);
        self.close.push(b.close);
        self.volume.push(b.volume);
        for e in &mut self.extra {
            e.values.push(f64::NAN);
        }
    }

    /// Row ranges of equal timestamps: one range per time step, in order.
    pub fn steps(&self) -> Steps<'_> {
        Steps { ts: &self.ts, pos: 0 }
    }

    /// Keeps the rows where `keep[i]` is true.
    pub fn retain_mask(&mut self, keep: &[bool]) {
        debug_assert_eq!(keep.len(), self.len());
        fn filt<T: Copy>(v: &mut Vec<T>, keep: &[bool]) {
            let mut k = keep.iter();
            v.retain(|_| *k.next().unwrap_or(&false));
        }
        filt(&mut self.ts, keep);
        filt(&mut self.sym, keep);
        filt(&mut self.open, keep);
        filt(&mut self.high, keep);
        filt(&mut self.low, keep);
        filt(&mut self.close, keep);
        filt(&mut self.volume, keep);
        for e in &mut self.extra {
            filt(&mut e.values, keep);
        }
    }

    /// Drops symbols that no longer have bars and renumbers the rest (keeping alphabetical ids).
    pub fn compact_symbols(&mut self) {
        let mut used = vec![false; self.symbols.len()];
        for &s in &self.sym {
            used[s as usize] = true;
        }
        if used.iter().all(|&u| u) {
            return;
        }
        let mut remap = vec![u32::MAX; self.symbols.len()];
        let mut names = Vec::new();
        for (i, name) in self.symbols.iter().enumerate() {
            if used[i] {
                remap[i] = names.len() as u32;
                names.push(name.clone());
            }
        }
        for s in &mut self.sym {
            *s = remap[*s as usize];
        }
        self.symbols = names;
    }

    /// The bar interval: the most common positive gap between consecutive bars of the same
    /// symbol (ties to the smaller gap). `None` with fewer than two bars of any symbol.
    pub fn infer_interval(&self) -> Option<i64> {
        let mut last: Vec<Option<Ts>> = vec![None; self.symbols.len()];
        let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
        // Runs of equal gaps are counted locally and flushed on change: one map update per
        // run instead of per bar.
        let (mut run_gap, mut run_len) = (0i64, 0usize);
        for i in 0..self.len() {
            let s = self.sym[i] as usize;
            if let Some(prev) = last[s] {
                let d = self.ts[i] - prev;
                if d > 0 {
                    if d != run_gap && run_len > 0 {
                        *counts.entry(run_gap).or_default() += run_len;
                        run_len = 0;
                    }
                    run_gap = d;
                    run_len += 1;
                }
            }
            last[s] = Some(self.ts[i]);
        }
        if run_len > 0 {
            *counts.entry(run_gap).or_default() += run_len;
        }
        let best = counts.values().copied().max()?;
        counts.into_iter().find(|&(_, c)| c == best).map(|(d, _)| d)
    }

    /// Row indices of each symbol, in time order.
    pub fn rows_by_symbol(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.symbols.len()];
        for (i, &s) in self.sym.iter().enumerate() {
            out[s as usize].push(i);
        }
        out
    }

    /// The rows at `idx`, in that order, as a new table (same symbols).
    pub fn gather(&self, idx: &[u32]) -> Bars {
        fn g<T: Copy>(v: &[T], idx: &[u32]) -> Vec<T> {
            idx.iter().map(|&i| v[i as usize]).collect()
        }
        Bars {
            symbols: self.symbols.clone(),
            ts: g(&self.ts, idx),
            sym: g(&self.sym, idx),
            open: g(&self.open, idx),
            high: g(&self.high, idx),
            low: g(&self.low, idx),
            close: g(&self.close, idx),
            volume: g(&self.volume, idx),
            extra: self.extra.iter().map(|e| ExtraColumn { name: e.name.clone(), values: g(&e.values, idx) }).collect(),
            splits: self.splits.clone(),
        }
    }

    /// Appends all rows of `other`, whose symbol ids must already be in this table's
    /// numbering; extra columns are matched by name (NaN where `other` lacks one).
    pub fn append(&mut self, other: &Bars) {
        let n = other.len();
        self.ts.extend_from_slice(&other.ts);
        self.sym.extend_from_slice(&other.sym);
        self.open.extend_from_slice(&other.open);
        self.high.extend_from_slice(&other.high);
        self.low.extend_from_slice(&other.low);
        self.close.extend_from_slice(&other.close);
        self.volume.extend_from_slice(&other.volume);
        for e in &mut self.extra {
            match other.extra.iter().find(|o| o.name == e.name) {
                Some(o) => e.values.extend_from_slice(&o.values),
                None => e.values.extend(std::iter::repeat_n(f64::NAN, n)),
            }
        }
    }

    /// Rows `range` as a new table (same symbols).
    pub fn slice(&self, range: Range<usize>) -> Bars {
        Bars {
            symbols: self.symbols.clone(),
            ts: self.ts[range.clone()].to_vec(),
            sym: self.sym[range.clone()].to_vec(),
            open: self.open[range.clone()].to_vec(),
            high: self.high[range.clone()].to_vec(),
            low: self.low[range.clone()].to_vec(),
            close: self.close[range.clone()].to_vec(),
            volume: self.volume[range.clone()].to_vec(),
            extra: self
                .extra
                .iter()
                .map(|e| ExtraColumn { name: e.name.clone(), values: e.values[range.clone()].to_vec() })
                .collect(),
            splits: self.splits.clone(),
        }
    }
}

/// Iterator over the row ranges of equal timestamps.
pub struct Steps<'a> {
    ts: &'a [Ts],
    pos: usize,
}

impl Iterator for Steps<'_> {
    type Item = Range<usize>;

    #[inline]
    fn next(&mut self) -> Option<Range<usize>> {
        let start = self.pos;
        let t = *self.ts.get(start)?;
        let mut end = start + 1;
        while end < self.ts.len() && self.ts[end] == t {
            end += 1;
        }
        self.pos = end;
        Some(start..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn bar(ts: Ts, symbol: SymbolId, close: f64) -> Bar {
        Bar { ts, symbol, open: close, high: close, low: close, close, volume: 100.0 }
    }

    fn two_symbols() -> Bars {
        let mut b = Bars { symbols: vec!["A".into(), "B".into()], ..Default::default() };
        for (t, s) in [(0, 0), (0, 1), (60, 0), (120, 0), (120, 1), (180, 1)] {
            b.push(bar(t, s, 10.0));
        }
        b
    }

    #[test]
    fn test_steps_group_equal_timestamps() {
        let b = two_symbols();
        let steps: Vec<_> = b.steps().collect();
        assert_eq!(steps, vec![0..2, 2..3, 3..5, 5..6]);
    }

    #[test]
    fn test_infer_interval_uses_per_symbol_gaps() {
        let b = two_symbols();
        // A: 60, 60; B: 120, 60 -> 60 occurs 3 times.
        assert_eq!(b.infer_interval(), Some(60));
    }

    #[test]
    fn test_retain_and_compact_symbols() {
        let mut b = two_symbols();
        let keep: Vec<bool> = b.sym.iter().map(|&s| s == 1).collect();
        b.retain_mask(&keep);
        b.compact_symbols();
        assert_eq!(b.symbols, vec!["B".to_string()]);
        assert_eq!(b.sym, vec![0, 0, 0]);
        assert_eq!(b.ts, vec![0, 120, 180]);
    }
}
