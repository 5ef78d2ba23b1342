//! `verifier grade`: JSON Lines of samples in (a file or stdin), one result per line out, in
//! input order. Input is read and graded in chunks so memory stays flat on any file size; a
//! progress bar shows on a terminal and a summary goes to stderr.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use graders::{GradeResult, Registry};
use indicatif::{ProgressBar, ProgressStyle};

use crate::engine::{Engine, Tally};

/// Lines graded together, by one thread: small enough that a chunk's samples and results stay
/// in cache, and that a short file is still many chunks for the grading threads to share.
/// Measured on 200k format samples, `--jobs 1`: 0.55 CPU-s at 1,024 lines against 0.61 at
/// 8,192; on 40k, 0.11 against 0.14-0.15.
const CHUNK_LINES: usize = 1024;

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

/// One input line, as read: where its text lies in its chunk's buffer, or why it cannot be graded
/// (over the cap; the line number is added where the result is made).
type Line = Result<std::ops::Range<usize>, String>;

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
    let reader = BufReader::with_capacity(1 << 20, reader);
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
        .spawn(move || read_chunks_into(reader, max_line_mb, chunks, buffers_to_reuse))
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

/// One chunk's results as they will be written: encoded lines, and their tally.
type ChunkOutput = std::sync::mpsc::Receiver<(Tally, Vec<u8>)>;

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

/// Grades one chunk: its results' tally, their JSON lines, and the chunk's buffer to reuse.
fn grade_chunk(engine: &Engine, chunk: Chunk) -> (Tally, Vec<u8>, Vec<u8>) {
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
    let graded = engine.grade_samples(crate::fair_queue::LOCAL, parsed, &|i| {
        format!("line {}", numbers[i])
    });
    // Unreadable lines take their place among the graded ones, in input order.
    let mut graded_results = graded.into_results().into_iter();
    let mut tally = Tally::default();
    let mut out = Vec::with_capacity(lines.len() * 256);
    for (n, line) in &lines {
        let result = match line {
            Ok(_) => graded_results.next().expect("one result per text"),
            Err(why) => GradeResult::error(serde_json::Value::Null, format!("line {n}: {why}")),
        };
        tally.add(&result);
        result.write_json(&mut out);
        out.push(b'\n');
    }
    drop((lines, readable, numbers));
    (tally, out, data.into_bytes())
}

/// Lines read together: their text in one buffer (one allocation a chunk, not one a line), and
/// the bytes they took in the input.
struct Chunk {
    data: String,
    lines: Vec<(usize, Line)>,
    bytes: u64,
}

/// Reads the input in chunks of [`CHUNK_LINES`] non-blank lines and sends them on, until the
/// input ends, a read fails (the error is sent) or the receiver has gone.
fn read_chunks_into(
    mut reader: impl BufRead,
    max_line_mb: usize,
    chunks: std::sync::mpsc::SyncSender<io::Result<Chunk>>,
    buffers_to_reuse: std::sync::mpsc::Receiver<Vec<u8>>,
) {
    let max_line = max_line_mb.saturating_mul(1 << 20);
    let mut line_number = 0usize;
    loop {
        let data = match buffers_to_reuse.try_recv() {
            // A buffer that once held a huge line is not kept at that size.
            Ok(mut data) => {
                data.clear();
                data.shrink_to(CHUNK_BYTES_KEPT);
                data
            }
            Err(_) => Vec::new(),
        };
        let mut data = data;
        let mut lines = Vec::with_capacity(CHUNK_LINES);
        let mut bytes = 0;
        while lines.len() < CHUNK_LINES {
            let start = data.len();
            let read = match read_line_capped(&mut reader, &mut data, max_line) {
                Ok(read) => read,
                Err(err) => {
                    // The lines read before the error are graded and written, then the error.
                    // (A line cut by the error is dropped: only complete lines are graded.)
                    data.truncate(start);
                    if !lines.is_empty() {
                        let data = into_text(data, &mut lines);
                        let _ = chunks.send(Ok(Chunk { data, lines, bytes }));
                    }
                    let _ = chunks.send(Err(err));
                    return;
                }
            };
            if read.bytes == 0 {
                break;
            }
            bytes += read.bytes as u64;
            line_number += 1;
            if read.over_cap {
                lines.push((
                    line_number,
                    Err(format!(
                        "the line is over the {max_line_mb} MiB limit (--max-line-mb); it was \
                         not graded"
                    )),
                ));
                continue;
            }
            if data[start..].trim_ascii().is_empty() {
                data.truncate(start);
                continue;
            }
            lines.push((line_number, Ok(start..data.len())));
            // A separator, so that a line ending in half a character and the next starting
            // with the other half are not valid UTF-8 together (see `into_text`).
            data.push(b'\n');
        }
        if lines.is_empty() && bytes == 0 {
            return;
        }
        // Validated here, off the thread that feeds the grading pool.
        let data = into_text(data, &mut lines);
        if chunks.send(Ok(Chunk { data, lines, bytes })).is_err() {
            return;
        }
    }
}

/// The chunk's buffer as text: in one pass when every line is UTF-8, as lines almost always
/// are (lines are kept with a newline between them, so the buffer is UTF-8 exactly when each
/// line is); otherwise each line that is not becomes unreadable, naming its first bad byte, and its
/// bytes are left out.
fn into_text(data: Vec<u8>, lines: &mut [(usize, Line)]) -> String {
    let data = match String::from_utf8(data) {
        Ok(text) => return text,
        Err(err) => err.into_bytes(),
    };
    let mut kept = Vec::with_capacity(data.len());
    for (_, line) in lines.iter_mut() {
        let Ok(range) = line.clone() else { continue };
        *line = match std::str::from_utf8(&data[range.clone()]) {
            Ok(text) => {
                let start = kept.len();
                kept.extend_from_slice(text.as_bytes());
                Ok(start..kept.len())
            }
            Err(err) => Err(format!(
                "the line is not valid UTF-8 (byte {} of the line); it was not graded",
                err.valid_up_to() + 1
            )),
        };
    }
    String::from_utf8(kept).expect("only lines that are UTF-8 were kept")
}

/// The most of a used chunk buffer kept for the next chunk.
const CHUNK_BYTES_KEPT: usize = 16 << 20;

/// Writes every chunk's results, in order, as each chunk completes, then flushes; stops at the
/// first error. Returns the tally of every result written, added in input order.
fn write_all_from(
    mut out: impl Write,
    chunks: std::sync::mpsc::Receiver<ChunkOutput>,
) -> io::Result<Tally> {
    let mut tally = Tally::default();
    for encoding in chunks {
        let (chunk_tally, lines) = encoding
            .recv()
            .map_err(|_| io::Error::other("grading a chunk of results failed"))?;
        tally.merge(chunk_tally);
        out.write_all(&lines)?;
    }
    out.flush()?;
    Ok(tally)
}

/// What [`read_line_capped`] read.
#[derive(Debug, PartialEq)]
struct LineRead {
    /// Bytes consumed from the input, newline included; 0 at the end of the input.
    bytes: usize,
    /// The line was longer than the cap: it was consumed but not kept (`buffer` is empty).
    over_cap: bool,
}

/// A line longer than this gets room for the whole cap at once (see `read_line_capped`).
const GROW_TO_CAP_PAST: usize = 1 << 20;

/// Reads one line (without its newline) onto the end of `buffer`, keeping at most `cap` bytes
/// of it: the rest of a longer line is read and dropped (the buffer is left as it was before),
/// so one huge line costs no more memory than `cap`.
fn read_line_capped(
    reader: &mut impl BufRead,
    buffer: &mut Vec<u8>,
    cap: usize,
) -> io::Result<LineRead> {
    let start = buffer.len();
    let mut read = LineRead {
        bytes: 0,
        over_cap: false,
    };
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if available.is_empty() {
            return Ok(read);
        }
        let (used, done) = match memchr::memchr(b'\n', available) {
            Some(end) => (end + 1, true),
            None => (available.len(), false),
        };
        let content = &available[..if done { used - 1 } else { used }];
        if !read.over_cap {
            let line_len = buffer.len() - start;
            if line_len + content.len() > cap {
                read.over_cap = true;
                buffer.truncate(start);
            } else {
                // Past 1 MiB, room up to the cap at once: growing by doubling can hold the old
                // and the new buffer together at every step (an allocator that copies where
                // glibc remaps peaked at 125 MiB of RSS on a 40 MiB line); capacity not yet
                // written costs no memory.
                if line_len + content.len() > GROW_TO_CAP_PAST && buffer.capacity() < start + cap {
                    buffer.reserve_exact(start + cap - buffer.len());
                }
                buffer.extend_from_slice(content);
            }
        }
        reader.consume(used);
        read.bytes += used;
        if done {
            return Ok(read);
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], cap: usize) -> Vec<(Vec<u8>, LineRead)> {
        // A tiny buffer, so that lines span many refills.
        let mut reader = BufReader::with_capacity(3, input);
        let mut buffer = Vec::new();
        let mut out = Vec::new();
        loop {
            buffer.clear();
            let read = read_line_capped(&mut reader, &mut buffer, cap).unwrap();
            if read.bytes == 0 {
                return out;
            }
            out.push((buffer.clone(), read));
        }
    }

    #[test]
    fn lines_are_split_and_long_ones_dropped_whole() {
        let got = lines(b"ab\n0123456789\n\nxyz", 5);
        let expected = [
            (&b"ab"[..], 3, false),
            (b"", 11, true),
            (b"", 1, false),
            (b"xyz", 3, false),
        ];
        assert_eq!(got.len(), expected.len());
        for ((text, read), (want, bytes, over)) in got.iter().zip(expected) {
            assert_eq!(
                (text.as_slice(), read.bytes, read.over_cap),
                (want, bytes, over)
            );
        }
    }

    #[test]
    fn lines_are_appended_and_a_long_one_leaves_the_buffer_as_it_was() {
        let mut reader = BufReader::with_capacity(3, &b"abc\n0123456789\nxy\n"[..]);
        let mut buffer = b"kept".to_vec();
        let first = read_line_capped(&mut reader, &mut buffer, 5).unwrap();
        assert_eq!(
            (buffer.as_slice(), first.over_cap),
            (&b"keptabc"[..], false)
        );
        let long = read_line_capped(&mut reader, &mut buffer, 5).unwrap();
        assert_eq!(
            (buffer.as_slice(), long.over_cap, long.bytes),
            (&b"keptabc"[..], true, 11)
        );
        read_line_capped(&mut reader, &mut buffer, 5).unwrap();
        assert_eq!(buffer.as_slice(), b"keptabcxy");
    }

    fn read_all(input: &[u8]) -> Vec<(usize, Result<String, String>)> {
        let (sender, chunks) = std::sync::mpsc::sync_channel(16);
        let (_keep, reuse) = std::sync::mpsc::channel();
        read_chunks_into(BufReader::new(input), 1, sender, reuse);
        chunks
            .into_iter()
            .flat_map(|chunk| {
                let Chunk { data, lines, .. } = chunk.unwrap();
                lines
                    .into_iter()
                    .map(|(n, line)| (n, line.map(|range| data[range].to_string())))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn lines_that_are_not_utf8_are_named_and_the_rest_read() {
        // "€" is E2 82 AC: split across two lines, each half is invalid on its own.
        let got = read_all(b"ok\n\xE2\x82\n\xAC tail\n\n  \nlast \xC3\xA9");
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(got[0], (1, Ok("ok".to_string())));
        assert!(got[1]
            .1
            .as_ref()
            .unwrap_err()
            .contains("byte 1 of the line"));
        assert_eq!(got[1].0, 2);
        assert!(got[2].1.as_ref().unwrap_err().contains("not valid UTF-8"));
        assert_eq!(got[3], (6, Ok("last é".to_string())));
    }

    /// A reader that gives its bytes, then fails.
    struct FailsAfter(std::io::Cursor<Vec<u8>>);

    impl Read for FailsAfter {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.read(buf)? {
                0 => Err(io::Error::other("disk gone")),
                n => Ok(n),
            }
        }
    }

    #[test]
    fn lines_read_before_a_read_error_are_sent_before_it() {
        let (sender, chunks) = std::sync::mpsc::sync_channel(16);
        let (_keep, reuse) = std::sync::mpsc::channel();
        let input = FailsAfter(std::io::Cursor::new(b"one\ntwo\nhalf a li".to_vec()));
        read_chunks_into(BufReader::with_capacity(4, input), 1, sender, reuse);
        let got: Vec<io::Result<Chunk>> = chunks.into_iter().collect();
        assert_eq!(got.len(), 2);
        let Ok(Chunk { data, lines, .. }) = &got[0] else {
            panic!("the lines before the error first")
        };
        let texts: Vec<&str> = lines
            .iter()
            .map(|(_, line)| &data[line.clone().unwrap()])
            .collect();
        assert_eq!(texts, ["one", "two"]);
        assert!(got[1].is_err());
    }

    #[test]
    fn a_line_of_exactly_the_cap_is_kept() {
        let got = lines(b"12345\n123456\n", 5);
        assert_eq!(
            (got[0].0.as_slice(), got[0].1.over_cap),
            (&b"12345"[..], false)
        );
        assert!(got[1].1.over_cap);
    }
}
