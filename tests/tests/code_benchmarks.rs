//! Benchmark evaluation through the real `verifier` binary (`verifier eval`, `verifier grade`):
//! HumanEval pass@k, HumanEval+ canonical solutions on the extra tests, MBPP reference solutions,
//! and (ignored by default, run by hand) the HumanEval throughput figure of issue 5.
//!
//! The binary is the one `cargo test --workspace` builds next to this test executable.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use serde_json::{json, Value};

mod code_support;

/// Not a test here (this binary starts no pool), but `code_support` expects the name.
#[test]
fn sandbox_worker_entry() {
    code_support::worker_entry();
}

fn verifier() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .join("verifier");
    assert!(
        path.exists(),
        "{} is missing: build it first (`cargo build -p verifier`)",
        path.display()
    );
    path
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("code-benchmarks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Runs `verifier eval`; returns the pass@k object it prints and the per-sample results.
fn eval(args: &[&str], results_name: &str) -> (Value, Vec<Value>) {
    let results = scratch(results_name);
    let output = Command::new(verifier())
        .arg("eval")
        .args(["--data-dir", code_support::datasets_dir().to_str().unwrap()])
        .args(["--results", results.to_str().unwrap()])
        .args(args)
        .output()
        .expect("verifier runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stderr}");
    assert!(
        output.status.success(),
        "verifier eval {args:?} failed: {stderr}"
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("pass@k JSON on stdout");
    let lines = std::fs::read_to_string(&results).unwrap();
    let rows = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (report, rows)
}

fn failures(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .filter(|r| r["passed"] != json!(true))
        .map(|r| {
            format!(
                "{}: {} {} {}",
                r["task_id"], r["status"], r["error"], r["result"]
            )
        })
        .collect()
}

#[test]
fn humaneval_pass_at_k_from_a_samples_file() {
    // Per task: one canonical and one `return None` sample, so pass@1 = 0.5 and pass@2 = 1.
    let samples = scratch("humaneval_samples.jsonl");
    let mut text = String::new();
    for problem in code_support::humaneval() {
        text += &format!(
            "{}\n",
            json!({"task_id": problem.task_id, "completion": problem.canonical})
        );
        text += &format!(
            "{}\n",
            json!({"task_id": problem.task_id, "completion": "    return None\n"})
        );
    }
    std::fs::write(&samples, text).unwrap();
    let (report, rows) = eval(
        &[
            "--dataset",
            "humaneval",
            "--samples",
            samples.to_str().unwrap(),
            "--k",
            "1,2",
        ],
        "he.jsonl",
    );
    assert_eq!(rows.len(), 328);
    assert_eq!(report["pass@1"], json!(0.5), "{report}");
    assert_eq!(report["pass@2"], json!(1.0), "{report}");
}

#[test]
fn humaneval_plus_canonical_solutions_on_the_extra_tests() {
    // Expected outputs come from the dataset's canonical solution, so this checks the pipeline
    // end to end (determinism, limits, value round trips) over ~124k inputs.
    let (report, rows) = eval(
        &["--dataset", "humaneval-plus", "--canonical", "--k", "1"],
        "hep.jsonl",
    );
    let failed = failures(&rows);
    println!(
        "HumanEval+ canonical: pass@1 {} ({} failures)",
        report["pass@1"],
        failed.len()
    );
    for line in &failed {
        println!("  {line}");
    }
    assert!(report["pass@1"].as_f64().unwrap() >= 0.99, "{failed:#?}");
}

#[test]
fn original_humaneval_solutions_on_humaneval_plus_tests() {
    // The original canonical solutions are known to be wrong on some of HumanEval+'s inputs;
    // this reports which (the figure of issue 5 lists and explains them).
    let samples = scratch("he_original.jsonl");
    let text: String = code_support::humaneval()
        .iter()
        .map(|p| {
            format!(
                "{}\n",
                json!({"task_id": p.task_id, "completion": p.canonical})
            )
        })
        .collect();
    std::fs::write(&samples, text).unwrap();
    let (report, rows) = eval(
        &[
            "--dataset",
            "humaneval-plus",
            "--samples",
            samples.to_str().unwrap(),
            "--k",
            "1",
        ],
        "he_orig.jsonl",
    );
    let failed = failures(&rows);
    println!(
        "original HumanEval canonical on HumanEval+: pass@1 {} ({} failures)",
        report["pass@1"],
        failed.len()
    );
    for line in &failed {
        println!("  {line}");
    }
    // 21 originals are wrong on HumanEval+'s inputs (18 real bugs, 3 return 1/0 for booleans);
    // a few more are exponential-time (/55, /63, /127, sometimes /96) and hit the time limit
    // depending on machine load, so those verdicts are reported, not counted.
    let wrong: Vec<&String> = failed
        .iter()
        .filter(|line| !line.contains("\"verdict\":\"time_limit\""))
        .collect();
    assert!(wrong.len() <= 21, "{wrong:#?}");
}

#[test]
fn mbpp_reference_solutions_pass_their_tests() {
    let (report, rows) = eval(
        &["--dataset", "mbpp", "--canonical", "--k", "1"],
        "mbpp.jsonl",
    );
    let failed = failures(&rows);
    println!(
        "MBPP reference: pass@1 {} ({} of {} fail)",
        report["pass@1"],
        failed.len(),
        rows.len()
    );
    for line in &failed {
        println!("  {line}");
    }
    assert!(report["pass@1"].as_f64().unwrap() >= 0.97, "{failed:#?}");
}

/// Issue 5's throughput figure: 1,640 canonical HumanEval samples through `verifier grade` on
/// this machine's cores. Timing belongs in benchmarks, so this is ignored by default:
/// `cargo test -p tests --test code_benchmarks -- --ignored --nocapture`.
#[test]
#[ignore]
fn humaneval_throughput_through_verifier_grade() {
    let samples = scratch("throughput.jsonl");
    let mut text = String::new();
    let problems = code_support::humaneval();
    for round in 0..10 {
        for p in &problems {
            let task = json!({"kind": "code", "language": "python", "prefix": p.prompt,
                "tests": {"type": "assert", "code": p.test, "entry_point": p.entry_point}});
            // A distinct id and a trailing comment per round keep the batch cache out of it.
            let completion = format!("{}# round {round}\n", p.canonical);
            text += &format!(
                "{}\n",
                json!({"id": format!("{}#{round}", p.task_id), "completion": completion, "task": task})
            );
        }
    }
    std::fs::write(&samples, text).unwrap();
    let jobs = std::env::var("JOBS").unwrap_or_else(|_| "4".into());
    let started = Instant::now();
    let output = Command::new(verifier())
        .args([
            "grade",
            samples.to_str().unwrap(),
            "--jobs",
            &jobs,
            "--output",
            scratch("out.jsonl").to_str().unwrap(),
        ])
        .output()
        .expect("verifier runs");
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let results = std::fs::read_to_string(scratch("out.jsonl")).unwrap();
    let correct = results
        .lines()
        .filter(|l| l.contains("\"status\":\"correct\""))
        .count();
    println!("{stderr}");
    println!(
        "HumanEval canonical x10 through `verifier grade --jobs {jobs}`: {correct}/1640 correct in {seconds:.2} s \
         = {:.0} samples/s (wall, process start and pool start-up included); openai/human-eval harness, 2 workers: 42-50 samples/s",
        1640.0 / seconds
    );
    assert_eq!(correct, 1640);
}
