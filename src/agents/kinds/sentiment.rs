//! Sentiment: the market's mood from price and volume, and from headlines when given.
//!
//! Price–volume sentiment:
//!
//! ```text
//! s_price = 0.4·tanh(z₂₀) + 0.3·tanh(trend) − 0.3·extreme
//! z₂₀     = 20-bar log return / (σ·√20)                         momentum
//! trend   = (EMA₁₀ − EMA₃₀) / ATR₁₄                              trend strength
//! extreme = +1 if RSI₁₄ > 70 and MFI₁₄ > 75, −1 if RSI < 30 and MFI < 25, else 0
//! ```
//!
//! (RSI: Wilder, 1978; MFI: Quong & Soudack, 1989; extremes read contrarian). In a volatile
//! regime (10- over 60-bar realised volatility above `volatile_ratio`) s_price is scaled by
//! 0.6. Headlines for the symbol (see `news`) are scored with the finance lexicon, written as
//! `news` memories and summed into a news sentiment that decays with a `news_half_life_hours`
//! half-life; with news present the vote is (1 − w)·s_price + w·tanh(news), w =
//! `news_weight`. RSI/MFI extremes and news are written to memory, and the decision recalls
//! how earlier votes in such moods resolved.

use serde::{Deserialize, Serialize};

use crate::agents::{Analyst, Core, PerSymbol, Perception, Profile, Proposal};
use crate::market::Ts;
use crate::market::time::NS_PER_HOUR;
use crate::memory::Kind;

/// `[params]` of a Sentiment profile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// σ₁₀ / σ₆₀ above this is a volatile regime: s_price is scaled by 0.6.
    pub volatile_ratio: f64,
    /// Half-life of the summed news sentiment, event hours.
    pub news_half_life_hours: f64,
    /// Blend weight w: with news, vote = (1 − w)·s_price + w·tanh(news).
    pub news_weight: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { volatile_ratio: 1.3, news_half_life_hours: 2.0, news_weight: 0.5 }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct NewsState {
    value: f64,
    at: Ts,
    extreme: i8,
}

/// The Sentiment analyst.
#[derive(Debug, Clone)]
pub struct Sentiment {
    core: Core,
    p: Params,
    news: PerSymbol<NewsState>,
}

impl Sentiment {
    /// From a profile.
    pub fn new(profile: &Profile, p: Params) -> Self {
        Sentiment { core: Core::new(profile), p, news: PerSymbol::new(NewsState::default()) }
    }

    /// The price–volume part of the vote.
    pub fn price_sentiment(&self, pc: &Perception<'_>) -> (f64, i8) {
        let f = pc.features;
        let z20 = f.ret20 / (f.sigma * 20f64.sqrt());
        let trend = (f.ema_fast - f.ema_slow) / f.atr;
        let extreme: i8 = if f.rsi > 70.0 && f.mfi > 75.0 {
            1
        } else if f.rsi < 30.0 && f.mfi < 25.0 {
            -1
        } else {
            0
        };
        let mut s = 0.4 * z20.tanh() + 0.3 * trend.tanh() - 0.3 * extreme as f64;
        if f.sigma_long > 0.0 && f.sigma_short / f.sigma_long > self.p.volatile_ratio {
            s *= 0.6;
        }
        (s.clamp(-1.0, 1.0), extreme)
    }
}

impl Analyst for Sentiment {
    fn core(&self) -> &Core {
        &self.core
    }

    fn perceive(&mut self, pc: &Perception<'_>) -> Proposal {
        let f = pc.features;
        let t = f.bar.ts;
        let half = self.p.news_half_life_hours;
        let (s_price, extreme) = if f.count >= 30 { self.price_sentiment(pc) } else { (0.0, 0) };
        let ns = self.news.get(pc.sym);
        let decay = 0.5f64.powf((t - ns.at).max(0) as f64 / NS_PER_HOUR as f64 / half);
        ns.value *= decay;
        ns.at = t;
        let mut writes = Vec::new();
        let mut recall = None;
        for h in pc.news {
            ns.value += h.score;
            let text = format!(
                "news {} {}: {} ({}, sentiment {:+.2})",
                pc.symbol,
                if h.score >= 0.0 { "positive" } else { "negative" },
                h.text,
                h.source,
                h.score
            );
            writes.push(self.core.memory(pc, Kind::News, text, 50.0 + 30.0 * h.score.abs()));
        }
        if !pc.news.is_empty() {
            let mood = if ns.value >= 0.0 { "positive" } else { "negative" };
            recall = Some(self.core.recall_outcomes(format!("news {mood} {}", pc.symbol)));
        }
        if extreme != 0 && extreme != ns.extreme {
            let what = if extreme > 0 { "overbought" } else { "oversold" };
            let text = format!("sentiment {what} {}: rsi {:.0} mfi {:.0}", pc.symbol, f.rsi, f.mfi);
            writes.push(self.core.memory(pc, Kind::Observation, text, 50.0));
            recall.get_or_insert(self.core.recall_outcomes(format!("{what} {}", pc.symbol)));
        }
        ns.extreme = extreme;
        if f.count < 30 && pc.news.is_empty() {
            return Proposal {
                direction: 0.0,
                confidence: 0.0,
                rationale: "sentiment: warming up".into(),
                writes,
                recall,
            };
        }
        let news_on = ns.value.abs() > 0.05;
        let w = self.p.news_weight;
        let s = if news_on { (1.0 - w) * s_price + w * ns.value.tanh() } else { s_price };
        let mut rationale = format!("price sentiment {s_price:+.2}");
        if news_on {
            rationale.push_str(&format!(
                ", news {} {:+.2}",
                if ns.value > 0.0 { "positive" } else { "negative" },
                ns.value
            ));
        }
        match extreme {
            1 => rationale.push_str(", overbought"),
            -1 => rationale.push_str(", oversold"),
            _ => {}
        }
        Proposal { direction: s.clamp(-1.0, 1.0), confidence: s.abs().min(1.0), rationale, writes, recall }
    }
}
