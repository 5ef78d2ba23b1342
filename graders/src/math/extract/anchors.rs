//! Anchored phrases ("final answer is X. I hope", "final answer: X", "answer is X", "#### X")
//! and what follows them: a math environment, or the sentence (as one expression, or its first
//! number).
//!
//! Cost: the phrases are matched by hand, not with the regex crate: a megabyte of prose can
//! hold a candidate "answer" or "final answer" every few bytes, and the regex crate pays tens of
//! nanoseconds to reject each. The matchers give exactly the matches of the patterns in the
//! comments (the unit tests compare them on random text), with the regex crate's semantics:
//! Unicode case folding (`ſ` is an `s`), Unicode `\s`, ASCII word boundaries, leftmost-first
//! alternation. Only the last [`MAX_ANCHORS`] matches matter, and they are looked for in the
//! tail of the text first. What follows each anchor is found with searches shared between
//! anchors, or within a bounded window, so that many anchors in front of a megabyte of text do
//! not each scan it.

use std::collections::VecDeque;
use std::ops::ControlFlow;

use super::environments::first_environment_group;
use super::numbers::{
    is_barrier, last_kept_spans, left_ok, scan_numeric_expression, scan_spans_stepwise,
};
use super::reading::focus;
use super::search::{
    find_ascii_case_insensitive, find_pair, find_triple, floor_boundary, NextFinder,
};
use super::{whole_text_candidate, Candidate, Role, Targets, MAX_NUMBERS, WHOLE_TEXT_LONGEST};
use crate::math::parser::{MAX_ANSWER_BYTES, MAX_DIGITS};

/// Anchored phrases looked at per kind of phrase: the last ones.
const MAX_ANCHORS: usize = 64;

/// How far after an anchored phrase its math environment is looked for: room for the longest
/// answer that parses and its delimiters. Bounding it keeps 64 phrases in front of a megabyte
/// of unclosed `\(` from costing 64 scans of that megabyte.
pub const ANCHOR_MATH_WINDOW: usize = MAX_ANSWER_BYTES + 64;

/// Sentences after an anchor up to this long are scanned for numbers directly; longer ones share
/// one scan between the anchors that end in the same place.
const SHORT_SENTENCE: usize = 2048;

/// The last anchors of a kind whose sentences are read for their answer ([`focus`]), and how
/// long such a sentence may be: the reading costs a few passes per pattern over the sentence,
/// so it is bounded to the anchors that are tried first (the rightmost) and to sentences that
/// real answers fit in. Earlier anchors and longer sentences give the whole sentence or its
/// first number.
const FOCUSED_ANCHORS: usize = 8;
pub(super) const MAX_FOCUSED_SENTENCE: usize = 600;

// The phrases, as the regular expressions that the matchers below implement by hand (and that
// the unit tests compare them with).
#[cfg(test)]
const MINERVA_PATTERN: &str = r"(?i)final answer is";

#[cfg(test)]
const FINAL_IS_PATTERN: &str = r"(?i)final answer(?:[^\n]{0,50}?(?-u:\b)is(?-u:\b)|\s*[:：])\s*:?";

#[cfg(test)]
const ANSWER_PATTERN: &str = r"(?i)(?:(?-u:\b)answer\s*(?:is(?-u:\b)|[:：])|####)\s*:?";

fn ascii_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// An ASCII word boundary (`(?-u:\b)`) at `i`.
fn word_boundary(bytes: &[u8], i: usize) -> bool {
    let before = i > 0 && ascii_word(bytes[i - 1]);
    let after = bytes.get(i).is_some_and(|b| ascii_word(*b));
    before != after
}

/// `word` (lower-case ASCII) at `i`, case-insensitively; `ſ` (U+017F) counts as an `s`, as in
/// Unicode case folding. The index after it.
fn word_at(bytes: &[u8], mut i: usize, word: &[u8]) -> Option<usize> {
    for &expected in word {
        let b = *bytes.get(i)?;
        if b.to_ascii_lowercase() == expected {
            i += 1;
        } else if expected == b's' && b == 0xC5 && bytes.get(i + 1) == Some(&0xBF) {
            i += 2;
        } else {
            return None;
        }
    }
    Some(i)
}

/// The index after the (Unicode) whitespace starting at `i`.
fn skip_space(text: &str, i: usize) -> usize {
    text[i..]
        .find(|c: char| !c.is_whitespace())
        .map_or(text.len(), |n| i + n)
}

/// `\s*:?` at `i`: the end of a match.
fn trailing_colon(text: &str, i: usize) -> usize {
    let i = skip_space(text, i);
    if text.as_bytes().get(i) == Some(&b':') {
        i + 1
    } else {
        i
    }
}

/// `is(?-u:\b)` at `i`: the index after it.
fn is_at(bytes: &[u8], i: usize) -> Option<usize> {
    let end = word_at(bytes, i, b"is")?;
    word_boundary(bytes, end).then_some(end)
}

/// `(?-u:\b)is(?-u:\b)` at `i`: the index after it.
fn is_word_at(bytes: &[u8], i: usize) -> Option<usize> {
    word_boundary(bytes, i).then(|| is_at(bytes, i)).flatten()
}

/// `\s*[:：]` at `i`: the index after it.
fn colon_after_space(text: &str, i: usize) -> Option<usize> {
    let j = skip_space(text, i);
    let rest = &text.as_bytes()[j..];
    if rest.first() == Some(&b':') {
        Some(j + 1)
    } else if rest.starts_with("：".as_bytes()) {
        Some(j + "：".len())
    } else {
        None
    }
}

/// The leftmost match of `(?:(?-u:\b)answer\s*(?:is(?-u:\b)|[:：])|####)\s*:?` at or after `from`.
fn find_answer(text: &str, from: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut at = from;
    loop {
        let start = find_triple(bytes, at, b'a', b'A', b'#')?;
        at = start + 1;
        let middle = if bytes[start] == b'#' {
            bytes[start..].starts_with(b"####").then_some(start + 4)
        } else if start == 0 || !ascii_word(bytes[start - 1]) {
            word_at(bytes, start, b"answer").and_then(|after| {
                let j = skip_space(text, after);
                is_at(bytes, j).or_else(|| colon_after_space(text, j))
            })
        } else {
            None
        };
        if let Some(middle) = middle {
            return Some((start, trailing_colon(text, middle)));
        }
    }
}

/// The leftmost matches of `(?i)final answer(?:[^\n]{0,50}?(?-u:\b)is(?-u:\b)|\s*[:：])\s*:?`,
/// in order. The lazy gap ends at the first "is" after the phrase, so the next "is" and the next
/// newline are searched for once and remembered while they are still ahead.
struct FinalIsMatcher {
    /// The first `\bis\b` at or after a position: (searched from, (start, end)).
    next_is: Option<(usize, Option<(usize, usize)>)>,
    newline: NextFinder,
}

impl FinalIsMatcher {
    fn new() -> FinalIsMatcher {
        FinalIsMatcher {
            next_is: None,
            newline: NextFinder::new("\n", 0),
        }
    }

    fn next_is(&mut self, bytes: &[u8], from: usize) -> Option<(usize, usize)> {
        if let Some((searched, found)) = self.next_is {
            if searched <= from && found.is_none_or(|(s, _)| s >= from) {
                return found;
            }
        }
        let mut at = from;
        let found = loop {
            let Some(i) = find_pair(bytes, at, b'i', b'I') else {
                break None;
            };
            if let Some(end) = is_word_at(bytes, i) {
                break Some((i, end));
            }
            at = i + 1;
        };
        self.next_is = Some((from, found));
        found
    }

    fn find(&mut self, text: &str, from: usize) -> Option<(usize, usize)> {
        let bytes = text.as_bytes();
        let mut at = from;
        loop {
            let start = find_pair(bytes, at, b'f', b'F')?;
            at = start + 1;
            let Some(gap) = word_at(bytes, start, b"final answer") else {
                continue;
            };
            // `[^\n]{0,50}?\bis\b`: the first "is" after the phrase, if no newline comes first
            // and it is at most 50 characters on.
            let lazy = self.next_is(bytes, gap).filter(|(is, _)| {
                let no_newline = self.newline.at(text, gap).is_none_or(|nl| nl >= *is);
                let near =
                    *is - gap <= 50 || (*is - gap <= 200 && text[gap..*is].chars().count() <= 50);
                no_newline && near
            });
            let middle = match lazy {
                Some((_, end)) => Some(end),
                None => colon_after_space(text, gap),
            };
            if let Some(middle) = middle {
                return Some((start, trailing_colon(text, middle)));
            }
        }
    }
}

/// The ends of the last [`MAX_ANCHORS`] matches that `find` (the leftmost match at or after a
/// position) gives, in text order.
///
/// The matches are searched for in the last 16 KB first: a megabyte of "answer: 1" costs a
/// hundred matches, not a hundred thousand. The tail starts where `resync` moved it so that no
/// match straddling its start can change what follows: the matches found there are the
/// matches of a search over the whole text that start in the tail, plus at most one that ends
/// where a straddling match ends. Only if the tail holds too few is the text before it
/// searched, up to the first match that starts in the tail, and the two lists joined.
fn last_match_ends(
    text: &str,
    resync: fn(&str, usize) -> usize,
    mut find: impl FnMut(&str, usize) -> Option<(usize, usize)>,
) -> Vec<usize> {
    const TAIL: usize = 16 * 1024;
    let keep = |ends: &mut VecDeque<usize>, end: usize| {
        if ends.len() == MAX_ANCHORS {
            ends.pop_front();
        }
        ends.push_back(end);
    };
    let tail_start = if text.len() > TAIL {
        resync(text, floor_boundary(text, text.len() - TAIL))
    } else {
        0
    };
    let mut tail = VecDeque::with_capacity(MAX_ANCHORS);
    let mut at = tail_start;
    // None of the phrases matches the empty string, so each search moves on.
    while let Some((_, end)) = find(text, at) {
        keep(&mut tail, end);
        at = end;
    }
    if tail_start == 0 || tail.len() == MAX_ANCHORS {
        return tail.into();
    }
    let mut ends = VecDeque::with_capacity(MAX_ANCHORS);
    let mut at = 0;
    while let Some((start, end)) = find(text, at) {
        if start >= tail_start {
            break;
        }
        keep(&mut ends, end);
        at = end;
    }
    let head_end = ends.back().copied().unwrap_or(0);
    for end in tail.into_iter().filter(|&end| end > head_end) {
        keep(&mut ends, end);
    }
    ends.into()
}

/// An `ANSWER` match can begin inside another only within a run of `#` (`#####`: a search from
/// the second `#` finds another match), so the tail starts before such a run.
fn resync_answer(text: &str, mut from: usize) -> usize {
    let bytes = text.as_bytes();
    while from > 0 && bytes[from - 1] == b'#' {
        from -= 1;
    }
    from
}

/// A search from inside a `FINAL_IS` match finds either nothing in it or another "final answer"
/// in its gap, whose lazy gap ends at the same "is": the same end. Literal phrases (Minerva)
/// never overlap. Any start will do.
fn resync_any(_: &str, from: usize) -> usize {
    from
}

/// The leftmost `(?i)final answer is` at or after `from`.
fn find_minerva(text: &str, from: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut at = from;
    loop {
        let start = find_pair(bytes, at, b'f', b'F')?;
        if let Some(end) = word_at(bytes, start, b"final answer is") {
            return Some((start, end));
        }
        at = start + 1;
    }
}

/// "final answer ... is X", "final answer: X" (priority 50).
pub(super) fn final_is(text: &str, targets: &Targets, out: &mut Vec<Candidate>) {
    let mut matcher = FinalIsMatcher::new();
    let ends = last_match_ends(text, resync_any, |t, at| matcher.find(t, at));
    Anchors::new(text).push_all(&ends, 50, targets, out);
}

/// "answer: X", "answer is X", "#### X" (priority 100).
pub(super) fn answer(text: &str, targets: &Targets, out: &mut Vec<Candidate>) {
    let ends = last_match_ends(text, resync_answer, find_answer);
    Anchors::new(text).push_all(&ends, 100, targets, out);
}

/// Minerva's "final answer is X. I hope it is correct": X up to "I hope", within 2000 bytes.
pub(super) fn minerva(text: &str, targets: &Targets, out: &mut Vec<Candidate>) {
    let mut anchors = Anchors::new(text);
    let ends = last_match_ends(text, resync_any, find_minerva);
    let first_focused = ends.len().saturating_sub(FOCUSED_ANCHORS);
    for (index, end) in ends.into_iter().enumerate() {
        let window_end = floor_boundary(text, (end + 2000).min(text.len()));
        let window = &text[end..window_end];
        if let Some(hope) = find_ascii_case_insensitive(window, "i hope") {
            let content = window[..hope].trim_end();
            let content = content.strip_suffix('.').unwrap_or(content);
            let focused = index >= first_focused;
            if let Some(candidate) = anchors.content(end, end + content.len(), targets, focused) {
                out.push(candidate.at(0, end + hope));
            }
        }
    }
}

/// What follows the anchored phrases of one text. The searches that would otherwise run from
/// every anchor to the end of the text (the end of the sentence, its numbers) are remembered
/// between anchors, which come in text order.
pub(super) struct Anchors<'t> {
    text: &'t str,
    newline: NextFinder,
    period: NextFinder,
    hope: NextFinder,
    /// The end of the trimmed sentence that stops at a given place: (stop, end).
    sentence_end: Option<(usize, usize)>,
    /// The number spans of the last long sentence.
    spans: Option<SentenceSpans>,
}

/// The last [`MAX_NUMBERS`] number spans that a scan of `text[from..end]` keeps: all that any
/// anchor's candidate can be (see `first_number`).
struct SentenceSpans {
    from: usize,
    end: usize,
    last: VecDeque<(usize, usize)>,
}

impl<'t> Anchors<'t> {
    pub(super) fn new(text: &'t str) -> Anchors<'t> {
        Anchors {
            text,
            newline: NextFinder::new("\n", 0),
            period: NextFinder::new(". ", 0),
            hope: NextFinder::new("I hope", 0),
            sentence_end: None,
            spans: None,
        }
    }

    fn push_all(
        &mut self,
        ends: &[usize],
        priority: i32,
        targets: &Targets,
        out: &mut Vec<Candidate>,
    ) {
        let first_focused = ends.len().saturating_sub(FOCUSED_ANCHORS);
        for (index, &end) in ends.iter().enumerate() {
            let focused = index >= first_focused;
            if let Some(candidate) = self.content(end, self.text.len(), targets, focused) {
                out.push(candidate.at(priority, end));
            }
        }
    }

    /// What follows an anchor (`text[start..limit]`): a math environment if one starts there,
    /// else the sentence (the whole sentence as an expression, or its first number). The
    /// candidate's priority and end are the caller's to set.
    ///
    /// `focused`: read the sentence for its answer ([`focus`]) when it is short enough; else
    /// take it whole or its first number.
    fn content(
        &mut self,
        start: usize,
        limit: usize,
        targets: &Targets,
        focused: bool,
    ) -> Option<Candidate> {
        let text = self.text;
        let rest = &text[start..limit];
        let trimmed = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '*' || c == ':');
        let from = limit - trimmed.len();
        if targets.latex {
            let starts_math = ["$", "\\(", "\\[", "\\boxed"]
                .iter()
                .any(|p| trimmed.starts_with(p));
            if starts_math {
                let window =
                    &trimmed[..floor_boundary(trimmed, trimmed.len().min(ANCHOR_MATH_WINDOW))];
                if let Some((content, end, parts)) = first_environment_group(window) {
                    let mut candidate = Candidate::new(content, 0, 0, (from, from + end));
                    if parts > 1 {
                        candidate.role = Role::Container;
                    }
                    return Some(candidate);
                }
                if trimmed.starts_with("\\boxed") {
                    return None; // the box itself is a candidate already
                }
            }
        }
        if !targets.expr {
            return None;
        }
        let (sentence_start, sentence_end) = self.sentence(from, limit);
        let sentence = &text[sentence_start..sentence_end];
        if focused && sentence.len() <= MAX_FOCUSED_SENTENCE {
            return self.read_sentence(sentence_start, sentence_end, targets, false);
        }
        if let Some(whole) = whole_text_candidate(sentence, WHOLE_TEXT_LONGEST) {
            return Some(Candidate::new(whole, 0, 0, (sentence_start, sentence_end)));
        }
        let (number, start, end) = if sentence.len() <= SHORT_SENTENCE {
            // `numbers(sentence)`'s first, without normalising the spans after it.
            let (start, _) = *last_kept_spans(sentence).first()?;
            let (number, end) = scan_numeric_expression(sentence, start);
            (number, sentence_start + start, sentence_start + end)
        } else {
            self.first_number(sentence_start, sentence_end)?
        };
        Some(Candidate::new(number, 0, 0, (start, end)))
    }

    /// The answer a sentence (`text[start..end]`, short) states: the part [`focus`] picks, read
    /// as a math environment if it starts with one, else as one expression, else its first
    /// number.
    ///
    /// `prose`: the sentence is a reading of prose, not what follows an anchor. There a part
    /// that starts with a digit is read as a number (with its separators, units and percent
    /// sign, as [`numbers`](super::numbers) reads them): in running text `2,74 $ a` is 2.74,
    /// not the list {2, 74a}.
    pub(super) fn read_sentence(
        &mut self,
        start: usize,
        end: usize,
        targets: &Targets,
        prose: bool,
    ) -> Option<Candidate> {
        let text = self.text;
        let (s, e) = focus(&text[start..end]);
        let (a, b) = (start + s, start + e);
        let part = &text[a..b];
        if targets.latex
            && ["$", "\\(", "\\[", "\\begin{"]
                .iter()
                .any(|p| part.starts_with(p))
        {
            let window = &text[a..floor_boundary(text, (a + ANCHOR_MATH_WINDOW).min(text.len()))];
            if let Some((content, group_end, parts)) = first_environment_group(window) {
                let mut candidate = Candidate::new(content, 0, 0, (a, a + group_end));
                if parts > 1 {
                    candidate.role = Role::Container;
                }
                return Some(candidate);
            }
        }
        if !targets.expr {
            return None;
        }
        let digit_first = part.bytes().next().is_some_and(|c| c.is_ascii_digit());
        if !(prose && digit_first) {
            if let Some(whole) = whole_text_candidate(part, WHOLE_TEXT_LONGEST) {
                return Some(Candidate::new(whole, 0, 0, (a, b)));
            }
        }
        let (number_start, _) = *last_kept_spans(part).first()?;
        let (number, number_end) = scan_numeric_expression(part, number_start);
        Some(Candidate::new(
            number,
            0,
            0,
            (a + number_start, a + number_end),
        ))
    }

    /// The sentence that starts at `from` and runs to the end of the line, a ". ", "I hope" or
    /// `limit` (whichever comes first), trimmed: (start, end).
    fn sentence(&mut self, from: usize, limit: usize) -> (usize, usize) {
        let text = self.text;
        let stop = [
            self.newline.at(text, from),
            self.period.at(text, from),
            self.hope.at(text, from),
        ]
        .into_iter()
        .flatten()
        .fold(limit, usize::min);
        // Anchors in one sentence share its stop, so the trim back from the stop is done once.
        // Trimming `text[..stop]` rather than `text[from..stop]` gives the same end unless it
        // runs back past `from`, where the sentence is empty either way (`from` is not a space).
        let end = match self.sentence_end {
            Some((s, e)) if s == stop => e,
            _ => {
                let e = text[..stop]
                    .trim_end()
                    .trim_end_matches(['.', '*'])
                    .trim_end()
                    .len();
                self.sentence_end = Some((stop, e));
                e
            }
        };
        // The trim from the stop may run back past `from`: then the sentence is empty.
        (from, end.max(from))
    }

    /// `numbers(&text[from..end])`'s first span, from one scan of the sentence shared by all
    /// the anchors in it.
    ///
    /// `numbers` keeps the last [`MAX_NUMBERS`] spans, and the candidate is the first of those:
    /// the first span from `from` on, or the last-but-[`MAX_NUMBERS`] span of the sentence if
    /// there are more. A scan from `from` agrees with the shared scan (from an earlier anchor)
    /// from the first position both examine with the same left context; an anchor starts at
    /// such a position (the shared scan is not inside a number there), or else one comes right
    /// after the next byte that no number holds, which every anchor phrase has.
    fn first_number(&mut self, from: usize, end: usize) -> Option<(String, usize, usize)> {
        let text = self.text;
        let bytes = text.as_bytes();
        let reusable = self
            .spans
            .as_ref()
            .is_some_and(|s| s.end == end && s.from <= from);
        if !reusable {
            let last = last_kept_spans(&text[from..end])
                .into_iter()
                .map(|(s, e)| (from + s, from + e))
                .collect();
            self.spans = Some(SentenceSpans { from, end, last });
        }
        let spans = self.spans.as_ref()?;
        let sentence = &text[from..end];
        // The shared scan examines `from` outside any number when the bytes before it, back to
        // one that no number holds, include no digit and do not end in a sign or point before
        // a digit (a number starts with one of those); and it decides there as this scan does
        // when nothing on the left stops a number starting there.
        let signed = from > 0
            && matches!(bytes[from - 1], b'-' | b'.')
            && bytes.get(from).is_some_and(u8::is_ascii_digit);
        let at_start = from == spans.from
            || (left_ok(bytes, from)
                && !signed
                && !bytes[spans.from..from]
                    .iter()
                    .rev()
                    .take_while(|b| !is_barrier(**b))
                    .any(u8::is_ascii_digit));
        let mut own = Kept::default();
        let mut sync = None;
        scan_spans_stepwise(sentence, |position, span| {
            let at = from + position;
            if (at == from && at_start) || (at > from && is_barrier(bytes[at - 1])) {
                sync = Some(at);
                return ControlFlow::Break(());
            }
            if let Some((s, e, len)) = span {
                if len <= MAX_DIGITS {
                    own.push((from + s, from + e));
                }
            }
            ControlFlow::Continue(())
        });
        // The shared spans from `sync` on, among the last ones: those after the first `k`. When
        // `k` is 0 there may be more before the last ones; if the last ones are MAX_NUMBERS,
        // that is all the candidate needs to know (it is then the oldest of them).
        let (shared, first_shared) = match sync {
            None => (0, spans.last.len()),
            Some(at) => {
                let k = spans.last.partition_point(|(s, _)| *s < at);
                (spans.last.len() - k, k)
            }
        };
        let total = own.count + shared;
        let index = total.saturating_sub(MAX_NUMBERS);
        let (start, _) = if index < own.count {
            own.get(index)?
        } else {
            *spans.last.get(first_shared + index - own.count)?
        };
        let (number, end) = scan_numeric_expression(sentence, start - from);
        Some((number, start, from + end))
    }
}

/// Spans as `numbers` keeps them: how many there were, and the last [`MAX_NUMBERS`] (which
/// hold every span a candidate can be; see [`Anchors::first_number`]).
#[derive(Default)]
struct Kept {
    count: usize,
    last: VecDeque<(usize, usize)>,
}

impl Kept {
    fn push(&mut self, span: (usize, usize)) {
        self.count += 1;
        if self.last.len() == MAX_NUMBERS {
            self.last.pop_front();
        }
        self.last.push_back(span);
    }

    /// The `index`-th span, when it is one of the last.
    fn get(&self, index: usize) -> Option<(usize, usize)> {
        let skipped = self.count - self.last.len();
        self.last.get(index.checked_sub(skipped)?).copied()
    }
}

#[cfg(test)]
mod tests {
    use regex::Regex;

    use super::super::numbers::{numbers, scan_spans};
    use super::*;

    /// A matcher: the leftmost match at or after a position.
    type FindFn<'a> = dyn FnMut(&str, usize) -> Option<(usize, usize)> + 'a;

    const PHRASE_PIECES: &[&str] = &[
        "final answer",
        "Final Answer",
        "FINAL ANSWER",
        "final anſwer",
        "fINal",
        "answer",
        "ANSWER",
        "anſwer",
        "answers",
        " is",
        "is",
        "iſ",
        "IS",
        "is:",
        "this",
        ":",
        "：",
        " ",
        "  ",
        "\n",
        "\t",
        "\u{a0}",
        "####",
        "#",
        "x",
        "_",
        "1",
        "é",
        ".",
        "f",
        "a gap of some forty characters or so ...",
    ];

    #[test]
    fn hand_matchers_agree_with_the_patterns() {
        let minerva = Regex::new(MINERVA_PATTERN).unwrap();
        let final_is = Regex::new(FINAL_IS_PATTERN).unwrap();
        let answer = Regex::new(ANSWER_PATTERN).unwrap();
        let mut state = crate::xorshift::Xorshift::new(0x1234_5678_9ABC_DEF1);
        for _ in 0..20_000 {
            let text = state.text(PHRASE_PIECES, 30);
            let all = |re: &Regex| -> Vec<(usize, usize)> {
                re.find_iter(&text).map(|m| (m.start(), m.end())).collect()
            };
            let mut matcher = FinalIsMatcher::new();
            let by_hand = |find: &mut FindFn| {
                let mut out = Vec::new();
                let mut at = 0;
                while let Some(m) = find(&text, at) {
                    out.push(m);
                    at = m.1;
                }
                out
            };
            assert_eq!(
                by_hand(&mut |t, at| matcher.find(t, at)),
                all(&final_is),
                "{text:?}"
            );
            assert_eq!(by_hand(&mut find_answer), all(&answer), "{text:?}");
            assert_eq!(by_hand(&mut find_minerva), all(&minerva), "{text:?}");
        }
    }

    #[test]
    fn tail_search_finds_the_last_matches() {
        let minerva = Regex::new(MINERVA_PATTERN).unwrap();
        let final_is = Regex::new(FINAL_IS_PATTERN).unwrap();
        let answer = Regex::new(ANSWER_PATTERN).unwrap();
        let mut state = crate::xorshift::Xorshift::new(0x0BAD_CAFE_1234_5678);
        for round in 0..60 {
            // Long texts (past the 16 KB tail), dense or sparse in phrases (so that the tail
            // holds all the last matches, or too few and the head is searched too).
            let mut text = state.text(PHRASE_PIECES, 6000);
            if round % 3 == 0 {
                text = "x".repeat(20_000) + &text;
            }
            if round % 3 == 1 {
                let filler = " no phrase here".repeat(40);
                text = text.split_inclusive(' ').collect::<Vec<_>>().join(&filler);
            }
            let last = |re: &Regex| -> Vec<usize> {
                let ends: Vec<usize> = re.find_iter(&text).map(|m| m.end()).collect();
                ends[ends.len().saturating_sub(MAX_ANCHORS)..].to_vec()
            };
            let mut matcher = FinalIsMatcher::new();
            let got = last_match_ends(&text, resync_any, |t, at| matcher.find(t, at));
            assert_eq!(got, last(&final_is));
            assert_eq!(
                last_match_ends(&text, resync_answer, find_answer),
                last(&answer)
            );
            assert_eq!(
                last_match_ends(&text, resync_any, find_minerva),
                last(&minerva)
            );
        }
    }

    /// Pieces of number-dense text: numbers in every form the scanner reads, the separators
    /// between them, and anchor phrases; no sentence ends, so sentences run long (see
    /// [`with_sentence_ends`]).
    const NUMBER_PIECES: &[&str] = &[
        "1",
        "23",
        " ",
        " ",
        "000",
        ",",
        ", ",
        "/",
        "%",
        " percent",
        "-",
        "x",
        "\\%",
        "$",
        "1 1/2",
        "2.5",
        "-.5",
        "3,5",
        "1e5",
        "10^3",
        "(",
        ")",
        "answer is ",
        "answer: ",
        "**",
        "word ",
        "\\frac",
    ];

    /// `text` with a sentence end after about every `every` bytes.
    fn with_sentence_ends(text: &str, every: usize) -> String {
        let mut out = String::new();
        for (i, piece) in text.split_inclusive(' ').enumerate() {
            out.push_str(piece);
            if i % every == every - 1 {
                out.push_str(if i % 2 == 0 { ". " } else { "\n" });
            }
        }
        out
    }

    /// One forward scan of the whole text, keeping the last [`MAX_NUMBERS`] spans.
    fn kept_by_one_scan(text: &str) -> Vec<(usize, usize)> {
        let mut kept = VecDeque::new();
        scan_spans(text, 0, text.len(), |start, end, len| {
            if len <= MAX_DIGITS {
                if kept.len() == MAX_NUMBERS {
                    kept.pop_front();
                }
                kept.push_back((start, end));
            }
            ControlFlow::Continue(())
        });
        kept.into()
    }

    #[test]
    fn spans_kept_from_chunks_at_the_end_are_those_of_one_forward_scan() {
        let mut state = crate::xorshift::Xorshift::new(0x5EED_0FC0_FFEE);
        for round in 0..150 {
            // Past the first 4 KB chunk; every third text sparse, so the chunks grow.
            let mut text = state.text(NUMBER_PIECES, 8000);
            if round % 3 == 0 {
                text = text.split_inclusive(' ').collect::<Vec<_>>().join("words ");
            }
            if round % 2 == 0 {
                text = with_sentence_ends(&text, 40);
            }
            assert_eq!(
                last_kept_spans(&text),
                kept_by_one_scan(&text),
                "round {round}"
            );
        }
    }

    #[test]
    fn an_anchors_number_from_the_shared_scan_is_that_of_its_own_scan() {
        let mut state = crate::xorshift::Xorshift::new(0xFEED_5EED_0000_0001);
        for round in 0..60 {
            // Sentences of a few kilobytes hold many anchors each, which share one scan.
            let text = with_sentence_ends(&state.text(NUMBER_PIECES, 6000), 700);
            let mut anchors = Anchors::new(&text);
            let mut at = 0;
            while let Some((_, end)) = find_answer(&text, at) {
                at = end;
                let rest = &text[end..];
                let from = text.len()
                    - rest
                        .trim_start_matches(|c: char| c.is_whitespace() || c == '*' || c == ':')
                        .len();
                let (start, stop) = anchors.sentence(from, text.len());
                let own = numbers(&text[start..stop])
                    .into_iter()
                    .next()
                    .map(|(n, s, e)| (n, start + s, start + e));
                assert_eq!(
                    anchors.first_number(start, stop),
                    own,
                    "round {round}, anchor at {end}"
                );
            }
        }
    }
}
