//! The Llama-family decoder: RMSNorm, rotary position embeddings (HF `rotate_half` layout),
//! grouped-query attention, SwiGLU feed-forward, tied or untied output embedding.
//!
//! Two paths share the weights and the small kernels in [`ops`]:
//! - [`forward`] + [`backward`]: a whole batch of packed sequences, activations kept, for the
//!   GRPO loss (log-probabilities of chosen tokens in, their gradients back), llm.c style;
//! - [`decode`]: incremental inference with a KV cache, for sampling.

pub mod backward;
pub mod config;
pub mod decode;
pub mod forward;
pub mod kernels;
pub mod ops;
pub mod weights;

pub use config::ModelConfig;
pub use forward::{forward, Activations, ScoredSequence};
pub use weights::ModelWeights;
