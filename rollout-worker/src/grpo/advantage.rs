//! Group-normalised advantages.
//!
//! TRL (`_generate_and_score_completions`), with `R` the total reward of each completion and the
//! completions of one prompt consecutive in groups of `G`:
//!
//! ```text
//! mu_g  = nanmean over the group of R
//! sigma = nanstd (unbiased, Bessel) over the group   scale_rewards = "group" (default)
//!       = nanstd over the whole batch                 scale_rewards = "batch" (mean still per group)
//! A_i   = (R_i - mu_g) / (sigma + eps)                eps = 1e-4 in TRL, 1e-6 in verl
//! A_i   = R_i - mu_g                                  scale_rewards = "none" (Dr. GRPO; verl's
//!                                                     norm_adv_by_std_in_grpo = False)
//! A_i   = nan_to_num(A_i, 0)
//! ```
//!
//! A reward of NaN means "no reward" (TRL's `None`, here a grading `error`): it is left out of the
//! statistics and its completion gets advantage 0, rather than being learned from as a zero.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ScaleRewards {
    Group,
    Batch,
    None,
}

#[derive(Debug, Clone, Copy)]
pub struct AdvantageConfig {
    pub group_size: usize,
    pub scale: ScaleRewards,
    /// Added to the standard deviation: TRL 1e-4 (default here), verl 1e-6.
    pub eps: f64,
}

impl AdvantageConfig {
    pub fn trl(group_size: usize) -> AdvantageConfig {
        AdvantageConfig {
            group_size,
            scale: ScaleRewards::Group,
            eps: 1e-4,
        }
    }
}

/// Mean and unbiased standard deviation of the non-NaN values (NaN when undefined).
fn nan_mean_std(values: &[f64]) -> (f64, f64) {
    let present: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    let n = present.len() as f64;
    let mean = present.iter().sum::<f64>() / n;
    let var = present.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// One advantage per completion; `rewards.len()` must be a multiple of the group size.
pub fn advantages(rewards: &[f64], config: AdvantageConfig) -> Vec<f64> {
    let g = config.group_size;
    assert!(
        g > 0 && rewards.len() % g == 0,
        "rewards must come in whole groups of {g}"
    );
    let (_, batch_std) = nan_mean_std(rewards);
    let mut out = Vec::with_capacity(rewards.len());
    for group in rewards.chunks(g) {
        let (mean, group_std) = nan_mean_std(group);
        for &r in group {
            let centred = r - mean;
            let a = match config.scale {
                ScaleRewards::Group => centred / (group_std + config.eps),
                ScaleRewards::Batch => centred / (batch_std + config.eps),
                ScaleRewards::None => centred,
            };
            out.push(if a.is_finite() { a } else { 0.0 });
        }
    }
    out
}

/// Share of groups whose rewards are all equal (TRL's `frac_reward_zero_std`): they teach nothing.
pub fn fraction_zero_std(rewards: &[f64], group_size: usize) -> f64 {
    let groups: Vec<&[f64]> = rewards.chunks(group_size).collect();
    let flat = groups
        .iter()
        .filter(|g| g.iter().all(|&r| r == g[0]))
        .count();
    flat as f64 / groups.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_is_centred_and_scaled_by_its_unbiased_std() {
        let a = advantages(&[1.0, 0.0, 0.0, 0.0], AdvantageConfig::trl(4));
        // mean 0.25, unbiased std 0.5
        assert!((a[0] - 0.75 / 0.5001).abs() < 1e-12);
        assert!((a[1] + 0.25 / 0.5001).abs() < 1e-12);
    }

    #[test]
    fn all_equal_groups_and_missing_rewards_give_zero() {
        let a = advantages(&[1.0, 1.0, f64::NAN, 0.0], AdvantageConfig::trl(2));
        assert_eq!(a, vec![0.0, 0.0, 0.0, 0.0]);
        assert_eq!(fraction_zero_std(&[1.0, 1.0, 0.0, 1.0], 2), 0.5);
    }
}
