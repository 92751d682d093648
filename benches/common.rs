//! Shared bench helpers. Benches read the real files in `../shared/data` (see its README);
//! on a machine without it they fall back to the repo's `data/bars` sample and say so.

#![allow(dead_code)]

use std::path::PathBuf;

use quorum::market::LoadOptions;

/// `../shared/data/<name>` if present, else `None`.
pub fn shared(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data").join(name);
    p.exists().then_some(p)
}

/// `../shared/data/<name>`, or the repo sample with a note on stderr.
pub fn shared_or_sample(name: &str) -> PathBuf {
    shared(name).unwrap_or_else(|| {
        eprintln!("note: ../shared/data/{name} not found; benchmarking data/bars instead");
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/bars")
    })
}

/// Loader options with no filters.
pub fn raw_opts(path: PathBuf) -> LoadOptions {
    LoadOptions::new(path)
}

/// A deterministic synthetic memory workload: market-flavoured texts of 8-14 words from a
/// 240-word vocabulary (Zipf-like: earlier words are more frequent), `dim`-dimensional
/// clustered vectors, 5 agents, 8 symbols, 7 kinds, one item every 5 event-seconds.
pub fn synthetic_items(n: usize, dim: usize, seed: u64) -> Vec<quorum::memory::NewItem> {
    use quorum::memory::{Kind, NewItem};
    use quorum::rng::SplitMix64;
    const BASE: [&str; 48] = [
        "spring",
        "upthrust",
        "range",
        "volume",
        "spike",
        "thin",
        "deep",
        "gamma",
        "pin",
        "squeeze",
        "regime",
        "trend",
        "calm",
        "volatile",
        "reversal",
        "breakout",
        "support",
        "resistance",
        "absorption",
        "climax",
        "test",
        "effort",
        "result",
        "spread",
        "amihud",
        "lambda",
        "impact",
        "dealer",
        "hedging",
        "momentum",
        "rsi",
        "mfi",
        "overbought",
        "oversold",
        "news",
        "earnings",
        "guidance",
        "upgrade",
        "downgrade",
        "gap",
        "fade",
        "rally",
        "selloff",
        "bid",
        "offer",
        "tape",
        "print",
        "auction",
    ];
    let vocab: Vec<String> =
        (0..240).map(|i| if i < 48 { BASE[i].to_string() } else { format!("{}{}", BASE[i % 48], i / 48) }).collect();
    let agents = ["hedge", "liquidity", "sentiment", "wyckoff", "markov"];
    let symbols = ["SPY", "AAPL", "AIG", "BAC", "IBM", "BTCUSDT", "QQQ", "IWM"];
    let mut rng = SplitMix64(seed);
    let centres: Vec<Vec<f32>> =
        (0..64).map(|_| (0..dim).map(|_| (rng.below(2001) as f32 - 1000.0) / 1000.0).collect()).collect();
    let t0 = 1_381_152_600_000_000_000i64;
    (0..n)
        .map(|i| {
            let words = 8 + rng.below(7);
            let text: Vec<&str> = (0..words)
                .map(|_| {
                    let a = rng.below(240);
                    let b = rng.below(240);
                    vocab[a.min(b)].as_str()
                })
                .collect();
            let c = &centres[rng.below(64)];
            let v: Vec<f32> = c.iter().map(|x| x + (rng.below(1001) as f32 - 500.0) / 1500.0).collect();
            NewItem::new(
                t0 + i as i64 * 5_000_000_000,
                agents[rng.below(5)],
                symbols[rng.below(8)],
                Kind::ALL[rng.below(6)],
                text.join(" "),
            )
            .with_vector(v)
            .with_importance(20.0 + rng.below(39) as f64)
        })
        .collect()
}
