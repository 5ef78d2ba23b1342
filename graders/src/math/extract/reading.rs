//! How a sentence states its answer, read as a careful reader reads it: which part of the
//! sentence holds the answer, and which sentence at the end of a text is its conclusion.
//!
//! [`focus`] narrows one sentence to the part to read:
//!
//! 1. A remark at the end in parentheses is dropped ("is 7 (while the mean is 24.8)").
//! 2. A concluding clause wins over what precedes it ("the list is 3, 5, 7, so the median is 7").
//! 3. A leading subordinate clause is dropped ("Since $n = 24$ fails, the largest is 23").
//! 4. A trailing clause after the answer is dropped: "the minimum is 8, and this is achieved
//!    when $a=b=c$", "is 27, where $n = 3$", "is 23, since ...".
//! 5. What remains, if it reads as one expression, is the answer.
//! 6. Else the last statement of a value in it: the right side of an `=` in prose ("3^105 +
//!    4^105 mod 7 = 0" is 0), a math span holding an `=`, or "is X", the value after a copula
//!    ("There are 2,001,000 terms in ...", "the pair that solves it is $(7, 6)$").
//! 7. Else the first value of the sentence, the number the sentence is about ("it will take 4
//!    hours for 3 pumps").
//!
//! [`conclusion`] picks the sentence: the last one at the end of a text that states a value,
//! passing over remarks ("Let me know if you have questions about the 3 steps!", "(We can check
//! all 4 corners.)", "*Note: ...*").
//!
//! Cost: both work on a bounded piece of text (a sentence of at most a few kilobytes, the last
//! [`CONCLUSION_TAIL`] bytes of a text), in a few linear passes.

use std::ops::ControlFlow;

use super::environments::Environments;
use super::numbers::scan_spans;
use super::search::floor_boundary;
use super::{whole_text_candidate, WHOLE_TEXT_LONGEST};

/// How much of the end of a text is searched for its concluding sentence.
pub(super) const CONCLUSION_TAIL: usize = 4096;
/// Sentences with a value looked at, from the end.
const MAX_SENTENCES: usize = 6;
/// Longest concluding sentence read (see `anchors::MAX_FOCUSED_SENTENCE`).
const MAX_SENTENCE: usize = 600;

/// Clauses that conclude: what follows them is the sentence's answer.
const CONCLUDING: &[&str] = &[
    ", so ",
    ", thus ",
    ", hence ",
    ", therefore ",
    ", giving ",
    ", which gives ",
    ", we get ",
    "; so ",
    "; thus ",
    "; hence ",
    "; therefore ",
];

/// Words that open a subordinate clause at the start of a sentence (which runs to a comma).
const LEADING: &[&str] = &[
    "if",
    "when",
    "since",
    "as",
    "because",
    "given",
    "for",
    "using",
    "plugging",
    "substituting",
    "after",
    "applying",
    "by",
    "from",
    "with",
    "solving",
    "multiplying",
    "adding",
    "subtracting",
    "dividing",
    "combining",
    "simplifying",
    "expanding",
    "factoring",
    "differentiating",
    "evaluating",
    "sorted",
    "checking",
];

/// Clauses that follow an answer and are not it.
const TRAILING: &[&str] = &[
    ", when",
    " when ",
    ", where",
    " where ",
    ", which",
    ", since",
    " since ",
    ", because",
    " because ",
    ", as ",
    ", and this",
    ", and that",
    ", achieved",
    " achieved ",
    ", attained",
    " attained ",
    ", for which",
    " for which ",
    ", for ",
    ", with ",
    ", so that",
    " so that ",
    ", if ",
    " if ",
    " provided ",
    ", i.e.",
    " at ",
];

/// Words after which the answer is stated ("is 8", "are 2,001,000 terms", "get 6").
const COPULAS: &[&str] = &[
    "is", "are", "was", "were", "be", "equals", "equal", "becomes", "gives", "yields", "get",
    "gets", "obtain", "makes", "totals", "it's",
];

/// Words between a copula and its value that say nothing about the value.
const FILLERS: &[&str] = &[
    "exactly",
    "just",
    "only",
    "then",
    "therefore",
    "thus",
    "approximately",
    "about",
    "to",
    "a total of",
    "equal to",
];

/// One sentence and its math spans.
struct Sentence<'s> {
    text: &'s str,
    /// The text in ASCII lower case: the patterns are matched against it.
    lower: Vec<u8>,
    math: Vec<(usize, usize)>,
}

impl<'s> Sentence<'s> {
    fn new(text: &'s str) -> Sentence<'s> {
        let math = Environments::new(text)
            .take(64)
            .map(|(_, s, e)| (s, e))
            .collect();
        Sentence {
            text,
            lower: text.as_bytes().to_ascii_lowercase(),
            math,
        }
    }

    /// Whether `at` is inside a math span (the spans are in text order and do not overlap).
    fn in_math(&self, at: usize) -> bool {
        let after = self.math.partition_point(|(s, _)| *s <= at);
        after > 0 && at < self.math[after - 1].1
    }

    /// Occurrences of `pattern` (lower-case ASCII; matched case-insensitively) in `[lo, hi)`
    /// outside math.
    fn occurrences(&self, pattern: &str, lo: usize, hi: usize) -> Vec<usize> {
        let hay = &self.lower[lo..hi];
        let p = pattern.as_bytes();
        let mut out = Vec::new();
        if p.is_empty() || p.len() > hay.len() {
            return out;
        }
        let last = hay.len() - p.len();
        let mut i = 0;
        while i <= last {
            match hay[i..=last].iter().position(|&b| b == p[0]) {
                Some(k) => i += k,
                None => break,
            }
            if hay[i..i + p.len()] == *p && !self.in_math(lo + i) {
                out.push(lo + i);
            }
            i += 1;
        }
        out
    }

    /// Whether `word` stands at `at` as a whole word.
    fn word_at(&self, at: usize, word: &str) -> bool {
        let bytes = self.text.as_bytes();
        let end = at + word.len();
        end <= bytes.len()
            && bytes[at..end].eq_ignore_ascii_case(word.as_bytes())
            && (at == 0 || !bytes[at - 1].is_ascii_alphanumeric())
            && !bytes.get(end).is_some_and(u8::is_ascii_alphanumeric)
            && !self.in_math(at)
    }

    /// The first value in `[lo, hi)`: a math span, or a number outside math.
    fn first_value(&self, lo: usize, hi: usize) -> Option<usize> {
        let math = self
            .math
            .iter()
            .find(|(s, e)| *s >= lo && *e <= hi)
            .map(|(s, _)| *s);
        let mut number = None;
        scan_spans(self.text, lo, hi, |start, _, _| {
            if self.in_math(start) {
                return ControlFlow::Continue(());
            }
            number = Some(start);
            ControlFlow::Break(())
        });
        match (math, number) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Where the value after the last copula in `[lo, hi)` starts ("is 8", "are 2,001,000").
    fn copula_value(&self, lo: usize, hi: usize) -> Option<usize> {
        let mut best = None;
        for copula in COPULAS {
            for at in self.occurrences(copula, lo, hi) {
                if !self.word_at(at, copula) {
                    continue;
                }
                if let Some(v) = self.value_starts(at + copula.len(), hi) {
                    if best.is_none_or(|b| v > b) {
                        best = Some(v);
                    }
                }
            }
        }
        best
    }

    /// Whether the math spans from the one at `from` to the one at `to` are a run joined only
    /// by `,`, "and" and "or".
    fn joined_math(&self, from: usize, to: usize) -> bool {
        let mut at = from;
        for (s, e) in &self.math {
            if *s < from || *s > to {
                continue;
            }
            let between = self.text[at..*s].trim();
            let between = between.trim_start_matches(',').trim();
            if !matches!(between, "" | "and" | "or" | ", and" | ", or") {
                return false;
            }
            at = *e;
        }
        true
    }

    /// Whether a value starts at `at` (after spaces and bold markers).
    fn value_starts(&self, at: usize, hi: usize) -> Option<usize> {
        let bytes = self.text.as_bytes();
        let mut i = at;
        while i < hi && matches!(bytes[i], b' ' | b'*' | b':' | b'\t') {
            i += 1;
        }
        let filler = FILLERS.iter().find(|f| self.word_at(i, f));
        if let Some(f) = filler {
            return self.value_starts(i + f.len(), hi);
        }
        if i >= hi {
            return None;
        }
        let math = self.math.iter().any(|(s, _)| *s == i);
        let number = bytes[i].is_ascii_digit()
            || (matches!(bytes[i], b'-' | b'.')
                && bytes.get(i + 1).is_some_and(u8::is_ascii_digit));
        (math || number).then_some(i)
    }
}

/// The part of `sentence` that holds its answer: `(start, end)` (see the module documentation).
pub(super) fn focus(sentence: &str) -> (usize, usize) {
    let s = Sentence::new(sentence);
    let bytes = sentence.as_bytes();
    let (mut lo, mut hi) = (0, sentence.len());
    // 1. A closing remark in parentheses, after a value.
    if hi > 0 && bytes[hi - 1] == b')' && !s.in_math(hi - 1) {
        let mut depth = 0usize;
        let mut open = None;
        for i in (0..hi).rev() {
            match bytes[i] {
                b')' => depth += 1,
                b'(' => {
                    depth -= 1;
                    if depth == 0 {
                        open = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        if let Some(open) = open {
            if s.first_value(0, open).is_some() && !s.in_math(open) {
                hi = sentence[..open].trim_end().len();
            }
        }
    }
    // 2. The last concluding clause that holds a value.
    let mut concluding: Option<(usize, usize)> = None;
    for marker in CONCLUDING {
        for at in s.occurrences(marker, lo, hi) {
            if concluding.is_none_or(|(c, _)| at > c) {
                concluding = Some((at, at + marker.len()));
            }
        }
    }
    if let Some((_, after)) = concluding {
        if s.first_value(after, hi).is_some() {
            lo = after;
        }
    }
    // 3. A leading subordinate clause, up to its comma (one a space follows: `1,000` is a
    // number).
    // A clause that states a value ("By AM-GM the minimum is 8, and ...") is the main one.
    let start_word = LEADING.iter().find(|w| s.word_at(lo, w));
    if start_word.is_some() {
        if let Some(&comma) = s.occurrences(", ", lo, hi).first() {
            if s.first_value(comma + 1, hi).is_some() && s.copula_value(lo, comma).is_none() {
                lo = comma + 1;
            }
        }
    }
    // 4. A trailing clause after the first value.
    if let Some(value) = s.first_value(lo, hi) {
        let mut cut = hi;
        for marker in TRAILING {
            if let Some(at) = s.occurrences(marker, value, hi).first() {
                if *at > value {
                    cut = cut.min(*at);
                }
            }
        }
        hi = cut;
    } else {
        return (lo, hi);
    }
    let lo_trimmed = lo + (sentence[lo..hi].len() - sentence[lo..hi].trim_start().len());
    lo = lo_trimmed;
    hi = lo + sentence[lo..hi].trim_end().len();
    // "is X": the value after the last copula.
    let after_copula = s.copula_value(lo, hi);
    // 5. What remains as one expression (unless it says "is X": `it is 256` is a statement,
    // not the product of the letters and 256).
    if after_copula.is_none()
        && whole_text_candidate(&sentence[lo..hi], WHOLE_TEXT_LONGEST).is_some()
    {
        return (lo, hi);
    }
    // 6. An equation: the last `=` in prose, or the last math span holding one (or the run of
    // math spans it ends, `$x = 6$, $y = 5$`, which is one answer).
    let prose_eq = s.occurrences("=", lo, hi).into_iter().rfind(|at| {
        !matches!(
            bytes.get(at.wrapping_sub(1)),
            Some(b'<' | b'>' | b'!' | b'=')
        ) && bytes.get(at + 1) != Some(&b'=')
    });
    let math_eq = s
        .math
        .iter()
        .rfind(|(ms, me)| *ms >= lo && *me <= hi && sentence[*ms..*me].contains('='))
        .copied();
    // A copula whose value is a run of math spans (`are $x = 2$ and $x = -5$`) states the
    // whole run, whose last span may hold the last `=`.
    let math_eq = match (math_eq, after_copula) {
        (Some((ms, _)), Some(v)) if v < ms && s.joined_math(v, ms) => None,
        // Else the run the span ends is read from its first span.
        (Some((ms, me)), _) => {
            let run_start = s
                .math
                .iter()
                .map(|(a, _)| *a)
                .filter(|a| *a >= lo && *a <= ms && s.joined_math(*a, ms))
                .min()
                .unwrap_or(ms);
            Some((run_start, me))
        }
        (None, _) => None,
    };
    // The last of these statements is the sentence's answer.
    let prose_eq = prose_eq.filter(|q| s.first_value(q + 1, hi).is_some());
    let statements = [
        prose_eq.map(|q| {
            let after =
                q + 1 + (sentence[q + 1..hi].len() - sentence[q + 1..hi].trim_start().len());
            (after, (after, hi))
        }),
        math_eq.map(|(ms, me)| (ms, (ms, me))),
        after_copula.map(|v| (v, (v, hi))),
    ];
    if let Some((_, span)) = statements.into_iter().flatten().max_by_key(|(at, _)| *at) {
        return span;
    }
    // 8. Else the number the sentence is about: its first value.
    match s.first_value(lo, hi) {
        Some(v) => (v, hi),
        None => (lo, hi),
    }
}

/// Words that open a sentence even without a full stop before them.
const SENTENCE_OPENERS: &[&str] = &[
    "So",
    "Therefore",
    "Thus",
    "Hence",
    "Finally",
    "Now",
    "Then",
    "In conclusion",
];

/// Whether `text[s..e]` has a word of three letters or more outside math.
fn has_prose_word(sentence: &Sentence, s: usize, e: usize) -> bool {
    let bytes = sentence.text.as_bytes();
    let mut run = 0;
    for (i, b) in bytes.iter().enumerate().take(e).skip(s) {
        if b.is_ascii_alphabetic() && !sentence.in_math(i) {
            run += 1;
            if run >= 3 {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

/// Sentences that are remarks about the answer, not statements of it.
fn is_remark(sentence: &str) -> bool {
    let t = sentence.trim_start();
    let lower =
        |p: &str| t.len() >= p.len() && t.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes());
    (t.starts_with('*') && !t.starts_with("**"))
        || t.starts_with('(')
        || [
            "note",
            "remark",
            "let me know",
            "i hope",
            "hope this",
            "feel free",
            "if you",
            "verification",
            "check:",
        ]
        .iter()
        .any(|p| lower(p))
}

/// The concluding sentence of `text`: the last sentence near its end that states a value and
/// is not a remark. `(start, end)` in `text`.
pub(super) fn conclusion(text: &str) -> Option<(usize, usize)> {
    let tail_start = floor_boundary(text, text.len().saturating_sub(CONCLUSION_TAIL));
    let tail = &text[tail_start..];
    let whole = Sentence::new(tail);
    let bytes = tail.as_bytes();
    // Sentence ends outside math: `.` `!` `?` before a space or the end, and line breaks.
    let mut ends = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        let end = match b {
            b'\n' => true,
            b'.' | b'!' | b'?' => bytes.get(i + 1).is_none_or(|n| n.is_ascii_whitespace()),
            _ => false,
        };
        if end && !whole.in_math(i) {
            ends.push(i + 1);
        }
        // Run-on text (`$y = 6$ So, the pair is ...`): a capitalised connective after a space
        // starts a sentence.
        if b == b' ' && bytes.get(i + 1).is_some_and(u8::is_ascii_uppercase) && !whole.in_math(i) {
            let rest = &bytes[i + 1..];
            let opens = SENTENCE_OPENERS.iter().any(|w| {
                rest.starts_with(w.as_bytes())
                    && !rest.get(w.len()).is_some_and(u8::is_ascii_alphanumeric)
            });
            if opens {
                ends.push(i + 1);
            }
        }
    }
    if ends.last() != Some(&tail.len()) {
        ends.push(tail.len());
    }
    let mut seen = 0;
    for k in (0..ends.len()).rev() {
        let start = if k == 0 { 0 } else { ends[k - 1] };
        let sentence = &tail[start..ends[k]];
        let trimmed = sentence.trim();
        if trimmed.is_empty() {
            continue;
        }
        let lead = sentence.len() - sentence.trim_start().len();
        let (s, e) = (start + lead, start + lead + trimmed.len());
        // A value, outside or inside math.
        if whole.first_value(s, e).is_none() {
            continue;
        }
        seen += 1;
        if seen > MAX_SENTENCES {
            return None;
        }
        if is_remark(trimmed) {
            continue;
        }
        // Values without words (`4 4/9 2`) are a list, not a sentence about one of them: the
        // bare-value rules read it (the last value).
        if !has_prose_word(&whole, s, e) || e - s > MAX_SENTENCE {
            return None;
        }
        let end = e - trimmed.len()
            + trimmed
                .trim_end_matches(['.', '!', '?', '*'])
                .trim_end()
                .len();
        return Some((tail_start + s, tail_start + end));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(sentence: &str) -> &str {
        let (s, e) = focus(sentence);
        &sentence[s..e]
    }

    #[test]
    fn focus_reads_the_answer_of_a_sentence() {
        assert_eq!(
            read(r"So the minimum is 8, and this is achieved when \(a=b=c\)"),
            "8"
        );
        assert_eq!(read("3^105 + 4^105 mod 7 = 0"), "3^105 + 4^105 mod 7 = 0");
        assert_eq!(read("the answer is 3^105 + 4^105 mods 7 = 0"), "0");
        assert_eq!(
            read("There are 2,001,000 terms in the expansion of $(x+y+z)^{1999}$"),
            "2,001,000 terms in the expansion of $(x+y+z)^{1999}$"
        );
        assert_eq!(
            read("Therefore, it will take 4 hours for $3$ pumps to fill the tank"),
            "4 hours for $3$ pumps to fill the tank"
        );
        assert_eq!(
            read(
                "Sorted, the list is 3, 5, 7, 9, 100, so the median is 7 (while the mean is 24.8)"
            ),
            "7"
        );
        assert_eq!(
            read("After the discount the price is $80 \\times 0.8 = 64$, and after the second it is $64 \\times 0.9 = 57.60$ dollars"),
            "$64 \\times 0.9 = 57.60$ dollars"
        );
        assert_eq!(
            read("Hence, the remainder when $2^{100}$ is divided by 7 is 2"),
            "2"
        );
        assert_eq!(
            read("So the largest such $n$ is 23, since $n = 24$ fails the condition"),
            "23"
        );
        assert_eq!(
            read("Therefore, the solutions are $x = 2$ and $x = -5$"),
            "$x = 2$ and $x = -5$"
        );
        assert_eq!(
            read("Therefore, $x = 4$ and $y = -1$"),
            "$x = 4$ and $y = -1$"
        );
        assert_eq!(read("the number is not 10 which is 1,000.99"), "1,000.99");
    }

    #[test]
    fn the_conclusion_is_the_last_statement_of_a_value() {
        let last = |t: &str| conclusion(t).map(|(s, e)| t[s..e].to_string());
        assert_eq!(
            last("Therefore, the sum is $210$. Let me know if you need help with any of the 3 steps!"),
            Some("Therefore, the sum is $210$".into())
        );
        assert_eq!(
            last("Thus the minimum number of moves is 9. (We can verify this by checking all 4 corners.)"),
            Some("Thus the minimum number of moves is 9".into())
        );
        assert_eq!(last("I do not know."), None);
        // A display on its own line is a value, not a sentence: the bare-value rules read it.
        assert_eq!(last("We get\n$$x = \\frac{1}{2}.$$\nDone."), None);
        assert_eq!(
            last("Hence $x = 4$ fails. So $x = -4$ is the root. Done."),
            Some("So $x = -4$ is the root".into())
        );
        // Run-on text: a capitalised connective starts a sentence.
        assert_eq!(
            last("$y = 8.8 - 2.8 = 6$ So, the pair is $(7, 6)$. <|im_start|>user"),
            Some("So, the pair is $(7, 6)$".into())
        );
    }
}
