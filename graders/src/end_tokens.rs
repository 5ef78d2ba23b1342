//! The tokens a chat template or a generator leaves at the end of a turn (end-of-turn,
//! end-of-text, padding), as text: a completion decoded with its special tokens kept ends in
//! them, and they are not part of its answer. `serve`'s OpenRLHF route cuts them from a
//! response; the format rewards do not count them as an answer.

use aho_corasick::{AhoCorasick, MatchKind};

/// End-of-turn, end-of-text and padding tokens of common chat templates (ChatML/Qwen, Llama 2,
/// 3 and 4, Mistral, Gemma, Phi-3, DeepSeek, Command R, SmolLM, GPT-OSS/harmony), stripped from
/// the end of a response.
pub const END_TOKENS: [&str; 17] = [
    "<|im_end|>",
    "<|endoftext|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|eot|>",
    "<|EOT|>",
    "<|END_OF_TURN_TOKEN|>",
    "<end_of_utterance>",
    "<|end_of_text|>",
    "</s>",
    "<end_of_turn>",
    "<eos>",
    "<|end|>",
    "<|return|>",
    "<｜end▁of▁sentence｜>",
    "<|end▁of▁sentence|>",
    "<pad>",
];

/// `text` without the end tokens at its end, however many there are, nor the white space and
/// invisible characters ([`crate::chars::is_invisible`]) around them (`<|im_end|>\u{200B}` hid
/// the token from a check for trailing white space: red team).
pub fn strip_end_tokens(mut text: &str) -> &str {
    loop {
        let trimmed =
            text.trim_end_matches(|c: char| c.is_whitespace() || crate::chars::is_invisible(c));
        match END_TOKENS
            .iter()
            .find_map(|token| trimmed.strip_suffix(token))
        {
            Some(shorter) => text = shorter,
            None => return trimmed,
        }
    }
}

/// `text` up to the first end token in it: what follows the end of a turn (another turn's
/// header, `<|im_end|>\n<|im_start|>user\n`) is not part of the response either (red team).
pub fn before_first_end_token(text: &str) -> &str {
    // One automaton over all the tokens, built once: the text is read once, at a few
    // nanoseconds a byte whatever it holds. A `str::find` per token built 17 substring searchers
    // a call (~5% of the server's CPU on format samples), and trying every token at each `<`
    // took ~13 ns a byte on a text of `<`s (red team).
    static TOKENS: std::sync::LazyLock<AhoCorasick> = std::sync::LazyLock::new(|| {
        AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build(END_TOKENS)
            .expect("the end tokens make an automaton")
    });
    TOKENS
        .find(text)
        .map_or(text, |found| &text[..found.start()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_before_the_first_end_token_of_any_kind() {
        /// The definition: the least position at which any token occurs.
        fn reference(text: &str) -> &str {
            let end = END_TOKENS
                .iter()
                .filter_map(|token| text.find(token))
                .min()
                .unwrap_or(text.len());
            &text[..end]
        }
        let cases = [
            "",
            "<",
            "plain answer",
            "42<|im_end|>",
            "42</s><|im_end|>",
            "42<|im_end|></s>",
            "a<<|eot_id|>b",
            "a<|eot|<|eot_id|>",
            "<|end|><|end_of_text|>",
            "x<｜end▁of▁sentence｜>y</s>",
            "x<|end▁of▁sentence|>",
            "<pad",
            "é<eos>ü<end_of_turn>",
            "<think>a</think><answer>b</answer><|return|>",
        ];
        for text in cases {
            assert_eq!(before_first_end_token(text), reference(text), "{text:?}");
        }
        // Every token at every place in some text around it.
        for token in END_TOKENS {
            for before in ["", "<", "a<b", "ü<|"] {
                let text = format!("{before}{token}<pad>");
                assert_eq!(before_first_end_token(&text), reference(&text), "{text:?}");
            }
        }
    }
}
