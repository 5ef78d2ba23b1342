//! `length`: length shaping, with the exact formulas of open-r1 and TRL (research/rl.md §2).
//!
//! * `style: "cosine"` — TRL's `get_cosine_scaled_reward` (p clamped to 1, so an over-long
//!   completion gets the end value instead of open-r1's unclamped cosine climbing back):
//!   `p = min(L / max_len, 1)`, `c = cos(πp)`; correct: `lo = min_value_correct (0.5)`,
//!   `hi = max_value_correct (1.0)`; wrong: `lo = max_value_wrong (−0.5)`, `hi = min_value_wrong
//!   (−1.0)`; reward `lo + ½(hi − lo)(1 + c)`; `max_len` defaults to 1000. Correctness comes
//!   from the `correct` param, or, when it is absent, from the primary component's status
//!   (`correct` or not) in the group pass, which needs the sample to have a `group_id`.
//! * `style: "soft_overlong"` — DAPO's soft overlong punishment (eq. 13, open-r1/TRL
//!   `get_soft_overlong_punishment`): 0 if `L ≤ Lmax − C`; `(Lmax − C − L)/C` if
//!   `Lmax − C < L ≤ Lmax`; −1 beyond. Params `max_completion_len` (16384) and
//!   `soft_punish_cache` (4096).
//! * `style: "kimi"` — Kimi 1.5's length reward (open-r1 `len_reward`) over a GRPO group:
//!   `λ = 0.5 − (L − Lmin)/(Lmax − Lmin)`; correct → λ, wrong → min(0, λ); all 0 when every
//!   length is equal. Correctness is the primary component's status; computed in the group pass.
//!
//! Length `L`: the `length` param (model tokens, from the trainer's tokenizer) when given,
//! else estimated tokens (`unit: "tokens"`, the default: words, each CJK character one, and at
//! least one per six ASCII characters plus one per other character, `params::token_estimate`)
//! or characters
//! (`unit: "chars"`, open-r1's measure).

use std::f64::consts::PI;

use serde::Deserialize;

use super::params::{deferred, parse, shaped, LengthSpec, LengthUnit};
use crate::contract::{check_magnitude, Task, Verdict};
use crate::registry::{GradeContext, Grader, GraderInfo};

pub const KIND: &str = "length";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = LengthStyle)]
pub enum Style {
    Cosine,
    SoftOverlong,
    Kimi,
}

/// The `length` task's params; each style reads its own.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub style: Style,
    /// Length in model tokens from the trainer's tokenizer (else counted in `unit`).
    #[serde(default)]
    pub length: Option<u64>,
    /// How `L` is counted when `length` is absent: `tokens` (estimated, default)
    /// or `chars`.
    #[serde(default)]
    pub unit: LengthUnit,
    /// cosine: whether the answer is correct (else taken from the primary component).
    #[serde(default)]
    pub correct: Option<bool>,
    /// cosine: the length at which the reward reaches its end value (1000).
    #[serde(default = "default_max_len")]
    pub max_len: f64,
    /// cosine: reward of a wrong answer at `max_len` (-1).
    #[serde(default = "default_min_value_wrong")]
    pub min_value_wrong: f64,
    /// cosine: reward of a wrong answer at length 0 (-0.5).
    #[serde(default = "default_max_value_wrong")]
    pub max_value_wrong: f64,
    /// cosine: reward of a correct answer at `max_len` (0.5).
    #[serde(default = "default_min_value_correct")]
    pub min_value_correct: f64,
    /// cosine: reward of a correct answer at length 0 (1).
    #[serde(default = "default_max_value_correct")]
    pub max_value_correct: f64,
    /// soft_overlong: DAPO's `L_max` (16384).
    #[serde(default = "default_max_completion_len")]
    pub max_completion_len: f64,
    /// soft_overlong: DAPO's cache `C`, the span before `L_max` where the penalty grows (4096).
    #[serde(default = "default_soft_punish_cache")]
    pub soft_punish_cache: f64,
}

fn default_max_len() -> f64 {
    1000.0
}
fn default_min_value_wrong() -> f64 {
    -1.0
}
fn default_max_value_wrong() -> f64 {
    -0.5
}
fn default_min_value_correct() -> f64 {
    0.5
}
fn default_max_value_correct() -> f64 {
    1.0
}
fn default_max_completion_len() -> f64 {
    16384.0
}
fn default_soft_punish_cache() -> f64 {
    4096.0
}

impl Params {
    /// `L` for this completion.
    pub fn measure(&self, completion: &str) -> f64 {
        LengthSpec {
            length: self.length,
            unit: self.unit,
        }
        .measure(completion)
    }
}

/// TRL's clamped cosine-scaled reward.
pub fn cosine_reward(length: f64, correct: bool, params: &Params) -> f64 {
    let progress = (length / params.max_len).min(1.0);
    let cosine = (PI * progress).cos();
    let (lo, hi) = if correct {
        (params.min_value_correct, params.max_value_correct)
    } else {
        (params.max_value_wrong, params.min_value_wrong)
    };
    lo + 0.5 * (hi - lo) * (1.0 + cosine)
}

/// DAPO's soft overlong punishment.
pub fn soft_overlong_punishment(length: f64, max_completion_len: f64, cache: f64) -> f64 {
    let expected = max_completion_len - cache;
    if length <= expected {
        0.0
    } else if length <= max_completion_len {
        (expected - length) / cache
    } else {
        -1.0
    }
}

/// Kimi 1.5's group length reward for each `(length, correct)` of one group.
pub fn kimi_rewards(members: &[(f64, bool)]) -> Vec<f64> {
    let min = members.iter().map(|m| m.0).fold(f64::INFINITY, f64::min);
    let max = members
        .iter()
        .map(|m| m.0)
        .fold(f64::NEG_INFINITY, f64::max);
    if members.is_empty() || max == min {
        return vec![0.0; members.len()];
    }
    members
        .iter()
        .map(|&(length, correct)| {
            let lambda = 0.5 - (length - min) / (max - min);
            if correct {
                lambda
            } else {
                lambda.min(0.0)
            }
        })
        .collect()
}

/// The verdict of a cosine reward once correctness is known.
pub fn cosine_verdict(length: f64, correct: bool, params: &Params) -> Verdict {
    let reward = cosine_reward(length, correct, params);
    shaped(reward, params.min_value_wrong, params.max_value_correct)
        .with_detail("length", length)
        .with_detail("correct", correct)
}

/// The verdict of a Kimi reward once the group is known.
pub fn kimi_verdict(reward: f64, length: f64) -> Verdict {
    shaped(reward, -0.5, 0.5).with_detail("length", length)
}

fn validate(params: &Params) -> Result<(), String> {
    let positive = |name: &str, value: f64| {
        if value > 0.0 && value.is_finite() {
            Ok(())
        } else {
            Err(format!(
                "length.{name}: must be a positive number, got {value}"
            ))
        }
    };
    // Reward bounds are rewards: bounded like weights, so no reward or weighted sum overflows.
    for (name, value) in [
        ("min_value_wrong", params.min_value_wrong),
        ("max_value_wrong", params.max_value_wrong),
        ("min_value_correct", params.min_value_correct),
        ("max_value_correct", params.max_value_correct),
    ] {
        check_magnitude(value).map_err(|why| format!("length.{name}: {why}"))?;
    }
    match params.style {
        Style::Cosine => positive("max_len", params.max_len),
        Style::SoftOverlong => {
            positive("soft_punish_cache", params.soft_punish_cache)?;
            positive("max_completion_len", params.max_completion_len)
        }
        Style::Kimi => Ok(()),
    }
}

pub struct LengthGrader;

impl Grader for LengthGrader {
    fn info(&self) -> GraderInfo {
        GraderInfo {
            kind: KIND.into(),
            description:
                "length shaping: TRL cosine (clamped), DAPO soft overlong, Kimi 1.5 group length"
                    .into(),
            available: true,
            variants: vec!["cosine".into(), "soft_overlong".into(), "kimi".into()],
            version: None,
        }
    }

    fn grade(&self, completion: &str, task: &Task, _ctx: &GradeContext) -> Verdict {
        let params: Params = match parse(task, KIND) {
            Ok(params) => params,
            Err(verdict) => return verdict,
        };
        if let Err(why) = validate(&params) {
            return Verdict::error(why);
        }
        let length = params.measure(completion);
        match (params.style, params.correct) {
            (Style::Cosine, Some(correct)) => cosine_verdict(length, correct, &params),
            (Style::Cosine, None) => deferred(
                "length (cosine): no `correct` param, and correctness from the primary \
                 component needs the sample to have a group_id",
            ),
            (Style::SoftOverlong, _) => {
                let reward = soft_overlong_punishment(
                    length,
                    params.max_completion_len,
                    params.soft_punish_cache,
                );
                shaped(reward, -1.0, 0.0).with_detail("length", length)
            }
            (Style::Kimi, _) => deferred(
                "length (kimi): the Kimi length reward compares a GRPO group; give the sample a group_id",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(json: &str) -> Params {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn cosine_matches_trl() {
        let p = params(r#"{"style":"cosine"}"#);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(cosine_reward(0.0, true, &p), 1.0));
        assert!(close(cosine_reward(500.0, true, &p), 0.75));
        assert!(close(cosine_reward(1000.0, true, &p), 0.5));
        assert!(close(cosine_reward(0.0, false, &p), -1.0));
        assert!(close(cosine_reward(500.0, false, &p), -0.75));
        assert!(close(cosine_reward(1000.0, false, &p), -0.5));
        // Clamped: twice max_len is the same as max_len (open-r1 would give 1.0 again).
        assert!(close(cosine_reward(2000.0, true, &p), 0.5));
        // 250 of 1000: c = cos(pi/4) = 0.7071..., 0.5 + 0.25 * 1.7071... = 0.926776...
        assert!(close(
            cosine_reward(250.0, true, &p),
            0.5 + 0.25 * (1.0 + (PI / 4.0).cos())
        ));
    }

    #[test]
    fn soft_overlong_matches_dapo() {
        assert_eq!(soft_overlong_punishment(12288.0, 16384.0, 4096.0), 0.0);
        assert_eq!(soft_overlong_punishment(14336.0, 16384.0, 4096.0), -0.5);
        assert_eq!(soft_overlong_punishment(16384.0, 16384.0, 4096.0), -1.0);
        assert_eq!(soft_overlong_punishment(16385.0, 16384.0, 4096.0), -1.0);
        assert_eq!(soft_overlong_punishment(9.0, 10.0, 4.0), -0.75);
    }

    #[test]
    fn kimi_matches_open_r1() {
        // Lengths 10, 20, 30: lambda = 0.5, 0, -0.5.
        let rewards = kimi_rewards(&[(10.0, true), (20.0, false), (30.0, true), (10.0, false)]);
        assert_eq!(rewards, [0.5, 0.0, -0.5, 0.0]);
        assert_eq!(kimi_rewards(&[(5.0, true), (5.0, false)]), [0.0, 0.0]);
    }
}
