//! Reward composition: a sample's primary task plus its weighted components become one
//! [`GradeResult`] whose reward is the weighted sum and whose status is the primary task's,
//! unless a component failed (then `error`) or the deadline passed (then `timeout`).

use std::time::Instant;

use crate::contract::{ComponentResult, GradeResult, Sample, Status, Task, Verdict};
use crate::registry::{GradeContext, Registry};

/// Grades every component of `sample` and combines them.
pub fn grade_sample(registry: &Registry, sample: &Sample, ctx: &GradeContext) -> GradeResult {
    grade_sample_since(registry, sample, ctx, Instant::now())
}

/// [`grade_sample`] for a caller that has just read the clock (to set the sample's deadline):
/// `started` begins the sample's `elapsed_us` and answers whether the deadline had passed
/// before the first component. Each clock read is ~20 ns here, and a format reward took four
/// a sample, about 4% of `grade`'s CPU; now it takes two.
pub fn grade_sample_since(
    registry: &Registry,
    sample: &Sample,
    ctx: &GradeContext,
    started: Instant,
) -> GradeResult {
    let primary = (None, sample.weight.unwrap_or(1.0), &sample.task);
    // Most samples have one component: grade it without the bookkeeping below (three vectors
    // a sample, a tenth of the grading time of a format reward).
    let components: Vec<ComponentResult> = if sample.components.is_empty() {
        let (name, weight, task) = primary;
        let expired = ctx.deadline.is_some_and(|d| started >= d);
        let verdict = grade_component(registry, &sample.completion, task, weight, ctx, expired);
        vec![component_result(name, weight, task, verdict)]
    } else {
        let extra = sample
            .components
            .iter()
            .map(|c| (c.name.as_deref(), c.weight, &c.task));
        let all: Vec<_> = std::iter::once(primary).chain(extra).collect();
        // Sandboxed components are graded last, code the very last: a candidate whose code
        // spends the deadline must not turn the components after it (format, math, a plugin's
        // reward) into `timeout`s, which would make the whole sample a `timeout` that trainers
        // drop (a red team did it with a plugin listed after the code). A spent deadline is
        // the code's own failure (`incorrect`), never a timeout unless the client's deadline
        // was shorter than the code's limits. Results keep the sample's order.
        let mut order: Vec<usize> = (0..all.len()).collect();
        order.sort_by_key(|&index| match all[index].2 {
            Task::Code(_) => 2,
            Task::Plugin { .. } => 1,
            _ => 0,
        });
        let mut verdicts: Vec<Option<Verdict>> = vec![None; all.len()];
        for index in order {
            let (_, weight, task) = all[index];
            verdicts[index] = Some(grade_component(
                registry,
                &sample.completion,
                task,
                weight,
                ctx,
                ctx.expired(),
            ));
        }
        all.iter()
            .zip(verdicts)
            .map(|(&(name, weight, task), verdict)| {
                component_result(
                    name,
                    weight,
                    task,
                    verdict.expect("every component was graded"),
                )
            })
            .collect()
    };

    let mut result = GradeResult {
        id: sample.id.clone(),
        reward: 0.0,
        status: Status::Error,
        error: None,
        details: components[0].details.clone(),
        components,
        group_id: sample.group_id.clone(),
        elapsed_us: started.elapsed().as_micros() as u64,
        cached: false,
    };
    recompose(&mut result);
    result
}

fn component_result(
    name: Option<&str>,
    weight: f64,
    task: &Task,
    verdict: Verdict,
) -> ComponentResult {
    ComponentResult {
        name: name.map_or_else(|| task.component_name(), str::to_string),
        weight,
        reward: verdict.reward,
        status: verdict.status,
        details: verdict.details,
        error: verdict.error,
    }
}

/// Sets a result's total, status and error from its components: the weighted sum of rewards and
/// the primary component's status, unless a component failed (then `error`, or `timeout`, with
/// reward 0 and the component's message). Shaping that fills components in later calls it too.
pub fn recompose(result: &mut GradeResult) {
    // A reward is always a finite number: a grader's non-finite reward is that component's
    // error, and a weighted sum that overflows is the sample's (weights and reward bounds are
    // capped when parsed, so this is a backstop, never a path a valid request takes).
    for c in result.components.iter_mut() {
        if !c.reward.is_finite() {
            c.error = Some(format!(
                "the grader produced a non-finite reward ({})",
                c.reward
            ));
            c.reward = 0.0;
            c.status = Status::Error;
        }
    }
    let components = &result.components;
    result.reward = components.iter().map(|c| c.weight * c.reward).sum();
    result.status = components.first().map_or(Status::Error, |c| c.status);
    result.error = None;
    if !result.reward.is_finite() {
        result.reward = 0.0;
        result.status = Status::Error;
        result.error = Some(
            "the weighted sum of the components' rewards is not a finite number: lower the \
             fields `weight` and `components[].weight`"
                .to_string(),
        );
        return;
    }
    for bad in [Status::Error, Status::Timeout] {
        if let Some(c) = components.iter().find(|c| c.status == bad) {
            result.status = bad;
            result.reward = 0.0;
            result.error = Some(match &c.error {
                Some(message) if components.len() > 1 => format!("{}: {message}", c.name),
                Some(message) => message.clone(),
                None => format!("{}: {}", c.name, bad.as_str()),
            });
            break;
        }
    }
}

fn grade_component(
    registry: &Registry,
    completion: &str,
    task: &Task,
    weight: f64,
    ctx: &GradeContext,
    expired: bool,
) -> Verdict {
    if !weight.is_finite() {
        return Verdict::error(format!(
            "component weight must be a finite number, got {weight}"
        ));
    }
    // A code component decides for itself: when earlier components' runs spent the deadline,
    // its tests end at their time limit (`incorrect`), unless the client chose a deadline too
    // short for them (see `code::run`).
    if expired && !matches!(task, Task::Code(_)) {
        return Verdict::timeout("the sample's deadline passed before this component was graded");
    }
    // A verdict that arrives after the deadline is kept: each grader keeps its own deadline
    // (pure graders cooperatively, the code grader by its runs' limits) and knows whether
    // running out of time was the candidate's doing (a code candidate that spends the deadline
    // is `incorrect`, and must not be turned into a `timeout` that trainers drop).
    registry.grade(completion, task, ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sample(json: &str) -> Sample {
        Sample::from_json_str(json).unwrap()
    }

    #[test]
    fn weighted_components_add_up_and_are_all_shown() {
        let s = sample(
            r#"{"id":"s1","completion":"<think>\nhm\n</think>\n<answer>\n4\n</answer>",
                "task":{"kind":"format","style":"tag_count"},"weight":2.0,
                "components":[{"name":"fmt","weight":0.5,"task":{"kind":"format","style":"think_answer"}},
                              {"weight":0.25,"task":{"kind":"format","style":"r1"}}]}"#,
        );
        let r = grade_sample(&Registry::with_builtins(), &s, &GradeContext::default());
        assert_eq!(r.components.len(), 3);
        assert_eq!(r.components[1].name, "fmt");
        assert_eq!(r.components[2].name, "format:r1");
        // tag_count 1.0 x 2 + think_answer 1.0 x 0.5 + r1 1.0 x 0.25 (answer "<answer>..." is non-empty).
        assert_eq!(r.reward, 2.75);
        assert_eq!(r.status, Status::Correct);
        assert_eq!(r.id, serde_json::json!("s1"));
    }

    /// A plugin grader that answers one fixed reward.
    struct Fixed(f64);

    impl crate::registry::Grader for Fixed {
        fn info(&self) -> crate::registry::GraderInfo {
            crate::registry::GraderInfo {
                kind: "fixed".into(),
                description: "test".into(),
                available: true,
                variants: Vec::new(),
                version: None,
            }
        }

        fn grade(&self, _: &str, _: &Task, _: &GradeContext) -> Verdict {
            Verdict::scored(self.0)
        }
    }

    #[test]
    fn a_reward_is_never_non_finite() {
        let mut registry = Registry::with_builtins();
        registry.insert(std::sync::Arc::new(Fixed(f64::INFINITY)));
        let s = sample(r#"{"completion":"x","task":{"kind":"fixed"}}"#);
        let r = grade_sample(&registry, &s, &GradeContext::default());
        assert_eq!((r.reward, r.status), (0.0, Status::Error));
        assert!(r.error.unwrap().contains("non-finite"));

        // Weights past the parse-time cap (set directly here) overflow the sum: an error too.
        let mut registry = Registry::with_builtins();
        registry.insert(std::sync::Arc::new(Fixed(1.0)));
        let mut s = sample(
            r#"{"completion":"x","task":{"kind":"fixed"},"components":[{"task":{"kind":"fixed"}}]}"#,
        );
        s.weight = Some(f64::MAX);
        s.components[0].weight = f64::MAX;
        let r = grade_sample(&registry, &s, &GradeContext::default());
        assert_eq!((r.reward, r.status), (0.0, Status::Error));
        assert!(r.error.unwrap().contains("`weight`"));
    }

    #[test]
    fn an_unknown_component_kind_makes_the_sample_an_error_that_names_it() {
        let s = sample(
            r#"{"completion":"x","task":{"kind":"format","style":"r1"},
                "components":[{"name":"judge","task":{"kind":"nope"}}]}"#,
        );
        let r = grade_sample(&Registry::with_builtins(), &s, &GradeContext::default());
        assert_eq!(r.status, Status::Error);
        let message = r.error.unwrap();
        assert!(
            message.starts_with("judge: unknown task kind `nope`"),
            "{message}"
        );
        assert!(message.contains("format"), "{message}");
    }

    #[test]
    fn a_passed_deadline_is_a_timeout_not_a_zero() {
        let s = sample(r#"{"completion":"x","task":{"kind":"format","style":"r1"}}"#);
        let past = GradeContext::with_deadline(Instant::now() - Duration::from_millis(1));
        let r = grade_sample(&Registry::with_builtins(), &s, &past);
        assert_eq!(r.status, Status::Timeout);
        assert!(r.error.is_some());
    }

    /// A code grader whose candidate spends the whole deadline and fails at its time limit.
    struct DeadlineSpender;

    impl crate::Grader for DeadlineSpender {
        fn info(&self) -> crate::GraderInfo {
            crate::GraderInfo {
                kind: "code".into(),
                description: "test".into(),
                available: true,
                variants: Vec::new(),
                version: None,
            }
        }

        fn grade(&self, _completion: &str, _task: &Task, ctx: &GradeContext) -> Verdict {
            while !ctx.expired() {
                std::thread::sleep(Duration::from_millis(2));
            }
            Verdict::scored(0.0)
        }
    }

    #[test]
    fn code_that_spends_the_deadline_leaves_the_quick_components_graded() {
        // R1's setup: code plus a format component. The code's candidate used up the deadline
        // and failed: the format component, graded first, is not a `timeout`, and neither is
        // the sample.
        let mut registry = Registry::with_builtins();
        registry.insert(std::sync::Arc::new(DeadlineSpender));
        let s = sample(
            r#"{"completion":"<think>x</think>\n<answer>y</answer>","task":{"kind":"code","language":"python",
                "tests":{"type":"stdio","cases":[]}},
                "components":[{"name":"format","weight":1.0,"task":{"kind":"format","style":"r1"}}]}"#,
        );
        let ctx = GradeContext::with_deadline(Instant::now() + Duration::from_millis(30));
        let r = grade_sample(&registry, &s, &ctx);
        assert_eq!(r.components[0].name, "code");
        assert_eq!(r.components[1].status, Status::Correct);
        assert_eq!(r.status, Status::Incorrect);
    }

    #[test]
    fn code_parses_but_without_a_sandbox_says_so() {
        let s = sample(
            r#"{"completion":"x","task":{"kind":"code","language":"python",
                "tests":{"type":"stdio","cases":[]}}}"#,
        );
        let r = grade_sample(&Registry::with_builtins(), &s, &GradeContext::default());
        assert_eq!(r.status, Status::Error);
        assert!(r.error.unwrap().contains("needs a sandbox"));
    }
}
