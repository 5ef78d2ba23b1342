//! The grading engine shared by `verifier grade` and `verifier serve`: parses raw samples, grades
//! each distinct (task, completion) pair once, runs the graders on a CPU pool with a deadline per
//! sample, applies group-relative shaping, and returns results in input order.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::Hasher;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use graders::{GradeContext, GradeResult, Registry, Sample, SampleError};
use rayon::prelude::*;

use crate::fair_queue::{Client, FairQueue, LOCAL};

thread_local! {
    /// Set by [`Engine::on_this_thread`]: every step runs on the calling thread.
    static ON_THIS_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Samples per rayon task: small enough to balance two cores, large enough that scheduling
/// costs nothing next to a few microseconds of grading each.
const PARALLEL_CHUNK: usize = 64;

/// About how long one turn of a served batch's grading holds the pool (see
/// [`Engine::map_in_turns`]).
const ROUND_TARGET: Duration = Duration::from_millis(10);

/// One sandboxed sample to grade, with where its result goes.
type SandboxJob = Box<dyn FnOnce() + Send>;

pub struct Engine {
    registry: Arc<Registry>,
    /// Pure graders (microseconds a sample).
    pool: rayon::ThreadPool,
    /// Samples that run in the sandboxes (seconds a sample, mostly waiting on a worker
    /// process), taken one at a time by one thread per sandbox worker, requests in turn: each
    /// such sample reaches a free worker whatever its batch's size, its deadline starts when a
    /// worker takes it, a small request waits behind one sample of each request ahead of it
    /// (not behind all their samples), and sandbox work never occupies the pure graders' threads.
    sandbox_queue: Arc<FairQueue<SandboxJob>>,
    jobs: usize,
    /// Small batches being graded on their callers' threads now (see [`Engine::map`]).
    inline_batches: std::sync::atomic::AtomicUsize,
    /// One lane per client (by a seeded hash): a client's turns on the pool go one at a time,
    /// so one client with many requests in flight gets one share, not one a request.
    turn_lanes: TurnLanes,
    deadlines: Deadlines,
}

/// Lanes that clients' turns take (see [`Engine::map_in_turns`]): each lane holds as many
/// places as the pool has threads. A large batch's turn spreads over every thread and takes
/// them all; a small one's (one chunk or less, most often one sample) takes one. So a client
/// has at most the pool's worth of turns queued, however it splits its work: splitting it into
/// small concurrent batches got a client one share per request (8 of them: another client's
/// slow batch took 9x as long as alone, red team), while its concurrent single-sample requests
/// still run side by side (one place each; with a whole lane each, `load_mix`'s math p99 rose
/// from ~17 to 67 ms). Two clients whose hashes meet share a lane: it costs each some of its
/// share, never correctness; the seed is per process, so a client cannot choose to meet another.
struct TurnLanes {
    lanes: Box<[Lane]>,
    places: usize,
    hasher: foldhash::fast::RandomState,
}

#[derive(Default)]
struct Lane {
    taken: std::sync::Mutex<usize>,
    freed: std::sync::Condvar,
}

/// Places taken in a lane, given back when dropped.
struct LanePlaces<'a> {
    lane: &'a Lane,
    count: usize,
}

impl TurnLanes {
    fn new(places: usize) -> Self {
        TurnLanes {
            lanes: (0..256).map(|_| Lane::default()).collect(),
            places: places.max(1),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    /// The lane `client`'s turns take.
    fn lane_of(&self, client: Client) -> &Lane {
        use std::hash::BuildHasher;
        &self.lanes[self.hasher.hash_one(client) as usize % self.lanes.len()]
    }

    /// Waits for `client`'s lane to have room for a turn of `items` samples, and takes it.
    fn of(&self, client: Client, items: usize) -> LanePlaces<'_> {
        let lane = self.lane_of(client);
        let count = if items > PARALLEL_CHUNK {
            self.places
        } else {
            1
        };
        let mut taken = lane.taken.lock().unwrap_or_else(|e| e.into_inner());
        while *taken + count > self.places {
            taken = lane.freed.wait(taken).unwrap_or_else(|e| e.into_inner());
        }
        *taken += count;
        LanePlaces { lane, count }
    }
}

impl Drop for LanePlaces<'_> {
    fn drop(&mut self) {
        let mut taken = self.lane.taken.lock().unwrap_or_else(|e| e.into_inner());
        *taken -= self.count;
        self.lane.freed.notify_all();
    }
}

/// One count in [`Engine::map`]'s batches on callers' threads, given back when dropped (a
/// grader that panics included).
struct InlinePlace<'a> {
    count: &'a std::sync::atomic::AtomicUsize,
    running_before: usize,
}

impl<'a> InlinePlace<'a> {
    fn take(count: &'a std::sync::atomic::AtomicUsize) -> InlinePlace<'a> {
        let running_before = count.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        InlinePlace {
            count,
            running_before,
        }
    }
}

impl Drop for InlinePlace<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// A sample's deadline: the client's `limits.timeout_ms` up to `max`, else `default`.
#[derive(Clone, Copy)]
struct Deadlines {
    default: Duration,
    max: Duration,
}

/// Results in input order, with the task kind of each (for metrics; `None` when the sample did
/// not parse, `unknown` for a kind no grader owns, so labels stay bounded).
pub struct Graded {
    pub results: Vec<GradeResult>,
    pub kinds: Vec<Option<Cow<'static, str>>>,
    /// The batch's samples, freed with the results: where a `Graded` is dropped decides which
    /// thread frees them (see [`Engine::grade_samples`]).
    pub(crate) _samples: Option<Arc<Vec<Result<Sample, SampleError>>>>,
}

impl Graded {
    /// The results and the samples they are for, index for index (`None` for an unparsed one).
    pub fn into_results_and_samples(
        self,
    ) -> (Vec<GradeResult>, Arc<Vec<Result<Sample, SampleError>>>) {
        (self.results, self._samples.unwrap_or_default())
    }
}

impl Engine {
    pub fn new(
        registry: Registry,
        jobs: usize,
        default_timeout: Duration,
    ) -> anyhow::Result<Engine> {
        let jobs = jobs.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .thread_name(|i| format!("grader-{i}"))
            .build()?;
        // The sandbox pool starts one worker process per core (`sandboxes::PoolConfig`).
        let sandbox_queue = Arc::new(FairQueue::<SandboxJob>::new());
        for i in 0..crate::default_jobs() {
            let queue = sandbox_queue.clone();
            std::thread::Builder::new()
                .name(format!("sandboxed-{i}"))
                .spawn(move || {
                    while let Some(job) = queue.pop() {
                        job();
                    }
                })?;
        }
        Ok(Engine {
            registry: Arc::new(registry),
            pool,
            sandbox_queue,
            jobs,
            inline_batches: std::sync::atomic::AtomicUsize::new(0),
            turn_lanes: TurnLanes::new(jobs),
            deadlines: Deadlines {
                default: default_timeout,
                max: default_timeout.max(Duration::from_secs(60)),
            },
        })
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn jobs(&self) -> usize {
        self.jobs
    }

    /// Runs `work` on the engine's pool and waits for it (for parallel work around grading).
    pub fn install<R: Send>(&self, work: impl FnOnce() -> R + Send) -> R {
        self.pool.install(work)
    }

    /// Queues `job` for the sandbox threads as a request of its own, taking turns with the
    /// sandboxed samples of grading requests (`POST /run_code`: run past the queue, eight slow
    /// runs of one client held every worker while a one-sample code grade waited 23 s).
    pub fn queue_sandbox_job(&self, client: Client, job: impl FnOnce() + Send + 'static) {
        self.sandbox_queue
            .push_request(client, [Box::new(job) as SandboxJob]);
    }

    /// Runs `work` with every grading step of this thread's batches on this thread, not the
    /// pool (sandboxed samples still go to the sandbox threads). For callers that keep their
    /// own threads busy with whole batches, as `verifier grade` does with chunks: each batch's
    /// memory is then allocated and freed by one thread.
    pub fn on_this_thread<R>(&self, work: impl FnOnce() -> R) -> R {
        /// Puts the thread's setting back when dropped, a panic in `work` included.
        struct Restore(bool);
        impl Drop for Restore {
            fn drop(&mut self) {
                ON_THIS_THREAD.set(self.0);
            }
        }
        let _restore = Restore(ON_THIS_THREAD.replace(true));
        work()
    }

    /// `f(i, item)` for every item, in order: on the engine's pool in chunks, or on this thread
    /// for a batch of one chunk or less, which runs on one thread either way. Handing such a
    /// batch to the pool and back cost two thread switches and the pool's spinning, three
    /// times a batch: 213 µs of server CPU per single-sample request on the keep-alive path
    /// (`verifier bench io`), mostly scheduler time (perf). At most `--jobs` batches run on
    /// callers' threads at once; past that they queue on the pool as large ones do, so that many
    /// small requests cannot time-slice every sample past its deadline.
    fn map<T: Sync, R: Send>(&self, items: &[T], f: impl Fn(usize, &T) -> R + Sync) -> Vec<R> {
        if ON_THIS_THREAD.get() {
            return items
                .iter()
                .enumerate()
                .map(|(i, item)| f(i, item))
                .collect();
        }
        if items.len() <= PARALLEL_CHUNK {
            let place = InlinePlace::take(&self.inline_batches);
            if place.running_before < self.jobs {
                return items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| f(i, item))
                    .collect();
            }
            drop(place);
        }
        self.pool.install(|| {
            items
                .par_iter()
                .enumerate()
                .with_min_len(PARALLEL_CHUNK)
                .map(|(i, item)| f(i, item))
                .collect()
        })
    }

    /// [`Engine::map`] for the grading of a served client's batch, of any size: in turns of
    /// about [`ROUND_TARGET`]. The pool takes work first come, first served, and a batch handed
    /// over whole held every grading thread until it was done: 2,000 slow math samples kept
    /// other clients' requests waiting for seconds. Here each thread takes one sample at a time
    /// and gives the pool back once the turn's time is up; work that other requests queued
    /// meanwhile goes first, then the batch's next turn. A client's turns wait in its lane (at
    /// most the pool's worth at once), so the pool is shared by client, not by request. The
    /// first turn runs on the caller's thread when a place is free (see below). `verifier
    /// grade` (the one client, [`LOCAL`]) hands each chunk over whole, and a caller inside
    /// [`Engine::on_this_thread`] (`serve`'s small batches of linear-time samples) grades the
    /// batch where it is.
    ///
    /// `f` returns an item's result and, where it read the clock as its work ended, that time,
    /// which the turn takes as now instead of reading the clock once more (see [`one_turn`]).
    fn map_in_turns<T: Sync, R: Send>(
        &self,
        client: Client,
        items: &[T],
        f: impl Fn(usize, &T) -> (R, Option<Instant>) + Sync,
    ) -> Vec<R> {
        // On a caller's own thread (`on_this_thread`) there are no turns to take: the caller
        // keeps its thread busy with the whole batch.
        if client == LOCAL || ON_THIS_THREAD.get() {
            return self.map(items, |i, item| f(i, item).0);
        }
        let next = AtomicUsize::new(0);
        // The first turn on this thread, when one of the `--jobs` places for batches on callers'
        // threads is free: a batch that grades within it never goes to the pool, whose trips
        // (two thread switches each way and the pool's spinning after) cost a single-sample
        // request 213 µs of server CPU and a 256-sample format batch ~19% of it (perf, `--jobs
        // 1`). The places are their own resource, beside the pool's threads, so this turn takes
        // no lane: a client's concurrent small requests are graded side by side, as before. A
        // batch that outlasts its turn, small or large, takes its further turns on the pool:
        // a small one that had to queue there whole held the pool's thread for all its samples
        // (64 slow ones, 1.5 s) while other clients' turns waited behind it (red team).
        let first_turn = {
            let place = InlinePlace::take(&self.inline_batches);
            if place.running_before < self.jobs {
                one_turn(&next, items, &f, Instant::now())
            } else {
                Vec::new()
            }
        };
        // Most served batches end within that turn, their results already in order: they are
        // not moved through a second vector (a result is ~200 bytes).
        if first_turn.len() == items.len() {
            return first_turn.into_iter().map(|(_, result)| result).collect();
        }
        let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
        for (i, result) in first_turn {
            slots[i] = Some(result);
        }
        while next.load(Ordering::Relaxed) < items.len() {
            // This client's other requests wait here, off the pool, while its lane is full.
            let _lane = self.turn_lanes.of(client, items.len());
            let turn: Vec<Vec<(usize, R)>> = self.pool.install(|| {
                // The turn's time starts when the pool takes it, not when it was asked for: timed
                // from the request, a batch that waited a turn's length behind others graded one
                // sample a turn, so 100 cheap samples waited 2-3 s behind two clients' slow
                // batches (red team, `--jobs 1`).
                let began = Instant::now();
                (0..self.jobs)
                    .into_par_iter()
                    .map(|_| one_turn(&next, items, &f, began))
                    .collect()
            });
            for (i, result) in turn.into_iter().flatten() {
                slots[i] = Some(result);
            }
        }
        slots
            .into_iter()
            .map(|slot| slot.expect("every index is taken once"))
            .collect()
    }

    /// Parses and grades JSON texts, one sample each, for `client` (whose sandboxed samples take
    /// turns with other clients'). A text that does not parse becomes an `error` result whose
    /// message starts with `position(i)` (e.g. "line 17"). Blocks until the batch is graded:
    /// call it from a thread of the caller's (not one of the engine's).
    pub fn grade_texts(
        &self,
        client: Client,
        texts: &[&str],
        position: &(dyn Fn(usize) -> String + Sync),
    ) -> Graded {
        let parsed = self.map(texts, |_, text| Sample::from_json_str(text));
        self.grade_samples(client, parsed, position)
    }

    /// Grades samples already parsed (or built by a route from its own request shape); an
    /// `Err` becomes an `error` result whose message starts with `position(i)`. Blocks as
    /// [`Engine::grade_texts`] does.
    pub fn grade_samples(
        &self,
        client: Client,
        parsed: Vec<Result<Sample, SampleError>>,
        position: &(dyn Fn(usize) -> String + Sync),
    ) -> Graded {
        self.grade_samples_then(client, parsed, position, true)
    }

    /// [`Engine::grade_samples`] without the group pass: the deferred components of grouped
    /// samples stay placeholders, for a caller that forms groups across batches (`verifier
    /// grade`, whose chunks are not groups; see `group_runs.rs`).
    pub fn grade_samples_ungrouped(
        &self,
        client: Client,
        parsed: Vec<Result<Sample, SampleError>>,
        position: &(dyn Fn(usize) -> String + Sync),
    ) -> Graded {
        self.grade_samples_then(client, parsed, position, false)
    }

    fn grade_samples_then(
        &self,
        client: Client,
        parsed: Vec<Result<Sample, SampleError>>,
        position: &(dyn Fn(usize) -> String + Sync),
        group_pass: bool,
    ) -> Graded {
        // The sandbox threads are not scoped to this call: they share the samples by `Arc`.
        let parsed = Arc::new(parsed);
        // Hashing takes ~50 ns a sample: a trip to the pool for it costs more than it saves.
        let keys: Vec<Option<CacheKey>> = parsed
            .iter()
            .map(|p| p.as_ref().ok().map(CacheKey::of))
            .collect();
        let first_of = first_occurrences(&keys, &parsed);
        self.prepare_graders(&parsed);

        // First occurrences that run in the sandboxes are queued for the sandbox threads, one
        // sample a job; everything else is graded on the pure graders' pool in chunks, meanwhile.
        let sandboxed: Vec<usize> = (0..parsed.len())
            .filter(|&i| first_of[i].is_none())
            .filter(|&i| parsed[i].as_ref().is_ok_and(uses_sandbox))
            .collect();
        let sandboxed_results = self.queue_sandboxed(client, &parsed, &sandboxed);
        let mut results: Vec<Option<GradeResult>> =
            self.map_in_turns(client, &parsed, |i, sample| match (sample, first_of[i]) {
                (Err(err), _) => {
                    let message = format!("{}: {}", position(i), err.message);
                    (Some(GradeResult::error(err.id.clone(), message)), None)
                }
                (Ok(sample), None) if !uses_sandbox(sample) => {
                    let (result, ended) = grade_one_ended(&self.registry, self.deadlines, sample);
                    (Some(result), Some(ended))
                }
                (Ok(_), _) => (None, None),
            });
        // Ends when every job has sent its result (each holds a sender until it has run).
        for (i, result) in sandboxed_results {
            results[i] = Some(result);
        }
        for (i, first) in first_of.iter().enumerate() {
            if let (Some(first), Ok(sample)) = (first, &parsed[i]) {
                let first = results[*first].as_ref().expect("first occurrence graded");
                results[i] = Some(first.cached_copy(sample.id.clone(), sample.group_id.clone()));
            }
        }
        let mut results: Vec<GradeResult> = results.into_iter().map(Option::unwrap).collect();
        if group_pass {
            self.apply_group_rewards(&parsed, &mut results);
        }

        let kinds = parsed
            .iter()
            .map(|p| p.as_ref().ok().map(|s| self.kind_label(&s.task)))
            .collect();
        // The samples go with the results, to be freed where the caller drops them: `serve`
        // drops them once the answer is sent, `verifier grade` on the thread that parsed them.
        // (Freeing them on the pool instead cost a served batch a wake-up of a pool thread.)
        Graded {
            results,
            kinds,
            _samples: Some(parsed),
        }
    }

    /// The kind named in metrics: built-in kinds without an allocation a sample, `unknown` for
    /// a kind no grader owns (so labels stay bounded).
    fn kind_label(&self, task: &graders::Task) -> Cow<'static, str> {
        if self.registry.get(task.kind()).is_none() {
            return Cow::Borrowed("unknown");
        }
        match task.builtin_kind() {
            Some(kind) => Cow::Borrowed(kind),
            None => Cow::Owned(task.kind().to_string()),
        }
    }

    /// Lets each grader the batch needs do its one-off start-up (the code grader's sandboxes)
    /// before any deadline starts: a first batch must not time out while runtimes are set up.
    fn prepare_graders(&self, parsed: &[Result<Sample, SampleError>]) {
        // A batch holds a handful of kinds: a short list beats a set on this per-sample path.
        let mut prepared: Vec<&str> = Vec::new();
        let tasks = parsed
            .iter()
            .filter_map(|p| p.as_ref().ok())
            .flat_map(|s| std::iter::once(&s.task).chain(s.components.iter().map(|c| &c.task)));
        for task in tasks {
            let kind = task.kind();
            if prepared.contains(&kind) {
                continue;
            }
            prepared.push(kind);
            if let Some(grader) = self.registry.get(kind) {
                grader.prepare();
            }
        }
    }

    /// Queues the samples at `indices` for the sandbox threads as one request; their results
    /// arrive on the returned channel as `(index, result)`, in the order they finish.
    fn queue_sandboxed(
        &self,
        client: Client,
        parsed: &Arc<Vec<Result<Sample, SampleError>>>,
        indices: &[usize],
    ) -> mpsc::Receiver<(usize, GradeResult)> {
        let (sender, receiver) = mpsc::channel();
        let jobs: Vec<SandboxJob> = indices
            .iter()
            .map(|&i| {
                let (parsed, sender) = (parsed.clone(), sender.clone());
                let (registry, deadlines) = (self.registry.clone(), self.deadlines);
                Box::new(move || {
                    let sample = parsed[i].as_ref().expect("only parsed samples are queued");
                    // A panicking grader costs its sample, not the thread that serves everyone.
                    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        grade_one(&registry, deadlines, sample)
                    }))
                    .unwrap_or_else(|_| {
                        GradeResult::error(sample.id.clone(), "internal error: the grader panicked")
                    });
                    let _ = sender.send((i, result));
                }) as SandboxJob
            })
            .collect();
        self.sandbox_queue.push_request(client, jobs);
        receiver
    }

    fn apply_group_rewards(
        &self,
        parsed: &[Result<Sample, SampleError>],
        results: &mut [GradeResult],
    ) {
        let grouped: Vec<usize> = (0..parsed.len())
            .filter(|&i| matches!(&parsed[i], Ok(s) if s.group_id.is_some()))
            .collect();
        if grouped.is_empty() {
            return;
        }
        let samples: Vec<&Sample> = grouped
            .iter()
            .map(|&i| parsed[i].as_ref().expect("filtered to parsed samples"))
            .collect();
        let mut group_results: Vec<GradeResult> =
            grouped.iter().map(|&i| results[i].clone()).collect();
        graders::shaping::apply_group_rewards(&samples, &mut group_results);
        for (i, result) in grouped.into_iter().zip(group_results) {
            results[i] = result;
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Ends the sandbox threads (they wait on the queue otherwise).
        self.sandbox_queue.close();
    }
}

/// One thread's share of a turn (see [`Engine::map_in_turns`]): the next items not yet taken,
/// one at a time, until none is left or the turn that `began` has lasted [`ROUND_TARGET`].
/// An item that says when its work ended spares the turn a clock read: a graded sample reads
/// the clock as it starts and ends already, and a third read a sample was 1.5% of the server's
/// CPU on 256-sample format batches (perf, `--jobs 1`).
fn one_turn<T, R>(
    next: &AtomicUsize,
    items: &[T],
    f: &impl Fn(usize, &T) -> (R, Option<Instant>),
    began: Instant,
) -> Vec<(usize, R)> {
    // Room for a served batch's usual size at once, not grown from nothing by doubling (each
    // result is ~200 bytes, and every growth moved them all).
    let left = items.len().saturating_sub(next.load(Ordering::Relaxed));
    let mut graded = Vec::with_capacity(left.min(TURN_RESERVE));
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(item) = items.get(i) else { break };
        let (result, ended) = f(i, item);
        graded.push((i, result));
        let now = ended.unwrap_or_else(Instant::now);
        if now.saturating_duration_since(began) >= ROUND_TARGET {
            break;
        }
    }
    graded
}

/// Results a turn makes room for at its start (see [`one_turn`]).
const TURN_RESERVE: usize = 256;

/// Grades one sample; its deadline starts now.
fn grade_one(registry: &Registry, deadlines: Deadlines, sample: &Sample) -> GradeResult {
    grade_one_ended(registry, deadlines, sample).0
}

/// [`grade_one`], and about when it ended: its start plus its `elapsed_us` (within a
/// microsecond), with no clock read of its own.
fn grade_one_ended(
    registry: &Registry,
    deadlines: Deadlines,
    sample: &Sample,
) -> (GradeResult, Instant) {
    // One clock read starts both the deadline and the sample's `elapsed_us`.
    let now = Instant::now();
    let ctx = match sample.limits.timeout_ms {
        Some(ms) => {
            let allowance = Duration::from_millis(ms).min(deadlines.max);
            GradeContext {
                deadline: Some(now + allowance),
                client_allowance: Some(allowance),
            }
        }
        None => GradeContext::with_deadline(now + deadlines.default),
    };
    let result = graders::compose::grade_sample_since(registry, sample, &ctx, now);
    let ended = now + Duration::from_micros(result.elapsed_us);
    (result, ended)
}

/// Whether grading `sample` runs in the sandboxes (its task or a component is code or a
/// plugin, or of a kind no built-in knows, which only a plugin could grade).
fn uses_sandbox(sample: &Sample) -> bool {
    std::iter::once(&sample.task)
        .chain(sample.components.iter().map(|c| &c.task))
        .any(|task| matches!(task, graders::Task::Code(_) | graders::Task::Plugin { .. }))
}

/// What makes two samples grade the same, with their completions: everything but `id` and
/// `group_id`.
fn grading_inputs(sample: &Sample) -> impl serde::Serialize + '_ {
    (
        &sample.task,
        sample.weight,
        &sample.components,
        &sample.limits,
    )
}

/// A hash of what most often tells two samples apart: the completion, the task's kind and the
/// number of components. Two samples with the same key are compared in full (see
/// [`first_occurrences`]), so the key only has to make that rare between samples that differ:
/// serialising each task into the hasher, to hash every grading input, was 5% of `verifier
/// grade`'s instructions on format samples. The hasher is seeded per process; samples that
/// share a completion and a kind but not a task cost comparisons bounded by their own size
/// (see [`first_occurrences`]), never a wrong result.
struct CacheKey(u64);

static HASH_SEED: std::sync::LazyLock<foldhash::fast::RandomState> =
    std::sync::LazyLock::new(foldhash::fast::RandomState::default);

impl CacheKey {
    fn of(sample: &Sample) -> CacheKey {
        use std::hash::BuildHasher;
        let mut hasher = HASH_SEED.build_hasher();
        hasher.write(sample.task.kind().as_bytes());
        hasher.write_usize(sample.components.len());
        hasher.write(sample.completion.as_bytes());
        CacheKey(hasher.finish())
    }
}

/// Distinct samples kept per dedupe key: samples that share a completion and a kind but not a
/// task (the same short answer to different questions) each keep their own first occurrence,
/// up to this many.
const VARIANTS_PER_KEY: usize = 8;

/// A first occurrence that later samples with its key are compared with.
struct FirstOccurrence {
    index: usize,
    /// Its serialised grading inputs, made once, at the first comparison.
    inputs: Option<Vec<u8>>,
}

/// For each sample, the index of an earlier identical sample, if there is one. Samples whose
/// keys are equal are compared in full, so a collision can only cost a re-grade. What a client
/// can make collide (a shared completion and kind) costs each sample the serialisation of its
/// own grading inputs and at most [`VARIANTS_PER_KEY`] comparisons no longer than them, never
/// a serialisation of someone else's: a huge first task compared again for each of many small
/// samples would have cost their number times its size.
fn first_occurrences(
    keys: &[Option<CacheKey>],
    parsed: &[Result<Sample, SampleError>],
) -> Vec<Option<usize>> {
    // The keys are already seeded hashes: foldhash mixes them in a few instructions, where the
    // default SipHash was the largest part of this serial loop. A key's first occurrence is
    // kept inline and any others apart (a vector a key was 3% of `verifier grade`'s
    // instructions on format samples, where keys almost never repeat).
    let hasher = foldhash::fast::RandomState::default;
    let mut seen: HashMap<u64, FirstOccurrence, _> =
        HashMap::with_capacity_and_hasher(keys.len(), hasher());
    let mut more: HashMap<u64, Vec<FirstOccurrence>, _> = HashMap::with_hasher(hasher());
    let sample = |j: usize| parsed[j].as_ref().expect("keyed: parsed");
    let inputs = |j: usize| serde_json::to_vec(&grading_inputs(sample(j))).unwrap_or_default();
    keys.iter()
        .enumerate()
        .map(|(i, key)| {
            let key = key.as_ref()?.0;
            let first = match seen.entry(key) {
                std::collections::hash_map::Entry::Vacant(place) => {
                    place.insert(FirstOccurrence {
                        index: i,
                        inputs: None,
                    });
                    return None;
                }
                std::collections::hash_map::Entry::Occupied(first) => first.into_mut(),
            };
            let others = more.entry(key).or_default();
            let mut own_inputs = None;
            for variant in std::iter::once(first).chain(others.iter_mut()) {
                if sample(variant.index).completion != sample(i).completion {
                    continue;
                }
                let own = own_inputs.get_or_insert_with(|| inputs(i));
                let theirs = variant.inputs.get_or_insert_with(|| inputs(variant.index));
                if theirs == own {
                    return Some(variant.index);
                }
            }
            if others.len() + 1 < VARIANTS_PER_KEY {
                others.push(FirstOccurrence {
                    index: i,
                    inputs: own_inputs,
                });
            }
            None
        })
        .collect()
}

/// Status counts and mean reward over a run, for summaries.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub count: u64,
    pub reward_sum: f64,
    pub by_status: std::collections::BTreeMap<&'static str, u64>,
}

impl Tally {
    pub fn add(&mut self, result: &GradeResult) {
        self.count += 1;
        self.reward_sum += result.reward;
        *self.by_status.entry(result.status.as_str()).or_default() += 1;
    }

    /// Adds another tally's counts to this one.
    pub fn merge(&mut self, other: Tally) {
        self.count += other.count;
        self.reward_sum += other.reward_sum;
        for (status, n) in other.by_status {
            *self.by_status.entry(status).or_default() += n;
        }
    }

    pub fn mean_reward(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.reward_sum / self.count as f64
        }
    }

    pub fn summary(&self) -> String {
        let statuses: Vec<String> = self
            .by_status
            .iter()
            .map(|(status, n)| format!("{status} {n}"))
            .collect();
        format!(
            "{} samples: {}; mean reward {:.4}",
            self.count,
            if statuses.is_empty() {
                "none".to_string()
            } else {
                statuses.join(", ")
            },
            self.mean_reward()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fair_queue::LOCAL;
    use graders::Status;

    fn engine() -> Engine {
        Engine::new(Registry::with_builtins(), 2, Duration::from_secs(10)).unwrap()
    }

    /// A served batch waiting behind other clients' turns gets whole turns when its come: a
    /// turn's time starts when the pool takes it. Timed from the request instead, each turn of
    /// a batch that had waited graded one sample, so 100 cheap samples took 100 turns, 2-3 s
    /// behind two clients' slow batches (red team).
    #[test]
    fn a_batch_that_waited_for_the_pool_gets_whole_turns() {
        use std::sync::atomic::AtomicBool;
        let engine =
            Arc::new(Engine::new(Registry::with_builtins(), 1, Duration::from_secs(10)).unwrap());
        // Every place on callers' threads taken, so the batch goes to the pool's turns.
        let _place = InlinePlace::take(&engine.inline_batches);
        // Another client's turns, one after another, each a turn's length.
        let stop = Arc::new(AtomicBool::new(false));
        let others_turns = Arc::new(AtomicUsize::new(0));
        let other = {
            let (engine, stop, turns) = (engine.clone(), stop.clone(), others_turns.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    engine.pool.install(|| std::thread::sleep(ROUND_TARGET * 2));
                    turns.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        std::thread::sleep(ROUND_TARGET);
        let client: Client = "127.0.0.9".parse().unwrap();
        let items: Vec<usize> = (0..100).collect();
        let before = others_turns.load(Ordering::Relaxed);
        let graded = engine.map_in_turns(client, &items, |_, item| (item * 2, None));
        let waited_through = others_turns.load(Ordering::Relaxed) - before;
        stop.store(true, Ordering::Relaxed);
        other.join().unwrap();
        assert_eq!(graded, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!(
            waited_through <= 5,
            "100 cheap samples waited through {waited_through} of the other client's turns"
        );
    }

    /// A client's lane holds the pool's worth of turns: small turns side by side up to that,
    /// a large turn (which spreads over every thread) alone.
    #[test]
    fn a_clients_lane_holds_the_pools_worth_of_turns() {
        let lanes = TurnLanes::new(2);
        let a: Client = "127.0.0.9".parse().unwrap();
        let taken =
            |lanes: &TurnLanes, client: Client| *lanes.lane_of(client).taken.lock().unwrap();
        let first = lanes.of(a, 1);
        let second = lanes.of(a, 1);
        assert_eq!(taken(&lanes, a), 2);
        std::thread::scope(|scope| {
            let third = scope.spawn(|| drop(lanes.of(a, 1)));
            let large = scope.spawn(|| drop(lanes.of(a, PARALLEL_CHUNK + 1)));
            std::thread::sleep(ROUND_TARGET * 5);
            assert!(
                !third.is_finished() && !large.is_finished(),
                "the lane was full"
            );
            drop(first);
            third.join().unwrap();
            drop(second);
            large.join().unwrap();
        });
        assert_eq!(taken(&lanes, a), 0);
    }

    /// A small served batch that cannot be graded on its caller's thread takes turns on the
    /// pool like a large one: queued whole, 64 slow samples held the pool's one thread for all
    /// of them while other clients' turns waited (red team: 2.4 s; here 1.3 s).
    #[test]
    fn a_small_batch_on_the_pool_takes_turns_too() {
        let engine =
            Arc::new(Engine::new(Registry::with_builtins(), 1, Duration::from_secs(10)).unwrap());
        let _place = InlinePlace::take(&engine.inline_batches);
        let small = {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let client: Client = "127.0.0.9".parse().unwrap();
                let items: Vec<u64> = (0..PARALLEL_CHUNK as u64).collect();
                engine.map_in_turns(client, &items, |_, item| {
                    std::thread::sleep(Duration::from_millis(20));
                    (*item, None)
                })
            })
        };
        // Another client's short turns meanwhile: each waits at most about one of the small
        // batch's turns, not the whole batch (64 x 20 ms).
        std::thread::sleep(ROUND_TARGET);
        let mut longest_wait = Duration::ZERO;
        while !small.is_finished() {
            let asked = Instant::now();
            let waited = engine.pool.install(|| asked.elapsed());
            longest_wait = longest_wait.max(waited);
        }
        let graded = small.join().unwrap();
        assert_eq!(graded, (0..PARALLEL_CHUNK as u64).collect::<Vec<_>>());
        assert!(
            longest_wait < ROUND_TARGET * 60,
            "another client's turn waited {longest_wait:?} behind a 64-sample batch"
        );
    }

    #[test]
    fn identical_samples_are_graded_once_and_keep_their_own_ids() {
        let a =
            r#"{"id":1,"completion":"<think>x</think>y","task":{"kind":"format","style":"r1"}}"#;
        let b =
            r#"{"id":2,"completion":"<think>x</think>y","task":{"kind":"format","style":"r1"}}"#;
        let c = r#"{"id":3,"completion":"<think>x</think>y","task":{"kind":"format","style":"tag_count"}}"#;
        let graded = engine().grade_texts(LOCAL, &[a, b, c], &|i| format!("#{i}"));
        let r = &graded.results;
        assert_eq!(
            (r[0].cached, r[1].cached, r[2].cached),
            (false, true, false)
        );
        assert_eq!(r[1].id, serde_json::json!(2));
        assert_eq!(r[1].reward, r[0].reward);
        assert_eq!(r[2].components[0].name, "format:tag_count");
    }

    /// Samples that share a completion and a kind share a dedupe key: each distinct task among
    /// them is graded once, its copies served from it.
    #[test]
    fn one_completion_under_different_tasks_is_deduplicated_per_task() {
        let sample = |id: u32, style: &str| {
            format!(
                r#"{{"id":{id},"completion":"<think>x</think>y","task":{{"kind":"format","style":"{style}"}}}}"#
            )
        };
        let texts = [
            sample(0, "r1"),
            sample(1, "tag_count"),
            sample(2, "tag_count"),
            sample(3, "r1"),
            sample(4, "think_answer"),
        ];
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let graded = engine().grade_texts(LOCAL, &texts, &|i| format!("#{i}"));
        let cached: Vec<bool> = graded.results.iter().map(|r| r.cached).collect();
        assert_eq!(cached, [false, false, true, true, false]);
        let names: Vec<&str> = graded
            .results
            .iter()
            .map(|r| r.components[0].name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "format:r1",
                "format:tag_count",
                "format:tag_count",
                "format:r1",
                "format:think_answer"
            ]
        );
    }

    #[test]
    fn a_bad_sample_is_an_error_naming_its_position_and_field_and_spoils_nothing() {
        let good =
            r#"{"id":"g","completion":"<think>x</think>y","task":{"kind":"format","style":"r1"}}"#;
        let bad = r#"{"id":"b","completion":["no"],"task":{"kind":"format","style":"r1"}}"#;
        let graded =
            engine().grade_texts(LOCAL, &[good, bad, good], &|i| format!("line {}", i + 1));
        let r = &graded.results;
        assert_eq!(r[0].status, Status::Correct);
        assert_eq!(r[2].status, Status::Correct);
        assert_eq!(r[1].status, Status::Error);
        assert_eq!(r[1].id, serde_json::json!("b"));
        let message = r[1].error.as_deref().unwrap();
        assert!(
            message.starts_with("line 2: ") && message.contains("`completion`"),
            "{message}"
        );
        assert_eq!(graded.kinds[1], None);
    }

    #[test]
    fn unknown_kinds_get_a_bounded_metrics_label() {
        let s = r#"{"completion":"x","task":{"kind":"whatever-a-client-sends"}}"#;
        let graded = engine().grade_texts(LOCAL, &[s], &|i| i.to_string());
        assert_eq!(graded.kinds[0].as_deref(), Some("unknown"));
        assert_eq!(graded.results[0].status, Status::Error);
    }

    /// A grader whose one-off start-up, done by `prepare` or else by the first `grade`, takes
    /// longer than a sample's deadline.
    #[derive(Default)]
    struct SlowToStart {
        started: std::sync::OnceLock<()>,
    }

    impl SlowToStart {
        fn start(&self) {
            self.started
                .get_or_init(|| std::thread::sleep(Duration::from_millis(300)));
        }
    }

    impl graders::Grader for SlowToStart {
        fn info(&self) -> graders::GraderInfo {
            graders::GraderInfo {
                kind: "format".into(),
                description: "test".into(),
                available: true,
                variants: Vec::new(),
                version: None,
            }
        }

        fn prepare(&self) {
            self.start();
        }

        fn grade(
            &self,
            _completion: &str,
            _task: &graders::Task,
            ctx: &GradeContext,
        ) -> graders::Verdict {
            self.start();
            if ctx.expired() {
                graders::Verdict::timeout("deadline passed")
            } else {
                graders::Verdict::scored(1.0)
            }
        }
    }

    #[test]
    fn one_off_grader_start_up_is_not_charged_to_a_sample_deadline() {
        let mut registry = Registry::with_builtins();
        registry.insert(std::sync::Arc::new(SlowToStart::default()));
        let engine = Engine::new(registry, 2, Duration::from_secs(10)).unwrap();
        let sample = r#"{"completion":"x","task":{"kind":"format","style":"r1"},"limits":{"timeout_ms":100}}"#;
        let graded = engine.grade_texts(LOCAL, &[sample], &|i| i.to_string());
        let result = &graded.results[0];
        assert_eq!(result.status, Status::Correct, "{:?}", result.error);
    }
}
