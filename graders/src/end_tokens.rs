//! The tokens a chat template or a generator leaves at the end of a turn (end-of-turn,
//! end-of-text, padding), as text: a completion decoded with its special tokens kept ends in
//! them, and they are not part of its answer. `serve`'s OpenRLHF route cuts them from a
//! response; the format rewards do not count them as an answer.

/// End-of-turn, end-of-text and padding tokens of common chat templates (ChatML/Qwen, Llama 2
/// and 3, Mistral, Gemma, Phi-3, DeepSeek, GPT-OSS/harmony), stripped from the end of a response.
pub const END_TOKENS: [&str; 12] = [
    "<|im_end|>",
    "<|endoftext|>",
    "<|eot_id|>",
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

/// `text` without the end tokens (and whitespace) at its end, however many there are.
pub fn strip_end_tokens(mut text: &str) -> &str {
    loop {
        let trimmed = text.trim_end();
        match END_TOKENS
            .iter()
            .find_map(|token| trimmed.strip_suffix(token))
        {
            Some(shorter) => text = shorter,
            None => return trimmed,
        }
    }
}
