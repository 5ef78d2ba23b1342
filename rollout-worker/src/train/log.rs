//! One JSON line per training step: what TRL logs for GRPO (reward, KL, clip ratio, completion
//! length, `frac_reward_zero_std`), plus accuracy, format rate and throughput.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct StepLog {
    pub step: usize,
    /// Learning rate of this step's update (after the schedule).
    pub lr: f64,
    /// Mean reward over all completions of the step (errors count as 0 here).
    pub mean_reward: f64,
    /// Share of completions whose primary task was `correct`.
    pub accuracy: f64,
    /// Share of completions with the requested format (see `reward::format_score`).
    pub format_rate: f64,
    pub completion_length: f64,
    pub kl: f64,
    pub loss: f64,
    pub grad_norm: f64,
    pub clip_fraction: f64,
    pub frac_reward_zero_std: f64,
    /// Completions whose grading ended in `error` or `timeout` (advantage 0).
    pub grading_errors: usize,
    pub generate_tokens_per_s: f64,
    pub train_tokens_per_s: f64,
    pub generate_s: f64,
    pub grade_s: f64,
    pub train_s: f64,
    pub elapsed_s: f64,
}
