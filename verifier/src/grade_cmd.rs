//! `verifier grade`: JSON Lines of samples in (a file or stdin), one result per line out, in
//! input order. Input is read and graded in chunks so memory stays flat on any file size; a
//! progress bar shows on a terminal and a summary goes to stderr.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use graders::shaping::group::awaits_group;
use graders::{GradeResult, Registry};
use indicatif::{ProgressBar, ProgressStyle};

use crate::engine::{Engine, Tally};
use crate::group_runs::{ChunkResults, GroupedWriter, Member};
use crate::line_chunks::{read_chunks_into, Chunk};

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
    /// Longest input line in MiB, as `serve` caps a body; a longer line is an `error` result
    /// naming it, and is skipped without being held in memory.
    #[arg(long, default_value_t = 32)]
    pub max_line_mb: usize,
    #[command(flatten)]
    pub plugins: crate::plugins::PluginArgs,
}

/// Tells glibc's malloc to keep the memory a chunk frees for the next chunk. By default it
/// hands the top of the heap back to the kernel once 128 KiB are free there, and each chunk's
/// samples and results then fault their pages in again: on 200k format samples, `--jobs 1`,
/// 14k-42k page faults and about a tenth of the CPU (the kernel's page clearing, `brk`,
/// `malloc_consolidate`), against 1.8k faults with these settings. A `grade` run's memory is
/// a few chunks whatever the file's size, so what is kept is bounded by that peak.
/// Setting any threshold turns off glibc's sliding mmap threshold, so it is set here: blocks
/// under 4 MiB (a chunk's buffers) come from the heap, larger ones (a line of many MiB) are
/// mapped and handed back when freed. With 32 MiB instead, 12 lines of 20 MiB among 36k small
/// ones peaked at 114 MiB against glibc's 93 MiB; with 4 MiB, 96 MiB.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called before the grading threads
    // start, and a rejected value (0 returned) leaves glibc's default.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TOP_PAD, 16 << 20);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

pub fn run(args: GradeArgs, registry: Registry) -> anyhow::Result<()> {
    keep_freed_memory();
    let jobs = args.jobs.unwrap_or_else(crate::default_jobs);
    let engine = Engine::new(registry, jobs, Duration::from_millis(args.timeout_ms))?;

    let (reader, total_bytes): (Box<dyn Read + Send>, Option<u64>) = match &args.input {
        Some(path) if path.as_os_str() != "-" => {
            let file =
                File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
            let len = file.metadata().ok().map(|m| m.len());
            (Box::new(file), len)
        }
        _ => (Box::new(io::stdin()), None),
    };
    let out: Box<dyn Write + Send> = match &args.output {
        Some(path) => Box::new(BufWriter::with_capacity(
            1 << 20,
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(BufWriter::with_capacity(1 << 20, io::stdout())),
    };

    // Named in write errors (a full disk says which file it could not write).
    let destination = args
        .output
        .as_ref()
        .map_or_else(|| "stdout".to_string(), |path| path.display().to_string());
    let progress = progress_bar(total_bytes, args.quiet);
    let started = Instant::now();

    // A thread reads chunks and another writes results while `--jobs` threads grade whole
    // chunks, each chunk on one thread from parsing to encoding (see `grade_chunks`); at most
    // `--jobs` chunks wait to be graded, beside the ones being graded.
    let (chunks, read_chunks) = std::sync::mpsc::sync_channel::<io::Result<Chunk>>(jobs);
    let max_line_mb = args.max_line_mb;
    // Chunk buffers go back to the reader once graded: a fresh multi-megabyte buffer a chunk
    // is fresh pages from the kernel, and page faults, every time.
    let (used_buffers, buffers_to_reuse) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::Builder::new()
        .name("read".into())
        .spawn(move || {
            // A panic here must end the run in an error, not look like the input's end (which
            // exits 0 with results missing).
            let on_panic = chunks.clone();
            let read = std::panic::AssertUnwindSafe(|| {
                read_chunks_into(reader, max_line_mb, chunks, buffers_to_reuse)
            });
            if std::panic::catch_unwind(read).is_err() {
                let _ = on_panic.send(Err(io::Error::other("the reading thread failed")));
            }
        })
        .context("cannot start the reading thread")?;
    let (encoded_results, to_write) = std::sync::mpsc::sync_channel::<ChunkOutput>(jobs + 1);
    let writer = std::thread::Builder::new()
        .name("write".into())
        .spawn(move || write_all_from(out, to_write))
        .context("cannot start the writing thread")?;

    let feed = std::sync::Mutex::new(Feed {
        chunks: read_chunks,
        to_write: encoded_results,
        read_error: None,
        stopped: false,
    });
    std::thread::scope(|scope| {
        for _ in 1..jobs {
            scope.spawn(|| grade_chunks(&engine, &feed, &used_buffers, &progress, total_bytes));
        }
        grade_chunks(&engine, &feed, &used_buffers, &progress, total_bytes);
    });
    let Feed {
        to_write,
        read_error,
        ..
    } = feed.into_inner().unwrap_or_else(|e| e.into_inner());
    drop(to_write);
    let tally = writer
        .join()
        .map_err(|_| anyhow::anyhow!("the writing thread panicked"))?
        .with_context(|| format!("cannot write results to {destination}"))?;
    if let Some(err) = read_error {
        return Err(err).context("cannot read input");
    }
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

/// One chunk's results as they will be written, and the tally of those already final.
type ChunkOutput = std::sync::mpsc::Receiver<(Tally, ChunkResults)>;

/// What the grading threads share. A thread takes the next chunk and queues the place for its
/// results with the writer under one lock, so places are queued in input order whichever
/// thread finishes first.
struct Feed {
    chunks: std::sync::mpsc::Receiver<io::Result<Chunk>>,
    to_write: std::sync::mpsc::SyncSender<ChunkOutput>,
    /// The read error that ended the input (what was read before it is still graded).
    read_error: Option<io::Error>,
    /// The input ended in an error, or the writer stopped (its join reports why).
    stopped: bool,
}

/// Takes chunks from `feed` and grades each whole on this thread, until the input ends or the
/// run stops. Whole chunks a thread, not each step of a chunk spread over the pool: with the
/// steps spread, `--jobs 2` spent 1.5x the CPU of `--jobs 1` for 1.0-1.3x the samples (the
/// threads freed one another's blocks through glibc's arenas, and waited at the end of each
/// step).
fn grade_chunks(
    engine: &Engine,
    feed: &std::sync::Mutex<Feed>,
    used_buffers: &std::sync::mpsc::Sender<Vec<u8>>,
    progress: &ProgressBar,
    total_bytes: Option<u64>,
) {
    loop {
        let (chunk, encoded) = {
            let mut feed = feed.lock().unwrap_or_else(|e| e.into_inner());
            if feed.stopped {
                return;
            }
            let chunk = match feed.chunks.recv() {
                Err(_) => return,
                Ok(Err(err)) => {
                    feed.read_error = Some(err);
                    feed.stopped = true;
                    return;
                }
                Ok(Ok(chunk)) => chunk,
            };
            let (encoded, encoding) = std::sync::mpsc::sync_channel(1);
            if feed.to_write.send(encoding).is_err() {
                feed.stopped = true;
                return;
            }
            (chunk, encoded)
        };
        let bytes = chunk.bytes;
        let (tally, lines, data) = engine.on_this_thread(|| grade_chunk(engine, chunk));
        let count = tally.count;
        let _ = encoded.send((tally, lines));
        let _ = used_buffers.send(data);
        progress.inc(if total_bytes.is_some() { bytes } else { count });
    }
}

/// Grades one chunk: the tally of its final results, its results in input order (those a
/// group pass must finish apart, for the writer: see `group_runs.rs`), and the chunk's buffer
/// to reuse.
fn grade_chunk(engine: &Engine, chunk: Chunk) -> (Tally, ChunkResults, Vec<u8>) {
    let Chunk { data, lines, .. } = chunk;
    // Parsed from the chunk's buffer, one deserializer for the chunk.
    let readable: Vec<std::ops::Range<usize>> = lines
        .iter()
        .filter_map(|(_, line)| line.as_ref().ok().cloned())
        .collect();
    let numbers: Vec<usize> = lines
        .iter()
        .filter(|(_, line)| line.is_ok())
        .map(|(n, _)| *n)
        .collect();
    let parsed = graders::Sample::from_json_lines(&data, &readable);
    let graded = engine.grade_samples_ungrouped(crate::fair_queue::LOCAL, parsed, &|i| {
        format!("line {}", numbers[i])
    });
    let (graded_results, samples) = graded.into_results_and_samples();
    // Unreadable lines take their place among the graded ones, in input order.
    let mut graded_results = graded_results.into_iter().enumerate();
    let mut tally = Tally::default();
    let mut out = ChunkResults {
        encoded: Vec::with_capacity(lines.len() * 256),
        members: Vec::new(),
        last_line: lines.last().map_or(0, |(n, _)| *n),
    };
    for (n, line) in &lines {
        let result = match line {
            Ok(_) => {
                let (i, result) = graded_results.next().expect("one result per text");
                match samples.get(i) {
                    Some(Ok(sample)) if awaits_group(sample, &result) => {
                        out.add(Member::new(sample, result, *n));
                        continue;
                    }
                    _ => result,
                }
            }
            Err(why) => GradeResult::error(serde_json::Value::Null, format!("line {n}: {why}")),
        };
        tally.add(&result);
        result.write_json(&mut out.encoded);
        out.encoded.push(b'\n');
    }
    drop((lines, readable, numbers, samples));
    (tally, out, data.into_bytes())
}

/// Writes every chunk's results, in order, as each chunk completes (a group's once it has
/// ended), then flushes; stops at the first error. Returns the tally of every result written.
fn write_all_from(
    out: impl Write,
    chunks: std::sync::mpsc::Receiver<ChunkOutput>,
) -> io::Result<Tally> {
    let mut writer = GroupedWriter::new(out);
    for encoding in chunks {
        let (chunk_tally, results) = encoding
            .recv()
            .map_err(|_| io::Error::other("grading a chunk of results failed"))?;
        writer.write_chunk(chunk_tally, results)?;
    }
    writer.finish()
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
