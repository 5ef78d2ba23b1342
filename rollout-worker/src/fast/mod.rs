//! The fast CPU path (f32 only): the same model as [`crate::model`], which stays the plain
//! reference and the oracle the tests hold this path to (logits within 1e-4, gradients within
//! 1e-3 relative).
//!
//! - [`simd`]: the inner loops (AVX2 + FMA when the CPU has them, chosen at run time);
//! - [`linear`]: weights packed once for decoding and the small-batch matrix product over them,
//!   optionally in bf16;
//! - [`decode`]: KV-cache decoding on packed weights;
//! - [`attention`]: causal attention of one head as blocked small matrix products (training);
//! - [`train`]: the training forward and backward with that attention, threaded over heads.

pub mod attention;
pub mod decode;
pub mod linear;
pub mod simd;
pub mod train;

pub use decode::FastDecoder;
pub use linear::Precision;

use crate::model::ModelWeights;
use crate::rng::Rng;
use crate::sampling::{generate_with, positions_needed, SamplingConfig};

/// [`crate::sampling::generate`] on the fast path: the weights are packed once for the call.
pub fn generate(
    weights: &ModelWeights<f32>,
    precision: Precision,
    prompts: &[Vec<u32>],
    group_size: usize,
    config: &SamplingConfig,
    stop_tokens: &[u32],
    rng: &mut Rng,
) -> Vec<Vec<Vec<u32>>> {
    let decoder = FastDecoder::new(weights, precision, positions_needed(prompts, config));
    let layers = weights.config.num_hidden_layers;
    generate_with(
        &decoder,
        layers,
        prompts,
        group_size,
        config,
        stop_tokens,
        rng,
    )
}
