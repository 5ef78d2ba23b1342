//! NLTK's `word_tokenize` for English: Punkt sentences, each split by `NLTKWordTokenizer` (the
//! improved Treebank tokenizer), which IFEval's `capital_word_frequency` counts.
//!
//! The Treebank tokenizer is a fixed list of regex substitutions, reproduced in NLTK's order
//! (`tokenize` without parenthesis conversion). All but one run on the `regex` crate: Python's
//! `$` (end, or before a final newline) is written `\n?\z` inside a look-ahead-free form, and the
//! one look-behind/look-ahead step (a quote that opens a word) is hand-written
//! ([`split_opening_quotes`]); a backtracking regex engine made this check 100x slower.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::Regex;

use super::punkt;
use super::pystr::{is_word_char, split_whitespace};

/// One substitution step: pattern and replacement (`${n}` groups).
struct Step {
    pattern: Regex,
    replacement: &'static str,
}

fn step(pattern: &str, replacement: &'static str) -> Step {
    Step {
        pattern: Regex::new(pattern).expect("Treebank regex is valid"),
        replacement,
    }
}

/// STARTING_QUOTES before the look-around step.
fn starting_quotes() -> &'static [Step] {
    static STEPS: OnceLock<Vec<Step>> = OnceLock::new();
    STEPS.get_or_init(|| {
        vec![
            step(r"([«“‘„]|[`]+)", " ${1} "),
            step(r#"^""#, "``"),
            step(r"(``)", " ${1} "),
            step(r#"([ \(\[{<])("|'{2})"#, "${1} `` "),
        ]
    })
}

/// PUNCTUATION, PARENS_BRACKETS and DOUBLE_DASHES. Python's `*+` (possessive) before `\s*$`
/// gives the same matches as a greedy `*` there, and `\s*$` as Rust's `\s*\z`; `([:,])$` may
/// match before a final newline, which the replacement then keeps.
fn punctuation() -> &'static [Step] {
    static STEPS: OnceLock<Vec<Step>> = OnceLock::new();
    STEPS.get_or_init(|| {
        vec![
            step(r#"([^\.])(\.)([\]\)}>"'»”’ ]*)\s*\z"#, "${1} ${2} ${3} "),
            step(r"([:,])([^\d])", " ${1} ${2}"),
            step(r"([:,])(\n?)\z", " ${1} ${2}"),
            step(r"\.{2,}", " ${0} "),
            step(r"[;@#$%&]", " ${0} "),
            step(r"[\x{2012}-\x{2015}]", " ${0} "),
            step(r#"([^\.])(\.)([\]\)}>"']*)\s*\z"#, "${1} ${2}${3} "),
            step(r"[?!]", " ${0} "),
            step(r"([^'])' ", "${1} ' "),
            step(r"[*]", " ${0} "),
            step(r"[\]\[(){}<>]", " ${0} "),
            step(r"--", " -- "),
        ]
    })
}

/// ENDING_QUOTES and the contractions, applied after padding with spaces. `(?=\s)` after
/// "wanna" becomes a consumed, re-emitted whitespace character (no match can start inside it).
fn trailing_steps() -> &'static [Step] {
    static STEPS: OnceLock<Vec<Step>> = OnceLock::new();
    STEPS.get_or_init(|| {
        vec![
            step(r"([»”’])", " ${1} "),
            step(r"''", " '' "),
            step(r#"""#, " '' "),
            step(r"\s+", " "),
            step(r"([^' ])('[sS]|'[mM]|'[dD]|') ", "${1} ${2} "),
            step(r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", "${1} ${2} "),
            step(r"(?i)\b(can)(not)\b", " ${1} ${2} "),
            step(r"(?i)\b(d)('ye)\b", " ${1} ${2} "),
            step(r"(?i)\b(gim)(me)\b", " ${1} ${2} "),
            step(r"(?i)\b(gon)(na)\b", " ${1} ${2} "),
            step(r"(?i)\b(got)(ta)\b", " ${1} ${2} "),
            step(r"(?i)\b(lem)(me)\b", " ${1} ${2} "),
            step(r"(?i)\b(more)('n)\b", " ${1} ${2} "),
            step(r"(?i)\b(wan)(na)(\s)", " ${1} ${2} ${3}"),
            step(r"(?i) ('t)(is)\b", " ${1} ${2} "),
            step(r"(?i) ('t)(was)\b", " ${1} ${2} "),
        ]
    })
}

fn apply(steps: &[Step], mut text: String) -> String {
    for step in steps {
        if let Cow::Owned(changed) = step.pattern.replace_all(&text, step.replacement) {
            text = changed;
        }
    }
    text
}

/// `(?i)(?<!\w)(')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)` → `' `: a quote that opens a word (and is
/// not a contraction like 're or 's) is split from it.
fn split_opening_quotes(text: &str) -> String {
    if !text.contains('\'') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut previous: Option<char> = None;
    for (at, c) in text.char_indices() {
        out.push(c);
        if c == '\'' && !previous.is_some_and(is_word_char) {
            let rest = &text[at + 1..];
            let opens_word = rest.chars().next().is_some_and(is_word_char);
            let contraction = ["re", "ve", "ll", "m", "t", "s", "d", "n"]
                .iter()
                .any(|suffix| {
                    rest.len() >= suffix.len()
                        && rest.is_char_boundary(suffix.len())
                        && rest[..suffix.len()].eq_ignore_ascii_case(suffix)
                        && !rest[suffix.len()..]
                            .chars()
                            .next()
                            .is_some_and(is_word_char)
                });
            if opens_word && !contraction {
                out.push(' ');
            }
        }
        previous = Some(c);
    }
    out
}

/// `NLTKWordTokenizer().tokenize(sentence)`.
pub fn tokenize_sentence(sentence: &str) -> Vec<String> {
    let text = apply(starting_quotes(), sentence.to_string());
    let text = apply(punctuation(), split_opening_quotes(&text));
    let text = apply(trailing_steps(), format!(" {text} "));
    split_whitespace(&text).map(str::to_string).collect()
}

/// `nltk.word_tokenize(text)`: Punkt sentences, then the Treebank tokenizer on each.
pub fn word_tokenize(text: &str) -> Vec<String> {
    punkt::sentences(text)
        .into_iter()
        .flat_map(tokenize_sentence)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizes_like_nltk() {
        assert_eq!(
            word_tokenize("DON'T do it, U.S.A. HELLO-WORLD."),
            ["DO", "N'T", "do", "it", ",", "U.S.A.", "HELLO-WORLD", "."]
        );
        assert_eq!(
            word_tokenize(
                "Good muffins cost $3.88\nin New York.  Please buy me\ntwo of them.\nThanks."
            ),
            [
                "Good", "muffins", "cost", "$", "3.88", "in", "New", "York", ".", "Please", "buy",
                "me", "two", "of", "them", ".", "Thanks", "."
            ]
        );
        assert_eq!(
            word_tokenize("I CANNOT \"go\""),
            ["I", "CAN", "NOT", "``", "go", "''"]
        );
    }
}
