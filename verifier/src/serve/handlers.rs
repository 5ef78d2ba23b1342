//! HTTP handlers. Every error is JSON `{"error": "..."}` with a status that says whose fault it
//! is: 400 malformed request, 401 no or wrong bearer token (when one is set), 408 too slow to
//! send it, 413 too large, 503 overloaded (with `Retry-After`). Each handler's
//! `#[utoipa::path]` is its entry in `GET /openapi.json`, and the types it answers with are the
//! ones serialised, so the document and the wire cannot drift apart.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::sync::oneshot;
use utoipa::ToSchema;

use super::AppState;
use crate::engine::{Engine, Graded};
use graders::{GradeResult, GraderInfo, Sample, SampleError};

const GRADE_ROUTE: &str = "/v1/grade";

/// A batch of samples to grade.
#[derive(Deserialize, ToSchema)]
pub struct GradeRequest {
    /// Each is parsed on its own: a malformed one gets an `error` result naming its position
    /// and field, and the rest of the batch is graded.
    #[schema(value_type = Vec<Sample>)]
    samples: Vec<Box<RawValue>>,
}

/// The results of a batch.
#[derive(Serialize, ToSchema)]
pub struct GradeResponse<'a> {
    /// One per sample, in request order.
    #[schema(value_type = Vec<GradeResult>)]
    results: &'a [GradeResult],
}

/// A [`GradeResponse`]'s JSON, written without the derived serialiser's per-key escaping (see
/// `GradeResult::write_json`); the same bytes.
fn grade_response_body(results: &[GradeResult]) -> Vec<u8> {
    let mut body = Vec::with_capacity(16 + results.len() * 192);
    body.extend_from_slice(b"{\"results\":[");
    for (i, result) in results.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        result.write_json(&mut body);
    }
    body.extend_from_slice(b"]}");
    body
}

/// What can be graded.
#[derive(Serialize, ToSchema)]
pub struct GradersResponse {
    graders: Vec<GraderInfo>,
}

/// The service is up.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(value_type = String)]
    status: &'static str,
}

/// Why a request was refused.
#[derive(Serialize, ToSchema)]
pub(super) struct ErrorBody {
    error: String,
}

/// Grades a batch of samples; results come back in request order.
#[utoipa::path(
    post,
    path = "/v1/grade",
    tag = "grading",
    request_body = GradeRequest,
    responses(
        (status = 200, description = "One result per sample, in request order", body = GradeResponse),
        (status = 400, description = "The body is not `{\"samples\": [...]}`", body = ErrorBody),
        (status = 401, description = "No or wrong bearer token (only with --auth-token-file)", body = ErrorBody),
        (status = 408, description = "The body did not arrive within --read-timeout-s", body = ErrorBody),
        (status = 413, description = "Over --max-body-mb, or more samples than --max-batch", body = ErrorBody),
        (status = 503, description = "Overloaded: every request slot or the sample queue is taken",
            body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    ),
    security((), ("bearer" = [])),
)]
pub async fn grade(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let response = admit_and_grade(&state, peer, &headers, body).await;
    state
        .metrics
        .requests
        .with_label_values(&[GRADE_ROUTE, response.status().as_str()])
        .inc();
    response
}

async fn admit_and_grade(
    state: &Arc<AppState>,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let admitted = match admit(state, peer, headers, body).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    // Kept (a reference, not a copy) for the ids of a batch cut short by shutdown.
    let (body, slot) = admitted.into_parts();
    let ids_body = body.clone();
    let read_here = may_read_here(&body);
    let client = super::client_slots::client_of(peer.ip());
    let engine = state.engine.clone();
    let parse = move || {
        let batch = Batch::parse(&body).map_err(|err| {
            Box::new(error(
                StatusCode::BAD_REQUEST,
                format!("malformed request: expected {{\"samples\": [...]}}: {err}"),
            ))
        })?;
        let samples = batch.len();
        // Asked only where the batch may be graded on the event loop (`grade_batch`); a batch
        // with a malformed sample is parsed again sample by sample: not there.
        let linear_text = match &batch {
            Batch::Parsed(samples) if read_here => {
                let registry = engine.registry();
                samples.iter().try_fold(0, |text: usize, sample| {
                    let sample = sample.as_ref().ok()?;
                    registry.grades_in_linear_time(sample).then(|| {
                        // A prefilled `<think>` is graded too.
                        let graded = (sample.completion.len() + 16) * (1 + sample.components.len());
                        text.saturating_add(graded)
                    })
                })
            }
            _ => None,
        };
        let grade = move |engine: &Engine| {
            let position = |i| format!("samples[{i}]");
            match batch {
                Batch::Parsed(samples) => engine.grade_samples(client, samples, &position),
                Batch::Raw(request) => {
                    let texts: Vec<&str> = request.samples.iter().map(|raw| raw.get()).collect();
                    engine.grade_texts(client, &texts, &position)
                }
            }
        };
        Ok::<Prepared, Refusal>(Prepared {
            samples,
            linear_text,
            grade: Box::new(grade),
        })
    };
    let graded = grade_batch(
        state,
        slot,
        read_here,
        parse,
        move |n| {
            // Never fewer results than samples, even if the body would not parse again.
            let mut ids = std::str::from_utf8(&ids_body)
                .ok()
                .and_then(|text| serde_json::from_str::<GradeRequest>(text).ok())
                .map(|request| sample_ids(&request))
                .unwrap_or_default();
            ids.resize(n, serde_json::Value::Null);
            ids
        },
        Arc::new(|graded: &Graded| {
            Ok::<_, serde_json::Error>(grade_response_body(&graded.results))
        }),
    )
    .await;
    match graded {
        Ok(Ok(body)) => json_body(body),
        Ok(Err(err)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode results: {err}"),
        ),
        Err(response) => response,
    }
}

/// A request that holds a request slot, with its body read.
pub(super) struct Admitted {
    pub body: axum::body::Bytes,
    slot: Slot,
}

impl Admitted {
    /// Keeps the slot, lets the body go (once it has been parsed).
    pub fn into_slot(self) -> Slot {
        self.slot
    }

    /// The body, to be parsed on the batch thread, and the slot.
    pub fn into_parts(self) -> (axum::body::Bytes, Slot) {
        (self.body, self.slot)
    }
}

/// A request slot and the in-flight gauge it counts in: released when the work ends, not when
/// the client leaves.
pub(super) struct Slot {
    client: super::client_slots::ClientSlot,
    _permit: tokio::sync::OwnedSemaphorePermit,
    _inflight: GaugeGuard,
}

impl Slot {
    /// `n` queued samples of the client's share (`--max-queue` in the proportion of
    /// `--max-requests-per-client`), or `None` when it holds its share already (see
    /// [`share_used_up`]).
    pub fn reserve_samples(&self, n: usize) -> Option<super::client_slots::ClientSamples> {
        self.client.try_reserve_samples(n)
    }
}

/// The 503 for a client that has samples queued up to its share.
pub(super) fn share_used_up(state: &AppState) -> Response {
    overloaded(format!(
        "this client already has samples queued up to its share ({} of --max-queue's {}); \
         retry later",
        state.client_slots.samples_per_client(),
        state.args.max_queue
    ))
}

/// The admission rules every grading route shares (`/v1/grade`, `/get_reward`, `/run_code`): a
/// slot of the client's share and a request slot, or 503 at once, before the body is read; a body over `--max-body-mb` is 413; a
/// body slower than `--read-timeout-s` is 408 and the connection is closed.
pub(super) async fn admit(
    state: &Arc<AppState>,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
) -> Result<Admitted, Response> {
    let limit = state.args.max_body_mb.saturating_mul(1024 * 1024);
    let read_timeout = Duration::from_secs(state.args.read_timeout_s.max(1));
    // A compressed body would be read as JSON and refused as malformed, which hides the cause.
    if let Some(encoding) = headers.get(header::CONTENT_ENCODING) {
        if !encoding.as_bytes().eq_ignore_ascii_case(b"identity") {
            discard_in_background(body, limit, read_timeout);
            return Err(error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "compressed request bodies (Content-Encoding: {}) are not accepted: send \
                     the JSON as it is",
                    String::from_utf8_lossy(encoding.as_bytes())
                ),
            ));
        }
    }
    // The client's share first, so that a client at its share never takes a slot from others.
    let Some(client) = state.client_slots.try_acquire(peer.ip()) else {
        return Err(refused_before_body(
            body,
            limit,
            read_timeout,
            format!(
                "this client already has {} grading requests in flight \
                 (--max-requests-per-client); retry later",
                state.client_slots.per_client()
            ),
        ));
    };
    let Ok(permit) = state.request_slots.clone().try_acquire_owned() else {
        return Err(refused_before_body(
            body,
            limit,
            read_timeout,
            format!(
                "{} grading requests are already in flight; retry later",
                state.args.max_requests
            ),
        ));
    };
    // Dropped with the slot: when grading ends, not when the client leaves.
    let slot = Slot {
        client,
        _permit: permit,
        _inflight: GaugeGuard::add(&state.metrics.inflight_requests, 1),
    };

    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        // Drain a moderately oversized body so that the client reads the 413 rather than a reset
        // connection; past four times the limit the connection is simply closed.
        if declared.is_some_and(|len| len <= limit.saturating_mul(4)) {
            let _ =
                tokio::time::timeout(read_timeout, discard(body, limit.saturating_mul(4))).await;
        }
        return Err(too_large(format!(
            "request body over the {} MiB limit",
            state.args.max_body_mb
        )));
    }
    match tokio::time::timeout(read_timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(body)) => Ok(Admitted { body, slot }),
        Ok(Err(err)) if is_length_limit(&err) => Err(too_large(format!(
            "request body over the {} MiB limit",
            state.args.max_body_mb
        ))),
        Ok(Err(err)) => Err(error(
            StatusCode::BAD_REQUEST,
            format!("cannot read body: {err}"),
        )),
        Err(_) => {
            let mut response = error(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {} s (--read-timeout-s)",
                    read_timeout.as_secs()
                ),
            );
            response.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
            Err(response)
        }
    }
}

/// What a grading request becomes once its body is read: its sample count, for admission, the
/// text its graders read when every one of them is linear-time (`Grader::linear_time`), and
/// the grading.
pub(super) struct Prepared {
    pub samples: usize,
    /// Bytes of text graded, counting a completion once for each component that grades it;
    /// `None` when some grader is not linear-time.
    pub linear_text: Option<usize>,
    pub grade: Box<dyn FnOnce(&Engine) -> Graded + Send>,
}

/// The answer to a request refused while it is read (boxed: a `Response` is large).
pub(super) type Refusal = Box<Response>;

/// Bounds on the work done on the event loop's thread for one request (see [`grade_batch`]),
/// so that it holds the thread ~1 ms at most: everything queued behind it on that thread
/// (other connections, `/healthz`) waits that long. Red team, with bounds of 256 KiB of body
/// and no bound on the text graded: one sample with 64 format components and a completion of
/// `<`s held it 200–440 ms, and a body of 15k nested objects as an id 32–74 ms to read.
///
/// A body's size: the hand-off to a batch thread and back (two wake-ups, ~4 context switches)
/// costs about what grading 30 format samples does, so it weighs on small requests: ~35% of a
/// single-sample request's server CPU.
pub(super) const READ_HERE_MAX_BYTES: usize = 32 * 1024;
/// Its objects, members and elements (`{`, `:` and `,`, in strings too; an array of one
/// element or none has no `,`, and arrays nest at most 128 deep), each up to ~1 µs to read,
/// keep and free: an id of 15k nested objects took 32–74 ms, a task of 3,385 unknown keys 1.7
/// ms, and one of an unknown array of 16k numbers before its `kind` 1.7 ms (buffered to find
/// the `kind`, then parsed again sample by sample; red team).
pub(super) const READ_HERE_MAX_STRUCTURE: usize = 1024;
/// Text graded (see [`Prepared::linear_text`]): format rewards read it at 1–13 ns a byte.
pub(super) const GRADE_HERE_MAX_BYTES: usize = 64 * 1024;

/// Whether `body` is small and plain enough to be read on the event loop's thread.
pub(super) fn may_read_here(body: &[u8]) -> bool {
    body.len() <= READ_HERE_MAX_BYTES
        && memchr::memchr3_iter(b'{', b':', b',', body).count() <= READ_HERE_MAX_STRUCTURE
}

/// Runs a grading request start to end: `prepare` reads the request (a malformed one is
/// answered with its `Err`), the batch takes `n` places in the grading queue (or is answered
/// 413 / 503), is graded, and its answer rendered. At most `--max-requests` grade at once, one
/// per request slot.
///
/// Where: a request whose caller says it may be read here (`read_here`, see [`may_read_here`])
/// and that is the only one in flight ([`alone`]) is parsed on the event loop's thread, and
/// when its samples are all linear-time and their text is at most [`GRADE_HERE_MAX_BYTES`] it
/// is graded there too (on this thread alone, see `Engine::on_this_thread`). Every other batch
/// runs on a batch thread (see `batch_threads`), never on one of the engine's, so that slow
/// grading never holds the event loop. A batch
/// admitted there and still grading when the drain timeout ends is answered with an `error`
/// result per sample (`ids(n)` gives the ids of its `n` samples); a request not yet admitted
/// then still gets its own answer, its 400, 413 or 503 (answered with the shutdown's results
/// instead, a malformed body came back `200 {"results":[]}`: red team).
/// Records the batch and sample metrics.
pub(super) async fn grade_batch<R: Send + 'static>(
    state: &Arc<AppState>,
    slot: Slot,
    read_here: bool,
    prepare: impl FnOnce() -> Result<Prepared, Refusal> + Send + 'static,
    ids: impl FnOnce(usize) -> Vec<serde_json::Value>,
    render: Arc<dyn Fn(&Graded) -> R + Send + Sync>,
) -> Result<R, Response> {
    let started = Instant::now();
    if !read_here || !alone(state).await {
        return grade_on_batch_thread(state, slot, prepare, ids, render, started).await;
    }
    let here_since = Instant::now();
    let prepared = prepare();
    GradedHere::charge(here_since.elapsed());
    let prepared = prepared.map_err(|refusal| *refusal)?;
    if prepared
        .linear_text
        .is_none_or(|text| text > GRADE_HERE_MAX_BYTES)
    {
        // Parsed here already; graded on a batch thread (math, code, plugins: their time is
        // not bounded by their size).
        let prepared = move || Ok(prepared);
        return grade_on_batch_thread(state, slot, prepared, ids, render, started).await;
    }
    let grading_since = Instant::now();
    let graded = std::panic::catch_unwind(AssertUnwindSafe(|| {
        state
            .engine
            .on_this_thread(|| grade_prepared(state, slot, prepared, &*render, started, |_| {}))
    }));
    GradedHere::charge(grading_since.elapsed());
    match graded {
        // The samples and results are freed here, before the answer goes (~20 µs a batch).
        Ok(graded) => graded
            .map(|(body, _graded)| body)
            .map_err(|refusal| *refusal),
        Err(_) => Err(grading_failed()),
    }
}

/// Whether this request is the only one in flight once every request ready on this event-loop
/// thread has been read: the event loop works on one request only while nothing else waits for
/// it. It first lets the tasks queued before this one run (each ready connection reads its
/// request and takes a request slot); a request graded here while others queue behind it
/// delays each of them by its time (red team: 8 clients posting 1 ms requests back to back
/// held `/healthz` 5–7 ms at `--jobs 1`, against 0.4–0.7 ms when they went to batch threads).
async fn alone(state: &AppState) -> bool {
    tokio::task::yield_now().await;
    state.request_slots.available_permits() + 1 >= state.args.max_requests.max(1)
        && GradedHere::has_time()
}

/// The event loop thread's budget for reading and grading requests: it earns half of the
/// time that passes, up to [`Self::MOST`], and spends what each request took, so that it does
/// such work at most half of the time and at most [`Self::MOST`] and one request's worth at a
/// stretch. Requests that hold no slot (`/healthz`, `/metrics`, whose wait [`alone`] cannot
/// see) and requests queued behind ones a client pipelined on one connection (each one alone
/// in flight as it is read) then wait about that long at most. Red team: 200 pipelined 1 ms
/// requests held `/healthz` 10 ms (p50) at `--jobs 1` without a budget; with a 2 ms window
/// that did not carry a request's overrun into the next, p90 2–7 ms.
#[derive(Clone, Copy)]
struct GradedHere {
    /// Seconds of budget left (negative after an overrun).
    budget: f64,
    earned_until: Instant,
}

thread_local! {
    static GRADED_HERE: std::cell::Cell<Option<GradedHere>> = const { std::cell::Cell::new(None) };
}

impl GradedHere {
    const MOST: Duration = Duration::from_millis(1);

    /// Whether this thread has budget left for a request.
    fn has_time() -> bool {
        Self::has_time_at(Instant::now())
    }

    fn has_time_at(now: Instant) -> bool {
        let most = Self::MOST.as_secs_f64();
        let here = match GRADED_HERE.get() {
            Some(here) => {
                let earned = now
                    .saturating_duration_since(here.earned_until)
                    .as_secs_f64()
                    / 2.0;
                GradedHere {
                    budget: (here.budget + earned).min(most),
                    earned_until: now.max(here.earned_until),
                }
            }
            None => GradedHere {
                budget: most,
                earned_until: now,
            },
        };
        GRADED_HERE.set(Some(here));
        here.budget > 0.0
    }

    /// Spends `spent` of this thread's budget.
    fn charge(spent: Duration) {
        if let Some(mut here) = GRADED_HERE.get() {
            here.budget -= spent.as_secs_f64();
            GRADED_HERE.set(Some(here));
        }
    }
}

/// A prepared batch's places in the grading queue, its grading, its answer and its metrics, on
/// the thread that calls it; `admitted(n)` is told once it holds its places.
fn grade_prepared<R>(
    state: &AppState,
    slot: Slot,
    prepared: Prepared,
    render: &dyn Fn(&Graded) -> R,
    started: Instant,
    admitted: impl FnOnce(usize),
) -> Result<(R, Graded), Refusal> {
    let n = prepared.samples;
    // The permits and the gauges are released only when grading is over, even if the client
    // has gone away, so the queue bound holds for work actually in progress; and before the
    // results go out, so a client that reads /metrics after its answer sees them released.
    let queued = take_queue_places(state, slot, n)?;
    admitted(n);
    let graded = (prepared.grade)(&state.engine);
    let body = render(&graded);
    record_batch(&state.metrics, &graded, started, n);
    drop(queued);
    Ok((body, graded))
}

/// The answer when grading a batch panicked (a bug of ours).
fn grading_failed() -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the grading pool dropped a batch".into(),
    )
}

/// [`grade_batch`] on a batch thread, `prepare` included.
async fn grade_on_batch_thread<R: Send + 'static>(
    state: &Arc<AppState>,
    slot: Slot,
    prepare: impl FnOnce() -> Result<Prepared, Refusal> + Send + 'static,
    ids: impl FnOnce(usize) -> Vec<serde_json::Value>,
    render: Arc<dyn Fn(&Graded) -> R + Send + Sync>,
    started: Instant,
) -> Result<R, Response> {
    let (done, mut answer) = oneshot::channel::<Result<R, Response>>();
    let (admitted, mut admission) = oneshot::channel::<usize>();
    let renderer = render.clone();
    let state_on_thread = state.clone();
    let job = move || -> Option<Graded> {
        let state = state_on_thread;
        let graded = prepare().and_then(|prepared| {
            grade_prepared(&state, slot, prepared, &*renderer, started, |n| {
                let _ = admitted.send(n);
            })
        });
        match graded {
            Ok((body, graded)) => {
                let _ = done.send(Ok(body));
                // The results and samples are freed after the answer has gone, by the thread
                // that allocated them, once it is back among the idle ones.
                Some(graded)
            }
            Err(refusal) => {
                let _ = done.send(Err(*refusal));
                None
            }
        }
    };
    if let Err(err) = state.batch_threads.run(job) {
        return Err(overloaded(format!(
            "cannot start a thread for this request ({err}); retry later"
        )));
    }
    let mut stop = state.stop.clone();
    let outcome = tokio::select! {
        outcome = &mut answer => outcome,
        () = async { drop(stop.wait_for(|stop| *stop).await) } => {
            // `admission` is read only now: polled from the start, its message woke the event
            // loop once more a request (one more eventfd write and epoll wait, strace).
            tokio::select! {
                outcome = &mut answer => outcome,
                admitted = &mut admission => match admitted {
                    Ok(n) => return Ok(render(&shutting_down(ids(n)))),
                    // Refused (or a job that panicked): its own answer.
                    Err(_) => answer.await,
                },
            }
        }
    };
    match outcome {
        Ok(answer) => answer,
        // The job panicked (a bug of ours): its sender went with it.
        Err(_) => Err(grading_failed()),
    }
}

/// A batch's places in the grading queue: `n` of its client's share and of `--max-queue`,
/// with the queue gauge and the request's slot, released together when dropped.
type QueuePlaces = (
    tokio::sync::OwnedSemaphorePermit,
    super::client_slots::ClientSamples,
    Slot,
    GaugeGuard,
);

/// Takes `n` places in the grading queue, or the 413 / 503 that says why not.
fn take_queue_places(state: &AppState, slot: Slot, n: usize) -> Result<QueuePlaces, Refusal> {
    let limit = state
        .args
        .max_batch
        .min(state.args.max_queue)
        .min(state.client_slots.samples_per_client());
    if n > limit {
        return Err(Box::new(too_large(format!(
            "{n} samples in one request; the limit is {limit} (--max-batch, and a client's \
             share of --max-queue)"
        ))));
    }
    let Some(share) = slot.reserve_samples(n) else {
        return Err(Box::new(share_used_up(state)));
    };
    let Ok(admitted) = state.admission.clone().try_acquire_many_owned(n as u32) else {
        return Err(Box::new(overloaded(format!(
            "the grading queue is full ({} samples); retry later",
            state.args.max_queue
        ))));
    };
    let queue_gauge = state.metrics.queue_depth.clone();
    queue_gauge.add(n as i64);
    Ok((
        admitted,
        share,
        slot,
        GaugeGuard::taken(queue_gauge, n as i64),
    ))
}

/// Records a graded batch's metrics: its time and size, and its samples by kind and status.
fn record_batch(metrics: &super::metrics::Metrics, graded: &Graded, started: Instant, n: usize) {
    metrics
        .batch_seconds
        .observe(started.elapsed().as_secs_f64());
    metrics.batch_size.observe(n as f64);
    // Counted per (kind, status) and looked up once per kind, not once a sample: a labelled
    // metric's lookup hashes its labels and takes a lock.
    let mut counts: Vec<(&str, graders::Status, u64)> = Vec::new();
    let mut timers: Vec<(&str, prometheus::Histogram)> = Vec::new();
    for (result, kind) in graded.results.iter().zip(&graded.kinds) {
        let kind = kind.as_deref().unwrap_or("invalid");
        match counts
            .iter_mut()
            .find(|(k, status, _)| *k == kind && *status == result.status)
        {
            Some((_, _, count)) => *count += 1,
            None => counts.push((kind, result.status, 1)),
        }
        if kind == "code" {
            metrics.count_code_verdict(result.details.get("verdict").and_then(|v| v.as_str()));
        }
        if !result.cached {
            let timer = match timers.iter().position(|(k, _)| *k == kind) {
                Some(i) => &timers[i].1,
                None => {
                    timers.push((kind, metrics.sample_seconds.with_label_values(&[kind])));
                    &timers.last().expect("just pushed").1
                }
            };
            timer.observe(result.elapsed_us as f64 / 1e6);
        }
    }
    for (kind, status, count) in counts {
        metrics
            .samples
            .with_label_values(&[kind, status.as_str()])
            .inc_by(count);
    }
}

/// A `/v1/grade` body, read once.
enum Batch {
    /// Every sample well formed (nearly every batch): parsed in the one pass over the body.
    Parsed(Vec<Result<Sample, SampleError>>),
    /// Some sample is not: each is parsed on its own (on the grading pool), so that a bad one
    /// gets an `error` result naming its position and field and the rest are graded.
    Raw(GradeRequest),
}

/// The fast path's shape: [`GradeRequest`] with its samples parsed as they are read.
#[derive(Deserialize)]
struct WellFormedRequest {
    /// Read straight into the engine's shape: collecting a `Vec<Sample>` into it afterwards
    /// moved each 360-byte sample once more.
    #[serde(deserialize_with = "samples_as_parsed")]
    samples: Vec<Result<Sample, SampleError>>,
}

fn samples_as_parsed<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<Result<Sample, SampleError>>, D::Error> {
    struct Samples;
    impl<'de> serde::de::Visitor<'de> for Samples {
        type Value = Vec<Result<Sample, SampleError>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list of samples")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut samples = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            while let Some(sample) = seq.next_element::<Sample>()? {
                samples.push(Ok(sample));
            }
            Ok(samples)
        }
    }
    deserializer.deserialize_seq(Samples)
}

impl Batch {
    /// One pass over the body when every sample is well formed; a second, sample by sample,
    /// only when one is not. (Splitting the body into raw samples first and parsing each again
    /// was 11% of the server's CPU on 256-sample format batches.) A sample the one pass accepts
    /// is one its own parse accepts: both are `Sample`'s deserialiser on the same text.
    ///
    /// The body is checked as UTF-8 first, whole: the one pass skips the fields it ignores
    /// without reading them as text, where the per-sample path refuses a sample holding bytes
    /// that are not UTF-8, so without the check one body could be graded or refused depending
    /// on whether another sample was bad (red team).
    fn parse(body: &[u8]) -> Result<Batch, String> {
        let text = std::str::from_utf8(body)
            .map_err(|e| format!("the body is not UTF-8 (byte {})", e.valid_up_to()))?;
        if let Ok(request) = serde_json::from_str::<WellFormedRequest>(text) {
            return Ok(Batch::Parsed(request.samples));
        }
        serde_json::from_str::<GradeRequest>(text)
            .map(Batch::Raw)
            .map_err(|e| e.to_string())
    }

    fn len(&self) -> usize {
        match self {
            Batch::Parsed(samples) => samples.len(),
            Batch::Raw(request) => request.samples.len(),
        }
    }
}

/// The ids of a `/v1/grade` batch's samples, where they have one.
fn sample_ids(request: &GradeRequest) -> Vec<serde_json::Value> {
    #[derive(Deserialize)]
    struct IdOnly {
        #[serde(default)]
        id: serde_json::Value,
    }
    request
        .samples
        .iter()
        .map(|raw| {
            serde_json::from_str::<IdOnly>(raw.get()).map_or(serde_json::Value::Null, |s| s.id)
        })
        .collect()
}

/// The results for a batch still grading when the drain timeout ends: an `error` per sample,
/// in order, with the sample's id.
fn shutting_down(ids: Vec<serde_json::Value>) -> Graded {
    let results: Vec<GradeResult> = ids
        .into_iter()
        .map(|id| {
            GradeResult::error(
                id,
                "the service is shutting down: this batch did not finish grading within the drain \
                 timeout (--drain-timeout-s); send it again",
            )
        })
        .collect();
    let kinds = vec![None; results.len()];
    Graded {
        results,
        kinds,
        _samples: None,
    }
}

/// The task kinds this service grades, their variants and whether they are available.
#[utoipa::path(
    get,
    path = "/v1/graders",
    tag = "grading",
    responses(
        (status = 200, description = "Every registered kind", body = GradersResponse),
        (status = 401, description = "No or wrong bearer token (only with --auth-token-file)", body = ErrorBody),
    ),
    security((), ("bearer" = [])),
)]
pub async fn graders(State(state): State<Arc<AppState>>) -> Response {
    let response = axum::Json(GradersResponse {
        graders: state.engine.registry().infos(),
    })
    .into_response();
    count(&state, "/v1/graders", response)
}

/// Liveness and readiness: answers as soon as the service listens. Never needs a token.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    responses((status = 200, description = "The service is up", body = Health)),
)]
pub async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    let response = axum::Json(Health { status: "ok" }).into_response();
    count(&state, "/healthz", response)
}

/// This document: the OpenAPI 3.1 description of every route and wire type.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "service",
    responses(
        (status = 200, description = "OpenAPI 3.1 document", body = Object, content_type = "application/json"),
        (status = 401, description = "No or wrong bearer token (only with --auth-token-file)", body = ErrorBody),
    ),
    security((), ("bearer" = [])),
)]
pub async fn openapi(State(state): State<Arc<AppState>>) -> Response {
    let response = (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi_json.clone(),
    )
        .into_response();
    count(&state, "/openapi.json", response)
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "service",
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain; version=0.0.4"),
        (status = 401, description = "No or wrong bearer token (only with --auth-token-file)", body = ErrorBody),
    ),
    security((), ("bearer" = [])),
)]
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    // Counted before rendering, so a scrape sees itself.
    state
        .metrics
        .requests
        .with_label_values(&["/metrics", StatusCode::OK.as_str()])
        .inc();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// Any path without a route: 404, counted under one label (`route="unmatched"`) so that
/// clients cannot grow the metrics with paths of their choosing.
pub async fn not_found(State(state): State<Arc<AppState>>, uri: Uri) -> Response {
    let response = error(
        StatusCode::NOT_FOUND,
        format!(
            "no route {}; routes: {}",
            uri.path(),
            state.routes.summary()
        ),
    );
    count(&state, "unmatched", response)
}

/// Counts a response under its route and its real status code.
pub(super) fn count(state: &AppState, route: &str, response: Response) -> Response {
    state
        .metrics
        .requests
        .with_label_values(&[route, response.status().as_str()])
        .inc();
    response
}

/// A route's request read from its body. A body whose strings escape a lone UTF-16 surrogate is
/// read with each as U+FFFD, as `/v1/grade`'s samples are (see
/// `graders::contract::lone_surrogates`): a completion must not turn its request into a 400.
pub(super) fn parse_request<T: serde::de::DeserializeOwned>(body: &[u8]) -> serde_json::Result<T> {
    match std::str::from_utf8(body) {
        Ok(text) => graders::contract::lone_surrogates::from_str(text),
        // serde_json names the bad byte.
        Err(_) => serde_json::from_slice(body),
    }
}

/// A JSON body already encoded.
pub(super) fn json_body(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub(super) fn error(status: StatusCode, message: String) -> Response {
    (status, axum::Json(ErrorBody { error: message })).into_response()
}

/// A 503 answered at once, before the body is read; the body is read and dropped in the
/// background (streamed, never buffered, for at most the read timeout) so that an HTTP/1.1
/// client still uploading sees the 503 rather than a connection reset.
fn refused_before_body(
    body: Body,
    limit: usize,
    read_timeout: Duration,
    message: String,
) -> Response {
    discard_in_background(body, limit, read_timeout);
    overloaded(message)
}

/// Reads and drops a refused request's body (up to `limit`, for at most `read_timeout`), so
/// the connection can carry the answer and the next request.
fn discard_in_background(body: Body, limit: usize, read_timeout: Duration) {
    tokio::spawn(async move {
        let _ = tokio::time::timeout(read_timeout, discard(body, limit)).await;
    });
}

fn too_large(message: String) -> Response {
    error(StatusCode::PAYLOAD_TOO_LARGE, message)
}

pub(super) fn overloaded(message: String) -> Response {
    let mut response = error(StatusCode::SERVICE_UNAVAILABLE, message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    response
}

async fn discard(body: Body, limit: usize) {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut seen = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        seen += frame.data_ref().map_or(0, |data| data.len());
        if seen > limit {
            break;
        }
    }
}

fn is_length_limit(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// Adds to a gauge now and subtracts when dropped.
struct GaugeGuard {
    gauge: prometheus::IntGauge,
    amount: i64,
}

impl GaugeGuard {
    fn add(gauge: &prometheus::IntGauge, amount: i64) -> GaugeGuard {
        gauge.add(amount);
        GaugeGuard::taken(gauge.clone(), amount)
    }

    /// Takes over an amount already added.
    fn taken(gauge: prometheus::IntGauge, amount: i64) -> GaugeGuard {
        GaugeGuard { gauge, amount }
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.gauge.sub(self.amount);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grade_response_body_is_the_derived_serialisation() {
        let mut cached = GradeResult::error(serde_json::json!("a"), "line 1: \"quoted\"");
        cached.cached = true;
        for results in [vec![], vec![cached.clone()], vec![cached.clone(), cached]] {
            let derived = serde_json::to_vec(&GradeResponse { results: &results }).unwrap();
            assert_eq!(grade_response_body(&results), derived);
        }
    }

    /// The bounds on a body read on the event loop's thread: its size and its objects, arrays
    /// and members, those inside strings counted too (a cost that cannot be seen before parsing
    /// is not bet on).
    #[test]
    fn only_small_plain_bodies_are_read_on_the_event_loop() {
        let sample = r#"{"completion":"<think>a</think>b","task":{"kind":"format","style":"r1"}}"#;
        let body = |n: usize| format!(r#"{{"samples":[{}]}}"#, vec![sample; n].join(","));
        // Two objects, four members and two more elements a sample, one more element between
        // samples, and an object and a member around them.
        assert!(may_read_here(body(1).as_bytes()));
        assert!(may_read_here(body(113).as_bytes()));
        assert!(
            !may_read_here(body(114).as_bytes()),
            "1,027 objects, members and elements"
        );
        let numbers = sample.replace(r#""task":{"#, r#""task":{"x":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"#);
        let numbers = format!(r#"{{"samples":[{}]}}"#, vec![numbers; 20].join(","));
        assert!(
            !may_read_here(numbers.as_bytes()),
            "an array's elements count"
        );
        let long = format!(
            r#"{{"samples":[{{"completion":"{}","task":{{"kind":"format","style":"r1"}}}}]}}"#,
            "a".repeat(READ_HERE_MAX_BYTES)
        );
        assert!(!may_read_here(long.as_bytes()));
        let braces_in_text = sample.replace("b\"", &format!("{}\"", "{:".repeat(600)));
        assert!(!may_read_here(
            format!(r#"{{"samples":[{braces_in_text}]}}"#).as_bytes()
        ));
    }

    /// A thread that spent its budget sends requests elsewhere until it has earned some back,
    /// at half the time that passes: an overrun is paid back before the next request.
    #[test]
    fn the_event_loop_reads_and_grades_half_of_the_time_at_most() {
        let start = Instant::now();
        let at = |ms: f64| start + Duration::from_secs_f64(ms / 1e3);
        assert!(GradedHere::has_time_at(at(0.0)));
        GradedHere::charge(Duration::from_micros(600));
        assert!(GradedHere::has_time_at(at(0.1)), "0.45 ms left");
        GradedHere::charge(Duration::from_micros(2000));
        // 1.55 ms overrun: paid back after 3.1 ms.
        assert!(!GradedHere::has_time_at(at(2.1)));
        assert!(!GradedHere::has_time_at(at(3.1)));
        assert!(GradedHere::has_time_at(at(3.3)));
        // Earned up to 1 ms at most, however long the thread waits.
        assert!(GradedHere::has_time_at(at(1000.0)));
        GradedHere::charge(Duration::from_micros(1001));
        assert!(!GradedHere::has_time_at(at(1000.0)));
    }
}
