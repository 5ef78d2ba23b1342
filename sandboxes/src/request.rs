//! What a run is asked to do and how it ended: the crate's data contract, shared by the
//! in-process [`Sandbox`](crate::Sandbox), the worker pipe protocol and `verifier exec`.

use crate::component::ComponentCall;
use serde::{Deserialize, Serialize};

/// The guest languages a sandbox runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Python,
    Javascript,
}

impl std::str::FromStr for Language {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.to_ascii_lowercase().as_str() {
            "python" | "py" => Ok(Language::Python),
            "javascript" | "js" => Ok(Language::Javascript),
            other => Err(format!(
                "unknown language `{other}`: expected python or javascript"
            )),
        }
    }
}

/// Per-run limits. Every run has all of them; the defaults suit one test program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Wall-clock budget, enforced by epoch interruption (the guest cannot mask it).
    pub time_limit_ms: u64,
    /// Largest linear memory the guest may grow to.
    pub memory_limit_bytes: u64,
    /// Bytes of stdout kept; the guest's writes fail once it is full.
    pub stdout_limit_bytes: usize,
    /// Bytes of stderr kept; the guest's writes past it succeed and are dropped (stderr is only
    /// diagnostics: a program must not fail for writing much of it).
    pub stderr_limit_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            time_limit_ms: 10_000,
            memory_limit_bytes: 256 << 20,
            stdout_limit_bytes: 1 << 20,
            stderr_limit_bytes: 64 << 10,
        }
    }
}

/// One program to run in a fresh instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRequest {
    pub language: Language,
    /// The untrusted program.
    pub program: String,
    /// Python only: code run after `program` in the same globals (e.g. a test harness), so
    /// the result can tell an ending in the program (`sys.exit(0)` before the tests) from one
    /// in the harness. JavaScript programs must be joined by the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harness: Option<String>,
    /// Bytes the guest reads from standard input.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stdin: String,
    #[serde(default)]
    pub limits: Limits,
    /// A private scratch directory, `/tmp` in the guest, of at most this many bytes; `None`
    /// (the default) means no file system at all. Only for tests that need files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scratch_limit_bytes: Option<u64>,
    /// A second program, in instances of its own, that `program` may call (see
    /// [`PeerRequest`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<PeerRequest>,
    /// Wall-clock bound of the whole run, the peer's time included: each instance's own clock
    /// runs only while it runs, so without this a run with a peer may take both limits together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_limit_ms: Option<u64>,
    /// Call an export of a compiled component instead of running `program` (`language`,
    /// `program`, `harness` and `peer` are then not used; see [`ComponentCall`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<ComponentCall>,
}

/// The peer of a run: a program in its own fresh instance that registers a handler; each call of
/// the main program is handed to that handler by the host and its answer (text) comes back. The
/// two instances share nothing but those strings; each has its own memory cap and its own clock,
/// which runs only while that instance runs. The peer gets no scratch directory.
///
/// - Python: the peer is loaded before the main program starts and stays loaded; its program
///   calls `sandbox_peer.serve(handler)`, the main program `sandbox_peer.call(text)`.
/// - JavaScript: the peer's program runs afresh for each call (QuickJS exports nothing to call
///   back; see `js_peer.rs`) and calls `sandboxPeer.serve(handler)`; the main program calls
///   `sandboxPeer.call(text)`. Its clock and memory peak carry over from call to call, nothing
///   else. The main program of such a run gets no scratch directory either.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerRequest {
    pub program: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stdin: String,
    #[serde(default)]
    pub limits: Limits,
}

impl RunRequest {
    /// A request with default limits, no stdin and no harness.
    pub fn new(language: Language, program: impl Into<String>) -> Self {
        RunRequest {
            language,
            program: program.into(),
            harness: None,
            stdin: String::new(),
            limits: Limits::default(),
            scratch_limit_bytes: None,
            peer: None,
            wall_limit_ms: None,
            component: None,
        }
    }

    /// A call of `call.function` of a compiled component, each in a fresh instance.
    pub fn component(call: ComponentCall) -> Self {
        RunRequest {
            component: Some(call),
            ..RunRequest::new(Language::Python, String::new())
        }
    }

    /// Bounds the whole run's wall time (see [`RunRequest::wall_limit_ms`]).
    pub fn with_wall_limit(mut self, wall_limit_ms: u64) -> Self {
        self.wall_limit_ms = Some(wall_limit_ms);
        self
    }

    /// The longest this run can take: its wall limit, or both instances' time limits.
    pub fn longest_ms(&self) -> u64 {
        let both = self.limits.time_limit_ms.saturating_add(
            self.peer
                .as_ref()
                .map_or(0, |peer| peer.limits.time_limit_ms),
        );
        self.wall_limit_ms.map_or(both, |wall| wall.min(both))
    }

    /// Runs `peer` beside the program (see [`PeerRequest`]).
    pub fn with_peer(mut self, peer: PeerRequest) -> Self {
        self.peer = Some(peer);
        self
    }

    pub fn with_harness(mut self, harness: impl Into<String>) -> Self {
        self.harness = Some(harness.into());
        self
    }

    pub fn with_stdin(mut self, stdin: impl Into<String>) -> Self {
        self.stdin = stdin.into();
        self
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Gives the run a private scratch directory at `/tmp` holding at most `limit_bytes`.
    pub fn with_scratch_dir(mut self, limit_bytes: u64) -> Self {
        self.scratch_limit_bytes = Some(limit_bytes);
        self
    }
}

/// Which part of a Python run was executing when it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    Program,
    Harness,
}

/// How a run ended. Exactly one applies; output truncation is reported beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// The code ran to its end (Python: every part; JavaScript: `qjs` returned normally).
    Finished,
    /// The guest process exited with this code: `os._exit(n)` in Python (WASI 0.2's exit
    /// carries only success or failure, so `n` reads as 0 or 1); in JavaScript, `std.exit(n)`
    /// or the interpreter's own exit.
    Exited { code: i32 },
    /// Python `sys.exit(n)` / `raise SystemExit(n)` (a non-integer code counts as 1).
    SystemExit { code: i32 },
    /// An uncaught exception; `type_name` is e.g. `ValueError` (JavaScript: parsed from
    /// the interpreter's message where it names one, else `Error`).
    Exception { type_name: String },
    /// The wall-clock budget ran out.
    TimeLimit,
    /// The guest asked for more memory than its cap and ended because of it.
    MemoryLimit,
    /// The run's scratch directory outgrew its cap (bytes or entries), and the run was ended.
    ScratchLimit,
    /// WebAssembly trapped (e.g. a stack overflow in the interpreter).
    Trap { message: String },
    /// The sandbox itself failed (set-up, a crashed or stuck worker). Not the program's fault.
    Error { message: String },
}

/// Everything a run reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Python: the part that was executing when the run ended (absent when the host ended it
    /// from outside the interpreter before any part reported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<Part>,
    pub stdout: String,
    pub stderr: String,
    /// Output reached its cap. Output *at* the cap counts as truncated: an interpreter may
    /// ignore a failed write and exit 0 (QuickJS does), so a full buffer is the only signal.
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    /// Wall time of the run, instantiation included.
    pub wall_ms: f64,
    /// CPU time of the thread that ran it.
    pub cpu_ms: f64,
    /// Largest linear memory size the guest reached.
    pub peak_memory_bytes: u64,
    /// The guest asked for memory beyond its cap at least once (it may have recovered).
    pub memory_limit_hit: bool,
    /// How the peer fared, for a run that had one: `Finished` if it was still able to answer at
    /// the end; `wall_ms` and `cpu_ms` are the time charged to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<Box<RunResult>>,
    /// What a component call's export returned, as plain JSON (see
    /// [`crate::component::to_json`]); absent for programs and for calls that did not return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returned: Option<serde_json::Value>,
}

impl RunResult {
    /// A result for a run the sandbox could not carry out.
    pub fn error(message: impl Into<String>) -> Self {
        RunResult {
            outcome: Outcome::Error {
                message: message.into(),
            },
            part: None,
            stdout: String::new(),
            stderr: String::new(),
            stdout_truncated: false,
            stderr_truncated: false,
            wall_ms: 0.0,
            cpu_ms: 0.0,
            peak_memory_bytes: 0,
            memory_limit_hit: false,
            peer: None,
            returned: None,
        }
    }

    /// Finished with no truncation: the run did everything it was asked to.
    pub fn finished_cleanly(&self) -> bool {
        self.outcome == Outcome::Finished && !self.stdout_truncated && !self.stderr_truncated
    }
}
