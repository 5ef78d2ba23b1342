//! Format rules that cannot be farmed: the whole string must have the layout, every tag occurs
//! exactly once, bodies are non-empty, and nothing follows the last closing tag but line breaks.
//! Each failure says why, so a person reading a result knows what the model did.

use super::tags::{tag, Tag};
use crate::chars::is_blank;
use crate::end_tokens::{before_first_end_token, strip_end_tokens};

static THINK_OPEN: Tag = tag!("<think>");
static THINK_CLOSE: Tag = tag!("</think>");
static ANSWER_OPEN: Tag = tag!("<answer>");
static ANSWER_CLOSE: Tag = tag!("</answer>");

/// DeepSeek-R1's format: `<think>reasoning</think>answer`, one think block, both parts with
/// something visible (not only white space or zero-width characters).
pub fn r1(text: &str) -> Result<(), String> {
    let Some(after_open) = text.strip_prefix(THINK_OPEN.text) else {
        return Err("the completion must start with <think>".into());
    };
    exactly_once(text, &THINK_OPEN)?;
    exactly_once(text, &THINK_CLOSE)?;
    let (reasoning, answer) = after_open
        .split_once(THINK_CLOSE.text)
        .ok_or("no </think> after <think>")?;
    if is_blank(strip_end_tokens(reasoning)) {
        return Err("the reasoning inside <think> is empty".into());
    }
    // A completion decoded with its special tokens ends in the template's end-of-turn token, and
    // what follows one is another turn: `<think>a</think><|im_end|>` has no answer (red team: it
    // scored 1).
    if is_blank(before_first_end_token(answer)) {
        return Err("there is no answer after </think>".into());
    }
    Ok(())
}

/// open-r1's layout `<think>\n...\n</think>\n<answer>\n...\n</answer>` as a full-string match,
/// with the holes of its regex closed: text after `</answer>` (only trailing line breaks are
/// allowed), repeated or nested blocks, and empty bodies.
pub fn think_answer(text: &str) -> Result<(), String> {
    for tag in [&THINK_OPEN, &THINK_CLOSE, &ANSWER_OPEN, &ANSWER_CLOSE] {
        exactly_once(text, tag)?;
    }
    let rest = text
        .strip_prefix("<think>\n")
        .ok_or("the completion must start with \"<think>\\n\"")?;
    let (reasoning, rest) = rest
        .split_once("\n</think>\n<answer>\n")
        .ok_or("</think> must be followed by \"\\n<answer>\\n\" on its own line")?;
    let (answer, trailer) = rest
        .split_once("\n</answer>")
        .ok_or("the answer must end with \"\\n</answer>\"")?;
    if is_blank(strip_end_tokens(reasoning)) {
        return Err("the reasoning inside <think> is empty".into());
    }
    if is_blank(before_first_end_token(answer)) {
        return Err("the answer inside <answer> is empty".into());
    }
    // Only line breaks may follow; even a space or "\r" is text that open-r1 rejects too, so
    // the strict mode never passes what the compatible mode fails.
    if !trailer.chars().all(|c| c == '\n') {
        return Err("text follows </answer>".into());
    }
    Ok(())
}

fn exactly_once(text: &str, tag: &Tag) -> Result<(), String> {
    let name = tag.text;
    match tag.count(text) {
        1 => Ok(()),
        0 => Err(format!("no {name} tag")),
        n => Err(format!("{n} {name} tags; exactly one is allowed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zero-width character is not a body (red team: `<think>\u{200B}</think>\u{200B}`
    /// passed).
    #[test]
    fn invisible_bodies_are_empty() {
        assert!(r1("<think>\u{200B}</think>\u{200B}").is_err());
        assert!(r1("<think>\u{2060}</think>ok").is_err());
        assert!(think_answer("<think>\n\u{200B}\n</think>\n<answer>\nx\n</answer>").is_err());
        assert!(think_answer("<think>\nx\n</think>\n<answer>\n\u{FEFF}\n</answer>").is_err());
    }

    #[test]
    fn r1_accepts_the_native_layout() {
        assert_eq!(r1("<think>\nA\n</think>\nB"), Ok(()));
        assert_eq!(r1("<think>reason</think> The answer is 4."), Ok(()));
        // An answer followed by the template's end-of-turn token is still an answer.
        assert_eq!(r1("<think>reason</think> 4<|im_end|>"), Ok(()));
    }

    #[test]
    fn r1_rejects_each_hole() {
        let cases = [
            ("", "start with <think>"),
            (" <think>a</think>b", "start with <think>"),
            ("<think>a</think>", "no answer"),
            ("<think>a</think>  \n", "no answer"),
            ("<think> \n </think>b", "reasoning"),
            ("<think>a</think>b<think>c</think>d", "2 <think> tags"),
            ("<think>a<think>b</think>c</think>d", "2 <think> tags"),
            ("<think>a</think>b</think>", "2 </think> tags"),
            ("<think>a", "no </think>"),
            ("<think>a</think><|im_end|>", "no answer"),
            ("<think>a</think>\n</s>", "no answer"),
            ("<think>a</think><|eot_id|><|end_of_text|>\n", "no answer"),
            ("<think><|im_end|></think>b", "reasoning"),
            ("<think>a</think><|im_end|>\u{200B}", "no answer"),
            ("<think>a</think><|im_end|>\u{E000}", "no answer"),
            ("<think>a</think><|im_end|>\u{200B}<|im_end|>", "no answer"),
            ("<think>a</think><|endoftext|>\u{FEFF}", "no answer"),
            ("<think>a</think><|eot_id|>\u{0301}", "no answer"),
            ("<think>a</think><|eom_id|>", "no answer"),
            (
                "<think>a</think><|im_end|>\n<|im_start|>user\n",
                "no answer",
            ),
            ("<think>a</think>\n</s><s>[INST] next", "no answer"),
        ];
        for (text, why) in cases {
            let err = r1(text).unwrap_err();
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }

    #[test]
    fn strict_think_answer_accepts_the_canonical_layout() {
        assert_eq!(
            think_answer("<think>\nA\n</think>\n<answer>\nB\n</answer>"),
            Ok(())
        );
        assert_eq!(
            think_answer("<think>\nA\n</think>\n<answer>\nB\n</answer>\n"),
            Ok(())
        );
    }

    /// The holes of open-r1's `format_reward` listed in research/rl.md §2, each of which open-r1
    /// scores 1.0.
    #[test]
    fn strict_think_answer_closes_open_r1_holes() {
        let holes = [
            ("<think>\nA\n</think>\n<answer>\nB\n</answer>\nextra text", "follows </answer>"),
            ("<think>\nA\n</think>\n<answer>\nB\n</answer>\n<|im_end|>", "follows </answer>"),
            (
                "<think>\nA\n</think>\n<answer>\nB\n</answer>\n<think>\nC\n</think>\n<answer>\nD\n</answer>",
                "2 <think> tags",
            ),
            ("<think>\nA\n</think>\n<think>\nA2\n</think>\n<answer>\nB\n</answer>", "2 <think>"),
            ("<think>\n<think>\nA\n</think>\n</think>\n<answer>\nB\n</answer>", "2 <think>"),
            ("<think>\n<answer>\nx\n</answer>\n</think>\n<answer>\nB\n</answer>", "2 <answer>"),
            ("<think>\n\n</think>\n<answer>\n\n</answer>", "reasoning inside <think> is empty"),
            ("<think>\nA\n</think>\n<answer>\n \n</answer>", "answer inside <answer> is empty"),
            ("<think>\nA\n</think>\n<answer>\n<|im_end|>\n</answer>", "answer inside <answer> is empty"),
            (
                "<think>\nA\n</think>\n<answer>\n<|im_end|>\n<|im_start|>user\nhi\n</answer>",
                "answer inside <answer> is empty",
            ),
        ];
        for (text, why) in holes {
            assert_eq!(
                super::super::open_r1::format_reward(text),
                1.0,
                "open-r1 passes {text:?}"
            );
            let err = think_answer(text).unwrap_err();
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }
}
