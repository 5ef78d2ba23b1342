//! `verifier grade`'s groups: the group rewards (Kimi's length reward, cosine by the primary's
//! correctness) computed over a GRPO group's members wherever the input's chunks cut it.
//!
//! Why: `grade` grades its input in chunks of ~256 KiB, and the group pass once ran on each
//! chunk alone, so a group that straddled a chunk boundary was two groups: an 8-member group
//! came back as groups of 5 and 3, with its rewards silently wrong (-0.5 for a completion that
//! earns 0.383; red team).
//!
//! How: the grading threads encode every result but those a group pass must finish (a grouped
//! sample with a deferred component), which they hand on as [`Member`]s in their places among
//! the encoded lines. The writing thread sees the
//! chunks in input order and holds the output from the first member of the oldest open group on,
//! with each group's members, until the group ends; then it runs the group pass over all of
//! them and writes what has become final. Groups may interleave (asynchronous rollout writers
//! write them so), and lines of other kinds, unreadable ones included, may lie among a group's
//! members. A group ends when [`GROUP_SPAN_LINES`] lines have passed since its last member
//! (or at the end of the input); a later member of it is a straggler whose Kimi reward is an
//! `error` saying so, never a reward computed over part of a group. What is held is bounded
//! ([`MAX_GROUP_MEMBERS`], [`MAX_HELD_BYTES`]): past either, the oldest group is cut, and every
//! member of it, held or later, gets that `error` too. (`serve` takes a group from the whole
//! request.)

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{self, Write};

use graders::shaping::group::refuse_kimi;
use graders::{GradeResult, Sample};

use crate::engine::Tally;

/// Lines after a group's last member at which the group ends: async rollout writers interleave
/// a few groups at a time, far closer than this.
const GROUP_SPAN_LINES: usize = 4096;

/// The most members a group may have (GRPO groups have 4 to a few hundred).
const MAX_GROUP_MEMBERS: usize = 65_536;

/// The most output and samples held for open groups at once (64 groups of 16 completions of
/// 80 KB in flight, long reasoning written round-robin, hold ~100 MB).
const MAX_HELD_BYTES: usize = 256 << 20;

/// A sample a group pass must finish, on its way to the writer: the sample and its result so
/// far.
pub(crate) struct Member {
    /// The `group_id`, as JSON text.
    key: String,
    line: usize,
    pair: Box<(Sample, GradeResult)>,
}

impl Member {
    /// `result` for `sample`, which awaits its group (`awaits_group`), on input line `line`.
    pub fn new(sample: &Sample, result: GradeResult, line: usize) -> Member {
        let key = sample
            .group_id
            .as_ref()
            .map_or_else(String::new, |id| id.to_string());
        Member {
            key,
            line,
            pair: Box::new((sample.clone(), result)),
        }
    }
}

fn encoded(result: &GradeResult) -> Vec<u8> {
    let mut line = Vec::with_capacity(256);
    result.write_json(&mut line);
    line.push(b'\n');
    line
}

/// One chunk's results in input order: its encoded lines, its grouped samples with the byte of
/// `encoded` each goes before, and the number of its last input line.
#[derive(Default)]
pub(crate) struct ChunkResults {
    pub encoded: Vec<u8>,
    pub members: Vec<(usize, Member)>,
    pub last_line: usize,
}

impl ChunkResults {
    pub fn add(&mut self, member: Member) {
        self.members.push((self.encoded.len(), member));
    }
}

/// An output slot held for an open group.
enum Slot {
    Text(Vec<u8>),
    /// A member still to be finished by its group's pass, and the bytes it is counted as
    /// holding ([`pending_bytes`], reckoned once: it serialises the id).
    Pending(Box<(Sample, GradeResult)>, usize),
    /// A member finished: its line.
    Finished(Vec<u8>),
}

struct OpenGroup {
    /// Absolute indices of its members' slots, in input order.
    slots: Vec<usize>,
    last_line: usize,
    /// Its key belongs to a group that has ended: these members are stragglers.
    straggling: bool,
}

/// Writes chunks' results in input order, each group's once it has ended (see the module doc).
pub(crate) struct GroupedWriter<W> {
    out: W,
    /// Output not yet written, from the first member of the oldest open group on.
    held: VecDeque<Slot>,
    /// The absolute index of `held`'s front.
    front: usize,
    held_bytes: usize,
    open: HashMap<String, OpenGroup>,
    /// The open groups by the line of their last member, oldest first.
    by_last_line: BTreeSet<(usize, String)>,
    /// Groups that have ended, by a hash of their key.
    ended: HashSet<u64>,
    tally: Tally,
}

/// Why a group ended.
#[derive(Clone, Copy, PartialEq)]
enum Ending {
    /// Lines passed without a member, or the input ended: the group is whole.
    Whole,
    /// It outgrew what is held: its members' Kimi rewards cannot be computed.
    Cut,
}

/// About what a pending member holds: its sample and its result so far (the id twice, the
/// completion, and room for the task and the result's details).
fn pending_bytes(sample: &Sample) -> usize {
    let id = if sample.id.is_null() {
        0
    } else {
        sample.id.to_string().len()
    };
    sample.completion.len() + 2 * id + 4096
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
            held: VecDeque::new(),
            front: 0,
            held_bytes: 0,
            open: HashMap::new(),
            by_last_line: BTreeSet::new(),
            ended: HashSet::new(),
            tally: Tally::default(),
        }
    }

    /// Takes a chunk's results (and the tally of those already final).
    pub fn write_chunk(&mut self, tally: Tally, chunk: ChunkResults) -> io::Result<()> {
        self.tally.merge(tally);
        let mut written = 0;
        for (at, member) in chunk.members {
            self.text(&chunk.encoded[written..at])?;
            written = at;
            self.member(member)?;
        }
        self.text(&chunk.encoded[written..])?;
        self.end_groups_silent_since(chunk.last_line);
        self.write_final()
    }

    /// Ends every group and writes the rest; the tally of every result written.
    pub fn finish(mut self) -> io::Result<Tally> {
        let mut keys: Vec<(usize, String)> = self
            .open
            .iter()
            .map(|(key, group)| (group.slots[0], key.clone()))
            .collect();
        keys.sort_unstable();
        for (_, key) in keys {
            self.end_group(&key, Ending::Whole);
        }
        self.write_final()?;
        self.out.flush()?;
        Ok(self.tally)
    }

    fn text(&mut self, lines: &[u8]) -> io::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        if self.held.is_empty() {
            return self.out.write_all(lines);
        }
        self.held_bytes += lines.len();
        self.held.push_back(Slot::Text(lines.to_vec()));
        self.keep_within_bounds()
    }

    /// Cuts the oldest open groups while what is held is past [`MAX_HELD_BYTES`].
    fn keep_within_bounds(&mut self) -> io::Result<()> {
        while self.held_bytes > MAX_HELD_BYTES {
            let Some(oldest) = self.oldest_open() else {
                break;
            };
            self.end_group(&oldest, Ending::Cut);
            self.write_final()?;
        }
        Ok(())
    }

    fn member(&mut self, member: Member) -> io::Result<()> {
        let Member { key, line, pair } = member;
        self.end_groups_silent_since(line);
        let slot = self.front + self.held.len();
        let bytes = pending_bytes(&pair.0);
        self.held_bytes += bytes;
        self.held.push_back(Slot::Pending(pair, bytes));
        let straggling = self.ended.contains(&key_hash(&key));
        let group = self.open.entry(key.clone()).or_insert_with(|| OpenGroup {
            slots: Vec::new(),
            last_line: line,
            straggling,
        });
        self.by_last_line.remove(&(group.last_line, key.clone()));
        group.slots.push(slot);
        group.last_line = line;
        let full = group.slots.len() >= MAX_GROUP_MEMBERS;
        self.by_last_line.insert((line, key.clone()));
        if full {
            self.end_group(&key, Ending::Cut);
        }
        self.keep_within_bounds()
    }

    fn oldest_open(&self) -> Option<String> {
        self.open
            .iter()
            .min_by_key(|(_, group)| group.slots[0])
            .map(|(key, _)| key.clone())
    }

    fn end_groups_silent_since(&mut self, line: usize) {
        while let Some((last_line, key)) = self.by_last_line.first().cloned() {
            if last_line + GROUP_SPAN_LINES >= line {
                break;
            }
            self.end_group(&key, Ending::Whole);
        }
    }

    /// Runs the group pass over an open group's members (or, for stragglers, fails their Kimi
    /// rewards) and puts their finished lines in their slots.
    fn end_group(&mut self, key: &str, ending: Ending) {
        let Some(group) = self.open.remove(key) else {
            return;
        };
        self.by_last_line
            .remove(&(group.last_line, key.to_string()));
        self.ended.insert(key_hash(key));
        let (mut samples, mut results) = (Vec::new(), Vec::new());
        for &slot in &group.slots {
            let held = &mut self.held[slot - self.front];
            if let Slot::Pending(pair, bytes) = std::mem::replace(held, Slot::Finished(Vec::new()))
            {
                let (sample, result) = *pair;
                self.held_bytes = self.held_bytes.saturating_sub(bytes);
                samples.push(sample);
                results.push(result);
            }
        }
        let samples: Vec<&Sample> = samples.iter().collect();
        if group.straggling || ending == Ending::Cut {
            let why = format!(
                "the group {key} could not be held whole (its members lie more than \
                 {GROUP_SPAN_LINES} lines apart, or it outgrew what `verifier grade` holds: \
                 {MAX_GROUP_MEMBERS} members, {} MiB of open groups), so its Kimi reward cannot \
                 be computed; keep each group's lines together",
                MAX_HELD_BYTES >> 20
            );
            refuse_kimi(&samples, &mut results, &why);
        }
        graders::shaping::apply_group_rewards(&samples, &mut results);
        for (&slot, result) in group.slots.iter().zip(results) {
            self.tally.add(&result);
            let line = encoded(&result);
            self.held_bytes += line.len();
            self.held[slot - self.front] = Slot::Finished(line);
        }
    }

    /// Writes the held output that is final, up to the first member still pending.
    fn write_final(&mut self) -> io::Result<()> {
        while let Some(front) = self.held.front() {
            let line = match front {
                Slot::Pending(..) => break,
                Slot::Text(line) | Slot::Finished(line) => line,
            };
            self.out.write_all(line)?;
            self.held_bytes = self.held_bytes.saturating_sub(line.len());
            self.held.pop_front();
            self.front += 1;
        }
        Ok(())
    }
}
