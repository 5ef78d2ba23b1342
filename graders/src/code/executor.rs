//! The one door through which the code grader runs programs: the [`Executor`] trait.
//!
//! `graders` does no I/O, so it cannot run anything itself. The verifier implements this trait on
//! top of the `sandboxes` worker pool; tests implement it with a scripted fake. The call is
//! synchronous because graders run on a CPU thread pool; an implementation over an async pool
//! blocks on it.

use crate::contract::CodeLanguage;

/// One program to run in isolation, with its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRequest {
    pub language: CodeLanguage,
    /// The whole program text (for tests: our harness with the candidate's code inside it).
    pub program: String,
    /// Standard input; `None` means empty.
    pub stdin: Option<String>,
    /// CPU/wall budget for the whole run, already scaled for the interpreter.
    pub time_limit_ms: u64,
    pub memory_limit_mb: u64,
    /// A second program that runs beside `program` in an instance of its own and answers its
    /// calls (see [`ExecPeer`]).
    pub peer: Option<ExecPeer>,
    /// Wall-clock bound of the whole run, the peer's time included (the sample's deadline).
    pub wall_limit_ms: Option<u64>,
    /// Most standard output the run may write; `None`: the executor's default (16 MiB).
    pub stdout_limit_bytes: Option<usize>,
}

/// The peer of a run, in an instance of its own: it registers a handler (Python:
/// `sandbox_peer.serve`, loaded first and kept; JavaScript: `sandboxPeer.serve`, run afresh for
/// each call), and each call of the main program (`sandbox_peer.call(text)`,
/// `sandboxPeer.call(text)`) is answered by it. The instances share only those strings. Each has its own memory cap and its own clock
/// (paused while the other runs), both set by the request's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecPeer {
    pub program: String,
    pub stdin: String,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The program ran to its end.
    Finished,
    /// `sys.exit(n)`, `os._exit(n)`, `process.exit(n)` or a WASI exit: an explicit exit status.
    Exit(i32),
    /// An uncaught exception; `type_name` is e.g. `ValueError`.
    Exception { type_name: String, message: String },
    /// The time budget ran out.
    TimeLimit,
    /// The memory cap was hit.
    MemoryLimit,
    /// The output cap was hit and the run was stopped.
    OutputLimit,
    /// The WebAssembly machine trapped (stack overflow, unreachable, ...).
    Trap(String),
    /// The executor itself failed (worker crashed, set-up missing); not the candidate's fault.
    Error(String),
}

/// What came back from a run.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecOutcome {
    pub ending: Ending,
    pub stdout: String,
    pub stderr: String,
    /// True when stdout or stderr was cut at the output cap.
    pub truncated: bool,
    pub elapsed_ms: f64,
}

impl ExecOutcome {
    /// An outcome with empty output, for executors that failed before running anything.
    pub fn failed(message: impl Into<String>) -> ExecOutcome {
        ExecOutcome {
            ending: Ending::Error(message.into()),
            stdout: String::new(),
            stderr: String::new(),
            truncated: false,
            elapsed_ms: 0.0,
        }
    }
}

/// Runs programs in isolation. Must not panic; a failure of the executor itself is
/// [`Ending::Error`].
pub trait Executor: Send + Sync {
    fn execute(&self, request: ExecRequest) -> ExecOutcome;
    /// One-off start-up (setting runtimes up, starting workers), so that it need not happen
    /// inside the first sample's deadline. Default: nothing to do.
    fn prepare(&self) {}
}
