//! `verifier eval` run from a folder with no `../shared`: the data set comes from
//! `--dataset-file` or `$VERIFIER_DATA_DIR`; samples covering two of HumanEval's 164 tasks get
//! a loud warning; the summary is written as JSON beside the per-sample results.

use std::io::Read;
use std::process::Command;

use tests::{shared_dir, verifier_bin};

#[test]
fn eval_finds_its_data_set_anywhere_warns_on_partial_coverage_and_writes_a_summary() {
    let dir = std::env::temp_dir().join(format!("verifier-eval-outside-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let dataset = dir.join("data/HumanEval.jsonl.gz");
    std::fs::copy(shared_dir().join("datasets/HumanEval.jsonl.gz"), &dataset).unwrap();

    // The canonical solutions of the first two tasks, as a model's samples.
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&dataset).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let samples: Vec<String> = text
        .lines()
        .take(2)
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            serde_json::json!({"task_id": row["task_id"], "completion": row["canonical_solution"]})
                .to_string()
        })
        .collect();
    std::fs::write(dir.join("samples.jsonl"), samples.join("\n") + "\n").unwrap();

    for (how, extra_args, env) in [
        (
            "--dataset-file",
            vec!["--dataset-file", dataset.to_str().unwrap()],
            None,
        ),
        ("VERIFIER_DATA_DIR", vec![], Some(dir.join("data"))),
    ] {
        let mut command = Command::new(verifier_bin());
        command
            .args([
                "eval",
                "--dataset",
                "humaneval",
                "--samples",
                "samples.jsonl",
                "--k",
                "1",
            ])
            .args(&extra_args)
            .current_dir(&dir)
            .env_remove("VERIFIER_DATA_DIR");
        if let Some(data) = &env {
            command.env("VERIFIER_DATA_DIR", data);
        }
        let output = command.output().expect("run verifier eval");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{how}: {stderr}");
        assert!(
            stderr.contains("WARNING: the samples cover only 2 of the 164 tasks"),
            "{how}: no coverage warning in {stderr}"
        );
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["pass@1"], 1.0, "{how}");
        let summary_file = dir.join("samples.jsonl_summary.json");
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&summary_file).unwrap()).unwrap();
        assert_eq!(summary["tasks_covered"], 2, "{summary}");
        assert_eq!(summary["tasks_total"], 164, "{summary}");
        assert_eq!(summary["partial_coverage"], true, "{summary}");
        assert_eq!(summary["pass_at_k"]["pass@1"], 1.0, "{summary}");
        assert!(dir.join("samples.jsonl_results.jsonl").exists());
        std::fs::remove_file(summary_file).unwrap();
    }

    // Without either, the error says how to point at the data set.
    let output = Command::new(verifier_bin())
        .args([
            "eval",
            "--dataset",
            "humaneval",
            "--samples",
            "samples.jsonl",
        ])
        .current_dir(&dir)
        .env_remove("VERIFIER_DATA_DIR")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("--dataset-file") && stderr.contains("VERIFIER_DATA_DIR"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
