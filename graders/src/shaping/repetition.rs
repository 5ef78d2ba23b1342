//! `repetition`: open-r1's n-gram repetition penalty (`get_repetition_penalty_reward`,
//! research/rl.md §2): words = `text.lower().split()`; no words or fewer than n → 0; otherwise
//! `(1 − #distinct n-grams / #n-grams) · max_penalty`, with `max_penalty ≤ 0`.
//!
//! Params: `ngram_size` (default 3), `max_penalty` (default −1.0). Only open-r1's English
//! (whitespace) word split is offered; its Chinese variant needs the jieba segmenter.

use std::collections::HashSet;

use serde::Deserialize;

use super::params::{parse, shaped};
use crate::contract::{check_magnitude, Task, Verdict};
use crate::registry::{GradeContext, Grader, GraderInfo};

pub const KIND: &str = "repetition";

/// The `repetition` task's params.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Words per n-gram.
    #[serde(default = "default_ngram_size")]
    pub ngram_size: usize,
    /// The penalty when every n-gram repeats (at most 0).
    #[serde(default = "default_max_penalty")]
    pub max_penalty: f64,
}

fn default_ngram_size() -> usize {
    3
}

fn default_max_penalty() -> f64 {
    -1.0
}

/// The penalty for `text`: 0 for no repetition, `max_penalty` when every n-gram repeats.
pub fn repetition_penalty(text: &str, ngram_size: usize, max_penalty: f64) -> f64 {
    repetition_penalty_until(text, ngram_size, max_penalty, &|| false).expect("never stopped")
}

/// [`repetition_penalty`], asking `stop` every [`CHECK_EVERY`] units of work; `None` once it
/// says stop (the deadline passed).
pub fn repetition_penalty_until(
    text: &str,
    ngram_size: usize,
    max_penalty: f64,
    stop: &dyn Fn() -> bool,
) -> Option<f64> {
    let lowered = text.to_lowercase();
    if stop() {
        return None;
    }
    let mut words: Vec<&str> = Vec::new();
    for (i, word) in lowered.split_whitespace().enumerate() {
        if i % CHECK_EVERY == 0 && stop() {
            return None;
        }
        words.push(word);
    }
    if words.is_empty() || words.len() < ngram_size || ngram_size == 0 {
        return Some(0.0);
    }
    let windows = words.len() - ngram_size + 1;
    let mut distinct: HashSet<&[&str]> = HashSet::with_capacity(windows);
    for (i, ngram) in words.windows(ngram_size).enumerate() {
        if i % CHECK_EVERY == 0 && stop() {
            return None;
        }
        distinct.insert(ngram);
    }
    Some((1.0 - distinct.len() as f64 / windows as f64) * max_penalty)
}

/// Units of work (n-grams here) between two looks at the deadline: a few hundred microseconds.
pub const CHECK_EVERY: usize = 1 << 14;

pub struct RepetitionGrader;

impl Grader for RepetitionGrader {
    fn info(&self) -> GraderInfo {
        GraderInfo {
            kind: KIND.into(),
            description: "open-r1's n-gram repetition penalty (0 down to max_penalty)".into(),
            available: true,
            variants: Vec::new(),
            version: None,
        }
    }

    fn grade(&self, completion: &str, task: &Task, ctx: &GradeContext) -> Verdict {
        let params: Params = match parse(task, KIND) {
            Ok(params) => params,
            Err(verdict) => return verdict,
        };
        if params.max_penalty > 0.0 || check_magnitude(params.max_penalty).is_err() {
            return Verdict::error(format!(
                "repetition.max_penalty: must be a number <= 0 of magnitude at most {:e}, got {:e}",
                crate::contract::MAX_WEIGHT,
                params.max_penalty
            ));
        }
        if params.ngram_size == 0 {
            return Verdict::error("repetition.ngram_size: must be at least 1");
        }
        let stop = || ctx.expired();
        match repetition_penalty_until(completion, params.ngram_size, params.max_penalty, &stop) {
            Some(penalty) => shaped(penalty, params.max_penalty, 0.0),
            None => Verdict::timeout("the deadline passed while counting repeated n-grams"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_open_r1_numbers() {
        // 6 trigrams, 3 distinct ("a b c", "b c a", "c a b"): (1 - 3/6) * -1 = -0.5.
        assert_eq!(repetition_penalty("a b c a b c a b", 3, -1.0), -0.5);
        assert_eq!(repetition_penalty("The cat sat on the mat", 3, -1.0), 0.0);
        assert_eq!(repetition_penalty("a b", 3, -1.0), 0.0);
        assert_eq!(repetition_penalty("", 3, -1.0), 0.0);
        // Case-folded: "Go go go go" has 2 bigrams... 3 bigrams, 1 distinct: (1 - 1/3) * -0.5.
        assert!((repetition_penalty("Go go go go", 2, -0.5) + 1.0 / 3.0).abs() < 1e-12);
    }
}
