//! The code grader's [`Executor`] on top of the sandbox worker pool: `graders` defines the
//! synchronous trait (graders run on CPU threads), `sandboxes` offers an async pool; this adapter
//! blocks the calling grader thread on the pool's answer.
//!
//! The pool gets its own small tokio runtime, owned by the executor, so that `verifier grade`
//! (which has none) and `verifier serve` (whose runtime threads must not block) use it the same
//! way: the caller sends the job into that runtime and waits on a plain channel, which works from
//! any thread, including one inside another runtime.

use std::sync::Arc;

use anyhow::Context;
use graders::code::{CodeGrader, CodeGraderConfig, Ending, ExecOutcome, ExecRequest, Executor};
use graders::contract::CodeLanguage;
use sandboxes::{
    Language, Limits, Outcome, PeerRequest, PoolConfig, PoolStats, PythonModule, RunRequest,
    RunResult, SandboxPool, WorkerCommand,
};

/// Output a harness run may produce: `call` tests with a thousand cases report a thousand values.
const STDOUT_LIMIT_BYTES: usize = 16 << 20;

/// Runs code-grader requests on a [`SandboxPool`].
pub struct SandboxExecutor {
    pool: Arc<SandboxPool>,
    /// Always `Some` until dropped; taken in `drop` so it can shut down without blocking.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for SandboxExecutor {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside another runtime (`verifier serve`).
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl SandboxExecutor {
    /// Sets up the runtimes if needed and starts `workers` worker processes (default: one per
    /// core), re-entering this executable as the worker (see `sandboxes::WORKER_ARG`). The
    /// pool counts its work into `stats` (`/metrics` reads them).
    pub fn start(workers: Option<usize>, stats: Arc<PoolStats>) -> anyhow::Result<SandboxExecutor> {
        let command = WorkerCommand::current_exe().context("locating the verifier executable")?;
        let (name, source) = graders::code::PYTHON_HARNESS_MODULE;
        SandboxExecutor::start_with(
            command,
            workers,
            stats,
            vec![PythonModule::new(name, source)],
        )
    }

    /// As [`SandboxExecutor::start`], with an explicit worker command (tests use their own
    /// binary) and the Python modules baked into the pool's sandbox (the code grader's harness,
    /// or the plugins' runner and plugins: never both, so candidates cannot import plugins).
    pub fn start_with(
        command: WorkerCommand,
        workers: Option<usize>,
        stats: Arc<PoolStats>,
        python_modules: Vec<PythonModule>,
    ) -> anyhow::Result<SandboxExecutor> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("sandbox-pool")
            .enable_all()
            .build()
            .context("starting the sandbox pool's runtime")?;
        let mut config = PoolConfig::new(command)
            .with_python_modules(python_modules)
            .with_stats(stats);
        if let Some(workers) = workers {
            config = config.with_workers(workers);
        }
        let pool = runtime
            .block_on(SandboxPool::start(config))
            .context("setting up the sandboxes (first use downloads and compiles the runtimes)")?;
        Ok(SandboxExecutor {
            pool: Arc::new(pool),
            runtime: Some(runtime),
        })
    }
}

impl SandboxExecutor {
    /// Runs one program on the pool and waits for how it ended (blocks the calling thread).
    pub fn run(&self, run: RunRequest) -> RunResult {
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        let pool = self.pool.clone();
        let Some(runtime) = &self.runtime else {
            return RunResult::error("the sandbox pool has shut down");
        };
        runtime.spawn(async move {
            let _ = reply.send(pool.run(run).await);
        });
        answer
            .recv()
            .unwrap_or_else(|_| RunResult::error("the sandbox pool dropped the job"))
    }
}

impl Executor for SandboxExecutor {
    fn execute(&self, request: ExecRequest) -> ExecOutcome {
        to_outcome(self.run(to_run_request(request)))
    }
}

/// The run a code-grader request asks for (also `POST /run_code`'s, which speaks in the same
/// terms: a program, its stdin, a time and a memory limit).
pub fn to_run_request(request: ExecRequest) -> RunRequest {
    let language = match request.language {
        CodeLanguage::Python => Language::Python,
        CodeLanguage::Javascript => Language::Javascript,
    };
    let limits = Limits {
        time_limit_ms: request.time_limit_ms,
        memory_limit_bytes: request.memory_limit_mb.saturating_mul(1 << 20),
        stdout_limit_bytes: request.stdout_limit_bytes.unwrap_or(STDOUT_LIMIT_BYTES),
        ..Limits::default()
    };
    let mut run = RunRequest::new(language, request.program)
        .with_stdin(request.stdin.unwrap_or_default())
        .with_limits(limits);
    run.wall_limit_ms = request.wall_limit_ms;
    match request.peer {
        // Each instance gets the same limits, on its own clock and memory; the peer's answers
        // are capped like output.
        Some(peer) => run.with_peer(PeerRequest {
            program: peer.program,
            stdin: peer.stdin,
            limits,
        }),
        None => run,
    }
}

pub fn to_outcome(result: RunResult) -> ExecOutcome {
    let ending = match result.outcome {
        Outcome::Finished => Ending::Finished,
        Outcome::Exited { code } | Outcome::SystemExit { code } => Ending::Exit(code),
        Outcome::Exception { type_name } => Ending::Exception {
            message: exception_line(&result.stderr, &type_name),
            type_name,
        },
        Outcome::TimeLimit => Ending::TimeLimit,
        Outcome::MemoryLimit => Ending::MemoryLimit,
        // The grader never asks for a scratch directory; files are output of a kind.
        Outcome::ScratchLimit => Ending::OutputLimit,
        Outcome::Trap { message } => Ending::Trap(message),
        Outcome::Error { message } => Ending::Error(message),
    };
    ExecOutcome {
        ending,
        stdout: result.stdout,
        stderr: result.stderr,
        // Only stdout carries results; a flood on stderr is the candidate's own business.
        truncated: result.stdout_truncated,
        elapsed_ms: result.wall_ms,
    }
}

/// The line of stderr that names the exception: the last one that starts with its type
/// (Python's traceback ends with it, `ValueError: bad input`; QuickJS prints it above the
/// stack, whose last `at ...` line was the message once: red team), else the last non-empty
/// line.
fn exception_line(stderr: &str, type_name: &str) -> String {
    let lines = || stderr.lines().map(str::trim).rev();
    let naming = lines().find(|line| {
        let line = line.strip_prefix("Uncaught ").unwrap_or(line);
        line.strip_prefix(type_name)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(':'))
    });
    let line = naming
        .or_else(|| lines().find(|line| !line.is_empty()))
        .unwrap_or("");
    graders::code::verdict::excerpt(line, 200)
}

/// `verifier setup`: sets the sandbox runtimes up now (download, build, compile into the
/// cache, the code grader's harness included) and runs one program per language on them, so
/// that a container image built with it answers its first code task without set-up.
pub fn set_up() -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let executor = SandboxExecutor::start(Some(1), Arc::default())?;
    for (language, program) in [
        (CodeLanguage::Python, "print(6 * 7)"),
        (CodeLanguage::Javascript, "console.log(6 * 7)"),
    ] {
        let outcome = executor.execute(ExecRequest {
            language,
            program: program.to_string(),
            stdin: None,
            time_limit_ms: 10_000,
            memory_limit_mb: 256,
            peer: None,
            wall_limit_ms: None,
            stdout_limit_bytes: None,
        });
        anyhow::ensure!(
            outcome.ending == Ending::Finished && outcome.stdout.trim() == "42",
            "a {language:?} test run in the fresh sandbox failed: {:?}, stdout {:?}",
            outcome.ending,
            outcome.stdout
        );
    }
    println!(
        "sandbox runtimes ready in {} ({:.1} s)",
        sandboxes::default_cache_dir().display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The code grader over `sandboxes`, whose pool starts on the first code task, so that runs
/// that grade only math, format or instructions never set up runtimes or start worker
/// processes.
pub fn lazy_sandbox_code_grader(sandboxes: Arc<LazySandboxes>) -> Arc<dyn graders::Grader> {
    Arc::new(CodeGrader::with_config(
        sandboxes,
        CodeGraderConfig::default(),
    ))
}

/// How long a failed sandbox set-up is remembered before the next code task tries again.
pub const SETUP_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

/// The process's one sandbox pool, started on first use and shared by the code grader and
/// `POST /run_code`. If set-up fails, runs get an error that says why, and the set-up is tried
/// again once [`SETUP_RETRY`] has passed (a fixed cache directory or network needs no restart).
pub struct LazySandboxes {
    workers: Option<usize>,
    /// The operator's cap on a run's memory, whatever a task or a request asks for.
    max_memory_mb: u64,
    stats: Arc<PoolStats>,
    state: std::sync::Mutex<Started>,
}

enum Started {
    NotYet,
    Running(Arc<SandboxExecutor>),
    Failed {
        message: String,
        at: std::time::Instant,
    },
}

impl LazySandboxes {
    /// The pool, not started yet; it will count its work into `stats` (`/metrics` reads them).
    pub fn new(workers: Option<usize>, max_memory_mb: u64, stats: Arc<PoolStats>) -> LazySandboxes {
        LazySandboxes {
            workers,
            max_memory_mb,
            stats,
            state: std::sync::Mutex::new(Started::NotYet),
        }
    }

    /// Where the pool counts its work.
    pub fn stats(&self) -> Arc<PoolStats> {
        self.stats.clone()
    }

    /// The most memory a run may have, in MiB (`--max-memory-mb`).
    pub fn max_memory_mb(&self) -> u64 {
        self.max_memory_mb.max(1)
    }

    /// Runs one program on the pool, starting it if need be, with its memory capped at
    /// [`LazySandboxes::max_memory_mb`]. Blocks: call it from a thread that may wait.
    pub fn run(&self, mut run: RunRequest) -> RunResult {
        let cap = self.max_memory_mb().saturating_mul(1 << 20);
        run.limits.memory_limit_bytes = run.limits.memory_limit_bytes.min(cap);
        if let Some(peer) = &mut run.peer {
            peer.limits.memory_limit_bytes = peer.limits.memory_limit_bytes.min(cap);
        }
        match self.started() {
            Ok(executor) => executor.run(run),
            Err(message) => RunResult::error(message),
        }
    }

    /// The running executor, starting it if it is not running and the last failure (if any)
    /// is older than [`SETUP_RETRY`]. Callers wait for a set-up in progress.
    fn started(&self) -> Result<Arc<SandboxExecutor>, String> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match &*state {
            Started::Running(executor) => return Ok(executor.clone()),
            Started::Failed { message, at } if at.elapsed() < SETUP_RETRY => {
                return Err(format!(
                    "{message} (set-up is tried again {} s after a failure)",
                    SETUP_RETRY.as_secs()
                ))
            }
            _ => {}
        }
        match SandboxExecutor::start(self.workers, self.stats.clone()) {
            Ok(executor) => {
                let executor = Arc::new(executor);
                *state = Started::Running(executor.clone());
                Ok(executor)
            }
            Err(error) => {
                let message = format!("{error:#}");
                tracing::error!("sandbox set-up failed: {message}");
                *state = Started::Failed {
                    message: message.clone(),
                    at: std::time::Instant::now(),
                };
                Err(message)
            }
        }
    }
}

impl Executor for LazySandboxes {
    fn prepare(&self) {
        let _ = self.started();
    }

    fn execute(&self, mut request: ExecRequest) -> ExecOutcome {
        request.memory_limit_mb = request.memory_limit_mb.min(self.max_memory_mb());
        match self.started() {
            Ok(executor) => executor.execute(request),
            Err(message) => ExecOutcome::failed(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_the_line_that_names_the_exception() {
        let python =
            "Traceback (most recent call last):\n  File \"x\", line 1\nValueError: bad input\n";
        assert_eq!(
            exception_line(python, "ValueError"),
            "ValueError: bad input"
        );
        let quickjs = "debug\nTypeError: x is not a function\n    at f (<cmdline>:2:3)\n";
        assert_eq!(
            exception_line(quickjs, "TypeError"),
            "TypeError: x is not a function"
        );
        assert_eq!(exception_line("odd\n\n", "Error"), "odd");
    }

    #[test]
    fn outcomes_map_onto_endings() {
        let mut result = RunResult::error("x");
        result.outcome = Outcome::SystemExit { code: 0 };
        assert_eq!(to_outcome(result.clone()).ending, Ending::Exit(0));
        result.outcome = Outcome::Exception {
            type_name: "ValueError".into(),
        };
        result.stderr = "Traceback...\n  File x\nValueError: bad\n".into();
        assert_eq!(
            to_outcome(result).ending,
            Ending::Exception {
                type_name: "ValueError".into(),
                message: "ValueError: bad".into()
            }
        );
    }

    #[test]
    fn limits_are_carried_over() {
        let run = to_run_request(ExecRequest {
            language: CodeLanguage::Javascript,
            program: "1".into(),
            stdin: Some("in".into()),
            time_limit_ms: 1234,
            memory_limit_mb: 64,
            peer: None,
            wall_limit_ms: Some(5000),
            stdout_limit_bytes: None,
        });
        assert_eq!(run.language, Language::Javascript);
        assert_eq!(run.stdin, "in");
        assert_eq!(run.limits.time_limit_ms, 1234);
        assert_eq!(run.limits.memory_limit_bytes, 64 << 20);
        assert_eq!(run.wall_limit_ms, Some(5000));
    }
}
