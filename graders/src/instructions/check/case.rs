//! `change_case:*` and the language tests they share: all-caps / all-lowercase English (Python's
//! `isupper`/`islower`, then langdetect), and the count of all-caps NLTK word tokens.

use crate::instructions::{language, punkt, pystr, treebank};

/// Tokens of `nltk.word_tokenize(text)` for which `isupper()` holds.
///
/// Tokens are pieces of their sentence (plus the uncased quote tokens the tokenizer inserts), so
/// a sentence with no upper-case letter has no upper-case token and is not tokenized at all.
pub fn capital_words(text: &str) -> i64 {
    punkt::sentences(text)
        .into_iter()
        .filter(|sentence| sentence.chars().any(char::is_uppercase))
        .flat_map(treebank::tokenize_sentence)
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
