//! Deadlines on huge inputs, through the real `verifier grade`: a 20 MB completion with a 50 ms
//! deadline ends as a `timeout` soon after the deadline in every pure grader that does work
//! proportional to the text (repetition, language consistency, instructions), instead of being
//! graded to the end seconds later; so does language consistency on a completion that is one
//! 20 MB word (no step of its pass runs unchecked).

use std::process::Command;

use serde_json::{json, Value};
use tests::verifier_bin;

#[test]
fn pure_graders_stop_near_the_deadline_on_a_huge_completion() {
    let words = [
        "alpha", "beta", "gamma", "the", "answer", "is", "step", "so", "we", "get",
    ];
    let mut text = String::with_capacity(20 << 20);
    let mut i = 0usize;
    while text.len() < 20 << 20 {
        text.push_str(words[(i * 7 + i / 3) % words.len()]);
        text.push(' ');
        i += 1;
    }
    let completion = format!("<think>\n{text}\n</think>\nThe answer is $\\boxed{{42}}$.");
    let tasks = [
        json!({"kind": "repetition", "ngram_size": 3}),
        json!({"kind": "language_consistency", "language": "en", "span": "completion"}),
        json!({"kind": "instructions",
               "instruction_id_list": ["length_constraints:number_words", "change_case:english_lowercase", "punctuation:no_comma"],
               "kwargs": [{"relation": "less than", "num_words": 100}, {}, {}], "mode": "loose"}),
    ];
    let dir = std::env::temp_dir().join(format!("verifier-huge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("huge.jsonl");
    let one_word = "a".repeat(20 << 20);
    let lines: String = tasks
        .iter()
        .map(|task| (task["kind"].clone(), &completion, task.clone()))
        .chain([(
            json!("language_consistency on one word"),
            &one_word,
            tasks[1].clone(),
        )])
        .map(|(id, completion, task)| {
            json!({"id": id, "completion": completion, "task": task,
                   "limits": {"timeout_ms": 50}})
            .to_string()
                + "\n"
        })
        .collect();
    std::fs::write(&input, lines).unwrap();
    let output = Command::new(verifier_bin())
        .args(["grade", "--quiet", "--jobs", "1"])
        .arg(&input)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(output.status.success());
    let results: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), tasks.len() + 1);
    for result in &results {
        let elapsed_ms = result["elapsed_us"].as_f64().unwrap() / 1e3;
        assert_eq!(
            result["status"],
            json!("timeout"),
            "{} after {elapsed_ms} ms",
            result["id"]
        );
        // Debug builds on a shared machine: the bound is loose. Release figures are in README.
        assert!(
            elapsed_ms < 1000.0,
            "{} stopped {elapsed_ms} ms after starting",
            result["id"]
        );
    }
}
