//! `verifier`: the reward verifier's service and command line.
//!
//! `serve` runs the HTTP service, `grade` grades JSON Lines files, `graders` lists what can be
//! graded, `bench` measures throughput next to the anchors', `completions` prints shell
//! completions. This crate owns all I/O; the
//! graders it wires together are pure (crate `graders`).

mod bench_client;
mod bench_format;
mod bench_io;
mod bench_plugin;
mod bench_sandbox;
mod code_executor;
mod engine;
mod eval;
mod exec;
mod fair_queue;
mod grade_cmd;
mod group_runs;
mod help;
mod line_chunks;
mod plugin_cmd;
mod plugins;
mod serve;

use std::sync::Arc;

use clap::{CommandFactory, Parser, Subcommand};
use graders::Registry;

#[derive(Parser)]
#[command(
    name = "verifier",
    version,
    about = "Reward verifier and sandboxed grading service",
    after_help = help::EXAMPLES
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Most memory a code sample's sandbox run may have, in MiB: a task's `memory_limit_mb`
    /// above it is lowered to it.
    #[arg(long, global = true, default_value_t = 1024)]
    max_memory_mb: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP grading service.
    #[command(after_help = help::SERVE_EXAMPLES)]
    Serve(serve::ServeArgs),
    /// Grade a JSON Lines file of samples (or stdin); results go to stdout in input order.
    #[command(after_help = help::SAMPLE_FORMAT)]
    Grade(grade_cmd::GradeArgs),
    /// Evaluate code samples on HumanEval, HumanEval+ or MBPP: pass@k and per-task results.
    Eval(eval::EvalArgs),
    /// Run one program from stdin in the sandbox and print how it ended as JSON.
    Exec(exec::ExecArgs),
    /// List the graders and their variants as JSON (with --plugin, the plugins' too).
    Graders(plugins::PluginArgs),
    /// Grader plugins: check one, or start a new one.
    #[command(subcommand)]
    Plugin(plugin_cmd::PluginCommand),
    /// Set the sandbox runtimes up now (download, build, compile into the cache) and check
    /// them, so that the first code task pays nothing (container images run this at build).
    Setup,
    /// Measure throughput and latency next to the anchors' figures.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    #[command(
        after_help = "Examples:\n  verifier completions bash > ~/.local/share/bash-completion/completions/verifier\n  verifier completions zsh > \"${fpath[1]}/_verifier\"\n  verifier completions fish > ~/.config/fish/completions/verifier.fish"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Format rewards through `verifier grade` and through HTTP batches.
    Format(bench_format::FormatBenchArgs),
    /// The path around the graders: format, math and IFEval samples per CPU-second through
    /// `grade` and HTTP (batches and single requests), next to Python anchors.
    Io(bench_io::IoBenchArgs),
    /// Fresh-instance sandbox runs: latency and runs/s per language, next to native python3.
    Sandbox(bench_sandbox::SandboxBenchArgs),
    /// A Python plugin's calls in the sandbox (p50/p99, samples/s with N workers), next to the
    /// same `grade` called in-process by a TRL-style loop.
    Plugin(bench_plugin::PluginBenchArgs),
}

fn main() {
    // The sandbox pool re-executes this binary as its worker processes.
    if std::env::args().nth(1).as_deref() == Some(sandboxes::WORKER_ARG) {
        std::process::exit(sandboxes::worker_main());
    }
    let cli = Cli::parse();
    init_logging(cli.log_format);
    if let Command::Completions { shell } = cli.command {
        // Rendered first, then written: clap_complete panics on a failed write, and a reader
        // that stops early (`| head`) is not an error.
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "verifier", &mut script);
        use std::io::Write;
        let _ = std::io::stdout().write_all(&script);
        return;
    }
    // The sandbox pool counts its work here; `serve` publishes it on /metrics.
    let pool_stats = Arc::new(sandboxes::PoolStats::default());
    let mut registry = Registry::with_builtins();
    // One sandbox pool for the process: the code grader's and `serve`'s `POST /run_code`.
    let sandboxes = Arc::new(code_executor::LazySandboxes::new(
        None,
        cli.max_memory_mb,
        pool_stats,
    ));
    registry.insert(code_executor::lazy_sandbox_code_grader(sandboxes.clone()));
    let plugin_args = match &cli.command {
        Command::Serve(args) => Some(&args.plugins),
        Command::Grade(args) => Some(&args.plugins),
        Command::Graders(args) => Some(args),
        _ => None,
    };
    if let Some(plugin_args) = plugin_args {
        if let Err(err) = plugins::load_into(&mut registry, plugin_args, cli.max_memory_mb, None) {
            eprintln!("error: {err:#}");
            std::process::exit(1);
        }
    }
    let outcome = match cli.command {
        Command::Serve(args) => serve::run(args, registry, sandboxes),
        Command::Grade(args) => grade_cmd::run(args, registry),
        Command::Graders(_) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&registry.infos()).expect("serialisable")
            );
            Ok(())
        }
        Command::Eval(args) => eval::run(args),
        Command::Plugin(command) => plugin_cmd::run(command, cli.max_memory_mb),
        Command::Setup => code_executor::set_up(),
        Command::Exec(args) => exec::run(args).map(|code| std::process::exit(code)),
        Command::Bench(BenchCommand::Format(args)) => bench_format::run(args),
        Command::Bench(BenchCommand::Sandbox(args)) => bench_sandbox::run(args),
        Command::Bench(BenchCommand::Io(args)) => bench_io::run(args),
        Command::Bench(BenchCommand::Plugin(args)) => bench_plugin::run(args, cli.max_memory_mb),
        Command::Completions { .. } => Ok(()),
    };
    if let Err(err) = outcome {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    // Colours only for a person at a terminal; log files and collectors get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Grading threads when the user does not say: one per core.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
