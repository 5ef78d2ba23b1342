//! `sandboxes`: runs untrusted Python and JavaScript in wasmtime with limits the program cannot
//! escape. Knows nothing of grading.
//!
//! - [`Sandbox`]: the in-process executor: a fresh wasmtime instance per run of a
//!   pre-initialised CPython component (built by componentize-py from `guest/`) or of QuickJS-NG.
//! - [`SandboxPool`]: the async interface the verifier uses: one single-threaded worker process
//!   per core, each running a [`Sandbox`], fed over pipes; a crashed or stuck worker is replaced.
//! - [`worker_main`]: the worker process's entry point, called by a binary on a hidden argument.
//! - [`prepare_runtimes`]: the one-off set-up (pip downloads with pinned hashes, component build,
//!   compilation to cached `.cwasm`), done automatically on first use; [`PythonModule`]s a user
//!   asks for are baked into the Python component's snapshot.
//!
//! - [`compile_component`] and [`ComponentCall`]: components a user brings, compiled into the
//!   cache once and called one export at a time, in fresh instances with the same limits.
//!
//! Isolation: no preopened directories (but a private, capped scratch `/tmp` for a run that asks
//! for one), no environment, no arguments (beyond QuickJS's own), no
//! network or name lookups, no processes or threads (WASI has none); a wall-clock budget by epoch
//! interruption, a linear-memory cap, capped output.

mod baked;
mod budget;
mod cache;
mod component;
mod engine;
mod guest_io;
mod immortal;
mod javascript;
mod js_peer;
mod limiter;
mod output;
mod peer;
mod pins;
mod pool;
mod request;
mod sandbox;
mod scratch;
mod setup;
mod stats;
mod waits;
mod worker;
mod written_pages;

pub use baked::PythonModule;
pub use cache::{default_cache_dir, ensure_private_dir, CacheError, CACHE_DIR_ENV};
pub use component::{compile_component, ComponentCall};
pub use pool::{PoolConfig, SandboxPool, WorkerCommand};
pub use request::{Language, Limits, Outcome, Part, PeerRequest, RunRequest, RunResult};
pub use sandbox::Sandbox;
pub use setup::{
    componentize_python, prepare_runtimes, prepare_runtimes_with, verify_runtime_files,
    RuntimeFiles, SetupError, PYTHON_ENV,
};
pub use stats::{PoolSnapshot, PoolStats};
pub use worker::{worker_main, WORKER_ARG, WORKER_ENV};
