//! `language_consistency`: DeepSeek-R1's language-consistency reward, "the proportion of target
//! language words in the CoT" (`Num(Words_target)/Num(Words)`, research/rl.md §6).
//!
//! R1 does not say how words are segmented or how a word's language is decided; we decide by
//! script, which is exact for the case the reward exists for (a Chinese/English mix):
//! * every Han ideograph is one word (Chinese has no spaces, and a character is the unit that
//!   counts when a model drifts into Chinese); so is every kana character (Japanese);
//! * any other run of letters (with inner apostrophes or hyphens, e.g. "don't") is one word,
//!   in the language its script implies: Latin → `en`, Cyrillic → `ru`, Hangul → `ko`;
//! * numbers, punctuation, LaTeX commands (`\frac`), and Latin words in code (fenced blocks and
//!   inline backticks: identifiers and keywords) are not words; words of other scripts in code
//!   are (reasoning hidden in a fence is still reasoning).
//!
//! Params: `language` (`en`, `zh`, `ja`, `ko`, `ru`); `span`: `think` (default: from the first
//! `<think>` to the last `</think>`, or the text before `</think>` when the template pre-filled `<think>`, or the
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
    // From the first `<think>` to the last `</think>`: reasoning split over several blocks is
    // all counted (only the first block was, so a second block in another language was free).
    match (completion.find("<think>"), completion.rfind("</think>")) {
        (Some(open), Some(close)) if open < close => &completion[open + "<think>".len()..close],
        (None, Some(close)) => &completion[..close],
        (Some(open), None) => &completion[open + "<think>".len()..],
        _ => completion,
    }
}

/// The reasoning/answer tags, which are not words (they separate words, as a space does).
const TAGS: [&str; 4] = ["<think>", "</think>", "<answer>", "</answer>"];

/// Words of `text` by script, as (target-language words, all words).
pub fn word_counts(text: &str, language: Language) -> (usize, usize) {
    word_counts_until(text, language, &|| false).expect("never stopped")
}

/// [`word_counts`], asking `stop` every few thousand characters; `None` once it says stop.
///
/// One pass over the text, with nothing copied: code (fenced blocks, inline backticks; an
/// unclosed fence is dropped and the text after it counted), the tags, and LaTeX commands are
/// skipped where they start, so the deadline is asked all the way through.
pub fn word_counts_until(
    text: &str,
    language: Language,
    stop: &dyn Fn() -> bool,
) -> Option<(usize, usize)> {
    let mut steps = Steps { taken: 0, stop };
    let (mut target, mut total) = (0, 0);
    // A byte offset into `text`, always at a character boundary.
    let mut i = 0;
    // Code runs up to here: its Latin words (identifiers, keywords) are not words of any
    // language, but the words of other scripts in it are counted, so that reasoning cannot be
    // hidden from the count inside a code fence or backticks.
    let mut code_until = 0;
    while let Some(c) = text[i..].chars().next() {
        steps.take()?;
        let rest = &text[i..];
        if c == '<' {
            if let Some(tag) = TAGS.iter().find(|tag| rest.starts_with(**tag)) {
                i += tag.len();
                continue;
            }
        }
        if c == '`' && i >= code_until {
            // Its end found by a search for the closing fence (no search fails twice, since a
            // failed one means no such fence is left), not a walk.
            let fence = if rest.starts_with("```") { "```" } else { "`" };
            let after = i + fence.len();
            code_until = match text[after..].find(fence) {
                Some(end) => after + end + fence.len(),
                None => after,
            };
            i = after;
            continue;
        }
        if c == '\\' {
            // A LaTeX command: skip the backslash and the letters after it.
            i += 1;
            while text.as_bytes().get(i).is_some_and(u8::is_ascii_alphabetic) {
                steps.take()?;
                i += 1;
            }
            continue;
        }
        let script = script_of(c);
        if matches!(script, Script::Han | Script::Kana) {
            total += 1;
            target += usize::from(counts_as(script, language));
            i += c.len_utf8();
            continue;
        }
        if !c.is_alphabetic() {
            i += c.len_utf8();
            continue;
        }
        // A run of letters (marks and inner ' or - included) in one non-ideographic script.
        let mut chars = rest.char_indices().peekable();
        let mut end = rest.len();
        while let Some((at, d)) = chars.next() {
            steps.take()?;
            let joins = matches!(d, '\'' | '’' | '-')
                && chars
                    .peek()
                    .is_some_and(|(_, n)| n.is_alphabetic() && script_of(*n) == script);
            let continues = d.is_alphabetic() && script_of(d) == script;
            if !(continues || joins) {
                end = at;
                break;
            }
        }
        i += end;
        if script == Script::Latin && i <= code_until {
            continue;
        }
        total += 1;
        target += usize::from(counts_as(script, language));
    }
    Some((target, total))
}

/// Counts units of work and asks `stop` every [`CHECK_EVERY`](super::repetition::CHECK_EVERY).
struct Steps<'a> {
    taken: usize,
    stop: &'a dyn Fn() -> bool,
}

impl Steps<'_> {
    /// `None` when it is time to stop.
    fn take(&mut self) -> Option<()> {
        let check = self.taken.is_multiple_of(super::repetition::CHECK_EVERY);
        self.taken += 1;
        if check && (self.stop)() {
            None
        } else {
            Some(())
        }
    }
}

pub struct LanguageConsistencyGrader;

impl Grader for LanguageConsistencyGrader {
    fn info(&self) -> GraderInfo {
        GraderInfo {
            kind: KIND.into(),
            description: "DeepSeek-R1's language consistency: share of target-language words in the reasoning".into(),
            available: true,
            variants: ["en", "zh", "ja", "ko", "ru"].map(String::from).to_vec(),
            version: None,
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
    fn tags_code_and_latex_are_not_words() {
        assert_eq!(word_counts("<think>abc</think>def", Language::En), (2, 2));
        assert_eq!(word_counts("ab<answer>cd</answer>", Language::En), (2, 2));
        // A fenced block and inline code are skipped; an unclosed fence is dropped alone.
        let text = "```\nlet x = 1;\n``` word `a b` then ` unclosed more";
        assert_eq!(word_counts(text, Language::En), (4, 4));
        assert_eq!(word_counts("\\alpha \\beta x", Language::En), (1, 1));
        assert_eq!(word_counts("don't re-do it", Language::En), (3, 3));
    }

    /// Reasoning in another script hidden in a fence or backticks is still counted (red team:
    /// a fenced Chinese paragraph scored 1 for English).
    #[test]
    fn other_scripts_in_code_are_counted() {
        let fenced = "Let me compute.\n```\n我们来计算\n```\nSo done.";
        assert_eq!(word_counts(fenced, Language::En), (5, 10));
        assert_eq!(word_counts("ok `你好 print`", Language::En), (1, 3));
        assert_eq!(word_counts("`print(x)` 你好", Language::Zh), (2, 2));
    }

    #[test]
    fn stops_inside_one_long_word_when_asked() {
        let asked = std::cell::Cell::new(0);
        let stop = || {
            asked.set(asked.get() + 1);
            asked.get() > 1
        };
        let word = "a".repeat(100_000);
        assert_eq!(word_counts_until(&word, Language::En, &stop), None);
        assert_eq!(asked.get(), 2);
        let command = format!("\\{word}");
        asked.set(0);
        assert_eq!(word_counts_until(&command, Language::En, &stop), None);
    }

    #[test]
    fn takes_the_think_span() {
        assert_eq!(
            reasoning_span("<think>abc</think>answer", Span::Think),
            "abc"
        );
        assert_eq!(reasoning_span("abc</think>answer", Span::Think), "abc");
        assert_eq!(
            reasoning_span("<think>ok</think>x<think>中文</think>y", Span::Think),
            "ok</think>x<think>中文"
        );
        assert_eq!(reasoning_span("no tags", Span::Think), "no tags");
        assert_eq!(
            reasoning_span("<think>a</think>b", Span::Completion),
            "<think>a</think>b"
        );
    }
}
