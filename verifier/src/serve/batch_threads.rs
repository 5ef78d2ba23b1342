//! The threads that serve grading requests: a request's body is parsed, its samples admitted,
//! graded, and its answer rendered and freed, all on one of these threads, and the thread that
//! went idle last takes the next request. (A small request of linear-time samples, alone in
//! flight, is graded on the event loop's thread instead, see `handlers::grade_batch`; a small
//! body of other samples may be parsed there and graded here, which alone changed nothing
//! measurable, below.)
//!
//! Why not tokio's blocking pool: it wakes its idle threads in turn, so consecutive requests
//! landed on different threads (three, in turn, under one client's sequential batches), each
//! with its own malloc arena gone cold since its last request, and the body was parsed on the
//! event loop's thread, so every sample was allocated in one arena and graded and freed in
//! another. The same instructions (callgrind: 1.13 G against `verifier grade`'s 1.17 G for the
//! same 7,680 IFEval samples) then took ~20% more CPU than `grade` (perf: malloc's own
//! functions 2-3x their time in `grade`). Parsing on the grading thread alone, or one thread
//! alone, changed nothing measurable; both together, here: 542 against 703 ms of server CPU per
//! 30,720 IFEval samples in 256-sample batches (medians of eight alternated runs).
//!
//! There is no bound here: a job holds a request slot (`--max-requests`) until its answer goes
//! out, and its thread is idle again just after, so there are at most about twice as many threads
//! as slots (a new request can take a slot in that gap and start a thread; red team: 6 threads
//! for 4 slots under 8 clients). What a job leaves to free (a batch's samples and results) is
//! freed once its thread is back among the idle ones, so that gap is short and a request that
//! follows at once still finds the thread it ran on. An idle thread exits after [`IDLE_EXIT`].

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// A job, returning what it leaves to free (see the module doc).
type Job = Box<dyn FnOnce() -> Box<dyn Send> + Send>;

/// How long a thread waits for work before it exits (tokio's blocking pool waits as long).
const IDLE_EXIT: Duration = Duration::from_secs(10);

#[derive(Default)]
pub struct BatchThreads {
    /// Idle threads, the one idle longest first.
    idle: Arc<Mutex<Vec<IdleThread>>>,
    next_id: AtomicU64,
}

/// A thread waiting for a job on `jobs`.
struct IdleThread {
    id: u64,
    jobs: mpsc::Sender<Job>,
}

impl BatchThreads {
    /// Runs `job` on the thread that went idle last, or on a new thread when none is idle; what
    /// it returns is dropped once that thread is idle again. A panic in `job` ends the job, not
    /// the thread. Fails only when no thread can be started.
    pub fn run<L: Send + 'static>(
        &self,
        job: impl FnOnce() -> L + Send + 'static,
    ) -> std::io::Result<()> {
        let mut job: Job = Box::new(move || Box::new(job()) as Box<dyn Send>);
        loop {
            let Some(thread) = self.idle_list().pop() else {
                return self.spawn(job);
            };
            // A thread leaves the list before it exits, so one taken from it is waiting; were
            // it gone, the job comes back and the next idle thread (or a new one) gets it.
            match thread.jobs.send(job) {
                Ok(()) => return Ok(()),
                Err(mpsc::SendError(returned)) => job = returned,
            }
        }
    }

    fn idle_list(&self) -> std::sync::MutexGuard<'_, Vec<IdleThread>> {
        // The list stays consistent under a panic (pushes and removals only).
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn spawn(&self, first: Job) -> std::io::Result<()> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let idle = self.idle.clone();
        std::thread::Builder::new()
            .name("batch".into())
            .spawn(move || {
                let (sender, jobs) = mpsc::channel::<Job>();
                let mut job = first;
                loop {
                    // A panicking job has already answered its request (its sender dropped).
                    let leftovers = std::panic::catch_unwind(AssertUnwindSafe(job));
                    let idle_list = || idle.lock().unwrap_or_else(PoisonError::into_inner);
                    idle_list().push(IdleThread {
                        id,
                        jobs: sender.clone(),
                    });
                    // A panic while freeing them costs nothing more than the job's own would.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(move || drop(leftovers)));
                    job = match jobs.recv_timeout(IDLE_EXIT) {
                        Ok(next) => next,
                        Err(RecvTimeoutError::Timeout) => {
                            let mut list = idle_list();
                            if let Some(at) = list.iter().position(|t| t.id == id) {
                                list.remove(at);
                                return;
                            }
                            drop(list);
                            // Taken from the list just now: its job is on the way.
                            match jobs.recv() {
                                Ok(next) => next,
                                Err(_) => return,
                            }
                        }
                        // This thread holds a sender, so the channel cannot close.
                        Err(RecvTimeoutError::Disconnected) => return,
                    };
                }
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    fn thread_id_of_a_job(threads: &BatchThreads) -> std::thread::ThreadId {
        let idle_before = threads.idle_list().len().max(1);
        let (sender, receiver) = channel();
        threads
            .run(move || sender.send(std::thread::current().id()).unwrap())
            .unwrap();
        let id = receiver.recv().unwrap();
        // Until the thread is back on the idle list.
        while threads.idle_list().len() < idle_before {
            std::thread::yield_now();
        }
        id
    }

    #[test]
    fn one_request_after_another_runs_on_one_thread() {
        let threads = BatchThreads::default();
        let first = thread_id_of_a_job(&threads);
        for _ in 0..20 {
            assert_eq!(thread_id_of_a_job(&threads), first);
        }
    }

    #[test]
    fn concurrent_jobs_get_threads_of_their_own_and_the_last_idle_takes_the_next() {
        let threads = BatchThreads::default();
        let (started, started_rx) = channel();
        let mut releases = Vec::new();
        for job in 0..3 {
            let (release, wait) = channel::<()>();
            releases.push(release);
            let started = started.clone();
            threads
                .run(move || {
                    started.send((job, std::thread::current().id())).unwrap();
                    wait.recv().unwrap();
                })
                .unwrap();
        }
        let mut ids = vec![None; 3];
        for _ in 0..3 {
            let (job, id) = started_rx.recv().unwrap();
            ids[job] = Some(id);
        }
        let ids: Vec<_> = ids.into_iter().map(Option::unwrap).collect();
        assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
        // Released 2, 0, 1: job 1's thread went idle last.
        for job in [2, 0, 1] {
            let before = threads.idle_list().len();
            releases[job].send(()).unwrap();
            while threads.idle_list().len() == before {
                std::thread::yield_now();
            }
        }
        assert_eq!(thread_id_of_a_job(&threads), ids[1]);
        assert_eq!(threads.idle_list().len(), 3);
    }

    #[test]
    fn what_a_job_leaves_is_freed_once_its_thread_is_idle_again() {
        /// Sends, when dropped, how many threads were idle then.
        struct Leftovers(Arc<BatchThreads>, std::sync::mpsc::Sender<usize>);
        impl Drop for Leftovers {
            fn drop(&mut self) {
                self.1.send(self.0.idle_list().len()).unwrap();
            }
        }
        let threads = Arc::new(BatchThreads::default());
        let (sender, idle_when_freed) = channel();
        let handle = threads.clone();
        threads.run(move || Leftovers(handle, sender)).unwrap();
        assert_eq!(idle_when_freed.recv().unwrap(), 1);
    }

    #[test]
    fn a_panicking_job_leaves_its_thread_serving() {
        let threads = BatchThreads::default();
        let first = thread_id_of_a_job(&threads);
        threads.run(|| panic!("a grader bug")).unwrap();
        while threads.idle_list().is_empty() {
            std::thread::yield_now();
        }
        assert_eq!(thread_id_of_a_job(&threads), first);
    }
}
