//! `change_case:*` and the language tests they share: all-caps / all-lowercase English (Python's
//! `isupper`/`islower`, then langdetect), and the count of all-caps NLTK word tokens.

use crate::instructions::{language, punkt, pystr, treebank};

/// Tokens of `nltk.word_tokenize(text)` for which `isupper()` holds.
///
/// Tokens are pieces of their sentence (plus the uncased quote tokens the tokenizer inserts), so
/// a sentence with no upper-case letter has no upper-case token and is not tokenized at all.
///
/// `stop` is asked every [`SENTENCES_PER_STOP_CHECK`] sentences (`None` once it says stop): the
/// tokenizer costs ~6 µs even for a two-letter sentence, so a megabyte of `A. B. ` took 2 s and
/// ran past a 200 ms deadline to a normal score (red team).
pub fn capital_words_until(text: &str, stop: &dyn Fn() -> bool) -> Option<i64> {
    let mut count = 0;
    let cased = punkt::sentences(text)
        .into_iter()
        .filter(|sentence| sentence.chars().any(char::is_uppercase));
    for (i, sentence) in cased.enumerate() {
        if i % SENTENCES_PER_STOP_CHECK == 0 && stop() {
            return None;
        }
        count += treebank::tokenize_sentence(sentence)
            .into_iter()
            .filter(|word| pystr::is_upper(word))
            .count() as i64;
    }
    Some(count)
}

/// Sentences tokenized between two asks of the deadline (about a millisecond of them).
const SENTENCES_PER_STOP_CHECK: usize = 128;

/// `text.isupper() and detect(text) == "en"`; a failed detection counts as followed.
pub fn english_capital(text: &str) -> bool {
    pystr::is_upper(text) && language::is_language(text, "en")
}

/// `text.islower() and detect(text) == "en"`; a failed detection counts as followed.
pub fn english_lowercase(text: &str) -> bool {
    pystr::is_lower(text) && language::is_language(text, "en")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// Counting capital words tokenizes every sentence (~6 µs even for `A.`), so a megabyte of
    /// `A. B. ` under a 200 ms deadline came back `correct` after 2.2 s (red team). The count
    /// asks the deadline every [`SENTENCES_PER_STOP_CHECK`] sentences.
    #[test]
    fn the_count_asks_the_deadline_as_it_goes() {
        let text = "A. B. ".repeat(1000);
        assert_eq!(capital_words_until(&text, &|| false), Some(2000));
        let asked = Cell::new(0);
        let stop_on_the_second_ask = || {
            asked.set(asked.get() + 1);
            asked.get() > 1
        };
        assert_eq!(capital_words_until(&text, &stop_on_the_second_ask), None);
        assert_eq!(
            asked.get(),
            2,
            "asked once per {SENTENCES_PER_STOP_CHECK} sentences"
        );
    }
}
