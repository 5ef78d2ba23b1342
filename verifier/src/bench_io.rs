//! `verifier bench io`: what a sample costs on the whole path around the graders (JSON in,
//! dedupe, grading, JSON out, pipes and sockets), per CPU-second, for format, math and IFEval
//! samples, through `verifier grade` and through HTTP (256-sample batches, and single-sample
//! requests on one keep-alive connection), next to Python anchors timed in the same run, in
//! rounds that interleave every measurement of a kind (see `measure_kind`).
//!
//! CPU, not wall time, is the measure: the machines we run on are shared and small, and a
//! trainer pays for cores. `grade` runs are charged from `getrusage(RUSAGE_CHILDREN)`, the
//! server from its kernel CPU clock; the benchmark's own HTTP client is not charged to the
//! server.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::bench_client::BenchClient;

use crate::bench_format::{
    generate_samples, percentile, post, RemoveOnDrop, Server, OPEN_R1_REWARDS,
};

#[derive(clap::Args, Debug)]
pub struct IoBenchArgs {
    /// Format and math samples per `grade` run. Enough that a process's start-up (~3.5 ms of
    /// wall time, ~2.7 ms of CPU) is a small part of a run, as in real use: with 40k format
    /// samples it was 7% of `--jobs 2`'s wall time, and lowered the `--jobs 2` / `--jobs 1`
    /// ratio it divides by ~5%.
    #[arg(long, default_value_t = 200_000)]
    pub samples: usize,
    /// IFEval samples per `grade` run: its 541 responses, repeated to this. Each repetition
    /// ends with one more space, so that no two samples are alike: at 200k the texts would
    /// carry up to 370 spaces more than the data set's, and grade ~3% slower for it (47.4k
    /// against 49.0k responses/CPU-s at 40k), while a run of 40k already takes ~0.8 s.
    #[arg(long, default_value_t = 40_000)]
    pub ifeval_samples: usize,
    /// Rounds per kind, each running every measurement once in turn (`grade --jobs 1`, `grade
    /// --jobs 2`, HTTP batches, and for format samples the anchors); the cheapest of each is
    /// reported.
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
    /// 256-sample HTTP batches per kind, a round.
    #[arg(long, default_value_t = 300)]
    pub batches: usize,
    /// Single-sample requests per kind, one after another on one keep-alive connection.
    #[arg(long, default_value_t = 3_000)]
    pub single_requests: usize,
    /// IFEval's responses with their instructions (default: `ifeval_verdicts.jsonl` under
    /// `$VERIFIER_DATA_DIR/conformance/ifeval/` or `../shared/conformance/ifeval/`).
    #[arg(long)]
    pub ifeval_file: Option<PathBuf>,
}

/// Samples per HTTP batch (the issue's and TRL's usual batch).
const BATCH: usize = 256;

/// IFEval's reference (google-research's checks with Python langdetect, strict mode, one core,
/// a quiet machine): responses per second, from research/format.md §2.3. Not run here: its
/// Python packages are not part of our set-up.
const IFEVAL_REFERENCE_PER_S: f64 = 1_251.0;

pub fn run(args: IoBenchArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the verifier executable")?;
    let mut kinds = vec![
        ("format", generate_samples(args.samples)),
        ("math", math_samples(args.samples)),
    ];
    // IFEval's responses repeat (padded, so that none is a duplicate) to make up the count; the
    // first `ifeval_distinct` are the data set once, each with its own prompt's keywords.
    let mut ifeval_distinct = 0;
    match ifeval_samples(args.ifeval_file.as_deref(), args.ifeval_samples) {
        Ok((lines, distinct)) => {
            ifeval_distinct = distinct.min(lines.len());
            kinds.push(("ifeval", lines));
        }
        Err(err) => println!("ifeval: not measured ({err:#})"),
    }
    println!(
        "every figure is samples per CPU-second of the process that grades (wall-clock rates in \
         brackets); {} rounds a kind, each running grade --jobs 1, grade --jobs 2, HTTP batches \
         and (format) the anchors once in turn, the cheapest of each kept",
        args.repeat.max(1)
    );
    // The anchors' process reads the format samples once, then times a round on each request,
    // so that its rounds run beside ours (see `measure_kind`).
    let mut anchor = FormatAnchor::start(&kinds[0].1);
    let mut anchors: Option<Anchors> = None;
    let mut rows = Vec::new();
    let mut ifeval_once = None;
    for (kind, lines) in &kinds {
        let file = std::env::temp_dir().join(format!(
            "verifier-bench-io-{kind}-{}.jsonl",
            std::process::id()
        ));
        std::fs::write(&file, lines.join("\n") + "\n")?;
        let _cleanup = RemoveOnDrop(file.clone());
        let server = Server::start(&exe, 1)?;
        wait_until_idle(&server)?;
        let anchor = match (&mut anchor, *kind) {
            (Ok(anchor), "format") => Some(anchor),
            _ => None,
        };
        let (grade1, grade2, batches, anchored) =
            measure_kind(&exe, &file, lines, &server, &args, anchor)?;
        anchors = anchors.or(anchored);
        if *kind == "ifeval" {
            // What an evaluation sees: every prompt new (regex and keyword set-up for each), and
            // the process's start-up charged to the few hundred responses.
            let once = file.with_extension("once.jsonl");
            std::fs::write(&once, lines[..ifeval_distinct].join("\n") + "\n")?;
            let _cleanup = RemoveOnDrop(once.clone());
            let mut best = Rate::default();
            for _ in 0..args.repeat.max(1) {
                best.keep_best(grade_once(&exe, &once, 1, ifeval_distinct)?);
            }
            ifeval_once = Some(best);
        }
        let single = http_single(&server, lines, args.single_requests)?;
        drop(server);
        rows.push(Row {
            kind,
            grade1,
            grade2,
            batches,
            single,
        });
    }
    let anchors = match (anchor, anchors) {
        (Ok(_), Some(anchors)) => Ok(anchors),
        (Ok(_), None) => Err(anyhow::anyhow!("no round of the anchors ran")),
        (Err(err), _) => Err(err),
    };

    println!();
    println!(
        "{:<8}{:>22}{:>22}{:>10}{:>24}{:>10}",
        "", "grade --jobs 1", "grade --jobs 2", "2 vs 1", "HTTP 256-batches", "vs grade"
    );
    for row in &rows {
        println!(
            "{:<8}{:>22}{:>22}{:>9.2}x{:>24}{:>9.2}x",
            row.kind,
            row.grade1.show(),
            row.grade2.show(),
            row.grade2.per_s / row.grade1.per_s,
            row.batches.show(),
            row.batches.per_cpu_s / row.grade1.per_cpu_s,
        );
    }
    println!("(2 vs 1: wall-clock rates; vs grade: per CPU-second, the server at --jobs 1)");
    println!();
    println!(
        "{:<8}{:>14}{:>14}{:>14}{:>22}",
        "single", "requests/s", "p50 ms", "p99 ms", "server CPU/request"
    );
    for row in &rows {
        println!(
            "{:<8}{:>14.0}{:>14.3}{:>14.3}{:>19.1} µs",
            row.kind,
            row.single.requests_per_s,
            row.single.p50_ms,
            row.single.p99_ms,
            row.single.cpu_us_per_request
        );
    }
    println!("(one client, one keep-alive connection, one request at a time)");
    println!();
    match anchors {
        Ok(anchors) => {
            let format = &rows[0];
            println!(
                "anchor: open-r1's format_reward in CPython, in memory: {:.0} samples/CPU-s; \
                 grade --jobs 1 is {:.2}x that",
                anchors.regex,
                format.grade1.per_cpu_s / anchors.regex
            );
            println!(
                "anchor: open-r1's format_reward and tag_count_reward on each completion: {:.0} \
                 samples/CPU-s; grade --jobs 1 is {:.2}x that",
                anchors.both,
                format.grade1.per_cpu_s / anchors.both
            );
            println!(
                "anchor: the same with each JSON line parsed and a JSON result written: {:.0} \
                 samples/CPU-s; grade --jobs 1 is {:.2}x that",
                anchors.regex_json,
                format.grade1.per_cpu_s / anchors.regex_json
            );
        }
        Err(err) => println!("anchor: open-r1 in CPython: not measured ({err:#})"),
    }
    if let Some(ifeval) = rows.iter().find(|r| r.kind == "ifeval") {
        println!(
            "reference: IFEval's own checks, strict, {IFEVAL_REFERENCE_PER_S:.0} responses/s on \
             one core (research/format.md §2.3, not run here); grade --jobs 1 is {:.1}x that \
             per CPU-second",
            ifeval.grade1.per_cpu_s / IFEVAL_REFERENCE_PER_S
        );
    }
    if let Some(once) = ifeval_once {
        println!(
            "reference: IFEval's {ifeval_distinct} responses each graded once (`grade --jobs 1`, \
             start-up included): {:.0} responses/CPU-s, {:.1}x the reference",
            once.per_cpu_s,
            once.per_cpu_s / IFEVAL_REFERENCE_PER_S
        );
    }
    println!(
        "targets (issue 18): format through grade --jobs 1 >= 2x the regex anchor; --jobs 2 >= \
         1.7x --jobs 1 on an idle machine; IFEval >= 50x the reference; HTTP batches within 10% \
         of grade; single requests p99 < 1 ms for math and format on an idle machine"
    );
    Ok(())
}

struct Row<'a> {
    kind: &'a str,
    grade1: Rate,
    grade2: Rate,
    batches: Rate,
    single: Single,
}

/// Samples per CPU-second and per wall-clock second.
#[derive(Default)]
struct Rate {
    per_cpu_s: f64,
    per_s: f64,
}

impl Rate {
    /// Keeps the better of each figure (the cheapest run per CPU-second, the fastest per second).
    fn keep_best(&mut self, other: Rate) {
        self.per_cpu_s = self.per_cpu_s.max(other.per_cpu_s);
        self.per_s = self.per_s.max(other.per_s);
    }

    fn show(&self) -> String {
        format!("{:.0} ({:.0})", self.per_cpu_s, self.per_s)
    }
}

struct Single {
    requests_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_us_per_request: f64,
}

/// CPU time (user + system) of this process's children that have been waited for.
fn children_cpu() -> Duration {
    // SAFETY: getrusage writes one rusage struct into the zeroed memory we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// CPU time of a running process, all its threads (exited ones included), to the nanosecond:
/// the kernel's CPU clock of the process. (`/proc/PID/stat` counts 10 ms ticks: 300 format
/// batches took ~13 of them, so one tick either way moved a ratio by 8%.)
fn process_cpu(pid: u32) -> anyhow::Result<Duration> {
    let pid = libc::pid_t::try_from(pid).context("process id out of range")?;
    let mut clock: libc::clockid_t = 0;
    // SAFETY: clock_getcpuclockid writes one clock id through a valid pointer.
    let failed = unsafe { libc::clock_getcpuclockid(pid, &mut clock) };
    anyhow::ensure!(
        failed == 0,
        "cannot read the CPU clock of process {pid}: {}",
        std::io::Error::from_raw_os_error(failed)
    );
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    if unsafe { libc::clock_gettime(clock, &mut time) } != 0 {
        anyhow::bail!(
            "cannot read the CPU clock of process {pid}: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(Duration::new(time.tv_sec as u64, time.tv_nsec as u32))
}

/// Waits until the server's CPU time stops growing (at most 5 s): its start-up work in the
/// background (the instructions grader's tables, ~0.15 CPU-s) must not be charged to the
/// first measurement.
fn wait_until_idle(server: &Server) -> anyhow::Result<()> {
    let until = Instant::now() + Duration::from_secs(5);
    let mut last = process_cpu(server.pid())?;
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
        let now = process_cpu(server.pid())?;
        if now == last {
            break;
        }
        last = now;
    }
    Ok(())
}

/// One kind's rounds: each a `grade --jobs 1` run, a `grade --jobs 2` run, a round of HTTP
/// batches and, for format samples, a round of the anchors, the cheapest of each kept. Rounds
/// interleave so that every ratio the benchmark prints compares measurements taken seconds
/// apart: the machines are shared, and measured one after another (five `grade` runs, then
/// five rounds of batches, then the anchors minutes later), a ratio moved by up to 20% between
/// runs of the same binaries as the machine's load changed between the phases.
fn measure_kind(
    exe: &Path,
    file: &Path,
    lines: &[String],
    server: &Server,
    args: &IoBenchArgs,
    mut anchor: Option<&mut FormatAnchor>,
) -> anyhow::Result<(Rate, Rate, Rate, Option<Anchors>)> {
    let bodies: Vec<String> = lines
        .chunks(BATCH)
        .filter(|c| c.len() == BATCH)
        .map(|chunk| format!("{{\"samples\":[{}]}}", chunk.join(",")))
        .collect();
    anyhow::ensure!(!bodies.is_empty(), "fewer samples than one batch");
    let mut client = BenchClient::new(&server.url)?;
    // The first batch warms the server's graders; it is not counted.
    post(&mut client, &bodies[0], BATCH)?;
    let (mut grade1, mut grade2, mut batches) = (Rate::default(), Rate::default(), Rate::default());
    let mut anchors: Option<Anchors> = None;
    for _ in 0..args.repeat.max(1) {
        grade1.keep_best(grade_once(exe, file, 1, lines.len())?);
        grade2.keep_best(grade_once(exe, file, 2, lines.len())?);
        batches.keep_best(http_round(&mut client, server, &bodies, args.batches)?);
        if let Some(anchor) = anchor.as_deref_mut() {
            let round = anchor.round()?;
            anchors = Some(match anchors {
                Some(best) => best.best_with(round),
                None => round,
            });
        }
    }
    Ok((grade1, grade2, batches, anchors))
}

/// One `verifier grade` run over `file` (`n` samples) at `--jobs`, charged from the CPU time
/// of this process's waited-for children.
fn grade_once(exe: &Path, file: &Path, jobs: usize, n: usize) -> anyhow::Result<Rate> {
    let (cpu, started) = (children_cpu(), Instant::now());
    let status = Command::new(exe)
        .args(["grade", "--quiet", "--jobs", &jobs.to_string()])
        .args(["--output", "/dev/null"])
        .arg(file)
        .stdin(Stdio::null())
        .status()
        .context("cannot run verifier grade")?;
    if !status.success() {
        bail!("verifier grade failed: {status}");
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = (children_cpu() - cpu).as_secs_f64().max(1e-6);
    Ok(Rate {
        per_cpu_s: n as f64 / cpu,
        per_s: n as f64 / wall,
    })
}

/// `batches` 256-sample batches, one after another on one keep-alive connection, charged to
/// the server's CPU.
fn http_round(
    client: &mut BenchClient,
    server: &Server,
    bodies: &[String],
    batches: usize,
) -> anyhow::Result<Rate> {
    let (cpu, started) = (process_cpu(server.pid())?, Instant::now());
    for i in 0..batches.max(1) {
        post(client, &bodies[(i + 1) % bodies.len()], BATCH)?;
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = (process_cpu(server.pid())? - cpu).as_secs_f64().max(1e-6);
    let n = (batches.max(1) * BATCH) as f64;
    Ok(Rate {
        per_cpu_s: n / cpu,
        per_s: n / wall,
    })
}

/// Single-sample requests, one at a time on one keep-alive connection.
fn http_single(server: &Server, lines: &[String], requests: usize) -> anyhow::Result<Single> {
    let mut client = BenchClient::new(&server.url)?;
    let body = |i: usize| format!("{{\"samples\":[{}]}}", lines[i % lines.len()]);
    for i in 0..50 {
        post(&mut client, &body(i), 1)?;
    }
    let requests = requests.max(1);
    let mut times = Vec::with_capacity(requests);
    let (cpu, started) = (process_cpu(server.pid())?, Instant::now());
    for i in 0..requests {
        let body = body(i + 50);
        let sent = Instant::now();
        post(&mut client, &body, 1)?;
        times.push(sent.elapsed().as_secs_f64() * 1e3);
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = (process_cpu(server.pid())? - cpu).as_secs_f64();
    times.sort_by(f64::total_cmp);
    Ok(Single {
        requests_per_s: requests as f64 / wall,
        p50_ms: percentile(&times, 0.5),
        p99_ms: percentile(&times, 0.99),
        cpu_us_per_request: cpu * 1e6 / requests as f64,
    })
}

/// Math answers as models write them (a boxed answer at the end of some reasoning), gold
/// answers in several forms, about half of them right; every completion distinct.
fn math_samples(n: usize) -> Vec<String> {
    // (gold, right answer as written, wrong answer)
    let cases = [
        ("\\frac{1}{2}", "0.5", "\\frac{1}{3}"),
        ("12", "12", "13"),
        ("x^2+2x+1", "(x+1)^2", "(x-1)^2"),
        ("\\sqrt{2}", "\\frac{2}{\\sqrt{2}}", "2"),
        ("[0, 1)", "[0,1)", "(0,1]"),
        ("3\\pi", "3\\pi", "\\frac{3}{\\pi}"),
        ("-\\frac{7}{4}", "-1.75", "\\frac{7}{4}"),
        ("1000", "1{,}000", "100"),
    ];
    (0..n)
        .map(|i| {
            let (gold, right, wrong) = cases[i % cases.len()];
            let answer = if i % 2 == 0 { right } else { wrong };
            let completion = format!(
                "<think>\nWe simplify step {i}: expand, collect like terms and check the \
                 boundary cases.\n</think>\nSo the final answer is $\\boxed{{{answer}}}$."
            );
            serde_json::json!({
                "id": i,
                "completion": completion,
                "task": {"kind": "math", "answer": gold},
            })
            .to_string()
        })
        .collect()
}

/// IFEval's responses with their instructions as `instructions` tasks (strict), repeated to
/// `n`; each repetition ends with one more space, so that no two samples are alike.
/// `n` IFEval samples, and how many distinct responses the file has.
fn ifeval_samples(file: Option<&Path>, n: usize) -> anyhow::Result<(Vec<String>, usize)> {
    let path = match file {
        Some(path) => path.to_path_buf(),
        None => {
            let relative = "conformance/ifeval/ifeval_verdicts.jsonl";
            let dir = std::env::var_os("VERIFIER_DATA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("../shared"));
            dir.join(relative)
        }
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {} (--ifeval-file)", path.display()))?;
    let rows: Vec<serde_json::Value> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .with_context(|| format!("{} is not JSON lines", path.display()))?;
    anyhow::ensure!(!rows.is_empty(), "{} is empty", path.display());
    let lines = (0..n)
        .map(|i| {
            let row = &rows[i % rows.len()];
            let response = row["response"].as_str().unwrap_or_default();
            let completion = format!("{response}{}", " ".repeat(i / rows.len()));
            serde_json::json!({
                "id": i,
                "completion": completion,
                "task": {
                    "kind": "instructions",
                    "instruction_id_list": row["instruction_id_list"],
                    "kwargs": row["kwargs"],
                    "prompt": row["prompt"],
                },
            })
            .to_string()
        })
        .collect();
    Ok((lines, rows.len()))
}

struct Anchors {
    /// open-r1's `format_reward`, per completion.
    regex: f64,
    /// `format_reward` and `tag_count_reward` on each completion.
    both: f64,
    /// `format_reward` with a JSON line parsed and a JSON result written per completion.
    regex_json: f64,
}

impl Anchors {
    fn best_with(self, other: Anchors) -> Anchors {
        Anchors {
            regex: self.regex.max(other.regex),
            both: self.both.max(other.both),
            regex_json: self.regex_json.max(other.regex_json),
        }
    }
}

/// open-r1's `format_reward` regex in CPython on the format samples' completions, per CPU
/// second (`time.process_time`): on strings in memory, and with each JSON line parsed and a
/// JSON result written to a buffer, as a service must. One process reads the samples once and
/// times one round of each figure whenever asked, so that its rounds interleave with ours.
struct FormatAnchor {
    child: std::process::Child,
    requests: std::process::ChildStdin,
    answers: std::io::BufReader<std::process::ChildStdout>,
}

impl FormatAnchor {
    const SCRIPT: &str = r#"
import io, json, sys, time
count = int(sys.stdin.readline())
lines = [sys.stdin.readline().rstrip("\n") for _ in range(count)]
completions = [json.loads(l)["completion"] for l in lines]
def rate(f):
    start = time.process_time()
    f()
    return len(lines) / max(time.process_time() - start, 1e-9)
def regex():
    format_reward(completions)
def both():
    format_reward(completions)
    tag_count_reward(completions)
def regex_json():
    out = io.StringIO()
    for l in lines:
        s = json.loads(l)
        r = format_reward([s["completion"]])[0]
        out.write(json.dumps({"id": s.get("id"), "reward": r, "status": "correct" if r else "incorrect"}))
        out.write("\n")
for request in sys.stdin:
    print(rate(regex), rate(both), rate(regex_json), flush=True)
"#;

    /// Starts the anchors' process on `format_lines` (JSON lines, none holding a newline).
    fn start(format_lines: &[String]) -> anyhow::Result<FormatAnchor> {
        use std::io::Write;
        let mut child = Command::new("python3")
            .args(["-c", &format!("{OPEN_R1_REWARDS}{}", Self::SCRIPT)])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("python3 not found")?;
        let mut requests = child.stdin.take().expect("piped stdin");
        let answers = std::io::BufReader::new(child.stdout.take().expect("piped stdout"));
        // The script reads every line before it writes anything, so this cannot block on its
        // output.
        let mut input = std::io::BufWriter::new(&mut requests);
        writeln!(input, "{}", format_lines.len())?;
        for line in format_lines {
            writeln!(input, "{line}")?;
        }
        input.flush()?;
        drop(input);
        Ok(FormatAnchor {
            child,
            requests,
            answers,
        })
    }

    /// Times one round of each figure.
    fn round(&mut self) -> anyhow::Result<Anchors> {
        use std::io::{BufRead, Write};
        writeln!(self.requests, "round")?;
        self.requests.flush()?;
        let mut text = String::new();
        self.answers.read_line(&mut text)?;
        let mut figures = text.split_whitespace().map(str::parse::<f64>);
        match (figures.next(), figures.next(), figures.next()) {
            (Some(Ok(regex)), Some(Ok(both)), Some(Ok(regex_json))) => Ok(Anchors {
                regex,
                both,
                regex_json,
            }),
            _ => bail!("unexpected output from the anchor: {text:?}"),
        }
    }
}

impl Drop for FormatAnchor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
