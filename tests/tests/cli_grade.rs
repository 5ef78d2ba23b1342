//! End-to-end tests of `verifier grade`: JSONL in, JSONL out in input order, bad lines become
//! errors naming the line and field, a summary on stderr.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use tests::{format_sample, run_grade_bytes, verifier_bin};

const GOOD: &str = "<think>\nreasoning\n</think>\n<answer>\n42\n</answer>";

fn run_grade(args: &[&str], stdin: &str) -> (Vec<Value>, String, bool) {
    run_grade_bytes(args, stdin.as_bytes().to_vec())
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

#[test]
fn an_invalid_utf8_line_is_an_error_naming_it_and_loses_nothing_else() {
    let mut input = Vec::new();
    for i in 0..5 {
        if i == 2 {
            // A sample whose completion holds a byte that is not UTF-8.
            input.extend_from_slice(b"{\"id\": 2, \"completion\": \"caf\xe9\", \"task\": {\"kind\": \"format\", \"style\": \"r1\"}}\n");
        } else {
            input.extend_from_slice(
                format_sample(i, GOOD, "think_answer")
                    .to_string()
                    .as_bytes(),
            );
            input.push(b'\n');
        }
    }
    let (results, stderr, ok) = run_grade_bytes(&["--jobs", "2"], input);
    assert!(ok, "{stderr}");
    assert_eq!(results.len(), 5, "{results:?} {stderr}");
    for (i, result) in results.iter().enumerate() {
        if i == 2 {
            assert_eq!(result["status"], json!("error"));
            let message = result["error"].as_str().unwrap();
            assert!(
                message.starts_with("line 3: ") && message.contains("UTF-8"),
                "{message}"
            );
        } else {
            assert_eq!(
                (&result["id"], &result["status"]),
                (&json!(i), &json!("correct"))
            );
        }
    }
}

#[test]
fn a_line_over_the_default_cap_is_an_error_naming_it_and_is_not_held_in_memory() {
    // A 40 MiB line (the default cap is 32 MiB, as serve's body cap) between two good lines,
    // with no newline at the very end.
    let huge = format_sample("huge", &"x".repeat(40 << 20), "r1").to_string();
    let input = [
        format_sample("a", GOOD, "think_answer").to_string(),
        huge,
        format_sample("c", GOOD, "think_answer").to_string(),
    ]
    .join("\n");
    let (results, stderr, ok, peak_rss_kib) =
        run_grade_measured(&["--jobs", "1"], input.into_bytes());
    assert!(ok, "{stderr}");
    assert_eq!(results.len(), 3, "{stderr}");
    assert_eq!(results[0]["status"], json!("correct"));
    assert_eq!(results[1]["status"], json!("error"));
    let message = results[1]["error"].as_str().unwrap();
    assert!(
        message.starts_with("line 2: ") && message.contains("32 MiB"),
        "{message}"
    );
    assert_eq!(
        (&results[2]["id"], &results[2]["status"]),
        (&json!("c"), &json!("correct"))
    );
    // The line is dropped as it streams past: at most the cap is held (~46 MiB peak measured),
    // never the whole 40 MiB line (read whole into a string, it peaked at ~97 MiB).
    assert!(peak_rss_kib < 72 << 10, "peak RSS {peak_rss_kib} KiB");
}

#[test]
fn a_smaller_line_cap_is_honoured() {
    let input = [
        format_sample("a", &"y".repeat(3 << 20), "r1").to_string(),
        format_sample("b", GOOD, "think_answer").to_string(),
    ]
    .join("\n");
    let (results, stderr, ok) = run_grade_bytes(&["--max-line-mb", "1"], input.into_bytes());
    assert!(ok, "{stderr}");
    let message = results[0]["error"].as_str().unwrap();
    assert!(
        message.starts_with("line 1: ") && message.contains("1 MiB"),
        "{message}"
    );
    assert_eq!(results[1]["status"], json!("correct"));
}

/// As [`run_grade_bytes`], also returning the child's peak resident memory in KiB, read from
/// `/proc` after all input is written and before the input is closed (the child is then waiting
/// for more, its high-water mark complete but for the results).
fn run_grade_measured(args: &[&str], stdin: Vec<u8>) -> (Vec<Value>, String, bool, u64) {
    use std::io::Read;
    let mut child = Command::new(verifier_bin())
        .arg("grade")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start verifier grade");
    let mut stdin_pipe = child.stdin.take().unwrap();
    let pid = child.id();
    let writer = std::thread::spawn(move || {
        stdin_pipe.write_all(&stdin).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let peak = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmHWM in /proc/<pid>/status");
        drop(stdin_pipe);
        peak
    });
    let mut stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = child.wait().unwrap();
    let peak = writer.join().unwrap();
    let results = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect();
    (results, err_reader.join().unwrap(), status.success(), peak)
}

#[test]
fn a_reward_is_never_non_finite_and_an_overflowing_field_is_named() {
    let format = json!({"kind": "format", "style": "think_answer"});
    let lines = [
        // Each weight is a finite double; their weighted sum is not.
        json!({"id": "w", "completion": GOOD, "task": format, "weight": 1.7e308,
               "components": [{"weight": 1.7e308, "task": format}]}),
        json!({"id": "cw", "completion": GOOD, "task": format,
               "components": [{"weight": -1.7e308, "task": format}, {"weight": -1.7e308, "task": format}]}),
        // A length task whose bounds span more than a double: cosine's (hi - lo) overflows.
        json!({"id": "len", "completion": GOOD, "task": {"kind": "length", "style": "cosine",
               "correct": true, "length": 500, "min_value_correct": -1.7e308, "max_value_correct": 1.7e308}}),
        json!({"id": "rep", "completion": "a a a a a a", "task": format,
               "components": [{"weight": 2.0, "task": {"kind": "repetition", "ngram_size": 1, "max_penalty": -1.7e308}}]}),
        json!({"id": "ok", "completion": GOOD, "task": format, "weight": 2.5}),
    ];
    let text: String = lines.iter().map(|l| l.to_string() + "\n").collect();
    let (results, stderr, ok) = run_grade(&[], &text);
    assert!(ok, "{stderr}");
    assert_eq!(results.len(), lines.len());
    for result in &results {
        assert!(result["reward"].is_f64(), "reward is a number: {result}");
        assert!(result["reward"].as_f64().unwrap().is_finite(), "{result}");
    }
    let expect_error = |i: usize, field: &str| {
        assert_eq!(results[i]["status"], json!("error"), "{}", results[i]);
        let message = results[i]["error"].as_str().unwrap();
        assert!(message.contains(field), "{field} not named: {message}");
    };
    expect_error(0, "`weight`");
    expect_error(1, "`components[0].weight`");
    expect_error(2, "min_value_correct");
    expect_error(3, "max_penalty");
    assert_eq!(results[4]["status"], json!("correct"));
    assert_eq!(results[4]["reward"], json!(2.5));
}

#[test]
fn a_full_disk_error_names_the_file() {
    // A 64 KiB tmpfs stands in for a full disk (mounting needs root; elsewhere this is skipped).
    let mount = std::env::temp_dir().join(format!("verifier-full-disk-{}", std::process::id()));
    std::fs::create_dir_all(&mount).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&mount)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        let _ = std::fs::remove_dir(&mount);
        eprintln!("SKIPPED: cannot mount a small tmpfs here (needs root)");
        return;
    }
    let output_path = mount.join("results.jsonl");
    let text: String = (0..5_000)
        .map(|i| format_sample(i, GOOD, "think_answer").to_string() + "\n")
        .collect();
    let mut child = Command::new(verifier_bin())
        .args(["grade", "--quiet", "-o"])
        .arg(&output_path)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let _ = Command::new("umount").arg(&mount).status();
    let _ = std::fs::remove_dir(&mount);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&output_path.display().to_string()) && stderr.contains("No space left"),
        "{stderr}"
    );
}

/// A lone UTF-16 surrogate escaped in a completion (`"\ud800"`, as Python's `json.dumps`
/// writes one) is read as U+FFFD and the sample graded: the completion must not be able to
/// turn its own sample into an `error`, which a trainer drops from the group.
#[test]
fn a_lone_surrogate_in_a_completion_is_graded_not_an_error() {
    let lines = [
        r#"{"id": "m", "completion": "\ud800 so \\boxed{42} \udc00", "task": {"kind": "math", "answer": "42"}}"#,
        r#"{"id": "w", "completion": "\ud83d\ude00 \ud800 \\boxed{41}", "task": {"kind": "math", "answer": "42"}}"#,
        r#"{"id": "f", "completion": "<think>\nreasoning \ud800\n</think>\n<answer>\n42\n</answer>", "task": {"kind": "format", "style": "think_answer"}}"#,
    ];
    let (results, stderr, ok) = run_grade(&[], &(lines.join("\n") + "\n"));
    assert!(ok, "{stderr}");
    let statuses: Vec<&Value> = results.iter().map(|r| &r["status"]).collect();
    assert_eq!(
        statuses,
        [&json!("correct"), &json!("incorrect"), &json!("correct")],
        "{results:?}"
    );
    assert_eq!(results[0]["id"], json!("m"));
}

/// A GRPO group's length rewards (Kimi's) compare all its members, wherever `grade`'s chunks cut
/// the input: a group that straddled a chunk boundary was graded as two groups, and its rewards
/// came back silently wrong (red team). Every group here has the same lengths, so every group's
/// rewards must be the first group's: groups interleaved two at a time (as asynchronous rollout
/// writers write them), with ungrouped and unreadable lines among their members. A member that
/// comes more than 4096 lines after its group's last one gets an error for its Kimi reward (and
/// still its cosine reward), not a reward computed over part of a group.
#[test]
fn group_rewards_see_the_whole_group_wherever_chunks_cut_the_input() {
    let member = |group: &str, i: usize, words: usize| {
        json!({
            "id": format!("{group}/{i}"),
            "group_id": group,
            "completion": format!("<think>x</think>{}", "word ".repeat(words)),
            "task": {"kind": "format", "style": "r1"},
            "components": [
                {"name": "len", "task": {"kind": "length", "style": "kimi"}},
                {"name": "cos", "task": {"kind": "length", "style": "cosine", "max_len": 4000}},
            ],
        })
        .to_string()
    };
    let lengths = [10, 20, 40, 80, 160, 320, 640, 1280];
    let mut lines = Vec::new();
    for pair in 0..60 {
        let (a, b) = (format!("q{}", 2 * pair), format!("q{}", 2 * pair + 1));
        for (i, words) in lengths.iter().enumerate() {
            lines.push(member(&a, i, *words));
            lines.push(member(&b, i, *words));
            match (pair + i) % 4 {
                0 => lines.push(format_sample(format!("plain{pair}/{i}"), GOOD, "r1").to_string()),
                1 => lines.push("{\"id\": \"broken\", ".to_string()),
                _ => {}
            }
        }
    }
    for i in 0..4200 {
        lines.push(format_sample(format!("filler{i}"), GOOD, "r1").to_string());
    }
    // q0 again, long after its group ended.
    lines.push(member("q0", 100, 10));
    let input = lines.join("\n") + "\n";
    assert!(input.len() > 1 << 20, "many chunks: {} bytes", input.len());
    for jobs in ["1", "2"] {
        let (results, stderr, ok) = run_grade(&["--jobs", jobs], &input);
        assert!(ok, "{stderr}");
        assert_eq!(results.len(), lines.len(), "one result a line, in order");
        let grouped: Vec<&Value> = results
            .iter()
            .filter(|r| r["id"].as_str().is_some_and(|id| id.starts_with('q')))
            .collect();
        let kimi = |r: &Value| r["components"][1]["reward"].as_f64();
        let first: Vec<Option<f64>> = [0, 2, 4, 6, 8, 10, 12, 14]
            .iter()
            .map(|&k| kimi(grouped[k]))
            .collect();
        assert!(first.iter().all(Option::is_some), "{:?}", grouped[0]);
        for (k, result) in grouped[..120 * 8].iter().enumerate() {
            let (pair, i, second) = (k / 16, (k % 16) / 2, k % 2);
            let id = format!("q{}/{i}", 2 * pair + second);
            assert_eq!(result["id"], json!(id), "order");
            assert_eq!(kimi(result), first[i], "jobs {jobs}: {result}");
            assert_eq!(result["components"][1]["details"]["group_size"], json!(8));
        }
        let straggler = grouped[120 * 8];
        assert_eq!(straggler["id"], json!("q0/100"));
        assert_eq!(straggler["status"], json!("error"), "{straggler}");
        let message = straggler["components"][1]["error"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains("could not be held whole"), "{straggler}");
        assert!(
            straggler["components"][2]["reward"].as_f64().is_some(),
            "{straggler}"
        );
    }
}
