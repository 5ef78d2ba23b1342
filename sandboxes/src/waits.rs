//! Waits cut to the time left. The epoch interrupts only running code: a guest blocked in the
//! host (`time.sleep(10**6)`, `os.sleep(1e9)`, an `os.setTimeout` event loop waiting) would hold
//! its worker past the limit until the pool's watchdog killed it, which reads as a sandbox
//! failure. So every wait ends by the instance's budget:
//!
//! - Python (WASI 0.2): [`CappedClock`], WASI's monotonic clock with every subscription cut to
//!   the time left (plus a tick, so that the limit has passed when the guest wakes).
//! - QuickJS (WASI preview 1): [`poll_oneoff`] replaces wasmtime's, which offers no hook for its
//!   clock (QuickJS's waits are relative clock subscriptions): it sleeps until the earliest clock
//!   subscription or the budget's end, whichever comes first, and a wait the budget cut short
//!   ends the run at its time limit.

use std::time::Duration;

use wasmtime::component::{HasData, Resource};
use wasmtime::{Caller, Trap};
use wasmtime_wasi::clocks::WasiClocksCtxView;
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;
use wasmtime_wasi::p2::DynPollable;

use crate::budget::HasBudget;
use crate::engine::EPOCH_TICK;
use crate::guest_io::{guest_memory, ERRNO_FAULT, ERRNO_INVAL, ERRNO_SUCCESS};

const SUBSCRIPTION_BYTES: usize = 48;
const EVENT_BYTES: usize = 32;
const EVENT_CLOCK: u8 = 0;
/// `subscription_clock.flags`: the timeout is an absolute time.
const ABSTIME: u16 = 1;

/// One subscription: its user data, and for a clock the relative wait (an absolute one, which
/// QuickJS does not use, is treated as due now).
struct Subscription {
    userdata: u64,
    /// The event type: clock, fd_read or fd_write.
    tag: u8,
    clock_wait: Option<Duration>,
}

pub fn poll_oneoff<T: HasBudget>(
    mut caller: Caller<'_, T>,
    subscriptions: i32,
    events: i32,
    count: i32,
    written: i32,
) -> wasmtime::Result<i32> {
    let Some(memory) = guest_memory(&mut caller) else {
        return Ok(ERRNO_FAULT);
    };
    let count = count as u32 as usize;
    if count == 0 {
        return Ok(ERRNO_INVAL);
    }
    let read = |data: &[u8], at: usize, len: usize| data.get(at..at + len).map(<[u8]>::to_vec);
    let data = memory.data(&caller);
    let mut subs = Vec::with_capacity(count);
    for index in 0..count {
        let at = subscriptions as u32 as usize + index * SUBSCRIPTION_BYTES;
        let Some(bytes) = read(data, at, SUBSCRIPTION_BYTES) else {
            return Ok(ERRNO_FAULT);
        };
        let word =
            |offset: usize| u64::from_le_bytes(bytes[offset..offset + 8].try_into().unwrap());
        let clock_wait = (bytes[8] == EVENT_CLOCK).then(|| {
            let flags = u16::from_le_bytes([bytes[40], bytes[41]]);
            if flags & ABSTIME != 0 {
                Duration::ZERO
            } else {
                Duration::from_nanos(word(24))
            }
        });
        subs.push(Subscription {
            userdata: word(0),
            tag: bytes[8],
            clock_wait,
        });
    }
    // Reading or writing a file descriptor never waits here (stdin is in memory, output is
    // captured): such subscriptions are ready at once; otherwise wait for the earliest clock.
    let any_fd = subs.iter().any(|s| s.clock_wait.is_none());
    let earliest = subs.iter().filter_map(|s| s.clock_wait).min();
    let mut due = Vec::new();
    if !any_fd {
        let wait = earliest.unwrap_or(Duration::ZERO);
        let left = caller.data().budget().left() + EPOCH_TICK;
        if wait > left {
            std::thread::sleep(left);
            return Err(Trap::Interrupt.into());
        }
        std::thread::sleep(wait);
        due.extend(subs.iter().filter(|s| s.clock_wait == Some(wait)));
    } else {
        due.extend(subs.iter().filter(|s| s.clock_wait.is_none()));
    }
    let data = memory.data_mut(&mut caller);
    for (index, sub) in due.iter().enumerate() {
        let at = events as u32 as usize + index * EVENT_BYTES;
        let Some(event) = data.get_mut(at..at + EVENT_BYTES) else {
            return Ok(ERRNO_FAULT);
        };
        event.fill(0);
        event[0..8].copy_from_slice(&sub.userdata.to_le_bytes());
        event[10] = sub.tag; // error 0, and the subscription's own type
    }
    let at = written as u32 as usize;
    let Some(slot) = data.get_mut(at..at + 4) else {
        return Ok(ERRNO_FAULT);
    };
    slot.copy_from_slice(&(due.len() as u32).to_le_bytes());
    Ok(ERRNO_SUCCESS)
}

/// WASI's monotonic clock with every wait cut to the instance's time left.
pub struct CappedClock<'a> {
    pub clocks: WasiClocksCtxView<'a>,
    pub left: Duration,
}

impl HasData for CappedClock<'static> {
    type Data<'a> = CappedClock<'a>;
}

impl monotonic_clock::Host for CappedClock<'_> {
    fn now(&mut self) -> wasmtime::Result<u64> {
        monotonic_clock::Host::now(&mut self.clocks)
    }

    fn resolution(&mut self) -> wasmtime::Result<u64> {
        monotonic_clock::Host::resolution(&mut self.clocks)
    }

    fn subscribe_instant(&mut self, when: u64) -> wasmtime::Result<Resource<DynPollable>> {
        let now = monotonic_clock::Host::now(&mut self.clocks)?;
        self.subscribe_duration(when.saturating_sub(now))
    }

    fn subscribe_duration(&mut self, duration: u64) -> wasmtime::Result<Resource<DynPollable>> {
        let cap = u64::try_from((self.left + EPOCH_TICK).as_nanos()).unwrap_or(u64::MAX);
        monotonic_clock::Host::subscribe_duration(&mut self.clocks, duration.min(cap))
    }
}
