//! Analysts on constructed bar sequences: each reads the situation it is built for.

use super::news::Headline;
use super::profile::parse_profile;
use super::{Analyst, Extras, Perception, Proposal, Registry};
use crate::features::{FeatureBank, Features};
use crate::market::Bar;
use crate::market::time::NS_PER_MIN;
use crate::memory::Kind;

const T0: i64 = 1_381_152_600_000_000_000; // 2013-10-07T13:30:00Z

fn analyst(kind: &str, params: &str) -> Box<dyn Analyst> {
    let text = format!("name = \"{kind}\"\nkind = \"{kind}\"\nhorizon = 10\n[params]\n{params}\n");
    let registry = Registry::default();
    registry.build(&parse_profile(std::path::Path::new("test.toml"), &text, &registry).unwrap()).unwrap()
}

/// Feeds bars (open, high, low, close, volume) one minute apart; returns the last proposal
/// and every memory written.
fn feed(
    a: &mut dyn Analyst,
    bars: &[(f64, f64, f64, f64, f64)],
    news_at_last: &[Headline],
) -> (Proposal, Vec<String>, Features) {
    let mut fb = FeatureBank::new();
    let mut last = None;
    let mut writes = Vec::new();
    for (k, &(open, high, low, close, volume)) in bars.iter().enumerate() {
        let bar = Bar { ts: T0 + k as i64 * NS_PER_MIN, symbol: 0, open, high, low, close, volume };
        let f = fb.update(&bar);
        let news: &[Headline] = if k + 1 == bars.len() { news_at_last } else { &[] };
        let pc = Perception { symbol: "SPY", sym: 0, features: &f, extras: Extras::default(), news };
        let p = a.perceive(&pc);
        writes.extend(p.writes.iter().map(|w| format!("{:?}: {}", w.kind, w.text)));
        last = Some((p, f));
    }
    let (p, f) = last.unwrap();
    (p, writes, f)
}

/// A sideways range 99–101 with ordinary volume, `n` bars.
fn range(n: usize) -> Vec<(f64, f64, f64, f64, f64)> {
    (0..n)
        .map(|k| {
            let c = 100.0 + (k as f64 * 0.7).sin();
            (c - 0.1, c + 0.3, c - 0.3, c, 1000.0 + (k % 5) as f64 * 50.0)
        })
        .collect()
}

#[test]
fn test_wyckoff_spring_that_reclaims_support_votes_long() {
    let mut a = analyst("wyckoff", "");
    let mut bars = range(80);
    let support = bars[20..80].iter().map(|b| b.2).fold(f64::MAX, f64::min);
    // Trades 0.5 below support, closes back above it, on double volume.
    bars.push((support + 0.1, support + 0.4, support - 0.5, support + 0.3, 2500.0));
    let (p, writes, _) = feed(a.as_mut(), &bars, &[]);
    assert!(p.direction > 0.4, "{p:?}");
    assert!(p.rationale.contains("spring"), "{}", p.rationale);
    assert!(writes.iter().any(|w| w.starts_with("Pattern") && w.contains("spring")), "{writes:?}");
    let r = p.recall.expect("recalls how earlier springs resolved");
    assert_eq!(r.kind, Some(Kind::Outcome));
    assert!(r.text.contains("spring"));
}

#[test]
fn test_wyckoff_upthrust_that_fails_votes_short() {
    let mut a = analyst("wyckoff", "");
    let mut bars = range(80);
    let resistance = bars[20..80].iter().map(|b| b.1).fold(f64::MIN, f64::max);
    bars.push((resistance - 0.1, resistance + 0.5, resistance - 0.4, resistance - 0.3, 2500.0));
    let (p, writes, _) = feed(a.as_mut(), &bars, &[]);
    assert!(p.direction < -0.4, "{p:?}");
    assert!(writes.iter().any(|w| w.contains("upthrust")), "{writes:?}");
}

#[test]
fn test_markov_regime_switch_written_and_vote_turns() {
    let mut a = analyst("markov", "min_dwell = 3");
    // 150 calm up bars, then 80 volatile down bars.
    let mut bars = Vec::new();
    let mut c = 100.0;
    for k in 0..150 {
        let step = 0.02 + 0.01 * (k as f64 * 1.3).sin();
        bars.push((c, c + 0.05, c - 0.05, c + step, 1000.0));
        c += step;
    }
    let (up, _, _) = feed(a.as_mut(), &bars, &[]);
    let mut a2 = analyst("markov", "min_dwell = 3");
    for k in 0..80 {
        let step = -0.15 + 0.3 * ((k * 7 % 5) as f64 / 4.0 - 0.5) - 0.05;
        bars.push((c, c + 0.4, c - 0.4, c + step, 3000.0));
        c += step;
    }
    let (down, writes, _) = feed(a2.as_mut(), &bars, &[]);
    assert!(up.direction > 0.0, "calm uptrend expects up: {up:?}");
    assert!(down.direction < up.direction, "the switch lowers the vote: {} -> {}", up.direction, down.direction);
    assert!(writes.iter().any(|w| w.starts_with("Regime") && w.contains("downtrend")), "{writes:?}");
}

#[test]
fn test_liquidity_fades_an_illiquid_spike() {
    let mut a = analyst("liquidity", "");
    let mut bars = range(60);
    // A sharp rise on a tenth of the usual volume.
    bars.push((100.0, 104.0, 100.0, 103.8, 100.0));
    let (p, writes, _) = feed(a.as_mut(), &bars, &[]);
    assert!(p.direction < 0.0, "fade the thin spike: {p:?}");
    assert!(writes.iter().any(|w| w.contains("illiquid spike up")), "{writes:?}");
    assert!(p.recall.is_some());
    // The same rise on heavy volume is followed.
    let mut a = analyst("liquidity", "");
    let mut bars = range(60);
    bars.push((100.0, 104.0, 100.0, 103.8, 6000.0));
    let (p, writes, _) = feed(a.as_mut(), &bars, &[]);
    assert!(p.direction > 0.0, "follow the deep move: {p:?}");
    assert!(writes.iter().any(|w| w.contains("deep liquidity move up")), "{writes:?}");
}

#[test]
fn test_sentiment_news_driven_headline() {
    let headline = |text: &str| Headline {
        ts: T0,
        tickers: vec!["spy".into()],
        source: "test".into(),
        text: text.into(),
        score: super::news::score(text),
    };
    let bars = range(60);
    let mut a = analyst("sentiment", "news_weight = 0.8");
    let (good, writes, _) =
        feed(a.as_mut(), &bars, &[headline("Index funds surge as earnings beat and upgrades pile up")]);
    assert!(good.direction > 0.2, "{good:?}");
    assert!(writes.iter().any(|w| w.starts_with("News") && w.contains("positive")), "{writes:?}");
    assert!(good.recall.as_ref().is_some_and(|r| r.text.contains("news positive")));
    let mut a = analyst("sentiment", "news_weight = 0.8");
    let (bad, _, _) = feed(a.as_mut(), &bars, &[headline("Antitrust probe and lawsuit hit shares; guidance cut")]);
    assert!(bad.direction < -0.2, "{bad:?}");
}

#[test]
fn test_hedge_pins_toward_vwap_when_calm() {
    let mut a = analyst("hedge", "");
    // Volatile first, then calm bars drifting above the session VWAP.
    let mut bars = Vec::new();
    for k in 0..70 {
        let c: f64 = 100.0 + if k % 2 == 0 { 1.0 } else { -1.0 };
        bars.push((100.0, c.max(100.0) + 0.2, c.min(100.0) - 0.2, c, 1000.0));
    }
    for k in 0..30 {
        let c = 101.0 + k as f64 * 0.01;
        bars.push((c - 0.005, c + 0.01, c - 0.01, c, 1000.0));
    }
    let (p, writes, f) = feed(a.as_mut(), &bars, &[]);
    assert!(f.bar.close > f.vwap);
    assert!(p.direction < 0.0, "long gamma pins back to VWAP: {p:?}");
    assert!(p.rationale.contains("pin"));
    let _ = writes;
}

#[test]
fn test_profile_errors_name_file_and_key() {
    let e = parse_profile(
        std::path::Path::new("agents/x.toml"),
        "name = \"x\"\nkind = \"wyckoff\"\nhorizon = 5\n[params]\nlookbak = 3\n",
        &Registry::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("agents/x.toml") && e.contains("lookbak"), "{e}");
    let e = parse_profile(
        std::path::Path::new("y.toml"),
        "name = \"y\"\nkind = \"oracle\"\nhorizon = 5\n",
        &Registry::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("y.toml") && e.contains("oracle"), "{e}");
    let e = parse_profile(
        std::path::Path::new("z.toml"),
        "name = \"z\"\nkind = \"markov\"\nhorizon = 0\n",
        &Registry::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("horizon"), "{e}");
}

#[test]
fn test_hedge_reads_option_flow_columns_through_extras() {
    // Ordinary bars (no volatility compression), then the same last bar read with
    // `net_gamma` / `dealer_flow` columns: the columns decide the regime.
    let bars = range(80);
    let names = vec!["net_gamma".to_string(), "dealer_flow".to_string()];
    let cases: [(&[f64], Option<&str>); 4] = [
        (&[], None),
        (&[2.5e9, f64::NAN], Some("net gamma long")),
        (&[-1.0e9, 3.0], Some("net gamma short")),
        (&[f64::NAN, f64::NAN], None),
    ];
    for (values, want) in cases {
        let mut a = analyst("hedge", "calm_ratio = 0.0\nexpansion_ratio = 100.0");
        let mut fb = FeatureBank::new();
        let mut last = None;
        for (k, &(open, high, low, close, volume)) in bars.iter().enumerate() {
            let bar = Bar { ts: T0 + k as i64 * NS_PER_MIN, symbol: 0, open, high, low, close, volume };
            let f = fb.update(&bar);
            let extras =
                if k + 1 == bars.len() && !values.is_empty() { Extras::new(&names, values) } else { Extras::default() };
            let pc = Perception { symbol: "SPY", sym: 0, features: &f, extras, news: &[] };
            last = Some(a.perceive(&pc));
        }
        let p = last.unwrap();
        match want {
            // The proxy's thresholds make every bar neutral: no view without the columns.
            None => assert_eq!(p.direction, 0.0, "{values:?}: {p:?}"),
            Some(why) => assert!(p.rationale.contains(why) && p.direction != 0.0, "{values:?}: {p:?}"),
        }
    }
    let e = Extras::new(&names, &[1.0, 2.0]);
    assert_eq!((e.get("dealer_flow"), e.get("vanna")), (Some(2.0), None));
}

/// `n` bars rising 0.5 a bar from 100 (a markup: far wider than `max_range_atr`), then 10
/// bars up and 10 back down to exactly the close of 20 bars before: a 20-bar return of 0.
#[test]
fn test_wyckoff_zero_twenty_bar_move_is_no_markup() {
    let mut bars: Vec<(f64, f64, f64, f64, f64)> = Vec::new();
    let mut push = |c: f64| bars.push((c, c + 0.1, c - 0.1, c, 1000.0));
    for k in 0..80 {
        push(100.0 + 0.5 * k as f64);
    }
    let top = 100.0 + 0.5 * 79.0;
    for k in 1..=10 {
        push(top + 0.5 * k as f64);
    }
    for k in (0..10).rev() {
        push(top + 0.5 * k as f64);
    }
    let mut a = analyst("wyckoff", "");
    let (p, _, f) = feed(a.as_mut(), &bars, &[]);
    assert_eq!(f.ret20, 0.0);
    assert_eq!(p.direction, 0.0, "a zero 20-bar move is neither markup nor markdown: {p:?}");
}

#[test]
fn test_wyckoff_absorption_after_no_move_has_no_direction() {
    let mut bars = range(80);
    // A narrow bar on 5x volume, closing exactly where price was 5 bars before.
    let c = bars[bars.len() - 5].3;
    bars.push((c, c + 0.05, c - 0.05, c, 5000.0));
    let mut a = analyst("wyckoff", "");
    let (p, writes, f) = feed(a.as_mut(), &bars, &[]);
    assert_eq!(f.ret5, 0.0);
    assert!(p.rationale.contains("absorption"), "{p:?}");
    assert_eq!(p.direction, 0.0, "no prior move, nothing to vote against: {p:?}");
    assert!(writes.iter().any(|w| w.contains("absorption")), "the observation is still written: {writes:?}");
}

#[test]
fn test_liquidity_zero_move_has_no_direction() {
    // With `move_sigma = 0` every bar is a "move"; a flat one is no direction either way.
    let mut a = analyst("liquidity", "move_sigma = 0.0\nthin_rel_volume = 2.0");
    let bars: Vec<_> = (0..40).map(|_| (100.0, 100.2, 99.8, 100.0, 1000.0)).collect();
    let (p, _, _) = feed(a.as_mut(), &bars, &[]);
    assert_eq!(p.direction, 0.0, "{p:?}");
}

#[test]
fn test_hedge_zero_dealer_flow_adds_nothing() {
    let bars = range(80);
    let names = vec!["net_gamma".to_string(), "dealer_flow".to_string()];
    let direction = |values: &[f64]| {
        let mut a = analyst("hedge", "");
        let mut fb = FeatureBank::new();
        let mut last = None;
        for (k, &(open, high, low, close, volume)) in bars.iter().enumerate() {
            let bar = Bar { ts: T0 + k as i64 * NS_PER_MIN, symbol: 0, open, high, low, close, volume };
            let f = fb.update(&bar);
            let extras = if k + 1 == bars.len() { Extras::new(&names, values) } else { Extras::default() };
            let pc = Perception { symbol: "SPY", sym: 0, features: &f, extras, news: &[] };
            last = Some(a.perceive(&pc));
        }
        last.unwrap().direction
    };
    let none = direction(&[1e9, f64::NAN]);
    assert_ne!(none, 0.0);
    assert_eq!(direction(&[1e9, 0.0]), none, "a zero flow is no direction");
    assert_eq!(direction(&[1e9, -0.0]), none, "nor is a negative zero");
    assert!((direction(&[1e9, 5.0]) - (none + 0.2).clamp(-1.0, 1.0)).abs() < 1e-12);
}

/// Springs and upthrusts after Weis (2013) and Pruden (2007): one on light volume is the
/// stronger signal (supply / demand exhausted), one on heavy volume a weaker shakeout.
#[test]
fn test_wyckoff_light_volume_spring_and_upthrust_are_the_stronger_signals() {
    struct Case {
        name: &'static str,
        spring: bool,
        volume: f64,
        label: &'static str,
    }
    let cases = [
        Case { name: "light spring", spring: true, volume: 500.0, label: "light volume" },
        Case { name: "heavy spring", spring: true, volume: 3000.0, label: "shakeout" },
        Case { name: "light upthrust", spring: false, volume: 500.0, label: "light volume" },
        Case { name: "heavy upthrust", spring: false, volume: 3000.0, label: "heavy volume" },
    ];
    let mut conf = Vec::new();
    for c in &cases {
        let mut bars = range(80);
        let support = bars[20..80].iter().map(|b| b.2).fold(f64::MAX, f64::min);
        let resistance = bars[20..80].iter().map(|b| b.1).fold(f64::MIN, f64::max);
        bars.push(if c.spring {
            (support + 0.1, support + 0.4, support - 0.5, support + 0.3, c.volume)
        } else {
            (resistance - 0.1, resistance + 0.5, resistance - 0.4, resistance - 0.3, c.volume)
        });
        let mut a = analyst("wyckoff", "");
        let (p, writes, _) = feed(a.as_mut(), &bars, &[]);
        let want = if c.spring { "spring" } else { "upthrust" };
        assert!(p.rationale.contains(want) && p.rationale.contains(c.label), "{}: {p:?}", c.name);
        assert!(writes.iter().any(|w| w.starts_with("Pattern") && w.contains(want)), "{}: {writes:?}", c.name);
        assert_eq!(p.direction.signum(), if c.spring { 1.0 } else { -1.0 }, "{}", c.name);
        assert_eq!(p.direction.abs(), p.confidence, "{}", c.name);
        conf.push(p.confidence);
    }
    assert!(conf[0] > conf[1] && conf[2] > conf[3], "light volume beats heavy: {conf:?}");
    assert!(conf[1] >= 0.3 && conf[0] <= 0.8, "{conf:?}");
}
