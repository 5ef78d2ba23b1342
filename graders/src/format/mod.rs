//! Format rewards: rules about the completion's layout, no answer checking.
//!
//! - `r1`: DeepSeek-R1's rule. Exactly one `<think>...</think>` block at the very start with
//!   non-empty reasoning, then a non-empty answer; no other think tags anywhere.
//! - `think_answer`: open-r1's `format_reward`, reproduced bug for bug (see [`open_r1`]).
//! - `think_answer_strict`: the same layout with open-r1's holes closed (see [`strict`]).
//! - `tag_count`: open-r1's `tag_count_reward`, 0.25 per well-formed tag.
//!
//! A task may set `think_prefilled: true` when the chat template already emitted `<think>` (as
//! R1-distill templates do); the completion is then graded as if it began with `<think>\n`.

pub mod open_r1;
pub mod strict;
mod tags;

use std::sync::LazyLock;

use serde_json::{Map, Value};

use crate::contract::{Details, FormatStyle, Task, Verdict};
use crate::registry::{GradeContext, Grader, GraderInfo};

pub struct FormatGrader;

impl Grader for FormatGrader {
    fn info(&self) -> GraderInfo {
        GraderInfo {
            kind: "format".into(),
            description: "layout rewards: R1's <think> block, open-r1's think/answer and tag count"
                .into(),
            available: true,
            variants: FormatStyle::ALL
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
            version: None,
        }
    }

    /// Every style is a fixed set of substring searches and scans over the text.
    fn linear_time(&self) -> bool {
        true
    }

    fn grade(&self, completion: &str, task: &Task, _ctx: &GradeContext) -> Verdict {
        let Task::Format(task) = task else {
            return Verdict::error(format!(
                "the format grader cannot grade a `{}` task",
                task.kind()
            ));
        };
        let prefilled;
        let text = if task.think_prefilled {
            prefilled = format!("<think>\n{completion}");
            &prefilled
        } else {
            completion
        };
        match task.style {
            FormatStyle::R1 => from_check(strict::r1(text)),
            FormatStyle::ThinkAnswer => Verdict::scored(open_r1::format_reward(text)),
            FormatStyle::ThinkAnswerStrict => from_check(strict::think_answer(text)),
            FormatStyle::TagCount => {
                let (score, once) = open_r1::tag_count(text);
                Verdict {
                    details: tag_details(once),
                    ..Verdict::scored(score)
                }
            }
        }
    }
}

/// `tag_count`'s details (each tag: whether it occurred exactly once), one of sixteen maps
/// built once and shared: building the four-entry map for each sample (keys, index, entries)
/// was 5% of `verifier grade`'s CPU on format samples.
fn tag_details(once: [bool; 4]) -> Details {
    static ALL: LazyLock<Vec<Details>> = LazyLock::new(|| {
        (0..16)
            .map(|bits: usize| {
                open_r1::TAGS
                    .iter()
                    .enumerate()
                    .map(|(i, (name, _))| (name.to_string(), Value::Bool(bits & (1 << i) != 0)))
                    .collect::<Map<_, _>>()
                    .into()
            })
            .collect()
    });
    let bits = once
        .iter()
        .enumerate()
        .fold(0, |bits, (i, &ok)| bits | (usize::from(ok) << i));
    ALL[bits].clone()
}

fn from_check(check: Result<(), String>) -> Verdict {
    match check {
        Ok(()) => Verdict::scored(1.0),
        Err(reason) => Verdict::scored(0.0).with_detail("reason", reason),
    }
}
