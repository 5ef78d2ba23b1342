//! The group pass: rewards that need more than one completion, or the primary component's
//! verdict, filled in after a batch has been graded sample by sample.
//!
//! A `length` component with `style: "kimi"`, or `style: "cosine"` without a `correct` param,
//! is graded first as a *deferred* placeholder (an `error` saying what it needs). Here, for
//! samples with a `group_id`, each placeholder is replaced by its real value: correctness is
//! the primary component's status (`correct` or not), and Kimi's reward compares the lengths of
//! all completions of the same group (same `group_id`, same component position). The sample's
//! total reward and status are then recomposed by the rule of [`crate::compose`].

use std::collections::BTreeMap;

use serde_json::Value;

use super::length::{cosine_verdict, kimi_rewards, kimi_verdict, Params, Style, KIND};
use super::params::DEFERRED;
use crate::compose::recompose;
use crate::contract::{ComponentResult, GradeResult, Sample, Status, Task, Verdict};

/// A deferred `length` component: where it is and what it needs.
struct Deferred {
    sample: usize,
    component: usize,
    params: Params,
}

fn deferred_components(samples: &[&Sample], results: &[GradeResult]) -> Vec<Deferred> {
    let mut found = Vec::new();
    for (index, (sample, result)) in samples.iter().zip(results).enumerate() {
        if sample.group_id.is_none() || result.components.len() != 1 + sample.components.len() {
            continue;
        }
        // The primary component (0) has no primary to take correctness from: it stays deferred.
        for (position, spec) in sample.components.iter().enumerate() {
            let component = position + 1;
            let is_deferred = result.components[component]
                .details
                .get(DEFERRED)
                .is_some_and(|flag| flag == &Value::Bool(true));
            if !is_deferred {
                continue;
            }
            if let Task::Plugin { kind, params } = &spec.task {
                if kind != KIND {
                    continue;
                }
                if let Ok(params) = serde_json::from_value::<Params>(Value::Object(params.clone()))
                {
                    found.push(Deferred {
                        sample: index,
                        component,
                        params,
                    });
                }
            }
        }
    }
    found
}

fn set_component(component: &mut ComponentResult, verdict: Verdict) {
    component.reward = verdict.reward;
    component.status = verdict.status;
    component.details = verdict.details;
    component.error = verdict.error;
}

/// Whether the group pass has a component of this sample's to fill in (it has a `group_id` and
/// a deferred `length` component).
pub fn awaits_group(sample: &Sample, result: &GradeResult) -> bool {
    !deferred_components(&[sample], std::slice::from_ref(result)).is_empty()
}

/// Fails, saying `why`, each Kimi length component of these samples that awaits the group
/// pass, for a group that could not be put together whole; the samples' rewards and statuses
/// are recomposed. (A cosine component needs only its own sample: [`apply`] still fills it in.)
pub fn refuse_kimi(samples: &[&Sample], results: &mut [GradeResult], why: &str) {
    let kimi: Vec<Deferred> = deferred_components(samples, results)
        .into_iter()
        .filter(|item| matches!(item.params.style, Style::Kimi))
        .collect();
    for item in &kimi {
        set_component(
            &mut results[item.sample].components[item.component],
            Verdict::error(why),
        );
    }
    let mut touched: Vec<usize> = kimi.iter().map(|item| item.sample).collect();
    touched.dedup();
    for index in touched {
        recompose(&mut results[index]);
    }
}

/// See the module doc.
pub fn apply(samples: &[&Sample], results: &mut [GradeResult]) {
    let deferred = deferred_components(samples, results);
    if deferred.is_empty() {
        return;
    }
    let mut kimi_groups: BTreeMap<(String, usize), Vec<&Deferred>> = BTreeMap::new();
    let mut touched = Vec::new();
    for item in &deferred {
        let sample = samples[item.sample];
        let correct = results[item.sample].components[0].status == Status::Correct;
        match item.params.style {
            Style::Cosine => {
                let length = item.params.measure(&sample.completion);
                let verdict = cosine_verdict(length, correct, &item.params);
                set_component(
                    &mut results[item.sample].components[item.component],
                    verdict,
                );
                touched.push(item.sample);
            }
            Style::Kimi => {
                let group = sample
                    .group_id
                    .as_ref()
                    .map(Value::to_string)
                    .unwrap_or_default();
                kimi_groups
                    .entry((group, item.component))
                    .or_default()
                    .push(item);
            }
            Style::SoftOverlong => {}
        }
    }
    for members in kimi_groups.values() {
        let inputs: Vec<(f64, bool)> = members
            .iter()
            .map(|m| {
                let length = m.params.measure(&samples[m.sample].completion);
                let correct = results[m.sample].components[0].status == Status::Correct;
                (length, correct)
            })
            .collect();
        for ((member, reward), (length, _)) in
            members.iter().zip(kimi_rewards(&inputs)).zip(&inputs)
        {
            let verdict = kimi_verdict(reward, *length).with_detail("group_size", inputs.len());
            set_component(
                &mut results[member.sample].components[member.component],
                verdict,
            );
            touched.push(member.sample);
        }
    }
    touched.sort_unstable();
    touched.dedup();
    for index in touched {
        recompose(&mut results[index]);
    }
}
