//! open-r1's `format_reward` and `tag_count_reward` (huggingface/open-r1@1416fa0,
//! `src/open_r1/rewards.py`), with their exact semantics, holes included: this mode exists so
//! that numbers can be compared with open-r1 runs. Use `think_answer_strict` to train.

use std::sync::LazyLock;

use regex::Regex;

use super::tags::{tag, Tag};

/// `re.match(r"^<think>\n.*?\n</think>\n<answer>\n.*?\n</answer>$", s, re.DOTALL | re.MULTILINE)`.
/// `re.match` anchors at the start of the string (`\A`), while MULTILINE lets `$` match before
/// any `\n`, so text on a later line after `</answer>` still passes. Rust's `(?m)$` matches at
/// the same places as Python's (before `\n` or at the end), and `(?s)` is DOTALL.
static FORMAT_REWARD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?sm)\A<think>\n.*?\n</think>\n<answer>\n.*?\n</answer>$").expect("valid regex")
});

pub fn format_reward(text: &str) -> f64 {
    if FORMAT_REWARD.is_match(text) {
        1.0
    } else {
        0.0
    }
}

/// The four tags `tag_count_reward` looks for, each worth 0.25 when it occurs exactly once
/// (Python's `str.count`, which counts non-overlapping occurrences, as `str::matches` does).
pub static TAGS: [(&str, Tag); 4] = [
    ("think_open", tag!("<think>\n")),
    ("think_close", tag!("\n</think>\n")),
    ("answer_open", tag!("\n<answer>\n")),
    ("answer_close", tag!("\n</answer>")),
];

/// The score and, per tag, whether it occurred exactly once.
pub fn tag_count(text: &str) -> (f64, [(&'static str, bool); 4]) {
    let verdicts = TAGS
        .each_ref()
        .map(|(name, tag)| (*name, tag.count(text) == 1));
    let score = verdicts.iter().filter(|(_, ok)| *ok).count() as f64 * 0.25;
    (score, verdicts)
}
