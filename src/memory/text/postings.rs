//! The postings cache: per committed segment, what queries need again and again.
//!
//! Built once per segment (not per query) and shared by every snapshot that holds the
//! segment ([`Committed::new`] reuses the previous commit's): the id and time columns, the
//! field norms grouped into length classes, filter terms (agent, symbol, kind) as bitsets,
//! and the query terms met so far, frequent ones decoded into bitsets with ranks and term
//! frequencies ([`TermBits`]). Opening a fast-field column or walking an agent's postings
//! per query cost more than the query terms' own postings did, and decoding frequent terms
//! per query was the largest cost of a recall.

use std::sync::{Arc, Mutex, RwLock};

use rustc_hash::FxHashMap;
use tantivy::columnar::ColumnValues;
use tantivy::fieldnorm::FieldNormReader;
use tantivy::postings::TermInfo;
use tantivy::schema::IndexRecordOption;
use tantivy::{InvertedIndexReader, Searcher, SegmentReader, Term};

use super::index::Fields;
use crate::memory::error::{MemoryError, Result};

/// One committed segment's columns and cached term and filter sets, built once per segment
/// (not per query: opening a fast-field column and walking an agent's postings cost more
/// than the query terms' postings did).
pub(crate) struct SegInfo {
    id: tantivy::index::SegmentId,
    pub(super) max_doc: usize,
    pub(super) ids: Arc<dyn ColumnValues<u64>>,
    pub(super) times: Arc<dyn ColumnValues<i64>>,
    pub(super) text: Arc<InvertedIndexReader>,
    pub(super) norms: FieldNormReader,
    /// The smallest field-norm id of any document (the longest possible BM25 tf part).
    pub(super) min_norm: u8,
    /// Documents holding a filter term (agent, symbol or kind), as bitsets, built on first use.
    filters: Mutex<FxHashMap<Term, Arc<[u64]>>>,
    /// Length classes, built on first use.
    classes: std::sync::OnceLock<NormClasses>,
    /// Query terms met so far: frequent ones decoded (see [`TermBits`]), others by their
    /// place in tantivy's postings.
    terms: RwLock<FxHashMap<Term, Cached>>,
}

/// Past this many remembered terms a segment stops remembering rare and absent ones (each
/// costs ~100 bytes; frequent ones are bounded by the postings, see [`TermBits`]).
const MAX_SPARSE_TERMS: usize = 1 << 16;

/// A query term in one segment, as remembered by [`SegInfo`].
#[derive(Clone)]
pub(super) enum Cached {
    Absent,
    Sparse(TermInfo),
    Dense(Arc<TermBits>),
}

/// A frequent term's postings in one segment, decoded once: its documents as a bitset, the
/// set bits before each word, and its term frequencies in document order.
///
/// A term is frequent when it is in at least one document in 64 of the segment: then the
/// bitset is no larger than 8 bytes a posting, and the whole entry no more than ~13, so the
/// cache is bounded by the index's postings (at most 64 x the average distinct words of a
/// document such terms per segment). Decoding a frequent term's postings on every query
/// was the largest cost of a recall (17k postings a query at 100k items, ~1.5 ns each);
/// with the cache, a query's per-segment text work is a few word operations per 64
/// documents plus scoring the candidates.
pub(super) struct TermBits {
    pub(super) bits: Box<[u64]>,
    /// The documents where the term occurs more than once (None if none).
    pub(super) multi: Option<Box<[u64]>>,
    pub(super) ranks: Box<[u32]>,
    pub(super) freqs: Freqs,
    pub(super) doc_freq: u32,
    pub(super) max_tf: u32,
}

/// Term frequencies, one byte each when they all fit.
pub(super) enum Freqs {
    U8(Box<[u8]>),
    U32(Box<[u32]>),
}

/// Per word of `bits`: the set bits in the words before it.
#[inline(always)]
pub(super) fn prefix_ranks(bits: &[u64], ranks: &mut [u32]) {
    let mut before = 0u32;
    for (r, &x) in ranks.iter_mut().zip(bits) {
        *r = before;
        before += x.count_ones();
    }
}

/// Decodes a term's postings: sets its documents' bits in `bits` and, given `with_freqs`,
/// appends its term frequencies to the vector, sets the bits of the documents where the
/// term repeats, and returns the highest frequency (1 without frequencies).
pub(super) fn decode(
    inv: &InvertedIndexReader,
    info: &TermInfo,
    bits: &mut [u64],
    mut with_freqs: Option<(&mut [u64], &mut Vec<u32>)>,
) -> Result<u32> {
    let option = if with_freqs.is_some() { IndexRecordOption::WithFreqs } else { IndexRecordOption::Basic };
    let mut p = inv.read_block_postings_from_terminfo(info, option).map_err(io_err)?;
    let mut max_tf = 1u32;
    while !p.docs().is_empty() {
        mark(bits, p.docs());
        if let Some((multi, freqs)) = with_freqs.as_mut() {
            freqs.extend_from_slice(p.freqs());
            for (&d, &f) in p.docs().iter().zip(p.freqs()) {
                if f > 1 {
                    multi[d as usize / 64] |= 1 << (d % 64);
                    max_tf = max_tf.max(f);
                }
            }
        }
        p.advance();
    }
    Ok(max_tf)
}

/// A segment's documents in classes of text length (by field-norm id, shortest first, of
/// about equal size): a class's shortest document bounds the BM25 scores of all of its
/// documents, so long documents need not be scored once the top is full of short ones.
pub(super) struct NormClasses {
    /// Class c's documents: bits `c * words .. (c + 1) * words`.
    pub(super) bits: Vec<u64>,
    /// Class c's smallest field-norm id.
    pub(super) min_norm: Vec<u8>,
    /// Each field-norm id's class.
    pub(super) class_of: [u8; 256],
}

/// Length classes per segment. More classes give tighter bounds but one more pass over
/// the bitsets per class scored; measured at 100k items, see `search_committed`.
const NORM_CLASSES: usize = 4;

impl NormClasses {
    fn new(norms: &FieldNormReader, max_doc: usize) -> Self {
        let mut hist = [0usize; 256];
        for d in 0..max_doc {
            hist[norms.fieldnorm_id(d as u32) as usize] += 1;
        }
        // Class of each norm id: cut where the running count passes c / NORM_CLASSES.
        let mut class_of = [0u8; 256];
        let mut min_norm: Vec<u8> = Vec::new();
        let mut seen = 0usize;
        for id in 0..256 {
            if hist[id] == 0 {
                continue;
            }
            if min_norm.is_empty() || seen * NORM_CLASSES >= max_doc * min_norm.len() {
                min_norm.push(id as u8);
            }
            class_of[id] = (min_norm.len() - 1) as u8;
            seen += hist[id];
        }
        let words = max_doc.div_ceil(64);
        let mut bits = vec![0u64; min_norm.len() * words];
        for d in 0..max_doc {
            let c = class_of[norms.fieldnorm_id(d as u32) as usize] as usize;
            bits[c * words + d / 64] |= 1 << (d % 64);
        }
        NormClasses { bits, min_norm, class_of }
    }
}

impl SegInfo {
    fn new(seg: &SegmentReader, fields: Fields) -> Result<Self> {
        let norms = seg.get_fieldnorms_reader(fields.text)?;
        let min_norm = (0..seg.max_doc()).map(|d| norms.fieldnorm_id(d)).min().unwrap_or(0);
        Ok(SegInfo {
            id: seg.segment_id(),
            max_doc: seg.max_doc() as usize,
            ids: one_per_doc(seg.fast_fields().u64("id")?, 0),
            times: one_per_doc(seg.fast_fields().i64("time")?, i64::MIN),
            text: seg.inverted_index(fields.text)?,
            norms,
            min_norm,
            filters: Mutex::new(FxHashMap::default()),
            classes: std::sync::OnceLock::new(),
            terms: RwLock::new(FxHashMap::default()),
        })
    }

    #[inline]
    pub(super) fn classes(&self) -> &NormClasses {
        self.classes.get_or_init(|| NormClasses::new(&self.norms, self.max_doc))
    }

    #[inline]
    pub(super) fn words(&self) -> usize {
        self.max_doc.div_ceil(64)
    }

    /// The documents holding `term`, as a bitset of `max_doc` bits.
    pub(super) fn filter(&self, seg: &SegmentReader, term: &Term) -> Result<Arc<[u64]>> {
        if let Some(b) = self.filters.lock().unwrap_or_else(|e| e.into_inner()).get(term) {
            return Ok(b.clone());
        }
        let mut bits = vec![0u64; self.words()];
        let inv = seg.inverted_index(term.field())?;
        if let Some(info) = inv.get_term_info(term).map_err(io_err)? {
            decode(&inv, &info, &mut bits, None)?;
        }
        let bits: Arc<[u64]> = bits.into();
        self.filters.lock().unwrap_or_else(|e| e.into_inner()).insert(term.clone(), bits.clone());
        Ok(bits)
    }

    /// Looks up the query `terms` (text field) in this segment, remembering what it finds.
    pub(super) fn lookup(&self, terms: &[Term], out: &mut Vec<Cached>) -> Result<()> {
        out.clear();
        let mut missing = Vec::new();
        {
            let map = self.terms.read().unwrap_or_else(|e| e.into_inner());
            for (i, t) in terms.iter().enumerate() {
                match map.get(t) {
                    Some(c) => out.push(c.clone()),
                    None => {
                        out.push(Cached::Absent);
                        missing.push(i);
                    }
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let mut found = Vec::with_capacity(missing.len());
        for &i in &missing {
            let c = match self.text.get_term_info(&terms[i]).map_err(io_err)? {
                None => Cached::Absent,
                Some(info) if (info.doc_freq as usize) * 64 < self.max_doc => Cached::Sparse(info),
                Some(info) => {
                    let mut bits = vec![0u64; self.words()];
                    let mut multi = vec![0u64; self.words()];
                    let mut freqs = Vec::with_capacity(info.doc_freq as usize);
                    let max_tf = decode(&self.text, &info, &mut bits, Some((&mut multi, &mut freqs)))?;
                    let mut ranks = vec![0u32; bits.len()];
                    prefix_ranks(&bits, &mut ranks);
                    let freqs = if max_tf <= u8::MAX as u32 {
                        Freqs::U8(freqs.iter().map(|&f| f as u8).collect())
                    } else {
                        Freqs::U32(freqs.into())
                    };
                    let multi = (max_tf > 1).then(|| multi.into());
                    let tb = TermBits {
                        bits: bits.into(),
                        multi,
                        ranks: ranks.into(),
                        freqs,
                        doc_freq: info.doc_freq,
                        max_tf,
                    };
                    Cached::Dense(Arc::new(tb))
                }
            };
            out[i] = c.clone();
            found.push((i, c));
        }
        let mut map = self.terms.write().unwrap_or_else(|e| e.into_inner());
        for (i, c) in found {
            if matches!(c, Cached::Dense(_)) || map.len() < MAX_SPARSE_TERMS {
                map.insert(terms[i].clone(), c);
            }
        }
        Ok(())
    }
}

/// A fast-field column as one value per document: its values as they are when every
/// document has one (the usual case: no index indirection per read), else the first value
/// or `default`.
fn one_per_doc<T>(col: tantivy::columnar::Column<T>, default: T) -> Arc<dyn ColumnValues<T>>
where
    T: std::fmt::Debug + PartialOrd + Send + Sync + Copy + Default + 'static,
{
    if col.get_cardinality() == tantivy::columnar::Cardinality::Full {
        col.values
    } else {
        col.first_or_default_col(default)
    }
}

/// Sets the bits of `docs` in `bits`.
#[inline]
fn mark(bits: &mut [u64], docs: &[u32]) {
    for &d in docs {
        bits[d as usize / 64] |= 1 << (d % 64);
    }
}

pub(super) fn io_err(e: std::io::Error) -> MemoryError {
    MemoryError::from(tantivy::TantivyError::from(e))
}

/// A searcher of one commit with its segments' [`SegInfo`] (in the searcher's order).
#[derive(Clone)]
pub(crate) struct Committed {
    pub searcher: Searcher,
    pub(super) segs: Arc<[Arc<SegInfo>]>,
}

impl Committed {
    /// Wraps `searcher`, reusing `prev`'s info for segments it already held.
    pub(crate) fn new(searcher: Searcher, fields: Fields, prev: Option<&Committed>) -> Result<Self> {
        let segs = searcher
            .segment_readers()
            .iter()
            .map(|seg| match prev.and_then(|p| p.segs.iter().find(|i| i.id == seg.segment_id())) {
                Some(info) => Ok(info.clone()),
                None => SegInfo::new(seg, fields).map(Arc::new),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Committed { searcher, segs: segs.into() })
    }
}
