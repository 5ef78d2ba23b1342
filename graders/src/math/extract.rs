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
//! | 200 | the concluding sentence: the last one near the end that states a value, read for its answer (`reading.rs`) |
//! | 300 | a bare `$..$`, `$$..$$`, `\(..\)`, `\[..\]` (or several joined by "and"/","), a number |
//!
//! Only the text after the last `</think>` is searched; a completion that opens `<think>` and
//! never closes it has given no answer.
//!
//! Several boxes (the anti-farming policy): boxes separated only by a short separator (under 10
//! characters, or under 70 with a comma, semicolon, "and" or "or") form one group, read as a set;
//! only the last group is the answer. Boxing every candidate therefore either puts all of them in
//! one set, which must equal the gold set as a whole, or leaves only the last box standing.
//!
//! Cost: [`walk`] produces candidates level by level and stops at the first answer that parses,
//! so a completion whose box parses never pays for scanning its bare numbers. Each kind of
//! candidate is found in one pass over the text, and the per-anchor work after an anchored phrase
//! is shared between anchors (memoised searches) or bounded (the math after a phrase is looked
//! for within [`ANCHOR_MATH_WINDOW`] bytes), so a megabyte of hostile text costs a few linear
//! scans, never one scan per anchor or per delimiter.

mod anchors;
mod environments;
mod numbers;
mod reading;
mod search;

use std::borrow::Cow;
use std::collections::{HashSet, VecDeque};
use std::ops::ControlFlow;
use std::sync::LazyLock;

use regex::Regex;

use super::lexer::{matching_brace, tokenize, Tok};
use super::parser::MAX_DIGITS;
use environments::{environment_candidates, Environments};
use numbers::{scan_numeric_expression, scan_spans};
use search::{find_byte, find_pair, find_pattern, rfind_pattern};

pub use anchors::ANCHOR_MATH_WINDOW;
pub use numbers::numbers;

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
    /// A whole text that reads as one expression is the answer, all of it: if it does not
    /// parse, nothing in it is taken instead. True for gold answers, which are one answer by
    /// definition; a completion's line of values (`4 4/9 2`) may end in its answer.
    pub whole_text_is_answer: bool,
}

/// One place an answer may be.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The answer text, ready for the parser.
    pub text: String,
    pub priority: i32,
    /// Byte offset where the candidate ends (rightmost first within a priority).
    pub end: usize,
    /// The bytes the text was read from. A later candidate that lies inside the span of one
    /// that did not parse is a fragment of it and is never taken (see [`Role`]).
    pub span: (usize, usize),
    pub role: Role,
}

/// What a candidate's failure to parse means for the candidates after it.
///
/// The rule that keeps a gold such as `n(n+1)2^{n-2}` from being read as `2`: an answer that
/// does not parse is not an answer, and no part of it is one either. So every failed candidate
/// hides the candidates inside its span (numbers inside a line that did not parse, inside an
/// anchored sentence, inside a box), except a [`Role::Container`], whose parts are whole
/// answers of their own; and a failed [`Role::Declared`] answer (a box) ends the search: the
/// text's own final answer is unreadable, and some other number of the reasoning is not it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Plain,
    /// A box: the answer the text declares.
    Declared,
    /// Holds answers of its own, so its failure says nothing of its parts: environments joined
    /// by "," / "and" / "or" into one list, a completion's whole text (`4 4/9 2`).
    Container,
}

impl Candidate {
    /// The same candidate at another rank.
    fn at(self, priority: i32, end: usize) -> Candidate {
        Candidate {
            priority,
            end,
            ..self
        }
    }

    fn new(text: String, priority: i32, end: usize, span: (usize, usize)) -> Candidate {
        Candidate {
            text,
            priority,
            end,
            span,
            role: Role::Plain,
        }
    }

    /// Whether this candidate lies inside `span`.
    pub fn inside(&self, span: (usize, usize)) -> bool {
        span.0 <= self.span.0 && self.span.1 <= span.1
    }
}

const MAX_BOXES: usize = 64;
const MAX_ENVIRONMENTS: usize = 256;
/// Bare numbers kept: the rightmost are the ones tried.
const MAX_NUMBERS: usize = 256;

/// The part of a completion that may hold the answer: after the last `</think>`. `None` when
/// the reasoning is never closed: opened in the completion, or by the template
/// (`think_prefilled`).
pub fn answer_region(completion: &str, think_prefilled: bool) -> Option<&str> {
    let bytes = completion.as_bytes();
    match rfind_pattern(bytes, b"</think>") {
        Some(i) => Some(&completion[i + "</think>".len()..]),
        None if think_prefilled || find_pattern(bytes, 0, b"<think>", 6).is_some() => None,
        None => Some(completion),
    }
}

/// Candidates, best first.
pub fn candidates(text: &str, targets: &Targets) -> Vec<Candidate> {
    let mut out = Vec::new();
    walk(text, targets, usize::MAX, |candidate| {
        out.push(candidate);
        ControlFlow::Continue(())
    });
    out
}

/// Where candidates come from. The order is the order in which the full list was historically
/// built, which decides ties (same priority, same end): a stable sort keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Whole,
    /// Boxes take the priority their options give them.
    Boxes([i32; 1]),
    Minerva,
    FinalIs,
    Answer,
    /// The concluding sentence of a text without an anchored answer (priority 200).
    Conclusion,
    Environments,
    Numbers,
    ChoiceAnchors,
    ChoiceLetters,
}

impl Source {
    fn priorities(&self) -> &[i32] {
        match self {
            Source::Whole => &[-100],
            Source::Boxes(priority) => priority,
            Source::Minerva => &[0],
            Source::FinalIs | Source::ChoiceAnchors => &[50],
            Source::Answer => &[100],
            Source::Conclusion => &[200],
            Source::Environments | Source::Numbers => &[300],
            Source::ChoiceLetters => &[100, 300],
        }
    }

    fn has_priority(&self, level: i32) -> bool {
        self.priorities().contains(&level)
    }
}

/// Calls `visit` on the candidates best first (the order of [`candidates`]) until it breaks.
///
/// A priority level's sources are scanned only when the walk reaches that level. `limit` is the
/// most candidates the caller will look at: a source never keeps more than `limit` candidates of
/// one level, since only the rightmost `limit` of a level can be reached.
pub fn walk(
    text: &str,
    targets: &Targets,
    limit: usize,
    mut visit: impl FnMut(Candidate) -> ControlFlow<()>,
) {
    let text = fix_doubled_backslashes(text);
    let mut scan = Scan {
        text: &text,
        limit,
        boxes: None,
        environments: None,
    };
    let mut sources = Vec::new();
    if targets.whole_text {
        sources.push(Source::Whole);
    }
    if targets.latex {
        if let Some(priority) = targets.boxed_priority {
            sources.push(Source::Boxes([priority]));
        }
    }
    // Anchored content is math (LaTeX) or a sentence (expressions); with neither, there is none.
    if targets.latex || targets.expr {
        sources.extend([Source::Minerva, Source::FinalIs, Source::Answer]);
    }
    if targets.without_anchor {
        if targets.latex || targets.expr {
            sources.push(Source::Conclusion);
        }
        if targets.latex {
            sources.push(Source::Environments);
        }
        if targets.expr {
            sources.push(Source::Numbers);
        }
    }
    if !targets.choices.is_empty() {
        sources.extend([Source::ChoiceAnchors, Source::ChoiceLetters]);
    }
    let mut levels: Vec<i32> = Vec::with_capacity(sources.len() + 1);
    for source in &sources {
        levels.extend_from_slice(source.priorities());
    }
    levels.sort_unstable();
    levels.dedup();
    let mut produced: Vec<Option<Vec<Candidate>>> = vec![None; sources.len()];
    for level in levels {
        let mut here = Vec::new();
        for (source, slot) in sources.iter().zip(produced.iter_mut()) {
            if !source.has_priority(level) {
                continue;
            }
            let list = slot.get_or_insert_with(|| scan.produce(*source, targets));
            if matches!(source, Source::ChoiceLetters) {
                // The one source that feeds two levels.
                let (now, later): (Vec<Candidate>, Vec<Candidate>) =
                    list.drain(..).partition(|c| c.priority == level);
                here.extend(now);
                *list = later;
            } else {
                here.append(list);
            }
        }
        // Stable: ties keep the source order.
        here.sort_by_key(|c| std::cmp::Reverse(c.end));
        for candidate in here {
            if visit(candidate).is_break() {
                return;
            }
        }
    }
}

/// One text being searched, with the scans that several sources share.
struct Scan<'t> {
    text: &'t str,
    limit: usize,
    boxes: Option<Vec<(usize, usize, &'t str)>>,
    environments: Option<Vec<(&'t str, usize, usize)>>,
}

impl<'t> Scan<'t> {
    fn boxes(&mut self) -> &[(usize, usize, &'t str)] {
        let text = self.text;
        self.boxes.get_or_insert_with(|| find_boxes(text))
    }

    fn environments(&mut self) -> &[(&'t str, usize, usize)] {
        let text = self.text;
        self.environments
            .get_or_insert_with(|| Environments::new(text).take(MAX_ENVIRONMENTS).collect())
    }

    fn produce(&mut self, source: Source, targets: &Targets) -> Vec<Candidate> {
        let text = self.text;
        let mut out = Vec::new();
        match source {
            Source::Whole => {
                // A gold is read whole up to the parser's own limit: at 1000 bytes a long gold
                // (a set of 256 numbers) fell back to its last number, which an answer of that
                // number alone then matched (red team).
                let longest = if targets.whole_text_is_answer {
                    crate::math::parser::MAX_ANSWER_BYTES
                } else {
                    WHOLE_TEXT_LONGEST
                };
                if let Some(whole) = whole_text_candidate(text, longest) {
                    let mut candidate = Candidate::new(whole, -100, text.len(), (0, text.len()));
                    candidate.role = if targets.whole_text_is_answer {
                        Role::Declared
                    } else {
                        Role::Container
                    };
                    out.push(candidate);
                }
            }
            Source::Boxes([priority]) => group_boxes(text, self.boxes(), priority, &mut out),
            Source::Minerva => anchors::minerva(text, targets, &mut out),
            Source::FinalIs => anchors::final_is(text, targets, &mut out),
            Source::Answer => anchors::answer(text, targets, &mut out),
            Source::Conclusion => {
                if let Some((start, end)) = reading::conclusion(text) {
                    let mut anchors = anchors::Anchors::new(text);
                    if let Some(mut candidate) = anchors.read_sentence(start, end, targets, true) {
                        // A reading of prose, not an answer the text declares: if it does not
                        // parse, the values inside it are still candidates of their own.
                        candidate.role = Role::Container;
                        out.push(candidate.at(200, end));
                    }
                }
            }
            Source::Environments => {
                for (content, start, end, parts) in
                    environment_candidates(text, self.environments())
                {
                    let mut candidate = Candidate::new(content, 300, end, (start, end));
                    if parts > 1 {
                        candidate.role = Role::Container;
                    }
                    out.push(candidate);
                }
            }
            Source::Numbers => {
                // A number inside a math span that failed to parse is not an answer of its own.
                let mut math_spans: Vec<(usize, usize)> = if targets.latex {
                    self.environments()
                        .iter()
                        .map(|(_, s, e)| (*s, *e))
                        .collect()
                } else {
                    Vec::new()
                };
                math_spans.extend(self.boxes().iter().map(|(s, e, _)| (*s, *e)));
                let inside = |at: usize| math_spans.iter().any(|(s, e)| *s <= at && at < *e);
                let outside: Vec<_> = numbers(text)
                    .into_iter()
                    .filter(|(_, start, _)| !inside(*start))
                    .collect();
                for (span, start, end) in outside.into_iter().rev().take(MAX_NUMBERS) {
                    out.push(Candidate::new(span, 300, end, (start, end)));
                }
            }
            Source::ChoiceAnchors => choice_anchors(text, &targets.choices, &mut out),
            Source::ChoiceLetters => choice_letters(text, &targets.choices, self.limit, &mut out),
        }
        out
    }
}

/// `\\frac` (a doubled backslash, from JSON or Python escaping) is `\frac`, except inside an
/// environment opened with a single backslash, where `\\` is a row break: `\begin{pmatrix}a&b
/// \\c&d\end{pmatrix}` read as `\c` failed to parse, and a gold `\begin{cases}x=1\\y=2
/// \end{cases}` was an error (red team).
fn fix_doubled_backslashes(text: &str) -> Cow<'_, str> {
    if !text.contains("\\\\") {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    // `text[copied..]` is still to be copied; only the doubled backslashes are rewritten.
    let mut copied = 0;
    let mut i = 0;
    // Environments opened by `\begin` (one backslash) and not yet closed.
    let mut open_environments = 0usize;
    while let Some(at) = find_byte(bytes, i, b'\\') {
        // Exactly two backslashes before a letter: an escaped command. Three are a row break
        // followed by a command (`\\\end`), kept as written.
        let run = bytes[at..].iter().take_while(|b| **b == b'\\').count();
        let after = &bytes[at + run..];
        if run == 1 {
            // Only an environment that is closed later counts: prose that names one (`we
            // could write \begin{align}`) would otherwise turn the rest of the text's escapes
            // into row breaks (red team).
            if after.starts_with(b"begin{") && closed_later(&text[at + 1..]) {
                open_environments += 1;
            } else if after.starts_with(b"end{") {
                open_environments = open_environments.saturating_sub(1);
            }
        }
        let letter = after.first().is_some_and(|b| b.is_ascii_alphabetic());
        if run == 2 && letter && open_environments == 0 {
            out.push_str(&text[copied..at]);
            out.push('\\');
            copied = at + 2;
        }
        i = at + run;
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// Whether `begin{name}...` (what follows a backslash) has its `\end{name}` later in the text.
fn closed_later(from_begin: &str) -> bool {
    let Some(name_end) = from_begin.find('}') else {
        return false;
    };
    let name = &from_begin["begin{".len()..name_end];
    from_begin[name_end..].contains(&format!("\\end{{{name}}}"))
}

/// Words that may appear in an expression without making it prose.
fn is_known_word(w: &str) -> bool {
    matches!(
        w,
        "sin"
            | "mod"
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

/// The longest text of a completion read whole as one expression.
pub(super) const WHOLE_TEXT_LONGEST: usize = 1000;

/// The whole text as one expression, if it looks like one: one line of at most `longest` bytes,
/// no prose words.
fn whole_text_candidate(text: &str, longest: usize) -> Option<String> {
    let trimmed = text.trim();
    // The length test first: the others scan the text.
    if trimmed.is_empty() || trimmed.len() > longest || trimmed.contains('\n') {
        return None;
    }
    // Boxes are ranked by their own rule (and may be disabled), never through the whole text.
    if trimmed.contains("\\boxed") || trimmed.contains("\\fbox") {
        return None;
    }
    // A lone formatted number (`7,425,000`, `$1,000.99`, `1 000`): the text's only number span
    // (the scan stops at a second one), with nothing but `$`, spaces and a final `.` around it.
    let math_wrapped = trimmed.len() > 1 && trimmed.starts_with('$') && trimmed.ends_with('$');
    if !math_wrapped {
        let mut spans = [(0, 0); 2];
        let mut count = 0;
        scan_spans(trimmed, 0, trimmed.len(), |start, end, len| {
            if len <= MAX_DIGITS {
                spans[count] = (start, end);
                count += 1;
            }
            if count == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        if count == 1 {
            let (start, end) = spans[0];
            let before = trimmed[..start].trim_matches(|c: char| c == '$' || c.is_whitespace());
            let after =
                trimmed[end..].trim_matches(|c: char| c == '$' || c.is_whitespace() || c == '.');
            if before.is_empty() && after.is_empty() {
                return Some(scan_numeric_expression(trimmed, start).0);
            }
        }
    }
    let toks = tokenize(trimmed)?;
    let prose = toks.len() > 1
        && toks
            .iter()
            .any(|t| matches!(t, Tok::Word(w) if w.len() >= 3 && !is_known_word(w)));
    (!prose).then(|| trimmed.to_string())
}

/// The next `\boxed` or `\fbox` starting at or after `from`: (start, length). The letter after
/// the backslash is searched for: a megabyte of backslashes holds none.
fn next_box_command(bytes: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from + 1;
    loop {
        let letter = find_pair(bytes, i, b'b', b'f')?;
        i = letter + 1;
        if bytes[letter - 1] != b'\\' {
            continue;
        }
        if bytes[letter..].starts_with(b"boxed") {
            return Some((letter - 1, 6));
        }
        if bytes[letter..].starts_with(b"fbox") {
            return Some((letter - 1, 5));
        }
    }
}

/// Every box: (start, end, content), in text order.
fn find_boxes(text: &str) -> Vec<(usize, usize, &str)> {
    let bytes = text.as_bytes();
    let mut found: Vec<(usize, usize, &str)> = Vec::new();
    let mut search = 0;
    while found.len() < MAX_BOXES * 4 {
        let Some((start, len)) = next_box_command(bytes, search) else {
            break;
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
    found: &[(usize, usize, &str)],
    priority: i32,
    out: &mut Vec<Candidate>,
) {
    let mut groups: Vec<Vec<(usize, usize, &str)>> = Vec::new();
    for &b in found {
        let joined = groups.last().and_then(|g| g.last()).is_some_and(|prev| {
            let separator = &text[prev.1..b.0];
            // Only whether there are fewer than 10 or 70 characters matters.
            let chars = separator.chars().take(70).count();
            let short = chars < 10;
            let listed = chars < 70
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
        // Repeated contents once, first occurrence first (a set, so no quadratic comparisons
        // when hundreds of identical large boxes are repeated).
        let mut seen: HashSet<&str> = HashSet::new();
        let mut contents: Vec<&str> = Vec::new();
        for (_, _, c) in group {
            let c = c.trim();
            if group.len() == 1 || seen.insert(c) {
                contents.push(c);
            }
        }
        let end = group.last().map_or(0, |b| b.1);
        let start = group.first().map_or(0, |b| b.0);
        out.push(Candidate {
            role: Role::Declared,
            ..Candidate::new(contents.join(" , "), priority, end, (start, end))
        });
    }
}

fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|_| Regex::new("$^").expect("a valid regex"))
}

fn is_choice(letters: &[String], c: u8) -> bool {
    letters
        .iter()
        .any(|l| l.len() == 1 && l.as_bytes()[0].eq_ignore_ascii_case(&c))
}

/// Multiple-choice letters after an anchor ("answer is (B)").
fn choice_anchors(text: &str, letters: &[String], out: &mut Vec<Candidate>) {
    static ANCHOR: LazyLock<Regex> =
        LazyLock::new(|| compile(r"(?i)answer\s*(?:is|:)?\s*[:(*\s]*\(?\s*([A-Za-z])\b"));
    for caps in ANCHOR.captures_iter(text).take(64) {
        if let Some(m) = caps.get(1) {
            let letter = m.as_str().as_bytes()[0];
            if is_choice(letters, letter) && letter.is_ascii_uppercase() {
                out.push(Candidate::new(
                    m.as_str().to_uppercase(),
                    50,
                    m.end(),
                    (m.start(), m.end()),
                ));
            }
        }
    }
}

/// Multiple-choice letters at the start (priority 100, the first letter only) or standing alone
/// (300; only the rightmost `limit` of those can ever be tried).
fn choice_letters(text: &str, letters: &[String], limit: usize, out: &mut Vec<Candidate>) {
    let bytes = text.as_bytes();
    let mut first = true;
    let mut alone: VecDeque<Candidate> = VecDeque::new();
    for (i, &c) in bytes.iter().enumerate() {
        if !c.is_ascii_uppercase() || !is_choice(letters, c) {
            continue;
        }
        let left = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let right = bytes.get(i + 1).is_none_or(|b| !b.is_ascii_alphanumeric());
        if !(left && right) {
            continue;
        }
        let candidate = Candidate::new((c as char).to_string(), 300, i + 1, (i, i + 1));
        // Only the first letter can be the one at the start.
        if first && text[..i].trim_start_matches(['(', ' ', '*']).is_empty() {
            out.push(Candidate {
                priority: 100,
                ..candidate
            });
        } else {
            if alone.len() == limit {
                alone.pop_front();
            }
            alone.push_back(candidate);
        }
        first = false;
    }
    out.extend(alone);
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
            whole_text_is_answer: false,
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
        assert_eq!(
            answer_region("<think>\\boxed{1}</think> 2", false),
            Some(" 2")
        );
        assert_eq!(answer_region("<think>\\boxed{1}", false), None);
        assert_eq!(
            answer_region("\\boxed{1} still thinking", false),
            Some("\\boxed{1} still thinking")
        );
        assert_eq!(answer_region("\\boxed{1} still thinking", true), None);
        assert_eq!(answer_region("hm \\boxed{1}</think> 2", true), Some(" 2"));
    }
}
