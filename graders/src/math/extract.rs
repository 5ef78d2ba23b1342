//! Finding the final answer in a completion: candidate spans, ranked.
//!
//! Math-Verify's ladder, re-implemented: every candidate has a priority (lower first) and, within
//! a priority, the rightmost candidate is tried first.
//!
//! | priority | candidate |
//! | --- | --- |
//! | -100 | the whole text, when it is one short expression (gold answers usually are) |
//! | `boxed_priority` (0 by default) | the last group of `\boxed{}` / `\fbox{}` |
//! | 0 | "final answer is X. I hope it is correct" (Minerva) |
//! | 50 | "final answer ... is X", "final answer: X" |
//! | 100 | "answer: X", "answer is X", "#### X" (GSM8K) |
//! | 300 | a bare `$..$`, `$$..$$`, `\(..\)`, `\[..\]` (or several joined by "and"/","), a number |
//!
//! Only the text after the last `</think>` is searched; a completion that opens `<think>` and
//! never closes it has given no answer.
//!
//! Several boxes (the anti-farming policy): boxes separated only by a short separator (under 10
//! characters, or under 70 with a comma, semicolon, "and" or "or") form one group, read as a set;
//! only the last group is the answer. Boxing every candidate therefore either puts all of them in
//! one set, which must equal the gold set as a whole, or leaves only the last box standing.

use std::sync::OnceLock;

use regex::Regex;

use super::lexer::{matching_brace, tokenize, Tok};

/// Which kinds of answers to look for.
#[derive(Debug, Clone, PartialEq)]
pub struct Targets {
    /// LaTeX: boxes, math environments, anchored LaTeX.
    pub latex: bool,
    /// Plain expressions and numbers.
    pub expr: bool,
    /// Multiple-choice letters (upper case), if any.
    pub choices: Vec<String>,
    /// Priority of `\boxed{}`; `None` ignores boxes.
    pub boxed_priority: Option<i32>,
    /// Also take unanchored candidates (bare environments and numbers).
    pub without_anchor: bool,
    /// Try the whole text as one expression first.
    pub whole_text: bool,
}

/// One place an answer may be.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The answer text, ready for the parser.
    pub text: String,
    pub priority: i32,
    /// Byte offset where the candidate ends (rightmost first within a priority).
    pub end: usize,
}

const MAX_BOXES: usize = 64;
const MAX_ENVIRONMENTS: usize = 256;
const MAX_NUMBERS: usize = 256;

/// The part of a completion that may hold the answer: after the last `</think>`.
pub fn answer_region(completion: &str) -> Option<&str> {
    match completion.rfind("</think>") {
        Some(i) => Some(&completion[i + "</think>".len()..]),
        None if completion.contains("<think>") => None,
        None => Some(completion),
    }
}

/// Candidates, best first.
pub fn candidates(text: &str, targets: &Targets) -> Vec<Candidate> {
    let text = fix_doubled_backslashes(text);
    let text = text.as_str();
    let mut out = Vec::new();
    if targets.whole_text {
        if let Some(whole) = whole_text_candidate(text) {
            out.push(Candidate {
                text: whole,
                priority: -100,
                end: text.len(),
            });
        }
    }
    if targets.latex {
        if let Some(priority) = targets.boxed_priority {
            boxes(text, priority, &mut out);
        }
    }
    anchored(text, targets, &mut out);
    if targets.without_anchor {
        if targets.latex {
            for (content, _, end) in environment_candidates(text) {
                out.push(Candidate {
                    text: content,
                    priority: 300,
                    end,
                });
            }
        }
        if targets.expr {
            // A number inside a math span that failed to parse is not an answer of its own.
            let mut math_spans: Vec<(usize, usize)> = if targets.latex {
                environments(text)
                    .iter()
                    .map(|(_, s, e)| (*s, *e))
                    .collect()
            } else {
                Vec::new()
            };
            math_spans.extend(box_spans(text));
            let inside = |at: usize| math_spans.iter().any(|(s, e)| *s <= at && at < *e);
            let outside = numbers(text)
                .into_iter()
                .filter(|(_, start, _)| !inside(*start));
            let outside: Vec<_> = outside.collect();
            for (span, _, end) in outside.into_iter().rev().take(MAX_NUMBERS) {
                out.push(Candidate {
                    text: span,
                    priority: 300,
                    end,
                });
            }
        }
    }
    if !targets.choices.is_empty() {
        choices(text, &targets.choices, &mut out);
    }
    out.sort_by(|a, b| a.priority.cmp(&b.priority).then(b.end.cmp(&a.end)));
    out
}

/// `\\frac` (a doubled backslash, from JSON or Python escaping) is `\frac`.
fn fix_doubled_backslashes(text: &str) -> String {
    if !text.contains("\\\\") {
        return text.to_string();
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if bytes[i] == b'\\' {
            // Exactly two backslashes before a letter: an escaped command. Three are a row
            // break followed by a command (`\\\end`), kept as written.
            let run = bytes[i..].iter().take_while(|b| **b == b'\\').count();
            let letter = bytes.get(i + run).is_some_and(|b| b.is_ascii_alphabetic());
            out.push_str(if run == 2 && letter {
                "\\"
            } else {
                &text[i..i + run]
            });
            i += run;
            continue;
        }
        let ch = text[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Words that may appear in an expression without making it prose.
fn is_known_word(w: &str) -> bool {
    matches!(
        w,
        "sin"
            | "cos"
            | "tan"
            | "cot"
            | "sec"
            | "csc"
            | "ln"
            | "log"
            | "exp"
            | "sqrt"
            | "pi"
            | "inf"
            | "infty"
            | "and"
            | "or"
            | "percent"
            | "pct"
            | "percentage"
            | "abs"
            | "arcsin"
            | "arccos"
            | "arctan"
            | "sinh"
            | "cosh"
            | "tanh"
            | "infinity"
            | "gamma"
    )
}

/// The whole text as one expression, if it looks like one: one line, no prose words.
fn whole_text_candidate(text: &str) -> Option<String> {
    let trimmed = text.trim();
    // Boxes are ranked by their own rule (and may be disabled), never through the whole text.
    let boxed = trimmed.contains("\\boxed") || trimmed.contains("\\fbox");
    if trimmed.is_empty() || trimmed.len() > 1000 || trimmed.contains('\n') || boxed {
        return None;
    }
    // A lone formatted number (`7,425,000`, `$1,000.99`, `1 000`).
    let spans = numbers(trimmed);
    let math_wrapped = trimmed.len() > 1 && trimmed.starts_with('$') && trimmed.ends_with('$');
    if let ([(span, start, end)], false) = (spans.as_slice(), math_wrapped) {
        let before = trimmed[..*start].trim_matches(|c: char| c == '$' || c.is_whitespace());
        let after =
            trimmed[*end..].trim_matches(|c: char| c == '$' || c.is_whitespace() || c == '.');
        if before.is_empty() && after.is_empty() {
            return Some(span.clone());
        }
    }
    let toks = tokenize(trimmed)?;
    let prose = toks.len() > 1
        && toks
            .iter()
            .any(|t| matches!(t, Tok::Word(w) if w.len() >= 3 && !is_known_word(w)));
    (!prose).then(|| trimmed.to_string())
}

/// Byte ranges of every `\\boxed{...}` / `\\fbox{...}`.
fn box_spans(text: &str) -> Vec<(usize, usize)> {
    find_boxes(text)
        .into_iter()
        .map(|(s, e, _)| (s, e))
        .collect()
}

/// Boxes, grouped by the anti-farming policy; every group is a candidate (the last one first).
fn boxes(text: &str, priority: i32, out: &mut Vec<Candidate>) {
    let found = find_boxes(text);
    group_boxes(text, found, priority, out);
}

/// Every box: (start, end, content), in text order.
fn find_boxes(text: &str) -> Vec<(usize, usize, &str)> {
    let bytes = text.as_bytes();
    let mut found: Vec<(usize, usize, &str)> = Vec::new(); // (start, end, content)
    let mut search = 0;
    // One forward pass over the backslashes, so a megabyte of `\\boxed` stays linear.
    while found.len() < MAX_BOXES * 4 {
        let Some(offset) = text[search..].find('\\') else {
            break;
        };
        let start = search + offset;
        let rest = &bytes[start..];
        let len = if rest.starts_with(b"\\boxed") {
            6
        } else if rest.starts_with(b"\\fbox") {
            5
        } else {
            search = start + 1;
            continue;
        };
        let mut i = start + len;
        while i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
        if bytes.get(i) != Some(&b'{') {
            search = start + len;
            continue;
        }
        match matching_brace(bytes, i) {
            Some(close) => {
                found.push((start, close + 1, &text[i + 1..close]));
                search = close + 1;
            }
            None => {
                // An unclosed box takes the rest of the text.
                found.push((start, text.len(), &text[i + 1..]));
                break;
            }
        }
    }
    found
}

/// Joins boxes into groups (see the module documentation) and pushes one candidate per group.
fn group_boxes(
    text: &str,
    found: Vec<(usize, usize, &str)>,
    priority: i32,
    out: &mut Vec<Candidate>,
) {
    let mut groups: Vec<Vec<(usize, usize, &str)>> = Vec::new();
    for b in found {
        let joined = groups.last().and_then(|g| g.last()).is_some_and(|prev| {
            let separator = &text[prev.1..b.0];
            let short = separator.chars().count() < 10;
            let listed = separator.chars().count() < 70
                && (separator.contains(',')
                    || separator.contains(';')
                    || separator.contains("and")
                    || separator.contains(" or "));
            short || listed
        });
        if joined {
            if let Some(g) = groups.last_mut() {
                g.push(b);
            }
        } else {
            groups.push(vec![b]);
        }
    }
    for group in groups.iter().rev().take(MAX_BOXES) {
        let mut contents: Vec<&str> = Vec::new();
        for (_, _, c) in group {
            let c = c.trim();
            if !contents.contains(&c) {
                contents.push(c);
            }
        }
        let end = group.last().map_or(0, |b| b.1);
        out.push(Candidate {
            text: contents.join(" , "),
            priority,
            end,
        });
    }
}

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).unwrap_or_else(|_| Regex::new("$^").unwrap()))
}

/// Anchored phrases and what follows them.
fn anchored(text: &str, targets: &Targets, out: &mut Vec<Candidate>) {
    static MINERVA: OnceLock<Regex> = OnceLock::new();
    static FINAL_IS: OnceLock<Regex> = OnceLock::new();
    static ANSWER: OnceLock<Regex> = OnceLock::new();
    // ASCII word boundaries and no bounded `.{1,2000}` keep these on the regex crate's fast
    // engines, so a megabyte of text is one quick scan.
    let minerva = regex(&MINERVA, r"(?i)final answer is");
    let final_is = regex(
        &FINAL_IS,
        r"(?i)final answer(?:[^\n]{0,50}?(?-u:\b)is(?-u:\b)|\s*[:：])\s*:?",
    );
    let answer = regex(
        &ANSWER,
        r"(?i)(?:(?-u:\b)answer\s*(?:is(?-u:\b)|[:：])|####)\s*:?",
    );
    // Minerva's "final answer is X. I hope it is correct": X up to "I hope", within 2000 bytes.
    let last = |re: &Regex| -> Vec<(usize, usize)> {
        let all: Vec<(usize, usize)> = re.find_iter(text).map(|m| (m.start(), m.end())).collect();
        all[all.len().saturating_sub(64)..].to_vec()
    };
    for (_, end) in last(minerva) {
        let window_end = floor_boundary(text, (end + 2000).min(text.len()));
        let window = &text[end..window_end];
        if let Some(hope) = find_ascii_case_insensitive(window, "i hope") {
            let content = window[..hope].trim_end();
            let content = content.strip_suffix('.').unwrap_or(content);
            push_anchor_content(content, 0, end + hope, targets, out);
        }
    }
    for (re, priority) in [(final_is, 50), (answer, 100)] {
        for (_, end) in last(re) {
            push_anchor_content(&text[end..], priority, end, targets, out);
        }
    }
}

/// The largest char boundary at or below `i`.
fn floor_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn find_ascii_case_insensitive(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    (0..h.len().saturating_sub(n.len() - 1)).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// What follows an anchor: a math environment if one starts there, else the sentence.
fn push_anchor_content(
    rest: &str,
    priority: i32,
    offset: usize,
    targets: &Targets,
    out: &mut Vec<Candidate>,
) {
    let trimmed = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '*' || c == ':');
    if targets.latex {
        let starts_math = ["$", "\\(", "\\[", "\\boxed"]
            .iter()
            .any(|p| trimmed.starts_with(p));
        if starts_math {
            if let Some((content, _, _)) = environment_groups(trimmed).into_iter().next() {
                out.push(Candidate {
                    text: content,
                    priority,
                    end: offset,
                });
                return;
            }
            if trimmed.starts_with("\\boxed") {
                return; // the box itself is a candidate already
            }
        }
    }
    if !targets.expr {
        return;
    }
    let sentence_end = trimmed
        .find('\n')
        .unwrap_or(trimmed.len())
        .min(trimmed.find(". ").unwrap_or(trimmed.len()))
        .min(trimmed.find("I hope").unwrap_or(trimmed.len()));
    let sentence = trimmed[..sentence_end]
        .trim()
        .trim_end_matches(['.', '*'])
        .trim();
    if let Some(whole) = whole_text_candidate(sentence) {
        out.push(Candidate {
            text: whole,
            priority,
            end: offset,
        });
        return;
    }
    if let Some((span, _, _)) = numbers(sentence).into_iter().next() {
        out.push(Candidate {
            text: span,
            priority,
            end: offset,
        });
    }
}

/// Math environments, with runs joined by "," / "and" / "or" gathered into one (as a list).
/// Returns (content, start, end), in text order.
fn environment_groups(text: &str) -> Vec<(String, usize, usize)> {
    let envs = environments(text);
    let mut groups: Vec<(Vec<&str>, usize, usize)> = Vec::new();
    for (content, start, end) in envs {
        let joined = groups.last().is_some_and(|(items, _, prev_end)| {
            let separator = text[*prev_end..start].trim();
            items.len() < 6
                && matches!(
                    separator.trim_end_matches(',').trim(),
                    "" | "," | "and" | "or" | ", and" | ", or"
                )
                && !separator.is_empty()
        });
        if joined {
            if let Some(g) = groups.last_mut() {
                g.0.push(content);
                g.2 = end;
            }
        } else {
            groups.push((vec![content], start, end));
        }
    }
    groups
        .into_iter()
        .map(|(items, s, e)| (items.join(" , "), s, e))
        .collect()
}

/// Environment candidates: each group, then (when a group joins several) each member, so that
/// one member that does not parse does not hide the others.
fn environment_candidates(text: &str) -> Vec<(String, usize, usize)> {
    let groups = environment_groups(text);
    let mut out = Vec::with_capacity(groups.len());
    for (content, start, end) in groups {
        let joined = content.contains(" , ");
        out.push((content, start, end));
        if joined {
            for (member, s, e) in environments(&text[start..end]) {
                out.push((member.to_string(), start + s, start + e));
            }
        }
    }
    out
}

/// `$$..$$`, `\[..\]` (may span lines), `$..$`, `\(..\)` (one line). (content, start, end).
fn environments(text: &str) -> Vec<(&str, usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    // Closers known to be absent from some point on: later searches would fail too, and
    // remembering that keeps a text full of unclosed `\(` linear.
    let mut exhausted: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < bytes.len() && out.len() < MAX_ENVIRONMENTS {
        let (open_len, close, multiline): (usize, &str, bool) = match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'$') => (2, "$$", true),
            b'$' => (1, "$", false),
            b'\\' if bytes.get(i + 1) == Some(&b'[') => (2, "\\]", true),
            b'\\' if bytes.get(i + 1) == Some(&b'(') => (2, "\\)", false),
            b'\\' => {
                i += 2; // skip escapes such as `\$`
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        let body_start = i + open_len;
        let found = if exhausted.contains(&close) {
            None
        } else {
            find_close(text, body_start, close)
        };
        if found.is_none() && !exhausted.contains(&close) {
            exhausted.push(close);
        }
        match found {
            Some(body_end) => {
                let body = &text[body_start..body_end];
                if multiline || !body.contains('\n') {
                    out.push((body, i, body_end + close.len()));
                    i = body_end + close.len();
                } else {
                    i = body_start;
                }
            }
            None => i = body_start,
        }
    }
    out
}

/// The next unescaped `close` at or after `from`.
fn find_close(text: &str, from: usize, close: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        // `\$` is an escaped dollar, not a closer.
        if bytes[i] == b'\\' && close.starts_with('$') {
            i += 2;
            continue;
        }
        if bytes[i..].starts_with(close.as_bytes()) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Numbers and simple numeric expressions in plain text, normalised for the parser:
/// thousands separators dropped, decimal comma to point, currency dropped, mixed numbers and
/// percent suffixes kept. (text, start, end), in text order; spans never overlap.
pub fn numbers(text: &str) -> Vec<(String, usize, usize)> {
    let bytes = text.as_bytes();
    // Only the last MAX_NUMBERS spans are kept: the rightmost are the ones tried.
    let mut out = std::collections::VecDeque::new();
    let mut buffer = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts_number = bytes[i].is_ascii_digit()
            || (matches!(bytes[i], b'-' | b'.')
                && bytes.get(i + 1).is_some_and(u8::is_ascii_digit));
        let left_ok = i == 0 || !bytes[i - 1].is_ascii_alphanumeric() && bytes[i - 1] != b'_';
        let left_ok = left_ok && !(i > 0 && bytes[i - 1] == b'.' && bytes[i] != b'.');
        if !(starts_number && left_ok) {
            i += 1;
            continue;
        }
        let end = scan_numeric_expression_into(text, i, &mut buffer);
        // A literal longer than the parser accepts is not an answer; skip it cheaply.
        if buffer.len() <= super::parser::MAX_DIGITS {
            if out.len() == MAX_NUMBERS {
                out.pop_front();
            }
            out.push_back((i, end));
        }
        i = end.max(i + 1);
    }
    // Normalised text only for the spans kept.
    out.into_iter()
        .map(|(start, end)| (scan_numeric_expression(text, start).0, start, end))
        .collect()
}

/// Reads one number (with separators) at `start`.
fn scan_number(bytes: &[u8], start: usize, out: &mut String) -> usize {
    let mut i = start;
    let digits = |i: usize| bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    let first = digits(i);
    out.push_str(std::str::from_utf8(&bytes[i..i + first]).unwrap_or("0"));
    i += first;
    // Thousands groups: `,ddd` or ` ddd`, only after a leading group of 1-3 digits.
    if (1..=3).contains(&first) {
        let mut separator: Option<u8> = None;
        while let Some(&sep) = bytes.get(i) {
            if !(sep == b',' || sep == b' ') || separator.is_some_and(|s| s != sep) {
                break;
            }
            let group = digits(i + 1);
            let after = bytes.get(i + 1 + group);
            let proper = group == 3 && !after.is_some_and(u8::is_ascii_digit);
            // `0,111` is a decimal comma, not thousands.
            let leading_zero = out == "0";
            // `4 4/9`: a space group followed by `/` is the start of a fraction.
            let fraction_follows = after == Some(&b'/');
            if !proper || leading_zero || fraction_follows {
                break;
            }
            out.push_str(std::str::from_utf8(&bytes[i + 1..i + 4]).unwrap_or(""));
            separator = Some(sep);
            i += 4;
        }
    }
    // Decimal part: `.dd`, or a decimal comma `,dd` not followed by a space.
    if let Some(&mark) = bytes.get(i) {
        let frac = if i + 1 < bytes.len() {
            digits(i + 1)
        } else {
            0
        };
        let comma_decimal = mark == b',' && frac > 0 && frac != 3 || (mark == b',' && out == "0");
        if frac > 0 && (mark == b'.' || comma_decimal) {
            out.push('.');
            out.push_str(std::str::from_utf8(&bytes[i + 1..i + 1 + frac]).unwrap_or(""));
            i += 1 + frac;
        }
    }
    i
}

/// A number, optionally a mixed number, a fraction or a short chain of numbers joined by
/// arithmetic operators, and a percent suffix.
fn scan_numeric_expression(text: &str, start: usize) -> (String, usize) {
    let mut out = String::new();
    let end = scan_numeric_expression_into(text, start, &mut out);
    (out, end)
}

/// [`scan_numeric_expression`] into a reused buffer (no allocation per span on long inputs).
fn scan_numeric_expression_into(text: &str, start: usize, out: &mut String) -> usize {
    out.clear();
    let bytes = text.as_bytes();
    let mut i = start;
    if bytes[i] == b'-' {
        out.push('-');
        i += 1;
    }
    if bytes[i] == b'.' {
        out.push('0');
    }
    i = scan_number(bytes, i, out);
    // Mixed number `4 4/9`.
    if bytes.get(i) == Some(&b' ') && !out.contains('.') {
        let mut probe = String::new();
        let j = i + 1;
        if bytes.get(j).is_some_and(u8::is_ascii_digit) {
            let after_num = scan_number(bytes, j, &mut probe);
            if bytes.get(after_num) == Some(&b'/')
                && bytes.get(after_num + 1).is_some_and(u8::is_ascii_digit)
            {
                let mut den = String::new();
                let after_den = scan_number(bytes, after_num + 1, &mut den);
                out.push(' ');
                out.push_str(&probe);
                out.push('/');
                out.push_str(&den);
                i = after_den;
            }
        }
    }
    // Operators between numbers: `2/3`, `3*4+1`, `2^10`.
    loop {
        let mut j = i;
        while bytes.get(j) == Some(&b' ') {
            j += 1;
        }
        let Some(&op) = bytes.get(j) else { break };
        if !matches!(op, b'/' | b'*' | b'^' | b'+' | b'-') {
            break;
        }
        let mut k = j + 1;
        while bytes.get(k) == Some(&b' ') {
            k += 1;
        }
        if !bytes.get(k).is_some_and(u8::is_ascii_digit) {
            break;
        }
        let mut operand = String::new();
        let after = scan_number(bytes, k, &mut operand);
        // `1-2` in a date or range is not arithmetic when spaces are uneven; keep it simple and
        // accept the operator only when it is tight or evenly spaced.
        let tight = j == i && k == j + 1;
        let spaced = j > i && k > j + 1;
        if !(tight || spaced) {
            break;
        }
        out.push(op as char);
        out.push_str(&operand);
        i = after;
    }
    // Percent suffix.
    let rest = &text[i..];
    let trimmed = rest.trim_start_matches(' ');
    for suffix in ["\\%", "%", "percentage", "percent", "pct"] {
        if trimmed.starts_with(suffix) {
            out.push('%');
            i += rest.len() - trimmed.len() + suffix.len();
            break;
        }
    }
    i
}

/// Multiple-choice letters: after an anchor, at the start, or standing alone.
fn choices(text: &str, letters: &[String], out: &mut Vec<Candidate>) {
    static ANCHOR: OnceLock<Regex> = OnceLock::new();
    let anchor = regex(
        &ANCHOR,
        r"(?i)answer\s*(?:is|:)?\s*[:(*\s]*\(?\s*([A-Za-z])\b",
    );
    let is_choice = |s: &str| letters.iter().any(|l| l.eq_ignore_ascii_case(s));
    for caps in anchor.captures_iter(text).take(64) {
        if let Some(m) = caps.get(1) {
            if is_choice(m.as_str()) && m.as_str().chars().all(|c| c.is_ascii_uppercase()) {
                out.push(Candidate {
                    text: m.as_str().to_uppercase(),
                    priority: 50,
                    end: m.end(),
                });
            }
        }
    }
    let bytes = text.as_bytes();
    let mut first = true;
    for (i, c) in text.char_indices() {
        if !c.is_ascii_uppercase() || !is_choice(&c.to_string()) {
            continue;
        }
        let left = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let right = bytes.get(i + 1).is_none_or(|b| !b.is_ascii_alphanumeric());
        if !(left && right) {
            continue;
        }
        let at_start = text[..i].trim_start_matches(['(', ' ', '*']).is_empty();
        let priority = if at_start && first { 100 } else { 300 };
        first = false;
        out.push(Candidate {
            text: c.to_string(),
            priority,
            end: i + 1,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets() -> Targets {
        Targets {
            latex: true,
            expr: true,
            choices: Vec::new(),
            boxed_priority: Some(0),
            without_anchor: true,
            whole_text: false,
        }
    }

    fn first(text: &str) -> String {
        candidates(text, &targets())[0].text.clone()
    }

    #[test]
    fn boxes_win_and_group() {
        assert_eq!(first(r"so \boxed{\frac{1}{2}} done"), r"\frac{1}{2}");
        assert_eq!(first(r"\boxed{1} and \boxed{2}"), "1 , 2");
        assert_eq!(first(r"\boxed{1} no no no no no \boxed{2}"), "2");
        assert_eq!(first(r"\boxed{840}. Final: \boxed{840}"), "840");
    }

    #[test]
    fn numbers_are_normalised() {
        let n = |s: &str| numbers(s).into_iter().map(|x| x.0).collect::<Vec<_>>();
        assert_eq!(n("7,425,000"), vec!["7425000"]);
        assert_eq!(n("1 000"), vec!["1000"]);
        assert_eq!(n("1000,99"), vec!["1000.99"]);
        assert_eq!(n("0,111"), vec!["0.111"]);
        assert_eq!(n("$1,000.99"), vec!["1000.99"]);
        assert_eq!(n("The answer is 4 4/9."), vec!["4 4/9"]);
        assert_eq!(n("AZYUK2A"), Vec::<String>::new());
        assert_eq!(n("28 percent"), vec!["28%"]);
    }

    #[test]
    fn think_is_not_the_answer() {
        assert_eq!(answer_region("<think>\\boxed{1}</think> 2"), Some(" 2"));
        assert_eq!(answer_region("<think>\\boxed{1}"), None);
    }
}
