//! `verifier bench plugin`: what a plugin call costs in the sandbox (p50/p99 of one call, and
//! samples/s with N workers busy), next to the anchor: the same `grade` function imported and
//! called in-process by a TRL-style loop in CPython, timed over the same samples in the same run;
//! and, for what isolation costs natively, the same call in a fresh CPython process each.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use graders::{GradeContext, Registry, Task};
use serde_json::{json, Value};

use crate::bench_format::{percentile, run_python};
use crate::plugins::{self, LoadedPlugin, PluginArgs, PluginSpec};

#[derive(clap::Args, Debug)]
pub struct PluginBenchArgs {
    /// The Python plugin to measure (its EXAMPLES are the samples, cycled).
    #[arg(long, default_value = "json_schema=examples/plugins/json_schema.py")]
    pub plugin: PluginSpec,
    /// Sequential calls for the latency figures.
    #[arg(long, default_value_t = 300)]
    pub calls: usize,
    /// Samples for the throughput figure.
    #[arg(long, default_value_t = 1000)]
    pub samples: usize,
    /// Sandbox workers (and grading threads) for the throughput figure.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// One JSON object on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// The anchor: the plugin's module imported in-process, `grade` called in a plain loop, as
/// TRL calls a reward function (one call per completion, serially, in the trainer's process).
const ANCHOR: &str = r#"
import importlib.util, json, sys, time
path, calls, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
spec = importlib.util.spec_from_file_location("plugin", path)
plugin = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plugin)
samples = [json.loads(line) for line in sys.stdin]
for c, t in samples[:10]:
    plugin.grade(c, t)
times = []
for i in range(calls):
    c, t = samples[i % len(samples)]
    start = time.perf_counter()
    plugin.grade(c, t)
    times.append(time.perf_counter() - start)
start = time.perf_counter()
rewards = [plugin.grade(c, t) for c, t in samples]
wall = time.perf_counter() - start
times.sort()
q = lambda f: times[round((len(times) - 1) * f)] * 1000
in_process = {"p50_ms": q(0.5), "p99_ms": q(0.99), "samples_per_s": len(samples) / wall}

# Isolation the way a Python trainer gets a hard timeout and a fresh state per call: a new
# interpreter per call (subprocess.run(timeout=...)), `workers` at a time.
import subprocess, concurrent.futures
CHILD = "import importlib.util, json, sys\n" \
    "spec = importlib.util.spec_from_file_location('plugin', sys.argv[1])\n" \
    "plugin = importlib.util.module_from_spec(spec); spec.loader.exec_module(plugin)\n" \
    "c, t = json.loads(sys.stdin.read()); print(json.dumps(plugin.grade(c, t)))\n"
def one(sample):
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", CHILD, path], input=json.dumps(sample), capture_output=True, text=True, timeout=10, check=True)
    return time.perf_counter() - start
subset = samples[:60]
times = sorted(one(s) for s in subset)
start = time.perf_counter()
with concurrent.futures.ThreadPoolExecutor(workers) as pool:
    list(pool.map(one, subset))
wall = time.perf_counter() - start
subprocess_per_call = {"p50_ms": q(0.5), "p99_ms": q(0.99), "samples_per_s": len(subset) / wall}
print(json.dumps({"in_process": in_process, "subprocess": subprocess_per_call}))
"#;

pub fn run(args: PluginBenchArgs, max_memory_mb: u64) -> anyhow::Result<()> {
    let name = args.plugin.name.clone();
    let plugin_args = PluginArgs {
        plugins: vec![args.plugin.clone()],
        plugin_limits: Vec::new(),
    };
    let mut registry = Registry::with_builtins();
    let workers = args.workers.max(1);
    let loaded = plugins::load_into(&mut registry, &plugin_args, max_memory_mb, Some(workers))?;
    let Some(LoadedPlugin::Python(plugin)) = loaded.first() else {
        bail!("bench plugin measures a Python plugin (the anchor imports it in CPython)");
    };
    if plugin.examples().is_empty() {
        bail!("plugin `{name}` has no EXAMPLES to use as samples");
    }
    let samples: Vec<(String, Task)> = (0..args.samples.max(args.calls).max(1))
        .map(|i| {
            let example = &plugin.examples()[i % plugin.examples().len()];
            let mut task = example.task.clone();
            task.insert("kind".into(), Value::String(name.clone()));
            let task: Task = serde_json::from_value(Value::Object(task))?;
            Ok((example.completion.clone(), task))
        })
        .collect::<anyhow::Result<_>>()?;
    let grader = registry.get(&name).context("the plugin is registered")?;
    let deadline = Duration::from_secs(60);
    let call = |(completion, task): &(String, Task)| {
        let verdict = grader.grade(
            completion,
            task,
            &GradeContext::with_deadline(Instant::now() + deadline),
        );
        if let Some(error) = verdict.error {
            eprintln!("warning: a call failed: {error}");
        }
    };
    samples.iter().take(10).for_each(call);
    let mut times = Vec::with_capacity(args.calls);
    for sample in samples.iter().cycle().take(args.calls.max(1)) {
        let started = Instant::now();
        call(sample);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let batch = &samples[..args.samples.max(1)];
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(sample) = batch.get(index) else {
                    break;
                };
                call(sample);
            });
        }
    });
    let sandboxed_rate = batch.len() as f64 / started.elapsed().as_secs_f64();

    let input: String = batch
        .iter()
        .map(|(completion, task)| {
            let mut task = serde_json::to_value(task).unwrap_or_default();
            if let Value::Object(fields) = &mut task {
                fields.insert("kind".into(), json!(name));
            }
            format!("{}\n", json!([completion, task]))
        })
        .collect();
    let path = args.plugin.path.display().to_string();
    let anchor = run_python(
        &format!(
            "import sys; sys.argv = ['', {path:?}, '{}', '{workers}']\n{ANCHOR}",
            args.calls.max(1)
        ),
        input,
    )
    .context("the in-process anchor (python3)")?;
    let anchor: Value = serde_json::from_str(anchor.trim()).context("the anchor's figures")?;
    let rate = |key: &str| anchor[key]["samples_per_s"].as_f64().unwrap_or(f64::NAN);
    let report = json!({
        "plugin": name,
        "workers": workers,
        "sandboxed": {"p50_ms": percentile(&times, 0.5), "p99_ms": percentile(&times, 0.99), "samples_per_s": sandboxed_rate},
        "in_process_python": anchor["in_process"],
        "subprocess_per_call_python": anchor["subprocess"],
        "throughput_ratio": sandboxed_rate / rate("in_process"),
        "throughput_ratio_to_subprocess": sandboxed_rate / rate("subprocess"),
    });
    if args.json {
        println!("{report}");
        return Ok(());
    }
    println!(
        "plugin `{name}` ({}): {} samples, {} sequential calls",
        args.plugin.path.display(),
        batch.len(),
        args.calls
    );
    println!(
        "{:<44} {:>9} {:>9} {:>11}",
        "", "p50 ms", "p99 ms", "samples/s"
    );
    for (label, key) in [
        (
            format!("sandboxed plugin, fresh instance ({workers} workers)"),
            "sandboxed",
        ),
        (
            "in-process CPython, TRL-style loop (anchor)".to_string(),
            "in_process_python",
        ),
        (
            format!("CPython process per call ({workers} at a time)"),
            "subprocess_per_call_python",
        ),
    ] {
        let row = &report[key];
        println!(
            "{label:<44} {:>9.3} {:>9.3} {:>11.0}",
            row["p50_ms"].as_f64().unwrap_or(f64::NAN),
            row["p99_ms"].as_f64().unwrap_or(f64::NAN),
            row["samples_per_s"].as_f64().unwrap_or(f64::NAN)
        );
    }
    println!(
        "throughput ratio, sandboxed / in-process: {:.3}; sandboxed / process per call: {:.1}",
        report["throughput_ratio"].as_f64().unwrap_or(f64::NAN),
        report["throughput_ratio_to_subprocess"]
            .as_f64()
            .unwrap_or(f64::NAN)
    );
    Ok(())
}
