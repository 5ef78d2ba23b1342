//! In-process grading with the `graders` library: no server, same contract, same verdicts as
//! `verifier serve` for the pure graders (math, format, instructions).

use std::sync::Arc;

use graders::contract::{GradeResult, Sample, Task, Verdict};
use graders::{grade_sample, GradeContext, Grader, GraderInfo, Registry};
use rayon::prelude::*;

use super::RewardSource;

pub struct LocalGrader {
    registry: Registry,
    fallback_note: Option<String>,
}

impl LocalGrader {
    /// The built-in graders. With `integer_fallback`, and only while the math grader reports
    /// itself unavailable, math tasks are graded by [`IntegerFallback`] instead.
    pub fn new(integer_fallback: bool) -> LocalGrader {
        let mut registry = Registry::with_builtins();
        let math_available = registry.get("math").is_some_and(|g| g.info().available);
        let mut fallback_note = None;
        if integer_fallback && !math_available {
            registry.insert(Arc::new(IntegerFallback));
            fallback_note = Some("FALLBACK: math tasks graded by an exact integer check (the math grader has not landed)".to_string());
        }
        LocalGrader {
            registry,
            fallback_note,
        }
    }
}

impl RewardSource for LocalGrader {
    fn grade(&self, samples: &[Sample]) -> anyhow::Result<Vec<GradeResult>> {
        Ok(samples
            .par_iter()
            .map(|s| grade_sample(&self.registry, s, &GradeContext::default()))
            .collect())
    }

    fn describe(&self) -> String {
        match &self.fallback_note {
            Some(note) => format!("in-process graders ({note})"),
            None => "in-process graders".to_string(),
        }
    }
}

/// A stand-in for the math grader, clearly labelled as such in every verdict: the completion's
/// last integer compared exactly with an integer gold answer. Used only for the toy task while
/// the real math grader is missing; anything that is not an integer answer is an `error`.
pub struct IntegerFallback;

impl Grader for IntegerFallback {
    fn info(&self) -> GraderInfo {
        GraderInfo {
            kind: "math".into(),
            description:
                "FALLBACK exact integer check (rollout-worker), standing in for the math grader"
                    .into(),
            available: true,
            variants: Vec::new(),
            version: None,
        }
    }

    fn grade(&self, completion: &str, task: &Task, _ctx: &GradeContext) -> Verdict {
        let Task::Math(math) = task else {
            return Verdict::error("not a math task");
        };
        let Ok(gold) = math.answer.trim().parse::<i64>() else {
            return Verdict::error("the integer fallback only grades integer answers");
        };
        let last = completion
            .split(|c: char| !c.is_ascii_digit() && c != '-')
            .rfind(|s| !s.is_empty() && *s != "-")
            .and_then(|s| s.parse::<i64>().ok());
        match last {
            None => Verdict {
                status: graders::Status::NoAnswer,
                ..Verdict::scored(0.0)
            },
            Some(got) => Verdict::scored(if got == gold { 1.0 } else { 0.0 }),
        }
        .with_detail("grader", "integer_fallback")
        .with_detail(
            "extracted",
            last.map_or(serde_json::Value::Null, serde_json::Value::from),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_checks_the_last_integer() {
        let task: Task = serde_json::from_str(r#"{"kind":"math","answer":"7"}"#).unwrap();
        let ctx = GradeContext::default();
        assert_eq!(IntegerFallback.grade("7", &task, &ctx).reward, 1.0);
        assert_eq!(IntegerFallback.grade("3+4=7", &task, &ctx).reward, 1.0);
        assert_eq!(IntegerFallback.grade("8", &task, &ctx).reward, 0.0);
        assert_eq!(
            IntegerFallback.grade("", &task, &ctx).status,
            graders::Status::NoAnswer
        );
    }
}
