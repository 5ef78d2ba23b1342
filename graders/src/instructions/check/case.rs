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
        count += sentence_capital_words(sentence);
    }
    Some(count)
}

/// One sentence's capital words, counted word by word when the tokenizer would keep each
/// cased word whole, and by tokenizing the sentence otherwise.
///
/// The tokenizer only inserts spaces and turns `"` into uncased quote tokens, and the only
/// rules that can cut a run of letters are the contractions below (`CANNOT` is `CAN`, `NOT`),
/// so a word of ASCII letters without one of them is a token as it stands, and a word with no
/// upper-case letter can only give tokens that are not upper case. Most sentences of prose are
/// such words, and the tokenizer's 33 substitutions were 18% of IFEval's grading time; tests
/// hold the two ways equal (`the_word_by_word_count_is_the_tokenizers`).
fn sentence_capital_words(sentence: &str) -> i64 {
    let mut count = 0;
    for word in pystr::split_whitespace(sentence) {
        if !word.chars().any(char::is_uppercase) {
            continue;
        }
        if word.bytes().all(|b| b.is_ascii_alphabetic()) && !has_contraction_stem(word) {
            count += i64::from(pystr::is_upper(word));
            continue;
        }
        return tokenized_capital_words(sentence);
    }
    count
}

/// `[t for t in nltk.word_tokenize(sentence) if t.isupper()]`, counted.
fn tokenized_capital_words(sentence: &str) -> i64 {
    treebank::tokenize_sentence(sentence)
        .into_iter()
        .filter(|word| pystr::is_upper(word))
        .count() as i64
}

/// Whether a word of ASCII letters holds one of the Treebank contractions that split letters
/// from letters (`can|not`, `gim|me`, `gon|na`, `got|ta`, `lem|me`, `wan|na`; the others need
/// an apostrophe), in any case.
fn has_contraction_stem(word: &str) -> bool {
    const STEMS: [&[u8]; 6] = [b"cannot", b"gimme", b"gonna", b"gotta", b"lemme", b"wanna"];
    let word = word.as_bytes();
    STEMS.iter().any(|stem| {
        word.windows(stem.len())
            .any(|window| window.eq_ignore_ascii_case(stem))
    })
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

    #[test]
    fn the_word_by_word_count_is_the_tokenizers() {
        // Words the tokenizer cuts or keeps, in every case, stitched into sentences.
        let words = [
            "I",
            "A",
            "a",
            "USA",
            "Usa",
            "usa",
            "CANNOT",
            "Cannot",
            "cannot",
            "CANnot",
            "GONNA",
            "Gonna",
            "WANNA",
            "gimme",
            "LEMME",
            "GOTTA",
            "DON'T",
            "don't",
            "USA's",
            "'TIS",
            "'Twas",
            "MORE'N",
            "D'YE",
            "U.S.A.",
            "HELLO,",
            "WORLD.",
            "\"QUOTED\"",
            "(NOTE)",
            "--",
            "...",
            "«ÉCOLE»",
            "ÉCOLE",
            "École",
            "ǅUNGLA",
            "ǅ",
            "ΣΟΦΙΑ",
            "Σοφια",
            "COVID19",
            "A1",
            "x",
            ",",
            "'",
            "'S",
            "AT&T",
            "#TAG",
            "?!",
            "“WOW”",
            "‘OK’",
            "O'NEIL",
            "o'neil",
            "can",
            "NOT",
            "wan",
            "NA",
            "IT'S",
            "THEY'LL",
            "WE'RE",
            "I'M",
            "-",
            "—",
            "CAN-NOT",
        ];
        let mut random = crate::xorshift::Xorshift::new(0x9e37_79b9_7f4a_7c15);
        let mut quick = 0;
        for _ in 0..20_000 {
            let length = 1 + random.below(8);
            let sentence: Vec<&str> = (0..length)
                .map(|_| words[random.below(words.len())])
                .collect();
            let sentence = sentence.join(if random.below(5) == 0 { "  " } else { " " });
            let expected = tokenized_capital_words(&sentence);
            assert_eq!(sentence_capital_words(&sentence), expected, "{sentence:?}");
            quick += usize::from(pystr::split_whitespace(&sentence).all(|w| {
                !w.chars().any(char::is_uppercase)
                    || (w.bytes().all(|b| b.is_ascii_alphabetic()) && !has_contraction_stem(w))
            }));
        }
        // Both ways well represented, or the comparison says little.
        assert!(
            quick > 1_000 && quick < 19_000,
            "{quick} of 20000 counted word by word"
        );
    }

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
