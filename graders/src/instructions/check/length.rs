//! `length_constraints:*`: words are runs of Python's `\w`, sentences are NLTK Punkt's,
//! paragraphs are separated by `***` (number_paragraphs) or by a blank line
//! (nth_paragraph_first_word), exactly as the reference splits them.

use std::sync::OnceLock;

use regex::Regex;

use crate::instructions::{punkt, pystr};

/// `len(re.findall(r"\w+", text))` with Python's `\w` (hand-rolled: a Unicode-class regex
/// was the slowest part of this check).
pub fn word_count(text: &str) -> i64 {
    let mut words = 0;
    let mut in_word = false;
    for c in text.chars() {
        let word_char = pystr::is_word_char(c);
        if word_char && !in_word {
            words += 1;
        }
        in_word = word_char;
    }
    words
}

/// Number of Punkt sentences.
pub fn sentence_count(text: &str) -> i64 {
    punkt::sentence_spans(text).len() as i64
}

/// Paragraphs split by `\s?\*\*\*\s?`; `None` when an empty paragraph sits between two others
/// (the reference then fails the check whatever the count).
pub fn star_paragraphs(text: &str) -> Option<i64> {
    static SEPARATOR: OnceLock<Regex> = OnceLock::new();
    let separator = SEPARATOR.get_or_init(|| Regex::new(r"\s?\*\*\*\s?").expect("valid regex"));
    let parts: Vec<&str> = separator.split(text).collect();
    let mut count = parts.len() as i64;
    for (index, part) in parts.iter().enumerate() {
        if pystr::strip(part).is_empty() {
            if index == 0 || index == parts.len() - 1 {
                count -= 1;
            } else {
                return None;
            }
        }
    }
    Some(count)
}

/// `length_constraints:nth_paragraph_first_word`: paragraphs split on "\n\n"; the count of
/// non-blank ones must equal `paragraphs`, and the first word of `parts[nth - 1]` (the raw
/// list, blanks included, Python indexing) must be `first_word`.
pub fn nth_paragraph_first_word(text: &str, paragraphs: i64, nth: i64, first_word: &str) -> bool {
    let parts: Vec<&str> = text.split("\n\n").collect();
    let non_blank = parts.iter().filter(|p| !pystr::strip(p).is_empty()).count() as i64;
    if nth > non_blank {
        return false;
    }
    // Python's negative indexing for nth <= 0; beyond that the reference raises IndexError.
    let index = if nth - 1 < 0 {
        nth - 1 + parts.len() as i64
    } else {
        nth - 1
    };
    let Some(paragraph) = usize::try_from(index).ok().and_then(|i| parts.get(i)) else {
        return false;
    };
    let paragraph = pystr::strip(paragraph);
    let Some(word) = pystr::split_whitespace(paragraph).next() else {
        return false;
    };
    let word = word.trim_start_matches('\'').trim_start_matches('"');
    let found: String = word
        .chars()
        .take_while(|c| !matches!(c, '.' | ',' | '?' | '!' | '\'' | '"'))
        .collect();
    non_blank == paragraphs && pystr::lower(&found) == first_word
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_like_the_reference() {
        assert_eq!(word_count("don't stop"), 3);
        assert_eq!(word_count("state-of-the-art"), 4);
        assert_eq!(word_count("你好世界，很好"), 2);
        assert_eq!(star_paragraphs("a *** b"), Some(2));
        assert_eq!(star_paragraphs("*** a *** b ***"), Some(2));
        assert_eq!(star_paragraphs("a *** *** b"), None);
        assert!(nth_paragraph_first_word(
            "One.\n\n\"Two, three\n\nfour",
            3,
            2,
            "two"
        ));
        assert!(!nth_paragraph_first_word("**Two**\n\nb", 2, 1, "two"));
    }
}
