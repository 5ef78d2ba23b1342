//! The in-process executor: one engine, both runtimes loaded once, and a fresh store and
//! instance for every run. Single-threaded by design (see the worker pool for parallelism).

use std::path::Path;
use std::time::{Duration, Instant};

use wasmtime::component::{HasSelf, ResourceTable, Val};
use wasmtime::{Engine, Store, Trap, UpdateDeadline};
use wasmtime_wasi::clocks::WasiClocksView;
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::baked::PythonModule;
use crate::budget::{Budget, HasBudget};
use crate::engine::{new_runtime_engine, EpochTicker, EPOCH_TICK, RUN_THREAD_STACK_BYTES};
use crate::javascript::{JavascriptRuntime, Launch};
use crate::js_peer::{take_peer, Channel, JsPeer};
use crate::limiter::GuestLimiter;
use crate::output::{CappedOutput, PastTheCap};
use crate::peer::Peer;
use crate::request::{Language, Limits, Outcome, Part, RunRequest, RunResult};
use crate::scratch::{ScratchDir, ScratchFull};
use crate::setup::{prepare_runtimes, prepare_runtimes_with, RuntimeFiles, SetupError};
use crate::waits::CappedClock;
use crate::written_pages::WrittenPages;

pub(crate) mod bindings {
    wasmtime::component::bindgen!({ path: "guest/sandbox.wit", world: "sandbox" });
}
use bindings::{Ending, SandboxPre};

/// Store data of a Python run (a WASI 0.2 component).
pub(crate) struct PythonState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: GuestLimiter,
    pub(crate) budget: Budget,
    /// The run's peer instance, which `call-peer` reaches (the main instance of a run only).
    peer: Option<Box<Peer>>,
}

impl PythonState {
    pub(crate) fn new(wasi: WasiCtx, limits: &Limits, budget: Budget) -> PythonState {
        PythonState {
            wasi,
            table: ResourceTable::new(),
            limiter: GuestLimiter::new(limits.memory_limit_bytes),
            budget,
            peer: None,
        }
    }

    fn capped_clock(&mut self) -> CappedClock<'_> {
        let left = self.budget.left();
        CappedClock {
            clocks: self.clocks(),
            left,
        }
    }
}

impl HasBudget for PythonState {
    fn budget(&self) -> &Budget {
        &self.budget
    }
}

impl bindings::SandboxImports for PythonState {
    fn call_peer(&mut self, message: String) -> Result<String, String> {
        let Some(peer) = self.peer.as_deref_mut() else {
            return Err("no-peer".into());
        };
        // This instance waits while the peer works: its clock stops meanwhile.
        self.budget.pause();
        let answer = peer.call(&message);
        self.budget.resume();
        answer
    }
}

impl WasiView for PythonState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Runs programs, one fresh instance each. Not `Sync`: use one per thread or worker process.
pub struct Sandbox {
    pub(crate) engine: Engine,
    pub(crate) python: SandboxPre<PythonState>,
    javascript: JavascriptRuntime,
    /// WASI and our imports, for components callers bring ([`crate::ComponentCall`]).
    linker: wasmtime::component::Linker<PythonState>,
    /// Where compiled runtimes live: the only place a component is loaded from.
    compiled_dir: std::path::PathBuf,
    /// The compiled Python runtime: its memory image is mapped from this file.
    python_image: std::path::PathBuf,
    /// Set in processes that run one instance at a time (see
    /// [`Sandbox::restore_written_pages_after_runs`]).
    written_pages: Option<std::sync::Mutex<WrittenPages>>,
    /// Components loaded so far, by their compiled file.
    components: std::sync::Mutex<
        std::collections::HashMap<
            std::path::PathBuf,
            wasmtime::component::InstancePre<PythonState>,
        >,
    >,
    _ticker: EpochTicker,
}

impl Sandbox {
    /// Sets the runtimes up in the default cache (first use only) and loads them.
    pub fn new() -> Result<Self, SetupError> {
        Self::with_cache_dir(&crate::default_cache_dir())
    }

    pub fn with_cache_dir(cache_dir: &Path) -> Result<Self, SetupError> {
        Self::load(&prepare_runtimes(cache_dir)?)
    }

    /// A sandbox whose Python runs can import `python_modules` at no cost (see [`PythonModule`]).
    pub fn with_python_modules(
        cache_dir: &Path,
        python_modules: &[PythonModule],
    ) -> Result<Self, SetupError> {
        Self::load(&prepare_runtimes_with(cache_dir, python_modules)?)
    }

    /// Loads already compiled runtimes (memory-mapped from the cache).
    pub fn load(files: &RuntimeFiles) -> Result<Self, SetupError> {
        crate::setup::verify_runtime_files(files)?;
        let wasmtime_error = |error: wasmtime::Error| SetupError::Wasmtime(format!("{error:#}"));
        let engine = new_runtime_engine().map_err(wasmtime_error)?;

        // SAFETY: the files are our own cache entries, written by `setup` for this engine's
        // settings; wasmtime still checks the version and settings recorded inside them.
        let component = unsafe {
            wasmtime::component::Component::deserialize_file(&engine, &files.python_cwasm)
        }
        .map_err(wasmtime_error)?;
        let mut component_linker = wasmtime::component::Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut component_linker).map_err(wasmtime_error)?;
        component_linker.allow_shadowing(true);
        monotonic_clock::add_to_linker::<PythonState, CappedClock<'static>>(
            &mut component_linker,
            PythonState::capped_clock,
        )
        .map_err(wasmtime_error)?;
        bindings::Sandbox::add_to_linker_imports::<PythonState, HasSelf<PythonState>>(
            &mut component_linker,
            |state| state,
        )
        .map_err(wasmtime_error)?;
        let python = SandboxPre::new(
            component_linker
                .instantiate_pre(&component)
                .map_err(wasmtime_error)?,
        )
        .map_err(wasmtime_error)?;

        let javascript =
            JavascriptRuntime::load(&engine, &files.javascript_cwasm).map_err(wasmtime_error)?;

        let ticker = EpochTicker::start(&engine);
        Ok(Sandbox {
            engine,
            python,
            javascript,
            linker: component_linker,
            compiled_dir: files
                .python_cwasm
                .parent()
                .unwrap_or(Path::new("/nonexistent"))
                .to_path_buf(),
            python_image: files.python_cwasm.clone(),
            written_pages: None,
            components: Default::default(),
            _ticker: ticker,
        })
    }

    /// For a process that runs one instance at a time (the pool's workers): after each Python
    /// run, the pages it wrote in the runtime's memory image are copied back here, exactly,
    /// rather than left to wasmtime's pooled reset, which keeps 32 dirty regions and unmaps the
    /// rest (see `written_pages.rs`). Returns false where the kernel refuses the userfaultfd
    /// this needs; runs are then reset by wasmtime alone, as in any other process.
    ///
    /// # Safety
    /// From this call on, this process must never run two instances at once (two
    /// [`Sandbox::run`]s on two threads, say): a run's end writes to every slot that holds the
    /// Python image, in use or not.
    pub unsafe fn restore_written_pages_after_runs(&mut self) -> bool {
        self.written_pages = WrittenPages::new(&self.python_image).map(std::sync::Mutex::new);
        self.written_pages.is_some()
    }

    /// Runs one program in a fresh instance. Never panics on guest behaviour; a sandbox
    /// failure comes back as [`Outcome::Error`].
    ///
    /// The guest runs on a thread with a stack of [`RUN_THREAD_STACK_BYTES`]: this one if it is
    /// such a thread ([`on_run_thread`]; the pool's workers are), else a thread started for
    /// the run.
    pub fn run(&self, request: &RunRequest) -> RunResult {
        if ON_RUN_THREAD.get() {
            return self.run_here(request);
        }
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("sandbox-run".into())
                .stack_size(RUN_THREAD_STACK_BYTES)
                .spawn_scoped(scope, || {
                    ON_RUN_THREAD.set(true);
                    self.run_here(request)
                })
                .map(|thread| {
                    thread
                        .join()
                        .unwrap_or_else(|_| RunResult::error("the run's thread panicked"))
                })
                .unwrap_or_else(|error| {
                    RunResult::error(format!("starting the run's thread: {error}"))
                })
        })
    }

    fn run_here(&self, request: &RunRequest) -> RunResult {
        let started = Instant::now();
        let cpu_started = thread_cpu_time();
        let scratch = match request
            .scratch_limit_bytes
            .map(ScratchDir::create)
            .transpose()
        {
            Ok(scratch) => scratch.map(std::sync::Arc::new),
            Err(error) => {
                return RunResult::error(format!("creating the scratch directory: {error}"))
            }
        };
        let wall_deadline = request
            .wall_limit_ms
            .map(|ms| started + Duration::from_millis(ms));
        let run = RunContext {
            wall_deadline,
            request,
            output: OutputPipes::new(&request.limits),
            scratch,
        };
        if let Some(call) = &request.component {
            let (verdict, limiter, returned) = self.run_component(&run, call);
            let wall = started.elapsed();
            let cpu = thread_cpu_time().saturating_sub(cpu_started);
            let output = run.output;
            let mut result = output.into_result(verdict, &limiter, wall, cpu);
            result.returned = returned;
            return result;
        }
        let (verdict, limiter, peer) = match request.language {
            Language::Python => {
                let (verdict, limiter, peer) = self.run_python(&run);
                (verdict, limiter, peer.map(|peer| peer.into_result()))
            }
            Language::Javascript => {
                let (verdict, limiter, peer) = self.run_javascript(&run);
                (verdict, limiter, peer.map(|peer| peer.into_result()))
            }
        };
        let output = run.output;
        let wall = started.elapsed();
        let cpu = thread_cpu_time().saturating_sub(cpu_started);
        let mut result = output.into_result(verdict, &limiter, wall, cpu);
        result.peer = peer.map(Box::new);
        result
    }

    fn run_python(&self, run: &RunContext) -> (Verdict, GuestLimiter, Option<Box<Peer>>) {
        let request = run.request;
        let peer = match &request.peer {
            None => None,
            Some(peer) => match Peer::start(self, peer, run.wall_deadline) {
                Ok(peer) => Some(Box::new(peer)),
                Err(message) => {
                    let verdict = Verdict {
                        outcome: Outcome::Error { message },
                        part: None,
                    };
                    return (verdict, GuestLimiter::new(0), None);
                }
            },
        };
        let wasi = isolated_wasi(&request.stdin, &run.output, run.scratch.as_deref()).build();
        let budget = Budget::started(Duration::from_millis(request.limits.time_limit_ms))
            .ending_by(run.wall_deadline);
        let mut state = PythonState::new(wasi, &request.limits, budget);
        state.peer = peer;
        let mut store = budgeted_store(&self.engine, state, run.scratch.clone(), |state| {
            &mut state.limiter
        });
        let ended = self.python.instantiate(&mut store).and_then(|instance| {
            instance.call_run(&mut store, &request.program, request.harness.as_deref())
        });
        let verdict = python_verdict(ended);
        if let Some(written_pages) = &self.written_pages {
            // Here, while the run's instances (this one and its peer's) still hold their
            // slots: once they are dropped, wasmtime's reset would unmap most of what they wrote.
            let mut written_pages = written_pages.lock().unwrap_or_else(|e| e.into_inner());
            // SAFETY: `restore_written_pages_after_runs`'s caller promised one instance at a
            // time, and both of this run's have returned; no borrow of their memory is alive.
            unsafe { written_pages.restore() };
        }
        let state = store.data_mut();
        let limiter = std::mem::replace(&mut state.limiter, GuestLimiter::new(0));
        (verdict, limiter, state.peer.take())
    }

    /// Calls one export of a compiled component in a fresh instance, with the run's limits.
    fn run_component(
        &self,
        run: &RunContext,
        call: &crate::ComponentCall,
    ) -> (Verdict, GuestLimiter, Option<serde_json::Value>) {
        let failed = |message: String| {
            let verdict = Verdict {
                outcome: Outcome::Error { message },
                part: None,
            };
            (verdict, GuestLimiter::new(0), None)
        };
        let pre = match self.component(&call.compiled) {
            Ok(pre) => pre,
            Err(message) => return failed(message),
        };
        let request = run.request;
        let wasi = isolated_wasi("", &run.output, None).build();
        let budget = Budget::started(Duration::from_millis(request.limits.time_limit_ms))
            .ending_by(run.wall_deadline);
        let state = PythonState::new(wasi, &request.limits, budget);
        let mut store = budgeted_store(&self.engine, state, None, |state| &mut state.limiter);
        let called = (|| {
            let instance = pre.instantiate(&mut store)?;
            let Some(func) = instance.get_func(&mut store, &call.function) else {
                return Ok(Err(format!(
                    "the component exports no function `{}`",
                    call.function
                )));
            };
            let args: Vec<Val> = call
                .args
                .iter()
                .map(|arg| Val::String(arg.clone()))
                .collect();
            let mut results = vec![Val::Bool(false); func.ty(&store).results().len()];
            func.call(&mut store, &args, &mut results)?;
            Ok(Ok(results))
        })();
        let limiter = std::mem::replace(&mut store.data_mut().limiter, GuestLimiter::new(0));
        match called {
            Ok(Ok(results)) => {
                let returned = match results.as_slice() {
                    [one] => crate::component::to_json(one),
                    many => serde_json::Value::Array(
                        many.iter().map(crate::component::to_json).collect(),
                    ),
                };
                let verdict = Verdict {
                    outcome: Outcome::Finished,
                    part: None,
                };
                (verdict, limiter, Some(returned))
            }
            Ok(Err(message)) => {
                let (verdict, _, _) = failed(message);
                (verdict, limiter, None)
            }
            Err(error) => {
                let verdict = Verdict {
                    outcome: outcome_of_error(&error),
                    part: None,
                };
                (verdict, limiter, None)
            }
        }
    }

    /// The component compiled at `compiled`, loaded once: only from the runtimes' own private
    /// directory and with its recorded digest, as the runtimes themselves.
    fn component(
        &self,
        compiled: &Path,
    ) -> Result<wasmtime::component::InstancePre<PythonState>, String> {
        if let Some(pre) = self
            .components
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(compiled)
        {
            return Ok(pre.clone());
        }
        if compiled.parent() != Some(self.compiled_dir.as_path()) {
            return Err(format!(
                "{} is not a compiled component of this sandbox's cache",
                compiled.display()
            ));
        }
        crate::cache::verify_digest(compiled).map_err(|error| error.to_string())?;
        // SAFETY: a file of our private cache whose digest matches the one recorded when
        // `compile_component` wrote it; wasmtime checks its version and settings too.
        let component =
            unsafe { wasmtime::component::Component::deserialize_file(&self.engine, compiled) }
                .map_err(|error| format!("loading {}: {error:#}", compiled.display()))?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|error| format!("the component's imports: {error:#}"))?;
        self.components
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(compiled.to_path_buf(), pre.clone());
        Ok(pre)
    }

    fn run_javascript(&self, run: &RunContext) -> (Verdict, GuestLimiter, Option<Box<JsPeer>>) {
        let request = run.request;
        // A run with a peer: both programs get the channel's JavaScript side.
        let (program, channel) = match &request.peer {
            None => (std::borrow::Cow::Borrowed(request.program.as_str()), None),
            Some(peer) => (
                std::borrow::Cow::Owned(format!(
                    "{}\n{}",
                    crate::js_peer::PRELUDE,
                    request.program
                )),
                Some(Channel::Main {
                    peer: Box::new(JsPeer::new(
                        self.javascript.clone(),
                        peer,
                        run.wall_deadline,
                    )),
                    outgoing: Vec::new(),
                    reply: None,
                }),
            ),
        };
        let (outcome, mut state) = self.javascript.run(Launch {
            program: &program,
            stdin: &request.stdin,
            output: &run.output,
            scratch: run.scratch.clone(),
            memory_limit_bytes: request.limits.memory_limit_bytes,
            budget: Budget::started(Duration::from_millis(request.limits.time_limit_ms))
                .ending_by(run.wall_deadline),
            channel,
        });
        let peer = take_peer(&mut state);
        let limiter = std::mem::replace(&mut state.limiter, GuestLimiter::new(0));
        let verdict = Verdict {
            outcome,
            part: None,
        };
        (verdict, limiter, peer)
    }
}

/// A store whose epoch callback ends the run when its [`Budget`] is spent (and, for a run
/// with a scratch directory, when that outgrows its cap). The callback runs on every tick,
/// so a paused budget (an instance waiting for its peer) is never charged.
pub(crate) fn budgeted_store<T: HasBudget + 'static>(
    engine: &Engine,
    data: T,
    scratch: Option<std::sync::Arc<ScratchDir>>,
    limiter: fn(&mut T) -> &mut GuestLimiter,
) -> Store<T> {
    let mut store = Store::new(engine, data);
    store.limiter(move |data| limiter(data) as &mut dyn wasmtime::ResourceLimiter);
    // Until the budget could be spent, the callback has nothing to do: it is next asked
    // when that many ticks have passed (every tick with a scratch directory to watch).
    let ticks_left = move |budget: &Budget, watching: bool| -> u64 {
        let left = budget.left().as_micros() / EPOCH_TICK.as_micros().max(1);
        if watching {
            1
        } else {
            (left as u64).max(1)
        }
    };
    let watching = scratch.is_some();
    store.set_epoch_deadline(ticks_left(store.data().budget(), watching));
    store.epoch_deadline_callback(move |context| {
        let budget = context.data().budget();
        if budget.exhausted() {
            return Ok(UpdateDeadline::Interrupt);
        }
        if scratch.as_ref().is_some_and(|scratch| scratch.over_limit()) {
            return Err(ScratchFull.into());
        }
        Ok(UpdateDeadline::Continue(ticks_left(budget, watching)))
    });
    store
}

/// One run's request and what the host keeps for it while it runs.
struct RunContext<'a> {
    request: &'a RunRequest,
    wall_deadline: Option<Instant>,
    output: OutputPipes,
    scratch: Option<std::sync::Arc<ScratchDir>>,
}

/// A WASI context that grants nothing: no arguments, environment, preopened directories (but the
/// run's own scratch directory, if it asked for one), network or name lookups; in-memory stdin,
/// capped in-memory stdout and stderr.
pub(crate) fn isolated_wasi(
    stdin: &str,
    output: &OutputPipes,
    scratch: Option<&ScratchDir>,
) -> WasiCtxBuilder {
    let mut builder = WasiCtxBuilder::new();
    builder
        .stdin(MemoryInputPipe::new(stdin.to_string().into_bytes()))
        .stdout(output.stdout.clone())
        .stderr(output.stderr.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    if let Some(scratch) = scratch {
        // A failure here leaves the guest without `/tmp`, which its own error will show.
        let _ = builder.preopened_dir(
            scratch.path(),
            crate::scratch::GUEST_PATH,
            FsPerms::ReadWrite,
        );
    }
    builder
}

/// How the guest ended as far as the interpreter could tell, before limits are considered.
pub(crate) struct Verdict {
    pub(crate) outcome: Outcome,
    pub(crate) part: Option<Part>,
}

/// How a Python `run` call ended, before limits are considered.
pub(crate) fn python_verdict(ended: wasmtime::Result<bindings::Report>) -> Verdict {
    match ended {
        Ok(report) => {
            let part = Some(match report.part {
                bindings::Part::Program => Part::Program,
                bindings::Part::Harness => Part::Harness,
            });
            let outcome = match report.ending {
                Ending::Completed => Outcome::Finished,
                Ending::SystemExit(code) => Outcome::SystemExit { code },
                Ending::Exception(type_name) => Outcome::Exception { type_name },
            };
            Verdict { outcome, part }
        }
        Err(error) => Verdict {
            outcome: outcome_of_error(&error),
            part: None,
        },
    }
}

/// The outcome, read as the memory limit where the guest hit its cap and then failed in a way
/// that running out of memory explains.
pub(crate) fn with_memory_limit(outcome: Outcome, limiter: &GuestLimiter) -> Outcome {
    let memory_ended_it = limiter.memory_limit_hit
        && match &outcome {
            Outcome::Exception { type_name } => {
                type_name == "MemoryError" || type_name == "InternalError"
            }
            Outcome::Trap { .. } => true,
            Outcome::Exited { code } => *code != 0,
            _ => false,
        };
    if memory_ended_it {
        Outcome::MemoryLimit
    } else {
        outcome
    }
}

/// Classifies an error that ended a run from outside the interpreter.
pub(crate) fn outcome_of_error(error: &wasmtime::Error) -> Outcome {
    if let Some(I32Exit(code)) = error.downcast_ref::<I32Exit>() {
        return Outcome::Exited { code: *code };
    }
    if error.downcast_ref::<ScratchFull>().is_some() {
        return Outcome::ScratchLimit;
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) | Some(Trap::OutOfFuel) => Outcome::TimeLimit,
        Some(trap) => Outcome::Trap {
            message: trap.to_string(),
        },
        None => Outcome::Trap {
            message: format!("{error:#}"),
        },
    }
}

/// A run's standard output (writes past its cap fail) and error (dropped past its cap).
pub(crate) struct OutputPipes {
    stdout: CappedOutput,
    stderr: CappedOutput,
}

impl OutputPipes {
    pub(crate) fn new(limits: &Limits) -> Self {
        OutputPipes {
            stdout: CappedOutput::new(limits.stdout_limit_bytes, PastTheCap::Fails),
            stderr: CappedOutput::new(limits.stderr_limit_bytes, PastTheCap::IsDropped),
        }
    }

    /// Handles on both pipes (they share the buffers).
    pub(crate) fn pipes(&self) -> (CappedOutput, CappedOutput) {
        (self.stdout.clone(), self.stderr.clone())
    }

    pub(crate) fn stderr_len(&self) -> usize {
        self.stderr.contents().len()
    }

    /// What was written to stderr after its first `offset` bytes.
    pub(crate) fn stderr_since(&self, offset: usize) -> Vec<u8> {
        self.stderr
            .contents()
            .get(offset..)
            .unwrap_or_default()
            .to_vec()
    }

    pub(crate) fn into_result(
        self,
        verdict: Verdict,
        limiter: &GuestLimiter,
        wall: Duration,
        cpu: Duration,
    ) -> RunResult {
        let stdout = self.stdout.contents();
        let stderr = self.stderr.contents();
        RunResult {
            outcome: with_memory_limit(verdict.outcome, limiter),
            part: verdict.part,
            stdout_truncated: self.stdout.truncated(),
            stderr_truncated: self.stderr.truncated(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            wall_ms: wall.as_secs_f64() * 1e3,
            cpu_ms: cpu.as_secs_f64() * 1e3,
            peak_memory_bytes: limiter.peak_memory_bytes as u64,
            memory_limit_hit: limiter.memory_limit_hit,
            peer: None,
            returned: None,
        }
    }
}

/// CPU time consumed by the calling thread.
pub(crate) fn thread_cpu_time() -> Duration {
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` writes one timespec through a valid pointer.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut time) };
    if status != 0 {
        return Duration::ZERO;
    }
    Duration::new(time.tv_sec as u64, time.tv_nsec as u32)
}

thread_local! {
    /// This thread's stack has room for a guest's ([`RUN_THREAD_STACK_BYTES`]).
    static ON_RUN_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `work` on a thread whose stack has room for guests, where [`Sandbox::run`] runs
/// without starting a thread per run (the pool's workers run their whole loop this way).
pub fn on_run_thread<R: Send>(work: impl FnOnce() -> R + Send) -> std::io::Result<R> {
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("sandbox-runs".into())
            .stack_size(RUN_THREAD_STACK_BYTES)
            .spawn_scoped(scope, || {
                ON_RUN_THREAD.set(true);
                work()
            })?;
        thread
            .join()
            .map_err(|_| std::io::Error::other("the runs' thread panicked"))
    })
}
