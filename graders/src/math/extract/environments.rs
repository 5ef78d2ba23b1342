//! Math environments in a text: `$$..$$`, `\[..\]` (may span lines), `$..$`, `\(..\)` (one
//! line), display blocks written without delimiters (`\begin{align*}..\end{align*}` and its
//! kin), and runs of them joined by "," / "and" / "or", read as one list.
//!
//! An aligned derivation (`S &= .. \\ &= \frac12.`) states its result in its last row: the
//! candidate read from it is that row (its right side when the row continues the one above
//! with `&=`), see [`math_text`].

use std::borrow::Cow;

use super::search::{find_pair, find_pattern, has_prefix, NextFinder};
use super::MAX_ENVIRONMENTS;

/// The first group that [`environment_groups`] would form from the environments of `text`,
/// found without scanning past it: (content, end, how many environments it joins).
pub(super) fn first_environment_group(text: &str) -> Option<(String, usize, usize)> {
    let mut envs = Environments::new(text);
    let (first, _, mut prev_end) = envs.next()?;
    let mut items = vec![math_text(first)];
    while items.len() < 6 {
        // Only separator characters may stand between joined environments: anything else
        // before the next opener ends the group without a look further.
        let separator_len = text[prev_end..]
            .find(|c: char| !(c.is_whitespace() || matches!(c, ',' | 'a' | 'n' | 'd' | 'o' | 'r')))
            .unwrap_or(text.len() - prev_end);
        if !matches!(
            text.as_bytes().get(prev_end + separator_len),
            Some(b'$' | b'\\')
        ) {
            break;
        }
        let Some((content, start, end)) = envs.next() else {
            break;
        };
        if !joins(&text[prev_end..start]) {
            break;
        }
        items.push(math_text(content));
        prev_end = end;
    }
    Some((items.join(" , "), prev_end, items.len()))
}

/// Whether the text between two environments makes them one list ("," / "and" / "or").
fn joins(between: &str) -> bool {
    let separator = between.trim();
    matches!(
        separator.trim_end_matches(',').trim(),
        "" | "," | "and" | "or" | ", and" | ", or"
    ) && !separator.is_empty()
}

/// Math environments, with runs joined by "," / "and" / "or" gathered into one (as a list).
/// Returns (content, start, end), in text order.
fn environment_groups(
    text: &str,
    envs: &[(&str, usize, usize)],
) -> Vec<(String, usize, usize, usize)> {
    let mut groups: Vec<(Vec<Cow<'_, str>>, usize, usize)> = Vec::new();
    for &(content, start, end) in envs {
        let content = math_text(content);
        let joined = groups
            .last()
            .is_some_and(|(items, _, prev_end)| items.len() < 6 && joins(&text[*prev_end..start]));
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
        .map(|(items, s, e)| (items.join(" , "), s, e, items.len()))
        .collect()
}

/// Environment candidates: each group, then (when a group joins several) each member, so that
/// one member that does not parse does not hide the others. (content, start, end, members).
pub(super) fn environment_candidates(
    text: &str,
    envs: &[(&str, usize, usize)],
) -> Vec<(String, usize, usize, usize)> {
    let groups = environment_groups(text, envs);
    let mut out = Vec::with_capacity(groups.len());
    for (content, start, end, members) in groups {
        out.push((content, start, end, members));
        if members > 1 {
            for (member, s, e) in Environments::new(&text[start..end]).take(MAX_ENVIRONMENTS) {
                out.push((math_text(member).into_owned(), start + s, start + e, 1));
            }
        }
    }
    out
}

/// `$$..$$`, `\[..\]` (may span lines), `$..$`, `\(..\)` (one line): (content, start, end), in
/// text order.
pub(super) struct Environments<'t> {
    text: &'t str,
    i: usize,
    /// Closers known to be absent from some point on (bits of [`closer_bit`]): later searches
    /// would fail too, and remembering that keeps a text full of unclosed `\(` linear.
    exhausted: u8,
    /// The same for the closers of [`DISPLAY_BLOCKS`] (bit `1 << index`).
    display_exhausted: u16,
    /// The next `\)` and `\]`: many openers before one far closer (`\(` and a newline, a
    /// hundred thousand times) find it once.
    paren: NextFinder,
    bracket: NextFinder,
}

fn closer_bit(close: &str) -> u8 {
    match close {
        "$$" => 1,
        "$" => 2,
        "\\]" => 4,
        _ => 8,
    }
}

impl<'t> Environments<'t> {
    pub(super) fn new(text: &'t str) -> Environments<'t> {
        Environments {
            text,
            i: 0,
            exhausted: 0,
            display_exhausted: 0,
            paren: NextFinder::new("\\)", 1),
            bracket: NextFinder::new("\\]", 1),
        }
    }

    /// The next unescaped `close` at or after `from`.
    fn find_close(&mut self, from: usize, close: &'static str) -> Option<usize> {
        match close {
            "\\)" => self.paren.at(self.text, from),
            "\\]" => self.bracket.at(self.text, from),
            _ => {
                // `\$` is an escaped dollar, not a closer.
                let bytes = self.text.as_bytes();
                let mut i = from;
                loop {
                    let at = find_pair(bytes, i, b'$', b'\\')?;
                    if bytes[at] == b'\\' {
                        i = at + 2;
                    } else if has_prefix(&bytes[at..], close.as_bytes()) {
                        return Some(at);
                    } else {
                        i = at + 1;
                    }
                }
            }
        }
    }
}

/// Display blocks that are math without `$` or `\[` around them.
const DISPLAY_BLOCKS: [&str; 13] = [
    "align*",
    "align",
    "aligned",
    "equation*",
    "equation",
    "gather*",
    "gather",
    "gathered",
    "eqnarray*",
    "eqnarray",
    "multline*",
    "multline",
    "split",
];

impl<'t> Environments<'t> {
    /// The display block whose `\begin{` is at `i`, whole (from `\begin` to the end of its
    /// `\end{..}`), if it is one of [`DISPLAY_BLOCKS`] and is closed.
    fn display_block(&mut self, i: usize) -> Option<(&'t str, usize, usize)> {
        let text = self.text;
        let name_start = i + "\\begin{".len();
        let name_len = text[name_start..]
            .bytes()
            .take(12)
            .position(|b| b == b'}')?;
        let name = &text[name_start..name_start + name_len];
        let index = DISPLAY_BLOCKS.iter().position(|n| *n == name)?;
        let bit = 1u16 << index;
        if self.display_exhausted & bit != 0 {
            return None;
        }
        let close = format!("\\end{{{name}}}");
        let body_start = name_start + name_len + 1;
        let Some(at) = find_pattern(text.as_bytes(), body_start, close.as_bytes(), 0) else {
            self.display_exhausted |= bit;
            return None;
        };
        self.i = at + close.len();
        Some((&text[i..self.i], i, self.i))
    }
}

/// What a math environment's content says as an answer: the content itself, or for an
/// aligned derivation (a display block of [`DISPLAY_BLOCKS`]), its last row, reduced to its
/// right side when it continues the row above (`&= \frac12.` is `\frac12`).
pub(super) fn math_text(content: &str) -> Cow<'_, str> {
    let trimmed = content.trim();
    let Some(rest) = trimmed.strip_prefix("\\begin{") else {
        return Cow::Borrowed(content);
    };
    let Some(name_len) = rest.find('}') else {
        return Cow::Borrowed(content);
    };
    let name = &rest[..name_len];
    if !DISPLAY_BLOCKS.contains(&name) {
        return Cow::Borrowed(content);
    }
    let body = &rest[name_len + 1..];
    let end = format!("\\end{{{name}}}");
    let body = body.strip_suffix(end.as_str()).unwrap_or(body);
    let last = body
        .split("\\\\")
        .map(|row| {
            row.replace("\\nonumber", "")
                .replace("\\notag", "")
                .trim()
                .trim_end_matches(['.', ','])
                .to_string()
        })
        .filter(|row| !row.trim().is_empty())
        .last();
    let Some(row) = last else {
        return Cow::Borrowed(content);
    };
    let row = row.replace('&', " ");
    let row = row.trim();
    Cow::Owned(match row.strip_prefix('=') {
        Some(right) => right.trim().to_string(),
        None => row.to_string(),
    })
}

impl<'t> Iterator for Environments<'t> {
    type Item = (&'t str, usize, usize);

    fn next(&mut self) -> Option<Self::Item> {
        let text = self.text;
        let bytes = text.as_bytes();
        loop {
            let Some(i) = find_pair(bytes, self.i, b'$', b'\\') else {
                self.i = bytes.len();
                return None;
            };
            let (open_len, close, multiline): (usize, &'static str, bool) = match bytes[i] {
                b'$' if bytes.get(i + 1) == Some(&b'$') => (2, "$$", true),
                b'$' => (1, "$", false),
                b'\\' if bytes.get(i + 1) == Some(&b'[') => (2, "\\]", true),
                b'\\' if bytes.get(i + 1) == Some(&b'(') => (2, "\\)", false),
                b'\\' if has_prefix(&bytes[i + 1..], b"begin{") => {
                    if let Some(block) = self.display_block(i) {
                        return Some(block);
                    }
                    self.i = i + 2;
                    continue;
                }
                _ => {
                    self.i = i + 2; // skip escapes such as `\$`
                    continue;
                }
            };
            let body_start = i + open_len;
            let bit = closer_bit(close);
            let found = if self.exhausted & bit != 0 {
                None
            } else {
                self.find_close(body_start, close)
            };
            match found {
                Some(body_end) => {
                    let body = &text[body_start..body_end];
                    if multiline || !body.contains('\n') {
                        self.i = body_end + close.len();
                        return Some((body, i, self.i));
                    }
                    self.i = body_start;
                }
                None => {
                    self.exhausted |= bit;
                    self.i = body_start;
                }
            }
        }
    }
}
