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
//! passing, so anything that passes without solving the task will be found and amplified.
//! Isolation from the host is the `sandboxes` crate's job; here the question is what decides the
//! reward, and whether the candidate's code can reach it.
//!
//! **Python `assert` tests (HumanEval, MBPP, any `check(candidate)`): two instances.** The
//! candidate's code and the tests never share an interpreter:
//!
//! - The *candidate's instance* (the run's sandbox peer, `_candidate_main` in `harness.py`) holds
//!   the task's prefix and the candidate's code, nothing else. It sees the arguments the tests
//!   pass, one call at a time, as tagged plain JSON, and answers with its values. It never holds
//!   the test code, the expected values, the records, the nonce, or anything of the tests'
//!   instance: frames, `gc`, `sys.monitoring`, `dis`, tracebacks, RNG state and module state there
//!   reach only the candidate's own objects. Whatever it does to its own instance (patching the
//!   answering code, forging answers) changes only the values it returns, which it controls
//!   anyway.
//! - The *tests' instance* (trusted: the test code, the task's prefix and our harness) holds a
//!   proxy for each name the candidate defines. A call crosses the host (`sandbox_peer.call`) and
//!   its result comes back as plain data, rebuilt here as fresh objects of exact built-in types
//!   (tuples stay tuples, sets, non-string keys, bytes, big integers, NaN and infinities, built-in
//!   types such as `int`), so the tests' own `==` compares values no code of the candidate's can
//!   shape. Objects of the candidate's classes stay in its instance behind handles: attribute
//!   reads, writes and calls are forwarded; comparisons are by identity, and no special method
//!   (`__eq__`, `__deepcopy__`) is forwarded, so no expected value is ever sent across.
//!   Iteration is: iterating a handle (a generator, `map`) calls its `__next__` there and brings
//!   each item back as plain data, which sends nothing of the tests' either; the candidate's
//!   `StopIteration` ends that iteration only (elsewhere it crosses as an ordinary exception, so
//!   it cannot end a loop of the tests').
//! - Every answer is untrusted input to the tests' instance: malformed, deeply nested or huge
//!   answers fail the test that asked (the answer size is capped like output); a name the
//!   candidate claims does not reach anything of the tests' but a proxy; the tests' names and
//!   the prompt's helpers (`encode_cyclic` beside `decode_cyclic`) are the task's, not the
//!   candidate's.
//! - Each instance has its own memory cap and its own clock; the host pauses the tests' clock
//!   while the candidate runs. How the candidate's instance ended (time or memory limit, exit,
//!   trap, `sys.exit` at load) reaches the tests as the failure of the test that was running.
//!
//! **`call` tests (HumanEval+ through `verifier eval`) and `stdio` tests** keep one instance:
//! the expected values are never in the sandbox at all. Return values are serialised to tagged
//! plain JSON there and compared on the host with type checks (strict by default: integers
//! exactly, a tolerance only for expected floats; with `compare: "python"`, evalplus's
//! comparison: Python's `==`, a tuple never equal to a list, then `np.allclose`). A forged
//! record must still carry the right value, and the values the host reads from a sample's
//! records are bounded (`protocol::MAX_RECORD_COST`, counted in the text first: forged records
//! of deeply nested arrays once held 4.2 GB of the host's memory, and of flat arrays of
//! numbers 2.3 GB). `stdio` output is compared on the host, line by line in full. Records are
//! framed by a per-run nonce and the harness stops reading at the first `done`, so printed
//! "success" markers and `atexit` hooks change nothing.
//!
//! **JavaScript `assert` tests (`check(candidate)`): two instances too.** The tests' instance
//! runs `check` with `candidate` a proxy (`harnessMain` in `harness.js`); the candidate's code
//! runs in the run's peer (`candidateMain`), which the sandbox runs *afresh for each call*
//! (QuickJS exports nothing to call back; see sandboxes' `js_peer.rs`): it loads the candidate's
//! code, answers one call, and ends. It never holds the test code, the records or the nonce, so
//! the caller chain, stack traces, globals, `toJSON` on prototypes and a replaced
//! `JSON.stringify` reach only the candidate's own realm. Arguments and results cross as tagged
//! plain data (BigInt, NaN/±inf/-0, `undefined`, objects whose one key looks like a tag) and are
//! rebuilt in the tests' realm, with own keys only (a `__proto__` key stays a key); functions and
//! objects of other prototypes do not cross (the test that tried fails, saying so). A reply is
//! text the candidate can write itself, straight to the channel: its nesting is counted before
//! it is parsed, and one deeper than any value can cross is refused unparsed, because QuickJS's
//! recursive parser has no working stack check under WebAssembly and would run past its stack
//! into the tests' interpreter's memory. The candidate's errors are thrown in the tests' realm as the built-in error type of the same name
//! (others as `Error` named so), so `instanceof RangeError` works. Once the candidate's instance
//! stops answering (time or memory limit, exit), the test fails with that reason whatever the
//! test code did with the error: an `assert.throws` around a call that ran out of time does not
//! pass. An `async` check (one that returns a promise) is judged when its promise settles,
//! and the run ends when it has; one that never settles ends without a verdict and fails. No
//! state of the candidate's instance survives a call, its stdout and stderr included (with
//! one pair for the run, a partial write told a call how much earlier calls had written). The
//! wall clock runs on, so calls can leave one another a count by waiting for it (red team):
//! no more than a Python candidate's globals keep, and nothing of the tests. Arguments the
//! call changed are changed the same way on the tests' side, and a call that returns one of
//! its arguments returns the tests' own object,
//! so tests of in-place updates, and of inputs left alone, hold as in one realm. The prompt's
//! definitions run on the tests' side from the prompt, so helpers the tests call
//! (`encodeShift`) are the task's, not the candidate's.

//! **Failures the candidate causes are verdicts.** A trainer drops `error` and `timeout` samples
//! from the group, so a candidate that could turn its failure into one would escape a negative
//! advantage. Every failure the candidate's code causes (exceptions of any kind, exits, limits,
//! hangs, `time.sleep`, answers the tests cannot read) is `incorrect` with its verdict; with the
//! default limits a test's budget (3 s native × 3 = 9 s) ends before the sample's default 10 s
//! deadline. A sample is `timeout` only where the client's deadline was shorter than the tests'
//! budget (the message says so), and `error` only where our side failed (a sandbox failure, tests
//! none of which call the candidate's code). A test set-up that fails (the test code's statements
//! before its tests, which use the candidate's names) fails the first test: the task's failures
//! there cannot be told apart from the candidate's. A test that never called the candidate's code
//! (`assert True`) earns no credit, the first one included (the load request is no test's call),
//! and a failure after the last test fails the run.
//!
//! # Limits
//!
//! Time limits are per test, in native-equivalent milliseconds, scaled for the sandbox's slower
//! interpreters ([`CodeGraderConfig`]); an `assert` test program gets one test's budget, as
//! openai/human-eval gives `check` 3 s (each of its two instances on its own clock); a `call` run
//! gets one budget per case (capped), and all of a sample's `call` runs together at most 64 MiB
//! of output; every `stdio` case its own run. The sample's deadline caps them all.

pub mod compare;
pub mod executor;
pub mod extract;
pub mod limits;
pub(crate) mod nonce;
mod prepared;
mod program;
pub(crate) mod protocol;
mod run;
pub mod verdict;

use std::sync::{Arc, OnceLock};

pub use executor::{Ending, ExecOutcome, ExecPeer, ExecRequest, Executor};
pub use extract::extract_code;
pub use limits::CodeGraderConfig;
pub use program::javascript_whole_program;
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
            wall_limit_ms: None,
            stdout_limit_bytes: None,
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
            version: None,
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
        let stdio_tolerance = match &task.tests {
            CodeTests::Stdio {
                float_tolerance, ..
            } => *float_tolerance,
            _ => None,
        };
        for tolerance in [task.float_tolerance, stdio_tolerance]
            .into_iter()
            .flatten()
        {
            // A negative tolerance read as none once became evalplus's 1e-6 (red team).
            if !(tolerance.is_finite() && tolerance >= 0.0) {
                return Verdict::error(format!(
                    "`float_tolerance` must be a finite number of at least 0, not {tolerance}"
                ));
            }
        }
        let Some(code) = extract_code(completion, task.language) else {
            return verdict::no_code();
        };
        let code = match task.language {
            crate::contract::CodeLanguage::Javascript => program::javascript_source(code),
            crate::contract::CodeLanguage::Python => code.into(),
        };
        let program = match &task.prefix {
            Some(prefix) if !prefix.is_empty() => format!("{prefix}{code}"),
            _ => code.to_string(),
        };
        let uses_harness = !matches!(task.tests, CodeTests::Stdio { .. });
        let program = if !uses_harness && task.language == crate::contract::CodeLanguage::Javascript
        {
            program::javascript_whole_program(&program)
        } else {
            program
        };
        if uses_harness && task.language == crate::contract::CodeLanguage::Python {
            if let Err(message) = self.python_harness_ready() {
                return Verdict::error(message);
            }
        }
        let runner = Runner::new(
            self.executor.as_ref(),
            &self.config,
            task,
            ctx,
            program,
            Some(&self.prepared_tests),
        );
        let report = match &task.tests {
            CodeTests::Assert {
                code: test_code,
                entry_point,
            } => runner.assert_tests(test_code, entry_point),
            CodeTests::Call { fn_name, cases } => runner.call_tests(fn_name, cases),
            // The task's tolerance where the tests set none (a red team found it accepted,
            // checked, and then ignored).
            CodeTests::Stdio {
                cases,
                float_tolerance,
            } => runner.stdio_tests(cases, float_tolerance.or(task.float_tolerance)),
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
            Err(RunError::Timeout) => Verdict::timeout(
                "the sample's deadline, shorter than one test's time budget, passed while its \
                 tests ran (raise `limits.timeout_ms` to grade it)",
            ),
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
    let runner = Runner::new(executor, config, task, &ctx, code.to_string(), None);
    runner
        .call_values(fn_name, cases)
        .map_err(|error| match error {
            RunError::Error(message) => message,
            RunError::Timeout => "timed out".into(),
        })
}

#[cfg(test)]
mod tests;
