//! BM25 search over the committed index: term-count layers scored by cells, best bound
//! first, so only documents that can still enter the top are scored.
//!
//! The steps of one query (each a function below):
//! 1. [`TextView::plan_terms`], once per recall (the tail search and every widening round
//!    share it): each query term in each segment, from the postings cache,
//!    and its BM25 weight from the index-wide document frequency;
//! 2. per segment ([`search_segment`]): rare terms decoded into the scratch
//!    ([`decode_rare_terms`]); bit-sliced counting of how many terms each document holds
//!    ([`count_levels`]); the documents where a term repeats; the documents the filters
//!    allow ([`allowed_docs`]);
//! 3. cells of documents (term count × length class, plus repeats), each with a bound on
//!    its BM25 scores ([`SegmentQuery::cells`]); documents of two or more terms sorted into
//!    them in one pass ([`SegmentQuery::bucket`]);
//! 4. cells scored best bound first ([`SegmentQuery::score_cell`]) until the top's
//!    threshold exceeds the next bound.
//!
//! Every step is `#[inline(always)]`: the search is compiled twice (baseline and AVX2 +
//! POPCNT, see [`crate::simd`]) and a step left out of line would run the baseline build.

use std::sync::Arc;

use tantivy::query::{Bm25StatisticsProvider, Bm25Weight};
use tantivy::{SegmentReader, Term};

use super::analyzer::term_key;
use super::index::Fields;
use super::postings::{Cached, Committed, Freqs, NormClasses, SegInfo, decode, prefix_ranks};
use super::tail::TailBatch;
use crate::market::Ts;
use crate::memory::error::Result;
use crate::memory::item::{ItemId, Kind};
use crate::memory::vector::TopK;

/// Immutable filters a text search runs inside the index.
#[derive(Debug, Clone, Default)]
pub(crate) struct TextFilter<'a> {
    pub agent: Option<&'a str>,
    pub symbol: Option<&'a str>,
    /// The same agent and symbol as interned ids (for the tail).
    pub agent_id: Option<u16>,
    pub symbol_id: Option<u16>,
    pub kind: Option<Kind>,
    pub from: Option<Ts>,
    pub to: Option<Ts>,
}

/// BM25 statistics of every stored slot: the committed index's and the tail's together.
pub(crate) struct Stats {
    pub docs: u64,
    pub avg_len: f32,
}

/// A term's postings in a segment, ready to score: cached, or decoded into the scratch.
#[derive(Clone, Copy)]
struct Posts<'a> {
    bits: &'a [u64],
    multi: Option<&'a [u64]>,
    ranks: &'a [u32],
    freqs: FreqsRef<'a>,
    max_tf: u32,
}

#[derive(Clone, Copy)]
enum FreqsRef<'a> {
    U8(&'a [u8]),
    U32(&'a [u32]),
}

impl Posts<'_> {
    /// The term frequency of document `w * 64 + bit.trailing_zeros()`, or 0.
    #[inline]
    fn tf(&self, w: usize, bit: u64) -> u32 {
        let x = self.bits[w];
        if x & bit == 0 {
            return 0;
        }
        let k = (self.ranks[w] + (x & (bit - 1)).count_ones()) as usize;
        match self.freqs {
            FreqsRef::U8(f) => f[k] as u32,
            FreqsRef::U32(f) => f[k],
        }
    }
}

/// Per-thread buffers of the committed search, reused across queries.
#[derive(Default)]
struct Scratch {
    /// The query terms' frequencies in one segment, list after list, in document order.
    freqs: Vec<u32>,
    /// `levels[l]`: documents holding at least l + 1 of the query terms (bitsets).
    levels: Vec<u64>,
    /// Per decoded term: its documents and those where it repeats (bitsets), and the set
    /// bits before each word.
    bits: Vec<u64>,
    ranks: Vec<u32>,
    allowed: Vec<u64>,
    /// Documents where some query term repeats.
    multi: Vec<u64>,
    /// Per cell of two or more terms: its documents.
    buckets: Vec<Vec<u32>>,
    /// The documents of the single-term cell being scored.
    ones: Vec<u32>,
    /// (score, document) of a cell's documents that passed the filters.
    cands: Vec<(f32, u32)>,
}

/// Where a decoded term sits in the [`Scratch`]: its first bits row and its freqs range.
type ScratchRow = (usize, usize, usize);

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Most term-count levels tracked: a query of more terms still works, its candidate sets
/// are just coarser.
const MAX_LEVELS: usize = 4;

/// Single-term documents are sorted into cells in one pass when the filters allow fewer
/// than one document in this many (see `search_committed`).
const SINGLES_BUCKETED_BELOW: usize = 8;

/// Read-only text search over a committed searcher and a tail.
pub(crate) struct TextView<'a> {
    pub fields: Fields,
    pub committed: &'a Committed,
    pub tail: &'a [Arc<TailBatch>],
    /// The latest event time of any stored item (a time filter at or after it is a no-op).
    pub max_time: Ts,
}

impl TextView<'_> {
    /// BM25 statistics of every stored slot, committed or in the tail (dead ones included
    /// until compaction, as tantivy counts them).
    ///
    /// The union, not the committed index's alone, so that a score depends on what is
    /// stored and never on when tantivy last committed: `commit_every` and the compaction's
    /// choice between tail and index are speed knobs, not results (issue 16; before, a tail
    /// document was scored with the statistics of the commit before it, and a recall's
    /// ranking could change at a commit that added nothing new).
    pub(crate) fn stats(&self) -> Result<Stats> {
        let searcher = &self.committed.searcher;
        let mut docs = searcher.total_num_docs()?;
        let mut tokens = if docs > 0 { searcher.total_num_tokens(self.fields.text)? } else { 0 };
        docs += self.tail.iter().map(|b| b.docs.len() as u64).sum::<u64>();
        tokens += self.tail.iter().map(|b| b.tokens).sum::<u64>();
        Ok(Stats { docs, avg_len: if docs > 0 { tokens as f32 / docs as f32 } else { 1.0 } })
    }

    /// Documents holding `term`, committed or in the tail, from tantivy's own count (the
    /// brute-force test's independent check of [`TextView::plan_terms`]).
    #[cfg(test)]
    pub(super) fn doc_freq(&self, term: &str) -> Result<u64> {
        let committed = self.committed.searcher.doc_freq(&Term::from_field_text(self.fields.text, term))?;
        Ok(committed + self.tail_doc_freq(term))
    }

    /// Documents of the tail holding `term`.
    pub(super) fn tail_doc_freq(&self, term: &str) -> u64 {
        let k = term_key(term);
        self.tail.iter().map(|b| b.df.get(&k).map_or(0, |&n| n as u64)).sum()
    }

    /// Top `limit` committed documents by BM25 among those passing `filter`, as (score, id),
    /// ties broken by id. Exact: the same list as scoring every matching document.
    ///
    /// Scores are tantivy's formula (`Bm25Weight`) with the statistics of the index and the
    /// tail together ([`TextView::stats`]; with an empty tail, the scores a `TermQuery`
    /// union gives); what is ours is which documents get scored. Per segment:
    ///
    /// 1. The query terms' postings are decoded (cheap: bit-packed blocks) and each term's
    ///    documents set in a bitset; bit-sliced counting gives `C_r`, the documents holding
    ///    at least `r` of the terms, with a few word operations per 64 documents.
    /// 2. Only `C_r` (∩ the filter bitsets) is scored, for the largest `r` that can fill the
    ///    top. A document outside `C_r` holds at most `r − 1` terms, so its score is at most
    ///    `B(r−1)`, the sum of the `r − 1` largest per-term upper bounds (`ub_t` = the term's
    ///    score at its highest tf in the segment and the segment's shortest document). If
    ///    the top's threshold then exceeds `B(r−1)` the segment is done; otherwise `r` drops
    ///    and the next layer of documents is scored. This is the max-score argument of Turtle
    ///    & Flood ("Query evaluation: strategies and optimizations", 1995) applied to
    ///    term-count layers rather than to lists.
    ///
    /// Why: memory texts are short and similar, so BM25 scores barely vary and the usual
    /// skipping schemes rarely apply. Measured on 100k synthetic items with 3-word queries
    /// whose terms sit in 2–8% of the documents (~17k postings a query): tantivy's
    /// block-max WAND union ~500 µs, a document-at-a-time merge 360 µs, scoring every
    /// posting term-at-a-time into an accumulator 190 µs; this scores ~5% of the documents
    /// (C_2, a few hundred) and its cost is decoding and setting bits, ~1.5 ns a posting
    /// each: ~60 µs. The last step down (C_2 to C_1) only scores the single-term documents
    /// of terms whose own bound reaches the threshold: a rare term with a high bound used
    /// to make ~5% of queries score every document (the p99). Filters on agent, symbol
    /// and kind are cached bitsets per segment (walking an agent's postings per query made
    /// filtered queries 2x slower than unfiltered ones); the time range, liveness and the
    /// id are read only for documents that could enter the top. Exactness is tested
    /// against brute-force BM25 (`test_search_committed_equals_brute_force`).
    ///
    /// Compiled twice, for the baseline x86-64 and with AVX2 and POPCNT (bitset counting and
    /// ranks), chosen at run time ([`crate::simd`]); the results are the same.
    #[cfg(test)]
    pub(crate) fn search_committed(
        &self,
        terms: &[String],
        filter: &TextFilter<'_>,
        limit: usize,
    ) -> Result<Vec<(f32, ItemId)>> {
        let plan = self.plan_terms(terms)?;
        self.search_planned(&plan, filter, limit)
    }

    /// [`TextView::search_committed`] with the query's terms already looked up: a recall
    /// plans its terms once for the tail and every widening round of the committed search.
    pub(crate) fn search_planned(
        &self,
        plan: &TermPlan,
        filter: &TextFilter<'_>,
        limit: usize,
    ) -> Result<Vec<(f32, ItemId)>> {
        search_committed_at(crate::simd::active(), self, plan, filter, limit)
    }

    #[inline(always)]
    fn search_committed_impl(
        &self,
        plan: &TermPlan,
        filter: &TextFilter<'_>,
        limit: usize,
    ) -> Result<Vec<(f32, ItemId)>> {
        let searcher = &self.committed.searcher;
        if plan.keys.is_empty() || searcher.num_docs() == 0 || limit == 0 {
            return Ok(Vec::new());
        }
        let found = &plan.found;
        let q = QueryPlan {
            weights: plan.weights.clone(),
            filter_terms: self.filter_terms(filter),
            needs_time: filter.from.is_some() || filter.to.is_some_and(|t| t < self.max_time),
            from: filter.from.unwrap_or(i64::MIN),
            to: filter.to.unwrap_or(i64::MAX),
            limit,
        };
        let mut top = TopK::new(limit);
        // The thread's buffers, taken out for the query (lost only on an error).
        let mut scratch = SCRATCH.with(|cell| std::mem::take(&mut *cell.borrow_mut()));
        for ((seg, info), cached) in searcher.segment_readers().iter().zip(self.committed.segs.iter()).zip(found) {
            search_segment(seg, info, cached, &q, &mut scratch, &mut top)?;
        }
        SCRATCH.with(|cell| *cell.borrow_mut() = scratch);
        Ok(top.into_sorted().into_iter().map(|(s, id, _)| (s, id)).collect())
    }

    /// Step 1, once per query: each term in each segment, from the segment's cache, and per
    /// term its BM25 weight. The document frequencies summed over segments are tantivy's
    /// `doc_freq`; the tail's are added ([`TextView::stats`]).
    pub(crate) fn plan_terms(&self, terms: &[String]) -> Result<TermPlan> {
        let stats = self.stats()?;
        let term_objs: Vec<Term> = terms.iter().map(|t| Term::from_field_text(self.fields.text, t)).collect();
        let mut found: Vec<Vec<Cached>> = Vec::with_capacity(self.committed.segs.len());
        let mut dfs: Vec<u64> = terms.iter().map(|t| self.tail_doc_freq(t)).collect();
        for info in self.committed.segs.iter() {
            let mut v = Vec::with_capacity(terms.len());
            info.lookup(&term_objs, &mut v)?;
            for (df, c) in dfs.iter_mut().zip(&v) {
                *df += match c {
                    Cached::Absent => 0,
                    Cached::Sparse(ti) => ti.doc_freq as u64,
                    Cached::Dense(tb) => tb.doc_freq as u64,
                };
            }
            found.push(v);
        }
        // Only candidates are scored (hundreds, not every posting), so tantivy's formula is
        // called directly rather than tabulated per query.
        let weights =
            dfs.iter().map(|&df| Bm25Weight::for_one_term_without_explain(df, stats.docs, stats.avg_len)).collect();
        Ok(TermPlan {
            found,
            weights,
            keys: terms.iter().map(|t| term_key(t)).collect(),
            present: dfs.iter().map(|&df| df > 0).collect(),
        })
    }

    /// The filter terms (agent, symbol, kind) whose cached bitsets restrict the documents.
    #[inline(always)]
    fn filter_terms(&self, filter: &TextFilter<'_>) -> Vec<Term> {
        let f = self.fields;
        let mut out = Vec::new();
        if let Some(a) = filter.agent {
            out.push(Term::from_field_text(f.agent, a));
        }
        if let Some(sy) = filter.symbol {
            out.push(Term::from_field_text(f.symbol, sy));
        }
        if let Some(k) = filter.kind {
            out.push(Term::from_field_text(f.kind, k.name()));
        }
        out
    }
}

crate::simd::multiversion! {
    /// [`TextView::search_committed`] built for `isa`.
    pub(crate) fn search_committed_at(
        view: &TextView<'_>,
        plan: &TermPlan,
        filter: &TextFilter<'_>,
        limit: usize,
    ) -> Result<Vec<(f32, ItemId)>> = TextView::search_committed_impl;
}

/// A query's terms looked up once ([`TextView::plan_terms`]).
pub(crate) struct TermPlan {
    /// Per committed segment, each term's cached postings.
    found: Vec<Vec<Cached>>,
    /// Per term, its BM25 weight over every stored slot.
    pub(super) weights: Vec<Bm25Weight>,
    /// Per term, its key (the tail's documents list terms by key).
    pub(super) keys: Vec<u64>,
    /// Per term, whether any stored document holds it (one that none does scores nothing).
    pub(super) present: Vec<bool>,
}

/// What a query brings to every segment.
struct QueryPlan {
    /// Per query term.
    weights: Vec<Bm25Weight>,
    filter_terms: Vec<Term>,
    /// The time range must be checked (it excludes some stored item).
    needs_time: bool,
    from: Ts,
    to: Ts,
    limit: usize,
}

/// A query term present in a segment: its weight index, where its decoded postings sit in
/// the scratch (None: cached), its highest term frequency.
type Planned = (usize, Option<ScratchRow>, u32);

/// Steps 2–4 for one segment, adding its best documents to `top`.
#[inline(always)]
fn search_segment(
    seg: &SegmentReader,
    info: &SegInfo,
    cached: &[Cached],
    q: &QueryPlan,
    sc: &mut Scratch,
    top: &mut TopK,
) -> Result<()> {
    let words = info.words();
    let plan = decode_rare_terms(info, cached, sc)?;
    if plan.is_empty() {
        return Ok(());
    }
    sc.ranks.resize(sc.bits.len(), 0);
    for &(_, src, _) in &plan {
        if let Some((row, _, _)) = src {
            prefix_ranks(&sc.bits[row..row + words], &mut sc.ranks[row..row + words]);
        }
    }
    let Scratch { freqs, levels, bits, ranks, allowed, multi, buckets, ones, cands } = sc;
    let lists = posting_lists(&plan, cached, &q.weights, bits, ranks, freqs, words);
    let nlev = lists.len().min(MAX_LEVELS);
    count_levels(&lists, levels, nlev, words);
    let has_multi = repeats(&lists, multi, words);
    let (allowed, n_allowed) = allowed_docs(seg, info, &q.filter_terms, allowed, words)?;
    let s = SegmentQuery {
        info,
        classes: info.classes(),
        lists,
        words,
        nlev,
        levels,
        multi,
        has_multi,
        allowed,
        // When the filters leave few documents (an analyst's own memories of one symbol: a
        // few percent), the single-term documents go to their cells in the same pass as the
        // others: re-reading every word of the bitsets per single-term cell cost more than
        // sorting those few hundred documents.
        bucket_singles: n_allowed * SINGLES_BUCKETED_BELOW <= info.max_doc,
    };
    let (ubs, cells) = s.cells();
    s.bucket(buckets);
    let alive = seg.alive_bitset();
    for &(cell_bound, r, c) in &cells {
        let thr = top.exact_threshold();
        if top.len() >= q.limit && cell_bound < thr {
            break;
        }
        let docs: &[u32] = if r >= 2 || s.bucket_singles {
            &buckets[s.cell_of(r, c)]
        } else {
            // Holding one term: only the terms whose own bound reaches the threshold.
            let singles: Option<Vec<usize>> = (top.len() >= q.limit)
                .then(|| (0..s.lists.len()).filter(|&j| ubs[c * s.lists.len() + j] >= thr).collect());
            s.single_term_docs(c, singles.as_deref(), ones);
            ones
        };
        s.score_cell(docs, q, alive, cands, top);
    }
    Ok(())
}

/// Step 2a: each term present in the segment, cached if frequent, else its postings decoded
/// into the scratch (rows of bits and multi bits, a range of freqs).
#[inline(always)]
fn decode_rare_terms(info: &SegInfo, cached: &[Cached], sc: &mut Scratch) -> Result<Vec<Planned>> {
    let words = info.words();
    sc.freqs.clear();
    sc.bits.clear();
    let mut plan: Vec<Planned> = Vec::with_capacity(cached.len());
    for (wi, c) in cached.iter().enumerate() {
        match c {
            Cached::Absent => {}
            Cached::Dense(tb) => plan.push((wi, None, tb.max_tf)),
            Cached::Sparse(ti) => {
                let (row, start) = (sc.bits.len(), sc.freqs.len());
                sc.bits.resize(row + 2 * words, 0);
                let (bits, multi) = sc.bits[row..].split_at_mut(words);
                let max_tf = decode(&info.text, ti, bits, Some((multi, &mut sc.freqs)))?;
                plan.push((wi, Some((row, start, sc.freqs.len())), max_tf));
            }
        }
    }
    Ok(plan)
}

/// (postings, weight) per present term, in query order.
#[inline(always)]
fn posting_lists<'a>(
    plan: &[Planned],
    cached: &'a [Cached],
    weights: &'a [Bm25Weight],
    bits: &'a [u64],
    ranks: &'a [u32],
    freqs: &'a [u32],
    words: usize,
) -> Vec<(Posts<'a>, &'a Bm25Weight)> {
    plan.iter()
        .map(|&(wi, src, max_tf)| {
            let posts = match (src, &cached[wi]) {
                (Some((row, s, e)), _) => Posts {
                    bits: &bits[row..row + words],
                    multi: (max_tf > 1).then(|| &bits[row + words..row + 2 * words]),
                    ranks: &ranks[row..row + words],
                    freqs: FreqsRef::U32(&freqs[s..e]),
                    max_tf,
                },
                (None, Cached::Dense(tb)) => Posts {
                    bits: &tb.bits,
                    multi: tb.multi.as_deref(),
                    ranks: &tb.ranks,
                    freqs: match &tb.freqs {
                        Freqs::U8(v) => FreqsRef::U8(v),
                        Freqs::U32(v) => FreqsRef::U32(v),
                    },
                    max_tf,
                },
                (None, _) => unreachable!("only dense terms are planned without a scratch row"),
            };
            (posts, &weights[wi])
        })
        .collect()
}

/// Step 2b, bit-sliced counting: `levels[l]` gets the documents holding at least l + 1 of
/// the terms (level l gains what level l − 1 held and the term has).
#[inline(always)]
fn count_levels(lists: &[(Posts<'_>, &Bm25Weight)], levels: &mut Vec<u64>, nlev: usize, words: usize) {
    levels.clear();
    levels.resize(nlev * words, 0);
    for (p, _) in lists {
        for l in (1..nlev).rev() {
            let (lower, upper) = levels.split_at_mut(l * words);
            let below = &lower[(l - 1) * words..];
            for ((u, &b), &t) in upper[..words].iter_mut().zip(below).zip(p.bits) {
                *u |= b & t;
            }
        }
        levels[..words].iter_mut().zip(p.bits).for_each(|(x, &t)| *x |= t);
    }
}

/// Step 2c: the documents where some term occurs more than once (they get their own
/// cells); false when there are none.
#[inline(always)]
fn repeats(lists: &[(Posts<'_>, &Bm25Weight)], multi: &mut Vec<u64>, words: usize) -> bool {
    let has_multi = lists.iter().any(|(p, _)| p.multi.is_some());
    if has_multi {
        multi.clear();
        multi.resize(words, 0);
        for m in lists.iter().filter_map(|(p, _)| p.multi) {
            multi.iter_mut().zip(m).for_each(|(x, &y)| *x |= y);
        }
    }
    has_multi
}

/// Step 2d: the documents the immutable filters allow (None: all), and how many.
#[inline(always)]
fn allowed_docs<'a>(
    seg: &SegmentReader,
    info: &SegInfo,
    filter_terms: &[Term],
    allowed: &'a mut Vec<u64>,
    words: usize,
) -> Result<(Option<&'a [u64]>, usize)> {
    if filter_terms.is_empty() {
        return Ok((None, info.max_doc));
    }
    allowed.clear();
    allowed.resize(words, u64::MAX);
    for ft in filter_terms {
        let bits = info.filter(seg, ft)?;
        allowed.iter_mut().zip(bits.iter()).for_each(|(x, &y)| *x &= y);
    }
    let n_allowed = allowed.iter().map(|x| x.count_ones() as usize).sum();
    Ok((Some(&allowed[..]), n_allowed))
}

/// One segment's query state once the term counts are known (steps 3 and 4).
struct SegmentQuery<'a> {
    info: &'a SegInfo,
    classes: &'a NormClasses,
    /// Per term present in the segment, in query order: its postings and BM25 weight.
    lists: Vec<(Posts<'a>, &'a Bm25Weight)>,
    words: usize,
    /// Term-count levels tracked (at most [`MAX_LEVELS`]).
    nlev: usize,
    levels: &'a [u64],
    multi: &'a [u64],
    has_multi: bool,
    allowed: Option<&'a [u64]>,
    /// Single-term documents are bucketed with the others (selective filters).
    bucket_singles: bool,
}

impl SegmentQuery<'_> {
    /// The bucket of cell (r terms, class c); class `nc` holds the repeats.
    #[inline(always)]
    fn cell_of(&self, r: usize, c: usize) -> usize {
        (r - 1) * (self.classes.min_norm.len() + 1) + c
    }

    /// Step 3a: per class (and one last row for the repeats) each term's score bound, and
    /// the cells (bound, term count r, class c) best bound first. A cell of r terms is
    /// bounded by its r best per-term bounds (all of them on the top level).
    #[inline(always)]
    fn cells(&self) -> (Vec<f32>, Vec<(f32, usize, usize)>) {
        let (info, classes, lists, nlev) = (self.info, self.classes, &self.lists, self.nlev);
        let nl = lists.len();
        let ub = |j: usize, norm: u8, tf: u32| lists[j].1.score(norm, tf) * (1.0 + 1e-5);
        let nc = classes.min_norm.len();
        let mut ubs: Vec<f32> = Vec::with_capacity((nc + 1) * nl);
        for c in 0..=nc {
            for (j, (p, _)) in lists.iter().enumerate() {
                ubs.push(match classes.min_norm.get(c) {
                    Some(&norm) => ub(j, norm, 1),
                    None => ub(j, info.min_norm, p.max_tf),
                });
            }
        }
        let mut cells: Vec<(f32, usize, usize)> = Vec::with_capacity(nlev * (nc + 1));
        for c in 0..=nc {
            if c == nc && !self.has_multi {
                continue;
            }
            let mut row: Vec<f32> = ubs[c * nl..(c + 1) * nl].to_vec();
            row.sort_by(|a, b| b.total_cmp(a));
            for r in 1..=nlev {
                let most = if r == nlev { nl } else { r };
                cells.push((row[..most].iter().sum(), r, c));
            }
        }
        cells.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        (ubs, cells)
    }

    /// Step 3b: documents holding two or more terms (a few percent) go to their cells in
    /// one pass; the single-term cells, far larger and rarely needed, are read from the
    /// bitsets when their turn comes (unless `bucket_singles`).
    #[inline(always)]
    fn bucket(&self, buckets: &mut Vec<Vec<u32>>) {
        let (words, nlev, levels, multi, has_multi) = (self.words, self.nlev, self.levels, self.multi, self.has_multi);
        let (allowed, class_of, norms) = (self.allowed, &self.classes.class_of, &self.info.norms);
        let nc = self.classes.min_norm.len();
        let cell_of = |r: usize, c: usize| (r - 1) * (nc + 1) + c;
        for b in buckets.iter_mut() {
            b.clear();
        }
        if nlev < 2 && !self.bucket_singles {
            return;
        }
        buckets.resize_with(cell_of(nlev, nc) + 1, Vec::new);
        let first = if self.bucket_singles { 0 } else { words };
        for w in 0..words {
            let mut x = levels[first + w] & allowed.map_or(u64::MAX, |a| a[w]);
            while x != 0 {
                let bit = x & x.wrapping_neg();
                x &= x - 1;
                let d = (w * 64) as u32 + bit.trailing_zeros();
                let r = 1 + (1..nlev).filter(|&l| levels[l * words + w] & bit != 0).count();
                let c = if has_multi && multi[w] & bit != 0 {
                    nc
                } else {
                    class_of[norms.fieldnorm_id(d) as usize] as usize
                };
                buckets[cell_of(r, c)].push(d);
            }
        }
    }

    /// Step 4a: the documents of single-term cell `c`, read from the bitsets; with `singles`,
    /// only those holding one of those terms.
    #[inline(always)]
    fn single_term_docs(&self, c: usize, singles: Option<&[usize]>, ones: &mut Vec<u32>) {
        let (words, levels, multi, has_multi, allowed, lists) =
            (self.words, self.levels, self.multi, self.has_multi, self.allowed, &self.lists[..]);
        let (nlev, nc, class_bits) = (self.nlev, self.classes.min_norm.len(), &self.classes.bits[..]);
        ones.clear();
        for w in 0..words {
            let mut x = levels[w];
            if nlev > 1 {
                x &= !levels[words + w];
            }
            if c < nc {
                x &= class_bits[c * words + w];
                if has_multi {
                    x &= !multi[w];
                }
            } else {
                x &= multi[w];
            }
            if let Some(a) = allowed {
                x &= a[w];
            }
            if let Some(js) = singles {
                x &= js.iter().fold(0, |m, &j| m | lists[j].0.bits[w]);
            }
            while x != 0 {
                ones.push((w * 64) as u32 + x.trailing_zeros());
                x &= x - 1;
            }
        }
    }

    /// Step 4b: scores a cell's documents (BM25 summed in query-term order), drops those
    /// below the top's floor, dead or out of the time range, and offers the cell's best
    /// `limit` (with any ties at the cut) to `top`: only they need their item ids (a column
    /// read each).
    #[inline(always)]
    fn score_cell(
        &self,
        docs: &[u32],
        q: &QueryPlan,
        alive: Option<&tantivy::fastfield::AliveBitSet>,
        cands: &mut Vec<(f32, u32)>,
        top: &mut TopK,
    ) {
        let (info, lists) = (self.info, &self.lists[..]);
        let (needs_time, from, to) = (q.needs_time, q.from, q.to);
        cands.clear();
        let floor = top.threshold();
        for &d in docs {
            let (w, bit) = (d as usize / 64, 1u64 << (d % 64));
            let norm = info.norms.fieldnorm_id(d);
            let mut score = 0.0f32;
            for (p, weight) in lists {
                let tf = p.tf(w, bit);
                if tf > 0 {
                    score += weight.score(norm, tf);
                }
            }
            if score < floor
                || alive.is_some_and(|a| !a.is_alive(d))
                || (needs_time && {
                    let t = info.times.get_val(d);
                    t < from || t > to
                })
            {
                continue;
            }
            cands.push((score, d));
        }
        let limit = q.limit;
        if cands.len() > limit {
            cands.select_nth_unstable_by(limit - 1, |a, b| b.0.total_cmp(&a.0));
            let kth = cands[limit - 1].0;
            cands.retain(|c| c.0 >= kth);
        }
        for &(score, d) in cands.iter() {
            top.push(score, info.ids.get_val(d), 0);
        }
    }
}

#[cfg(test)]
mod tests;
