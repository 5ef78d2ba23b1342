//! Shaping rewards, used as weighted components next to accuracy and format (DESIGN.md §5):
//! R1's language consistency ([`language_consistency`]), length shaping — TRL's clamped cosine,
//! DAPO's soft overlong punishment, Kimi 1.5's group length reward ([`length`]) — and open-r1's
//! n-gram repetition penalty ([`repetition`]). Each is a task kind (`language_consistency`,
//! `length`, `repetition`) that arrives as a plugin-style task with its params; [`group`] fills
//! in what needs the whole GRPO group or the primary component's verdict.

pub mod group;
pub mod language_consistency;
pub mod length;
mod params;
pub mod repetition;

use std::sync::Arc;

use crate::contract::{GradeResult, Sample};
use crate::registry::Grader;

/// The shaping graders, for `Registry::with_builtins`.
pub fn graders() -> Vec<Arc<dyn Grader>> {
    vec![
        Arc::new(language_consistency::LanguageConsistencyGrader),
        Arc::new(length::LengthGrader),
        Arc::new(repetition::RepetitionGrader),
    ]
}

/// Rewards that depend on the other completions of the same GRPO group (`group_id`), such as
/// Kimi 1.5's length reward, or on the primary component's verdict (a cosine length reward with
/// no `correct` param), are filled in here after every sample of a batch has been graded on its
/// own. `samples[i]` produced `results[i]`. Samples without a `group_id` are left alone (their
/// deferred components stay `error`s that say a `group_id` is needed).
pub fn apply_group_rewards(samples: &[&Sample], results: &mut [GradeResult]) {
    debug_assert_eq!(samples.len(), results.len());
    group::apply(samples, results);
}
