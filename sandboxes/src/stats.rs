//! Counters a pool keeps about itself, for whoever runs it to publish (the verifier's
//! `/metrics`): workers busy, jobs waiting for a worker, the time they waited, and workers
//! started to replace one that died, failed or hung. Plain atomics: this crate does not know
//! which metrics library, if any, reads them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Live counters of one pool. Share it with [`PoolConfig::with_stats`](crate::PoolConfig) and
/// read it with [`PoolStats::snapshot`] at any time.
#[derive(Debug, Default)]
pub struct PoolStats {
    workers: AtomicU64,
    busy: AtomicU64,
    queued: AtomicU64,
    jobs: AtomicU64,
    wait_micros: AtomicU64,
    restarts: AtomicU64,
}

/// What [`PoolStats`] held at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PoolSnapshot {
    /// Worker slots the pool runs (0 until the pool has started).
    pub workers: u64,
    /// Slots running a job now.
    pub busy: u64,
    /// Jobs sent to the pool and not yet taken by a worker slot.
    pub queued: u64,
    /// Jobs taken by a worker slot since the start.
    pub jobs: u64,
    /// Time those jobs waited for a worker slot, in total.
    pub wait_seconds: f64,
    /// Worker processes started after the pool's start, to replace one that died, failed or
    /// hung (or that could not start).
    pub restarts: u64,
}

impl PoolStats {
    pub fn snapshot(&self) -> PoolSnapshot {
        PoolSnapshot {
            workers: self.workers.load(Ordering::Relaxed),
            busy: self.busy.load(Ordering::Relaxed),
            queued: self.queued.load(Ordering::Relaxed),
            jobs: self.jobs.load(Ordering::Relaxed),
            wait_seconds: self.wait_micros.load(Ordering::Relaxed) as f64 / 1e6,
            restarts: self.restarts.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn started(&self, workers: usize) {
        self.workers.store(workers as u64, Ordering::Relaxed);
    }

    pub(crate) fn enqueued(&self) {
        self.queued.fetch_add(1, Ordering::Relaxed);
    }

    /// A job that was enqueued and will never be taken (the pool had shut down).
    pub(crate) fn dropped(&self) {
        self.queued.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn taken(&self, waited: Duration) {
        self.queued.fetch_sub(1, Ordering::Relaxed);
        self.jobs.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
        self.wait_micros.fetch_add(micros, Ordering::Relaxed);
        self.busy.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn finished(&self) {
        self.busy.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn restarted(&self) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_moves_from_queued_to_busy_to_done() {
        let stats = PoolStats::default();
        stats.started(2);
        stats.enqueued();
        assert_eq!(stats.snapshot().queued, 1);
        stats.taken(Duration::from_millis(250));
        let during = stats.snapshot();
        assert_eq!((during.queued, during.busy, during.jobs), (0, 1, 1));
        assert!((during.wait_seconds - 0.25).abs() < 1e-9);
        stats.finished();
        stats.restarted();
        let after = stats.snapshot();
        assert_eq!((after.workers, after.busy, after.restarts), (2, 0, 1));
    }
}
