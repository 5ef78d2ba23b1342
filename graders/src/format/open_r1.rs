//! open-r1's `format_reward` and `tag_count_reward` (huggingface/open-r1@1416fa0,
//! `src/open_r1/rewards.py`), with their exact semantics, holes included: this mode exists so
//! that numbers can be compared with open-r1 runs. Use `think_answer_strict` to train.

use super::tags::{tag, Tag};

/// `re.match(r"^<think>\n.*?\n</think>\n<answer>\n.*?\n</answer>$", s, re.DOTALL | re.MULTILINE)`.
/// `re.match` anchors at the start of the string, while MULTILINE lets `$` match before any
/// `\n`, so text on a later line after `</answer>` still passes. DOTALL lets `.*?` take
/// anything, tags and newlines included, so the pattern matches exactly when the text starts
/// with `<think>\n`, has `\n</think>\n<answer>\n` after that, and after the first such
/// `\n</answer>` followed by the end or a newline (a later `</think>...<answer>` only leaves
/// fewer places for `</answer>`). Searched so, with substring searchers built once: the
/// `regex` crate's lazy DFA (the tests keep it as the oracle) was 6% of `verifier grade`'s
/// CPU on format samples, where a quarter of them are this style.
pub fn format_reward(text: &str) -> f64 {
    if matches_format(text) {
        1.0
    } else {
        0.0
    }
}

static THINK_THEN_ANSWER: Tag = tag!("\n</think>\n<answer>\n");
static ANSWER_CLOSE: Tag = tag!("\n</answer>");

fn matches_format(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("<think>\n") else {
        return false;
    };
    let Some(middle) = THINK_THEN_ANSWER.finder.find(rest.as_bytes()) else {
        return false;
    };
    let answer = &rest.as_bytes()[middle + THINK_THEN_ANSWER.text.len()..];
    // `\n</answer>` cannot overlap itself, so these are all its occurrences.
    ANSWER_CLOSE.finder.find_iter(answer).any(|at| {
        let after = &answer[at + ANSWER_CLOSE.text.len()..];
        after.is_empty() || after[0] == b'\n'
    })
}

/// The four tags `tag_count_reward` looks for, each worth 0.25 when it occurs exactly once
/// (Python's `str.count`, which counts non-overlapping occurrences, as `str::matches` does).
pub static TAGS: [(&str, Tag); 4] = [
    ("think_open", tag!("<think>\n")),
    ("think_close", tag!("\n</think>\n")),
    ("answer_open", tag!("\n<answer>\n")),
    ("answer_close", tag!("\n</answer>")),
];

/// The score and, per tag of [`TAGS`], whether it occurred exactly once.
pub fn tag_count(text: &str) -> (f64, [bool; 4]) {
    let once = TAGS.each_ref().map(|(_, tag)| tag.count(text) == 1);
    let score = once.iter().filter(|ok| **ok).count() as f64 * 0.25;
    (score, once)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// open-r1's pattern as a regex (Rust's `(?m)$` matches where Python's MULTILINE `$` does,
    /// `(?s)` is DOTALL): the oracle the hand-written search is held to.
    fn oracle(text: &str) -> bool {
        static REGEX: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
            regex::Regex::new(r"(?sm)\A<think>\n.*?\n</think>\n<answer>\n.*?\n</answer>$")
                .expect("valid regex")
        });
        REGEX.is_match(text)
    }

    #[test]
    fn format_reward_matches_open_r1s_regex_on_tag_soup() {
        // Texts stitched from the pattern's own pieces, near-misses and filler, so that most
        // of them are one piece away from matching or not.
        let pieces = [
            "<think>\n",
            "<think>",
            "\n</think>\n",
            "</think>\n",
            "\n</think>",
            "<answer>\n",
            "\n<answer>\n",
            "\n<answer>",
            "\n</answer>",
            "</answer>",
            "\n",
            "x",
            " ",
            "é",
            "\n</think>\n<answer>\n",
            "\r\n",
        ];
        let mut random = crate::xorshift::Xorshift::new(0x2545_f491_4f6c_dd1d);
        let (mut matched, mut total) = (0, 0);
        for _ in 0..200_000 {
            let mut text = String::new();
            if random.below(4) != 0 {
                text.push_str("<think>\n");
            }
            text.push_str(&random.text(&pieces, 9));
            let expected = oracle(&text);
            assert_eq!(matches_format(&text), expected, "{text:?}");
            matched += usize::from(expected);
            total += 1;
        }
        // Both outcomes well represented, or the comparison says little.
        assert!(
            matched > total / 50 && matched < total / 2,
            "{matched} of {total}"
        );
    }

    #[test]
    fn format_reward_cases() {
        for (text, expected) in [
            ("<think>\na\n</think>\n<answer>\nb\n</answer>", 1.0),
            ("<think>\n\n</think>\n<answer>\n\n</answer>", 1.0),
            (
                "<think>\na\n</think>\n<answer>\nb\n</answer>\nmore text",
                1.0,
            ),
            ("<think>\na\n</think>\n<answer>\nb\n</answer> trailing", 0.0),
            (
                "<think>\na\n</think>\n<answer>\nb\n</answer>x\n</answer>",
                1.0,
            ),
            ("<think>\n</think>\n<answer>\nb\n</answer>", 0.0),
            (" <think>\na\n</think>\n<answer>\nb\n</answer>", 0.0),
            ("<think>\na\n</think>\n<answer>\n</answer>", 0.0),
        ] {
            assert_eq!(format_reward(text), expected, "{text:?}");
            assert_eq!(oracle(text), expected == 1.0, "{text:?}");
        }
    }
}
