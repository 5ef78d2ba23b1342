//! Tokens of an answer written in LaTeX or plain text, after the clean-ups every checker applies.
//!
//! One lexer serves both notations: LaTeX commands become [`Tok::Cmd`], `**` becomes `^`, letter
//! runs become [`Tok::Word`] (the parser decides whether a word is a function, a unit, a text
//! answer or a product of one-letter symbols). Layout-only LaTeX (`\left`, `\,`, `\displaystyle`,
//! `\!`) is dropped here so the parser never sees it, except where it separates thousands
//! (`2\,001\,000`); a repeating decimal (`0.\overline{6}`, `0.1(6)`) is one token. The lexer is
//! a single forward pass, so a 1 MB input costs one linear scan.

use std::borrow::Cow;

/// One token. Text is borrowed from the input where it can be (the lexer then allocates only
/// the token list), owned where the lexer rewrote it (separators dropped, `begin:env`).
#[derive(Debug, Clone, PartialEq)]
pub enum Tok<'a> {
    /// Digits with at most one `.`, exactly as written (no separators).
    Num(Cow<'a, str>),
    /// A run of ASCII letters.
    Word(&'a str),
    /// A decimal with a repeating part: `digits` as [`Tok::Num`] (ending in `.` when no digit
    /// precedes the repeating part), `period` the digits that repeat (`0.1(6)`: `0.1`, `6`).
    Repeating {
        digits: Cow<'a, str>,
        period: &'a str,
    },
    /// A LaTeX command without its backslash (`frac`, `pi`, `{` for `\{`).
    Cmd(Cow<'a, str>),
    /// The text of `\text{...}` (and its aliases), verbatim.
    Text(&'a str),
    /// A one-character operator, bracket or punctuation: `+ - * / ^ _ ! % = < > | & ' : , ; . ( ) [ ] { }`.
    Op(char),
    /// `<=`, `>=`, `!=` and their LaTeX spellings, normalised to `≤`, `≥`, `≠`, `≈`.
    Rel(char),
    /// `\\` (a matrix row break).
    RowBreak,
}

/// Commands that only affect layout.
const LAYOUT_COMMANDS: &[&str] = &[
    "left",
    "right",
    "bigl",
    "bigr",
    "Bigl",
    "Bigr",
    "big",
    "Big",
    "bigg",
    "Bigg",
    "biggl",
    "biggr",
    "displaystyle",
    "textstyle",
    "scriptstyle",
    "limits",
    "nolimits",
    "quad",
    "qquad",
    "hline",
    "middle",
    "boldsymbol",
    "mathbf",
    "bm",
    "vec",
    "overline",
    "underline",
    "hat",
    "tilde",
    "widehat",
    "overrightarrow",
    "mathit",
    "mathsf",
    "mathcal",
    "mathbb",
    "mathscr",
    "mathfrak",
    "ensuremath",
];

/// Commands whose braced argument is text.
const TEXT_COMMANDS: &[&str] = &[
    "text",
    "textbf",
    "textit",
    "textnormal",
    "textrm",
    "textsf",
    "texttt",
    "mbox",
    "mathrm",
    "hbox",
    "emph",
];

/// Splits `input` into tokens. Returns `None` for input the lexer cannot make sense of (an
/// unbalanced `\text{`), which the caller treats as "does not parse".
pub fn tokenize(input: &str) -> Option<Vec<Tok<'_>>> {
    tokenize_spans(input).ok().map(|(toks, _)| toks)
}

/// Tokens with the byte offset where each starts, so that a parser that stops can say where;
/// on failure, the byte offset where the lexer gave up.
pub fn tokenize_spans(input: &str) -> Result<(Vec<Tok<'_>>, Vec<usize>), usize> {
    let bytes = input.as_bytes();
    let mut toks = Vec::with_capacity(input.len() / 2 + 1);
    let mut offsets: Vec<usize> = Vec::with_capacity(input.len() / 2 + 1);
    let mut i = 0;
    // Bracket depth: a bare `10,455` is a number only outside brackets, where `(1,000)` would
    // be a pair.
    let mut depth = 0i32;
    while i < bytes.len() {
        let c = bytes[i];
        // Every token pushed in this step starts here.
        let step = i;
        match c {
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth -= 1,
            _ => {}
        }
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | b'~' | 0x0c => i += 1,
            b'0'..=b'9' | b'.' if c != b'.' || bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let (tok, after) = lex_number(input, i, depth == 0);
                toks.push(tok);
                i = after;
            }
            b'a'..=b'z' | b'A'..=b'Z' => {
                let start = i;
                while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                    i += 1;
                }
                toks.push(Tok::Word(&input[start..i]));
            }
            b'\\' => i = lex_command(input, i, &mut toks).ok_or(step)?,
            b'*' if bytes.get(i + 1) == Some(&b'*') => {
                toks.push(Tok::Op('^'));
                i += 2;
            }
            b'<' | b'>' | b'!' | b'=' if bytes.get(i + 1) == Some(&b'=') => {
                toks.push(Tok::Rel(match c {
                    b'<' => '≤',
                    b'>' => '≥',
                    b'!' => '≠',
                    _ => '=',
                }));
                i += 2;
            }
            b'$' => i += 1,
            b'.' => {
                toks.push(Tok::Op('.'));
                i += 1;
            }
            b'+' | b'-' | b'*' | b'/' | b'^' | b'_' | b'!' | b'%' | b'=' | b'<' | b'>' | b'|'
            | b'&' | b'\'' | b':' | b',' | b';' | b'(' | b')' | b'[' | b']' | b'{' | b'}' => {
                toks.push(Tok::Op(c as char));
                i += 1;
            }
            _ if c >= 0x80 => {
                let ch = input[i..].chars().next().ok_or(step)?;
                i += ch.len_utf8();
                match ch {
                    '≤' | '≥' | '≠' | '≈' => toks.push(Tok::Rel(ch)),
                    '×' | '·' | '⋅' => toks.push(Tok::Op('*')),
                    '÷' => toks.push(Tok::Op('/')),
                    '−' | '–' => toks.push(Tok::Op('-')),
                    'π' => toks.push(Tok::Cmd(Cow::Borrowed("pi"))),
                    '∞' => toks.push(Tok::Cmd(Cow::Borrowed("infty"))),
                    '√' => toks.push(Tok::Cmd(Cow::Borrowed("sqrt"))),
                    '±' => toks.push(Tok::Cmd(Cow::Borrowed("pm"))),
                    '°' => toks.push(Tok::Cmd(Cow::Borrowed("circ"))),
                    '²' => toks.extend([Tok::Op('^'), Tok::Num(Cow::Borrowed("2"))]),
                    '³' => toks.extend([Tok::Op('^'), Tok::Num(Cow::Borrowed("3"))]),
                    '€' | '£' | '¥' | '₹' | '\u{a0}' | '\u{2009}' | '\u{202f}' => {}
                    _ => return Err(step),
                }
            }
            _ => return Err(step),
        }
        offsets.resize(toks.len(), step);
    }
    Ok((toks, offsets))
}

/// A number at `start`: digits with at most one `.`, thousands separators dropped (see
/// [`thousands_separator`]), and a repeating part if one is written (`0.\overline{6}`,
/// `0.1(6)`). Returns the token and the index after it.
fn lex_number(input: &str, start: usize, bare_comma: bool) -> (Tok<'_>, usize) {
    let bytes = input.as_bytes();
    let mut i = start;
    // The digits as written, borrowed until a separator has to be dropped.
    let mut owned: Option<String> = None;
    let mut seen_dot = false;
    let mut group = 0usize; // digits since the start or the last separator
    while i < bytes.len() {
        match bytes[i] {
            b'0'..=b'9' => {
                if let Some(o) = owned.as_mut() {
                    o.push(bytes[i] as char);
                }
                group += 1;
                i += 1;
            }
            b'.' if !seen_dot && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                seen_dot = true;
                if let Some(o) = owned.as_mut() {
                    o.push('.');
                }
                i += 1;
            }
            _ => match thousands_separator(bytes, i, bare_comma) {
                Some(width) if !seen_dot && (1..=3).contains(&group) => {
                    owned.get_or_insert_with(|| input[start..i].to_string());
                    i += width;
                    group = 0;
                }
                _ => break,
            },
        }
    }
    let digits = match owned {
        Some(o) => Cow::Owned(o),
        None => Cow::Borrowed(&input[start..i]),
    };
    // A repeating part needs a decimal point: `0.\overline{6}` (the point with no digit after
    // it), `0.0\overline{5}`, `0.1(6)`, `0.(3)`.
    let point = !seen_dot && bytes.get(i) == Some(&b'.');
    if seen_dot || point {
        let at = if point { i + 1 } else { i };
        if let Some((period, after)) = repeating_part(input, at) {
            let mut digits = digits.into_owned();
            if point {
                digits.push('.');
            }
            return (
                Tok::Repeating {
                    digits: Cow::Owned(digits),
                    period,
                },
                after,
            );
        }
    }
    (Tok::Num(digits), i)
}

/// The repeating digits written at `i` right after a decimal's digits: `\overline{dd}`,
/// `\bar{dd}`, `\dot{d}` or `(dd)`, with no space before; (digits, index after).
fn repeating_part(input: &str, i: usize) -> Option<(&str, usize)> {
    let rest = &input[i..];
    let (content, after) = if rest.starts_with('(') {
        let close = rest.find(')')?;
        (&rest[1..close], i + close + 1)
    } else {
        let name = ["\\overline", "\\bar", "\\dot"]
            .into_iter()
            .find(|n| rest.starts_with(n))?;
        braced(input, i + name.len())?
    };
    let content = content.trim();
    let digits =
        !content.is_empty() && content.len() <= 32 && content.bytes().all(|b| b.is_ascii_digit());
    digits.then_some((content, after))
}

/// Width of a thousands separator at `i` that is followed by exactly three digits: `{,}`, `,\!`
/// (LaTeX's ways to write one), a TeX space (`\,` `\ ` `\;` `\:` `~`, as in `2\,001\,000`), a
/// plain space, or, when `bare_comma` allows it, a plain `,`. A space before three digits and
/// a `/` starts the fraction of a mixed number (`4 444/999`), not a group.
fn thousands_separator(bytes: &[u8], i: usize, bare_comma: bool) -> Option<usize> {
    let rest = &bytes[i..];
    let spacing = match rest {
        [b'\\', b',' | b' ' | b';' | b':', ..] => Some(2),
        [b'~' | b' ', ..] => Some(1),
        _ => None,
    };
    if let Some(width) = spacing {
        let after = &rest[width..];
        let three = after.len() >= 3 && after[..3].iter().all(u8::is_ascii_digit);
        let ends = !after
            .get(3)
            .is_some_and(|b| b.is_ascii_digit() || *b == b'/');
        if three && ends {
            return Some(width);
        }
    }
    // `14 {, }916`: spaces around a braced comma are layout.
    let lead = rest.iter().take_while(|b| **b == b' ').count();
    let braced = &rest[lead..];
    let width = if braced.starts_with(b"{,}") {
        lead + 3
    } else if braced.starts_with(b"{, }") {
        lead + 4
    } else if rest.starts_with(b",\\!") {
        let mut w = 3;
        while rest.get(w) == Some(&b' ') {
            w += 1;
        }
        w
    } else if bare_comma && rest.first() == Some(&b',') {
        1
    } else {
        return None;
    };
    let after = &rest[width..];
    let three = after.len() >= 3 && after[..3].iter().all(u8::is_ascii_digit);
    let fourth_digit = after.get(3).is_some_and(u8::is_ascii_digit);
    (three && !fourth_digit).then_some(width)
}

/// Lexes a command starting at the backslash at `start`; returns the index after it.
fn lex_command<'a>(input: &'a str, start: usize, toks: &mut Vec<Tok<'a>>) -> Option<usize> {
    let bytes = input.as_bytes();
    let mut i = start + 1;
    let Some(&next) = bytes.get(i) else {
        return Some(i);
    };
    if !next.is_ascii_alphabetic() {
        // One-character commands (a multi-byte character after `\` is skipped whole).
        i += input[i..].chars().next().map_or(1, char::len_utf8);
        match next {
            b'\\' => toks.push(Tok::RowBreak),
            b'{' => toks.push(Tok::Cmd(Cow::Borrowed("{"))),
            b'}' => toks.push(Tok::Cmd(Cow::Borrowed("}"))),
            b'%' => toks.push(Tok::Op('%')),
            b'$' => {}                                    // a dollar sign: currency
            b',' | b';' | b':' | b'!' | b' ' | b'>' => {} // spacing
            b'|' => toks.push(Tok::Op('|')),
            _ => {}
        }
        return Some(i);
    }
    while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
        i += 1;
    }
    let mut name = &input[start + 1..i];
    // `\quadx`: a spacing command glued to the next letter by a transcription.
    for spacing in ["qquad", "quad"] {
        if name.len() > spacing.len() && name.starts_with(spacing) {
            i = start + 1 + spacing.len();
            name = spacing;
        }
    }
    if TEXT_COMMANDS.contains(&name) {
        let (content, after) = braced(input, i)?;
        toks.push(Tok::Text(content));
        return Some(after);
    }
    if name == "operatorname" {
        let (content, after) = braced(input, i)?;
        toks.push(Tok::Word(content.trim()));
        return Some(after);
    }
    if name == "begin" || name == "end" {
        let (env, after) = braced(input, i)?;
        let env = env.trim_end_matches('*');
        toks.push(Tok::Cmd(Cow::Owned(format!("{name}:{env}"))));
        // `\begin{array}{cc}`: the column spec is layout.
        if name == "begin" && env == "array" {
            if let Some((_, after_spec)) = braced(input, after) {
                return Some(after_spec);
            }
        }
        return Some(after);
    }
    if LAYOUT_COMMANDS.contains(&name) {
        // `\left.` and `\right.` are invisible delimiters.
        if matches!(name, "left" | "right" | "middle") && bytes.get(i) == Some(&b'.') {
            i += 1;
        }
        return Some(i);
    }
    let canonical = match name {
        "dfrac" | "tfrac" | "cfrac" => "frac",
        "le" | "leq" | "leqslant" => return push(toks, Tok::Rel('≤'), i),
        "ge" | "geq" | "geqslant" => return push(toks, Tok::Rel('≥'), i),
        "ne" | "neq" => return push(toks, Tok::Rel('≠'), i),
        "approx" | "simeq" | "sim" => return push(toks, Tok::Rel('≈'), i),
        "lt" => return push(toks, Tok::Op('<'), i),
        "gt" => return push(toks, Tok::Op('>'), i),
        "cdot" | "times" | "ast" => return push(toks, Tok::Op('*'), i),
        "div" => return push(toks, Tok::Op('/'), i),
        "lbrace" => "{",
        "rbrace" => "}",
        "lvert" | "rvert" | "vert" | "mid" => return push(toks, Tok::Op('|'), i),
        "langle" => return push(toks, Tok::Op('('), i),
        "rangle" => return push(toks, Tok::Op(')'), i),
        "lfloor" | "rfloor" | "lceil" | "rceil" => name,
        "dots" | "ldots" | "cdots" | "dotsc" | "dotsb" | "dotsm" => "dots",
        "infin" | "infinity" => "infty",
        "degree" => "circ",
        other => other,
    };
    toks.push(Tok::Cmd(Cow::Borrowed(canonical)));
    Some(i)
}

fn push<'a>(toks: &mut Vec<Tok<'a>>, tok: Tok<'a>, after: usize) -> Option<usize> {
    toks.push(tok);
    Some(after)
}

/// The content of the brace group starting at `i` (after optional spaces) and the index after
/// its closing brace.
pub fn braced(input: &str, mut i: usize) -> Option<(&str, usize)> {
    let bytes = input.as_bytes();
    while i < bytes.len() && bytes[i] == b' ' {
        i += 1;
    }
    if bytes.get(i) != Some(&b'{') {
        return None;
    }
    let close = matching_brace(bytes, i)?;
    Some((&input[i + 1..close], close + 1))
}

/// Index of the `}` that closes the `{` at `open`, skipping escaped braces.
pub fn matching_brace(bytes: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexes_latex_and_plain() {
        let toks = tokenize(r"\dfrac{1}{2}\,x^{2} \leq 3**2").unwrap();
        assert_eq!(toks[0], Tok::Cmd("frac".into()));
        assert!(toks.contains(&Tok::Rel('≤')));
        assert!(toks.contains(&Tok::Op('^')));
        assert_eq!(tokenize(r"\text{ cm}").unwrap(), vec![Tok::Text(" cm")]);
        assert!(tokenize(r"\text{ cm").is_none());
    }

    #[test]
    fn glued_quad_is_split() {
        let toks = tokenize(r"\quadx_2").unwrap();
        assert_eq!(toks[0], Tok::Word("x"));
    }
}
