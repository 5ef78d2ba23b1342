//! NLTK's `word_tokenize` for English: Punkt sentences, each split by `NLTKWordTokenizer` (the
//! improved Treebank tokenizer), which IFEval's `capital_word_frequency` counts.
//!
//! The Treebank tokenizer is a fixed list of regex substitutions; several use look-behind and
//! look-ahead, so they run on `fancy-regex`. Only `tokenize` (no parenthesis conversion) is
//! reproduced, in NLTK's order.

use std::borrow::Cow;
use std::sync::OnceLock;

use fancy_regex::Regex;

use super::punkt;
use super::pystr::split_whitespace;

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

/// The steps before the text is padded with spaces: starting quotes, punctuation, brackets, dashes.
fn leading_steps() -> &'static [Step] {
    static STEPS: OnceLock<Vec<Step>> = OnceLock::new();
    STEPS.get_or_init(|| {
        vec![
            // STARTING_QUOTES
            step(r"([«“‘„]|[`]+)", " ${1} "),
            step(r#"^""#, "``"),
            step(r"(``)", " ${1} "),
            step(r#"([ \(\[{<])("|'{2})"#, "${1} `` "),
            step(r"(?i)(?<!\w)(')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)", "${1} "),
            // PUNCTUATION (`*+` is possessive in Python: an atomic group here; Python's `$`
            // also matches before a final newline)
            step(
                r#"([^\.])(\.)((?>[\]\)}>"'»”’ ]*))\s*(?=\n?\z)"#,
                "${1} ${2} ${3} ",
            ),
            step(r"([:,])([^\d])", " ${1} ${2}"),
            step(r"([:,])(?=\n?\z)", " ${1} "),
            step(r"\.{2,}", " ${0} "),
            step(r"[;@#$%&]", " ${0} "),
            step(r"[\u2012-\u2015]", " ${0} "),
            step(r#"([^\.])(\.)([\]\)}>"']*)\s*(?=\n?\z)"#, "${1} ${2}${3} "),
            step(r"[?!]", " ${0} "),
            step(r"([^'])' ", "${1} ' "),
            step(r"[*]", " ${0} "),
            // PARENS_BRACKETS, DOUBLE_DASHES
            step(r"[\]\[\(\)\{\}\<\>]", " ${0} "),
            step(r"--", " -- "),
        ]
    })
}

/// The steps after padding: ending quotes, then contractions.
fn trailing_steps() -> &'static [Step] {
    static STEPS: OnceLock<Vec<Step>> = OnceLock::new();
    STEPS.get_or_init(|| {
        vec![
            // ENDING_QUOTES
            step(r"([»”’])", " ${1} "),
            step(r"''", " '' "),
            step(r#"""#, " '' "),
            step(r"\s+", " "),
            step(r"([^' ])('[sS]|'[mM]|'[dD]|') ", "${1} ${2} "),
            step(r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", "${1} ${2} "),
            // CONTRACTIONS2, CONTRACTIONS3
            step(r"(?i)\b(can)(not)\b", " ${1} ${2} "),
            step(r"(?i)\b(d)('ye)\b", " ${1} ${2} "),
            step(r"(?i)\b(gim)(me)\b", " ${1} ${2} "),
            step(r"(?i)\b(gon)(na)\b", " ${1} ${2} "),
            step(r"(?i)\b(got)(ta)\b", " ${1} ${2} "),
            step(r"(?i)\b(lem)(me)\b", " ${1} ${2} "),
            step(r"(?i)\b(more)('n)\b", " ${1} ${2} "),
            step(r"(?i)\b(wan)(na)(?=\s)", " ${1} ${2} "),
            step(r"(?i) ('t)(is)\b", " ${1} ${2} "),
            step(r"(?i) ('t)(was)\b", " ${1} ${2} "),
        ]
    })
}

fn apply(steps: &[Step], mut text: String) -> String {
    for step in steps {
        // A backtracking limit can only be hit by pathological input; the text is then left as
        // it was for this step rather than failing the whole check.
        if let Ok(Cow::Owned(changed)) = step.pattern.try_replacen(&text, 0, step.replacement) {
            text = changed;
        }
    }
    text
}

/// `NLTKWordTokenizer().tokenize(sentence)`.
pub fn tokenize_sentence(sentence: &str) -> Vec<String> {
    let text = apply(leading_steps(), sentence.to_string());
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
                "Good", "muffins", "cost", "$", "3.88", "in", "New", "York.", "Please", "buy",
                "me", "two", "of", "them", ".", "Thanks", "."
            ]
        );
        assert_eq!(
            word_tokenize("I CANNOT \"go\""),
            ["I", "CAN", "NOT", "``", "go", "''"]
        );
    }
}
