//! Text to token ids and back.
//!
//! - [`bpe`]: GPT-2 style byte-level BPE (SmolLM2 and most Llama-family checkpoints), built from
//!   GGUF metadata or a Hugging Face `tokenizer.json`;
//! - [`pretokenize`]: the split before BPE (GPT-2's regex, written out by hand, after isolating
//!   digits as SmolLM2's tokenizer does);
//! - [`chars`]: a character tokenizer for the toy arithmetic task;
//! - [`chat`]: rendering a prompt with a chat template.

pub mod bpe;
pub mod chars;
pub mod chat;
pub mod pretokenize;

pub use bpe::BpeTokenizer;
pub use chars::CharTokenizer;
pub use chat::ChatTemplate;

/// What the rollout loop needs from a tokenizer.
pub trait Tokenizer: Send + Sync {
    fn encode(&self, text: &str) -> Vec<u32>;
    /// Text of the tokens; special tokens such as EOS are left out.
    fn decode(&self, tokens: &[u32]) -> String;
    /// Tokens that end a completion.
    fn stop_tokens(&self) -> Vec<u32>;
    fn vocab_size(&self) -> usize;
    /// Writes the files that let a checkpoint directory load this tokenizer back.
    fn save(&self, dir: &std::path::Path) -> anyhow::Result<()>;
}
