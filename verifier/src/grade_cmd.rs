//! `verifier grade`: JSON Lines of samples in (a file or stdin), one result per line out, in
//! input order. Input is read and graded in chunks so memory stays flat on any file size; a
//! progress bar shows on a terminal and a summary goes to stderr.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use graders::Registry;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use crate::engine::{Engine, Tally};

/// Lines graded together: enough to keep every core busy, small enough to stream.
const CHUNK_LINES: usize = 8192;

#[derive(clap::Args, Debug)]
pub struct GradeArgs {
    /// JSON Lines file of samples; `-` or nothing reads stdin.
    pub input: Option<PathBuf>,
    /// Where to write results (default: stdout).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Grading threads (default: all cores).
    #[arg(short, long)]
    pub jobs: Option<usize>,
    /// Default deadline per sample, in milliseconds (a sample's `limits.timeout_ms` overrides).
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// No progress bar and no summary.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(args: GradeArgs, registry: Registry) -> anyhow::Result<()> {
    let jobs = args.jobs.unwrap_or_else(crate::default_jobs);
    let engine = Engine::new(registry, jobs, Duration::from_millis(args.timeout_ms))?;

    let (reader, total_bytes): (Box<dyn Read>, Option<u64>) = match &args.input {
        Some(path) if path.as_os_str() != "-" => {
            let file =
                File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
            let len = file.metadata().ok().map(|m| m.len());
            (Box::new(file), len)
        }
        _ => (Box::new(io::stdin().lock()), None),
    };
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(BufWriter::with_capacity(
            1 << 20,
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(BufWriter::with_capacity(1 << 20, io::stdout().lock())),
    };

    let progress = progress_bar(total_bytes, args.quiet);
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut line_number = 0usize;
    let mut chunk = Vec::with_capacity(CHUNK_LINES);
    let mut line = String::new();
    loop {
        chunk.clear();
        let mut bytes = 0u64;
        while chunk.len() < CHUNK_LINES {
            line.clear();
            let n = reader.read_line(&mut line).context("cannot read input")?;
            if n == 0 {
                break;
            }
            bytes += n as u64;
            line_number += 1;
            if !line.trim().is_empty() {
                chunk.push((line_number, std::mem::take(&mut line)));
            }
        }
        if chunk.is_empty() && bytes == 0 {
            break;
        }
        let texts: Vec<&str> = chunk.iter().map(|(_, text)| text.as_str()).collect();
        let numbers: Vec<usize> = chunk.iter().map(|(n, _)| *n).collect();
        let graded = engine.grade_texts(&texts, &|i| format!("line {}", numbers[i]));
        let encoded: Vec<Vec<u8>> = engine.install(|| {
            graded
                .results
                .par_iter()
                .with_min_len(256)
                .map(|result| {
                    let mut line = serde_json::to_vec(result).expect("results serialise");
                    line.push(b'\n');
                    line
                })
                .collect()
        });
        for (result, line) in graded.results.iter().zip(&encoded) {
            tally.add(result);
            out.write_all(line)?;
        }
        progress.inc(if total_bytes.is_some() {
            bytes
        } else {
            graded.results.len() as u64
        });
    }
    out.flush().context("cannot write results")?;
    progress.finish_and_clear();

    if !args.quiet {
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "graded {} in {:.2} s ({:.0} samples/s, {} jobs)",
            tally.summary(),
            secs,
            tally.count as f64 / secs.max(1e-9),
            jobs
        );
    }
    Ok(())
}

fn progress_bar(total_bytes: Option<u64>, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    // indicatif draws only when stderr is a terminal, so pipes and CI logs stay clean.
    match total_bytes {
        Some(total) => ProgressBar::new(total).with_style(
            ProgressStyle::with_template(
                "{spinner} grading [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} graded {pos} samples ({per_sec})")
                .expect("valid template"),
        ),
    }
}
