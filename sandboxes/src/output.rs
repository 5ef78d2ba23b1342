//! A run's standard output and error, kept in memory up to a cap.
//!
//! The two streams end differently at the cap. Standard output is what a program is judged
//! on, so a write past its cap fails (a flood of output ends the run at once, as an output
//! limit, instead of running to the time limit). Standard error is only diagnostics: a
//! program that writes much of it (debug prints, warnings in a loop) must not fail for it, so
//! past its cap writes succeed and are dropped, and the result says the stream was truncated.
//! With failing writes, an honest stdio program that printed 64 KiB of debug lines to stderr
//! died of a `BrokenPipeError` and scored 0 (red team).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

/// What a write past the cap does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PastTheCap {
    /// The write fails (the guest sees a closed pipe).
    Fails,
    /// The write succeeds and its bytes are dropped.
    IsDropped,
}

/// The most a guest may write in one call when its bytes are dropped past the cap: any
/// positive permit is correct, and this one keeps a guest's buffers small.
const DROPPING_PERMIT: usize = 64 << 10;

/// One in-memory output stream; clones share the buffer.
#[derive(Clone)]
pub(crate) struct CappedOutput {
    capacity: usize,
    past_the_cap: PastTheCap,
    buffer: Arc<Mutex<BytesMut>>,
    /// Set once a byte did not fit.
    overflowed: Arc<AtomicBool>,
}

impl CappedOutput {
    pub(crate) fn new(capacity: usize, past_the_cap: PastTheCap) -> Self {
        CappedOutput {
            capacity,
            past_the_cap,
            buffer: Arc::new(Mutex::new(BytesMut::new())),
            overflowed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The bytes kept so far.
    pub(crate) fn contents(&self) -> Bytes {
        self.lock().clone().freeze()
    }

    /// Whether a write was cut at the cap (or, for a failing stream, the cap was reached).
    pub(crate) fn truncated(&self) -> bool {
        self.overflowed.load(Ordering::Relaxed)
            || (self.past_the_cap == PastTheCap::Fails && self.lock().len() >= self.capacity)
    }

    /// How many bytes the next write may carry: what is left under the cap, or, for a
    /// dropping stream, always some (its writes never fail).
    pub(crate) fn permit(&self) -> Result<usize, StreamError> {
        let left = self.capacity.saturating_sub(self.lock().len());
        match self.past_the_cap {
            PastTheCap::IsDropped => Ok(left.max(DROPPING_PERMIT)),
            PastTheCap::Fails if left > 0 => Ok(left),
            PastTheCap::Fails => Err(StreamError::Closed),
        }
    }

    /// Keeps what fits of `bytes` and answers how many bytes the guest may count as written.
    pub(crate) fn keep(&self, bytes: &[u8]) -> Result<usize, StreamError> {
        let mut buffer = self.lock();
        let fits = bytes.len().min(self.capacity.saturating_sub(buffer.len()));
        buffer.extend_from_slice(&bytes[..fits]);
        if fits == bytes.len() {
            return Ok(fits);
        }
        self.overflowed.store(true, Ordering::Relaxed);
        match self.past_the_cap {
            PastTheCap::IsDropped => Ok(bytes.len()),
            PastTheCap::Fails if fits > 0 => Ok(fits),
            PastTheCap::Fails => Err(StreamError::Closed),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BytesMut> {
        // A panic while holding this lock cannot leave the buffer half-written in a way that
        // matters: the bytes are diagnostics or a result that is being thrown away.
        self.buffer
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

#[async_trait::async_trait]
impl Pollable for CappedOutput {
    async fn ready(&mut self) {}
}

impl OutputStream for CappedOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        let fits = self.permit()?;
        if bytes.len() > fits {
            return Err(StreamError::Trap(wasmtime::format_err!(
                "a write of {} bytes past a permit of {fits}",
                bytes.len()
            )));
        }
        self.keep(&bytes).map(|_| ())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.permit()
    }
}

impl AsyncWrite for CappedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(
            self.keep(buf)
                .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe)),
        )
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for CappedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_stream_keeps_what_fits_then_refuses() {
        let out = CappedOutput::new(4, PastTheCap::Fails);
        assert_eq!(out.keep(b"abc").unwrap(), 3);
        assert_eq!(out.keep(b"def").unwrap(), 1);
        assert!(out.keep(b"g").is_err());
        assert!(out.permit().is_err());
        assert_eq!(&out.contents()[..], b"abcd");
        assert!(out.truncated());
    }

    #[test]
    fn a_dropping_stream_accepts_everything_and_keeps_the_head() {
        let out = CappedOutput::new(4, PastTheCap::IsDropped);
        assert!(!out.truncated());
        for _ in 0..1000 {
            assert_eq!(out.keep(b"abc").unwrap(), 3);
        }
        assert!(out.permit().unwrap() > 0);
        assert_eq!(&out.contents()[..], b"abca");
        assert!(out.truncated());
    }

    #[test]
    fn a_stream_filled_exactly_is_not_truncated_when_it_drops() {
        let out = CappedOutput::new(3, PastTheCap::IsDropped);
        out.keep(b"abc").unwrap();
        assert!(!out.truncated());
        let failing = CappedOutput::new(3, PastTheCap::Fails);
        failing.keep(b"abc").unwrap();
        assert!(
            failing.truncated(),
            "a full failing stream refuses the next write"
        );
    }
}
