//! `change_case:*` and the language tests they share: all-caps / all-lowercase English (Python's
//! `isupper`/`islower`, then langdetect), and the count of all-caps NLTK word tokens.

use crate::instructions::{language, pystr, treebank};

/// Tokens of `nltk.word_tokenize(text)` for which `isupper()` holds.
pub fn capital_words(text: &str) -> i64 {
    treebank::word_tokenize(text)
        .iter()
        .filter(|word| pystr::is_upper(word))
        .count() as i64
}

/// `text.isupper() and detect(text) == "en"`; a failed detection counts as followed.
pub fn english_capital(text: &str) -> bool {
    pystr::is_upper(text) && language::is_language(text, "en")
}

/// `text.islower() and detect(text) == "en"`; a failed detection counts as followed.
pub fn english_lowercase(text: &str) -> bool {
    pystr::is_lower(text) && language::is_language(text, "en")
}
