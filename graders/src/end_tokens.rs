//! The tokens a chat template or a generator leaves at the end of a turn (end-of-turn,
//! end-of-text, padding), as text: a completion decoded with its special tokens kept ends in
//! them, and they are not part of its answer. `serve`'s OpenRLHF route cuts them from a
//! response; the format rewards do not count them as an answer.

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
    let end = END_TOKENS
        .iter()
        .filter_map(|token| text.find(token))
        .min()
        .unwrap_or(text.len());
    &text[..end]
}
