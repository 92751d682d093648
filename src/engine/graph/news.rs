//! News routing: at each step, the headlines published since the previous step's close, up
//! to this step's close, go to the bars of the symbols they are tagged with. A headline is
//! handed out once, never before it was published (no look-ahead).

use crate::agents::news::Headline;
use crate::market::Ts;

/// The run's headlines in publication order, and how far they have been handed out.
#[derive(Debug, Clone, Default)]
pub(super) struct NewsRouter {
    news: Vec<Headline>,
    next: usize,
}

impl NewsRouter {
    /// A router over `news` (sorted by publication time, as `agents::news::load` returns).
    pub(super) fn new(news: Vec<Headline>) -> Self {
        NewsRouter { news, next: 0 }
    }

    /// The headlines published up to `close_time` that were not handed out before.
    pub(super) fn fresh(&mut self, close_time: Ts) -> &[Headline] {
        let from = self.next;
        while self.next < self.news.len() && self.news[self.next].ts <= close_time {
            self.next += 1;
        }
        &self.news[from..self.next]
    }
}

/// The headlines of `fresh` tagged with the symbol (lower-cased ticker `lower`).
pub(super) fn for_symbol(fresh: &[Headline], lower: &str) -> Vec<Headline> {
    fresh.iter().filter(|h| h.tickers.iter().any(|t| t == lower)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headline(ts: Ts, tickers: &[&str]) -> Headline {
        Headline {
            ts,
            tickers: tickers.iter().map(|t| t.to_string()).collect(),
            source: "test".into(),
            text: "x".into(),
            score: 0.0,
        }
    }

    #[test]
    fn test_news_router_hands_each_headline_out_once_at_its_time() {
        let mut r = NewsRouter::new(vec![headline(5, &["aapl"]), headline(10, &["msft", "aapl"]), headline(20, &[])]);
        assert!(r.fresh(4).is_empty(), "nothing published yet");
        assert_eq!(r.fresh(10).len(), 2, "published at or before the close");
        assert!(r.fresh(15).is_empty(), "handed out once");
        assert_eq!(r.fresh(100).len(), 1);
        let fresh = [headline(1, &["aapl"]), headline(2, &["msft"])];
        assert_eq!(for_symbol(&fresh, "msft").len(), 1);
        assert!(for_symbol(&fresh, "ibm").is_empty());
    }
}
