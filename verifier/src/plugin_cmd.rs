//! `verifier plugin`: the grader author's tools. `check` loads a plugin as `serve` would and
//! runs its `EXAMPLES` (or a JSON Lines file of samples), with each call's time and any
//! error; `new` writes a Python plugin skeleton that `check` passes.

use std::io::BufRead;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use graders::{GradeContext, Registry, Sample, Status};
use serde_json::{Map, Value};

use crate::plugins::{self, LoadedPlugin, PluginArgs, PluginSpec};

#[derive(clap::Subcommand)]
pub enum PluginCommand {
    /// Load a plugin as `serve` would and grade its EXAMPLES (or --samples): each call's reward,
    /// time and error; exits 1 if any example errs or gets a reward other than the one it
    /// expects.
    #[command(
        after_help = "Examples:\n  verifier plugin check examples/plugins/json_schema.py\n  verifier plugin check style=my_style.py --samples my_samples.jsonl\n  verifier plugin check examples/plugins/keyword.wasm --samples examples/plugins/keyword_samples.jsonl"
    )]
    Check(CheckArgs),
    /// Write a Python plugin skeleton (docstring, VERSION, LIMITS, EXAMPLES, `grade`) that
    /// `verifier plugin check` passes.
    #[command(
        after_help = "Example:\n  verifier plugin new --python my_grader && verifier plugin check my_grader.py"
    )]
    New(NewArgs),
    /// Build a Python module that implements the grader world (wit/grader.wit) into a
    /// WebAssembly component plugin, with the pinned componentize-py.
    #[command(
        after_help = "Example:\n  verifier plugin build examples/plugins/keywords_component/keywords.py -o keywords.wasm\n  verifier serve --plugin keywords=keywords.wasm"
    )]
    Build(BuildArgs),
    /// Print the WIT world component plugins implement.
    Wit,
}

#[derive(clap::Args)]
pub struct BuildArgs {
    /// The Python module (a .py file defining `class WitWorld(wit_world.WitWorld)` with `info`
    /// and `grade`); modules beside it can be imported.
    module: PathBuf,
    /// Where to write the component.
    #[arg(short, long)]
    output: PathBuf,
}

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The plugin: PATH (named after the file) or NAME=PATH; .py, a folder with __init__.py, or
    /// a .wasm component.
    plugin: PluginSpec,
    /// Grade these samples instead of the plugin's EXAMPLES: JSON Lines of `{"completion",
    /// "task", "expected_reward"?, "expected_status"?}`; a task without a `kind` is the plugin's.
    #[arg(long, value_name = "FILE")]
    samples: Option<PathBuf>,
    /// Per-call limits over the plugin's own, e.g. `time_limit_ms=2000,memory_limit_mb=128`.
    #[arg(long, value_name = "KEY=VALUE,...")]
    limits: Option<String>,
}

#[derive(clap::Args)]
pub struct NewArgs {
    /// The plugin's name (the task `kind` it grades); writes NAME.py.
    #[arg(long, value_name = "NAME")]
    python: String,
    /// Folder to write into.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
}

pub fn run(command: PluginCommand, max_memory_mb: u64) -> anyhow::Result<()> {
    match command {
        PluginCommand::Check(args) => check(args, max_memory_mb),
        PluginCommand::New(args) => new(args),
        PluginCommand::Build(args) => build(args),
        PluginCommand::Wit => {
            print!("{}", graders::plugin::GRADER_WIT.0);
            Ok(())
        }
    }
}

fn build(args: BuildArgs) -> anyhow::Result<()> {
    let module = args
        .module
        .file_stem()
        .and_then(|stem| stem.to_str())
        .filter(|_| args.module.extension().is_some_and(|e| e == "py"))
        .with_context(|| format!("{} is not a .py file", args.module.display()))?;
    anyhow::ensure!(
        args.module.is_file(),
        "{} does not exist",
        args.module.display()
    );
    let folder = match args.module.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let started = Instant::now();
    sandboxes::componentize_python(
        &sandboxes::default_cache_dir(),
        graders::plugin::GRADER_WIT,
        &folder,
        module,
        &args.output,
    )
    .with_context(|| format!("building {}", args.module.display()))?;
    let size = std::fs::metadata(&args.output)
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "built {} ({:.1} MB) in {:.1} s",
        args.output.display(),
        size as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    println!(
        "check it:  verifier plugin check NAME={} --samples FILE",
        args.output.display()
    );
    Ok(())
}

/// One sample to check, and the reward and status it must get if it says.
struct Case {
    sample: Sample,
    expected: Option<f64>,
    expected_status: Option<Status>,
}

fn check(args: CheckArgs, max_memory_mb: u64) -> anyhow::Result<()> {
    let name = args.plugin.name.clone();
    let mut plugin_args = PluginArgs {
        plugins: vec![args.plugin.clone()],
        plugin_limits: Vec::new(),
    };
    if let Some(limits) = &args.limits {
        plugin_args.plugin_limits.push(
            format!("{name}:{limits}")
                .parse()
                .map_err(anyhow::Error::msg)?,
        );
    }
    let mut registry = Registry::with_builtins();
    let started = Instant::now();
    let loaded = plugins::load_into(&mut registry, &plugin_args, max_memory_mb, Some(1))?;
    let plugin = loaded.first().context("the plugin did not load")?;
    let info = plugin.grader().info();
    println!(
        "plugin `{name}` ({}) loaded in {:.1} s: {}{}",
        args.plugin.path.display(),
        started.elapsed().as_secs_f64(),
        info.description,
        info.version
            .map(|v| format!(" (version {v})"))
            .unwrap_or_default()
    );
    if let LoadedPlugin::Python(p) = plugin {
        if let Some(warning) = p.code_execution_warning() {
            println!("WARNING {warning}");
        }
    }
    let limits = match plugin {
        LoadedPlugin::Python(p) => p.limits(),
        LoadedPlugin::Component(p) => p.limits(),
    };
    println!(
        "limits per call: {} ms, {} MiB, {} KiB of output",
        limits.time_limit_ms, limits.memory_limit_mb, limits.output_limit_kb
    );
    let cases = match &args.samples {
        Some(path) => read_samples(path, &name)?,
        None => examples(plugin, &name)?,
    };
    if cases.is_empty() {
        bail!(
            "nothing to check: the plugin has no EXAMPLES; add some (see docs/plugins.md) or \
             pass --samples FILE"
        );
    }
    let deadline = Duration::from_millis(limits.time_limit_ms.saturating_mul(2).max(10_000));
    let mut times = Vec::new();
    let (mut errors, mut mismatches) = (0, 0);
    for (index, case) in cases.iter().enumerate() {
        let ctx = GradeContext::with_deadline(Instant::now() + deadline);
        let call = Instant::now();
        let result = graders::grade_sample(&registry, &case.sample, &ctx);
        let ms = call.elapsed().as_secs_f64() * 1000.0;
        times.push(ms);
        let status = serde_json::to_value(result.status).unwrap_or_default();
        let status = status.as_str().unwrap_or("");
        let verdict = match (&result.error, case.expected, case.expected_status) {
            (Some(error), ..) => {
                errors += 1;
                format!("ERROR {error}")
            }
            (None, Some(expected), _) if (expected - result.reward).abs() > 1e-9 => {
                mismatches += 1;
                format!(
                    "MISMATCH reward {} (expected {expected}), {status}",
                    result.reward
                )
            }
            (None, _, Some(expected)) if expected != result.status => {
                mismatches += 1;
                let expected = serde_json::to_value(expected).unwrap_or_default();
                format!(
                    "MISMATCH status {status} (expected {expected}), reward {}",
                    result.reward
                )
            }
            (None, None, None) => format!("ok     reward {}, {status}", result.reward),
            (None, ..) => format!("ok     reward {}, {status}, as expected", result.reward),
        };
        println!("  #{:<3} {ms:>8.1} ms  {verdict}", index + 1);
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "{} samples: {} ok, {errors} errors, {mismatches} mismatches; per call p50 {:.1} ms, \
         p99 {:.1} ms, max {:.1} ms",
        cases.len(),
        cases.len() - errors - mismatches,
        at(0.5),
        at(0.99),
        at(1.0)
    );
    if errors + mismatches > 0 {
        bail!("plugin `{name}`: {errors} errors and {mismatches} mismatches");
    }
    Ok(())
}

fn examples(plugin: &LoadedPlugin, name: &str) -> anyhow::Result<Vec<Case>> {
    let LoadedPlugin::Python(plugin) = plugin else {
        bail!("a component carries no EXAMPLES: pass --samples FILE");
    };
    plugin
        .examples()
        .iter()
        .map(|example| {
            let value = serde_json::json!({
                "completion": example.completion,
                "task": example.task,
                "expected_reward": example.reward,
                "expected_status": example.status,
            });
            case(value, name).context("EXAMPLES")
        })
        .collect()
}

fn read_samples(path: &PathBuf, name: &str) -> anyhow::Result<Vec<Case>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut cases = Vec::new();
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(&line)
            .with_context(|| format!("{} line {}: not JSON", path.display(), index + 1))?;
        cases.push(
            case(value, name).with_context(|| format!("{} line {}", path.display(), index + 1))?,
        );
    }
    Ok(cases)
}

/// A sample from `{"completion", "task", "expected_reward"}`, its task's kind defaulting to
/// the plugin's name.
fn case(mut value: Value, name: &str) -> anyhow::Result<Case> {
    let object = value.as_object_mut().context("a sample is a JSON object")?;
    let expected = match object.remove("expected_reward") {
        None | Some(Value::Null) => None,
        Some(reward) => Some(reward.as_f64().context("expected_reward is not a number")?),
    };
    let expected_status = match object.remove("expected_status") {
        None | Some(Value::Null) => None,
        Some(status) => Some(serde_json::from_value(status).context(
            "expected_status is not one of correct, partial, incorrect, no_answer, error, timeout",
        )?),
    };
    // A misspelt expectation would silently check nothing.
    if let Some(key) = object.keys().find(|key| key.starts_with("expected")) {
        bail!("unknown key `{key}`: the expectations are expected_reward and expected_status");
    }
    let task = object
        .entry("task")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(task) = task {
        task.entry("kind")
            .or_insert_with(|| Value::String(name.to_string()));
    }
    let sample: Sample = serde_json::from_value(value).context("not a sample")?;
    Ok(Case {
        sample,
        expected,
        expected_status,
    })
}

fn new(args: NewArgs) -> anyhow::Result<()> {
    graders::plugin::check_name(&args.python).map_err(anyhow::Error::msg)?;
    let path = args.dir.join(format!("{}.py", args.python));
    if path.exists() {
        bail!("{} exists already; not overwriting it", path.display());
    }
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    std::fs::write(&path, SKELETON.replace("{name}", &args.python))
        .with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {}", path.display());
    println!("check it:  verifier plugin check {}", path.display());
    println!(
        "serve it:  verifier serve --plugin {}={}",
        args.python,
        path.display()
    );
    println!(
        "use it:    {{\"completion\": \"...\", \"task\": {{\"kind\": \"{}\", ...}}}}",
        args.python
    );
    Ok(())
}

/// The skeleton `plugin new --python` writes: every part a plugin may have, with EXAMPLES as its
/// test (`plugin check` runs them).
const SKELETON: &str = r#""""One line on what this grader rewards (shown by GET /v1/graders).

More about it here. `grade(completion, task)` is called once per sample, in a fresh sandbox:
standard library only, no files, no network, within LIMITS.
"""

VERSION = "0.1.0"

# Per-call limits (optional): time in ms of sandbox clock, memory in MiB, output in KiB.
LIMITS = {"time_limit_ms": 2000, "memory_limit_mb": 128, "output_limit_kb": 64}

# What `verifier plugin check` runs: each completion with its task (whose `kind` is this
# plugin's), and the reward it must get.
EXAMPLES = [
    {"completion": "The answer is 42.", "task": {"answer": "42"}, "reward": 1.0},
    {"completion": "No idea.", "task": {"answer": "42"}, "reward": 0.0, "status": "incorrect"},
]


def grade(completion, task):
    """Return a reward in [0, 1], or a dict {"reward", "status", "details"}.

    `completion` is the model's text; `task` is the sample's task object (a dict of plain JSON).
    Raising an exception makes the sample an `error` that names this plugin.
    """
    answer = str(task.get("answer", ""))
    found = bool(answer) and answer in completion
    return {"reward": 1.0 if found else 0.0, "details": {"looked_for": answer}}
"#;
