//! Python `str` semantics that IFEval's checks depend on, so that verdicts match the reference
//! bit for bit: `strip()` (Python's whitespace set, which is not Rust's), `isupper()` /
//! `islower()` (cased-character rules, titlecase letters included), and `\w` as Python's `re`
//! defines it (letters and numbers only: combining marks are not word characters there, unlike
//! Rust's `regex`).

use crate::chars::CharClass;

/// Python's `str.isspace()`: Unicode White_Space plus the four information separators
/// U+001C..U+001F, which Python counts as whitespace (bidirectional class B/S) and Rust does not.
pub fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()` with no argument.
pub fn strip(text: &str) -> &str {
    text.trim_matches(is_py_space)
}

/// Python's `str.rstrip()` with no argument.
pub fn rstrip(text: &str) -> &str {
    text.trim_end_matches(is_py_space)
}

/// Python's `str.split()` with no argument: runs of whitespace separate, no empty pieces.
pub fn split_whitespace(text: &str) -> impl Iterator<Item = &str> {
    text.split(is_py_space).filter(|piece| !piece.is_empty())
}

/// Titlecase letters (general category Lt): Python's `isupper()`/`islower()` fail on them.
fn is_titlecase(c: char) -> bool {
    matches!(c,
        '\u{1C5}' | '\u{1C8}' | '\u{1CB}' | '\u{1F2}'
        | '\u{1F88}'..='\u{1F8F}' | '\u{1F98}'..='\u{1F9F}' | '\u{1FA8}'..='\u{1FAF}'
        | '\u{1FBC}' | '\u{1FCC}' | '\u{1FFC}')
}

/// Python's `str.isupper()`: at least one cased character, and every cased one upper case.
pub fn is_upper(text: &str) -> bool {
    let mut cased = false;
    for c in text.chars() {
        if c.is_lowercase() || is_titlecase(c) {
            return false;
        }
        cased |= c.is_uppercase();
    }
    cased
}

/// Python's `str.islower()`: at least one cased character, and every cased one lower case.
pub fn is_lower(text: &str) -> bool {
    let mut cased = false;
    for c in text.chars() {
        if c.is_uppercase() || is_titlecase(c) {
            return false;
        }
        cased |= c.is_lowercase();
    }
    cased
}

/// Python's `str.lower()`; ASCII text takes the fast path.
pub fn lower(text: &str) -> String {
    if text.is_ascii() {
        text.to_ascii_lowercase()
    } else {
        text.to_lowercase()
    }
}

/// Python `re`'s `\w` for one character: letters (L*), numbers (N*) and `_`.
#[inline]
pub fn is_word_char(c: char) -> bool {
    static WORD: CharClass = CharClass::new(r"[\p{L}\p{N}]");
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    WORD.contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_tests_follow_python() {
        assert!(is_upper("HELLO, WORLD 42!"));
        assert!(!is_upper("123 !"));
        assert!(!is_upper("HELLo"));
        assert!(is_lower("hello, world 42!"));
        assert!(!is_lower("ǅ lower"));
        assert!(!is_upper(""));
    }

    #[test]
    fn strip_uses_python_whitespace() {
        assert_eq!(strip("\u{1c} x \u{3000}"), "x");
        assert_eq!(
            split_whitespace(" a \n b\t").collect::<Vec<_>>(),
            ["a", "b"]
        );
    }
}
