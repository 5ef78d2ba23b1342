//! The async worker pool: one single-threaded worker process per core, each with its own engine
//! and epoch ticker (threads in one process contend on page faults; processes scale), fed
//! requests over pipes. A worker that crashes, garbles its reply or does not answer in time is
//! killed and replaced, and its job gets an [`Outcome::Error`](crate::Outcome) result.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::baked::PythonModule;
use crate::request::{RunRequest, RunResult};
use crate::setup::{prepare_runtimes_with, RuntimeFiles, SetupError};
use crate::stats::PoolStats;
use crate::worker::{JOB_TAKEN, MAX_FRAME_BYTES, READY_MAGIC, WORKER_ARG, WORKER_ENV};

/// How long a worker has to say it took a job ([`JOB_TAKEN`]; a healthy one does at once).
/// One that does not was stopped or wedged while idle: it is replaced and the job, which never
/// started, goes to a fresh worker.
const TAKE_WAIT: Duration = Duration::from_secs(2);

/// How to start a worker process: a program that calls [`worker_main`](crate::worker_main).
#[derive(Debug, Clone)]
pub struct WorkerCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

impl WorkerCommand {
    /// This executable with the hidden [`WORKER_ARG`] (how the `verifier` binary does it).
    pub fn current_exe() -> std::io::Result<Self> {
        Ok(WorkerCommand {
            program: std::env::current_exe()?,
            args: vec![WORKER_ARG.into()],
        })
    }

    /// This test executable, running only the test named `test_name`, which must call
    /// [`worker_main`](crate::worker_main) when [`WORKER_ENV`] is set (and return otherwise).
    /// For integration tests, whose `main` belongs to the test harness.
    pub fn test_harness(test_name: &str) -> std::io::Result<Self> {
        let args = [
            "--exact",
            test_name,
            "--nocapture",
            "--test-threads=1",
            "--quiet",
        ];
        Ok(WorkerCommand {
            program: std::env::current_exe()?,
            args: args.iter().map(OsString::from).collect(),
        })
    }
}

#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Number of worker processes (default: one per available core).
    pub workers: usize,
    pub worker_command: WorkerCommand,
    /// Where the runtimes are set up and cached.
    pub cache_dir: PathBuf,
    /// Extra time a worker gets beyond a run's time limit before it is deemed stuck.
    pub grace: Duration,
    /// How long a new worker may take to load the runtimes and report ready.
    pub startup_timeout: Duration,
    /// Python modules baked into the workers' Python runtime (see [`PythonModule`]).
    pub python_modules: Vec<PythonModule>,
    /// How much lower than ours the workers' scheduling priority is (a nice increment, 0 to
    /// 19): when the cores are contended, the host's own quick work (answering requests,
    /// grading that needs no sandbox) runs first and programs in the sandbox wait.
    pub worker_nice: i32,
    /// Where the pool counts its work (busy workers, waits, restarts).
    pub stats: Arc<PoolStats>,
}

impl PoolConfig {
    pub fn new(worker_command: WorkerCommand) -> Self {
        PoolConfig {
            workers: std::thread::available_parallelism()
                .map(|count| count.get())
                .unwrap_or(1),
            worker_command,
            cache_dir: crate::default_cache_dir(),
            grace: Duration::from_secs(5),
            startup_timeout: Duration::from_secs(60),
            python_modules: Vec::new(),
            worker_nice: 5,
            stats: Arc::default(),
        }
    }

    /// Counts the pool's work into `stats`, which the caller keeps to read.
    pub fn with_stats(mut self, stats: Arc<PoolStats>) -> Self {
        self.stats = stats;
        self
    }

    pub fn with_python_modules(mut self, python_modules: Vec<PythonModule>) -> Self {
        self.python_modules = python_modules;
        self
    }

    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }
}

struct Job {
    request: RunRequest,
    reply: oneshot::Sender<RunResult>,
    sent: Instant,
}

/// Runs programs on a pool of worker processes. Cheap to share (`Arc`); dropping the last
/// handle ends the workers.
pub struct SandboxPool {
    jobs: mpsc::UnboundedSender<Job>,
    workers: usize,
    stats: Arc<PoolStats>,
}

impl SandboxPool {
    /// Sets up the runtimes if needed (blocking work, off the async threads), starts the
    /// workers and waits until each is ready or has failed to start (it is retried per job).
    pub async fn start(config: PoolConfig) -> Result<Self, SetupError> {
        let set_up = config.clone();
        let runtimes = tokio::task::spawn_blocking(move || SandboxPool::runtimes(&set_up))
            .await
            .map_err(|error| SetupError::Wasmtime(format!("set-up task failed: {error}")))??;
        let runtimes_json = serde_json::to_string(&runtimes).expect("runtime paths serialise");
        let (sender, receiver) = mpsc::unbounded_channel();
        let receiver = Arc::new(Mutex::new(receiver));
        let slot = Arc::new(WorkerSlotConfig {
            config: config.clone(),
            runtimes_json,
        });
        let mut ready = Vec::new();
        for _ in 0..config.workers.max(1) {
            let (ready_sender, ready_receiver) = oneshot::channel();
            tokio::spawn(serve_jobs(slot.clone(), receiver.clone(), ready_sender));
            ready.push(ready_receiver);
        }
        for ready_receiver in ready {
            let _ = ready_receiver.await;
        }
        config.stats.started(config.workers.max(1));
        Ok(SandboxPool {
            jobs: sender,
            workers: config.workers.max(1),
            stats: config.stats,
        })
    }

    /// Runs one program on the next free worker. Always answers: failures of the sandbox
    /// itself come back as [`Outcome::Error`](crate::Outcome).
    pub async fn run(&self, request: RunRequest) -> RunResult {
        let (reply, answer) = oneshot::channel();
        self.stats.enqueued();
        let job = Job {
            request,
            reply,
            sent: Instant::now(),
        };
        if self.jobs.send(job).is_err() {
            self.stats.dropped();
            return RunResult::error("the sandbox pool has shut down");
        }
        answer
            .await
            .unwrap_or_else(|_| RunResult::error("the sandbox worker task ended without answering"))
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// The runtimes a pool started with `config` uses (sets them up if needed).
    pub fn runtimes(config: &PoolConfig) -> Result<RuntimeFiles, SetupError> {
        prepare_runtimes_with(&config.cache_dir, &config.python_modules)
    }
}

struct WorkerSlotConfig {
    config: PoolConfig,
    runtimes_json: String,
}

/// One worker slot: keeps a worker process alive and feeds it jobs until the pool is dropped.
async fn serve_jobs(
    slot: Arc<WorkerSlotConfig>,
    jobs: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>,
    ready: oneshot::Sender<()>,
) {
    let mut worker = WorkerProcess::start(&slot).await.ok();
    let _ = ready.send(());
    loop {
        let job = { jobs.lock().await.recv().await };
        let Some(job) = job else { break };
        let stats = &slot.config.stats;
        stats.taken(job.sent.elapsed());
        // A worker that died while idle (killed, out of memory) never saw this job: replace it
        // before sending, and once more if it turns out dead while the job is being sent.
        let mut attempts = 0;
        let result = loop {
            attempts += 1;
            if worker.as_mut().is_some_and(|process| process.has_exited()) {
                worker = None;
            }
            if worker.is_none() {
                stats.restarted();
                match start_or_repair(&slot).await {
                    Ok(started) => worker = Some(started),
                    Err(error) => break RunResult::error(error),
                }
            }
            let process = worker.as_mut().expect("a worker was just started");
            let allowed = Duration::from_millis(job.request.longest_ms()) + slot.config.grace;
            match tokio::time::timeout(allowed, process.exchange(&job.request)).await {
                Ok(Ok(result)) => break result,
                Ok(Err(Exchange::NotSent(error))) if attempts < 2 => {
                    tracing_note(&format!(
                        "a sandbox worker was gone before it took a job ({error}); retrying the job on a fresh one"
                    ));
                    worker = None;
                }
                Ok(Err(Exchange::NotSent(error) | Exchange::Failed(error))) => {
                    worker = None; // dropping kills it
                    break RunResult::error(format!(
                        "the sandbox worker failed and was replaced: {error}"
                    ));
                }
                Err(_) => {
                    worker = None;
                    break RunResult::error(format!(
                        "the sandbox worker did not answer within {} ms and was replaced",
                        allowed.as_millis()
                    ));
                }
            }
        };
        stats.finished();
        let _ = job.reply.send(result);
    }
}

/// Notes an event on stderr (this crate does not log otherwise).
fn tracing_note(message: &str) {
    eprintln!("sandboxes: {message}");
}

/// Starts a worker; if it cannot start, sets the runtimes up again (which rebuilds a compiled
/// file that no longer matches its digest) and tries once more. The error says what the worker
/// itself reported.
async fn start_or_repair(slot: &Arc<WorkerSlotConfig>) -> Result<WorkerProcess, String> {
    let first = match WorkerProcess::start(slot).await {
        Ok(process) => return Ok(process),
        Err(error) => error,
    };
    let config = slot.config.clone();
    let repaired = tokio::task::spawn_blocking(move || SandboxPool::runtimes(&config)).await;
    match repaired {
        Ok(Ok(_)) => WorkerProcess::start(slot)
            .await
            .map_err(|error| format!("starting a sandbox worker: {error}")),
        Ok(Err(setup)) => Err(format!(
            "starting a sandbox worker: {first}; setting the runtimes up again: {setup}"
        )),
        Err(join) => Err(format!(
            "starting a sandbox worker: {first}; set-up task failed: {join}"
        )),
    }
}

/// How an exchange with a worker failed.
enum Exchange {
    /// The request could not be written, or the worker did not take it: it never started.
    NotSent(std::io::Error),
    /// The request went out and no valid reply came back: the job may have run.
    Failed(std::io::Error),
}

struct WorkerProcess {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

/// The last bytes a worker wrote on stderr, kept to explain a failed start.
const STDERR_TAIL_BYTES: usize = 2048;

impl WorkerProcess {
    async fn start(slot: &WorkerSlotConfig) -> std::io::Result<Self> {
        let command = &slot.config.worker_command;
        let mut child = Command::new(&command.program);
        child
            .args(&command.args)
            .env(WORKER_ENV, &slot.runtimes_json)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let nice = slot.config.worker_nice.clamp(0, 19);
        if nice > 0 {
            // SAFETY: between fork and exec only async-signal-safe work is allowed; `nice` is
            // two system calls (getpriority, setpriority), no lock, no allocation. Set there, before the worker has threads, it holds for
            // all of them (on Linux a thread's priority is its own, inherited by new threads).
            unsafe {
                child.pre_exec(move || {
                    // Best effort: a worker that keeps our priority still works.
                    let _ = libc::nice(nice);
                    Ok(())
                });
            }
        }
        let mut child = child.spawn()?;
        let input = child.stdin.take().expect("stdin is piped");
        let mut output = BufReader::new(child.stdout.take().expect("stdout is piped"));
        // The worker's stderr still reaches ours, line by line; its tail is kept so that a
        // failed start can say why (file, path, cause) in the job's result.
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tail_sender, tail) = oneshot::channel();
        tokio::spawn(forward_stderr(stderr, tail_sender));
        let started = tokio::time::timeout(
            slot.config.startup_timeout,
            skip_to_ready_magic(&mut output),
        )
        .await;
        let failure = match started {
            Ok(Ok(())) => {
                return Ok(WorkerProcess {
                    child,
                    input,
                    output,
                })
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => "the worker did not become ready in time".to_string(),
        };
        let _ = child.start_kill();
        let said = tokio::time::timeout(Duration::from_secs(2), tail)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let said = said.trim();
        Err(std::io::Error::other(if said.is_empty() {
            failure
        } else {
            format!("{failure}; the worker said: {said}")
        }))
    }

    /// Whether the process has ended (it died while idle, for instance).
    fn has_exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    async fn exchange(&mut self, request: &RunRequest) -> Result<RunResult, Exchange> {
        let frame = serde_json::to_vec(request).map_err(|e| Exchange::NotSent(e.into()))?;
        let length = u32::try_from(frame.len()).map_err(|_| {
            Exchange::NotSent(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "request too large",
            ))
        })?;
        let sent = async {
            self.input.write_all(&length.to_le_bytes()).await?;
            self.input.write_all(&frame).await?;
            self.input.flush().await
        };
        sent.await.map_err(Exchange::NotSent)?;
        match tokio::time::timeout(TAKE_WAIT, self.output.read_u8()).await {
            Ok(Ok(JOB_TAKEN)) => {}
            Ok(Ok(other)) => {
                return Err(Exchange::Failed(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("the worker answered {other:#04x} instead of taking the job"),
                )))
            }
            Ok(Err(error)) => return Err(Exchange::NotSent(error)),
            Err(_) => {
                return Err(Exchange::NotSent(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "the worker did not take the job within {} s",
                        TAKE_WAIT.as_secs()
                    ),
                )))
            }
        }
        let received = async {
            let length = self.output.read_u32_le().await? as usize;
            if length > MAX_FRAME_BYTES {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "reply too large",
                ));
            }
            let mut reply = vec![0; length];
            self.output.read_exact(&mut reply).await?;
            Ok(serde_json::from_slice(&reply)?)
        };
        received.await.map_err(Exchange::Failed)
    }
}

/// Copies a worker's stderr to ours as it comes (bytes, whatever they are, so the worker never
/// blocks on a full pipe) and, when it ends, sends its last [`STDERR_TAIL_BYTES`] as text.
async fn forward_stderr(mut stderr: tokio::process::ChildStderr, tail: oneshot::Sender<String>) {
    use std::io::Write;
    let mut kept: Vec<u8> = Vec::new();
    let mut buffer = [0u8; 4096];
    while let Ok(n) = stderr.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        let _ = std::io::stderr().write_all(&buffer[..n]);
        kept.extend_from_slice(&buffer[..n]);
        if kept.len() > STDERR_TAIL_BYTES {
            kept.drain(..kept.len() - STDERR_TAIL_BYTES);
        }
    }
    let _ = tail.send(String::from_utf8_lossy(&kept).into_owned());
}

/// Discards whatever the worker printed before it became ready (e.g. a test harness banner).
async fn skip_to_ready_magic(output: &mut BufReader<ChildStdout>) -> std::io::Result<()> {
    let mut matched = 0;
    let mut skipped = 0usize;
    while matched < READY_MAGIC.len() {
        let byte = output.read_u8().await?;
        skipped += 1;
        if skipped > 1 << 20 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "no ready signal from the worker",
            ));
        }
        matched = if byte == READY_MAGIC[matched] {
            matched + 1
        } else if byte == READY_MAGIC[0] {
            1
        } else {
            0
        };
    }
    Ok(())
}
