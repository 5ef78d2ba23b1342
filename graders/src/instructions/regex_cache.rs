//! Compiled regexes for patterns that come from task kwargs (keywords, section splitters,
//! postscript markers), cached per thread: a GRPO batch repeats the same prompt's instructions
//! many times, and compiling a regex costs far more than running it on one response.
//!
//! A client writes these patterns, so the cache is bounded in memory, not only in entries: a
//! case-insensitive `\w{20}` compiles to ~1.2 MB, and 4,096 such entries held gigabytes per
//! grading thread (red team). Each regex is charged the smallest of [`SIZE_TIERS`] its compiled
//! program fits in (the regex crate's `size_limit`) plus its matching cache's cap
//! ([`DFA_CACHE_BYTES`]), and the cache starts over past [`BYTES_KEPT`].

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::Arc;

use regex::{Regex, RegexBuilder};

/// A regex from the cache, shared: a clone of a `Regex` gets a pool of matching caches of its
/// own, and making the first one for each sample's clone (a lazy DFA's, ~36k instructions) was
/// 1.6% of IFEval's grading. Shared, the samples of a thread reuse one.
pub type CachedRegex = Arc<Regex>;

/// Entries kept per thread before the cache starts over.
const CAPACITY: usize = 4096;

/// The compiled size a regex is charged, the smallest it fits in; the last is the regex crate's
/// own limit, so every pattern it compiles by default still compiles.
const SIZE_TIERS: [usize; 3] = [64 << 10, 1 << 20, 10 << 20];

/// The most compiled bytes, as charged, a thread keeps.
const BYTES_KEPT: usize = 32 << 20;

/// The lazy DFA's cache each regex may grow as it matches (the regex crate's default is 2 MiB a
/// regex, which the size tiers do not see: 512 small regexes could have held a gigabyte); past
/// it the crate falls back to its slower engines, with the same matches. Charged to each regex.
const DFA_CACHE_BYTES: usize = 256 << 10;

#[derive(Default)]
struct Cache {
    regexes: HashMap<String, CachedRegex>,
    bytes: usize,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
    /// Regexes this thread has handed out, from the cache or not (see [`handed_out`]).
    static HANDED_OUT: Cell<u64> = const { Cell::new(0) };
}

/// How many regexes [`compile`] has returned on this thread: a caller that keeps what it built
/// (the parsed-task table) compares it before and after, and keeps nothing that holds a regex,
/// whose memory it cannot bound.
pub fn handed_out() -> u64 {
    HANDED_OUT.get()
}

/// The compiled `pattern`, from the cache when possible.
pub fn compile(pattern: &str) -> Result<CachedRegex, regex::Error> {
    HANDED_OUT.set(HANDED_OUT.get() + 1);
    CACHE.with(|cache| {
        if let Some(regex) = cache.borrow().regexes.get(pattern) {
            return Ok(regex.clone());
        }
        let (regex, size) = compile_charged(pattern)?;
        let regex = Arc::new(regex);
        let mut cache = cache.borrow_mut();
        if cache.regexes.len() >= CAPACITY || cache.bytes + size > BYTES_KEPT {
            cache.regexes.clear();
            cache.bytes = 0;
        }
        cache.regexes.insert(pattern.to_string(), regex.clone());
        cache.bytes += size;
        Ok(regex)
    })
}

/// Compiles `pattern` under each size tier in turn; returns it with the tier it fit in.
fn compile_charged(pattern: &str) -> Result<(Regex, usize), regex::Error> {
    let mut last = None;
    for limit in SIZE_TIERS {
        let built = RegexBuilder::new(pattern)
            .size_limit(limit)
            .dfa_size_limit(DFA_CACHE_BYTES)
            .build();
        match built {
            Ok(regex) => return Ok((regex, limit + DFA_CACHE_BYTES)),
            Err(err @ regex::Error::CompiledTooBig(_)) => last = Some(err),
            Err(err) => return Err(err),
        }
    }
    Err(last.expect("at least one tier"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexes_are_charged_by_compiled_size_and_the_cache_stays_in_budget() {
        let (_, small) = compile_charged("(?i)hello").unwrap();
        assert_eq!(small, SIZE_TIERS[0] + DFA_CACHE_BYTES);
        let (_, large) = compile_charged(r"(?i)\w{20}").unwrap();
        assert!(large > SIZE_TIERS[0] + DFA_CACHE_BYTES, "{large}");
        for n in 0..64 {
            let regex = compile(&format!(r"(?i)\w{{20}}x{n}")).unwrap();
            assert!(regex.is_match(&format!("{}x{n}", "a".repeat(20))));
            CACHE.with_borrow(|cache| assert!(cache.bytes <= BYTES_KEPT, "{}", cache.bytes));
        }
        let before = handed_out();
        let first = compile("(?i)hello").unwrap();
        let again = compile("(?i)hello").unwrap();
        assert_eq!(handed_out(), before + 2);
        assert_eq!(first.as_str(), again.as_str());
        assert!(compile("(unclosed").is_err());
    }
}
