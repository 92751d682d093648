//! The shared memory store: visibility, as-of, layers, decay, capacity, reinforcement,
//! aggregates, concurrency, determinism, checkpoints and retrieval quality.

use std::collections::BTreeSet;
use std::sync::Arc;

use quorum::market::time::{NS_PER_HOUR, NS_PER_MIN};
use quorum::memory::{Kind, Layer, MemoryParams, MemoryStore, NewItem, Query};
use quorum::rng::SplitMix64;

use crate::common::walk;

const H: i64 = NS_PER_HOUR;
const T0: i64 = 1_381_152_600_000_000_000; // 2013-10-07T13:30:00Z

fn store() -> MemoryStore {
    MemoryStore::new(MemoryParams::default()).unwrap()
}

fn small_params() -> MemoryParams {
    MemoryParams { dim: 4, commit_every: 8, ..Default::default() }
}

fn text_query(text: &str, at: i64, k: usize) -> Query {
    Query { text: Some(text.into()), at, k, ..Default::default() }
}

fn gauss(rng: &mut SplitMix64) -> f32 {
    // Box-Muller from two uniforms.
    let u1 = ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}

fn random_vec(rng: &mut SplitMix64, dim: usize) -> Vec<f32> {
    (0..dim).map(|_| gauss(rng)).collect()
}

#[test]
fn test_memory_writes_visible_only_after_publish() {
    let s = store();
    s.insert(NewItem::new(T0, "wyckoff", "SPY", Kind::Pattern, "spring below support reclaimed")).unwrap();
    assert!(s.recall(&text_query("spring", T0, 5)).unwrap().is_empty(), "staged, not published");
    s.publish(T0).unwrap();
    let hits = s.recall(&text_query("springs", T0, 5)).unwrap();
    assert_eq!(hits.len(), 1, "stemmed match after publish");
    assert!(hits[0].parts.text > 0.99 && hits[0].parts.recency == 1.0);
    assert!((hits[0].parts.importance - 50.0).abs() < 1e-9);
}

#[test]
fn test_memory_every_item_visible_across_commit_boundaries() {
    // commit_every = 8: batches of 3 and 4 stay in the searchable tail (7 uncommitted), the
    // next item takes the count to 8 and the batch is committed within its publish; a
    // batch of 12 more is committed at once. Every item is found by its own word each time.
    let s = MemoryStore::new(small_params()).unwrap();
    let mut t = T0;
    let mut written = 0usize;
    for (batch, committed) in [(3usize, false), (4, false), (1, true), (12, true)] {
        for _ in 0..batch {
            s.insert(NewItem::new(t, "markov", "SPY", Kind::Regime, format!("regime calm w{written}"))).unwrap();
            written += 1;
            t += NS_PER_MIN;
        }
        let report = s.publish(t).unwrap();
        assert_eq!(report.committed, committed, "after {written} items");
        assert_eq!(s.recall(&text_query("calm regime", t, 100)).unwrap().len(), written);
        for k in 0..written {
            let hits = s.recall(&text_query(&format!("w{k}"), t, 5)).unwrap();
            assert_eq!(hits.len(), 1, "item w{k} after {written} written");
        }
    }
}

#[test]
fn test_memory_as_of_never_returns_later_items() {
    let s = MemoryStore::new(small_params()).unwrap();
    for (k, t) in [(0, T0), (1, T0 + H), (2, T0 + 2 * H)] {
        s.insert(
            NewItem::new(t, "liquidity", "SPY", Kind::Observation, format!("thin book spike number {k}"))
                .with_vector(vec![1.0, 0.0, 0.0, k as f32 * 0.1]),
        )
        .unwrap();
    }
    s.publish(T0 + 2 * H).unwrap();
    let snap = s.snapshot();
    for at in [T0 - 1, T0, T0 + H, T0 + 2 * H] {
        for q in [
            text_query("thin book spike", at, 10),
            Query { vector: Some(vec![1.0, 0.0, 0.0, 0.0]), at, k: 10, ..Default::default() },
            Query {
                text: Some("spike".into()),
                vector: Some(vec![1.0, 0.0, 0.0, 0.0]),
                at,
                k: 10,
                ..Default::default()
            },
        ] {
            let hits = s.recall(&q).unwrap();
            let want = [T0, T0 + H, T0 + 2 * H].iter().filter(|&&t| t <= at).count();
            assert_eq!(hits.len(), want, "at {at}");
            for h in hits {
                assert!(snap.item(h.id, at).unwrap().time <= at);
            }
        }
    }
}

#[test]
fn test_memory_filters_by_agent_symbol_kind_layer() {
    let s = store();
    for (agent, sym, kind) in [
        ("hedge", "SPY", Kind::Signal),
        ("hedge", "IBM", Kind::Signal),
        ("markov", "SPY", Kind::Regime),
        ("markov", "SPY", Kind::Signal),
    ] {
        s.insert(NewItem::new(T0, agent, sym, kind, "volatility regime shift")).unwrap();
    }
    s.publish(T0).unwrap();
    let count = |f: &dyn Fn(&mut Query)| {
        let mut q = text_query("volatility", T0, 10);
        f(&mut q);
        s.recall(&q).unwrap().len()
    };
    assert_eq!(count(&|_| {}), 4);
    assert_eq!(count(&|q| q.agent = Some("hedge".into())), 2);
    assert_eq!(count(&|q| q.symbol = Some("SPY".into())), 3);
    assert_eq!(count(&|q| q.kind = Some(Kind::Regime)), 1);
    assert_eq!(
        count(&|q| {
            q.agent = Some("markov".into());
            q.kind = Some(Kind::Signal)
        }),
        1
    );
    assert_eq!(count(&|q| q.layer = Some(Layer::Mid)), 0);
    assert_eq!(count(&|q| q.agent = Some("nobody".into())), 0);
}

#[test]
fn test_memory_promotion_and_demotion_at_thresholds() {
    let p = MemoryParams::default();
    let s = MemoryStore::new(p.clone()).unwrap();
    s.insert(NewItem::new(T0, "wyckoff", "SPY", Kind::Pattern, "upthrust failed").with_importance(50.0)).unwrap();
    s.publish(T0).unwrap();
    let id = s.recall(&text_query("upthrust", T0, 1)).unwrap()[0].id;
    // 50 + 0.3 * 0.6 * 50 = 59: below 60, stays short.
    s.reinforce("wyckoff", &[id], 0.6);
    s.publish(T0).unwrap();
    let it = s.snapshot().item(id, T0).unwrap();
    assert!((it.importance - 59.0).abs() < 1e-9);
    assert_eq!(it.layer, Layer::Short);
    // 59 + 0.3 * 0.1 * 41 = 60.23: reaches 60, promoted to mid, recency reset.
    s.reinforce("wyckoff", &[id], 0.1);
    s.publish(T0 + NS_PER_MIN).unwrap();
    let it = s.snapshot().item(id, T0 + NS_PER_MIN).unwrap();
    assert_eq!(it.layer, Layer::Mid);
    assert_eq!(it.recency, 1.0, "promotion resets recency");
    assert_eq!(it.access_count, 2);
    // Mid decays 0.99/h: below 20 after ln(20/60.2)/ln(0.99) = 110 h: demoted at the sweep.
    let t = T0 + 111 * H;
    s.publish(t).unwrap();
    let it = s.snapshot().item(id, t);
    // Recency of mid at 111 h is exp(-111/48) = 0.099 > 0.05: alive, demoted to short.
    let it = it.expect("still alive");
    assert_eq!(it.layer, Layer::Short, "importance {}", it.importance);
}

#[test]
fn test_memory_cleanup_by_recency_and_importance() {
    let s = store();
    s.insert(NewItem::new(T0, "sentiment", "SPY", Kind::Observation, "rsi extreme overbought")).unwrap();
    s.insert(NewItem::new(T0, "sentiment", "SPY", Kind::Observation, "mfi divergence faint").with_importance(6.0))
        .unwrap();
    s.insert(NewItem::new(T0, "sentiment", "SPY", Kind::Reflection, "overbought readings mean revert in calm regimes"))
        .unwrap();
    s.publish(T0).unwrap();
    assert_eq!(s.snapshot().counts().live, 3);
    // After 1 h: importance 6 * 0.95 = 5.7 (> 5) and recency 0.61: all alive.
    s.publish(T0 + H).unwrap();
    assert_eq!(s.snapshot().counts().live, 3);
    // After 3 h: 6 * 0.95^3 = 5.14 still > 5; after 4 h 4.89 < 5: the faint one goes.
    s.publish(T0 + 4 * H).unwrap();
    assert_eq!(s.snapshot().counts().live, 2);
    // After 6.1 h short recency exp(-6.1/2) = 0.047 < 0.05: the short item goes; reflection stays.
    s.publish(T0 + 6 * H + 6 * NS_PER_MIN).unwrap();
    let snap = s.snapshot();
    assert_eq!(snap.counts().live, 1);
    assert_eq!(snap.counts().by_layer, [0, 0, 0, 1]);
}

#[test]
fn test_memory_capacity_evicts_lowest_retention_first() {
    let mut p = MemoryParams::default();
    p.short.capacity = 3;
    let s = MemoryStore::new(p).unwrap();
    // All below the promotion threshold, so all stay short.
    for (k, imp) in [10.0, 55.0, 40.0, 50.0, 20.0].iter().enumerate() {
        s.insert(NewItem::new(T0, "markov", "SPY", Kind::Regime, format!("regime item {k}")).with_importance(*imp))
            .unwrap();
    }
    s.publish(T0).unwrap();
    let snap = s.snapshot();
    assert_eq!(snap.counts().live, 3);
    let kept: BTreeSet<i64> = snap.items(T0).map(|i| i.importance as i64).collect();
    assert_eq!(kept, [40, 50, 55].into_iter().collect());
}

#[test]
fn test_memory_reinforcement_bounded_through_store() {
    let s = store();
    s.insert(NewItem::new(T0, "hedge", "SPY", Kind::Signal, "gamma pin near strike")).unwrap();
    s.insert(NewItem::new(T0, "hedge", "SPY", Kind::Signal, "gamma squeeze higher")).unwrap();
    s.publish(T0).unwrap();
    let ids: Vec<u64> = s.recall(&text_query("gamma", T0, 2)).unwrap().iter().map(|h| h.id).collect();
    for _ in 0..50 {
        s.reinforce("hedge", &ids[..1], 1.0);
        s.reinforce("hedge", &ids[1..], -1.0);
    }
    s.publish(T0).unwrap();
    let snap = s.snapshot();
    let a = snap.item(ids[0], T0).unwrap();
    assert!(a.importance <= 100.0 && a.importance > 99.0, "{}", a.importance);
    assert_eq!(a.layer, Layer::Long, "climbed short -> mid -> long");
    let b = snap.item(ids[1], T0).unwrap();
    assert!(b.importance >= 0.0 && b.importance < 1e-5, "{}", b.importance);
    s.publish(T0 + 30 * NS_PER_MIN).unwrap();
    assert!(s.snapshot().item(ids[1], T0).is_none(), "below the cleanup importance: gone at the next sweep");
}

#[test]
fn test_memory_aggregates_from_outcomes() {
    let s = store();
    let outcomes = [(0, 0.01), (1, -0.02), (2, 0.03)];
    for (k, r) in outcomes {
        s.insert(
            NewItem::new(T0 + k * H, "wyckoff", "SPY", Kind::Outcome, format!("vote {k} resolved")).with_outcome(r),
        )
        .unwrap();
        s.publish(T0 + k * H).unwrap();
    }
    let snap = s.snapshot();
    let t = T0 + 2 * H;
    let st = snap.agent_stats("wyckoff", Some("SPY"), t);
    let bf = snap.aggregates().brute_force("wyckoff", Some("SPY"), t);
    assert!((st.count - bf.count).abs() < 1e-12 && (st.wins - bf.wins).abs() < 1e-12);
    let f = |h: f64| 0.5f64.powf(h / 72.0);
    assert!((st.wins - (f(2.0) + 1.0)).abs() < 1e-12);
    assert!((st.losses - f(1.0)).abs() < 1e-12);
    assert_eq!(snap.agent_stats("markov", None, t).count, 0.0);
}

#[test]
fn test_memory_snapshot_visibility_with_concurrent_writer_and_readers() {
    let s = Arc::new(MemoryStore::new(small_params()).unwrap());
    let steps = 150i64;
    let writer = {
        let s = s.clone();
        std::thread::spawn(move || {
            for step in 1..=steps {
                for j in 0..3 {
                    s.insert(
                        NewItem::new(
                            T0 + step * NS_PER_MIN,
                            "liquidity",
                            "SPY",
                            Kind::Observation,
                            format!("depth reading {step} {j}"),
                        )
                        .with_vector(vec![1.0, step as f32, j as f32, 0.5]),
                    )
                    .unwrap();
                }
                s.publish(T0 + step * NS_PER_MIN).unwrap();
            }
        })
    };
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || {
                let mut checks = 0;
                loop {
                    let snap = s.snapshot();
                    let e = snap.epoch() as usize;
                    let at = snap.now().max(T0);
                    let text = snap.recall(&text_query("depth reading", at, 10_000)).unwrap();
                    let vec = snap
                        .recall(&Query { vector: Some(vec![1.0, 0.0, 0.0, 0.0]), at, k: 10_000, ..Default::default() })
                        .unwrap();
                    assert_eq!(text.len(), 3 * e, "text recall at epoch {e}");
                    assert_eq!(vec.len(), 3 * e, "vector recall at epoch {e}");
                    assert_eq!(snap.counts().live, 3 * e);
                    checks += 1;
                    if e as i64 == steps {
                        return checks;
                    }
                }
            })
        })
        .collect();
    writer.join().unwrap();
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
}

#[test]
fn test_memory_same_writes_any_thread_order_same_store() {
    let run = |reverse: bool| {
        let s = Arc::new(MemoryStore::new(small_params()).unwrap());
        let agents = ["hedge", "liquidity", "markov", "wyckoff"];
        let order: Vec<usize> = if reverse { (0..4).rev().collect() } else { (0..4).collect() };
        for step in 0..5i64 {
            let handles: Vec<_> = order
                .iter()
                .map(|&a| {
                    let s = s.clone();
                    let agent = agents[a];
                    std::thread::spawn(move || {
                        for j in 0..4 {
                            s.insert(
                                NewItem::new(
                                    T0 + step * NS_PER_MIN,
                                    agent,
                                    "SPY",
                                    Kind::Signal,
                                    format!("{agent} says {step} {j}"),
                                )
                                .with_vector(vec![a as f32, j as f32, 1.0, 0.0]),
                            )
                            .unwrap();
                        }
                        s.reinforce(agent, &[1, 2, 3], if a % 2 == 0 { 0.5 } else { -0.3 });
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
            s.publish(T0 + step * NS_PER_MIN).unwrap();
        }
        let snap = s.snapshot();
        snap.items(snap.now())
            .map(|i| (i.id, i.agent, i.text.to_string(), i.importance.to_bits(), i.layer))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(false), run(true));
}

/// Planted memories are found by text-only, vector-only and hybrid queries among noise.
#[test]
fn test_memory_retrieval_finds_planted_items() {
    let s = store();
    let mut rng = SplitMix64(7);
    let words =
        ["volume", "price", "range", "trend", "bar", "close", "open", "tape", "bid", "ask", "liquidity", "momentum"];
    for k in 0..2000 {
        let text: Vec<&str> = (0..6).map(|_| words[rng.below(words.len())]).collect();
        s.insert(
            NewItem::new(T0, "sentiment", "SPY", Kind::Observation, text.join(" "))
                .with_vector(random_vec(&mut rng, 16))
                .with_importance(50.0),
        )
        .unwrap();
        if k == 1234 {
            let mut v = vec![0.0f32; 16];
            v[3] = 1.0;
            v[7] = 1.0;
            s.insert(
                NewItem::new(T0, "wyckoff", "SPY", Kind::Pattern, "spring reclaimed support on climactic volume")
                    .with_vector(v),
            )
            .unwrap();
        }
    }
    s.publish(T0).unwrap();
    let planted = s.recall(&text_query("climactic spring", T0, 1)).unwrap()[0].id;
    let mut near = vec![0.0f32; 16];
    near[3] = 1.0;
    near[7] = 0.9;
    near[0] = 0.1;
    let queries = [
        Query { text: Some("spring reclaimed support".into()), at: T0, k: 5, ..Default::default() },
        Query { vector: Some(near.clone()), at: T0, k: 5, ..Default::default() },
        Query { text: Some("climactic volume".into()), vector: Some(near), at: T0, k: 5, ..Default::default() },
    ];
    for q in queries {
        let hits = s.recall(&q).unwrap();
        assert!(hits.iter().any(|h| h.id == planted), "planted not in top 5 for {q:?}");
    }
}

/// On a mixed query set, hybrid recall@10 beats text-only and vector-only: words are
/// shared by neighbouring topics (text alone is ambiguous), vectors are noisy (vector alone
/// is blurred); together they disambiguate.
#[test]
fn test_memory_hybrid_recall_beats_each_alone() {
    let dim = 16;
    let topics = 12;
    let mut rng = SplitMix64(42);
    let centroids: Vec<Vec<f32>> = (0..topics).map(|_| random_vec(&mut rng, dim)).collect();
    let word = |t: usize| format!("w{t}x");
    let fillers = ["bar", "tape", "price", "session", "print", "level"];
    let s = store();
    let mut topic_of = Vec::new();
    for i in 0..1200 {
        let t = i % topics;
        // Each item names its topic word and its successor's: word t is shared by topics t-1 and t.
        let text =
            format!("{} {} {} {}", word(t), word((t + 1) % topics), fillers[rng.below(6)], fillers[rng.below(6)]);
        let v: Vec<f32> = centroids[t].iter().map(|c| c + 1.1 * gauss(&mut rng)).collect();
        s.insert(NewItem::new(T0, "markov", "SPY", Kind::Regime, text).with_vector(v)).unwrap();
        topic_of.push(t);
    }
    s.publish(T0).unwrap();
    let snap = s.snapshot();
    let k = 10;
    let mut score = [0.0f64; 3];
    let n_queries = 60;
    for qi in 0..n_queries {
        let t = qi % topics;
        let qv: Vec<f32> = centroids[t].iter().map(|c| c + 1.1 * gauss(&mut rng)).collect();
        let qt = word((t + 1) % topics); // matches topics t and t+1
        let variants = [
            Query { text: Some(qt.clone()), at: T0, k, ..Default::default() },
            Query { vector: Some(qv.clone()), at: T0, k, ..Default::default() },
            Query { text: Some(qt), vector: Some(qv), at: T0, k, ..Default::default() },
        ];
        for (m, q) in variants.iter().enumerate() {
            let hits = snap.recall(q).unwrap();
            let rel = hits.iter().filter(|h| topic_of[(h.id - 1) as usize] == t).count();
            score[m] += rel as f64 / k as f64 / n_queries as f64;
        }
    }
    let [text, vector, hybrid] = score;
    assert!(
        hybrid > text + 0.1 && hybrid > vector + 0.1,
        "recall@10 text {text:.3} vector {vector:.3} hybrid {hybrid:.3}"
    );
}

#[test]
fn test_memory_rejects_bad_items_with_field_named() {
    let s = MemoryStore::new(small_params()).unwrap();
    let cases: [(NewItem, &str); 5] = [
        (NewItem::new(T0, "a", "SPY", Kind::Signal, "x").with_vector(vec![1.0; 3]), "vector"),
        (NewItem::new(T0, "a", "SPY", Kind::Signal, "x").with_vector(vec![f32::NAN; 4]), "vector"),
        (NewItem::new(T0, "a", "SPY", Kind::Signal, "x").with_importance(120.0), "importance"),
        (NewItem::new(T0, "", "SPY", Kind::Signal, "x"), "agent"),
        (NewItem::new(T0, "a", "SPY", Kind::Outcome, "x").with_outcome(f64::INFINITY), "outcome"),
    ];
    for (item, field) in cases {
        let e = s.insert(item).unwrap_err().to_string();
        assert!(e.contains(field), "{e}");
    }
    assert!(s.publish(T0).is_ok());
    assert!(s.publish(T0 - 1).is_err(), "publish time never goes backwards");
}

mod checkpoint {
    use super::*;

    fn filled() -> (MemoryStore, tempfile::TempDir) {
        let s = MemoryStore::new(small_params()).unwrap();
        for k in 0..40i64 {
            let kind = if k % 10 == 9 { Kind::Outcome } else { Kind::Observation };
            let mut it = NewItem::new(
                T0 + k * NS_PER_MIN,
                ["hedge", "markov"][k as usize % 2],
                "SPY",
                kind,
                format!("tape note {k} absorption"),
            )
            .with_vector(vec![1.0, k as f32, 0.5, -0.5]);
            if kind == Kind::Outcome {
                it = it.with_outcome(if k % 20 == 9 { 0.01 } else { -0.02 });
            }
            it.metadata.insert("bar".into(), serde_json::json!(k));
            s.insert(it).unwrap();
            if k % 7 == 0 {
                s.publish(T0 + k * NS_PER_MIN).unwrap();
            }
        }
        s.publish(T0 + 40 * NS_PER_MIN).unwrap();
        s.reinforce("hedge", &[3, 5], 1.0);
        s.publish(T0 + 41 * NS_PER_MIN).unwrap();
        (s, tempfile::tempdir().unwrap())
    }

    #[test]
    fn test_checkpoint_round_trip() {
        let (s, dir) = filled();
        let ck = dir.path().join("mem");
        s.save(&ck).unwrap();
        let l = MemoryStore::load(&ck).unwrap();
        let (a, b) = (s.snapshot(), l.snapshot());
        assert_eq!(a.now(), b.now());
        let at = a.now();
        assert_eq!(a.items(at).collect::<Vec<_>>(), b.items(at).collect::<Vec<_>>());
        assert_eq!(a.aggregates(), b.aggregates());
        for q in [
            text_query("absorption tape", at, 10),
            Query {
                text: Some("note".into()),
                vector: Some(vec![1.0, 3.0, 0.0, 0.0]),
                agent: Some("hedge".into()),
                at,
                k: 7,
                ..Default::default()
            },
        ] {
            assert_eq!(s.recall(&q).unwrap(), l.recall(&q).unwrap());
        }
        // The loaded store keeps working: new writes get fresh ids, a second save replaces the first.
        l.insert(NewItem::new(at, "markov", "SPY", Kind::Regime, "calm regime")).unwrap();
        l.publish(at).unwrap();
        let id = l.recall(&text_query("calm", at, 1)).unwrap()[0].id;
        assert!(id > 40);
        l.save(&ck).unwrap();
        assert_eq!(MemoryStore::load(&ck).unwrap().snapshot().counts().live, b.counts().live + 1);
        assert!(std::fs::read_dir(dir.path()).unwrap().count() == 1, "no temporary folders left behind");
    }

    fn expect_corrupt(dir: &std::path::Path, want: &[&str]) {
        let e = match MemoryStore::load(dir) {
            Ok(_) => panic!("loaded a broken checkpoint"),
            Err(e) => e.to_string(),
        };
        for w in want {
            assert!(e.contains(w), "{w:?} not in {e}");
        }
    }

    #[test]
    fn test_checkpoint_corruption_is_named() {
        let (s, dir) = filled();
        let ck = dir.path().join("mem");
        s.save(&ck).unwrap();
        let copy = |name: &str| {
            let d = dir.path().join(name);
            std::fs::create_dir_all(d.join("index")).unwrap();
            for e in walk(&ck) {
                let rel = e.strip_prefix(&ck).unwrap();
                std::fs::copy(&e, d.join(rel)).unwrap();
            }
            d
        };
        // Truncated items file.
        let d = copy("truncated");
        let p = d.join("items.jsonl");
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        expect_corrupt(&d, &["items.jsonl", "truncated"]);
        // One flipped byte in an index file.
        let d = copy("flipped");
        let idx = walk(&d.join("index")).into_iter().find(|p| p.extension().is_some_and(|e| e == "term")).unwrap();
        let mut bytes = std::fs::read(&idx).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x5a;
        std::fs::write(&idx, &bytes).unwrap();
        expect_corrupt(&d, &[".term", "CRC-32"]);
        // Wrong version.
        let d = copy("version");
        let m = d.join("manifest.json");
        let text = std::fs::read_to_string(&m).unwrap().replace("\"version\": 1", "\"version\": 99");
        std::fs::write(&m, text).unwrap();
        expect_corrupt(&d, &["manifest.json", "version 99"]);
        // Missing file.
        let d = copy("missing");
        std::fs::remove_file(d.join("aggregates.json")).unwrap();
        expect_corrupt(&d, &["aggregates.json", "missing"]);
        // Not a checkpoint at all.
        let e = MemoryStore::load(dir.path()).err().unwrap().to_string();
        assert!(e.contains("manifest.json"), "{e}");
        // Garbage manifest.
        let d = copy("garbage");
        std::fs::write(d.join("manifest.json"), "{ not json").unwrap();
        expect_corrupt(&d, &["manifest.json", "not valid JSON"]);
    }
}

/// Above `ivf_min_items` vector search is approximate: its top-10 must still agree with an
/// exact scan on most results, and filtered queries must still fill up.
#[test]
fn test_memory_ivf_recall_close_to_exact() {
    let dim = 16;
    let mut rng = SplitMix64(3);
    let centres: Vec<Vec<f32>> = (0..40).map(|_| random_vec(&mut rng, dim)).collect();
    let items: Vec<NewItem> = (0..6000)
        .map(|i| {
            let c = &centres[rng.below(40)];
            let v: Vec<f32> = c.iter().map(|x| x + 0.4 * gauss(&mut rng)).collect();
            NewItem::new(T0, ["hedge", "markov", "wyckoff"][i % 3], "SPY", Kind::Observation, format!("item {i}"))
                .with_vector(v)
        })
        .collect();
    let exact = MemoryStore::new(MemoryParams { ivf_min_items: usize::MAX, ..Default::default() }).unwrap();
    let approx = MemoryStore::new(MemoryParams { ivf_min_items: 1000, ..Default::default() }).unwrap();
    for s in [&exact, &approx] {
        for it in &items {
            s.insert(it.clone()).unwrap();
        }
        s.publish(T0).unwrap();
    }
    let mut agree = 0usize;
    let mut total = 0usize;
    for qi in 0..50 {
        let c = &centres[qi % 40];
        let v: Vec<f32> = c.iter().map(|x| x + 0.4 * gauss(&mut rng)).collect();
        let agent = (qi % 2 == 0).then(|| "wyckoff".to_string());
        let q = Query { vector: Some(v), agent, at: T0, k: 10, ..Default::default() };
        let want: BTreeSet<u64> = exact.recall(&q).unwrap().iter().map(|h| h.id).collect();
        let got: Vec<u64> = approx.recall(&q).unwrap().iter().map(|h| h.id).collect();
        assert_eq!(got.len(), 10, "filtered IVF search fills up");
        agree += got.iter().filter(|id| want.contains(id)).count();
        total += want.len();
    }
    let recall = agree as f64 / total as f64;
    assert!(recall >= 0.9, "IVF recall@10 vs exact {recall:.3}");
}

/// Vector search's filters (as-of time, `from`, agent, kind) hold exactly, through the IVF
/// index and through the exact scan: every hit passes them, and a query fills up whenever
/// enough items pass. Items span two days, so most inverted lists hold items on both sides
/// of each query's time range.
#[test]
fn test_memory_vector_filters_hold_exactly() {
    for ivf_min_items in [1000, usize::MAX] {
        vector_filters_hold(MemoryParams { ivf_min_items, ..Default::default() });
    }
}

fn vector_filters_hold(params: MemoryParams) {
    let indexed = params.ivf_min_items < 3000;
    let dim = 16;
    let mut rng = SplitMix64(11);
    let centres: Vec<Vec<f32>> = (0..20).map(|_| random_vec(&mut rng, dim)).collect();
    let agents = ["hedge", "markov", "wyckoff"];
    let kinds = [Kind::Observation, Kind::Pattern];
    let s = MemoryStore::new(params).unwrap();
    let n = 3000;
    for i in 0..n {
        let c = &centres[rng.below(20)];
        let v: Vec<f32> = c.iter().map(|x| x + 0.4 * gauss(&mut rng)).collect();
        let t = T0 + i as i64 * NS_PER_MIN;
        s.insert(NewItem::new(t, agents[i % 3], "SPY", kinds[i % 2], format!("item {i}")).with_vector(v)).unwrap();
    }
    s.publish_bulk(T0 + n as i64 * NS_PER_MIN).unwrap();
    let snap = s.snapshot();
    assert_eq!(snap.ivf_lists().is_some_and(|l| l > 1), indexed, "the index is in use or not");
    for qi in 0..60 {
        let v: Vec<f32> = centres[qi % 20].clone();
        let at = T0 + (300 + 41 * qi as i64) * NS_PER_MIN;
        let from = (qi % 3 == 0).then_some(at - 600 * NS_PER_MIN);
        let agent = (qi % 2 == 0).then_some(agents[qi % 3]);
        let kind = (qi % 5 == 0).then_some(kinds[qi % 2]);
        let q = Query {
            vector: Some(v),
            agent: agent.map(str::to_string),
            kind,
            from,
            at,
            k: 10,
            probe: Some(2),
            ..Default::default()
        };
        let hits = s.recall(&q).unwrap();
        let passing = snap
            .items(at)
            .filter(|it| {
                it.time <= at
                    && from.is_none_or(|f| it.time >= f)
                    && agent.is_none_or(|a| it.agent == a)
                    && kind.is_none_or(|k| it.kind == k)
            })
            .count();
        assert_eq!(hits.len(), passing.min(10), "query {qi}: fills up to k");
        for h in &hits {
            let it = snap.item(h.id, at).unwrap();
            assert!(it.time <= at && from.is_none_or(|f| it.time >= f), "query {qi}: item {} outside the range", h.id);
            assert!(agent.is_none_or(|a| it.agent == a) && kind.is_none_or(|k| it.kind == k), "query {qi}: filter");
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(16))]
    /// What a recall returns (ids, scores to the bit) depends on what is stored, never on
    /// when tantivy committed: the same writes into stores that commit after every item,
    /// every few items or never (the tail holds everything), with a commit by hand at random
    /// steps, compactions and evictions leaving dead slots, give the same hits.
    /// BM25 statistics count the committed index and the tail together (issue 16).
    #[test]
    fn prop_memory_recall_independent_of_commits(seed in 0u64..100_000, steps in 10usize..40) {
        let words = ["spring", "upthrust", "absorption", "calm", "storm", "trend", "revert", "gap", "fade", "drift"];
        let params = |commit_every: usize| MemoryParams {
            dim: 4,
            commit_every,
            short: quorum::memory::LayerParams { capacity: 60, ..MemoryParams::default().short },
            ..Default::default()
        };
        // Live counts cross 40 both ways, so compactions go into the index and into the tail
        // (from a non-empty index) as the run goes.
        let stores: Vec<MemoryStore> =
            [1usize, 7, 40, 1_000_000].iter().map(|&c| MemoryStore::new(params(c)).unwrap()).collect();
        let mut rng = SplitMix64(seed);
        for step in 0..steps {
            let t = T0 + step as i64 * 5 * NS_PER_MIN;
            // Now and then a publish large enough to be handed to tantivy at once (EAGER).
            let n = if rng.below(8) == 0 { 70 } else { rng.below(12) };
            let items: Vec<NewItem> = (0..n)
                .map(|_| {
                    let len = 2 + rng.below(6);
                    let text: Vec<&str> = (0..len).map(|_| words[rng.below(words.len()).min(rng.below(words.len()))]).collect();
                    let v = random_vec(&mut rng, 4);
                    NewItem::new(t, ["hedge", "markov", "wyckoff"][rng.below(3)], ["SPY", "BAC"][rng.below(2)], Kind::Pattern, text.join(" "))
                        .with_vector(v)
                })
                .collect();
            let (commit, compact) = (rng.below(9) == 0, rng.below(7) == 0);
            for (k, s) in stores.iter().enumerate() {
                for it in &items {
                    s.insert(it.clone()).unwrap();
                }
                s.publish(t).unwrap();
                // One store commits by hand: the others must not notice. A compaction drops
                // dead slots from the statistics, so every store compacts at the same step
                // (into the tail or into the index, by its own `commit_every`).
                if commit && k == 1 {
                    s.commit().unwrap();
                }
                if compact {
                    s.compact().unwrap();
                }
            }
            for qi in 0..4 {
                let q = Query {
                    text: Some(format!("{} {}", words[rng.below(words.len())], words[rng.below(words.len())])),
                    vector: (qi % 2 == 1).then(|| random_vec(&mut rng, 4)),
                    agent: (qi >= 2).then(|| "markov".to_string()),
                    symbol: (qi == 3).then(|| "SPY".to_string()),
                    at: t,
                    k: 5,
                    ..Default::default()
                };
                let got: Vec<Vec<(u64, u64)>> = stores
                    .iter()
                    .map(|s| s.recall(&q).unwrap().iter().map(|h| (h.id, h.score.to_bits())).collect())
                    .collect();
                for (k, g) in got.iter().enumerate().skip(1) {
                    proptest::prop_assert_eq!(&got[0], g, "store {} step {} query {:?}", k, step, q.text);
                }
            }
        }
    }
}
