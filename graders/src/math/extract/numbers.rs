//! Numbers in plain text: a span is a number with its separators, a mixed number, a short chain
//! of numbers joined by operators, or any of these with a percent suffix; its text is normalised
//! for the parser (thousands separators dropped, decimal comma to point).
//!
//! The scan is one forward pass; the kept spans (the last [`MAX_NUMBERS`]) are found by
//! scanning from the end in chunks that start right after a byte no span can hold, and the
//! scan measures a span's normalised text instead of writing it until it knows the span is
//! kept.

use std::collections::VecDeque;
use std::ops::ControlFlow;

use super::search::{find_digit, find_last, has_prefix};
use super::MAX_NUMBERS;
use crate::math::parser::MAX_DIGITS;

/// The last barrier byte (see [`is_barrier`]) before `end`.
fn find_last_barrier(bytes: &[u8], end: usize) -> Option<usize> {
    find_last(bytes, end, is_barrier)
}

/// The first index at or after `from` where a number may start: a digit, or `-` / `.` right
/// before one.
fn number_start(bytes: &[u8], from: usize) -> Option<usize> {
    let digit = find_digit(bytes, from)?;
    Some(if digit > from && matches!(bytes[digit - 1], b'-' | b'.') {
        digit - 1
    } else {
        digit
    })
}

/// Whether a number starting at `i` stands on its own (not `x2`, `a_1`, or the `5` of `.5`).
pub(super) fn left_ok(bytes: &[u8], i: usize) -> bool {
    let left_ok = i == 0 || !bytes[i - 1].is_ascii_alphanumeric() && bytes[i - 1] != b'_';
    left_ok && !(i > 0 && bytes[i - 1] == b'.' && bytes[i] != b'.')
}

/// Calls `f(start, end, normalised length)` for every number span of `text` that starts at or
/// after `from` and before `stop`, in order, until it breaks.
pub(super) fn scan_spans(
    text: &str,
    from: usize,
    stop: usize,
    mut f: impl FnMut(usize, usize, usize) -> ControlFlow<()>,
) {
    let bytes = text.as_bytes();
    let mut buffer = Measure::default();
    let mut i = from;
    while let Some(start) = number_start(bytes, i) {
        if start >= stop {
            return;
        }
        if !left_ok(bytes, start) {
            i = start + 1;
            continue;
        }
        let end = scan_numeric_expression_into(bytes, start, &mut buffer);
        if f(start, end, buffer.len()).is_break() {
            return;
        }
        i = end.max(start + 1);
    }
}

/// [`scan_spans`] that also reports the positions in between: `f(position, span)` for every
/// position the scan examines, with the span found there, if any.
pub(super) fn scan_spans_stepwise(
    text: &str,
    mut f: impl FnMut(usize, Option<(usize, usize, usize)>) -> ControlFlow<()>,
) {
    let bytes = text.as_bytes();
    let mut buffer = Measure::default();
    let mut i = 0;
    while i < bytes.len() {
        let starts_number = bytes[i].is_ascii_digit()
            || (matches!(bytes[i], b'-' | b'.')
                && bytes.get(i + 1).is_some_and(u8::is_ascii_digit));
        if !(starts_number && left_ok(bytes, i)) {
            if f(i, None).is_break() {
                return;
            }
            i += 1;
            continue;
        }
        let end = scan_numeric_expression_into(bytes, i, &mut buffer);
        if f(i, Some((i, end, buffer.len()))).is_break() {
            return;
        }
        i = end.max(i + 1);
    }
    // The end of the text is a position both scans reach.
    let _ = f(bytes.len(), None);
}

/// Whether no number span can contain byte `b` (spans hold digits, separators, operators and
/// percent suffixes). A scan that starts right after such a byte finds exactly the spans that a
/// scan of the whole text finds there.
#[inline(always)]
pub(super) fn is_barrier(b: u8) -> bool {
    !(b.is_ascii_digit()
        || matches!(
            b,
            b'-' | b'.' | b',' | b' ' | b'/' | b'*' | b'^' | b'+' | b'%' | b'\\'
                // the letters of "percentage", "percent", "pct"
                | b'p' | b'e' | b'r' | b'c' | b'n' | b't' | b'a' | b'g'
        ))
}

/// Numbers and simple numeric expressions in plain text, normalised for the parser:
/// thousands separators dropped, decimal comma to point, currency dropped, mixed numbers and
/// percent suffixes kept. (text, start, end), in text order; spans never overlap.
pub fn numbers(text: &str) -> Vec<(String, usize, usize)> {
    // Normalised text only for the spans kept.
    last_kept_spans(text)
        .into_iter()
        .map(|(start, end)| (scan_numeric_expression(text, start).0, start, end))
        .collect()
}

/// The last [`MAX_NUMBERS`] spans of `text` short enough to keep (the rightmost are the ones
/// tried), as a scan of the whole text finds them: (start, end), in text order.
///
/// The text is scanned from the end, in growing chunks that each start at a resync point (see
/// [`resync_after`]: a scan from there finds what a scan of the whole text finds there), until
/// enough spans are found: a megabyte of `$1$` or of `1 1 1` costs what its last kilobytes
/// cost.
pub(super) fn last_kept_spans(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut chunks: Vec<VecDeque<(usize, usize)>> = Vec::new();
    let mut found = 0;
    let mut end = bytes.len();
    let mut size = 4096;
    while end > 0 && found < MAX_NUMBERS {
        let from = chunk_start(bytes, end, size);
        let mut chunk = VecDeque::new();
        scan_spans(text, from, end, |start, span_end, len| {
            // A literal longer than the parser accepts is not an answer; skip it cheaply.
            if len <= MAX_DIGITS {
                if chunk.len() == MAX_NUMBERS {
                    chunk.pop_front();
                }
                chunk.push_back((start, span_end));
            }
            ControlFlow::Continue(())
        });
        found += chunk.len();
        chunks.push(chunk);
        end = from;
        size = size.saturating_mul(4);
    }
    let kept: Vec<(usize, usize)> = chunks.into_iter().rev().flatten().collect();
    kept[kept.len().saturating_sub(MAX_NUMBERS)..].to_vec()
}

/// Where a chunk that ends at `end` and holds at least the `size` bytes before it starts: right
/// after the last resync point at or before `end - size` (looked for within a few kilobytes,
/// else the last barrier byte further back), or at 0.
fn chunk_start(bytes: &[u8], end: usize, size: usize) -> usize {
    const NEAR: usize = 4096;
    if end <= size {
        return 0;
    }
    let target = end - size;
    let low = target.saturating_sub(NEAR);
    if let Some(p) = (low..target).rev().find(|&p| resync_after(bytes, p)) {
        return p + 1;
    }
    find_last_barrier(bytes, low).map_or(0, |p| p + 1)
}

/// Whether any scan that reaches byte `p` is outside a span right after it, so that a scan
/// starting there finds what a scan of the whole text finds: no span holds the byte with more
/// after it. Besides barrier bytes: a `%` ends the span that holds it; a backslash is in a span
/// only before `%`; an operator, sign, point or comma only before a digit (or, for operators,
/// spaces); and a lone space only in the places [`lone_space_holds_no_span`] rules out.
fn resync_after(bytes: &[u8], p: usize) -> bool {
    let b = bytes[p];
    if is_barrier(b) || b == b'%' {
        return true;
    }
    let next = bytes.get(p + 1).copied();
    match b {
        b'\\' => next != Some(b'%'),
        b'/' | b'*' | b'^' | b'+' | b'-' | b'.' | b',' => {
            !next.is_some_and(|n| n.is_ascii_digit() || n == b' ')
        }
        b' ' => lone_space_holds_no_span(bytes, p),
        _ => false,
    }
}

/// Whether no span can hold the space at `p`, whatever came before it. Spaces occur in a span
/// only as a thousands separator (three digits follow), before the fraction of a mixed number
/// (a number, `/` and a digit follow), around an operator, and before a percent suffix; only a
/// space between two other bytes is considered (a run of spaces may be all of these at once).
fn lone_space_holds_no_span(bytes: &[u8], p: usize) -> bool {
    let (Some(&before), Some(&after)) = (p.checked_sub(1).map(|q| &bytes[q]), bytes.get(p + 1))
    else {
        return false;
    };
    let operator = |b: u8| matches!(b, b'/' | b'*' | b'^' | b'+' | b'-');
    if before == b' ' || after == b' ' || operator(before) || operator(after) {
        return false;
    }
    if matches!(after, b'\\' | b'%' | b'p') {
        return false;
    }
    if bytes
        .get(p + 1..p + 4)
        .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    {
        return false;
    }
    if after.is_ascii_digit() {
        // The number a mixed-number probe would read here, and what follows it.
        let end = scan_number(bytes, p + 1, &mut Measure::default(), 0);
        if bytes.get(end) == Some(&b'/') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit) {
            return false;
        }
    }
    true
}

/// Where the scanner writes a span's normalised text: the text itself ([`Vec<u8>`]), or only
/// what the scan needs to know about it ([`Measure`]), which is all a scan over a megabyte of
/// numbers needs until it knows which spans it keeps.
trait Sink {
    /// Appends digits.
    fn extend_digits(&mut self, digits: &[u8]);
    fn push(&mut self, b: u8);
    fn len(&self) -> usize;
    fn truncate(&mut self, len: usize);
    /// Whether the text from `from` on is exactly `0`.
    fn is_zero_from(&self, from: usize) -> bool;
    fn has_dot(&self) -> bool;
    /// Remembers that the number at `at`, written from `from` on, ends at `end`: a mixed-number
    /// probe that failed has read the number that the next span starts with.
    fn remember(&mut self, _at: usize, _end: usize, _from: usize) {}
    /// In an empty sink, the number at `at` as remembered (written, and its end), if it is.
    fn recall(&mut self, _at: usize) -> Option<usize> {
        None
    }
}

impl Sink for Vec<u8> {
    fn extend_digits(&mut self, digits: &[u8]) {
        self.extend_from_slice(digits);
    }

    fn push(&mut self, b: u8) {
        Vec::push(self, b);
    }

    fn len(&self) -> usize {
        Vec::len(self)
    }

    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len);
    }

    fn is_zero_from(&self, from: usize) -> bool {
        self[from..] == *b"0"
    }

    fn has_dot(&self) -> bool {
        self.contains(&b'.')
    }
}

/// The length of a normalised text and the two facts the scanner asks about it.
#[derive(Default)]
struct Measure {
    len: usize,
    /// The last byte written (0 after a truncation: every question about a single byte is
    /// asked about a byte written since).
    last: u8,
    dot_at: Option<usize>,
    /// A number read by a probe: (at, end, len, last, dot_at), relative to where it was written.
    probe: Option<(usize, usize, usize, u8, Option<usize>)>,
}

impl Sink for Measure {
    fn extend_digits(&mut self, digits: &[u8]) {
        if let Some(&b) = digits.last() {
            self.last = b;
        }
        self.len += digits.len();
    }

    fn push(&mut self, b: u8) {
        if b == b'.' && self.dot_at.is_none() {
            self.dot_at = Some(self.len);
        }
        self.last = b;
        self.len += 1;
    }

    fn len(&self) -> usize {
        self.len
    }

    fn truncate(&mut self, len: usize) {
        self.len = len;
        self.last = 0;
        if self.dot_at.is_some_and(|at| at >= len) {
            self.dot_at = None;
        }
    }

    fn is_zero_from(&self, from: usize) -> bool {
        self.len == from + 1 && self.last == b'0'
    }

    fn has_dot(&self) -> bool {
        self.dot_at.is_some()
    }

    fn remember(&mut self, at: usize, end: usize, from: usize) {
        let dot_at = self.dot_at.and_then(|d| d.checked_sub(from));
        self.probe = Some((at, end, self.len - from, self.last, dot_at));
    }

    fn recall(&mut self, at: usize) -> Option<usize> {
        let (probed, end, len, last, dot_at) = self.probe?;
        if probed != at || self.len != 0 {
            return None;
        }
        (self.len, self.last, self.dot_at) = (len, last, dot_at);
        Some(end)
    }
}

/// Reads one number (with separators) at `start` into `out`. `zero_from` is where this number's
/// text begins in `out` (a lone leading `0` changes how a comma reads).
fn scan_number(bytes: &[u8], start: usize, out: &mut impl Sink, zero_from: usize) -> usize {
    let mut i = start;
    let digits = |i: usize| bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    let first = digits(i);
    out.extend_digits(&bytes[i..i + first]);
    i += first;
    // Thousands groups: `,ddd` or ` ddd`, only after a leading group of 1-3 digits.
    if (1..=3).contains(&first) {
        let mut separator: Option<u8> = None;
        while let Some(&sep) = bytes.get(i) {
            if !(sep == b',' || sep == b' ') || separator.is_some_and(|s| s != sep) {
                break;
            }
            // Only whether the group has exactly 3 digits matters: count up to 4.
            let group = bytes[i + 1..]
                .iter()
                .take(4)
                .take_while(|b| b.is_ascii_digit())
                .count();
            let after = bytes.get(i + 1 + group);
            let proper = group == 3 && !after.is_some_and(u8::is_ascii_digit);
            // `0,111` is a decimal comma, not thousands.
            let leading_zero = out.is_zero_from(zero_from);
            // `4 4/9`: a space group followed by `/` is the start of a fraction.
            let fraction_follows = after == Some(&b'/');
            if !proper || leading_zero || fraction_follows {
                break;
            }
            out.extend_digits(&bytes[i + 1..i + 4]);
            separator = Some(sep);
            i += 4;
        }
    }
    // Decimal part: `.dd`, or a decimal comma `,dd` not followed by a space.
    if let Some(&mark @ (b'.' | b',')) = bytes.get(i) {
        let frac = if i + 1 < bytes.len() {
            digits(i + 1)
        } else {
            0
        };
        let comma_decimal =
            mark == b',' && frac > 0 && frac != 3 || (mark == b',' && out.is_zero_from(zero_from));
        if frac > 0 && (mark == b'.' || comma_decimal) {
            out.push(b'.');
            out.extend_digits(&bytes[i + 1..i + 1 + frac]);
            i += 1 + frac;
        }
    }
    i
}

/// A number, optionally a mixed number, a fraction or a short chain of numbers joined by
/// arithmetic operators, and a percent suffix.
pub(super) fn scan_numeric_expression(text: &str, start: usize) -> (String, usize) {
    let mut out = Vec::new();
    let end = scan_numeric_expression_into(text.as_bytes(), start, &mut out);
    // Only ASCII is ever written.
    (String::from_utf8(out).unwrap_or_default(), end)
}

/// [`scan_numeric_expression`] into a reused buffer (no allocation per span on long inputs).
fn scan_numeric_expression_into(bytes: &[u8], start: usize, out: &mut impl Sink) -> usize {
    out.truncate(0);
    let mut i = start;
    if bytes[i] == b'-' {
        out.push(b'-');
        i += 1;
    }
    if bytes[i] == b'.' {
        out.push(b'0');
    }
    // Scanning a number from an empty text depends on the bytes alone, so a probe's reading
    // of this one (see below) is as good as a new one.
    i = match out.recall(i) {
        Some(end) => end,
        None => scan_number(bytes, i, out, 0),
    };
    // Mixed number `4 4/9`.
    if bytes.get(i) == Some(&b' ') && !out.has_dot() {
        let j = i + 1;
        if bytes.get(j).is_some_and(u8::is_ascii_digit) {
            let mark = out.len();
            out.push(b' ');
            let after_num = scan_number(bytes, j, out, mark + 1);
            if bytes.get(after_num) == Some(&b'/')
                && bytes.get(after_num + 1).is_some_and(u8::is_ascii_digit)
            {
                out.push(b'/');
                let denominator = out.len();
                i = scan_number(bytes, after_num + 1, out, denominator);
            } else {
                out.remember(j, after_num, mark + 1);
                out.truncate(mark);
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
        // `1-2` in a date or range is not arithmetic when spaces are uneven; keep it simple and
        // accept the operator only when it is tight or evenly spaced.
        let tight = j == i && k == j + 1;
        let spaced = j > i && k > j + 1;
        if !(tight || spaced) {
            break;
        }
        let mark = out.len();
        out.push(op);
        i = scan_number(bytes, k, out, mark + 1);
    }
    // Percent suffix (after spaces, only a suffix's first byte can start one).
    let spaces = bytes[i..].iter().take_while(|b| **b == b' ').count();
    let rest = &bytes[i + spaces..];
    if matches!(rest.first(), Some(b'\\' | b'%' | b'p')) {
        for suffix in ["\\%", "%", "percentage", "percent", "pct"] {
            if has_prefix(rest, suffix.as_bytes()) {
                out.push(b'%');
                i += spaces + suffix.len();
                break;
            }
        }
    }
    i
}
