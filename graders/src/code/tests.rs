//! Unit tests of the code grader against a scripted executor (no I/O): the executor plays the
//! harness's side of the protocol, so these pin down how the host reads records and run endings.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::*;
use crate::contract::{CallCase, CodeLanguage, CodeTask, Scoring, Status, StdioCase};

type Script = dyn Fn(&ExecRequest, &str) -> (Ending, String) + Send + Sync;

/// An executor that answers with a script; it sees the request and the run's nonce.
struct Scripted {
    script: Box<Script>,
    requests: Mutex<Vec<ExecRequest>>,
}

impl Executor for Scripted {
    fn execute(&self, request: ExecRequest) -> ExecOutcome {
        if request.program == program::PYTHON_HARNESS_PROBE {
            // The check that the sandbox has the harness baked in: this one plays one that has.
            return ExecOutcome {
                ending: Ending::Finished,
                stdout: String::new(),
                stderr: String::new(),
                truncated: false,
                elapsed_ms: 1.0,
            };
        }
        let nonce = config_of(&request).map(|c| c["nonce"].as_str().unwrap_or("").to_string());
        let (ending, stdout) = (self.script)(&request, &nonce.unwrap_or_default());
        self.requests.lock().unwrap().push(request);
        ExecOutcome {
            ending,
            stdout,
            stderr: String::new(),
            truncated: false,
            elapsed_ms: 2.0,
        }
    }
}

/// The harness configuration of a run: Python reads it from stdin (its last line), JavaScript
/// finds it in the program's last line.
fn config_of(request: &ExecRequest) -> Option<Value> {
    if let Some(stdin) = &request.stdin {
        return serde_json::from_str(stdin.lines().last()?).ok();
    }
    let last = request.program.trim_end().lines().last()?;
    let literal = last.strip_prefix("harnessMain(")?.strip_suffix(");")?;
    let text: String = serde_json::from_str(literal).ok()?;
    serde_json::from_str(&text).ok()
}

fn grader(
    script: impl Fn(&ExecRequest, &str) -> (Ending, String) + Send + Sync + 'static,
) -> (CodeGrader, Arc<Scripted>) {
    let executor = Arc::new(Scripted {
        script: Box::new(script),
        requests: Mutex::new(Vec::new()),
    });
    (CodeGrader::new(executor.clone()), executor)
}

fn task(tests: CodeTests, scoring: Scoring) -> Task {
    Task::Code(CodeTask {
        language: CodeLanguage::Python,
        tests,
        prefix: Some("def f(x):\n".into()),
        scoring,
        time_limit_ms: Some(1000),
        memory_limit_mb: None,
        float_tolerance: None,
        compare: Default::default(),
    })
}

fn assert_task(scoring: Scoring) -> Task {
    task(
        CodeTests::Assert {
            code: "def check(candidate):\n    assert candidate(1) == 2\n".into(),
            entry_point: "f".into(),
        },
        scoring,
    )
}

fn lines(nonce: &str, records: &[Value]) -> String {
    records.iter().map(|r| format!("{nonce} {r}\n")).collect()
}

const COMPLETION: &str = "```python\n    return x + 1\n```";

#[test]
fn passes_only_on_nonce_records_and_builds_the_program() {
    let (g, executor) = grader(|_, nonce| {
        let out = lines(
            nonce,
            &[
                json!({"k":"plan","n":2,"names":["a","b"]}),
                json!({"k":"test","i":0,"v":"pass"}),
                json!({"k":"test","i":1,"v":"pass"}),
                json!({"k":"done"}),
            ],
        );
        (Ending::Finished, out)
    });
    let verdict = g.grade(
        COMPLETION,
        &assert_task(Scoring::All),
        &GradeContext::default(),
    );
    assert_eq!((verdict.reward, verdict.status), (1.0, Status::Correct));
    let request = &executor.requests.lock().unwrap()[0];
    let config = config_of(request).unwrap();
    // The candidate's code goes to its own instance, never into the tests' configuration.
    assert!(config.get("code").is_none());
    let peer = request.peer.as_ref().unwrap();
    assert_eq!(peer.stdin, "def f(x):\n    return x + 1\n");
    assert_eq!(peer.program, program::PYTHON_CANDIDATE_BOOTSTRAP);
    assert_eq!(config["entry_point"], "f");
    assert_eq!(config["early_stop"], true);
    // 1 s native-equivalent, scaled for the WebAssembly interpreter.
    assert_eq!(request.time_limit_ms, 3000);
}

#[test]
fn tests_prepared_by_a_first_run_are_reused_and_only_from_the_first_record() {
    // Run 1 plants a `prepared` record after the plan (where a candidate could write it): ignored.
    // Run 2 writes it first: kept. Run 3 gets it, and its plan carries no names.
    let (g, executor) = grader(|request, nonce| {
        let config = config_of(request).unwrap();
        let prepared = json!({"k":"prepared","hex":"0a0b","names":["a","b"]});
        let plan = json!({"k":"plan","n":2,"names":["a","b"]});
        let mut records = match config.get("prepared") {
            Some(_) => vec![json!({"k":"plan","n":2})],
            None if request.peer.as_ref().unwrap().stdin.contains("late") => vec![plan, prepared],
            None => vec![prepared, plan],
        };
        records.extend([
            json!({"k":"test","i":0,"v":"pass"}),
            json!({"k":"test","i":1,"v":"pass"}),
            json!({"k":"done"}),
        ]);
        (Ending::Finished, lines(nonce, &records))
    });
    let task = assert_task(Scoring::All);
    let ctx = GradeContext::default();
    for completion in [
        "```python\ndef f(x):\n    return 2  # late\n```",
        COMPLETION,
        COMPLETION,
    ] {
        let verdict = g.grade(completion, &task, &ctx);
        assert_eq!(verdict.status, Status::Correct);
    }
    let requests = executor.requests.lock().unwrap();
    let configs: Vec<Value> = requests.iter().map(|r| config_of(r).unwrap()).collect();
    assert_eq!(configs[0]["want_prepared"], true);
    assert_eq!(
        configs[1]["want_prepared"], true,
        "a late record is not kept"
    );
    assert_eq!(configs[2]["prepared"], "0a0b");
    assert!(configs[2].get("want_prepared").is_none());
    assert!(configs[0].get("test_code").is_some());
    assert!(configs[2].get("test_code").is_none() && configs[2].get("prefix").is_none());
}

#[test]
fn printing_the_success_records_without_the_nonce_does_not_pass() {
    let (g, _) = grader(|_, nonce| {
        let forged = lines(
            "0123456789abcdef0123456789abcdef",
            &[json!({"k":"test","i":0,"v":"pass"}), json!({"k":"done"})],
        );
        let real = lines(nonce, &[json!({"k":"plan","n":1,"names":["a"]})]);
        (Ending::Exit(0), real + &forged)
    });
    let verdict = g.grade(
        COMPLETION,
        &assert_task(Scoring::All),
        &GradeContext::default(),
    );
    assert_eq!(verdict.reward, 0.0);
    assert_eq!(verdict.details["first_failure"]["verdict"], "runtime_error");
    let message = verdict.details["first_failure"]["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("exited with status 0"), "{message}");
}

#[test]
fn records_after_done_are_ignored() {
    let (g, _) = grader(|_, nonce| {
        let out = lines(
            nonce,
            &[
                json!({"k":"plan","n":1,"names":["a"]}),
                json!({"k":"test","i":0,"v":"fail","msg":"expected 2, got 3"}),
                json!({"k":"done"}),
                json!({"k":"test","i":0,"v":"pass"}),
            ],
        );
        (Ending::Finished, out)
    });
    let verdict = g.grade(
        COMPLETION,
        &assert_task(Scoring::All),
        &GradeContext::default(),
    );
    assert_eq!(verdict.reward, 0.0);
    assert_eq!(
        verdict.details["first_failure"]["message"],
        "expected 2, got 3"
    );
    assert_eq!(verdict.details["first_failure"]["verdict"], "wrong_answer");
}

#[test]
fn a_run_stopped_mid_test_names_the_limit_and_skips_the_rest() {
    for (ending, expected) in [
        (Ending::TimeLimit, "time_limit"),
        (Ending::MemoryLimit, "memory_limit"),
        (Ending::OutputLimit, "output_limit"),
    ] {
        let ending_for_script = ending.clone();
        let (g, _) = grader(move |_, nonce| {
            let out = lines(
                nonce,
                &[
                    json!({"k":"plan","n":3,"names":["a","b","c"]}),
                    json!({"k":"test","i":0,"v":"pass"}),
                ],
            );
            (ending_for_script.clone(), out)
        });
        let verdict = g.grade(
            COMPLETION,
            &assert_task(Scoring::Fraction),
            &GradeContext::default(),
        );
        assert_eq!(
            verdict.details["tests"],
            json!(["passed", expected, "skipped"]),
            "{ending:?}"
        );
        assert!((verdict.reward - 1.0 / 3.0).abs() < 1e-9);
    }
}

#[test]
fn syntax_and_load_errors_fail_every_test() {
    let (g, _) = grader(|_, nonce| {
        let out = lines(
            nonce,
            &[
                json!({"k":"plan","n":2,"names":["a","b"]}),
                json!({"k":"syntax_error","msg":"invalid syntax (line 2)"}),
                json!({"k":"done"}),
            ],
        );
        (Ending::Finished, out)
    });
    let verdict = g.grade(
        COMPLETION,
        &assert_task(Scoring::Fraction),
        &GradeContext::default(),
    );
    assert_eq!(
        verdict.details["tests"],
        json!(["syntax_error", "syntax_error"])
    );
    let (g, _) = grader_with_load_error();
    let verdict = g.grade(
        COMPLETION,
        &assert_task(Scoring::All),
        &GradeContext::default(),
    );
    assert_eq!(verdict.details["first_failure"]["verdict"], "runtime_error");
    assert!(verdict.details["first_failure"]["message"]
        .as_str()
        .unwrap()
        .contains("SystemExit"));
}

fn grader_with_load_error() -> (CodeGrader, Arc<Scripted>) {
    grader(|_, nonce| {
        let out = lines(
            nonce,
            &[
                json!({"k":"plan","n":1,"names":["a"]}),
                json!({"k":"load_error","type":"SystemExit","msg":"0"}),
                json!({"k":"done"}),
            ],
        );
        (Ending::Finished, out)
    })
}

#[test]
fn a_harness_or_executor_failure_is_an_error_not_a_zero() {
    let (g, _) = grader(|_, nonce| {
        (
            Ending::Finished,
            lines(nonce, &[json!({"k":"harness_error","msg":"bad test"})]),
        )
    });
    let verdict = g.grade(
        COMPLETION,
        &assert_task(Scoring::All),
        &GradeContext::default(),
    );
    assert_eq!(verdict.status, Status::Error);
    let (g, _) = grader(|_, _| (Ending::Error("worker crashed".into()), String::new()));
    let verdict = g.grade(
        COMPLETION,
        &assert_task(Scoring::All),
        &GradeContext::default(),
    );
    assert_eq!(verdict.status, Status::Error);
    assert!(verdict.error.unwrap().contains("worker crashed"));
}

#[test]
fn no_code_is_no_answer_and_runs_nothing() {
    let (g, executor) = grader(|_, _| panic!("must not run"));
    let verdict = g.grade(
        "```python\n\n```",
        &assert_task(Scoring::All),
        &GradeContext::default(),
    );
    assert_eq!(verdict.status, Status::NoAnswer);
    assert!(executor.requests.lock().unwrap().is_empty());
}

#[test]
fn a_tolerance_that_is_not_a_finite_number_of_at_least_0_is_the_tasks_error() {
    let (g, executor) = grader(|_, _| panic!("must not run"));
    for bad in [-1.0, f64::NAN, f64::INFINITY] {
        let Task::Code(mut code) = assert_task(Scoring::All) else {
            unreachable!()
        };
        code.float_tolerance = Some(bad);
        let verdict = g.grade(
            "```python\nreturn 2\n```",
            &Task::Code(code),
            &Default::default(),
        );
        assert_eq!(verdict.status, Status::Error, "{bad}");
        assert!(verdict.error.unwrap().contains("float_tolerance"));
    }
    assert!(executor.requests.lock().unwrap().is_empty());
}

#[test]
fn call_values_are_compared_on_the_host_with_types() {
    let cases = vec![
        CallCase {
            args: vec![json!(1)],
            expected: json!(2),
        },
        CallCase {
            args: vec![json!(2)],
            expected: json!(true),
        },
        CallCase {
            args: vec![json!([1, 2])],
            expected: json!([1, 2]),
        },
        CallCase {
            args: vec![json!(3)],
            expected: json!(4),
        },
    ];
    let (g, executor) = grader(|_, nonce| {
        let out = lines(
            nonce,
            &[
                json!({"k":"case","i":0,"value":2}),
                json!({"k":"case","i":1,"value":1}),
                json!({"k":"case","i":2,"value":[1,2]}),
                json!({"k":"case","i":3,"type":"NotPlain","msg":"returned a value of type AlwaysEqual, not a plain value"}),
                json!({"k":"done"}),
            ],
        );
        (Ending::Finished, out)
    });
    let verdict = g.grade(
        COMPLETION,
        &task(
            CodeTests::Call {
                fn_name: "f".into(),
                cases,
            },
            Scoring::Fraction,
        ),
        &GradeContext::default(),
    );
    assert_eq!(
        verdict.details["tests"],
        json!(["passed", "wrong_answer", "passed", "wrong_answer"])
    );
    assert_eq!(verdict.reward, 0.5);
    let request = &executor.requests.lock().unwrap()[0];
    // Expected values never enter the sandbox.
    assert!(
        !config_of(request).unwrap().to_string().contains("true"),
        "expected values leaked into the program"
    );
    assert_eq!(request.time_limit_ms, 4 * 3000);
}

#[test]
fn call_runs_cut_by_the_output_cap_go_on_from_the_first_unreported_case() {
    // Each run manages one case before its output fills up; a run of one case that still
    // overflows (the last) fails that case with the output limit.
    let cases: Vec<CallCase> = (0..3)
        .map(|i| CallCase {
            args: vec![json!(i)],
            expected: json!(i * 10),
        })
        .collect();
    let (g, executor) = grader(|request, nonce| {
        let config = config_of(request).unwrap();
        let first: i64 = serde_json::from_str::<Value>(config["cases"][0].as_str().unwrap())
            .unwrap()[0]
            .as_i64()
            .unwrap();
        if first == 2 {
            return (Ending::OutputLimit, String::new());
        }
        let record = json!({"k":"case","i":0,"value":first * 10});
        (Ending::OutputLimit, lines(nonce, &[record]))
    });
    let task = task(
        CodeTests::Call {
            fn_name: "f".into(),
            cases,
        },
        Scoring::Fraction,
    );
    let verdict = g.grade(COMPLETION, &task, &GradeContext::default());
    assert_eq!(
        verdict.details["tests"],
        json!(["passed", "passed", "output_limit"])
    );
    assert_eq!(verdict.details["runs"], 3);
    let requests = executor.requests.lock().unwrap();
    let sizes: Vec<usize> = requests
        .iter()
        .map(|r| config_of(r).unwrap()["cases"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [3, 2, 1]);
}

#[test]
fn stdio_cases_run_one_by_one_and_stop_early() {
    let cases = vec![
        StdioCase {
            input: "1\n".into(),
            output: "2\n".into(),
        },
        StdioCase {
            input: "2\n".into(),
            output: "3\n4\n".into(),
        },
        StdioCase {
            input: "3\n".into(),
            output: "4\n".into(),
        },
    ];
    let (g, executor) = grader(|request, _| {
        let n: i64 = request.stdin.as_deref().unwrap().trim().parse().unwrap();
        (Ending::Exit(0), format!("{}\n", n + 1))
    });
    let stdio = CodeTests::Stdio {
        cases: cases.clone(),
        float_tolerance: None,
    };
    let verdict = g.grade(
        COMPLETION,
        &task(stdio.clone(), Scoring::All),
        &GradeContext::default(),
    );
    assert_eq!(
        verdict.details["tests"],
        json!(["passed", "wrong_answer", "skipped"])
    );
    assert_eq!(executor.requests.lock().unwrap().len(), 2);
    assert!(verdict.details["first_failure"]["message"]
        .as_str()
        .unwrap()
        .contains("expected 2 lines, got 1"));
    let verdict = g.grade(
        COMPLETION,
        &task(stdio, Scoring::Fraction),
        &GradeContext::default(),
    );
    assert!((verdict.reward - 2.0 / 3.0).abs() < 1e-9);
}

#[test]
fn a_passed_deadline_is_a_timeout_only_if_the_client_chose_it() {
    let (g, executor) = grader(|_, _| (Ending::Finished, String::new()));
    let past = GradeContext {
        deadline: Some(Instant::now() - Duration::from_millis(5)),
        client_allowance: Some(Duration::from_millis(100)),
    };
    let verdict = g.grade(COMPLETION, &assert_task(Scoring::All), &past);
    assert_eq!(verdict.status, Status::Timeout);
    // The server's default deadline, spent by earlier work on the sample: the tests end at
    // their time limit without running.
    let past = GradeContext::with_deadline(Instant::now() - Duration::from_millis(5));
    let verdict = g.grade(COMPLETION, &assert_task(Scoring::All), &past);
    assert_eq!(verdict.status, Status::Incorrect, "{verdict:?}");
    assert_eq!(verdict.details["verdict"], "time_limit");
    assert!(executor.requests.lock().unwrap().is_empty());
}

#[test]
fn python_calls_the_baked_harness_module() {
    let (g, executor) = grader(|_, _| (Ending::Finished, String::new()));
    g.grade(
        COMPLETION,
        &assert_task(Scoring::All),
        &GradeContext::default(),
    );
    let request = &executor.requests.lock().unwrap()[0];
    assert!(request
        .program
        .contains("from verifier_code_harness import _harness_main"));
}

/// An executor whose Python sandbox was built without the harness module.
struct WithoutHarnessModule {
    runs: Mutex<usize>,
}

impl Executor for WithoutHarnessModule {
    fn execute(&self, request: ExecRequest) -> ExecOutcome {
        *self.runs.lock().unwrap() += 1;
        assert_eq!(
            request.program,
            program::PYTHON_HARNESS_PROBE,
            "only the probe runs"
        );
        ExecOutcome {
            ending: Ending::Exception {
                type_name: "ModuleNotFoundError".into(),
                message: "No module named 'verifier_code_harness'".into(),
            },
            stdout: String::new(),
            stderr: "ModuleNotFoundError: No module named 'verifier_code_harness'".into(),
            truncated: false,
            elapsed_ms: 1.0,
        }
    }
}

#[test]
fn a_sandbox_without_the_harness_module_is_an_error_found_once() {
    let executor = Arc::new(WithoutHarnessModule {
        runs: Mutex::new(0),
    });
    let g = CodeGrader::new(executor.clone());
    for _ in 0..2 {
        let verdict = g.grade(
            COMPLETION,
            &assert_task(Scoring::All),
            &GradeContext::default(),
        );
        assert_eq!(verdict.status, Status::Error);
        let message = verdict.error.unwrap();
        assert!(message.contains("PYTHON_HARNESS_MODULE"), "{message}");
    }
    assert_eq!(*executor.runs.lock().unwrap(), 1);
}

/// An executor whose first run crashes (a worker lost under load) and which then works.
struct FlakyOnce {
    probes: Mutex<usize>,
}

impl Executor for FlakyOnce {
    fn execute(&self, request: ExecRequest) -> ExecOutcome {
        let ending = if request.program == program::PYTHON_HARNESS_PROBE {
            let mut probes = self.probes.lock().unwrap();
            *probes += 1;
            if *probes == 1 {
                Ending::Error("worker crashed".into())
            } else {
                Ending::Finished
            }
        } else {
            Ending::Finished
        };
        ExecOutcome {
            ending,
            stdout: String::new(),
            stderr: String::new(),
            truncated: false,
            elapsed_ms: 1.0,
        }
    }
}

#[test]
fn a_harness_check_that_fails_for_another_reason_is_asked_again() {
    let executor = Arc::new(FlakyOnce {
        probes: Mutex::new(0),
    });
    let g = CodeGrader::new(executor.clone());
    let task = assert_task(Scoring::All);
    let first = g.grade(COMPLETION, &task, &GradeContext::default());
    assert_eq!(first.status, Status::Error);
    let message = first.error.unwrap();
    assert!(message.contains("worker crashed"), "{message}");
    let second = g.grade(COMPLETION, &task, &GradeContext::default());
    let second_message = second.error.unwrap_or_default();
    assert!(
        !second_message.contains("worker crashed"),
        "the crash was remembered: {second_message}"
    );
    g.grade(COMPLETION, &task, &GradeContext::default());
    assert_eq!(*executor.probes.lock().unwrap(), 2);
}

/// A run whose records are `records` (after a two-test plan), graded with `scoring`.
fn graded_with(records: Vec<Value>, scoring: Scoring, ending: Ending) -> crate::Verdict {
    let (g, _) = grader(move |_, nonce| {
        let mut all = vec![json!({"k":"plan","n":2,"names":["a","b"]})];
        all.extend(records.iter().cloned());
        (ending.clone(), lines(nonce, &all))
    });
    g.grade(COMPLETION, &assert_task(scoring), &GradeContext::default())
}

#[test]
fn a_test_that_never_calls_the_candidate_earns_nothing() {
    // `assert True` passes without a call into the candidate: it is left out of the score.
    let verdict = graded_with(
        vec![
            json!({"k":"test","i":0,"v":"fail","msg":"expected 1, got 2"}),
            json!({"k":"test","i":1,"v":"neutral"}),
            json!({"k":"done"}),
        ],
        Scoring::Fraction,
        Ending::Finished,
    );
    assert_eq!(verdict.reward, 0.0);
    assert_eq!(verdict.details["total"], 1);
    // Only neutral tests: the task's tests test nothing, which is the task's fault.
    let verdict = graded_with(
        vec![
            json!({"k":"test","i":0,"v":"neutral"}),
            json!({"k":"test","i":1,"v":"neutral"}),
            json!({"k":"done"}),
        ],
        Scoring::Fraction,
        Ending::Finished,
    );
    assert_eq!(verdict.status, Status::Error);
}

#[test]
fn a_failure_after_the_last_test_fails_the_run() {
    let verdict = graded_with(
        vec![
            json!({"k":"test","i":0,"v":"pass"}),
            json!({"k":"test","i":1,"v":"pass"}),
            json!({"k":"trailing_error","v":"error","type":"ValueError","msg":"late"}),
            json!({"k":"done"}),
        ],
        Scoring::All,
        Ending::Finished,
    );
    assert_eq!(verdict.reward, 0.0);
    assert_eq!(verdict.details["verdict"], "runtime_error");
}

#[test]
fn a_missing_record_in_a_finished_run_is_a_failure_not_a_skip() {
    let verdict = graded_with(
        vec![json!({"k":"test","i":1,"v":"pass"}), json!({"k":"done"})],
        Scoring::Fraction,
        Ending::Finished,
    );
    assert_eq!(verdict.details["tests"][0], "runtime_error");
    assert_ne!(verdict.details["verdict"], "passed");
    assert_eq!(verdict.reward, 0.0);
}

#[test]
fn the_candidates_instance_ending_is_the_candidates_failure() {
    for (why, expected) in [
        ("time-limit", "time_limit"),
        ("memory-limit", "memory_limit"),
        ("exited: 0", "runtime_error"),
        ("trap: wasm trap: unreachable", "runtime_error"),
        ("raised: KeyboardInterrupt", "runtime_error"),
        ("too-long", "output_limit"),
    ] {
        // During a test, and while the candidate's code loads.
        for ended in [
            json!({"k":"test","i":0,"v":"ended","why":why}),
            json!({"k":"load_error","v":"ended","why":why}),
        ] {
            let records = vec![ended, json!({"k":"done"})];
            let verdict = graded_with(records, Scoring::All, Ending::Finished);
            assert_eq!(verdict.status, Status::Incorrect, "{why}");
            assert_eq!(
                verdict.details["first_failure"]["verdict"], expected,
                "{why}"
            );
        }
    }
}

#[test]
fn a_time_limit_is_a_timeout_only_where_the_clients_deadline_cut_it() {
    let (g, executor) = grader(|_, _| (Ending::TimeLimit, String::new()));
    // Default limits: the run gets the full budget, and running out of it is the candidate's.
    let ctx = GradeContext::with_client_deadline(Duration::from_secs(10));
    let verdict = g.grade(COMPLETION, &assert_task(Scoring::All), &ctx);
    assert_eq!(verdict.status, Status::Incorrect);
    assert_eq!(verdict.details["verdict"], "time_limit");
    // A client deadline shorter than the budget: the run is cut to it, and the sample is a
    // `timeout` that says why.
    let ctx = GradeContext::with_client_deadline(Duration::from_millis(500));
    let verdict = g.grade(COMPLETION, &assert_task(Scoring::All), &ctx);
    assert_eq!(verdict.status, Status::Timeout);
    assert!(verdict.error.as_deref().unwrap().contains("deadline"));
    let requests = executor.requests.lock().unwrap();
    assert!(requests.last().unwrap().time_limit_ms <= 500);
}
