//! A character tokenizer for the toy arithmetic task: one token per digit and operator, plus
//! BOS and EOS. Small enough that a random policy picks the right one-token answer about one
//! time in fifteen.

use super::Tokenizer;

pub const TOY_ALPHABET: &str = "0123456789+-=";

pub struct CharTokenizer {
    alphabet: Vec<char>,
}

impl CharTokenizer {
    pub fn toy() -> CharTokenizer {
        CharTokenizer {
            alphabet: TOY_ALPHABET.chars().collect(),
        }
    }
    pub fn bos(&self) -> u32 {
        self.alphabet.len() as u32
    }
    pub fn eos(&self) -> u32 {
        self.alphabet.len() as u32 + 1
    }
}

impl Tokenizer for CharTokenizer {
    /// BOS, then one token per known character (others are dropped).
    fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = vec![self.bos()];
        out.extend(
            text.chars()
                .filter_map(|c| self.alphabet.iter().position(|&a| a == c).map(|i| i as u32)),
        );
        out
    }
    fn decode(&self, tokens: &[u32]) -> String {
        tokens
            .iter()
            .filter_map(|&t| self.alphabet.get(t as usize))
            .collect()
    }
    fn stop_tokens(&self) -> Vec<u32> {
        vec![self.eos()]
    }
    fn vocab_size(&self) -> usize {
        self.alphabet.len() + 2
    }
    fn save(&self, dir: &std::path::Path) -> anyhow::Result<()> {
        crate::load::hf::save_toy_tokenizer(dir)
    }
}
