//! Shaping rewards: length, repetition and language consistency, used as weighted components
//! next to accuracy and format. (Lands with the instruction-following and shaping issue.)

use crate::contract::{GradeResult, Sample};

/// Rewards that depend on the other completions of the same GRPO group (`group_id`), such as
/// Kimi 1.5's length reward, are filled in here after every sample of a batch has been graded
/// on its own. `samples[i]` produced `results[i]`. Samples without a `group_id` are left alone.
pub fn apply_group_rewards(samples: &[&Sample], results: &mut [GradeResult]) {
    debug_assert_eq!(samples.len(), results.len());
}
