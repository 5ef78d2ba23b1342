//! `detectable_content:*`, `detectable_format:*`, `startend:*` and `combination:*`: the
//! layout checks, each the reference's regex or string test.

use std::sync::OnceLock;

use regex::Regex;

use crate::instructions::{pyjson, pystr};

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("valid regex"))
}

/// `len(re.findall(r"\[.*?\]", text))`.
pub fn placeholders(text: &str) -> i64 {
    static PLACEHOLDER: OnceLock<Regex> = OnceLock::new();
    regex(&PLACEHOLDER, r"\[.*?\]").find_iter(text).count() as i64
}

/// Lines starting with `*` (not `**`) plus lines starting with `-`, as two MULTILINE `findall`s.
pub fn bullet_lists(text: &str) -> i64 {
    static STAR: OnceLock<Regex> = OnceLock::new();
    static DASH: OnceLock<Regex> = OnceLock::new();
    let stars = regex(&STAR, r"(?m)^\s*\*[^\*].*$").find_iter(text).count();
    let dashes = regex(&DASH, r"(?m)^\s*-.*$").find_iter(text).count();
    (stars + dashes) as i64
}

pub fn constrained_response(text: &str) -> bool {
    let text = pystr::strip(text);
    [
        "My answer is yes.",
        "My answer is no.",
        "My answer is maybe.",
    ]
    .iter()
    .any(|answer| text.contains(answer))
}

/// `*x*` spans and `**x**` spans with non-blank content, counted separately.
pub fn highlighted_sections(text: &str) -> i64 {
    static SINGLE: OnceLock<Regex> = OnceLock::new();
    static DOUBLE: OnceLock<Regex> = OnceLock::new();
    let single = regex(&SINGLE, r"\*[^\n\*]*\*")
        .find_iter(text)
        .filter(|m| !pystr::strip(m.as_str().trim_matches('*')).is_empty())
        .count();
    let double = regex(&DOUBLE, r"\*\*[^\n\*]*\*\*")
        .find_iter(text)
        .filter(|m| {
            let inner = m.as_str();
            !pystr::strip(&inner[2..inner.len() - 2]).is_empty()
        })
        .count();
    (single + double) as i64
}

/// The text, less one optional leading fence ("```json", "```Json", "```JSON", then "```") and
/// one trailing "```", parses as JSON for Python.
pub fn json_format(text: &str) -> bool {
    let mut value = pystr::strip(text);
    for prefix in ["```json", "```Json", "```JSON", "```"] {
        value = value.strip_prefix(prefix).unwrap_or(value);
    }
    value = value.strip_suffix("```").unwrap_or(value);
    pyjson::loads_ok(pystr::strip(value))
}

/// Some `<<...>>` on one line with non-blank content.
pub fn title(text: &str) -> bool {
    static TITLE: OnceLock<Regex> = OnceLock::new();
    regex(&TITLE, r"<<[^\n]+>>").find_iter(text).any(|m| {
        let inner = m.as_str().trim_start_matches('<').trim_end_matches('>');
        !pystr::strip(inner).is_empty()
    })
}

/// Exactly two different non-blank responses separated by "******"; blank parts only at the ends.
pub fn two_responses(text: &str) -> bool {
    let parts: Vec<&str> = text.split("******").collect();
    let mut responses = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        if pystr::strip(part).is_empty() {
            if index != 0 && index != parts.len() - 1 {
                return false;
            }
        } else {
            responses.push(*part);
        }
    }
    responses.len() == 2 && pystr::strip(responses[0]) != pystr::strip(responses[1])
}

pub fn repeats_prompt(text: &str, prompt: &str) -> bool {
    pystr::lower(pystr::strip(text)).starts_with(&pystr::lower(pystr::strip(prompt)))
}

/// `text.strip().strip('"').lower().endswith(end_phrase)`; `end_phrase` is already stripped and
/// lower-cased.
pub fn ends_with(text: &str, end_phrase: &str) -> bool {
    pystr::lower(pystr::strip(text).trim_matches('"')).ends_with(end_phrase)
}

pub fn quotation(text: &str) -> bool {
    let text = pystr::strip(text);
    text.chars().count() > 1 && text.starts_with('"') && text.ends_with('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_checks_follow_the_reference() {
        assert_eq!(highlighted_sections("*a* and **b** and ***c***"), 4);
        assert_eq!(highlighted_sections("2 * 3 * 4"), 1);
        assert_eq!(bullet_lists("* a\n* b\n- c\n**Heading**\n1. d"), 3);
        assert!(json_format("```json\n{\"a\": NaN}\n```"));
        assert!(!json_format("Here it is: {}"));
        assert!(title("<<<x>>>") && !title("<< >>"));
        assert!(two_responses("a ****** b") && !two_responses("a ****** a"));
        assert!(quotation("\"hi\"") && !quotation("\""));
        assert!(ends_with("Is there anything else?\"", "anything else?"));
    }
}
