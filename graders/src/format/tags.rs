//! Counting a tag's occurrences in a completion, with a substring searcher built once per tag
//! (SIMD `memchr::memmem`). `str::matches` builds a two-way searcher on every call: searches
//! were half the format grader's instructions on R1-length completions.

use std::sync::LazyLock;

use memchr::memmem::Finder;

pub struct Tag {
    pub text: &'static str,
    pub(super) finder: LazyLock<Finder<'static>>,
}

impl Tag {
    /// Non-overlapping occurrences, as Python's `str.count` and `str::matches` count them.
    pub fn count(&self, text: &str) -> usize {
        self.finder.find_iter(text.as_bytes()).count()
    }
}

macro_rules! tag {
    ($text:expr) => {
        crate::format::tags::Tag {
            text: $text,
            finder: std::sync::LazyLock::new(|| memchr::memmem::Finder::new($text)),
        }
    };
}
pub(crate) use tag;
