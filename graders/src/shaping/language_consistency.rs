//! `language_consistency`: DeepSeek-R1's language-consistency reward, "the proportion of target
//! language words in the CoT" (`Num(Words_target)/Num(Words)`, research/rl.md §6).
//!
//! R1 does not say how words are segmented or how a word's language is decided; we decide by
//! script, which is exact for the case the reward exists for (a Chinese/English mix):
//! * every Han ideograph is one word (Chinese has no spaces, and a character is the unit that
//!   counts when a model drifts into Chinese); so is every kana character (Japanese);
//! * any other run of letters (with inner apostrophes or hyphens, e.g. "don't") is one word,
//!   in the language its script implies: Latin → `en`, Cyrillic → `ru`, Hangul → `ko`;
//! * numbers, punctuation, LaTeX commands (`\frac`), and code (fenced blocks and inline
//!   backticks) are not words.
//!
//! Params: `language` (`en`, `zh`, `ja`, `ko`, `ru`); `span`: `think` (default: the first
//! `<think>` block, or the text before `</think>` when the template pre-filled `<think>`, or the
//! whole completion when there is none) or `completion`. A span without words gets `no_answer`.

use serde::{Deserialize, Serialize};

use super::params::{parse, status_between};
use crate::contract::{Status, Task, Verdict};
use crate::registry::{GradeContext, Grader, GraderInfo};

pub const KIND: &str = "language_consistency";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ConsistencyLanguage)]
pub enum Language {
    En,
    Zh,
    Ja,
    Ko,
    Ru,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ConsistencySpan)]
pub enum Span {
    #[default]
    Think,
    Completion,
}

/// The `language_consistency` task's params.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The target language.
    pub language: Language,
    /// Which text is counted: the `think` block (default) or the whole `completion`.
    #[serde(default)]
    pub span: Span,
}

/// The script a word is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Han,
    Kana,
    Latin,
    Cyrillic,
    Hangul,
    Other,
}

fn script_of(c: char) -> Script {
    match c as u32 {
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F => Script::Han,
        0x3040..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9D => Script::Kana,
        0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7AF => Script::Hangul,
        0x0400..=0x052F => Script::Cyrillic,
        _ if c.is_ascii_alphabetic() => Script::Latin,
        0x00C0..=0x024F | 0x1E00..=0x1EFF => Script::Latin,
        _ => Script::Other,
    }
}

fn counts_as(script: Script, language: Language) -> bool {
    matches!(
        (script, language),
        (Script::Han, Language::Zh | Language::Ja)
            | (Script::Kana, Language::Ja)
            | (Script::Latin, Language::En)
            | (Script::Cyrillic, Language::Ru)
            | (Script::Hangul, Language::Ko)
    )
}

/// The reasoning span: see the module doc.
pub fn reasoning_span(completion: &str, span: Span) -> &str {
    if span == Span::Completion {
        return completion;
    }
    match (completion.find("<think>"), completion.find("</think>")) {
        (Some(open), Some(close)) if open < close => &completion[open + "<think>".len()..close],
        (None, Some(close)) => &completion[..close],
        (Some(open), None) => &completion[open + "<think>".len()..],
        _ => completion,
    }
}

/// Removes code (fenced blocks, inline backticks) and the reasoning/answer tags, which are not
/// words (LaTeX commands are skipped while counting).
fn prose(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let untagged = ["<think>", "</think>", "<answer>", "</answer>"]
        .iter()
        .fold(text.to_string(), |acc, tag| acc.replace(tag, " "));
    let mut rest = untagged.as_str();
    while let Some(tick) = rest.find('`') {
        out.push_str(&rest[..tick]);
        let fence = if rest[tick..].starts_with("```") {
            "```"
        } else {
            "`"
        };
        let after = &rest[tick + fence.len()..];
        match after.find(fence) {
            Some(end) => rest = &after[end + fence.len()..],
            None => {
                rest = after;
            }
        }
        out.push(' ');
    }
    out.push_str(rest);
    out
}

/// Words of `text` by script, as (target-language words, all words).
pub fn word_counts(text: &str, language: Language) -> (usize, usize) {
    word_counts_until(text, language, &|| false).expect("never stopped")
}

/// [`word_counts`], asking `stop` every few thousand characters; `None` once it says stop.
pub fn word_counts_until(
    text: &str,
    language: Language,
    stop: &dyn Fn() -> bool,
) -> Option<(usize, usize)> {
    let text = prose(text);
    if stop() {
        return None;
    }
    let chars: Vec<char> = text.chars().collect();
    let (mut target, mut total) = (0, 0);
    let mut i = 0;
    let mut next_check = 0;
    while i < chars.len() {
        if i >= next_check {
            if stop() {
                return None;
            }
            next_check = i + super::repetition::CHECK_EVERY;
        }
        let c = chars[i];
        if c == '\\' {
            // A LaTeX command: skip the backslash and the letters after it.
            i += 1;
            while i < chars.len() && chars[i].is_ascii_alphabetic() {
                i += 1;
            }
            continue;
        }
        let script = script_of(c);
        if matches!(script, Script::Han | Script::Kana) {
            total += 1;
            target += usize::from(counts_as(script, language));
            i += 1;
            continue;
        }
        if !c.is_alphabetic() {
            i += 1;
            continue;
        }
        // A run of letters (marks and inner ' or - included) in one non-ideographic script.
        let start = i;
        while i < chars.len() {
            let d = chars[i];
            let joins = matches!(d, '\'' | '’' | '-')
                && chars
                    .get(i + 1)
                    .is_some_and(|n| n.is_alphabetic() && script_of(*n) == script);
            let continues = d.is_alphabetic() && script_of(d) == script;
            if !(continues || joins) {
                break;
            }
            i += 1;
        }
        debug_assert!(i > start);
        total += 1;
        target += usize::from(counts_as(script, language));
    }
    Some((target, total))
}

pub struct LanguageConsistencyGrader;

impl Grader for LanguageConsistencyGrader {
    fn info(&self) -> GraderInfo {
        GraderInfo {
            kind: KIND.into(),
            description: "DeepSeek-R1's language consistency: share of target-language words in the reasoning".into(),
            available: true,
            variants: ["en", "zh", "ja", "ko", "ru"].map(String::from).to_vec(),
        }
    }

    fn grade(&self, completion: &str, task: &Task, ctx: &GradeContext) -> Verdict {
        let params: Params = match parse(task, KIND) {
            Ok(params) => params,
            Err(verdict) => return verdict,
        };
        let stop = || ctx.expired();
        let span = reasoning_span(completion, params.span);
        let Some((target, total)) = word_counts_until(span, params.language, &stop) else {
            return Verdict::timeout("the deadline passed while counting words by language");
        };
        let verdict = if total == 0 {
            Verdict {
                status: Status::NoAnswer,
                ..Verdict::scored(0.0)
            }
        } else {
            let share = target as f64 / total as f64;
            Verdict {
                status: status_between(share, 0.0, 1.0),
                ..Verdict::scored(share)
            }
        };
        verdict
            .with_detail("target_words", target)
            .with_detail("words", total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_words_by_script() {
        // Han: 我 们 需 要 计 算 = 6; Latin: "Let's", "compute", "x" = 3.
        let text = "我们需要计算 x. Let's compute 2+2 = 4, \\frac{1}{2}";
        assert_eq!(word_counts(text, Language::Zh), (6, 9));
        assert_eq!(word_counts(text, Language::En), (3, 9));
        assert_eq!(word_counts("`let mut x` 你好", Language::Zh), (2, 2));
    }

    #[test]
    fn takes_the_think_span() {
        assert_eq!(
            reasoning_span("<think>abc</think>answer", Span::Think),
            "abc"
        );
        assert_eq!(reasoning_span("abc</think>answer", Span::Think), "abc");
        assert_eq!(reasoning_span("no tags", Span::Think), "no tags");
        assert_eq!(
            reasoning_span("<think>a</think>b", Span::Completion),
            "<think>a</think>b"
        );
    }
}
