//! Guest memory for the WASI preview-1 functions we answer ourselves, in front of wasmtime's
//! (QuickJS's `poll_oneoff`, and `fd_read`/`fd_write` of instances with a peer channel): the
//! errno values, the caller's memory, and iovec lists gathered and filled.

use wasmtime::{Caller, Extern, Memory};

pub(crate) const ERRNO_SUCCESS: i32 = 0;
pub(crate) const ERRNO_BADF: i32 = 8;
pub(crate) const ERRNO_FAULT: i32 = 21;
pub(crate) const ERRNO_INVAL: i32 = 28;
pub(crate) const ERRNO_NOSPC: i32 = 51;
pub(crate) const ERRNO_PIPE: i32 = 64;

/// The calling instance's linear memory.
pub(crate) fn guest_memory<T>(caller: &mut Caller<'_, T>) -> Option<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Some(memory),
        _ => None,
    }
}

/// The guest's iovecs, `(address, length)` each, each within memory; `None` if any is not.
fn iovecs(memory: &[u8], list: i32, count: i32) -> Option<Vec<(usize, usize)>> {
    let (list, count) = (list as u32 as usize, count as u32 as usize);
    let bytes = memory.get(list..list.checked_add(count.checked_mul(8)?)?)?;
    let mut out = Vec::with_capacity(count);
    for pair in bytes.chunks_exact(8) {
        let word = |at: usize| u32::from_le_bytes(pair[at..at + 4].try_into().unwrap()) as usize;
        let (at, len) = (word(0), word(4));
        if at.checked_add(len)? > memory.len() {
            return None;
        }
        out.push((at, len));
    }
    Some(out)
}

/// Everything an `fd_write`'s iovecs hold, in order, or `ERRNO_FAULT`.
pub(crate) fn gather(memory: &[u8], list: i32, count: i32) -> Result<Vec<u8>, i32> {
    let iovecs = iovecs(memory, list, count).ok_or(ERRNO_FAULT)?;
    let mut bytes = Vec::with_capacity(iovecs.iter().map(|(_, len)| len).sum());
    for (at, len) in iovecs {
        bytes.extend_from_slice(&memory[at..at + len]);
    }
    Ok(bytes)
}

/// Fills an `fd_read`'s iovecs from `source`: `(bytes copied, bytes asked for)`, or
/// `ERRNO_FAULT`.
pub(crate) fn scatter(
    memory: &mut [u8],
    list: i32,
    count: i32,
    source: &[u8],
) -> Result<(usize, usize), i32> {
    let iovecs = iovecs(memory, list, count).ok_or(ERRNO_FAULT)?;
    let (mut copied, mut asked) = (0, 0);
    for (at, len) in iovecs {
        asked += len;
        let n = len.min(source.len() - copied);
        memory[at..at + n].copy_from_slice(&source[copied..copied + n]);
        copied += n;
    }
    Ok((copied, asked))
}

/// Writes a function's `u32` result (bytes read or written) where the guest asked for it.
pub(crate) fn store_count(memory: &mut [u8], at: i32, count: usize) -> i32 {
    let at = at as u32 as usize;
    match memory.get_mut(at..at.saturating_add(4)) {
        Some(slot) => {
            slot.copy_from_slice(&(count as u32).to_le_bytes());
            ERRNO_SUCCESS
        }
        None => ERRNO_FAULT,
    }
}
