//! The peer of a JavaScript run (see [`PeerRequest`]): the candidate's side of a run whose two
//! programs must not share an interpreter, as [`crate::peer`] is for Python.
//!
//! QuickJS is a WASI command: it exports nothing but `_start`, so a peer cannot be an instance
//! that stays loaded and is called back, as a Python peer is. Instead the peer's program runs
//! **afresh for each call**, to its end, on the same thread, from inside the main instance's
//! host call: no threads or fibres, the two never run at once, and each is charged only for its
//! own running. What the peer keeps between calls is nothing of its own: each call writes to a
//! fresh stdout and stderr (with one pair for the run, a call could count the bytes earlier
//! calls had written from how much of a write fit: red team), and its memory peak is the
//! host's. The wall clock runs on across calls, so a call that waits for the clock to reach a
//! slot can leave the next one a count (red team); that is no more than a Python candidate,
//! whose one instance keeps its globals, has, and a call is told its arguments anyway. A fresh
//! QuickJS instance costs about 1.5 ms.
//!
//! The channel is one file descriptor, [`PEER_FD`], that no WASI context has: the host answers
//! `fd_write` and `fd_read` on it (see [`Channel`]); every other descriptor goes to WASI as
//! before. `guest/sandbox_peer.js` is the JavaScript side of it (`sandboxPeer.call`/`serve`).

use std::time::{Duration, Instant};

use wasmtime::Caller;

use crate::budget::Budget;
use crate::guest_io::{gather, guest_memory, scatter, store_count, ERRNO_FAULT, ERRNO_NOSPC};
use crate::javascript::{JavascriptRuntime, JavascriptState, Launch};
use crate::limiter::GuestLimiter;
use crate::peer::failure_text;
use crate::request::{Outcome, PeerRequest, RunResult};
use crate::sandbox::{with_memory_limit, OutputPipes, Verdict};

/// The descriptor of the channel; `guest/sandbox_peer.js` holds the same number.
pub(crate) const PEER_FD: i32 = 1 << 30;

/// The JavaScript side of the channel, put before both programs of a run with a peer.
pub(crate) const PRELUDE: &str = include_str!("../guest/sandbox_peer.js");

/// The most the main instance may write as one message: its own memory cap bounds it anyway;
/// this keeps the host's copy from growing past what any test needs.
const MESSAGE_LIMIT_BYTES: usize = 64 << 20;

/// The host's end of the channel in one instance.
pub(crate) enum Channel {
    /// The main instance: what it wrote since its last reply, and the reply it is reading (a
    /// read that finds none pending makes the call; reading to its end clears it).
    Main {
        peer: Box<JsPeer>,
        outgoing: Vec<u8>,
        reply: Option<(Vec<u8>, usize)>,
    },
    /// A peer instance during one call: the message it reads, and the answer it writes.
    Peer {
        message: Vec<u8>,
        read: usize,
        answer: Vec<u8>,
        limit: usize,
        too_long: bool,
    },
}

/// The peer of one JavaScript run.
pub(crate) struct JsPeer {
    runtime: JavascriptRuntime,
    program: String,
    request: PeerRequest,
    /// Charged across calls; `None` only while a call holds it.
    budget: Option<Budget>,
    /// The last call's stdout and stderr.
    output: OutputPipes,
    /// The peak memory over all calls, and whether any hit the cap.
    memory: GuestLimiter,
    /// How the peer ended, once it can no longer answer.
    ended: Option<Outcome>,
    cpu: Duration,
}

impl JsPeer {
    pub(crate) fn new(
        runtime: JavascriptRuntime,
        request: &PeerRequest,
        wall_deadline: Option<Instant>,
    ) -> JsPeer {
        JsPeer {
            runtime,
            program: format!("{PRELUDE}\n{}", request.program),
            budget: Some(
                Budget::paused(Duration::from_millis(request.limits.time_limit_ms))
                    .ending_by(wall_deadline),
            ),
            output: OutputPipes::new(&request.limits),
            memory: GuestLimiter::new(request.limits.memory_limit_bytes),
            request: request.clone(),
            ended: None,
            cpu: Duration::ZERO,
        }
    }

    /// Runs the peer's program once with `message`; the error says why there is no answer.
    pub(crate) fn call(&mut self, message: Vec<u8>) -> Result<String, String> {
        if let Some(outcome) = &self.ended {
            return Err(failure_text(outcome));
        }
        let mut budget = self
            .budget
            .take()
            .expect("the peer's budget is held by no call");
        budget.resume();
        // Fresh streams each call; the run's result shows the last call's.
        self.output = OutputPipes::new(&self.request.limits);
        let cpu_started = crate::sandbox::thread_cpu_time();
        let (outcome, mut state) = self.runtime.run(Launch {
            program: &self.program,
            stdin: &self.request.stdin,
            output: &self.output,
            scratch: None,
            memory_limit_bytes: self.request.limits.memory_limit_bytes,
            budget,
            channel: Some(Channel::Peer {
                message,
                read: 0,
                answer: Vec::new(),
                limit: self.request.limits.stdout_limit_bytes,
                too_long: false,
            }),
        });
        self.cpu += crate::sandbox::thread_cpu_time().saturating_sub(cpu_started);
        state.budget.pause();
        self.budget = Some(std::mem::replace(
            &mut state.budget,
            Budget::paused(Duration::ZERO),
        ));
        self.memory.peak_memory_bytes = self
            .memory
            .peak_memory_bytes
            .max(state.limiter.peak_memory_bytes);
        self.memory.memory_limit_hit |= state.limiter.memory_limit_hit;
        let outcome = with_memory_limit(outcome, &state.limiter);
        let answered = matches!(outcome, Outcome::Finished | Outcome::Exited { code: 0 });
        if !answered {
            let text = failure_text(&outcome);
            self.ended = Some(outcome);
            return Err(text);
        }
        let Some(Channel::Peer {
            answer, too_long, ..
        }) = state.channel.take()
        else {
            return Err("no-handler".into());
        };
        if too_long {
            return Err("too-long".into());
        }
        // The answer is the peer's own writing: invalid UTF-8 is replaced, never refused.
        let answer = String::from_utf8_lossy(&answer);
        // QuickJS throws when it runs out of memory, which the program may catch and answer
        // anyway: a call that hit the cap ran out of memory, which ends the peer as it would
        // end a program.
        if state.limiter.memory_limit_hit {
            self.ended = Some(Outcome::MemoryLimit);
            return Err(failure_text(&Outcome::MemoryLimit));
        }
        match answer.chars().next() {
            Some('o') => Ok(answer[1..].to_string()),
            Some('r') => Err(format!("raised: {}", &answer[1..])),
            _ => Err("no-handler".into()),
        }
    }

    pub(crate) fn into_result(self) -> RunResult {
        let charged = self.budget.as_ref().map_or(Duration::ZERO, Budget::spent);
        let verdict = Verdict {
            outcome: self.ended.unwrap_or(Outcome::Finished),
            part: None,
        };
        self.output
            .into_result(verdict, &self.memory, charged, self.cpu)
    }
}

/// Takes the run's peer back out of the main instance's state.
pub(crate) fn take_peer(state: &mut JavascriptState) -> Option<Box<JsPeer>> {
    match state.channel.take() {
        Some(Channel::Main { peer, .. }) => Some(peer),
        other => {
            state.channel = other;
            None
        }
    }
}

/// `fd_write` on [`PEER_FD`]: the main instance's message, or the peer's answer.
pub(crate) fn write(
    caller: &mut Caller<'_, JavascriptState>,
    list: i32,
    count: i32,
    written: i32,
) -> i32 {
    let Some(memory) = guest_memory(caller) else {
        return ERRNO_FAULT;
    };
    let (data, state) = memory.data_and_store_mut(&mut *caller);
    let bytes = match gather(data, list, count) {
        Ok(bytes) => bytes,
        Err(errno) => return errno,
    };
    match &mut state.channel {
        Some(Channel::Main { outgoing, .. }) => {
            if outgoing.len() + bytes.len() > MESSAGE_LIMIT_BYTES {
                return ERRNO_NOSPC;
            }
            outgoing.extend_from_slice(&bytes);
        }
        Some(Channel::Peer {
            answer,
            limit,
            too_long,
            ..
        }) => {
            // Past the cap the answer is dropped (the call fails as too long), but the write
            // succeeds, so the guest does not loop retrying it.
            if answer.len() + bytes.len() > *limit {
                *too_long = true;
            } else {
                answer.extend_from_slice(&bytes);
            }
        }
        None => return ERRNO_FAULT,
    }
    store_count(data, written, bytes.len())
}

/// `fd_read` on [`PEER_FD`]: the peer's reply in the main instance (a read with none pending
/// makes the call), the message in the peer. The end of either reads as 0 bytes.
pub(crate) fn read(
    caller: &mut Caller<'_, JavascriptState>,
    list: i32,
    count: i32,
    done: i32,
) -> i32 {
    let Some(memory) = guest_memory(caller) else {
        return ERRNO_FAULT;
    };
    let state = caller.data_mut();
    if let Some(Channel::Main {
        peer,
        outgoing,
        reply,
    }) = &mut state.channel
    {
        if reply.is_none() {
            let message = std::mem::take(outgoing);
            // This instance waits while the peer works: its clock stops meanwhile.
            state.budget.pause();
            let answer = peer.call(message);
            state.budget.resume();
            let (tag, text) = match answer {
                Ok(text) => (b'o', text),
                Err(why) => (b'e', why),
            };
            let mut bytes = Vec::with_capacity(1 + text.len());
            bytes.push(tag);
            bytes.extend_from_slice(text.as_bytes());
            *reply = Some((bytes, 0));
        }
    }
    let (data, state) = memory.data_and_store_mut(&mut *caller);
    let (source, position) = match &mut state.channel {
        Some(Channel::Main { reply, .. }) => match reply {
            Some((bytes, position)) => (&bytes[..], position),
            None => return store_count(data, done, 0),
        },
        Some(Channel::Peer { message, read, .. }) => (&message[..], read),
        None => return ERRNO_FAULT,
    };
    let (copied, asked) = match scatter(data, list, count, &source[*position..]) {
        Ok(counts) => counts,
        Err(errno) => return errno,
    };
    *position += copied;
    // The reply read to its end (a read that finds nothing left): the next read is a new call.
    if copied == 0 && asked > 0 {
        if let Some(Channel::Main { reply, .. }) = &mut state.channel {
            *reply = None;
        }
    }
    store_count(data, done, copied)
}
