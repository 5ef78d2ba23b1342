//! The GRPO policy loss, per token then aggregated, with its gradient with respect to each
//! log-probability (the model's backward pass takes it from there).
//!
//! Per completion token, as in TRL's `_compute_loss` and verl's `vanilla` policy loss:
//!
//! ```text
//! rho   = exp(logp - logp_old)
//! l     = -min(rho * A, clip(rho, 1 - eps_low, 1 + eps_high) * A)
//!       + beta * k3,     k3 = exp(ref - logp) - (ref - logp) - 1      (only when beta != 0)
//! ```
//!
//! Defaults follow TRL's `GRPOConfig`: `epsilon = 0.2`, `epsilon_high = epsilon` (DAPO
//! recommends 0.28), `beta = 0.0` (R1 used 0.001, verl's `kl_loss_coef` default is 0.001),
//! `loss_type = dapo`. With one optimisation step per generation (TRL's `num_iterations = 1`)
//! `logp_old` is `logp` detached, so `rho = 1` with gradient.
//!
//! Aggregation over completions `i` and their tokens `t` (every token of a completion is active;
//! completions stop at and include EOS):
//! - `grpo` (verl `seq-mean-token-mean`): `mean_i( sum_t l / max(|o_i|, 1) )`;
//! - `dr_grpo` (verl `seq-mean-token-sum-norm`): `sum_{i,t} l / (B * max_completion_length)`;
//! - `dapo` (verl `token-mean`, TRL's default since v0.22): `sum_{i,t} l / sum_i |o_i|`.
//!
//! Gradient of the min term (PyTorch's `minimum` sends the gradient to the smaller argument, and
//! splits ties, whose two halves are equal here): `d(-min)/d logp = -A * rho` when
//! `rho * A <= clip(rho) * A`, else 0 (the clipped branch is constant in `logp`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum LossType {
    Grpo,
    /// TRL's spelling, `dr_grpo`; `dr-grpo` is accepted too.
    #[value(name = "dr_grpo", alias = "dr-grpo")]
    DrGrpo,
    Dapo,
}

#[derive(Debug, Clone, Copy)]
pub struct LossConfig {
    pub loss_type: LossType,
    pub epsilon_low: f64,
    pub epsilon_high: f64,
    pub beta: f64,
    /// Used by `dr_grpo` only: the generation limit, not the longest completion seen.
    pub max_completion_length: usize,
}

impl Default for LossConfig {
    fn default() -> Self {
        LossConfig {
            loss_type: LossType::Dapo,
            epsilon_low: 0.2,
            epsilon_high: 0.2,
            beta: 0.0,
            max_completion_length: 256,
        }
    }
}

#[derive(Debug, Clone)]
pub struct LossOutput {
    pub loss: f64,
    /// `d loss / d logp` for every token of every completion.
    pub d_logps: Vec<Vec<f64>>,
    /// Mean over completions of the token-mean k3 KL (TRL's logged `kl`); 0 without a reference.
    pub mean_kl: f64,
    /// Share of tokens in TRL's clipped region (`clip_ratio/region_mean`): `rho < 1 - eps_low`
    /// with `A < 0`, or `rho > 1 + eps_high` with `A > 0`, where the clipped branch is the
    /// smaller and the gradient is cut.
    pub clip_fraction: f64,
}

/// The loss over a batch of completions. `ref_logps` is needed only when `beta != 0`.
pub fn grpo_loss(
    config: &LossConfig,
    logps: &[Vec<f64>],
    old_logps: &[Vec<f64>],
    ref_logps: Option<&[Vec<f64>]>,
    advantages: &[f64],
) -> LossOutput {
    let b = logps.len();
    assert_eq!(old_logps.len(), b);
    assert_eq!(advantages.len(), b);
    let total_tokens: usize = logps.iter().map(Vec::len).sum();
    let (lo, hi) = (1.0 - config.epsilon_low, 1.0 + config.epsilon_high);

    let mut loss = 0.0;
    let mut d_logps = Vec::with_capacity(b);
    let mut kl_sum = 0.0;
    let mut clipped = 0usize;
    for i in 0..b {
        let n = logps[i].len();
        // Weight of one token's loss in the aggregate.
        let weight = match config.loss_type {
            LossType::Grpo => 1.0 / (b as f64 * (n.max(1)) as f64),
            LossType::DrGrpo => 1.0 / (b as f64 * config.max_completion_length as f64),
            LossType::Dapo => 1.0 / (total_tokens.max(1)) as f64,
        };
        let a = advantages[i];
        let mut grads = Vec::with_capacity(n);
        let mut seq_kl = 0.0;
        for t in 0..n {
            let logp = logps[i][t];
            let rho = (logp - old_logps[i][t]).exp();
            let unclipped = rho * a;
            let clipped_term = rho.clamp(lo, hi) * a;
            let mut token_loss = -unclipped.min(clipped_term);
            let mut grad = if unclipped <= clipped_term {
                -a * rho
            } else {
                0.0
            };
            if (rho < lo && a < 0.0) || (rho > hi && a > 0.0) {
                clipped += 1;
            }
            if config.beta != 0.0 {
                let refs = ref_logps.expect("beta != 0 needs reference log-probabilities");
                let delta = refs[i][t] - logp;
                let k3 = delta.exp() - delta - 1.0;
                token_loss += config.beta * k3;
                grad += config.beta * (1.0 - delta.exp());
                seq_kl += k3;
            }
            loss += weight * token_loss;
            grads.push(weight * grad);
        }
        kl_sum += seq_kl / n.max(1) as f64;
        d_logps.push(grads);
    }
    LossOutput {
        loss,
        d_logps,
        mean_kl: kl_sum / b.max(1) as f64,
        clip_fraction: clipped as f64 / total_tokens.max(1) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_fraction_counts_trls_region_only() {
        // Ratios below, inside and above [0.8, 1.2]; one completion with A > 0, one with A < 0.
        let rho = [0.5f64, 1.0, 1.5];
        let logps: Vec<Vec<f64>> = vec![rho.iter().map(|r| r.ln()).collect(); 2];
        let old = vec![vec![0.0; 3]; 2];
        let out = grpo_loss(&LossConfig::default(), &logps, &old, None, &[1.0, -1.0]);
        // Counted: rho 1.5 with A > 0, rho 0.5 with A < 0. Not: 0.5 with A > 0, 1.5 with A < 0.
        assert_eq!(out.clip_fraction, 2.0 / 6.0);
    }

    #[test]
    fn dr_grpo_is_spelled_as_in_trl() {
        use clap::ValueEnum;
        assert_eq!(LossType::from_str("dr_grpo", false), Ok(LossType::DrGrpo));
        assert_eq!(LossType::from_str("dr-grpo", false), Ok(LossType::DrGrpo));
    }
}
