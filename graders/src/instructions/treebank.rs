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
use super::pystr::{is_py_space, is_word_char, split_whitespace};

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
/// match before a final newline, which the replacement then keeps. Python's `\s` is Rust's
/// and U+001C..U+001F.
fn punctuation() -> &'static [Step] {
    static STEPS: OnceLock<Vec<Step>> = OnceLock::new();
    STEPS.get_or_init(|| {
        vec![
            step(
                r#"([^\.])(\.)([\]\)}>"'»”’ ]*)[\s\x1c-\x1f]*\z"#,
                "${1} ${2} ${3} ",
            ),
            step(r"([:,])([^\d])", " ${1} ${2}"),
            step(r"([:,])(\n?)\z", " ${1} ${2}"),
            step(r"\.{2,}", " ${0} "),
            step(r"[;@#$%&]", " ${0} "),
            step(r"[\x{2012}-\x{2015}]", " ${0} "),
            step(
                r#"([^\.])(\.)([\]\)}>"']*)[\s\x1c-\x1f]*\z"#,
                "${1} ${2}${3} ",
            ),
            step(r"[?!]", " ${0} "),
            step(r"([^'])' ", "${1} ' "),
            step(r"[*]", " ${0} "),
            step(r"[\]\[(){}<>]", " ${0} "),
            step(r"--", " -- "),
        ]
    })
}

/// ENDING_QUOTES, applied after padding with spaces (the contractions follow, in
/// [`split_contractions`]).
fn trailing_steps() -> &'static [Step] {
    static STEPS: OnceLock<Vec<Step>> = OnceLock::new();
    STEPS.get_or_init(|| {
        vec![
            step(r"([»”’])", " ${1} "),
            step(r"''", " '' "),
            step(r#"""#, " '' "),
            step(r"[\s\x1c-\x1f]+", " "),
            step(r"([^' ])('[sS]|'[mM]|'[dD]|') ", "${1} ${2} "),
            step(r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", "${1} ${2} "),
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

/// CONTRACTIONS2 and CONTRACTIONS3, in NLTK's order: `(?i)\b(can)(not)\b` → ` can not `, and
/// so on. Matched by hand, as NLTK 3.10 applies them (its outputs are recorded in the tests),
/// which the regex crate does not: `\b` lies between Python's `re` word characters (letters,
/// numbers, `_`; not the combining marks and joiners the regex crate adds) and others, and
/// IGNORECASE takes `İ` and `ı` for `i` and `ſ` for `s`. With the regex crate's, `CANNOT²`
/// counted two capital words against NLTK's one, and `CANNOT\u{301}` one against two (red
/// team). (The opening-quote step, [`split_opening_quotes`], still differs from NLTK beside
/// marks, joiners, superscripts and fractions.)
fn split_contractions(mut text: String) -> String {
    /// What must follow the pair: a word boundary, or a whitespace character (kept).
    #[derive(Clone, Copy, PartialEq)]
    enum Then {
        Boundary,
        Space,
    }
    // (a space before, the first part, the second, what follows)
    const SPLITS: [(bool, &str, &str, Then); 10] = [
        (false, "can", "not", Then::Boundary),
        (false, "d", "'ye", Then::Boundary),
        (false, "gim", "me", Then::Boundary),
        (false, "gon", "na", Then::Boundary),
        (false, "got", "ta", Then::Boundary),
        (false, "lem", "me", Then::Boundary),
        (false, "more", "'n", Then::Boundary),
        (false, "wan", "na", Then::Space),
        (true, "'t", "is", Then::Boundary),
        (true, "'t", "was", Then::Boundary),
    ];
    for (space_before, first, second, then) in SPLITS {
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let mut out = String::with_capacity(text.len() + 8);
        let mut copied = 0;
        let mut at = 0;
        while at < chars.len() {
            let start = at;
            let mut i = at;
            // ` ` literal (CONTRACTIONS3), or `\b` before a pattern that starts with a letter.
            let opens = if space_before {
                chars[i].1 == ' ' && {
                    i += 1;
                    true
                }
            } else {
                i == 0 || !is_word_char(chars[i - 1].1)
            };
            let first_at = i;
            let matched = opens && match_caseless(&chars, &mut i, first) && {
                let second_at = i;
                match_caseless(&chars, &mut i, second) && {
                    let next = chars.get(i).map(|&(_, c)| c);
                    let ok = match then {
                        Then::Boundary => !next.is_some_and(is_word_char),
                        Then::Space => next.is_some_and(is_py_space),
                    };
                    if ok {
                        let byte = |k: usize| chars.get(k).map_or(text.len(), |&(b, _)| b);
                        out.push_str(&text[copied..byte(start)]);
                        out.push(' ');
                        out.push_str(&text[byte(first_at)..byte(second_at)]);
                        out.push(' ');
                        out.push_str(&text[byte(second_at)..byte(i)]);
                        if then == Then::Space {
                            out.push(' ');
                            i += 1;
                            out.push_str(&text[byte(i - 1)..byte(i)]);
                        } else {
                            out.push(' ');
                        }
                        copied = byte(i);
                    }
                    ok
                }
            };
            at = if matched { i } else { start + 1 };
        }
        if copied > 0 {
            out.push_str(&text[copied..]);
            text = out;
        }
    }
    text
}

/// Whether `pattern` (lower-case ASCII letters and `'`) occurs at `chars[*at..]` under Python's
/// IGNORECASE; moves `at` past it when it does.
fn match_caseless(chars: &[(usize, char)], at: &mut usize, pattern: &str) -> bool {
    for p in pattern.chars() {
        let Some(&(_, c)) = chars.get(*at) else {
            return false;
        };
        // Python compares simple lower-case mappings (`İ` lowers to `i`), and treats `ı` as `i`
        // and `ſ` as `s` besides.
        let lower = c.to_lowercase().next().unwrap_or(c);
        let same = lower == p || (p == 'i' && c == 'ı') || (p == 's' && c == 'ſ');
        if !same {
            return false;
        }
        *at += 1;
    }
    true
}

/// `NLTKWordTokenizer().tokenize(sentence)`.
pub fn tokenize_sentence(sentence: &str) -> Vec<String> {
    let text = apply(starting_quotes(), sentence.to_string());
    let text = apply(punctuation(), split_opening_quotes(&text));
    let text = split_contractions(apply(trailing_steps(), format!(" {text} ")));
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

    /// NLTK 3.10.4's `word_tokenize` on each (recorded): its word boundaries and case folding
    /// around the contractions, and Python's whitespace.
    #[test]
    fn contractions_split_where_pythons_re_splits_them() {
        let cases: [(&str, &[&str]); 19] = [
            (
                "CANNOT\u{b2} CANNOT\u{b2}",
                &["CANNOT\u{b2}", "CANNOT\u{b2}"],
            ),
            ("x CANNOT\u{301}", &["x", "CAN", "NOT", "\u{301}"]),
            ("G\u{130}MME", &["G\u{130}M", "ME"]),
            ("WANNA\u{1f} x", &["WAN", "NA", "x"]),
            ("CANNOT CANNOT", &["CAN", "NOT", "CAN", "NOT"]),
            ("I cannot go", &["I", "can", "not", "go"]),
            ("\u{131} GONNA", &["\u{131}", "GON", "NA"]),
            ("GONNA\u{bd} X", &["GONNA\u{bd}", "X"]),
            ("LEMME\u{300}", &["LEM", "ME", "\u{300}"]),
            ("x CANNOT\u{345}", &["x", "CAN", "NOT", "\u{345}"]),
            ("GOT\u{131}A", &["GOT\u{131}A"]),
            ("\u{17f}o \u{2019}TIS", &["\u{17f}o", "\u{2019}", "TIS"]),
            ("I said 'TIS true", &["I", "said", "'", "TIS", "true"]),
            ("'TWAS \"night\"", &["'", "TWAS", "``", "night", "''"]),
            ("D'YE MORE'N", &["D", "'YE", "MORE", "'N"]),
            ("CANNOT_", &["CANNOT_"]),
            ("WANNA\u{2028}go", &["WAN", "NA", "go"]),
            ("wanna.", &["wan", "na", "."]),
            ("MORE\u{2019}N", &["MORE", "\u{2019}", "N"]),
        ];
        for (text, nltk) in cases {
            assert_eq!(word_tokenize(text), nltk, "{text:?}");
        }
    }

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
