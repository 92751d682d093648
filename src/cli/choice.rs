//! Enum flags: the library's enums carry no command-line derives, so each flag's values
//! are listed here with the names the config uses and a line of help. A test checks that
//! every name parses to the same value through the config (TOML), so the two cannot drift.

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};

use quorum::composer::ComposerMode;
use quorum::config::{ShapleyMode, StrategyName};
use quorum::market::{BadRowPolicy, SessionMode};
use quorum::memory::{Kind, Layer};

/// A flag's values: (value, name, help).
pub(crate) type Choices<T> = &'static [(T, &'static str, &'static str)];

/// A parser that accepts the names of `choices` (listed in `--help` and in errors).
pub(crate) fn choice<T: Copy + Send + Sync + 'static>(choices: Choices<T>) -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(choices.iter().map(|(_, name, help)| PossibleValue::new(*name).help(*help))).try_map(
        move |s: String| {
            choices
                .iter()
                .find(|(_, name, _)| *name == s)
                .map(|(v, _, _)| *v)
                .ok_or_else(|| format!("unknown value {s}"))
        },
    )
}

pub(crate) const STRATEGIES: Choices<StrategyName> = &[
    (StrategyName::Graph, "graph", "the analyst graph: analyst actors, shared memory, composer"),
    (StrategyName::SmaCross, "sma-cross", "SMA(fast) / SMA(slow) crossover"),
    (StrategyName::BuyAndHold, "buy-and-hold", "equal-weight buy-and-hold"),
];

pub(crate) const SESSIONS: Choices<SessionMode> = &[
    (SessionMode::Auto, "auto", "regular session for equities, everything for crypto"),
    (SessionMode::Regular, "regular", "regular session for equities (crypto has none)"),
    (SessionMode::All, "all", "every bar, extended hours included"),
];

pub(crate) const BAD_ROWS: Choices<BadRowPolicy> = &[
    (BadRowPolicy::Fail, "fail", "stop with an error naming the file, row and field"),
    (BadRowPolicy::Skip, "skip", "drop the row and count it by reason"),
];

pub(crate) const COMPOSERS: Choices<ComposerMode> = &[
    (ComposerMode::Composed, "composed", "weights by remembered win rate (Beta posterior, floor, cap)"),
    (ComposerMode::Equal, "equal", "every analyst weighs the same"),
];

pub(crate) const SHAPLEY: Choices<ShapleyMode> = &[
    (ShapleyMode::Off, "off", "no Shapley values"),
    (ShapleyMode::Replay, "replay", "each coalition re-runs the composer over the logged votes (fast)"),
    (ShapleyMode::Full, "full", "also re-run the whole graph per coalition, each with its own memory"),
];

pub(crate) const KINDS: Choices<Kind> = &[
    (Kind::Observation, "observation", "something an analyst noticed about a bar"),
    (Kind::Signal, "signal", "a trading signal"),
    (Kind::Pattern, "pattern", "a chart or flow pattern"),
    (Kind::Regime, "regime", "a regime change"),
    (Kind::Outcome, "outcome", "how a vote resolved"),
    (Kind::News, "news", "a headline"),
    (Kind::Reflection, "reflection", "a summary over many memories"),
];

pub(crate) const LAYERS: Choices<Layer> = &[
    (Layer::Short, "short", "fresh memories (hours)"),
    (Layer::Mid, "mid", "reinforced memories (days)"),
    (Layer::Long, "long", "memories that kept proving useful (weeks)"),
    (Layer::Reflection, "reflection", "reflections (months)"),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Each flag name is the name the config (serde) uses for the same value.
    fn same_as_serde<T>(choices: Choices<T>, all: usize)
    where
        T: Copy + PartialEq + std::fmt::Debug + serde::de::DeserializeOwned,
    {
        assert_eq!(choices.len(), all, "every value listed");
        #[derive(serde::Deserialize)]
        struct Wrap<T> {
            v: T,
        }
        for (v, name, _) in choices {
            let parsed: Wrap<T> = toml::from_str(&format!("v = {name:?}")).unwrap();
            assert_eq!(parsed.v, *v, "{name}");
        }
    }

    #[test]
    fn test_choice_names_are_the_config_names() {
        same_as_serde(STRATEGIES, 3);
        same_as_serde(SESSIONS, 3);
        same_as_serde(BAD_ROWS, 2);
        same_as_serde(COMPOSERS, 2);
        same_as_serde(SHAPLEY, 3);
        same_as_serde(KINDS, Kind::ALL.len());
        same_as_serde(LAYERS, Layer::ALL.len());
    }
}
