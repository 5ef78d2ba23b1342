//! Shaping rewards as weighted components, through the registry and the group pass, with the
//! known numbers of the formulas (research/rl.md §2) and mixed English/Chinese reasoning whose
//! word shares are counted by hand.

use graders::contract::{GradeResult, Sample, Status};
use graders::registry::{GradeContext, Registry};
use graders::shaping::apply_group_rewards;

fn grade(json: &str) -> (Sample, GradeResult) {
    let sample = Sample::from_json_str(json).expect("valid sample");
    let result = graders::grade_sample(
        &Registry::with_builtins(),
        &sample,
        &GradeContext::default(),
    );
    (sample, result)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn language_reward(completion: &str, language: &str) -> f64 {
    let json = serde_json::json!({
        "completion": completion,
        "task": {"kind": "language_consistency", "language": language},
    });
    let (_, result) = grade(&json.to_string());
    assert_ne!(result.status, Status::Error, "{:?}", result.error);
    result.reward
}

#[test]
fn language_consistency_counts_target_words_in_the_reasoning() {
    // Reasoning: "Let me 计算 the 面积 first" → Latin words Let, me, the, first = 4;
    // Han characters 计, 算, 面, 积 = 4. The answer after </think> is not counted.
    let mixed = "<think>Let me 计算 the 面积 first</think>答案是 12。";
    assert!(close(language_reward(mixed, "en"), 4.0 / 8.0));
    assert!(close(language_reward(mixed, "zh"), 4.0 / 8.0));

    // Mostly Chinese with one English term and numbers/LaTeX that are not words:
    // 首先我们求导 = 6 Han characters, "derivative" = 1 Latin word; 2, \frac, {1}{2} ignored.
    let mostly_zh = "<think>首先我们求导 derivative: 2 + \\frac{1}{2}</think>The answer is 2x.";
    assert!(close(language_reward(mostly_zh, "zh"), 6.0 / 7.0));
    assert!(close(language_reward(mostly_zh, "en"), 1.0 / 7.0));

    // Pre-filled <think>: the span is everything before </think>. "don't" is one word.
    let prefilled = "We don't need 中文 here.</think>Done";
    assert!(close(language_reward(prefilled, "en"), 4.0 / 6.0));

    // No <think>: the whole completion; pure English is 1, pure Chinese is 0 for en.
    assert!(close(language_reward("All English words here", "en"), 1.0));
    assert!(close(language_reward("全部是中文", "en"), 0.0));
}

#[test]
fn language_consistency_without_words_is_no_answer_and_bad_params_name_the_field() {
    let (_, result) = grade(
        r#"{"completion":"<think>1 + 1 = 2</think>2","task":{"kind":"language_consistency","language":"en"}}"#,
    );
    assert_eq!(result.status, Status::NoAnswer);
    let (_, result) =
        grade(r#"{"completion":"x","task":{"kind":"language_consistency","language":"xx"}}"#);
    assert_eq!(result.status, Status::Error);
    assert!(result.error.unwrap().contains("language"));
}

#[test]
fn shaping_rewards_are_weighted_components_next_to_format() {
    // format r1 (1.0) + 0.5 x repetition ("a b c a b c a b": -0.5) + 1 x soft overlong.
    let (_, result) = grade(
        r#"{"completion":"<think>\na b c a b c a b\n</think>\nok","task":{"kind":"format","style":"r1"},
            "components":[{"weight":0.5,"task":{"kind":"repetition","ngram_size":3}},
                          {"task":{"kind":"length","style":"soft_overlong","length":14336}}]}"#,
    );
    assert_eq!(result.status, Status::Correct, "{:?}", result.error);
    // Words after lower().split(): <think>, a, b, c, a, b, c, a, b, </think>, ok: 9 trigrams,
    // distinct: "<think> a b", "a b c", "b c a", "c a b", "a b </think>", "b </think> ok" = 6.
    let repetition = -(1.0 - 6.0 / 9.0);
    assert!(
        close(result.components[1].reward, repetition),
        "{:?}",
        result.components[1]
    );
    assert!(close(result.components[2].reward, -0.5));
    assert!(close(result.reward, 1.0 + 0.5 * repetition - 0.5));
}

#[test]
fn cosine_with_a_correct_param_grades_alone() {
    let (_, result) = grade(
        r#"{"completion":"x","task":{"kind":"length","style":"cosine","correct":true,"length":500}}"#,
    );
    assert!(close(result.reward, 0.75));
    let (_, result) = grade(
        r#"{"completion":"x","task":{"kind":"length","style":"cosine","correct":false,"length":5000}}"#,
    );
    assert!(close(result.reward, -0.5), "clamped at max_len");
}

#[test]
fn kimi_and_cosine_take_correctness_from_the_primary_component_in_the_group_pass() {
    // Primary: format r1; completions of 4, 6 and 7 whitespace tokens; the middle one wrong.
    let make = |completion: &str| {
        serde_json::json!({
            "completion": completion,
            "group_id": "g1",
            "task": {"kind": "format", "style": "r1"},
            "components": [
                {"name": "kimi", "task": {"kind": "length", "style": "kimi"}},
                {"name": "cos", "task": {"kind": "length", "style": "cosine", "max_len": 12}},
            ],
        })
        .to_string()
    };
    let graded: Vec<(Sample, GradeResult)> = [
        "<think>\nab\n</think>\nok",
        "no think tags at all here",
        "<think>\na b c d\n</think>\nok",
    ]
    .iter()
    .map(|c| grade(&make(c)))
    .collect();
    // Before the group pass, the deferred components are errors that say what they need.
    assert_eq!(graded[0].1.status, Status::Error);
    assert!(graded[0].1.error.as_ref().unwrap().contains("group_id"));

    let samples: Vec<&Sample> = graded.iter().map(|(s, _)| s).collect();
    let mut results: Vec<GradeResult> = graded.iter().map(|(_, r)| r.clone()).collect();
    apply_group_rewards(&samples, &mut results);

    // Lengths (whitespace tokens): 4, 6, 7 → lambda = 0.5, 0.5 - 2/3, -0.5.
    let lambdas = [0.5, 0.5 - 2.0 / 3.0, -0.5];
    let correct = [true, false, true];
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result.components[0].status == Status::Correct, correct[i]);
        let kimi = if correct[i] {
            lambdas[i]
        } else {
            f64::min(0.0, lambdas[i])
        };
        assert!(
            close(result.components[1].reward, kimi),
            "{i}: {:?}",
            result.components[1]
        );
        let length = [4.0, 6.0, 7.0][i];
        let c = (std::f64::consts::PI * length / 12.0).cos();
        let cosine = if correct[i] {
            0.5 + 0.25 * (1.0 + c)
        } else {
            -0.5 - 0.25 * (1.0 + c)
        };
        assert!(
            close(result.components[2].reward, cosine),
            "{i}: {:?}",
            result.components[2]
        );
        let primary = if correct[i] { 1.0 } else { 0.0 };
        assert!(close(result.reward, primary + kimi + cosine));
        assert_ne!(result.status, Status::Error, "{:?}", result.error);
    }
}
