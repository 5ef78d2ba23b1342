//! ../shared/conformance/format/r1_format_cases.jsonl: every case scored as open-r1 scores it
//! (`think_answer` and `tag_count`), and the strict mode rejecting the holes open-r1 lets through.

use graders::{GradeContext, Registry, Sample};
use serde_json::{json, Value};

fn cases() -> Vec<Value> {
    let path = tests::shared_dir().join("conformance/format/r1_format_cases.jsonl");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn grade(registry: &Registry, completion: &str, style: &str) -> f64 {
    let sample = Sample::from_value(
        json!({"completion": completion, "task": {"kind": "format", "style": style}}),
    )
    .unwrap();
    graders::grade_sample(registry, &sample, &GradeContext::default()).reward
}

#[test]
fn open_r1_modes_match_open_r1_on_every_case() {
    let registry = Registry::with_builtins();
    let cases = cases();
    assert_eq!(cases.len(), 28);
    let mut agree = 0;
    for case in &cases {
        let completion = case["completion"].as_str().unwrap();
        let format = grade(&registry, completion, "think_answer");
        let tags = grade(&registry, completion, "tag_count");
        let expected = (
            case["format_reward"].as_f64().unwrap(),
            case["tag_count_reward"].as_f64().unwrap(),
        );
        if (format, tags) == expected {
            agree += 1;
        } else {
            eprintln!(
                "{}: got ({format}, {tags}), open-r1 ({}, {}): {}",
                case["id"], expected.0, expected.1, case["probes"]
            );
        }
    }
    eprintln!(
        "open-r1-compatible mode: {agree}/{} cases agree",
        cases.len()
    );
    assert_eq!(agree, cases.len());
}

#[test]
fn strict_mode_rejects_every_hole_that_open_r1_lets_through() {
    let registry = Registry::with_builtins();
    let mut holes = 0;
    for case in cases() {
        let completion = case["completion"].as_str().unwrap();
        let open_r1 = case["format_reward"].as_f64().unwrap();
        let strict = grade(&registry, completion, "think_answer_strict");
        // A completion open-r1 passes is a hole when it has text after </answer> (other than
        // white space), a repeated or nested block, or an empty body.
        let after_answer = completion
            .rsplit_once("</answer>")
            .map_or("", |(_, tail)| tail);
        let is_hole = open_r1 == 1.0
            && (!after_answer.trim().is_empty()
                || completion.matches("<think>").count() > 1
                || completion.matches("<answer>").count() > 1
                || completion.contains("<think>\n\n</think>"));
        if is_hole {
            holes += 1;
            eprintln!(
                "hole {} ({}): open-r1 1.0, strict {strict}",
                case["id"], case["probes"]
            );
            assert_eq!(strict, 0.0, "strict mode let {} through", case["id"]);
        } else if open_r1 == 1.0 {
            assert_eq!(
                strict, 1.0,
                "strict mode rejected a clean layout: {}",
                case["id"]
            );
        } else {
            assert_eq!(
                strict, 0.0,
                "strict mode passed what open-r1 rejects: {}",
                case["id"]
            );
        }
    }
    assert!(
        holes >= 5,
        "expected the conformance file to probe the known holes, found {holes}"
    );
}
