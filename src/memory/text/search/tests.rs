//! The committed search against brute-force BM25.

use tantivy::fieldnorm::FieldNormReader;
use tantivy::query::Bm25Weight;

use super::{TextFilter, TextView};
use crate::memory::item::{ItemId, Kind};
use crate::memory::text::{Analyzer, TextIndex};
use crate::rng::SplitMix64;

/// The committed search prunes by term-count layers; it must return exactly what
/// scoring every matching document gives (scores, order, ties by id), on several
/// segments, with and without filters and time ranges.
#[test]
fn test_search_committed_equals_brute_force() {
    let mut rng = SplitMix64(17);
    let vocab: Vec<String> = (0..30).map(|i| format!("w{i}x")).collect();
    let (agents, symbols) = (["a", "b", "c"], ["X", "Y"]);
    let mut analyzer = Analyzer::default();
    let mut index = TextIndex::new(&analyzer).unwrap();
    // (id, time, agent, symbol, kind, text)
    let mut docs: Vec<(u64, i64, &str, &str, Kind, String)> = Vec::new();
    for id in 1..=2100u64 {
        let words = 2 + rng.below(10);
        // Skewed: low word indices are common; repeats give tf > 2.
        let mut text: Vec<&str> = (0..words).map(|_| vocab[rng.below(30).min(rng.below(30))].as_str()).collect();
        if id % 700 == 350 {
            // A frequent term with tf > 255 (cached frequencies then need 32 bits).
            text = vec!["w0x"; 300];
        }
        let d =
            (id, id as i64 * 10, agents[rng.below(3)], symbols[rng.below(2)], Kind::ALL[rng.below(3)], text.join(" "));
        index.add_all(vec![index.doc(d.0, d.1, d.2, d.3, d.4, &d.5)]).unwrap();
        docs.push(d);
        if id % 700 == 0 {
            index.commit().unwrap();
        }
    }
    let committed = index.searcher();
    assert_eq!(committed.searcher.segment_readers().len(), 3);
    let view = TextView { fields: index.fields, committed: &committed, tail: &[], max_time: 21_000 };
    let stats = view.stats().unwrap();
    // Rare terms are decoded per query, frequent ones cached per segment on first use
    // (both kinds are in the vocabulary: word i has probability (59 - 2i) / 900).
    for case in 0..300 {
        let nterms = 1 + rng.below(5);
        let mut terms: Vec<String> = Vec::new();
        for _ in 0..nterms {
            let t = if rng.below(10) == 0 { "absent".to_string() } else { vocab[rng.below(30)].clone() };
            if !terms.contains(&t) {
                terms.push(t);
            }
        }
        let filter = TextFilter {
            agent: (case % 3 == 1).then_some(agents[case % 2]),
            symbol: (case % 5 >= 3).then_some(symbols[case % 2]),
            kind: (case % 7 == 6).then_some(Kind::ALL[1]),
            from: (case % 4 == 3).then_some(5_000),
            to: (case % 4 >= 2).then_some(15_000),
            ..Default::default()
        };
        let limit = [1, 5, 40, 400][case % 4];
        let got = view.search_committed(&terms, &filter, limit).unwrap();
        let weights: Vec<Bm25Weight> = terms
            .iter()
            .map(|t| {
                let df = view.doc_freq(t).unwrap();
                Bm25Weight::for_one_term_without_explain(df, stats.docs, stats.avg_len)
            })
            .collect();
        let mut want: Vec<(f32, ItemId)> = docs
            .iter()
            .filter(|d| {
                filter.agent.is_none_or(|a| d.2 == a)
                    && filter.symbol.is_none_or(|s| d.3 == s)
                    && filter.kind.is_none_or(|k| d.4 == k)
                    && filter.from.is_none_or(|t| d.1 >= t)
                    && filter.to.is_none_or(|t| d.1 <= t)
            })
            .filter_map(|d| {
                let toks = analyzer.tokens(&d.5);
                let norm = FieldNormReader::fieldnorm_to_id(toks.len() as u32);
                let mut score = 0.0f32;
                let mut hit = false;
                for (t, w) in terms.iter().zip(&weights) {
                    let tf = toks.iter().filter(|k| &k.text == t).count() as u32;
                    if tf > 0 {
                        score += w.score(norm, tf);
                        hit = true;
                    }
                }
                hit.then_some((score, d.0))
            })
            .collect();
        want.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        want.truncate(limit);
        assert_eq!(got, want, "case {case}: terms {terms:?}, filter {filter:?}, limit {limit}");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]
    /// The baseline and AVX2 + POPCNT builds of the committed search return the same hits,
    /// scores bit for bit, on random indexes (several segments, skewed vocabularies, term
    /// frequencies past 255), filters, time ranges and limits.
    #[test]
    fn prop_search_committed_builds_agree(seed in 0u64..10_000, docs in 100u64..900, per_commit in 150u64..400) {
        use crate::simd::Isa;
        if !crate::simd::supported() {
            eprintln!("skipped: this CPU has no AVX2 + POPCNT build to compare");
            return Ok(());
        }
        let mut rng = SplitMix64(seed);
        let vocab: Vec<String> = (0..40).map(|i| format!("v{i}q")).collect();
        let (agents, symbols) = (["a", "b", "c"], ["X", "Y"]);
        let analyzer = Analyzer::default();
        let mut index = TextIndex::new(&analyzer).unwrap();
        for id in 1..=docs {
            let words = 1 + rng.below(12);
            let mut text: Vec<&str> = (0..words).map(|_| vocab[rng.below(40).min(rng.below(40))].as_str()).collect();
            if id % 97 == 0 {
                text = vec!["v1q"; 260];
            }
            let kind = Kind::ALL[rng.below(3)];
            let doc = index.doc(id, id as i64, agents[rng.below(3)], symbols[rng.below(2)], kind, &text.join(" "));
            index.add_all(vec![doc]).unwrap();
            if id % per_commit == 0 {
                index.commit().unwrap();
            }
        }
        index.commit().unwrap();
        let committed = index.searcher();
        let view = TextView { fields: index.fields, committed: &committed, tail: &[], max_time: docs as i64 };
        for case in 0..40usize {
            let terms: Vec<String> = (0..1 + rng.below(5)).map(|_| vocab[rng.below(40)].clone()).collect();
            let filter = TextFilter {
                agent: (case % 3 == 1).then_some(agents[case % 2]),
                symbol: (case % 5 >= 3).then_some(symbols[case % 2]),
                kind: (case % 7 == 6).then_some(Kind::ALL[1]),
                from: (case % 4 == 3).then_some(docs as i64 / 4),
                to: (case % 4 >= 2).then_some(docs as i64 * 3 / 4),
                ..Default::default()
            };
            let limit = [1, 5, 40, 400][case % 4];
            let bits = |v: Vec<(f32, ItemId)>| v.into_iter().map(|(s, id)| (s.to_bits(), id)).collect::<Vec<_>>();
            let base = bits(super::search_committed_at(Isa::Baseline, &view, &view.plan_terms(&terms).unwrap(), &filter, limit).unwrap());
            let avx2 = bits(super::search_committed_at(Isa::Avx2, &view, &view.plan_terms(&terms).unwrap(), &filter, limit).unwrap());
            proptest::prop_assert_eq!(base, avx2, "terms {:?}, filter {:?}, limit {}", terms, filter, limit);
        }
    }
}
