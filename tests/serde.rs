//! Serde round trips as properties: memory items (store -> `memory search --json` ->
//! `memory ingest`), memory checkpoints (save -> load), and the configuration (TOML).

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use quorum::config::Config;
use quorum::market::time::NS_PER_MIN;
use quorum::memory::jsonl::parse_item;
use quorum::memory::{Kind, Layer, MemoryParams, MemoryStore, NewItem, Query};

const T0: i64 = 1_381_152_600_000_000_000; // 2013-10-07T13:30:00Z

fn arb_item() -> impl Strategy<Value = NewItem> {
    (
        0i64..600,
        prop::sample::select(vec!["hedge", "wyckoff", "markov"]),
        prop::sample::select(vec!["SPY", "BTCUSDT", "IBM"]),
        0usize..Kind::ALL.len(),
        0usize..2,
        "[a-z ]{1,40}",
        prop::option::of(prop::collection::vec(-3.0f32..3.0, 4)),
        5.5f64..100.0, // above `cleanup_importance` (5): the item stays live
        prop::option::of(-0.05f64..0.05),
        prop::collection::btree_map("[a-z]{1,6}", -1000i64..1000, 0..3),
    )
        .prop_map(|(minute, agent, symbol, kind, layer, text, vector, importance, outcome, meta)| {
            let mut it = NewItem::new(T0 + minute * NS_PER_MIN, agent, symbol, Kind::ALL[kind], text);
            it.layer = Layer::ALL[layer];
            it.vector = vector.unwrap_or_default();
            it.importance = importance;
            it.outcome = outcome;
            it.metadata = meta.into_iter().map(|(k, v)| (k, serde_json::Value::from(v))).collect::<BTreeMap<_, _>>();
            it
        })
}

fn params() -> MemoryParams {
    MemoryParams { dim: 4, ..MemoryParams::default() }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// An item as the memory shows it (`memory search --json`), read back by `memory ingest`,
    /// is the item shown: time, names, kind, layer, text, vector, importance, outcome and
    /// metadata, its id as the source id. What the store does not change (all but layer and
    /// importance, which promotion may raise) is what was written.
    #[test]
    fn prop_item_json_roundtrip(item in arb_item()) {
        let store = MemoryStore::new(params()).unwrap();
        store.insert(item.clone()).unwrap();
        store.publish(item.time).unwrap();
        let snap = store.snapshot();
        let shown = snap.items(item.time).next().unwrap();
        let line = serde_json::to_string(&shown).unwrap();
        let back = parse_item(&line).map_err(|e| TestCaseError::fail(format!("{e:?}: {line}")))?;
        let mut want = item;
        want.layer = shown.layer;
        want.importance = shown.importance;
        want.source_id = Some(shown.id.to_string());
        prop_assert_eq!(back, want);
    }

    /// A checkpoint loads as the store that was saved: every live item (layers, importance,
    /// recency, access counts after reinforcement), the outcome aggregates, and recalls as
    /// the saved store does once compacted (saving leaves the live store as it is, and its
    /// text index counts dead items in BM25's statistics until it compacts).
    #[test]
    fn prop_checkpoint_roundtrip(items in prop::collection::vec(arb_item(), 1..60), rewards in prop::collection::vec(-1.0f64..1.0, 0..10)) {
        let store = MemoryStore::new(params()).unwrap();
        let mut items = items;
        items.sort_by_key(|i| i.time);
        let mut last = T0;
        for chunk in items.chunks(7) {
            for it in chunk {
                store.insert(it.clone()).unwrap();
            }
            last = chunk.last().unwrap().time;
            store.publish(last).unwrap();
        }
        for (k, r) in rewards.iter().enumerate() {
            store.reinforce("hedge", &[1 + k as u64], *r);
        }
        last += NS_PER_MIN;
        store.publish(last).unwrap();
        let dir = tempfile::tempdir().unwrap();
        store.save(dir.path()).unwrap();
        let loaded = MemoryStore::load(dir.path()).unwrap();
        store.compact().unwrap();
        let (a, b) = (store.snapshot(), loaded.snapshot());
        prop_assert_eq!(a.now(), b.now());
        let at = last + 30 * NS_PER_MIN;
        prop_assert_eq!(a.items(at).collect::<Vec<_>>(), b.items(at).collect::<Vec<_>>());
        for agent in ["hedge", "wyckoff", "markov"] {
            prop_assert_eq!(a.agent_stats(agent, None, at), b.agent_stats(agent, None, at));
        }
        for text in ["a b c", "e", "zzz qq"] {
            let q = Query { text: Some(text.into()), vector: Some(vec![1.0, 0.5, -0.5, 0.0]), at, k: 10, ..Default::default() };
            prop_assert_eq!(a.recall(&q).unwrap(), b.recall(&q).unwrap());
        }
    }

    /// The configuration written to `config.toml` reads back as the same configuration,
    /// times and timeframes included (they are written as they were given).
    #[test]
    fn prop_config_toml_roundtrip(
        cash in 1.0f64..1e9,
        bps in 0.0f64..50.0,
        short in any::<bool>(),
        from_day in 1u32..28,
        to_time in prop::option::of(0u32..24),
        resample in prop::option::of(prop::sample::select(vec!["1m", "5m", "15min", "1h", "30s"])),
        symbols in prop::collection::vec("[A-Z]{1,5}", 0..4),
        floor in 0.001f64..0.5,
        half_life in 0.1f64..1000.0,
        warmup in prop::option::of(1u32..28),
    ) {
        let mut cfg = Config::default();
        cfg.portfolio.initial_cash = cash;
        cfg.portfolio.allow_short = short;
        cfg.costs.slippage_bps = bps;
        cfg.data.symbols = symbols;
        cfg.data.from = Some(format!("2013-10-{from_day:02}").parse().unwrap());
        cfg.data.to = to_time.map(|h| format!("2013-11-03T{h:02}:30:00-04:00").parse().unwrap());
        cfg.data.resample = resample.map(|r| r.parse().unwrap());
        cfg.composer.floor = floor;
        cfg.memory.outcome_half_life_hours = half_life;
        cfg.graph.warmup_until = warmup.map(|d| format!("2013-10-{d:02}").parse().unwrap());
        let back = Config::from_toml(&cfg.to_toml(), Path::new("config.toml")).unwrap();
        prop_assert_eq!(back, cfg);
    }
}
