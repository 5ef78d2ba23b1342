//! Compiled regexes for patterns that come from task kwargs (keywords, section splitters,
//! postscript markers), cached per thread: a GRPO batch repeats the same prompt's instructions
//! many times, and compiling a regex costs far more than running it on one response.

use std::cell::RefCell;
use std::collections::HashMap;

use regex::Regex;

/// Entries kept per thread before the cache starts over (bounds memory on adversarial input).
const CAPACITY: usize = 4096;

thread_local! {
    static CACHE: RefCell<HashMap<String, Regex>> = RefCell::new(HashMap::new());
}

/// The compiled `pattern`, from the cache when possible.
pub fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    CACHE.with(|cache| {
        if let Some(regex) = cache.borrow().get(pattern) {
            return Ok(regex.clone());
        }
        let regex = Regex::new(pattern)?;
        let mut cache = cache.borrow_mut();
        if cache.len() >= CAPACITY {
            cache.clear();
        }
        cache.insert(pattern.to_string(), regex.clone());
        Ok(regex)
    })
}
