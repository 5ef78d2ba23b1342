//! The `code` grader: runs the candidate's code against the task's tests through an [`Executor`]
//! (the verifier's sandbox pool) and scores the verdicts per test.
//!
//! Flow: [`extract`] finds the code in the completion; [`run`] builds a request per test kind
//! (`assert` and `call` through our trusted harness, `harness.py`/`harness.js`, in one run;
//! `stdio` as the bare program, one run per case); [`protocol`] reads the harness's records;
//! [`compare`] judges return values and output on the host; [`verdict`] scores.
//!
//! # Threat model
//!
//! The adversary is the policy being trained: it writes arbitrary code and is rewarded for
//! passing, so anything that passes without solving the task will be found and amplified. Its code
//! runs inside the sandbox (isolation from the host is the `sandboxes` crate's job, not ours), in
//! the *same* interpreter as our harness. What it may try, and what stops it:
//!
//! | attack | defence |
//! | --- | --- |
//! | `sys.exit(0)`, `raise SystemExit`, `os._exit(0)`, `process.exit(0)` before or during the tests | The exit status is never evidence of success. A test passes only on a record from the harness saying so; exceptions including `SystemExit` are caught and reported as runtime errors; a run that ends before a test's record makes that test fail with the reason (`exit(0)`). |
//! | an `atexit` hook or finaliser that prints "success" after the harness | The harness clears `atexit` before it finishes; the host ignores everything after the first `done` record. |
//! | printing what the harness prints on success | Records are lines prefixed with a 128-bit nonce made fresh by the host for every run and never shown to the model; all other output is ignored. The candidate's `print`/`sys.stdout` go to a sink while it runs, so ordinary output cannot flood the real stdout either. |
//! | an "always equal" object (`__eq__` returning True), a subclass of `int`/`str`/`list` with its own comparison | The harness converts every value the candidate returns into a fresh object of *exact* built-in types (or refuses it: wrong answer) before any test code sees it, so every comparison in the tests runs C code of built-in types. `call` tests go further: the value is serialised to tagged plain JSON and compared **on the host** with type checks (a bool is not a number, a tuple is an array, big integers exact); expected values never enter the sandbox. `stdio` output is compared on the host, line by line in full. |
//! | redefining `check`, `candidate`, assert helpers, or the prompt's helper functions (`encode_cyclic` beside `decode_cyclic`) | The test code runs after the candidate, in its own namespace: it defines `check` itself, and names the task's prefix defines are taken from a separate, trusted execution of the prefix, not from the candidate's. |
//! | redefining builtins (`abs`, `len`, `sum`, `__import__`) or patching modules the tests use (`math.fabs`, `random.Random.randint`) | The tests get a copy of the builtins taken before the candidate ran. The harness imports the modules the tests import before the candidate runs, snapshots their dictionaries and the dictionaries of the Python classes in them, and restores them (by identity, not `==`) after the candidate's code loads and after every call into it; `sys.settrace`/`setprofile` are reset too. |
//! | reading the tests | The tests are not files and not in the candidate's namespace. For `call` and `stdio` tests the expected values are not in the sandbox at all. |
//!
//! Residual risk, stated plainly: within one interpreter, code that introspects the interpreter
//! (`sys._getframe`, `gc.get_objects`, a traceback's `tb_frame.f_back`) can reach the harness's
//! frame, read the nonce and the `assert` test code from it, or patch the harness's functions;
//! and classes outside the modules the tests import are not restored. Such an attack needs
//! knowledge of this harness, which the model never sees, but it is possible in principle for
//! `assert` tests. For `call` and `stdio` tests it gains nothing: a forged record must still carry
//! the right value, which the host checks. A task that must be proof against a white-box adversary
//! should use `call` or `stdio` tests (HumanEval+ through `verifier eval` does).
//!
//! # Limits
//!
//! Time limits are per test, in native-equivalent milliseconds, scaled for the sandbox's slower
//! interpreters ([`CodeGraderConfig`]); an `assert` test program gets one test's budget, as
//! openai/human-eval gives `check` 3 s; a `call` run gets one budget per case (capped); every
//! `stdio` case its own run. The sample's deadline caps them all.

pub mod compare;
pub mod executor;
pub mod extract;
pub mod limits;
mod nonce;
mod prepared;
mod program;
mod protocol;
mod run;
pub mod verdict;

use std::sync::{Arc, OnceLock};

pub use executor::{Ending, ExecOutcome, ExecPeer, ExecRequest, Executor};
pub use extract::extract_code;
pub use limits::CodeGraderConfig;
pub use verdict::{TestOutcome, TestResult};

/// The Python harness as a module (name, source) that every Python sandbox running this grader
/// must have baked in: imported when the sandbox is built, it costs nothing per run, where
/// loading it in each run cost ~0.7 ms (unmarshalling, interning its names, classes, imports).
pub const PYTHON_HARNESS_MODULE: (&str, &str) =
    (program::PYTHON_HARNESS_MODULE_NAME, program::PYTHON_HARNESS);

use crate::contract::{CodeTests, Task, Verdict};
use crate::registry::{GradeContext, Grader, GraderInfo};
use run::{RunError, Runner};

/// Grades `code` tasks by running them through an [`Executor`].
pub struct CodeGrader {
    executor: Arc<dyn Executor>,
    config: CodeGraderConfig,
    /// Whether the executor's Python sandbox has [`PYTHON_HARNESS_MODULE`] baked in (checked on
    /// first use; without it no Python `assert` or `call` test can run).
    python_harness_ready: OnceLock<Result<(), String>>,
    prepared_tests: prepared::PreparedCache,
}

impl CodeGrader {
    pub fn new(executor: Arc<dyn Executor>) -> CodeGrader {
        CodeGrader::with_config(executor, CodeGraderConfig::default())
    }

    pub fn with_config(executor: Arc<dyn Executor>, config: CodeGraderConfig) -> CodeGrader {
        CodeGrader {
            executor,
            config,
            python_harness_ready: OnceLock::new(),
            prepared_tests: prepared::PreparedCache::default(),
        }
    }

    /// Only a definite answer is remembered: the probe finished (the module is there) or raised
    /// (it is not). A crashed worker or a busy machine timing the probe out says nothing about
    /// the sandbox's build, so it fails this sample alone and the next one asks again.
    fn python_harness_ready(&self) -> Result<(), String> {
        if let Some(known) = self.python_harness_ready.get() {
            return known.clone();
        }
        let outcome = self.executor.execute(ExecRequest {
            language: crate::contract::CodeLanguage::Python,
            program: program::PYTHON_HARNESS_PROBE.to_string(),
            stdin: None,
            time_limit_ms: 30_000,
            memory_limit_mb: self.config.default_memory_limit_mb,
            peer: None,
        });
        let known = match outcome.ending {
            Ending::Finished => Ok(()),
            Ending::Exception { type_name, message } => Err(format!(
                "the Python sandbox cannot load the code harness module `{}` \
                 ({type_name}: {message}); build the sandbox with \
                 graders::code::PYTHON_HARNESS_MODULE baked in",
                program::PYTHON_HARNESS_MODULE_NAME
            )),
            ending => {
                return Err(format!(
                    "the Python sandbox did not answer the check for the code harness module: \
                     {ending:?}"
                ))
            }
        };
        self.python_harness_ready.get_or_init(|| known).clone()
    }

    pub fn config(&self) -> &CodeGraderConfig {
        &self.config
    }
}

impl Grader for CodeGrader {
    fn info(&self) -> GraderInfo {
        GraderInfo {
            kind: "code".into(),
            description: "runs the candidate's code against tests in a sandbox".into(),
            available: true,
            variants: vec!["assert".into(), "stdio".into(), "call".into()],
        }
    }

    fn prepare(&self) {
        self.executor.prepare();
        let _ = self.python_harness_ready();
    }

    fn grade(&self, completion: &str, task: &Task, ctx: &GradeContext) -> Verdict {
        let Task::Code(task) = task else {
            return Verdict::error(format!(
                "the code grader cannot grade a `{}` task",
                task.kind()
            ));
        };
        let Some(code) = extract_code(completion, task.language) else {
            return verdict::no_code();
        };
        let program = match &task.prefix {
            Some(prefix) if !prefix.is_empty() => format!("{prefix}{code}"),
            _ => code.to_string(),
        };
        let uses_harness = !matches!(task.tests, CodeTests::Stdio { .. });
        if uses_harness && task.language == crate::contract::CodeLanguage::Python {
            if let Err(message) = self.python_harness_ready() {
                return Verdict::error(message);
            }
        }
        let runner = Runner {
            executor: self.executor.as_ref(),
            config: &self.config,
            task,
            ctx,
            program,
            prepared_tests: Some(&self.prepared_tests),
            cut_by_deadline: Default::default(),
        };
        let report = match &task.tests {
            CodeTests::Assert {
                code: test_code,
                entry_point,
            } => runner.assert_tests(test_code, entry_point),
            CodeTests::Call { fn_name, cases } => runner.call_tests(fn_name, cases),
            CodeTests::Stdio {
                cases,
                float_tolerance,
            } => runner.stdio_tests(cases, *float_tolerance),
        };
        let stopped_by_deadline = |report: &verdict::RunReport| {
            let timed_out = report
                .tests
                .iter()
                .any(|test| test.outcome == TestOutcome::TimeLimit);
            runner.cut_by_deadline.get().filter(|_| timed_out)
        };
        match report {
            Ok(report) => match stopped_by_deadline(&report) {
                // Only a deadline shorter than the tests' budget, which the client chose, makes
                // a `timeout`; a candidate that runs out of its own time is `incorrect`.
                Some((left_ms, budget_ms)) => Verdict::timeout(format!(
                    "the sample's deadline left {left_ms} ms for a run the tests allow \
                     {budget_ms} ms: the candidate was stopped by the deadline, not by its time \
                     limit (raise `limits.timeout_ms` to grade it)"
                )),
                None => verdict::score(report, task.scoring, code.chars().count()),
            },
            Err(RunError::Error(message)) => Verdict::error(message),
            Err(RunError::Timeout) => {
                Verdict::timeout("the sample's deadline passed while its tests ran")
            }
        }
    }
}

/// Runs `code` (the whole program; `task.prefix` is not added) through the `call` harness of
/// `task` (which must have `call` tests; their `expected` values are ignored) and returns what
/// each case returned, as tagged plain JSON, or why it did not. Benchmarks that store inputs but
/// not outputs (HumanEval+) build their expected values this way from the reference solution.
pub fn reference_values(
    executor: &dyn Executor,
    config: &CodeGraderConfig,
    task: &crate::contract::CodeTask,
    code: &str,
) -> Result<Vec<Result<serde_json::Value, String>>, String> {
    let CodeTests::Call { fn_name, cases } = &task.tests else {
        return Err("reference values need a task with `call` tests".into());
    };
    let ctx = GradeContext::default();
    let runner = Runner {
        executor,
        config,
        task,
        ctx: &ctx,
        program: code.to_string(),
        prepared_tests: None,
        cut_by_deadline: Default::default(),
    };
    runner
        .call_values(fn_name, cases)
        .map_err(|error| match error {
            RunError::Error(message) => message,
            RunError::Timeout => "timed out".into(),
        })
}

#[cfg(test)]
mod tests;
