//! `verifier bench format`: format-reward throughput through `verifier grade` and through HTTP
//! batches, on 1 and 2 cores, with per-batch latency percentiles, next to open-r1's own Python
//! reward functions measured in the same run on the same completions.
//!
//! Every figure comes from the real binary (this executable, started as a child process), so
//! it includes process start, JSON parsing, serialisation and HTTP.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::bench_client::BenchClient;

#[derive(clap::Args, Debug)]
pub struct FormatBenchArgs {
    /// Samples in the generated file.
    #[arg(long, default_value_t = 200_000)]
    pub samples: usize,
    /// Samples per HTTP batch.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Batches sent one after another for the latency figures.
    #[arg(long, default_value_t = 300)]
    pub latency_batches: usize,
    /// Seconds of concurrent HTTP load for the throughput figure.
    #[arg(long, default_value_t = 3.0)]
    pub http_seconds: f64,
    /// Concurrent HTTP clients for the throughput figure.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Runs of `verifier grade` per core count; the best is reported.
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
}

pub fn run(args: FormatBenchArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the verifier executable")?;
    let lines = generate_samples(args.samples);
    let mean_bytes = lines.iter().map(|l| l.len()).sum::<usize>() / lines.len().max(1);
    let file = std::env::temp_dir().join(format!(
        "verifier-bench-format-{}.jsonl",
        std::process::id()
    ));
    std::fs::write(&file, lines.join("\n") + "\n")?;
    let _cleanup = RemoveOnDrop(file.clone());

    println!(
        "format rewards: {} samples ({} bytes of JSON each on average; 4 styles; every completion distinct)",
        lines.len(),
        mean_bytes
    );
    let mut rows = Vec::new();
    for jobs in [1usize, 2] {
        let grade = bench_grade(&exe, &file, jobs, args.repeat, lines.len())?;
        let server = Server::start(&exe, jobs)?;
        let bodies = batch_bodies(&lines, args.batch);
        let latency = sequential_latency(&server.url, &bodies, args.batch, args.latency_batches)?;
        let throughput = concurrent_throughput(
            &server.url,
            &bodies,
            args.batch,
            args.clients,
            args.http_seconds,
        )?;
        drop(server);
        rows.push(CoreFigures {
            grade_rate: grade,
            latency,
            http_rate: throughput,
        });
    }
    println!();
    println!("{:<44}{:>16}{:>16}", "", "1 core", "2 cores");
    let row = |label: &str, f: &dyn Fn(&CoreFigures) -> String| {
        println!("{label:<44}{:>16}{:>16}", f(&rows[0]), f(&rows[1]));
    };
    row("verifier grade, samples/s", &|r| {
        format!("{:.0}", r.grade_rate)
    });
    row(
        &format!(
            "HTTP batches of {}, samples/s ({} clients)",
            args.batch, args.clients
        ),
        &|r| format!("{:.0}", r.http_rate),
    );
    row(
        &format!("HTTP batch of {} p50 / p99, ms (1 client)", args.batch),
        &|r| format!("{:.2} / {:.2}", r.latency.p50_ms, r.latency.p99_ms),
    );
    match anchor_open_r1(&file) {
        Ok(rate) => println!(
            "{:<44}{:>16}",
            "anchor: open-r1 rewards in CPython, rewards/s",
            format!("{rate:.0}")
        ),
        Err(err) => println!("anchor: open-r1 rewards in CPython: not measured ({err:#})"),
    }
    println!("target: >= 200,000 samples/s through `verifier grade` on 2 cores; p99 < 20 ms per 256-sample HTTP batch");
    println!("note: HTTP clients run on the same 2 cores as the server");
    Ok(())
}

/// Realistic completions of a few hundred bytes, a mix of good and bad layouts, each distinct
/// (so the duplicate cache does not flatter the figures).
pub(crate) fn generate_samples(n: usize) -> Vec<String> {
    let styles = ["r1", "think_answer", "think_answer_strict", "tag_count"];
    (0..n)
        .map(|i| {
            let reasoning = format!(
                "Let me work through problem {i} step by step. First, we note that the sum of the \
                 first {} odd numbers is a square. Next, we check the boundary cases carefully and \
                 confirm the pattern holds for each of them.",
                i % 97
            );
            let completion = match i % 5 {
                0 => format!(
                    "<think>\n{reasoning}\n</think>\n<answer>\n{}\n</answer>",
                    i % 1000
                ),
                1 => format!(
                    "<think>\n{reasoning}\n</think>\nThe answer is {}.",
                    i % 1000
                ),
                2 => format!(
                    "<think>\n{reasoning}\n</think>\n<answer>\n{}\n</answer>\ntrailing",
                    i
                ),
                3 => format!("{reasoning}\n</think>\n<answer>\n{i}\n</answer>"),
                _ => format!(
                    "<think>\n{reasoning}\n<think>\nagain\n</think>\n<answer>\n{i}\n</answer>"
                ),
            };
            serde_json::json!({
                "id": i,
                "completion": completion,
                "task": {"kind": "format", "style": styles[i % styles.len()]},
            })
            .to_string()
        })
        .collect()
}

fn bench_grade(
    exe: &Path,
    file: &Path,
    jobs: usize,
    repeat: usize,
    n: usize,
) -> anyhow::Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..repeat.max(1) {
        let started = Instant::now();
        let status = Command::new(exe)
            .args([
                "grade",
                "--quiet",
                "--jobs",
                &jobs.to_string(),
                "--output",
                "/dev/null",
            ])
            .arg(file)
            .status()
            .context("cannot run verifier grade")?;
        if !status.success() {
            bail!("verifier grade failed: {status}");
        }
        best = best.min(started.elapsed().as_secs_f64());
    }
    Ok(n as f64 / best)
}

fn batch_bodies(lines: &[String], batch: usize) -> Vec<String> {
    lines
        .chunks(batch.max(1))
        .filter(|c| c.len() == batch.max(1))
        .take(512)
        .map(|chunk| format!("{{\"samples\":[{}]}}", chunk.join(",")))
        .collect()
}

/// What one core count measured.
struct CoreFigures {
    grade_rate: f64,
    latency: Latency,
    http_rate: f64,
}

struct Latency {
    p50_ms: f64,
    p99_ms: f64,
}

fn sequential_latency(
    url: &str,
    bodies: &[String],
    batch: usize,
    batches: usize,
) -> anyhow::Result<Latency> {
    let mut client = BenchClient::new(url)?;
    let mut times = Vec::with_capacity(batches);
    for i in 0..batches {
        let body = &bodies[i % bodies.len()];
        let started = Instant::now();
        post(&mut client, body, batch)?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(Latency {
        p50_ms: percentile(&times, 0.5),
        p99_ms: percentile(&times, 0.99),
    })
}

/// The value at quantile `q` of `sorted` (nearest rank).
pub(crate) fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn concurrent_throughput(
    url: &str,
    bodies: &[String],
    batch: usize,
    clients: usize,
    seconds: f64,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    let batches: anyhow::Result<Vec<usize>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients.max(1))
            .map(|c| {
                scope.spawn(move || -> anyhow::Result<usize> {
                    let mut client = BenchClient::new(url)?;
                    let mut sent = 0;
                    while Instant::now() < until {
                        post(
                            &mut client,
                            &bodies[(c + sent * clients) % bodies.len()],
                            batch,
                        )?;
                        sent += 1;
                    }
                    Ok(sent)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .collect()
    });
    let total: usize = batches?.iter().sum();
    Ok((total * batch) as f64 / started.elapsed().as_secs_f64())
}

/// Posts a batch to `/v1/grade` and reads the whole answer, as a client would; the answer must
/// hold `expected` results.
pub(crate) fn post(client: &mut BenchClient, body: &str, expected: usize) -> anyhow::Result<()> {
    let (status, text) = client
        .post_json("/v1/grade", body)
        .context("grading request failed")?;
    let text = String::from_utf8_lossy(&text);
    anyhow::ensure!(
        status == 200,
        "status {status}: {}",
        &text[..text.len().min(200)]
    );
    let answer: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("unexpected answer: {}", &text[..text.len().min(200)]))?;
    let results = answer["results"].as_array().map_or(0, Vec::len);
    anyhow::ensure!(
        results == expected,
        "{results} results for {expected} samples"
    );
    Ok(())
}

/// A `verifier serve` child on a free loopback port, stopped on drop.
pub(crate) struct Server {
    child: Child,
    pub url: String,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn start(exe: &Path, jobs: usize) -> anyhow::Result<Server> {
        let mut child = Command::new(exe)
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--jobs",
                &jobs.to_string(),
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start verifier serve")?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let url = line
            .trim()
            .strip_prefix("verifier listening on ")
            .with_context(|| format!("unexpected first line from verifier serve: {line:?}"))?
            .to_string();
        Ok(Server { child, url })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) struct RemoveOnDrop(pub PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// open-r1's `format_reward` and `tag_count_reward` as written (src/open_r1/rewards.py;
/// research/rl.md §2), for the anchors' Python scripts.
pub(crate) const OPEN_R1_REWARDS: &str = r#"
import re
pattern = r"^<think>\n.*?\n</think>\n<answer>\n.*?\n</answer>$"
def format_reward(contents):
    matches = [re.match(pattern, content, re.DOTALL | re.MULTILINE) for content in contents]
    return [1.0 if match else 0.0 for match in matches]
def tag_count_reward(contents):
    def count_tags(text):
        count = 0.0
        if text.count("<think>\n") == 1: count += 0.25
        if text.count("\n</think>\n") == 1: count += 0.25
        if text.count("\n<answer>\n") == 1: count += 0.25
        if text.count("\n</answer>") == 1: count += 0.25
        return count
    return [count_tags(c) for c in contents]
"#;

/// Runs `script` (after [`OPEN_R1_REWARDS`]) in `python3` with `input` on its stdin; its stdout.
pub(crate) fn run_anchor(script: &str, input: String) -> anyhow::Result<String> {
    run_python(&format!("{OPEN_R1_REWARDS}{script}"), input)
}

/// Runs `script` in `python3` with `input` on its stdin; its stdout.
pub(crate) fn run_python(script: &str, input: String) -> anyhow::Result<String> {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("python3 not found")?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    // Written from a thread: a script that prints before reading all its input must not block.
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(input.as_bytes());
    });
    let output = child.wait_with_output()?;
    let _ = writer.join();
    if !output.status.success() {
        bail!("{}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// open-r1's two format rewards timed in CPython over the same completions: reward functions
/// only, no JSON or I/O.
fn anchor_open_r1(file: &Path) -> anyhow::Result<f64> {
    const SCRIPT: &str = r#"
import json, sys, time
completions = [json.loads(l)["completion"] for l in sys.stdin]
start = time.perf_counter()
format_reward(completions); tag_count_reward(completions)
# Two rewards per completion: report rewards per second.
print(2 * len(completions) / (time.perf_counter() - start))
"#;
    let input = std::fs::read_to_string(file)?;
    Ok(run_anchor(SCRIPT, input)?.trim().parse()?)
}
