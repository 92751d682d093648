//! The JSONL files of the memory CLI: items to ingest and queries to benchmark.
//!
//! Item line (one JSON object per line; `layer`, `vector`, `importance`, `outcome`,
//! `metadata`, `id` optional):
//!
//! ```json
//! {"id": "w-17", "time": "2013-10-07T14:05:00Z", "agent": "wyckoff", "symbol": "SPY",
//!  "kind": "pattern", "layer": "short", "text": "spring below 167.20 reclaimed on volume",
//!  "vector": [0.1, -0.3, ...], "importance": 55, "outcome": 0.004, "metadata": {"bar": 31}}
//! ```
//!
//! `time` is RFC 3339 (or integer nanoseconds since the epoch); `kind` one of observation,
//! signal, pattern, regime, outcome, news, reflection; `layer` one of short, mid, long,
//! reflection (default short, reflection for kind reflection); `importance` 0–100
//! (default 50); `id` is kept as the item's `source_id` (the store assigns its own ids).
//!
//! Query line: `{"text": ..., "vector": [...], "agent": ..., "symbol": ..., "kind": ...,
//! "layer": ..., "from": ..., "at": ..., "k": 10}`, every field optional (`at` defaults to the
//! store's last publish time, `k` to the command's `-k`).
//!
//! A malformed line is an error naming the file, line and field; with `--on-bad-row skip`
//! it is skipped and counted by field.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use serde_json::{Map, Value};

use super::error::{MemoryError, Result};
use super::item::{Kind, Layer, NewItem};
use super::snapshot::Query;
use crate::market::BadRowPolicy;
use crate::market::Ts;
use crate::market::time::parse_rfc3339;

type Obj = Map<String, Value>;

fn field_err(field: &str, msg: impl std::fmt::Display) -> (String, String) {
    (field.to_string(), format!("field `{field}`: {msg}"))
}

fn get_str<'a>(o: &'a Obj, f: &str, required: bool) -> std::result::Result<Option<&'a str>, (String, String)> {
    match o.get(f) {
        None | Some(Value::Null) if !required => Ok(None),
        None | Some(Value::Null) => Err(field_err(f, "missing")),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(field_err(f, format!("expected text, got {v}"))),
    }
}

fn get_time(o: &Obj, f: &str, required: bool) -> std::result::Result<Option<Ts>, (String, String)> {
    match o.get(f) {
        None | Some(Value::Null) if !required => Ok(None),
        None | Some(Value::Null) => Err(field_err(f, "missing")),
        Some(Value::String(s)) => {
            parse_rfc3339(s).map(Some).ok_or_else(|| field_err(f, format!("cannot parse {s:?} as RFC 3339")))
        }
        Some(Value::Number(n)) => {
            n.as_i64().map(Some).ok_or_else(|| field_err(f, format!("{n} is not integer nanoseconds")))
        }
        Some(v) => Err(field_err(f, format!("expected an RFC 3339 time, got {v}"))),
    }
}

fn get_f64(o: &Obj, f: &str) -> std::result::Result<Option<f64>, (String, String)> {
    match o.get(f) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            n.as_f64().filter(|x| x.is_finite()).map(Some).ok_or_else(|| field_err(f, "not a finite number"))
        }
        Some(v) => Err(field_err(f, format!("expected a number, got {v}"))),
    }
}

fn get_vector(o: &Obj, f: &str) -> std::result::Result<Option<Vec<f32>>, (String, String)> {
    match o.get(f) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, x)| {
                x.as_f64()
                    .filter(|x| x.is_finite())
                    .map(|x| x as f32)
                    .ok_or_else(|| field_err(f, format!("element {i} ({x}) is not a finite number")))
            })
            .collect::<std::result::Result<Vec<f32>, _>>()
            .map(Some),
        Some(v) => Err(field_err(f, format!("expected an array of numbers, got {v}"))),
    }
}

fn get_enum<T: for<'de> serde::Deserialize<'de>>(
    o: &Obj,
    f: &str,
    names: &str,
) -> std::result::Result<Option<T>, (String, String)> {
    match o.get(f) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            serde_json::from_value(v.clone()).map(Some).map_err(|_| field_err(f, format!("{v} is not one of {names}")))
        }
    }
}

const KINDS: &str = "observation, signal, pattern, regime, outcome, news, reflection";
const LAYERS: &str = "short, mid, long, reflection";

/// Refuses keys outside `known`, naming the first: a misspelt `importnace` must not be
/// silently dropped (the item would get the default importance).
fn known_keys(o: &Obj, known: &[&str]) -> std::result::Result<(), (String, String)> {
    match o.keys().find(|k| !known.contains(&k.as_str())) {
        None => Ok(()),
        Some(k) => Err((k.clone(), format!("unknown key `{k}` (known: {})", known.join(", ")))),
    }
}

/// The keys an item line may hold. The last three are what `memory search --json` shows of
/// a stored item and the store derives itself (recency, access count, the source id it
/// kept): accepted so a search's output ingests back, and ignored.
const ITEM_KEYS: [&str; 14] = [
    "time",
    "agent",
    "symbol",
    "kind",
    "text",
    "layer",
    "vector",
    "importance",
    "outcome",
    "metadata",
    "id",
    "recency",
    "access_count",
    "source_id",
];
const QUERY_KEYS: [&str; 9] = ["text", "vector", "agent", "symbol", "kind", "layer", "from", "at", "k"];

/// Parses one item line. Unknown keys are refused, naming the key.
pub fn parse_item(line: &str) -> std::result::Result<NewItem, (String, String)> {
    let v: Value = serde_json::from_str(line).map_err(|e| ("json".to_string(), format!("not valid JSON: {e}")))?;
    let Value::Object(o) = v else { return Err(("json".into(), "expected a JSON object".into())) };
    known_keys(&o, &ITEM_KEYS)?;
    let time = get_time(&o, "time", true)?.expect("required");
    let agent = get_str(&o, "agent", true)?.expect("required");
    // Upper case, as the loader writes symbols: `spy` and `SPY` are one instrument.
    let symbol = get_str(&o, "symbol", true)?.expect("required").to_ascii_uppercase();
    let kind: Kind = get_enum(&o, "kind", KINDS)?.ok_or_else(|| field_err("kind", "missing"))?;
    let text = get_str(&o, "text", true)?.expect("required");
    let mut item = NewItem::new(time, agent, &symbol, kind, text);
    if let Some(l) = get_enum::<Layer>(&o, "layer", LAYERS)? {
        item.layer = l;
    }
    if let Some(v) = get_vector(&o, "vector")? {
        item.vector = v;
    }
    if let Some(i) = get_f64(&o, "importance")? {
        if !(0.0..=100.0).contains(&i) {
            return Err(field_err("importance", format!("{i} is outside [0, 100]")));
        }
        item.importance = i;
    }
    item.outcome = get_f64(&o, "outcome")?;
    match o.get("metadata") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            item.metadata = m.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<BTreeMap<_, _>>()
        }
        Some(v) => return Err(field_err("metadata", format!("expected an object, got {v}"))),
    }
    item.source_id = match o.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(v) => return Err(field_err("id", format!("expected text or a number, got {v}"))),
    };
    Ok(item)
}

/// Parses one query line; `at` and `k` default to the given values. Unknown keys are
/// refused, naming the key.
pub fn parse_query(line: &str, default_at: Ts, default_k: usize) -> std::result::Result<Query, (String, String)> {
    let v: Value = serde_json::from_str(line).map_err(|e| ("json".to_string(), format!("not valid JSON: {e}")))?;
    let Value::Object(o) = v else { return Err(("json".into(), "expected a JSON object".into())) };
    known_keys(&o, &QUERY_KEYS)?;
    let k = match o.get("k") {
        None | Some(Value::Null) => default_k,
        Some(Value::Number(n)) => {
            n.as_u64().filter(|&k| k > 0).ok_or_else(|| field_err("k", format!("{n} is not a positive integer")))?
                as usize
        }
        Some(v) => return Err(field_err("k", format!("expected a positive integer, got {v}"))),
    };
    Ok(Query {
        text: get_str(&o, "text", false)?.map(str::to_string),
        vector: get_vector(&o, "vector")?,
        agent: get_str(&o, "agent", false)?.map(str::to_string),
        symbol: get_str(&o, "symbol", false)?.map(str::to_ascii_uppercase),
        kind: get_enum(&o, "kind", KINDS)?,
        layer: get_enum(&o, "layer", LAYERS)?,
        from: get_time(&o, "from", false)?,
        at: get_time(&o, "at", false)?.unwrap_or(default_at),
        k,
        probe: None,
    })
}

/// Parsed lines with their 1-based numbers, and skip counts by field.
pub type Lines<T> = (Vec<(usize, T)>, BTreeMap<String, usize>);

/// Reads a JSONL file line by line through `parse`, applying the bad-line policy.
/// Returns the parsed values (with their 1-based line numbers) and skip counts by field.
pub fn read_lines<T>(
    path: &Path,
    policy: BadRowPolicy,
    mut parse: impl FnMut(&str) -> std::result::Result<T, (String, String)>,
) -> Result<Lines<T>> {
    let f = std::fs::File::open(path).map_err(|e| MemoryError::io(path, "cannot read", e))?;
    let mut out = Vec::new();
    let mut skipped = BTreeMap::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| MemoryError::io(path, "cannot read", e))?;
        if line.trim().is_empty() {
            continue;
        }
        match parse(&line) {
            Ok(v) => out.push((i + 1, v)),
            Err((field, message)) => match policy {
                BadRowPolicy::Fail => {
                    return Err(MemoryError::BadLine { path: path.to_path_buf(), line: i + 1, message });
                }
                BadRowPolicy::Skip => *skipped.entry(field).or_default() += 1,
            },
        }
    }
    Ok((out, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_parse_item_full_and_defaults() {
        let it = parse_item(r#"{"id": 7, "time": "2013-10-07T13:30:00Z", "agent": "wyckoff", "symbol": "SPY", "kind": "pattern", "text": "spring", "vector": [1, 0.5], "importance": 70, "metadata": {"bar": 3}}"#).unwrap();
        assert_eq!(
            (it.agent.as_str(), it.kind, it.layer, it.importance),
            ("wyckoff", Kind::Pattern, Layer::Short, 70.0)
        );
        assert_eq!(it.vector, vec![1.0, 0.5]);
        assert_eq!(it.source_id.as_deref(), Some("7"));
        let r = parse_item(r#"{"time": 0, "agent": "a", "symbol": "S", "kind": "reflection", "text": "t"}"#).unwrap();
        assert_eq!(r.layer, Layer::Reflection);
    }

    #[test]
    fn test_parse_item_errors_name_field() {
        let cases = [
            (r#"{"agent": "a", "symbol": "S", "kind": "news", "text": "t"}"#, "time"),
            (r#"{"time": "yesterday", "agent": "a", "symbol": "S", "kind": "news", "text": "t"}"#, "time"),
            (r#"{"time": 0, "agent": "a", "symbol": "S", "kind": "gossip", "text": "t"}"#, "kind"),
            (r#"{"time": 0, "agent": "a", "symbol": "S", "kind": "news", "text": "t", "vector": [1, "x"]}"#, "vector"),
            (
                r#"{"time": 0, "agent": "a", "symbol": "S", "kind": "news", "text": "t", "importance": 300}"#,
                "importance",
            ),
            (r#"{"time": 0, "agent": 5, "symbol": "S", "kind": "news", "text": "t"}"#, "agent"),
            (r#"not json"#, "json"),
        ];
        for (line, field) in cases {
            let (f, msg) = parse_item(line).unwrap_err();
            assert_eq!(f, field, "{msg}");
        }
    }

    #[test]
    fn test_parse_query_defaults() {
        let q = parse_query(r#"{"text": "spring", "agent": "wyckoff"}"#, 99, 5).unwrap();
        assert_eq!((q.at, q.k, q.agent.as_deref()), (99, 5, Some("wyckoff")));
        assert!(parse_query(r#"{"k": 0}"#, 0, 5).is_err());
    }
}
