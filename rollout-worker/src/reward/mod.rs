//! Where rewards come from: the verifier service over HTTP ([`http`]) or the `graders` library
//! in this process ([`local`]). Both take and return the wire contract's own types
//! (`graders::contract::{Sample, GradeResult}`), one result per sample, in order.

pub mod http;
pub mod local;

use graders::contract::{GradeResult, Sample, Status};

pub trait RewardSource: Send + Sync {
    /// One result per sample, in the same order; an `Err` only when no result could be had
    /// for some sample (never a made-up zero).
    fn grade(&self, samples: &[Sample]) -> anyhow::Result<Vec<GradeResult>>;
    fn describe(&self) -> String;
}

/// The reward GRPO learns from: the result's reward, or NaN for an `error` or `timeout`, which
/// leaves the completion out of its group's statistics with advantage 0 (TRL's `None`).
pub fn training_reward(result: &GradeResult) -> f64 {
    match result.status {
        Status::Error | Status::Timeout => f64::NAN,
        _ => result.reward,
    }
}

/// Whether the primary task was answered correctly.
pub fn is_correct(result: &GradeResult) -> bool {
    result
        .components
        .first()
        .map_or(result.status == Status::Correct, |c| {
            c.status == Status::Correct
        })
}

/// Format compliance: the mean reward of `format` components when the sample has any, else
/// whether an answer could be extracted at all (status is not `no_answer`, `error` or `timeout`).
pub fn format_score(result: &GradeResult) -> f64 {
    let format: Vec<f64> = result
        .components
        .iter()
        .filter(|c| c.name.starts_with("format"))
        .map(|c| c.reward)
        .collect();
    if !format.is_empty() {
        return format.iter().sum::<f64>() / format.len() as f64;
    }
    let answered = !matches!(
        result.status,
        Status::NoAnswer | Status::Error | Status::Timeout
    );
    if answered {
        1.0
    } else {
        0.0
    }
}
