//! `verifier bench sandbox`: per-run latency and throughput of the sandboxes, next to a native
//! `python3 -c` subprocess per run measured in the same benchmark, plus the time-limit and
//! memory-cap checks. Timings on a shared machine are noisy: compare figures from one run.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sandboxes::{Language, Limits, PoolConfig, RunRequest, Sandbox, SandboxPool, WorkerCommand};

#[derive(clap::Args, Debug)]
pub struct SandboxBenchArgs {
    /// Fresh-instance runs per latency figure.
    #[arg(long, default_value_t = 300)]
    pub runs: usize,
    /// Runs per throughput figure (per worker count).
    #[arg(long, default_value_t = 1000)]
    pub throughput_runs: usize,
    /// Native `python3 -c` runs per figure.
    #[arg(long, default_value_t = 100)]
    pub native_runs: usize,
    /// Cache dir for the runtimes (default: the usual one); point it at an empty folder to
    /// time the one-off set-up.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Skip the time-limit and memory-cap checks.
    #[arg(long)]
    pub skip_limit_checks: bool,
}

/// HumanEval/0's canonical solution and its tests: a typical code-grading run.
const PYTHON_HUMANEVAL_PROGRAM: &str = r#"from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance < threshold:
                    return True
    return False
"#;

const PYTHON_HUMANEVAL_TESTS: &str = r#"
def check(candidate):
    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True
    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False
    assert candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.95) == True
    assert candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.8) == False
    assert candidate([1.0, 2.0, 3.0, 4.0, 5.0, 2.0], 0.1) == True
    assert candidate([1.1, 2.2, 3.1, 4.1, 5.1], 1.0) == True
    assert candidate([1.1, 2.2, 3.1, 4.1, 5.1], 0.5) == False


check(has_close_elements)
"#;

const JAVASCRIPT_HUMANEVAL: &str = r#"function hasCloseElements(numbers, threshold) {
  for (let i = 0; i < numbers.length; i++)
    for (let j = 0; j < numbers.length; j++)
      if (i !== j && Math.abs(numbers[i] - numbers[j]) < threshold) return true;
  return false;
}
function assert(condition) { if (!condition) throw new Error("assertion failed"); }
assert(hasCloseElements([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) === true);
assert(hasCloseElements([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) === false);
assert(hasCloseElements([1.0, 2.0, 5.9, 4.0, 5.0], 0.95) === true);
assert(hasCloseElements([1.0, 2.0, 5.9, 4.0, 5.0], 0.8) === false);
assert(hasCloseElements([1.0, 2.0, 3.0, 4.0, 5.0, 2.0], 0.1) === true);
assert(hasCloseElements([1.1, 2.2, 3.1, 4.1, 5.1], 1.0) === true);
assert(hasCloseElements([1.1, 2.2, 3.1, 4.1, 5.1], 0.5) === false);
"#;

struct Case {
    label: &'static str,
    request: RunRequest,
    native_source: Option<String>,
}

fn cases() -> Vec<Case> {
    let python_humaneval = RunRequest::new(Language::Python, PYTHON_HUMANEVAL_PROGRAM)
        .with_harness(PYTHON_HUMANEVAL_TESTS);
    vec![
        Case {
            label: "python pass",
            request: RunRequest::new(Language::Python, "pass"),
            native_source: Some("pass".into()),
        },
        Case {
            label: "python humaneval",
            request: python_humaneval,
            native_source: Some(format!(
                "{PYTHON_HUMANEVAL_PROGRAM}{PYTHON_HUMANEVAL_TESTS}"
            )),
        },
        Case {
            label: "javascript pass",
            request: RunRequest::new(Language::Javascript, "0"),
            native_source: None,
        },
        Case {
            label: "javascript humaneval",
            request: RunRequest::new(Language::Javascript, JAVASCRIPT_HUMANEVAL),
            native_source: None,
        },
    ]
}

pub fn run(args: SandboxBenchArgs) -> anyhow::Result<()> {
    let cache_dir = args
        .cache_dir
        .clone()
        .unwrap_or_else(sandboxes::default_cache_dir);
    let setup_started = Instant::now();
    let files =
        sandboxes::prepare_runtimes(&cache_dir).context("setting up the sandbox runtimes")?;
    println!(
        "set-up (download, build, compile; ~0 when cached): {:.1} s   cache: {}",
        setup_started.elapsed().as_secs_f64(),
        cache_dir.display()
    );
    // What every load (each worker's start) pays to check the compiled files' digests, next to
    // the whole load that includes it.
    let mut digest = Vec::new();
    let mut load = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        sandboxes::verify_runtime_files(&files)?;
        digest.push(started.elapsed());
        let started = Instant::now();
        drop(Sandbox::load(&files)?);
        load.push(started.elapsed());
    }
    digest.sort();
    load.sort();
    let bytes = [&files.python_cwasm, &files.javascript_cwasm]
        .iter()
        .map(|path| std::fs::metadata(path).map_or(0, |m| m.len()))
        .sum::<u64>();
    println!(
        "digest check before a load ({:.1} MB): median {:.1} ms of a whole load's {:.1} ms",
        bytes as f64 / 1e6,
        digest[2].as_secs_f64() * 1e3,
        load[2].as_secs_f64() * 1e3
    );
    let sandbox = Sandbox::with_cache_dir(&cache_dir)?;
    let cases = cases();

    println!(
        "\nper fresh-instance run, in-process, 1 thread ({} runs):",
        args.runs
    );
    println!(
        "{:<22} {:>9} {:>9} {:>10} {:>12}",
        "case", "p50 ms", "p99 ms", "runs/s", "CPU p50 ms"
    );
    for case in &cases {
        // CPU time per run is printed beside wall time: on a shared machine it is the steadier
        // figure (it leaves out time spent waiting for a core).
        let mut cpu = Vec::with_capacity(args.runs);
        let latencies = measure_latencies(args.runs, || {
            let result = sandbox.run(&case.request);
            anyhow::ensure!(
                result.finished_cleanly(),
                "{} did not finish: {result:?}",
                case.label
            );
            cpu.push(Duration::from_secs_f64(result.cpu_ms / 1e3));
            Ok(())
        })?;
        print_latency_row(case.label, &latencies, &cpu);
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!(
        "\nthroughput through worker processes ({} runs each):",
        args.throughput_runs
    );
    println!(
        "{:<22} {:>14} {:>14}",
        "case", "1 worker /s", "2 workers /s"
    );
    let mut pools = Vec::new();
    for workers in [1, 2] {
        let config = PoolConfig {
            cache_dir: cache_dir.clone(),
            ..PoolConfig::new(WorkerCommand::current_exe()?).with_workers(workers)
        };
        pools.push(Arc::new(runtime.block_on(SandboxPool::start(config))?));
    }
    for case in &cases {
        let mut rates = Vec::new();
        for pool in &pools {
            rates.push(runtime.block_on(pool_throughput(
                pool.clone(),
                &case.request,
                args.throughput_runs,
            ))?);
        }
        println!("{:<22} {:>14.0} {:>14.0}", case.label, rates[0], rates[1]);
    }
    drop(pools);

    println!(
        "\nnative `python3 -c` subprocess per run, no isolation ({} runs, {}):",
        args.native_runs,
        native_python_executable()?
    );
    println!(
        "{:<22} {:>9} {:>9} {:>14} {:>14}",
        "case", "p50 ms", "p99 ms", "1 thread /s", "2 threads /s"
    );
    for case in &cases {
        let Some(source) = &case.native_source else {
            continue;
        };
        let latencies = measure_latencies(args.native_runs, || native_python(source))?;
        let one = native_throughput(source, args.native_runs, 1)?;
        let two = native_throughput(source, args.native_runs, 2)?;
        println!(
            "{:<22} {:>9.2} {:>9.2} {:>14.0} {:>14.0}",
            case.label,
            percentile_ms(&latencies, 0.50),
            percentile_ms(&latencies, 0.99),
            one,
            two
        );
    }

    if !args.skip_limit_checks {
        limit_checks(&sandbox);
    }
    Ok(())
}

fn limit_checks(sandbox: &Sandbox) {
    println!("\nlimits:");
    let one_second = Limits {
        time_limit_ms: 1000,
        ..Limits::default()
    };
    for (language, program) in [
        (Language::Python, "while True: pass"),
        (Language::Javascript, "for (;;) {}"),
    ] {
        let result = sandbox.run(&RunRequest::new(language, program).with_limits(one_second));
        println!(
            "{:<11} infinite loop, 1 s limit: {:?} after {:.0} ms wall",
            format!("{language:?}"),
            result.outcome,
            result.wall_ms
        );
    }
    let memory_cap = Limits {
        memory_limit_bytes: 256 << 20,
        ..Limits::default()
    };
    let memory_bombs = [
        (Language::Python, "x = bytearray(300 * 2**20)"),
        (
            Language::Python,
            "x = []\nwhile True: x.append(bytearray(10**6))",
        ),
        (
            Language::Javascript,
            "const a = []; for (;;) a.push(new Array(1e6).fill(1));",
        ),
    ];
    for (language, program) in memory_bombs {
        let result = sandbox.run(&RunRequest::new(language, program).with_limits(memory_cap));
        println!(
            "{:<11} 256 MiB cap, {:?}: {:?}, peak {:.0} MiB, {:.0} ms",
            format!("{language:?}"),
            program.lines().last().unwrap_or(program),
            result.outcome,
            result.peak_memory_bytes as f64 / (1 << 20) as f64,
            result.wall_ms
        );
    }
}

fn measure_latencies(
    runs: usize,
    mut run_once: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<Vec<Duration>> {
    for _ in 0..runs.min(20) {
        run_once()?; // warm-up: page cache, lazy initialisation
    }
    let mut latencies = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        run_once()?;
        latencies.push(started.elapsed());
    }
    Ok(latencies)
}

fn print_latency_row(label: &str, latencies: &[Duration], cpu: &[Duration]) {
    let total: Duration = latencies.iter().sum();
    println!(
        "{:<22} {:>9.2} {:>9.2} {:>10.0} {:>12.2}",
        label,
        percentile_ms(latencies, 0.50),
        percentile_ms(latencies, 0.99),
        latencies.len() as f64 / total.as_secs_f64(),
        percentile_ms(cpu, 0.50)
    );
}

fn percentile_ms(latencies: &[Duration], quantile: f64) -> f64 {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    let index = ((sorted.len() as f64 - 1.0) * quantile).round() as usize;
    sorted
        .get(index)
        .map_or(f64::NAN, |latency| latency.as_secs_f64() * 1e3)
}

/// Runs per second with two requests in flight per worker, so no worker waits for work.
async fn pool_throughput(
    pool: Arc<SandboxPool>,
    request: &RunRequest,
    runs: usize,
) -> anyhow::Result<f64> {
    let clients = pool.workers() * 2;
    let per_client = runs.div_ceil(clients);
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..clients {
        let pool = pool.clone();
        let request = request.clone();
        handles.push(tokio::spawn(async move {
            for _ in 0..per_client {
                let result = pool.run(request.clone()).await;
                anyhow::ensure!(result.finished_cleanly(), "run did not finish: {result:?}");
            }
            Ok(())
        }));
    }
    for handle in handles {
        handle.await??;
    }
    Ok((per_client * clients) as f64 / started.elapsed().as_secs_f64())
}

/// The real `python3` executable: a version manager's shim (pyenv) is a shell script that
/// would add its own start-up to every native run.
fn native_python_executable() -> anyhow::Result<&'static str> {
    static EXECUTABLE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(executable) = EXECUTABLE.get() {
        return Ok(executable);
    }
    let output = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .context("running python3 (is it installed?)")?;
    let executable = String::from_utf8_lossy(&output.stdout).trim().to_string();
    anyhow::ensure!(
        !executable.is_empty(),
        "python3 did not report its executable"
    );
    Ok(EXECUTABLE.get_or_init(|| executable))
}

fn native_python(source: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new(native_python_executable()?)
        .arg("-c")
        .arg(source)
        .stdin(std::process::Stdio::null())
        .status()
        .context("running python3 (is it installed?)")?;
    anyhow::ensure!(status.success(), "native python3 failed: {status}");
    Ok(())
}

fn native_throughput(source: &str, runs: usize, threads: usize) -> anyhow::Result<f64> {
    let per_thread = runs.div_ceil(threads);
    let started = Instant::now();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| scope.spawn(|| (0..per_thread).try_for_each(|_| native_python(source))))
            .collect();
        handles
            .into_iter()
            .try_for_each(|handle| handle.join().expect("native runner panicked"))
    })?;
    Ok((per_thread * threads) as f64 / started.elapsed().as_secs_f64())
}
