//! The memory CLI: ingest (with bad lines), search, stats, bench.

use std::process::Command;

use crate::common::root;

fn quorum(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_quorum")).args(args).current_dir(root()).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

const GOOD: [&str; 3] = [
    r#"{"id": "a1", "time": "2013-10-07T14:00:00Z", "agent": "wyckoff", "symbol": "SPY", "kind": "pattern", "text": "spring below support reclaimed on heavy volume", "vector": [1, 0, 0, 0], "importance": 55}"#,
    r#"{"time": "2013-10-07T14:05:00Z", "agent": "liquidity", "symbol": "SPY", "kind": "observation", "text": "thin book spike reversed", "vector": [0, 1, 0, 0]}"#,
    r#"{"time": "2013-10-07T14:10:00Z", "agent": "wyckoff", "symbol": "SPY", "kind": "outcome", "text": "spring vote won", "outcome": 0.004}"#,
];

#[test]
fn test_memory_cli_ingest_search_stats_bench() {
    let dir = tempfile::tempdir().unwrap();
    let items = dir.path().join("items.jsonl");
    std::fs::write(&items, GOOD.join("\n") + "\n").unwrap();
    let ck = dir.path().join("mem");
    let ck_s = ck.to_str().unwrap();
    let (code, out, err) = quorum(&["memory", "ingest", items.to_str().unwrap(), "--into", ck_s]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ingested 3 items"), "{out}");

    let (code, out, err) = quorum(&["memory", "search", ck_s, "springs", "--vector", "1,0,0,0", "-k", "2", "--json"]);
    assert_eq!(code, 0, "{err}");
    let hits: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(hits[0]["source_id"], "a1");
    assert!(hits[0]["parts"]["text"].as_f64().unwrap() > 0.5 && hits[0]["parts"]["vector"].as_f64().unwrap() > 0.99);
    let (code, out, _) = quorum(&["memory", "search", ck_s, "spring", "--at", "2013-10-07T14:01:00Z"]);
    assert_eq!(code, 0);
    assert!(out.contains("1 hits"), "as-of excludes the later outcome: {out}");

    let (code, out, err) = quorum(&["memory", "stats", ck_s, "--json"]);
    assert_eq!(code, 0, "{err}");
    let s: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s["live"], 3);
    assert_eq!(s["by_agent"]["wyckoff"], 2);
    assert!(s["outcomes_by_agent"]["wyckoff"]["wins"].as_f64().unwrap() > 0.99);

    let queries = dir.path().join("q.jsonl");
    std::fs::write(&queries, "{\"text\": \"spring\"}\n{\"vector\": [0, 1, 0, 0], \"k\": 1}\n").unwrap();
    let (code, out, err) = quorum(&["memory", "bench", ck_s, "--queries", queries.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("p50") && out.contains("p99") && out.contains("queries/s"), "{out}");
    assert!(out.contains("vector search is exact"), "a 3-item store has no IVF: {out}");
    let (code, _, err) = quorum(&["memory", "bench", ck_s, "--queries", queries.to_str().unwrap(), "--probe", "0"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--probe"), "{err}");
    // The README's query file parses and runs (its hits depend on the store).
    let (code, out, err) = quorum(&["memory", "bench", ck_s, "--queries", "data/memory_queries.jsonl"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("32 queries"), "{out}");
    // QUORUM_SIMD=baseline forces the baseline build of the hot loops, and says so; the hits
    // are the same either way.
    let forced = Command::new(env!("CARGO_BIN_EXE_quorum"))
        .args(["memory", "bench", ck_s, "--queries", "data/memory_queries.jsonl"])
        .env("QUORUM_SIMD", "baseline")
        .current_dir(root())
        .output()
        .unwrap();
    let forced_out = String::from_utf8_lossy(&forced.stdout);
    assert!(forced.status.success() && forced_out.contains("; baseline build)"), "{forced_out}");
    let hits =
        |o: &str| o.split(" hits in the warm-up pass").next().and_then(|h| h.rsplit('(').next()).map(str::to_string);
    assert_eq!(hits(&forced_out), hits(&out));
    // The same hits, scores and all, from both builds.
    for args in [vec!["spring support"], vec!["thin book", "--vector", "0,1,0,0"], vec!["--vector", "1,0,0,0"]] {
        let mut all = vec!["memory", "search", ck_s, "--json"];
        all.extend(args);
        let run = |simd: Option<&str>| {
            let mut c = Command::new(env!("CARGO_BIN_EXE_quorum"));
            c.args(&all).current_dir(root());
            if let Some(v) = simd {
                c.env("QUORUM_SIMD", v);
            }
            let o = c.output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            o.stdout
        };
        let (base, auto) = (run(Some("baseline")), run(None));
        assert!(base.len() > 10, "{}", String::from_utf8_lossy(&base));
        assert_eq!(base, auto, "{all:?}");
    }

    // Ingesting again extends the checkpoint.
    let (code, out, _) = quorum(&["memory", "ingest", items.to_str().unwrap(), "--into", ck_s]);
    assert_eq!(code, 0);
    assert!(out.contains("6 live"), "{out}");
}

#[test]
fn test_memory_cli_bad_input_named() {
    let dir = tempfile::tempdir().unwrap();
    let items = dir.path().join("items.jsonl");
    let bad = r#"{"time": "2013-10-07T14:20:00Z", "agent": "wyckoff", "symbol": "SPY", "kind": "rumour", "text": "x"}"#;
    std::fs::write(&items, format!("{}\n{}\n{bad}\n", GOOD[0], GOOD[1])).unwrap();
    let ck = dir.path().join("mem");
    let (code, _, err) = quorum(&["memory", "ingest", items.to_str().unwrap(), "--into", ck.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("items.jsonl") && err.contains("line 3") && err.contains("`kind`"), "{err}");
    assert!(!ck.exists(), "nothing written on failure");
    let (code, out, err) =
        quorum(&["memory", "ingest", items.to_str().unwrap(), "--into", ck.to_str().unwrap(), "--on-bad-row", "skip"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ingested 2 items") && out.contains("kind=1"), "{out}");
    let vec_bad = dir.path().join("v.jsonl");
    std::fs::write(&vec_bad, r#"{"time": "2013-10-07T14:20:00Z", "agent": "w", "symbol": "SPY", "kind": "news", "text": "x", "vector": [1, 2]}"#).unwrap();
    let (code, _, err) = quorum(&["memory", "ingest", vec_bad.to_str().unwrap(), "--into", ck.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("line 1") && err.contains("vector") && err.contains("dimension is 4"), "{err}");
    for (args, want) in [
        (vec!["memory", "search", dir.path().to_str().unwrap(), "x"], "not a memory checkpoint"),
        (vec!["memory", "search", ck.to_str().unwrap(), "x", "--vector", "1,2"], "dimension is 4"),
        (vec!["memory", "search", ck.to_str().unwrap(), "x", "--vector", "NaN,0,0,0"], "finite"),
        (vec!["memory", "search", ck.to_str().unwrap()], "query text"),
    ] {
        let (code, _, err) = quorum(&args);
        assert_eq!(code, 1, "{args:?}");
        assert!(err.contains(want), "{want:?} not in {err}");
    }
    // A misspelt key is refused, named, not silently dropped.
    let typo = dir.path().join("t.jsonl");
    std::fs::write(&typo, r#"{"time": "2013-10-07T14:20:00Z", "agent": "w", "symbol": "SPY", "kind": "news", "text": "x", "importnace": 90}"#).unwrap();
    let (code, _, err) = quorum(&["memory", "ingest", typo.to_str().unwrap(), "--into", ck.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("line 1") && err.contains("importnace"), "{err}");
    let (code, _, err) = quorum(&["memory", "search", ck.to_str().unwrap(), "x", "--at", "noon"]);
    assert_eq!(code, 2, "a bad time is a usage error: {err}");
    assert!(err.contains("--at") && err.contains("noon"), "{err}");
}
