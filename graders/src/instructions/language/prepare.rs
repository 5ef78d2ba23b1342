//! What langdetect reads of a text: `Detector.append` (URLs and e-mail addresses replaced by a
//! space, Vietnamese letters and marks composed, the first 10,000 characters, runs of spaces
//! collapsed) and `Detector.cleaning_text` (Latin letters dropped from a mostly non-Latin
//! text), without copying the text when none of the replacements applies.
//!
//! The copy the crate makes (`langdetect::text::prepare` and `clean`) was a tenth of the
//! language check's time. Two of its steps need no copy: collapsing spaces changes no n-gram
//! (`NGram` skips a space after a space), and dropping letters is done as the n-grams are read
//! ([`Prepared::drops_latin`]). The rest, rare in answers, is left to the crate.

use std::borrow::Cow;

/// The characters langdetect reads of a text (`Detector.max_text_length`).
const MAX_TEXT_LENGTH: usize = 10_000;

/// A text as langdetect reads it, spaces not collapsed.
pub struct Prepared<'a> {
    text: Cow<'a, str>,
    /// Whether `cleaning_text` drops the Latin letters (`'A'..='z'`).
    pub drops_latin: bool,
}

impl Prepared<'_> {
    pub fn text(&self) -> &str {
        &self.text
    }
}

pub fn prepare(text: &str) -> Prepared<'_> {
    let text = if needs_replacing(text) {
        // The crate's steps, which also cut the text and collapse its spaces.
        Cow::Owned(langdetect::text::prepare(text, MAX_TEXT_LENGTH as i64))
    } else {
        Cow::Borrowed(first_chars(text, MAX_TEXT_LENGTH))
    };
    let drops_latin = mostly_non_latin(text.as_bytes());
    Prepared { text, drops_latin }
}

/// Whether `Detector.append` would change the text other than by cutting it and collapsing
/// its spaces: a URL (`http`), an e-mail address (`@`), or a combining mark that
/// `normalize_vi` may compose with the letter before it (U+0300, U+0301, U+0303, U+0309,
/// U+0323: `CC 80`, `CC 81`, `CC 83`, `CC 89`, `CC A3` in UTF-8).
fn needs_replacing(text: &str) -> bool {
    let bytes = text.as_bytes();
    memchr::memmem::find(bytes, b"http").is_some()
        || memchr::memchr(b'@', bytes).is_some()
        || memchr::memchr_iter(0xcc, bytes)
            .any(|at| matches!(bytes.get(at + 1), Some(0x80 | 0x81 | 0x83 | 0x89 | 0xa3)))
}

/// The first `n` characters of `text`.
fn first_chars(text: &str, n: usize) -> &str {
    if text.len() <= n {
        return text; // At most one character a byte.
    }
    text.char_indices()
        .nth(n)
        .map_or(text, |(at, _)| &text[..at])
}

/// `cleaning_text`'s test: fewer than half as many Latin letters (`'A'..='z'`, which holds
/// `[\]^_` and the backquote too) as characters from U+0300 on. Those are exactly the UTF-8
/// sequences led by a byte from `0xCC` on (`CC 80` is U+0300), so bytes are counted.
///
/// Both counts are taken in one pass, in byte-wide lanes that the compiler vectorises (at
/// most 255 bytes a lane before it is added up): as two `filter().count()`s they were 0.7% of
/// IFEval's grading instructions.
fn mostly_non_latin(bytes: &[u8]) -> bool {
    let (mut latin, mut non_latin) = (0usize, 0usize);
    for chunk in bytes.chunks(255) {
        let (mut l, mut n) = (0u8, 0u8);
        for &b in chunk {
            l += u8::from(b.wrapping_sub(b'A') <= b'z' - b'A');
            n += u8::from(b >= 0xcc);
        }
        latin += usize::from(l);
        non_latin += usize::from(n);
    }
    latin * 2 < non_latin
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The crate's steps, with the spaces collapsed again (dropping letters can leave two).
    fn crates(text: &str) -> String {
        let prepared = langdetect::text::prepare(text, MAX_TEXT_LENGTH as i64);
        let cleaned = langdetect::text::clean(&prepared).unwrap_or(prepared);
        langdetect::text::truncate(&cleaned, i64::MAX)
    }

    /// Ours, with the spaces collapsed and the Latin letters dropped as the n-grams are read.
    fn ours(text: &str) -> String {
        let prepared = prepare(text);
        let kept = prepared
            .text()
            .chars()
            .filter(|c| !(prepared.drops_latin && ('A'..='z').contains(c)));
        langdetect::text::truncate(&kept.collect::<String>(), i64::MAX)
    }

    #[test]
    fn reads_what_the_crate_reads() {
        let long_latin = format!("{}Привет мир", "ab  ".repeat(3_000));
        let long_cyrillic = format!("{}abc", "Привет  ".repeat(2_000));
        for text in [
            "plain  English   text",
            "see https://example.org/a  now",
            "mail a.b@c.de ok",
            "Tiếng Việt: a\u{301} e\u{323} o\u{309}",
            "x\u{301} and \u{300} alone",
            "Это предложение на русском языке, with a few English words [ok]",
            "a Это b",
            "Это_[x]`",
            long_latin.as_str(),
            long_cyrillic.as_str(),
            "",
            "   ",
            "@",
            "Ꙁ`z{",
        ] {
            assert_eq!(ours(text), crates(text), "{text:?}");
        }
    }
}
