//! The evaluation commands of the learning recipe through the real binary, on the toy model:
//! `generate --prompts --out` writes one gradable sample per prompt, `plot` draws a training
//! log, `compare` pairs two graded evaluations by id.

use std::path::{Path, PathBuf};
use std::process::Command;

use graders::contract::Sample;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rollout-worker-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn rollout_worker(args: &[&str]) -> std::process::Output {
    let output = Command::new(env!("CARGO_BIN_EXE_rollout-worker"))
        .args(args)
        .output()
        .expect("rollout-worker runs");
    assert!(
        output.status.success(),
        "rollout-worker {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn generate_writes_one_gradable_sample_per_prompt_in_order() {
    let prompts = scratch("toy.jsonl");
    rollout_worker(&["toy-data", "--out", path(&prompts)]);
    let few = scratch("few.jsonl");
    let lines: Vec<String> = std::fs::read_to_string(&prompts)
        .unwrap()
        .lines()
        .take(5)
        .map(str::to_string)
        .collect();
    std::fs::write(&few, lines.join("\n") + "\n").unwrap();
    let out = scratch("samples.jsonl");
    rollout_worker(&[
        "generate",
        "--model",
        "toy",
        "--prompts",
        path(&few),
        "--chat-template",
        "plain",
        "--max-new-tokens",
        "2",
        "--batch-size",
        "2",
        "--out",
        path(&out),
    ]);
    let written = std::fs::read_to_string(&out).unwrap();
    let samples: Vec<Sample> = written
        .lines()
        .map(|line| Sample::from_json_str(line).expect("a verifier sample"))
        .collect();
    assert_eq!(samples.len(), 5);
    for (i, (sample, line)) in samples.iter().zip(&lines).enumerate() {
        assert_eq!(sample.id, serde_json::json!(format!("p{}", i + 1)));
        let prompt: serde_json::Value = serde_json::from_str(line).unwrap();
        let task = serde_json::to_value(&sample.task).unwrap();
        assert_eq!(task, prompt["task"], "sample {i} keeps its prompt's task");
    }

    // --out needs a prompts file; --prompt and --prompts exclude each other.
    for args in [
        vec![
            "generate", "--model", "toy", "--prompt", "1+1=", "--out", "x.jsonl",
        ],
        vec![
            "generate",
            "--model",
            "toy",
            "--prompt",
            "1+1=",
            "--prompts",
            path(&few),
        ],
        vec![
            "generate",
            "--model",
            "toy",
            "--prompts",
            path(&few),
            "--out",
            path(&few),
        ],
        vec![
            "generate",
            "--model",
            "toy",
            "--prompts",
            path(&few),
            "--batch-size",
            "0",
        ],
        vec![
            "generate",
            "--model",
            "toy",
            "--prompts",
            path(&few),
            "--out",
            "/nonexistent/o.jsonl",
        ],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_rollout-worker"))
            .args(&args)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?} should be refused");
    }
    // Refusing `--out` the prompts file itself left it as it was.
    assert_eq!(
        std::fs::read_to_string(&few).unwrap(),
        lines.join("\n") + "\n"
    );
}

#[test]
fn plot_and_compare_read_what_train_and_verifier_grade_write() {
    let log = scratch("log.jsonl");
    let steps: String = (1..=12)
        .map(|step| {
            format!(
                "{{\"step\":{step},\"mean_reward\":0.{step},\"accuracy\":0.5,\"format_rate\":1.0,\"completion_length\":30.0,\"kl\":0.0,\"elapsed_s\":{step}.0}}\n"
            )
        })
        .collect();
    std::fs::write(&log, steps).unwrap();
    let image = scratch("curves.svg");
    rollout_worker(&["plot", path(&log), "--out", path(&image)]);
    let svg = std::fs::read_to_string(&image).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("12 steps"));

    let graded = |correct: [bool; 4]| -> String {
        correct
            .iter()
            .enumerate()
            .map(|(i, &ok)| {
                let status = if ok { "correct" } else { "incorrect" };
                serde_json::json!({"id": format!("p{}", i + 1), "reward": 0.0, "status": status,
                    "components": [{"name": "math", "weight": 1.0, "reward": 0.0, "status": status}]})
                .to_string()
                    + "\n"
            })
            .collect()
    };
    let (before, after) = (scratch("before.jsonl"), scratch("after.jsonl"));
    std::fs::write(&before, graded([false, false, true, false])).unwrap();
    std::fs::write(&after, graded([true, false, true, true])).unwrap();
    let output = rollout_worker(&["compare", path(&before), path(&after)]);
    let text = String::from_utf8(output.stdout).unwrap();
    let accuracy = text.lines().find(|l| l.starts_with("accuracy")).unwrap();
    assert!(
        accuracy.contains("0.250 [") && accuracy.contains("0.750 [") && accuracy.contains("+0.500"),
        "{text}"
    );
}
