//! Byte searches for the extractor: scans for a class of bytes that test blocks of 32 bytes
//! without branching (which the compiler vectorises), fixed patterns found through one chosen
//! byte, and searches that remember their last answer so that many forward queries over a
//! text cost one pass.
//!
//! Why not the `memchr` crate: measured in its place (`cargo bench -p graders --bench math`),
//! it gave the same cases/s but a worse worst hostile input (5.2–5.5 ms against 4.6 ms), likely
//! because most searches here end within a few bytes, which `find_first` tests one by one.

/// `haystack.starts_with(prefix)` for the short patterns here, compared inline (the slice method
/// calls `memcmp`, which costs more than the comparison when it runs once per delimiter).
#[inline(always)]
pub(super) fn has_prefix(haystack: &[u8], prefix: &[u8]) -> bool {
    haystack.len() >= prefix.len() && haystack.iter().zip(prefix).all(|(a, b)| a == b)
}

/// The first occurrence of `pattern` starting at or after `from`. `pattern[key]` is the byte
/// searched for (pick a rare one); the rest is compared at each hit.
pub(super) fn find_pattern(bytes: &[u8], from: usize, pattern: &[u8], key: usize) -> Option<usize> {
    let wanted = pattern[key];
    let mut i = from + key;
    loop {
        let hit = find_byte(bytes, i, wanted)?;
        let start = hit - key;
        if has_prefix(&bytes[start..], pattern) {
            return Some(start);
        }
        i = hit + 1;
    }
}

/// The last occurrence of `pattern`, found from its last byte backwards.
pub(super) fn rfind_pattern(bytes: &[u8], pattern: &[u8]) -> Option<usize> {
    let last = *pattern.last()?;
    let mut end = bytes.len();
    loop {
        let hit = find_last_byte(bytes, end, last)?;
        if let Some(start) = (hit + 1).checked_sub(pattern.len()) {
            if has_prefix(&bytes[start..], pattern) {
                return Some(start);
            }
        }
        end = hit;
    }
}

/// The first index at or after `from` whose byte satisfies `hit`. The next few bytes are tested
/// one by one (hits are often near); then 32 bytes at a time, without branching, which the
/// compiler vectorises, so long runs without a hit cost a few cycles per block.
#[inline(always)]
pub(super) fn find_first(bytes: &[u8], from: usize, hit: impl Fn(u8) -> bool) -> Option<usize> {
    let near = bytes.len().min(from.saturating_add(16));
    let mut i = from;
    while i < near {
        if hit(bytes[i]) {
            return Some(i);
        }
        i += 1;
    }
    while let Some(block) = bytes.get(i..i + 32) {
        let Ok(block) = <&[u8; 32]>::try_from(block) else {
            break;
        };
        if block.iter().fold(0u8, |any, &b| any | u8::from(hit(b))) != 0 {
            break;
        }
        i += 32;
    }
    bytes.get(i..)?.iter().position(|&b| hit(b)).map(|p| i + p)
}

/// The next occurrence of a fixed pattern at or after a position, remembered: queries that move
/// forward reuse the last answer while it is still ahead, so many queries cost one pass.
pub(super) struct NextFinder {
    pattern: &'static [u8],
    /// The byte of the pattern searched for (the rarest in text that matters here); the rest
    /// is compared at each hit.
    key: usize,
    /// The last search started here (`usize::MAX`: none yet) ...
    searched_from: usize,
    /// ... and found this (`None`: no occurrence at or after `searched_from`).
    found: Option<usize>,
}

impl NextFinder {
    pub(super) fn new(pattern: &'static str, key: usize) -> NextFinder {
        NextFinder {
            pattern: pattern.as_bytes(),
            key,
            searched_from: usize::MAX,
            found: None,
        }
    }

    /// The first occurrence at or after `from`.
    pub(super) fn at(&mut self, text: &str, from: usize) -> Option<usize> {
        let still_valid = self.searched_from <= from && self.found.is_none_or(|f| f >= from);
        if !still_valid {
            self.searched_from = from;
            self.found = find_pattern(text.as_bytes(), from, self.pattern, self.key);
        }
        self.found
    }
}

// The searches the scanners use, each a small function of its own: the test closure is then
// inlined into the loop (and the block test vectorised) whatever the size of the caller, which
// is not so when `find_first` is inlined into a large function directly.

pub(super) fn find_byte(bytes: &[u8], from: usize, a: u8) -> Option<usize> {
    find_first(bytes, from, |x| x == a)
}

pub(super) fn find_pair(bytes: &[u8], from: usize, a: u8, b: u8) -> Option<usize> {
    find_first(bytes, from, |x| x == a || x == b)
}

pub(super) fn find_triple(bytes: &[u8], from: usize, a: u8, b: u8, c: u8) -> Option<usize> {
    find_first(bytes, from, |x| x == a || x == b || x == c)
}

pub(super) fn find_digit(bytes: &[u8], from: usize) -> Option<usize> {
    find_first(bytes, from, |x| x.is_ascii_digit())
}

pub(super) fn find_last_byte(bytes: &[u8], end: usize, a: u8) -> Option<usize> {
    find_last(bytes, end, |x| x == a)
}

/// The last index before `end` whose byte satisfies `hit`, 32 bytes at a time as in
/// [`find_first`].
#[inline(always)]
pub(super) fn find_last(bytes: &[u8], end: usize, hit: impl Fn(u8) -> bool) -> Option<usize> {
    let mut i = end.min(bytes.len());
    while i >= 32 {
        let Ok(block) = <&[u8; 32]>::try_from(&bytes[i - 32..i]) else {
            break;
        };
        if block.iter().fold(0u8, |any, &b| any | u8::from(hit(b))) != 0 {
            break;
        }
        i -= 32;
    }
    bytes[..i].iter().rposition(|&b| hit(b))
}

/// The largest char boundary at or below `i`.
pub(super) fn floor_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Where `needle` (ASCII) first occurs in `haystack`, ignoring ASCII case.
pub(super) fn find_ascii_case_insensitive(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    (0..h.len().saturating_sub(n.len() - 1)).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}
