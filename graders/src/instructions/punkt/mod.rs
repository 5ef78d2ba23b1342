//! A Punkt sentence splitter (Kiss & Strunk 2006) that agrees with NLTK 3.10's
//! `PunktSentenceTokenizer.tokenize` on English, which IFEval uses to count sentences.
//!
//! Inference only, with NLTK's English parameters embedded ([`params`]). NLTK's algorithm is
//! reproduced step by step: find each `.`/`?`/`!` that is followed by punctuation or by whitespace
//! and a token, take the word before it (NLTK's own, slightly odd, rule for that), tokenize that
//! small context with Punkt's word regex, annotate it (first pass: abbreviations, ellipses;
//! second pass: collocations, orthographic and sentence-starter heuristics, initials, ordinals),
//! and split where the context contains a break before its last token; then realign closing
//! quotes and brackets onto the sentence they end. NLTK's regexes use look-ahead, which the
//! `regex` crate lacks, so the scanners here are written by hand, each mirroring one regex.

mod params;

use std::sync::OnceLock;

use regex::Regex;

use super::pystr::{is_py_space, rstrip};
use crate::chars::CharClass;
pub use params::PunktParameters;
use params::{ORTHO_BEG_LC, ORTHO_LC, ORTHO_MID_UC, ORTHO_UC};

/// Sentences of `text` as byte ranges, exactly as NLTK's English Punkt splits them.
pub fn sentence_spans(text: &str) -> Vec<(usize, usize)> {
    let params = PunktParameters::english();
    realign_boundaries(text, &slices_from_text(text, params))
}

/// The sentences of `text` (NLTK's `sent_tokenize(text)` for English).
pub fn sentences(text: &str) -> Vec<&str> {
    sentence_spans(text)
        .into_iter()
        .map(|(start, end)| &text[start..end])
        .collect()
}

/// Characters that may follow a sentence end directly (NLTK's `_re_non_word_chars`).
fn is_non_word(c: char) -> bool {
    matches!(
        c,
        ')' | '"'
            | ';'
            | '}'
            | ']'
            | '*'
            | ':'
            | '@'
            | '\''
            | '('
            | '{'
            | '['
            | '\u{2018}'
            | '\u{2019}'
            | '\u{201c}'
            | '\u{201d}'
            | '\u{ab}'
            | '\u{bb}'
            | '?'
            | '!'
    )
}

fn is_sent_end(c: char) -> bool {
    matches!(c, '.' | '?' | '!')
}

/// ASCII whitespace as Python's `string.whitespace` (used by NLTK to find the previous word).
fn is_ascii_py_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// One candidate sentence end found by NLTK's `period_context_re`.
struct EndCandidate {
    /// Byte offset of the `.`, `?` or `!`.
    start: usize,
    /// Byte offset just after the lookahead `after_tok` group.
    after_end: usize,
    /// Byte offset of the next token, when the end is followed by whitespace and a token.
    next_tok: Option<usize>,
}

impl EndCandidate {
    fn end(&self) -> usize {
        self.start + 1
    }
}

/// `period_context_re().finditer(text)`: a sentence-end character followed either by a
/// non-word character or by whitespace and a token.
fn end_candidates(text: &str) -> Vec<EndCandidate> {
    let mut found = Vec::new();
    for (start, c) in text.char_indices() {
        if !is_sent_end(c) {
            continue;
        }
        let rest = &text[start + 1..];
        let Some(next) = rest.chars().next() else {
            continue;
        };
        if is_non_word(next) {
            found.push(EndCandidate {
                start,
                after_end: start + 1 + next.len_utf8(),
                next_tok: None,
            });
        } else if is_py_space(next) {
            let token_at = rest.find(|c: char| !is_py_space(c));
            if let Some(offset) = token_at {
                let token_start = start + 1 + offset;
                let token_len = text[token_start..]
                    .find(is_py_space)
                    .unwrap_or(text.len() - token_start);
                found.push(EndCandidate {
                    start,
                    after_end: token_start + token_len,
                    next_tok: Some(token_start),
                });
            }
        }
    }
    found
}

/// NLTK's `_match_potential_end_contexts`: each candidate with the span of the word before
/// it, dropping a candidate whose word overlaps the next one's (so "acting!!!" yields only its
/// last `!`). The context NLTK tests is the word followed by the candidate's match.
fn potential_end_contexts(text: &str) -> Vec<(EndCandidate, (usize, usize))> {
    let mut out = Vec::new();
    let mut previous_slice = (0usize, 0usize);
    let mut previous: Option<EndCandidate> = None;
    for candidate in end_candidates(text) {
        let before = &text[previous_slice.1..candidate.start];
        // NLTK treats "whitespace at index 0" like "no whitespace": it tests the index's truth.
        let word_start = match before.rfind(is_ascii_py_space) {
            Some(index) if index > 0 => previous_slice.1 + index + 1,
            _ => previous_slice.0,
        };
        let word_slice = (word_start, candidate.start);
        if let Some(prev) = previous.take() {
            if previous_slice.1 <= word_slice.0 {
                out.push((prev, previous_slice));
            }
        }
        previous = Some(candidate);
        previous_slice = word_slice;
    }
    if let Some(prev) = previous {
        out.push((prev, previous_slice));
    }
    out
}

/// NLTK's `_slices_from_text`.
fn slices_from_text(text: &str, params: &PunktParameters) -> Vec<(usize, usize)> {
    let mut slices = Vec::new();
    let mut last_break = 0;
    // One buffer for every context: a string each was a tenth of sentence splitting's time.
    let mut context = String::new();
    for (candidate, word) in potential_end_contexts(text) {
        context.clear();
        context.push_str(&text[word.0..word.1]);
        context.push_str(&text[candidate.start..candidate.after_end]);
        if text_contains_sentbreak(&context, params) {
            slices.push((last_break, candidate.end()));
            last_break = candidate.next_tok.unwrap_or(candidate.end());
        }
    }
    slices.push((last_break, rstrip(text).len()));
    slices
}

/// NLTK's `_realign_boundaries`: closing quotes/brackets after a break join the sentence before.
fn realign_boundaries(text: &str, slices: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut realign = 0;
    for (i, &(start, stop)) in slices.iter().enumerate() {
        let start = start + realign;
        let non_empty = start < stop;
        let Some(&(next_start, next_stop)) = slices.get(i + 1) else {
            if non_empty {
                out.push((start, stop));
            }
            continue;
        };
        let next = if next_start <= next_stop {
            &text[next_start..next_stop]
        } else {
            ""
        };
        match boundary_realignment(next) {
            Some(matched) => {
                out.push((start, next_start + rstrip(&next[..matched]).len()));
                realign = matched;
            }
            None => {
                realign = 0;
                if non_empty {
                    out.push((start, stop));
                }
            }
        }
    }
    out
}

fn is_closing_punctuation(c: char) -> bool {
    matches!(
        c,
        '"' | '\''
            | ')'
            | ']'
            | '}'
            | '\u{2018}'
            | '\u{2019}'
            | '\u{201c}'
            | '\u{201d}'
            | '\u{ab}'
            | '\u{bb}'
    )
}

/// `re_boundary_realignment.match(s)`: `["')\]}‘’“”«»]+?(?:\s+|(?=--)|$)` with MULTILINE;
/// the length of the match in bytes.
fn boundary_realignment(s: &str) -> Option<usize> {
    let mut end = 0;
    for c in s.chars() {
        if !is_closing_punctuation(c) {
            return None;
        }
        end += c.len_utf8();
        let rest = &s[end..];
        match rest.chars().next() {
            None | Some('\n') => {
                // `\s+` is tried before `$`, and a newline is whitespace.
                let spaces = rest.len() - rest.trim_start_matches(is_py_space).len();
                return Some(end + spaces);
            }
            Some(c) if is_py_space(c) => {
                let spaces = rest.len() - rest.trim_start_matches(is_py_space).len();
                return Some(end + spaces);
            }
            Some(_) if rest.starts_with("--") => return Some(end),
            Some(_) => {}
        }
    }
    None
}

/// A word token with Punkt's annotations.
struct Token {
    tok: String,
    typ: String,
    period_final: bool,
    abbr: bool,
    ellipsis: bool,
    sentbreak: bool,
}

/// Punkt's `_RE_NUMERIC` (`^-?[\.,]?\d[\d,\.-]*\.?$`) on a lower-cased token; ASCII tokens are
/// checked by hand (this runs on every token of every candidate context).
fn is_numeric_type(token: &str) -> bool {
    if !token.is_ascii() {
        return numeric_type().is_match(token);
    }
    let bytes = token.as_bytes();
    let mut at = 0;
    if bytes.first() == Some(&b'-') {
        at += 1;
    }
    if matches!(bytes.get(at), Some(b'.' | b',')) {
        at += 1;
    }
    if !bytes.get(at).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    bytes[at + 1..]
        .iter()
        .all(|b| b.is_ascii_digit() || matches!(b, b',' | b'.' | b'-'))
}

fn numeric_type() -> &'static Regex {
    static NUMERIC: OnceLock<Regex> = OnceLock::new();
    NUMERIC.get_or_init(|| Regex::new(r"^-?[.,]?\d[\d,.\-]*\.?$").expect("valid regex"))
}

/// Python `re`'s `[^\W\d]`: a word character that is not a decimal digit.
fn is_alpha_like(c: char) -> bool {
    c == '_' || is_letter(c) || (c.is_numeric() && !is_decimal_digit(c))
}

/// A letter by general category (L*), as Python's `str.isalpha`; Rust's `Alphabetic` property
/// also takes combining vowel signs.
fn is_letter(c: char) -> bool {
    static LETTER: CharClass = CharClass::new(r"\p{L}");
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    LETTER.contains(c)
}

/// A decimal digit (Nd), as Python's `\d`.
fn is_decimal_digit(c: char) -> bool {
    static DIGIT: CharClass = CharClass::new(r"\p{Nd}");
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    DIGIT.contains(c)
}

impl Token {
    fn new(tok: String) -> Token {
        let lowered = super::pystr::lower(&tok);
        let typ = if is_numeric_type(&lowered) {
            "##number##".to_string()
        } else {
            lowered
        };
        Token {
            period_final: tok.ends_with('.'),
            tok,
            typ,
            abbr: false,
            ellipsis: false,
            sentbreak: false,
        }
    }

    fn type_no_period(&self) -> &str {
        if self.typ.chars().count() > 1 && self.typ.ends_with('.') {
            &self.typ[..self.typ.len() - 1]
        } else {
            &self.typ
        }
    }

    fn type_no_sentperiod(&self) -> &str {
        if self.sentbreak {
            self.type_no_period()
        } else {
            &self.typ
        }
    }

    fn first_upper(&self) -> bool {
        self.tok.chars().next().is_some_and(char::is_uppercase)
    }

    fn first_lower(&self) -> bool {
        self.tok.chars().next().is_some_and(char::is_lowercase)
    }

    /// `\.\.+$` matched at the start: two or more periods and nothing else.
    fn is_ellipsis(&self) -> bool {
        self.tok.len() >= 2 && self.tok.bytes().all(|b| b == b'.')
    }

    /// `[^\W\d]\.$` matched at the start: one letter-like character and a period.
    fn is_initial(&self) -> bool {
        let mut chars = self.tok.chars();
        matches!((chars.next(), chars.next(), chars.next()), (Some(c), Some('.'), None) if is_alpha_like(c))
    }
}

/// `-{2,}`, `\.{2,}` or `(?:\.\s){2,}\.` at `chars[at..]`: the length in chars.
fn multi_char_punct(chars: &[char], at: usize) -> Option<usize> {
    let get = |i: usize| chars.get(i).copied();
    match (get(at), get(at + 1)) {
        (Some('-'), Some('-')) => Some(chars[at..].iter().take_while(|&&c| c == '-').count()),
        (Some('.'), Some('.')) => Some(chars[at..].iter().take_while(|&&c| c == '.').count()),
        (Some('.'), _) => {
            let mut reps = 0;
            while get(at + 2 * reps) == Some('.') && get(at + 2 * reps + 1).is_some_and(is_py_space)
            {
                reps += 1;
            }
            if reps >= 2 && get(at + 2 * reps) == Some('.') {
                Some(2 * reps + 1)
            } else if reps >= 3 {
                Some(2 * reps - 1)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Punkt's `_re_word_start`: characters a word token may not begin with.
fn may_start_word(c: char) -> bool {
    !matches!(
        c,
        '(' | '"'
            | '`'
            | '{'
            | '['
            | ':'
            | ';'
            | '&'
            | '#'
            | '*'
            | '@'
            | ')'
            | '}'
            | ']'
            | '-'
            | ','
    )
}

/// The look-ahead that ends a word token: whitespace, end, punctuation, or a final comma.
fn ends_word(chars: &[char], at: usize) -> bool {
    let Some(&c) = chars.get(at) else {
        return true;
    };
    if is_py_space(c) || is_non_word(c) || multi_char_punct(chars, at).is_some() {
        return true;
    }
    c == ','
        && chars.get(at + 1).is_none_or(|&next| {
            is_py_space(next) || is_non_word(next) || multi_char_punct(chars, at + 1).is_some()
        })
}

/// Punkt's `word_tokenize` on one line: `findall` of its word regex.
fn line_tokens(line: &str, out: &mut Vec<Token>) {
    let chars: Vec<char> = line.chars().collect();
    let mut at = 0;
    while at < chars.len() {
        if is_py_space(chars[at]) {
            at += 1;
            continue;
        }
        let len = if let Some(len) = multi_char_punct(&chars, at) {
            len
        } else if may_start_word(chars[at]) {
            let mut end = at + 1;
            while !ends_word(&chars, end) {
                end += 1;
            }
            end - at
        } else {
            1
        };
        out.push(Token::new(chars[at..at + len].iter().collect()));
        at += len;
    }
}

/// Punkt's `_tokenize_words`: tokens of every non-blank line.
fn tokenize_words(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    for line in text.split('\n') {
        if !super::pystr::strip(line).is_empty() {
            line_tokens(line, &mut tokens);
        }
    }
    tokens
}

/// First pass: sentence-end characters, ellipses, and known abbreviations.
fn first_pass(token: &mut Token, params: &PunktParameters) {
    let tok = token.tok.as_str();
    if tok == "." || tok == "?" || tok == "!" {
        token.sentbreak = true;
    } else if token.is_ellipsis() {
        token.ellipsis = true;
    } else if token.period_final && !tok.ends_with("..") {
        let stem = super::pystr::lower(&tok[..tok.len() - 1]);
        let last_part = stem.rsplit('-').next().unwrap_or("");
        if params.abbrev_types.contains(stem.as_str()) || params.abbrev_types.contains(last_part) {
            token.abbr = true;
        } else {
            token.sentbreak = true;
        }
    }
}

#[derive(PartialEq)]
enum SentStarter {
    Yes,
    No,
    Unknown,
}

/// The orthographic heuristic (4.1.1): does `token` start a sentence?
fn ortho_heuristic(token: &Token, params: &PunktParameters) -> SentStarter {
    if matches!(token.tok.as_str(), ";" | ":" | "," | "." | "!" | "?") {
        return SentStarter::No;
    }
    let ortho = params.ortho(token.type_no_sentperiod());
    if token.first_upper() && ortho & ORTHO_LC != 0 && ortho & ORTHO_MID_UC == 0 {
        return SentStarter::Yes;
    }
    if token.first_lower() && (ortho & ORTHO_UC != 0 || ortho & ORTHO_BEG_LC == 0) {
        return SentStarter::No;
    }
    SentStarter::Unknown
}

/// Second pass over a pair of neighbouring tokens, updating the first.
fn second_pass(tokens: &mut [Token], i: usize, params: &PunktParameters) {
    let (head, tail) = tokens.split_at_mut(i + 1);
    let (tok1, tok2) = (&mut head[i], &tail[0]);
    if !tok1.period_final {
        return;
    }
    if let Some((sentbreak, abbr)) = second_pass_decision(tok1, tok2, params) {
        tok1.sentbreak = sentbreak;
        if let Some(abbr) = abbr {
            tok1.abbr = abbr;
        }
    }
}

/// What the second pass sets on `tok1` (its `sentbreak`, and `abbr` where that changes too),
/// or `None` where it leaves it as it is.
fn second_pass_decision(
    tok1: &Token,
    tok2: &Token,
    params: &PunktParameters,
) -> Option<(bool, Option<bool>)> {
    let typ = tok1.type_no_period();
    let next_typ = tok2.type_no_sentperiod();
    let is_initial = tok1.is_initial();

    if params.is_collocation(typ, next_typ) {
        return Some((false, Some(true)));
    }
    if (tok1.abbr || tok1.ellipsis) && !is_initial {
        if ortho_heuristic(tok2, params) == SentStarter::Yes {
            return Some((true, None));
        }
        if tok2.first_upper() && params.sent_starters.contains(next_typ) {
            return Some((true, None));
        }
    }
    if is_initial || typ == "##number##" {
        let starter = ortho_heuristic(tok2, params);
        if starter == SentStarter::No {
            return Some((false, Some(true)));
        }
        if starter == SentStarter::Unknown
            && is_initial
            && tok2.first_upper()
            && params.ortho(next_typ) & ORTHO_LC == 0
        {
            return Some((false, Some(true)));
        }
    }
    None
}

/// NLTK's `text_contains_sentbreak`: a break on any token but the last.
fn text_contains_sentbreak(context: &str, params: &PunktParameters) -> bool {
    let mut tokens = tokenize_words(context);
    for token in tokens.iter_mut() {
        first_pass(token, params);
    }
    for i in 0..tokens.len().saturating_sub(1) {
        second_pass(&mut tokens, i, params);
        if tokens[i].sentbreak {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_nltk() {
        assert_eq!(
            sentences("Dr. Smith arrived. He sat down."),
            ["Dr. Smith arrived.", "He sat down."]
        );
        assert_eq!(
            sentences("Dr. Smith arrived. He sat down. 1. First item\n2. Second item"),
            [
                "Dr. Smith arrived.",
                "He sat down.",
                "1.",
                "First item\n2.",
                "Second item"
            ]
        );
        assert_eq!(sentences("Wait... what? Yes!"), ["Wait... what?", "Yes!"]);
        assert_eq!(
            sentences("(He left.) Then she came."),
            ["(He left.)", "Then she came."]
        );
        assert_eq!(sentences("   "), Vec::<&str>::new());
        for (token, numeric) in [
            ("3.14", true),
            ("-1,000.", true),
            (".5", true),
            ("1a", false),
            ("-", false),
            ("٣٤", true),
        ] {
            assert_eq!(is_numeric_type(token), numeric, "{token}");
        }
    }
}
