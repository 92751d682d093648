//! The text analyzer: how item texts and query texts become terms, shared by tantivy's
//! indexing threads (as the `quorum` tokenizer), the searchable tail and queries, so all
//! three agree on every term.

use rustc_hash::{FxHashMap, FxHasher};
use std::hash::Hasher;
use tantivy::tokenizer::{Language, RawTokenizer, Stemmer, TextAnalyzer, Token, TokenStream, Tokenizer};
/// The text analyzer: words (runs of alphanumeric characters, as tantivy's
/// `SimpleTokenizer`), longer than 40 bytes dropped, lower-cased, English Snowball stems.
///
/// Stemming is the dearest step (~0.3 µs a word with tantivy's `Stemmer`) and memories
/// reuse a small vocabulary, so each analyzer (the publishing thread's, and one per tantivy
/// indexing thread, registered as the `quorum` tokenizer) caches its stems in a private
/// map: no locks. ASCII text (the common case) is scanned as bytes. Measured on 50k
/// synthetic items: tantivy's own `en_stem` indexed 118–146k docs/s on one thread; handing
/// tantivy pre-tokenized text was slower still (it round-trips tokens through JSON). See
/// benches/memory_insert.rs for the whole insert path.
pub(crate) struct Analyzer {
    stemmer: TextAnalyzer,
    /// Lower-cased word -> (stem, the stem's [`term_key`]).
    cache: FxHashMap<Box<str>, (Box<str>, u64)>,
    lower: String,
    /// A document's term keys before they are sorted and counted (reused).
    keys: Vec<u64>,
}

impl Clone for Analyzer {
    fn clone(&self) -> Self {
        Analyzer { stemmer: self.stemmer.clone(), cache: FxHashMap::default(), lower: String::new(), keys: Vec::new() }
    }
}

impl Default for Analyzer {
    fn default() -> Self {
        Analyzer {
            stemmer: TextAnalyzer::builder(RawTokenizer::default()).filter(Stemmer::new(Language::English)).build(),
            cache: FxHashMap::default(),
            lower: String::new(),
            keys: Vec::new(),
        }
    }
}

impl Analyzer {
    /// Calls `f(stem, from, to)` for each word of `text`, in order.
    pub(crate) fn each_term(&mut self, text: &str, mut f: impl FnMut(&str, usize, usize)) {
        self.each_keyed_term(text, |stem, _, from, to| f(stem, from, to));
    }

    /// Calls `f(stem, term_key(stem), from, to)` for each word of `text`, in order.
    pub(crate) fn each_keyed_term(&mut self, text: &str, mut f: impl FnMut(&str, u64, usize, usize)) {
        let bytes = text.as_bytes();
        let ascii = text.is_ascii();
        let mut i = 0;
        while i < bytes.len() {
            // Find the next word: [from, to).
            let (from, to) = if ascii {
                while i < bytes.len() && !bytes[i].is_ascii_alphanumeric() {
                    i += 1;
                }
                let from = i;
                while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                    i += 1;
                }
                (from, i)
            } else {
                let rest = &text[i..];
                let Some(off) = rest.find(|c: char| c.is_alphanumeric()) else { break };
                let from = i + off;
                let len = text[from..].find(|c: char| !c.is_alphanumeric()).unwrap_or(text.len() - from);
                i = from + len;
                (from, i)
            };
            if from == to || to - from > 40 {
                continue;
            }
            self.lower.clear();
            if ascii {
                self.lower.push_str(&text[from..to]);
                self.lower.make_ascii_lowercase();
            } else {
                for c in text[from..to].chars() {
                    self.lower.extend(c.to_lowercase());
                }
            }
            if let Some((stem, key)) = self.cache.get(self.lower.as_str()) {
                f(stem, *key, from, to);
                continue;
            }
            let mut st = self.stemmer.token_stream(&self.lower);
            let stem: Box<str> = if st.advance() { st.token().text.as_str().into() } else { "".into() };
            drop(st);
            let key = term_key(&stem);
            f(&stem, key, from, to);
            if self.cache.len() >= 200_000 {
                self.cache.clear();
            }
            self.cache.insert(self.lower.as_str().into(), (stem, key));
        }
    }

    /// The tokens of `text` (stemmed terms with positions and offsets), for tests.
    #[cfg(test)]
    pub(crate) fn tokens(&mut self, text: &str) -> Vec<Token> {
        let mut out: Vec<Token> = Vec::new();
        self.each_term(text, |stem, from, to| {
            let position = out.len();
            out.push(Token { offset_from: from, offset_to: to, position, text: stem.to_string(), position_length: 1 });
        });
        out
    }

    /// Term keys with frequencies (sorted by key) and the token count, for tail documents.
    /// Appends them to `keys` and `tfs` (one entry per distinct term) and returns the count.
    pub(crate) fn term_keys_into(&mut self, text: &str, keys: &mut Vec<u64>, tfs: &mut Vec<u32>) -> u32 {
        let mut all = std::mem::take(&mut self.keys);
        all.clear();
        self.each_keyed_term(text, |_, key, _, _| all.push(key));
        all.sort_unstable();
        let start = keys.len();
        for &k in &all {
            match (keys[start..].last(), tfs.last_mut()) {
                (Some(&last), Some(n)) if last == k => *n += 1,
                _ => {
                    keys.push(k);
                    tfs.push(1);
                }
            }
        }
        let len = all.len() as u32;
        self.keys = all;
        len
    }

    /// Distinct stemmed terms of a query text, in order of first appearance.
    pub(crate) fn query_terms(&mut self, text: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        self.each_term(text, |stem, _, _| {
            if !out.iter().any(|t| t == stem) {
                out.push(stem.to_string());
            }
        });
        out
    }
}

/// [`Analyzer`] as a tantivy tokenizer.
///
/// Its tokens live in a buffer reused from text to text (strings included): a fresh
/// `Vec<Token>` and a `String` per token were ~3% of inserting.
#[derive(Clone, Default)]
pub(crate) struct QuorumTokenizer {
    analyzer: Analyzer,
    buf: Vec<Token>,
}

impl QuorumTokenizer {
    /// A tokenizer sharing `analyzer`'s stem cache.
    pub(crate) fn new(analyzer: &Analyzer) -> Self {
        QuorumTokenizer { analyzer: analyzer.clone(), buf: Vec::new() }
    }
}

/// The tokens of one text, handed out one by one.
pub(crate) struct VecTokenStream<'a> {
    tokens: &'a mut [Token],
    next: usize,
}

impl TokenStream for VecTokenStream<'_> {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }
    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

impl Tokenizer for QuorumTokenizer {
    type TokenStream<'a> = VecTokenStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream<'a> {
        let buf = &mut self.buf;
        let mut n = 0;
        self.analyzer.each_term(text, |stem, from, to| {
            if n == buf.len() {
                buf.push(Token::default());
            }
            let t = &mut buf[n];
            t.offset_from = from;
            t.offset_to = to;
            t.position = n;
            t.position_length = 1;
            t.text.clear();
            t.text.push_str(stem);
            n += 1;
        });
        VecTokenStream { tokens: &mut buf[..n], next: 0 }
    }
}

/// The 64-bit key of a term in tail documents.
#[inline]
pub(crate) fn term_key(term: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(term.as_bytes());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_analyzer_words_lowercase_stems_and_long_words() {
        let mut a = Analyzer::default();
        let long = "x".repeat(41);
        let toks: Vec<String> = a
            .tokens(&format!("Springs RECLAIMED support, {long} volume-spikes!"))
            .into_iter()
            .map(|t| t.text)
            .collect();
        assert_eq!(toks, vec!["spring", "reclaim", "support", "volum", "spike"]);
        // Non-ASCII text takes the char path and agrees on the ASCII words.
        let uni: Vec<String> = a.tokens("Springs — reclaimed · Überprüfung").into_iter().map(|t| t.text).collect();
        assert_eq!(&uni[..2], &["spring", "reclaim"]);
        assert_eq!(uni.len(), 3);
        assert_eq!(a.query_terms("spring springs Spring"), vec!["spring".to_string()]);
        let (mut keys, mut tfs) = (vec![7], vec![9]);
        let len = a.term_keys_into("spring springs tape", &mut keys, &mut tfs);
        assert_eq!(len, 3);
        assert_eq!((keys[0], tfs[0]), (7, 9), "appends");
        assert_eq!(tfs[1..].iter().sum::<u32>(), 3);
        assert!(keys[1..].is_sorted());
        let spring = keys.iter().position(|&k| k == term_key("spring")).unwrap();
        assert_eq!(tfs[spring], 2);
    }
}
