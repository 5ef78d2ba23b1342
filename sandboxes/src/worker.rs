//! The worker process: loads the runtimes once, then serves runs one at a time over its
//! standard input and output. The pool starts one per core.
//!
//! Protocol: the worker writes [`READY_MAGIC`] when it can take work (anything before it, such
//! as a test harness's banner, is skipped by the pool). Then each request and each reply is a
//! frame: a little-endian `u32` length and that many bytes of JSON ([`RunRequest`] in,
//! [`RunResult`] out); the worker answers [`JOB_TAKEN`] as soon as it has read a request, before
//! running it. End of input ends the worker.

use std::io::{Read, Write};

use crate::request::{RunRequest, RunResult};
use crate::sandbox::Sandbox;
use crate::setup::RuntimeFiles;

/// The hidden command-line argument on which a binary should call [`worker_main`].
pub const WORKER_ARG: &str = "__sandbox-worker";

/// Set by the pool in every worker's environment: the JSON of the [`RuntimeFiles`] to load.
pub const WORKER_ENV: &str = "SANDBOXES_WORKER_RUNTIMES";

/// Written by a worker once it is ready to serve.
pub const READY_MAGIC: &[u8] = b"\n\0sandboxes-worker-ready-v1\0\n";

/// Written by a worker as soon as it has read a request, before running it.
pub const JOB_TAKEN: u8 = 0x06;

/// Largest request frame a worker accepts; guards against a corrupted length prefix.
pub const MAX_FRAME_BYTES: usize = 256 << 20;

/// Runs the worker loop on this process's stdin and stdout; returns the process exit code.
/// A binary calls this when started with [`WORKER_ARG`] (and only then).
pub fn worker_main() -> i32 {
    // The whole loop on one thread with room for guests' stacks, rather than a thread a run.
    let served = crate::sandbox::on_run_thread(serve).unwrap_or_else(|e| Err(e.into()));
    match served {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("sandboxes worker: {error:#}");
            1
        }
    }
}

fn serve() -> anyhow::Result<()> {
    let mut sandbox = match std::env::var(WORKER_ENV) {
        Ok(json) => Sandbox::load(&serde_json::from_str::<RuntimeFiles>(&json)?)?,
        Err(_) => Sandbox::new()?,
    };
    // SAFETY: this loop is the process's only user of the sandbox, one request at a time.
    unsafe { sandbox.restore_written_pages_after_runs() };
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut output = stdout.lock();
    output.write_all(READY_MAGIC)?;
    output.flush()?;
    while let Some(frame) = read_frame(&mut input)? {
        // Says "taken" before running, so the pool can tell a job that never started (a worker
        // stopped or wedged while idle) from one that ran, and retry only the first.
        output.write_all(&[JOB_TAKEN])?;
        output.flush()?;
        let result = match serde_json::from_slice::<RunRequest>(&frame) {
            Ok(request) => sandbox.run(&request),
            Err(error) => RunResult::error(format!("malformed request to the worker: {error}")),
        };
        write_frame(&mut output, &serde_json::to_vec(&result)?)?;
    }
    Ok(())
}

/// Reads one frame; `None` at a clean end of input.
pub(crate) fn read_frame(input: &mut impl Read) -> std::io::Result<Option<Vec<u8>>> {
    let mut length = [0u8; 4];
    match input.read_exact(&mut length) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error),
    }
    let length = u32::from_le_bytes(length) as usize;
    if length > MAX_FRAME_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut frame = vec![0; length];
    input.read_exact(&mut frame)?;
    Ok(Some(frame))
}

pub(crate) fn write_frame(output: &mut impl Write, frame: &[u8]) -> std::io::Result<()> {
    let length = u32::try_from(frame.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "frame too large"))?;
    output.write_all(&length.to_le_bytes())?;
    output.write_all(frame)?;
    output.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_end_cleanly() {
        let mut buffer = Vec::new();
        write_frame(&mut buffer, b"{\"a\":1}").unwrap();
        write_frame(&mut buffer, b"").unwrap();
        let mut reader = buffer.as_slice();
        assert_eq!(read_frame(&mut reader).unwrap().unwrap(), b"{\"a\":1}");
        assert_eq!(read_frame(&mut reader).unwrap().unwrap(), b"");
        assert!(read_frame(&mut reader).unwrap().is_none());
    }
}
