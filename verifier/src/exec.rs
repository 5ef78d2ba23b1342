//! `verifier exec`: runs one program from standard input in the sandbox and prints how it
//! ended as one JSON object (a [`sandboxes::RunResult`]). A tool for people and for tests.
//!
//! Exit code: 0 when the program finished, 1 when it ended any other way (exception, exit,
//! limit, trap), 2 when the sandbox itself failed.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use sandboxes::{Language, Limits, Outcome, RunRequest, Sandbox};

#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    /// `python` or `javascript`.
    #[arg(long)]
    pub language: Language,
    /// Wall-clock budget of the run.
    #[arg(long, default_value_t = 10_000)]
    pub time_limit_ms: u64,
    /// Memory cap of the run.
    #[arg(long, default_value_t = 256)]
    pub memory_limit_mb: u64,
    /// File whose content the program reads as standard input.
    #[arg(long)]
    pub stdin: Option<PathBuf>,
    /// Python only: code run after the program in the same globals (e.g. tests).
    #[arg(long)]
    pub harness: Option<PathBuf>,
    /// Give the run a private, empty scratch directory at `/tmp` of at most this many MB
    /// (default: no file system at all).
    #[arg(long, value_name = "MB")]
    pub scratch_dir_mb: Option<u64>,
}

pub fn run(args: ExecArgs) -> anyhow::Result<i32> {
    let mut program = String::new();
    std::io::stdin()
        .read_to_string(&mut program)
        .context("reading the program from standard input")?;
    let stdin = match &args.stdin {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading --stdin {}", path.display()))?,
        None => String::new(),
    };
    let harness = match &args.harness {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading --harness {}", path.display()))?,
        ),
        None => None,
    };
    let limits = Limits {
        time_limit_ms: args.time_limit_ms,
        memory_limit_bytes: args.memory_limit_mb.saturating_mul(1 << 20),
        ..Limits::default()
    };
    let request = RunRequest {
        language: args.language,
        program,
        harness,
        stdin,
        limits,
        scratch_limit_bytes: args.scratch_dir_mb.map(|mb| mb.saturating_mul(1 << 20)),
        peer: None,
        wall_limit_ms: None,
        component: None,
    };
    let sandbox = Sandbox::new().context("setting up the sandbox")?;
    let result = sandbox.run(&request);
    println!("{}", serde_json::to_string(&result)?);
    Ok(match result.outcome {
        Outcome::Finished => 0,
        Outcome::Error { .. } => 2,
        _ => 1,
    })
}
