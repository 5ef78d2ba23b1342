//! `verifier grade`'s groups: the group rewards (Kimi's length reward, cosine by the primary's
//! correctness) computed over a GRPO group's members wherever the input's chunks cut it.
//!
//! Why: `grade` grades its input in chunks of ~256 KiB, and the group pass once ran on each
//! chunk alone, so a group that straddled a chunk boundary was two groups: an 8-member group
//! came back as groups of 5 and 3, with its rewards silently wrong (-0.5 for a completion that
//! earns 0.383; red team).
//!
//! How: a group is a stretch of consecutive lines with the same `group_id`, as rollout files
//! hold them (any other line ends it). The grading threads encode every other result as before
//! and hand grouped samples on as [`Member`]s, in their places among the encoded lines; the
//! writing thread, which sees the chunks in input order, holds a group's members (and nothing
//! else: the group ends at the next line that is not one of them) until it ends, runs the group
//! pass over the whole group, and writes. A `group_id` that comes back after its group ended
//! cannot be put together without holding the whole input: its later members' group rewards
//! are errors that say so (`serve` takes a group from the whole batch, which it holds anyway).

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{self, Write};

use graders::shaping::group::{awaits_group, refuse};
use graders::{GradeResult, Sample};

use crate::engine::Tally;

/// A grouped sample on its way to the writer.
pub(crate) struct Member {
    /// The `group_id`, as JSON text.
    key: String,
    line: usize,
    state: MemberState,
}

enum MemberState {
    /// Nothing of it awaits the group pass: its result, encoded and tallied.
    Done(Vec<u8>),
    /// A deferred component to fill in: the sample and its result so far.
    Awaiting(Box<(Sample, GradeResult)>),
}

impl Member {
    /// `result` for `sample` (one with a `group_id`) on input line `line`. A result that needs
    /// no group pass is encoded and added to `tally` here, on the grading thread.
    pub fn of(sample: &Sample, result: GradeResult, line: usize, tally: &mut Tally) -> Member {
        let key = sample
            .group_id
            .as_ref()
            .map_or_else(String::new, |id| id.to_string());
        let state = if awaits_group(sample, &result) {
            MemberState::Awaiting(Box::new((sample.clone(), result)))
        } else {
            tally.add(&result);
            MemberState::Done(encoded(&result))
        };
        Member { key, line, state }
    }
}

fn encoded(result: &GradeResult) -> Vec<u8> {
    let mut line = Vec::with_capacity(256);
    result.write_json(&mut line);
    line.push(b'\n');
    line
}

/// One chunk's results in input order: its encoded lines, and its grouped samples with the
/// byte of `encoded` each goes before.
#[derive(Default)]
pub(crate) struct ChunkResults {
    pub encoded: Vec<u8>,
    pub members: Vec<(usize, Member)>,
}

impl ChunkResults {
    pub fn add(&mut self, member: Member) {
        self.members.push((self.encoded.len(), member));
    }
}

/// Writes chunks' results in input order, each group's once it has ended (see the module doc).
pub(crate) struct GroupedWriter<W> {
    out: W,
    open: Option<OpenGroup>,
    /// The groups that have ended, by a hash of their key: one that comes back is refused.
    ended: HashSet<u64>,
    tally: Tally,
}

struct OpenGroup {
    key: String,
    first_line: usize,
    /// Its key belongs to a group that ended before: it came back after other lines.
    came_back: bool,
    members: Vec<Member>,
}

fn key_hash(key: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
}

impl<W: Write> GroupedWriter<W> {
    pub fn new(out: W) -> Self {
        GroupedWriter {
            out,
            open: None,
            ended: HashSet::new(),
            tally: Tally::default(),
        }
    }

    /// Takes a chunk's results (and the tally of those already final).
    pub fn write_chunk(&mut self, tally: Tally, chunk: ChunkResults) -> io::Result<()> {
        self.tally.merge(tally);
        let mut written = 0;
        for (at, member) in chunk.members {
            self.lines(&chunk.encoded[written..at])?;
            written = at;
            self.member(member)?;
        }
        self.lines(&chunk.encoded[written..])
    }

    /// Ends the last group and flushes; the tally of every result written.
    pub fn finish(mut self) -> io::Result<Tally> {
        self.end_group()?;
        self.out.flush()?;
        Ok(self.tally)
    }

    /// Lines of samples outside any group: they end the open group.
    fn lines(&mut self, lines: &[u8]) -> io::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        self.end_group()?;
        self.out.write_all(lines)
    }

    fn member(&mut self, member: Member) -> io::Result<()> {
        if let Some(open) = &mut self.open {
            if open.key == member.key {
                open.members.push(member);
                return Ok(());
            }
        }
        self.end_group()?;
        self.open = Some(OpenGroup {
            came_back: self.ended.contains(&key_hash(&member.key)),
            key: member.key.clone(),
            first_line: member.line,
            members: vec![member],
        });
        Ok(())
    }

    /// Runs the group pass over the open group and writes its members.
    fn end_group(&mut self) -> io::Result<()> {
        let Some(group) = self.open.take() else {
            return Ok(());
        };
        self.ended.insert(key_hash(&group.key));
        // Each member's line, or `None` where its result is still to be made.
        let mut lines: Vec<Option<Vec<u8>>> = Vec::with_capacity(group.members.len());
        let (mut samples, mut results) = (Vec::new(), Vec::new());
        for member in group.members {
            match member.state {
                MemberState::Done(line) => lines.push(Some(line)),
                MemberState::Awaiting(pair) => {
                    let (sample, result) = *pair;
                    samples.push(sample);
                    results.push(result);
                    lines.push(None);
                }
            }
        }
        if !samples.is_empty() {
            let samples: Vec<&Sample> = samples.iter().collect();
            if group.came_back {
                let why = format!(
                    "the group {} comes back at line {} after other lines: `verifier grade` \
                     takes a group from consecutive lines (its earlier members were graded as \
                     a group of their own); put each group's lines together",
                    group.key, group.first_line
                );
                refuse(&samples, &mut results, &why);
            } else {
                graders::shaping::apply_group_rewards(&samples, &mut results);
            }
        }
        let mut finished = results.into_iter();
        for line in lines {
            match line {
                Some(line) => self.out.write_all(&line)?,
                None => {
                    let result = finished.next().expect("one result per awaiting member");
                    self.tally.add(&result);
                    self.out.write_all(&encoded(&result))?;
                }
            }
        }
        Ok(())
    }
}
