//! GRPO as TRL's `GRPOTrainer` and verl define it (research notes rl.md §3–4): group-normalised
//! advantages ([`advantage`]) and the clipped, KL-penalised policy loss with its three
//! aggregation modes ([`loss`]). Both work on plain `f64` log-probabilities, so they are tested
//! against NumPy fixtures independently of the model.

pub mod advantage;
pub mod loss;

pub use advantage::{advantages, AdvantageConfig, ScaleRewards};
pub use loss::{grpo_loss, LossConfig, LossOutput, LossType};
