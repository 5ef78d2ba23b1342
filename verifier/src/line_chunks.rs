//! `verifier grade`'s input, read in chunks of whole lines: each chunk one buffer of text and the
//! places of its lines in it, with the lines that cannot be graded (over the cap, not UTF-8)
//! named instead.
//!
//! The input is read in blocks straight into the chunk's buffer and cut at newlines in place;
//! only the unfinished last line moves, to the next chunk. Reading line by line through a
//! `BufReader` copied every byte twice and paid a call per line: the reading thread, which the
//! grading threads cannot share, was 14-20% of the CPU of `grade --jobs 2` on 200k format
//! samples; 11.6% now, most of it the kernel's copy of the file (perf, one run each).

use std::io::{self, Read};
use std::ops::Range;
use std::sync::mpsc::{Receiver, SyncSender};

/// One input line, as read: where its text lies in its chunk's buffer, or why it cannot be
/// graded (the line number is added where the result is made).
pub(crate) type Line = Result<Range<usize>, String>;

/// Lines read together: their text in one buffer (one allocation a chunk, not one a line), and
/// the bytes they took in the input.
pub(crate) struct Chunk {
    pub data: String,
    pub lines: Vec<(usize, Line)>,
    pub bytes: u64,
}

/// A chunk ends at the first line end past this many bytes: small enough that a chunk's samples
/// and results stay in cache, and that a short file is still many chunks for the grading
/// threads to share (~800 format samples; 1,024 lines a chunk measured 0.55 CPU-s on 200k
/// format samples against 0.61 at 8,192).
const CHUNK_BYTES: usize = 256 << 10;

/// Bytes asked of the input at a time.
const BLOCK: u64 = 64 << 10;

/// The most of a used chunk buffer kept for the next chunk.
const CHUNK_BYTES_KEPT: usize = 16 << 20;

/// An unfinished line longer than this gets room for the whole cap at once (see `read_block`),
/// where the cap is at most [`GROW_TO_CAP_AT_MOST`].
const GROW_TO_CAP_PAST: usize = 1 << 20;

/// The largest cap reserved at once: a cap set far higher to mean "no limit" (red team:
/// `--max-line-mb 100000` asked for 100 GB and aborted the run) grows as lines need it.
const GROW_TO_CAP_AT_MOST: usize = 256 << 20;

/// Reads `reader` in chunks and sends them on, until the input ends, a read fails (the lines
/// before the failure are sent, then the error) or the receiver has gone. Buffers sent back on
/// `buffers_to_reuse` are filled again: a fresh multi-megabyte buffer a chunk is fresh pages
/// from the kernel, and page faults, every time.
pub(crate) fn read_chunks_into(
    reader: impl Read,
    max_line_mb: usize,
    chunks: SyncSender<io::Result<Chunk>>,
    buffers_to_reuse: Receiver<Vec<u8>>,
) {
    let mut input = LineReader {
        reader,
        max_line: max_line_mb.saturating_mul(1 << 20),
        max_line_mb,
        line_number: 0,
        unfinished: Vec::new(),
        dropping: false,
        ended: false,
    };
    while !input.ended {
        let data = match buffers_to_reuse.try_recv() {
            // A buffer that once held a huge line is not kept at that size.
            Ok(mut data) => {
                data.clear();
                data.shrink_to(CHUNK_BYTES_KEPT);
                data
            }
            Err(_) => Vec::new(),
        };
        let (chunk, failure) = input.next_chunk(data);
        let holds_anything = !chunk.lines.is_empty() || chunk.bytes > 0;
        if holds_anything && chunks.send(Ok(chunk)).is_err() {
            return;
        }
        if let Some(err) = failure {
            let _ = chunks.send(Err(err));
            return;
        }
    }
}

/// The input and where reading it has got to.
struct LineReader<R> {
    reader: R,
    max_line: usize,
    max_line_mb: usize,
    /// Lines read so far, blank ones included.
    line_number: usize,
    /// The start of a line whose end has not been read yet, from the last chunk.
    unfinished: Vec<u8>,
    /// The unfinished line is over the cap: its bytes are dropped until its end.
    dropping: bool,
    ended: bool,
}

impl<R: Read> LineReader<R> {
    /// The next chunk's lines in `data`, and the read error that ended the input, if one did.
    /// A line cut by an error is dropped: only complete lines are graded.
    fn next_chunk(&mut self, mut data: Vec<u8>) -> (Chunk, Option<io::Error>) {
        data.extend_from_slice(&self.unfinished);
        self.unfinished.clear();
        let mut lines = Vec::new();
        let mut bytes = 0u64;
        // Where the first line not yet cut starts.
        let mut line_start = 0;
        let mut failure = None;
        loop {
            if data.len() >= CHUNK_BYTES && line_start == data.len() {
                break;
            }
            let scanned = data.len();
            // A failed read may have appended bytes before it failed: their lines count.
            let read = self.read_block(&mut data, line_start);
            bytes += (data.len() - scanned) as u64;
            for end in memchr::memchr_iter(b'\n', &data[scanned..]) {
                let end = scanned + end;
                self.cut(&data, line_start..end, &mut lines);
                line_start = end + 1;
            }
            match read {
                Ok(0) => {
                    self.ended = true;
                    // The last line need not end in a newline.
                    if line_start < data.len() || self.dropping {
                        self.cut(&data, line_start..data.len(), &mut lines);
                        line_start = data.len();
                    }
                    break;
                }
                Ok(_) => {}
                Err(err) => {
                    self.ended = true;
                    data.truncate(line_start);
                    failure = Some(err);
                    break;
                }
            }
            if self.dropping || data.len() - line_start > self.max_line {
                // The unfinished line is over the cap: its bytes are dropped as they come, and
                // it is named at its end.
                data.truncate(line_start);
                self.dropping = true;
            }
            // The chunk is full: the unfinished line moves to the next one. A line that fills
            // the chunk alone is read on to its end (moving it would copy it again and again).
            if data.len() >= CHUNK_BYTES && 0 < line_start && line_start < data.len() {
                self.unfinished.extend_from_slice(&data[line_start..]);
                data.truncate(line_start);
                break;
            }
        }
        data.truncate(line_start);
        let data = into_text(data, &mut lines);
        (Chunk { data, lines, bytes }, failure)
    }

    /// Appends up to [`BLOCK`] bytes of input to `data` (whose unfinished line starts at
    /// `line_start`), answering how many; 0 at the end of the input.
    fn read_block(&mut self, data: &mut Vec<u8>, line_start: usize) -> io::Result<usize> {
        let line_len = data.len() - line_start;
        // Past 1 MiB, room up to the cap at once: growing by doubling can hold the old and the
        // new buffer together at every step (an allocator that copies where glibc remaps peaked
        // at 125 MiB of RSS on a 40 MiB line); capacity not yet written costs no memory.
        let whole_cap = line_start
            .saturating_add(self.max_line)
            .saturating_add(BLOCK as usize);
        if line_len > GROW_TO_CAP_PAST
            && self.max_line <= GROW_TO_CAP_AT_MOST
            && data.capacity() < whole_cap
        {
            data.reserve_exact(whole_cap - data.len());
        }
        let before = data.len();
        loop {
            match (&mut self.reader).take(BLOCK).read_to_end(data) {
                Ok(_) => return Ok(data.len() - before),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
        }
    }

    /// Takes the line at `range` of `data` (without its newline): kept if it has text,
    /// skipped if blank, named if over the cap or if its start was dropped as such.
    fn cut(&mut self, data: &[u8], range: Range<usize>, lines: &mut Vec<(usize, Line)>) {
        self.line_number += 1;
        if std::mem::take(&mut self.dropping) || range.len() > self.max_line {
            let why = format!(
                "the line is over the {} MiB limit (--max-line-mb); it was not graded",
                self.max_line_mb
            );
            lines.push((self.line_number, Err(why)));
        } else if !data[range.clone()].trim_ascii().is_empty() {
            lines.push((self.line_number, Ok(range)));
        }
    }
}

/// The chunk's buffer as text: in one pass when every line is UTF-8, as lines almost always
/// are (lines lie apart by a newline in the buffer, so it is UTF-8 exactly when each line and
/// what lies between them is); otherwise each line that is not becomes unreadable, naming its
/// first bad byte, and its bytes are left out.
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
                kept.push(b'\n');
                Ok(start..start + text.len())
            }
            Err(err) => Err(format!(
                "the line is not valid UTF-8 (byte {} of the line); it was not graded",
                err.valid_up_to() + 1
            )),
        };
    }
    String::from_utf8(kept).expect("only lines that are UTF-8 were kept")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that gives its bytes a few at a time, then fails if asked to.
    struct Trickle {
        bytes: Vec<u8>,
        at: usize,
        step: usize,
        fails_at_end: bool,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.bytes.len() - self.at);
            if n == 0 && self.fails_at_end {
                return Err(io::Error::other("disk gone"));
            }
            buf[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn read_all(input: &[u8], step: usize, fails: bool) -> Vec<io::Result<Chunk>> {
        let (sender, chunks) = std::sync::mpsc::sync_channel(1 << 16);
        let (_keep, reuse) = std::sync::mpsc::channel();
        let reader = Trickle {
            bytes: input.to_vec(),
            at: 0,
            step,
            fails_at_end: fails,
        };
        read_chunks_into(reader, 1, sender, reuse);
        chunks.into_iter().collect()
    }

    fn lines_of(input: &[u8], step: usize) -> Vec<(usize, Result<String, String>)> {
        read_all(input, step, false)
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
    fn lines_are_split_blank_ones_skipped_and_the_last_need_not_end() {
        for step in [1, 3, 1 << 20] {
            let got = lines_of(b"ab\r\n\n  \ncd\nxyz", step);
            let want = [
                (1, Ok("ab\r".to_string())),
                (4, Ok("cd".to_string())),
                (5, Ok("xyz".to_string())),
            ];
            assert_eq!(got, want, "step {step}");
        }
    }

    #[test]
    fn a_line_over_the_cap_is_named_and_dropped_whole_wherever_it_falls() {
        let cap = 1 << 20;
        let long = vec![b'x'; cap + 1];
        let exact = vec![b'y'; cap];
        for step in [7, 64 << 10, 1 << 22] {
            let mut input = b"first\n".to_vec();
            input.extend_from_slice(&long);
            input.extend_from_slice(b"\n");
            input.extend_from_slice(&exact);
            input.extend_from_slice(b"\nlast\n");
            input.extend_from_slice(&long);
            let got = lines_of(&input, step);
            assert_eq!(got.len(), 5, "step {step}");
            assert_eq!(got[0], (1, Ok("first".to_string())));
            assert_eq!(got[1].0, 2);
            assert!(got[1].1.as_ref().unwrap_err().contains("1 MiB limit"));
            assert_eq!(got[2].1.as_ref().map(String::len), Ok(cap));
            assert_eq!(got[3], (4, Ok("last".to_string())));
            assert!(got[4].1.is_err(), "an over-cap last line without a newline");
        }
    }

    /// A cap set far above any line, to mean "no limit", is not reserved whole (red team:
    /// `--max-line-mb 100000` asked the allocator for 100 GB, and `usize::MAX` overflowed).
    #[test]
    fn a_huge_cap_is_not_reserved_whole() {
        let mut input = b"a\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 3 << 20));
        input.extend_from_slice(b"\nb\n");
        for max_line_mb in [100_000, usize::MAX] {
            let (sender, chunks) = std::sync::mpsc::sync_channel(1 << 16);
            let (_keep, reuse) = std::sync::mpsc::channel();
            let reader = Trickle {
                bytes: input.clone(),
                at: 0,
                step: 1 << 16,
                fails_at_end: false,
            };
            read_chunks_into(reader, max_line_mb, sender, reuse);
            let lines: usize = chunks.into_iter().map(|c| c.unwrap().lines.len()).sum();
            assert_eq!(lines, 3, "cap {max_line_mb} MiB");
        }
    }

    #[test]
    fn many_lines_make_many_chunks_in_order() {
        let input: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("{{\"line\": {i}}}\n").into_bytes())
            .collect();
        let chunks = read_all(&input, 4096, false);
        assert!(chunks.len() > 1);
        let mut next = 1;
        for chunk in chunks {
            let Chunk { data, lines, bytes } = chunk.unwrap();
            assert!(bytes > 0);
            for (n, line) in lines {
                assert_eq!(n, next);
                assert_eq!(&data[line.unwrap()], format!("{{\"line\": {}}}", n - 1));
                next += 1;
            }
        }
        assert_eq!(next, 20_001);
    }

    #[test]
    fn lines_that_are_not_utf8_are_named_and_the_rest_read() {
        // "€" is E2 82 AC: split across two lines, each half is invalid on its own.
        let got = lines_of(b"ok\n\xE2\x82\n\xAC tail\n\n  \nlast \xC3\xA9", 2);
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

    #[test]
    fn lines_read_before_a_read_error_are_sent_before_it() {
        let got = read_all(b"one\ntwo\nhalf a li", 4, true);
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
}
