//! `rollout-worker`: the GRPO loop of DeepSeek-R1 on a small Llama-family policy, with rewards
//! from the verifier (DESIGN.md §7). This crate is the CPU reference: plain Rust forward and
//! backward passes that a GPU backend can be checked against.
//!
//! Code map:
//! - [`real`], [`model`]: the decoder, its training forward/backward and KV-cache decoding;
//! - [`fast`]: the fast f32 path (packed decoding weights, SIMD attention), tested against
//!   [`model`]; [`bench`]: tokens/s next to this machine's measured limits;
//! - [`cuda`]: the CUDA backend (cudarc, NVRTC kernels, cuBLAS), checked against [`model`];
//! - [`load`]: GGUF (SmolLM2 from the package registry), safetensors + config.json, checkpoints;
//! - [`tokenizer`]: byte-level BPE, chat templates, and the toy task's character tokenizer;
//! - [`sampling`]: temperature / top-p sampling of G completions per prompt;
//! - [`grpo`]: advantages and the clipped, KL-penalised loss as TRL and verl define them;
//! - [`optim`]: AdamW with global-norm gradient clipping;
//! - [`reward`]: the verifier client (HTTP, round-robin, retries) and in-process grading;
//! - [`train`]: the loop, its prompts file and its per-step log; [`toy`]: the arithmetic task;
//! - [`report`]: a run's curves as an image, and two held-out evaluations compared.

pub mod bench;
pub mod cuda;
pub mod fast;
pub mod grpo;
pub mod load;
pub mod model;
pub mod optim;
pub mod real;
pub mod report;
pub mod reward;
pub mod rng;
pub mod sampling;
pub mod tokenizer;
pub mod toy;
pub mod train;
