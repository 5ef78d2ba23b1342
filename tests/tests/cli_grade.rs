//! End-to-end tests of `verifier grade`: JSONL in, JSONL out in input order, bad lines become
//! errors naming the line and field, a summary on stderr.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use tests::{format_sample, verifier_bin};

const GOOD: &str = "<think>\nreasoning\n</think>\n<answer>\n42\n</answer>";

fn run_grade(args: &[&str], stdin: &str) -> (Vec<Value>, String, bool) {
    let mut child = Command::new(verifier_bin())
        .arg("grade")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start verifier grade");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let results = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect();
    (
        results,
        String::from_utf8(output.stderr).unwrap(),
        output.status.success(),
    )
}

#[test]
fn grades_stdin_in_order_and_survives_bad_lines() {
    let lines = [
        format_sample("a", GOOD, "think_answer").to_string(),
        "{\"id\": \"broken\", \"completion\": ".to_string(),
        String::new(),
        json!({"id": "c", "completion": GOOD, "task": {"kind": "format", "style": 7}}).to_string(),
        format_sample("d", "nothing", "r1").to_string(),
    ];
    let (results, stderr, ok) = run_grade(&["--jobs", "2"], &(lines.join("\n") + "\n"));
    assert!(ok, "{stderr}");
    assert_eq!(
        results.len(),
        4,
        "blank lines are skipped, every other line answers"
    );
    assert_eq!(
        (results[0]["id"].clone(), results[0]["status"].clone()),
        (json!("a"), json!("correct"))
    );
    assert_eq!(results[1]["status"], json!("error"));
    let message = results[1]["error"].as_str().unwrap();
    assert!(message.starts_with("line 2: malformed JSON"), "{message}");
    assert_eq!(results[2]["id"], json!("c"));
    let message = results[2]["error"].as_str().unwrap();
    assert!(
        message.starts_with("line 4: ") && message.contains("style"),
        "{message}"
    );
    assert_eq!(
        (results[3]["id"].clone(), results[3]["status"].clone()),
        (json!("d"), json!("incorrect"))
    );
    for needle in ["4 samples", "correct 1", "error 2", "incorrect 1"] {
        assert!(
            stderr.contains(needle),
            "summary lacks {needle:?}: {stderr}"
        );
    }
    assert!(stderr.contains("mean reward"), "{stderr}");
}

#[test]
fn grades_a_file_to_an_output_file_keeping_order_across_chunks() {
    let dir = std::env::temp_dir().join(format!("verifier-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("in.jsonl");
    let output = dir.join("out.jsonl");
    // More lines than one grading chunk, so ordering across chunks is exercised.
    let n = 20_000;
    let text: String = (0..n)
        .map(|i| {
            let completion = if i % 3 == 0 {
                format!("<think>\n{i}\n</think>\n<answer>\n{i}\n</answer>")
            } else {
                format!("plain {i}")
            };
            format_sample(i, &completion, "think_answer").to_string() + "\n"
        })
        .collect();
    std::fs::write(&input, text).unwrap();
    let status = Command::new(verifier_bin())
        .args(["grade", "--quiet", "-o"])
        .arg(&output)
        .arg(&input)
        .status()
        .unwrap();
    assert!(status.success());
    let results: Vec<Value> = std::fs::read_to_string(&output)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), n);
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["id"], json!(i));
        assert_eq!(result["reward"], json!(if i % 3 == 0 { 1.0 } else { 0.0 }));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_input_file_is_a_clear_error() {
    let output = Command::new(verifier_bin())
        .args(["grade", "/no/such/file.jsonl"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot open /no/such/file.jsonl"),
        "{stderr}"
    );
}
