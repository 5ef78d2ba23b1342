//! The three ways of testing a candidate (`assert`, `call`, `stdio`), each from building the
//! sandbox request to per-test results.
//!
//! `assert` and `call` tests run in one sandbox run through our harness; `stdio` cases run the
//! candidate's program as it is, one fresh run per case, with the case's input on stdin, and the
//! host compares what it printed.

use std::cell::Cell;
use std::time::Instant;

use serde_json::{json, Value};

use super::compare::{stdout_matches, values_equal, Evalplus, Tolerance};
use super::executor::{Ending, ExecOutcome, ExecPeer, ExecRequest, Executor};
use super::limits::CodeGraderConfig;
use super::nonce::fresh_nonce;
use super::prepared::{PreparedCache, PreparedTests};
use super::program::{harness_program, javascript_candidate_program, PYTHON_CANDIDATE_BOOTSTRAP};
use super::protocol::{
    error_result, exception_outcome, is_syntax_error, parse_records, record_result, text,
    unfinished, Records, MAX_RECORD_COST,
};
use super::verdict::{excerpt, RunReport, TestOutcome, TestResult};
use crate::contract::{CallCase, CodeLanguage, CodeTask, Comparison, Scoring, StdioCase};
use crate::registry::GradeContext;

/// Output all the runs of one sample's `call` tests may produce together (each run has its own
/// 16 MiB cap): big honest values (HumanEval+ /15, /130) need two runs.
const MAX_CALL_OUTPUT_BYTES: usize = 64 << 20;

/// Why grading could not produce per-test verdicts.
pub enum RunError {
    /// The task or the executor is at fault: an `error` result.
    Error(String),
    /// The sample's deadline passed.
    Timeout,
}

/// What every run needs.
pub struct Runner<'a> {
    pub executor: &'a dyn Executor,
    pub config: &'a CodeGraderConfig,
    pub task: &'a CodeTask,
    pub ctx: &'a GradeContext,
    /// The candidate's program: the task's prefix followed by the extracted code.
    pub program: String,
    /// Where Python `assert` tests prepared by earlier samples of a task are kept.
    pub prepared_tests: Option<&'a PreparedCache>,
    /// Whether the client chose a deadline for the sample shorter than one test's budget: only
    /// then is a run cut by the deadline the client's choice (a `timeout`). Otherwise the
    /// candidate had a test's full budget or the server's default deadline, and whatever of it
    /// its runs used up (in this component or an earlier one of the sample) is its own doing
    /// (`incorrect`, time limit): a policy must not escape to `timeout` by spending it.
    client_deadline_short: bool,
    /// Set when a run's time limit was cut short by a short client deadline: (the limit it got,
    /// the limit the tests allow).
    pub cut_by_deadline: Cell<Option<(u64, u64)>>,
}

impl<'a> Runner<'a> {
    pub fn new(
        executor: &'a dyn Executor,
        config: &'a CodeGraderConfig,
        task: &'a CodeTask,
        ctx: &'a GradeContext,
        program: String,
        prepared_tests: Option<&'a PreparedCache>,
    ) -> Runner<'a> {
        let one_test_ms = config.run_time_limit_ms(task, 1);
        let client_deadline_short = ctx
            .client_allowance
            .is_some_and(|allowance| allowance.as_millis() < u128::from(one_test_ms));
        Runner {
            executor,
            config,
            task,
            ctx,
            program,
            prepared_tests,
            client_deadline_short,
            cut_by_deadline: Cell::new(None),
        }
    }

    fn early_stop(&self) -> bool {
        self.task.scoring == Scoring::All
    }

    /// Runs one request, with the time limit cut to what is left before the sample's deadline.
    fn execute(
        &self,
        program: String,
        stdin: Option<String>,
        tests: usize,
        peer: Option<ExecPeer>,
    ) -> Result<ExecOutcome, RunError> {
        let budget_ms = self.config.run_time_limit_ms(self.task, tests);
        let mut time_limit_ms = budget_ms;
        let mut wall_limit_ms = None;
        if let Some(deadline) = self.ctx.deadline {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .as_millis() as u64;
            if left == 0 {
                if self.client_deadline_short {
                    return Err(RunError::Timeout);
                }
                // Earlier runs of the sample (this component's or another's) spent its time:
                // this run ends as it would have, at its time limit, without starting.
                return Ok(ExecOutcome {
                    ending: Ending::TimeLimit,
                    stdout: String::new(),
                    stderr: String::new(),
                    truncated: false,
                    elapsed_ms: 0.0,
                });
            }
            // Both instances of a run together end by the deadline.
            wall_limit_ms = Some(left);
            if left < budget_ms {
                time_limit_ms = left;
                if self.client_deadline_short {
                    self.cut_by_deadline.set(Some((left, budget_ms)));
                }
            }
        }
        let outcome = self.executor.execute(ExecRequest {
            language: self.task.language,
            program,
            stdin,
            time_limit_ms,
            memory_limit_mb: self.config.memory_limit_mb(self.task),
            peer,
            wall_limit_ms,
            stdout_limit_bytes: None,
        });
        match &outcome.ending {
            Ending::Error(message) => {
                Err(RunError::Error(format!("the sandbox failed: {message}")))
            }
            _ => Ok(outcome),
        }
    }

    /// One run of the harness and its records, reading no more than `budget` of parsed values
    /// (see [`MAX_RECORD_COST`]); records past it end the run as the output cap would.
    fn harness_run(
        &self,
        config: Value,
        tests: usize,
        peer: Option<ExecPeer>,
        budget: &mut usize,
    ) -> Result<(Records, ExecOutcome), RunError> {
        let nonce = config["nonce"].as_str().unwrap_or_default().to_string();
        let run = harness_program(self.task.language, &config);
        let mut outcome = self.execute(run.program, run.stdin, tests, peer)?;
        let mut records = parse_records(&outcome.stdout, &nonce, budget);
        if records.over_budget {
            outcome.truncated = true;
        }
        // Once the candidate's code is in the instance (`loading`), a record may be its forgery
        // (it can find the nonce in our frames): a harness error written after that point is
        // the candidate's failure, not ours. (The tests' instance of an `assert` run never
        // holds the candidate, and never writes `loading`.)
        if let Some(loading) = records.list.iter().position(|r| text(r, "k") == "loading") {
            let mut index = 0;
            records.list.retain(|record| {
                index += 1;
                index <= loading || text(record, "k") != "harness_error"
            });
        }
        if let Some(record) = records.first("harness_error") {
            return Err(RunError::Error(format!(
                "the test harness failed: {}",
                text(record, "msg")
            )));
        }
        Ok((records, outcome))
    }

    pub fn assert_tests(&self, test_code: &str, entry_point: &str) -> Result<RunReport, RunError> {
        let prefix = self.task.prefix.as_deref().unwrap_or_default();
        let cache = self
            .prepared_tests
            .filter(|_| self.task.language == CodeLanguage::Python);
        let prepared = cache.and_then(|cache| cache.get(test_code, prefix));
        let mut config = json!({
            "nonce": fresh_nonce(),
            "mode": "assert",
            "entry_point": entry_point,
            "early_stop": self.early_stop(),
        });
        // The candidate's code runs in an instance of its own, which the tests call through the
        // host; the tests' instance never holds it (see the module's threat model).
        let peer = Some(match self.task.language {
            CodeLanguage::Python => ExecPeer {
                program: PYTHON_CANDIDATE_BOOTSTRAP.to_string(),
                stdin: self.program.clone(),
            },
            CodeLanguage::Javascript => ExecPeer {
                program: javascript_candidate_program(&self.program, entry_point),
                stdin: String::new(),
            },
        });
        // Compiled tests replace the sources, which the harness then never reads.
        match &prepared {
            Some(prepared) => config["prepared"] = json!(prepared.hex),
            None => {
                config["prefix"] = json!(prefix);
                config["test_code"] = json!(test_code);
                if cache.is_some() {
                    config["want_prepared"] = json!(true);
                }
            }
        }
        let (records, outcome) = self.harness_run(config, 1, peer, &mut MAX_RECORD_COST.clone())?;
        if let (Some(cache), None) = (cache, &prepared) {
            // Only as the first record: see `prepared` for why.
            let first = records.list.first().filter(|r| text(r, "k") == "prepared");
            if let Some(made) = first.and_then(PreparedTests::from_record) {
                cache.insert(test_code, prefix, made);
            }
        }
        let Some(plan) = records.first("plan") else {
            // The harness never got as far as reading the tests: the run died at start-up.
            let mut report = report_of(&outcome);
            report.tests.push(unfinished(&outcome, "test program"));
            return Ok(report);
        };
        let names: Vec<String> = match (&prepared, plan.get("names").and_then(Value::as_array)) {
            (Some(prepared), _) => prepared.names.clone(),
            (None, Some(names)) => names
                .iter()
                .map(|n| n.as_str().unwrap_or("?").to_string())
                .collect(),
            (None, None) => Vec::new(),
        };
        if names.is_empty() {
            return Err(RunError::Error(
                "the test code holds no assert statement".into(),
            ));
        }
        let mut tests = whole_program_failure(&records, &names).unwrap_or_else(|| {
            let slots = records.indexed("test", names.len());
            fill_slots(&slots, &names, &records, &outcome, record_result)
        });
        if let Some(record) = records.first("trailing_error") {
            let mut failure = record_result(record, "after the last test");
            failure.message = format!(
                "a statement after the last test failed: {}",
                failure.message
            );
            tests.push(failure);
        } else if !records.done && !tests.iter().any(|test| test.outcome.is_failure()) {
            // Every test passed, but the test program never got to its end (it ran out of
            // time or memory after them, or a record was lost): the run fails.
            tests.push(unfinished(&outcome, "the end of the test program"));
        }
        // A test that never called the candidate's code (`assert True`) earns nothing.
        tests.retain(|test| test.outcome != TestOutcome::Neutral);
        if tests.is_empty() {
            return Err(RunError::Error(
                "no assert statement of the test code calls the candidate's code".into(),
            ));
        }
        Ok(RunReport {
            tests,
            ..report_of(&outcome)
        })
    }

    /// The harness configuration of a `call` run: each case's arguments as JSON text.
    fn call_config(&self, fn_name: &str, cases: &[CallCase], early_stop: bool) -> Value {
        let args: Vec<String> = cases
            .iter()
            .map(|c| Value::from(c.args.clone()).to_string())
            .collect();
        json!({
            "nonce": fresh_nonce(),
            "mode": "call",
            "code": self.program,
            "fn_name": fn_name,
            "cases": args,
            "early_stop": early_stop,
        })
    }

    /// Runs `call` cases, in as many runs as the output cap needs: a run that fills it (big
    /// return values, e.g. HumanEval+'s longest strings) is followed by a fresh run from its
    /// first unreported case. Case records come back with indices into `cases`; the outcome is
    /// the last run's, the report (no tests yet) counts them all.
    fn call_runs(
        &self,
        fn_name: &str,
        cases: &[CallCase],
        early_stop: bool,
    ) -> Result<(Records, ExecOutcome, RunReport), RunError> {
        let mut merged = Records::default();
        let mut start = 0;
        let mut report = RunReport::default();
        let mut output_bytes = 0;
        let mut last: Option<ExecOutcome> = None;
        let mut budget = MAX_RECORD_COST;
        loop {
            let config = self.call_config(fn_name, &cases[start..], early_stop);
            let run = self.harness_run(config, cases.len() - start, None, &mut budget);
            let (records, outcome) = match run {
                // A run continued after the output cap found the deadline spent by the runs
                // before it: the cases left have no record, and fail as those runs ended.
                Err(RunError::Timeout) if start > 0 && !self.client_deadline_short => {
                    return Ok((merged, last.expect("a run before this one"), report));
                }
                result => result?,
            };
            report.runs += 1;
            report.elapsed_ms += outcome.elapsed_ms;
            let records_over_budget = records.over_budget;
            let reported = records
                .indexed("case", cases.len() - start)
                .iter()
                .take_while(|slot| slot.is_some())
                .count();
            for mut record in records.list {
                if text(&record, "k") == "case" {
                    let index = record.get("i").and_then(Value::as_u64).unwrap_or(u64::MAX);
                    record.insert("i".into(), json!(index.saturating_add(start as u64)));
                }
                merged.list.push(record);
            }
            merged.done = records.done;
            let next = start + reported;
            let cut_by_output = outcome.truncated || outcome.ending == Ending::OutputLimit;
            output_bytes += outcome.stdout.len();
            // The total is bounded too: a candidate that fills the cap on purpose gets no more
            // than MAX_CALL_OUTPUT_BYTES of runs (the cases left fail at the output limit).
            let spent = output_bytes >= MAX_CALL_OUTPUT_BYTES || records_over_budget;
            if !cut_by_output || next == start || next == cases.len() || spent {
                return Ok((merged, outcome, report));
            }
            // Its records are merged; how it ended is kept, its output is not needed again.
            last = Some(ExecOutcome {
                stdout: String::new(),
                ..outcome
            });
            start = next;
        }
    }

    pub fn call_tests(&self, fn_name: &str, cases: &[CallCase]) -> Result<RunReport, RunError> {
        if cases.is_empty() {
            return Err(RunError::Error("the call test has no cases".into()));
        }
        let (records, outcome, report) = self.call_runs(fn_name, cases, self.early_stop())?;
        let strict = self
            .task
            .float_tolerance
            .map_or(Tolerance::EXACT, |t| Tolerance {
                abs: t,
                rel: t,
                ..Tolerance::EXACT
            });
        // Cases are judged in order, so evalplus's `atol` carries from case to case as in its loop.
        let evalplus = Evalplus::new(self.task.float_tolerance);
        let equal = |expected: &Value, got: &Value| match self.task.compare {
            Comparison::Strict => values_equal(expected, got, strict),
            Comparison::Python => evalplus.equal(expected, got),
        };
        let names: Vec<String> = (0..cases.len()).map(|i| format!("case {i}")).collect();
        let tests = whole_program_failure(&records, &names).unwrap_or_else(|| {
            let slots = records.indexed("case", cases.len());
            fill_slots(&slots, &names, &records, &outcome, |record, name| {
                let index: usize = name[5..].parse().unwrap_or(0);
                let Some(got) = record.get("value") else {
                    if text(record, "type") == "NotPlain" {
                        return TestResult::new(
                            TestOutcome::WrongAnswer,
                            name,
                            text(record, "msg"),
                        );
                    }
                    return error_result(record, name);
                };
                let expected = &cases[index].expected;
                if equal(expected, got) {
                    TestResult::new(TestOutcome::Passed, name, "")
                } else {
                    let message = format!(
                        "args {}: expected {}, got {}",
                        excerpt(&Value::from(cases[index].args.clone()).to_string(), 80),
                        excerpt(&expected.to_string(), 100),
                        excerpt(&got.to_string(), 100)
                    );
                    TestResult::new(TestOutcome::WrongAnswer, name, message)
                }
            })
        });
        Ok(RunReport { tests, ..report })
    }

    /// The plain value each case returned (or its error), with no comparison: for building
    /// expected outputs from a reference solution.
    pub fn call_values(
        &self,
        fn_name: &str,
        cases: &[CallCase],
    ) -> Result<Vec<Result<Value, String>>, RunError> {
        let (records, outcome, _) = self.call_runs(fn_name, cases, false)?;
        if let Some(record) = records
            .first("syntax_error")
            .or(records.first("load_error"))
        {
            return Err(RunError::Error(format!(
                "the reference solution failed to load: {}",
                text(record, "msg")
            )));
        }
        let slots = records.indexed("case", cases.len());
        Ok(slots
            .iter()
            .enumerate()
            .map(|(index, slot)| match slot {
                Some(record) => record
                    .get("value")
                    .cloned()
                    .ok_or_else(|| format!("{}: {}", text(record, "type"), text(record, "msg"))),
                None => Err(unfinished(&outcome, &format!("case {index}")).message),
            })
            .collect())
    }

    pub fn stdio_tests(
        &self,
        cases: &[StdioCase],
        float_tolerance: Option<f64>,
    ) -> Result<RunReport, RunError> {
        if cases.is_empty() {
            return Err(RunError::Error("the stdio test has no cases".into()));
        }
        let mut report = RunReport::default();
        for (index, case) in cases.iter().enumerate() {
            let name = format!("case {index}");
            if report
                .tests
                .last()
                .is_some_and(|t| t.outcome != TestOutcome::Passed)
                && self.early_stop()
            {
                report
                    .tests
                    .push(TestResult::new(TestOutcome::Skipped, name, ""));
                continue;
            }
            let outcome =
                match self.execute(self.program.clone(), Some(case.input.clone()), 1, None) {
                    Err(RunError::Timeout) if !self.client_deadline_short => {
                        // The candidate's own time limits used the sample's time up: the cases left
                        // fail as it would have made them fail, and the sample is not a `timeout`.
                        while report.tests.len() < cases.len() {
                            let name = format!("case {}", report.tests.len());
                            let message = "not run: earlier cases used up the sample's deadline";
                            report.tests.push(TestResult::new(
                                TestOutcome::TimeLimit,
                                name,
                                message,
                            ));
                        }
                        break;
                    }
                    outcome => outcome?,
                };
            report.elapsed_ms += outcome.elapsed_ms;
            report.runs += 1;
            let result = match &outcome.ending {
                Ending::Finished | Ending::Exit(0) if !outcome.truncated => {
                    match stdout_matches(&case.output, &outcome.stdout, float_tolerance) {
                        Ok(()) => TestResult::new(TestOutcome::Passed, &name, ""),
                        Err(difference) => {
                            TestResult::new(TestOutcome::WrongAnswer, &name, difference)
                        }
                    }
                }
                Ending::Exception { type_name, message } if is_syntax_error(type_name) => {
                    TestResult::new(
                        TestOutcome::SyntaxError,
                        &name,
                        format!("{type_name}: {message}"),
                    )
                }
                Ending::Exception { type_name, message } => TestResult::new(
                    exception_outcome(type_name),
                    &name,
                    format!("{type_name}: {message}"),
                ),
                _ => unfinished(&outcome, &name),
            };
            // A program that does not compile fails every case the same way: no need to rerun it.
            if result.outcome == TestOutcome::SyntaxError {
                let message = result.message.clone();
                report.tests.push(result);
                while report.tests.len() < cases.len() {
                    let name = format!("case {}", report.tests.len());
                    report.tests.push(TestResult::new(
                        TestOutcome::SyntaxError,
                        name,
                        message.clone(),
                    ));
                }
                break;
            }
            report.tests.push(result);
        }
        Ok(report)
    }
}

fn report_of(outcome: &ExecOutcome) -> RunReport {
    RunReport {
        tests: Vec::new(),
        elapsed_ms: outcome.elapsed_ms,
        runs: 1,
    }
}

/// A candidate that does not compile, or that fails while loading, fails every test the same way.
fn whole_program_failure(records: &Records, names: &[String]) -> Option<Vec<TestResult>> {
    let all = |make: &dyn Fn(&str) -> TestResult| Some(names.iter().map(|n| make(n)).collect());
    if let Some(record) = records.first("syntax_error") {
        let message = format!("SyntaxError: {}", text(record, "msg"));
        return all(&|name| TestResult::new(TestOutcome::SyntaxError, name, message.clone()));
    }
    if let Some(record) = records.first("load_error") {
        return all(&|name| {
            let mut result = record_result(record, name);
            if result.outcome == TestOutcome::Passed || result.outcome == TestOutcome::Neutral {
                result = error_result(record, name);
            }
            result.message = format!("while loading the code: {}", result.message);
            result
        });
    }
    None
}

/// Per-test results from indexed records. A missing record after a failure is a test that was
/// skipped (all-or-nothing scoring stops at the first failure); before any failure it is the test
/// that was running when the run stopped, or, in a run that says it finished, a test whose record
/// went missing: a failure either way, never a pass.
fn fill_slots(
    slots: &[Option<&serde_json::Map<String, Value>>],
    names: &[String],
    records: &Records,
    outcome: &ExecOutcome,
    judge: impl Fn(&serde_json::Map<String, Value>, &str) -> TestResult,
) -> Vec<TestResult> {
    let mut results: Vec<TestResult> = Vec::with_capacity(slots.len());
    let mut stopped = false;
    for (slot, name) in slots.iter().zip(names) {
        let failed_before = results.iter().any(|t| t.outcome.is_failure());
        match slot {
            Some(record) if !stopped => results.push(judge(record, name)),
            _ if stopped || failed_before => {
                stopped = true;
                results.push(TestResult::new(TestOutcome::Skipped, name.as_str(), ""));
            }
            _ if records.done => {
                stopped = true;
                let message = "the run finished without a verdict for this test";
                results.push(TestResult::new(
                    TestOutcome::RuntimeError("no_record".into()),
                    name.as_str(),
                    message,
                ));
            }
            _ => {
                stopped = true;
                results.push(unfinished(outcome, name));
            }
        }
    }
    results
}
