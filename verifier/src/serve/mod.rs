//! `verifier serve`: the HTTP service. axum on tokio for the protocol; grading itself runs on the
//! engine's CPU pool so that slow batches never stall the event loop.
//!
//! Back-pressure is explicit and memory is bounded: at most `--max-requests` grading requests
//! are read at once (each at most `--max-body-mb`), at most `--max-requests-per-client` of them
//! from one client, and at most `--max-queue` samples are admitted; past a request bound a
//! request is answered 503 with `Retry-After` at once, before its body is read (past the queue
//! bound, once its sample count is known). A client has `--read-timeout-s` for its headers and then for its body (else
//! 408). SIGTERM and SIGINT stop accepting connections and let in-flight batches finish for up to
//! `--drain-timeout-s`; batches still grading then are answered with `error` results.
//!
//! Routes: our own (`handlers`), and drop-ins in other frameworks' shapes under the same
//! admission rules: OpenRLHF's remote reward model (`get_reward`) and SandboxFusion's code
//! runner (`run_code`). Routes and their OpenAPI document are defined together (`openapi.rs`);
//! `auth.rs` is the optional bearer token.

mod auth;
mod batch_threads;
mod client_slots;
mod get_reward;
mod handlers;
mod listen;
pub mod metrics;
mod openapi;
mod run_code;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use graders::Registry;
use tokio::sync::Semaphore;
use tower_http::trace::TraceLayer;

use crate::code_executor::LazySandboxes;
use crate::engine::Engine;
use client_slots::ClientSlots;
use metrics::Metrics;

#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:8080", env = "VERIFIER_ADDR")]
    pub addr: SocketAddr,
    /// Grading threads (default: all cores).
    #[arg(short, long)]
    pub jobs: Option<usize>,
    /// Samples admitted at once across all requests; more are answered 503. A client may hold
    /// the same share of them as of the request slots (--max-requests-per-client of
    /// --max-requests); a batch larger than that share is 413.
    #[arg(long, default_value_t = 65_536)]
    pub max_queue: usize,
    /// Grading requests served at once; more are answered 503 before their body is read.
    #[arg(long, default_value_t = 64)]
    pub max_requests: usize,
    /// Grading requests served at once for one client (peer IP address; IPv6 by /64); more
    /// are answered 503 before their body is read [default: a quarter of --max-requests, at
    /// least 1].
    #[arg(long)]
    pub max_requests_per_client: Option<usize>,
    /// Open connections one client (peer IP address; IPv6 by /64) may hold; one more is closed
    /// as soon as it is accepted. (Idle keep-alive connections close after --read-timeout-s.)
    #[arg(long, default_value_t = 256)]
    pub max_connections_per_client: usize,
    /// Samples per request; a larger batch is answered 413.
    #[arg(long, default_value_t = 16_384)]
    pub max_batch: usize,
    /// Request body limit in MiB; a larger body is answered 413.
    #[arg(long, default_value_t = 32)]
    pub max_body_mb: usize,
    /// Default deadline per sample, in milliseconds (a sample's `limits.timeout_ms` overrides).
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// Seconds a client has to send a request's headers, and then its whole body; past either
    /// the answer is 408 and the connection is closed.
    #[arg(long, default_value_t = 10)]
    pub read_timeout_s: u64,
    /// Seconds that SIGTERM/SIGINT leave in-flight batches to finish; batches still grading
    /// just before then are answered with `error` results, and the process exits.
    #[arg(long, default_value_t = 30)]
    pub drain_timeout_s: u64,
    /// What a label means in `POST /get_reward` (OpenRLHF's remote reward model) when the
    /// request does not say (`?kind=`).
    #[arg(long, value_enum, default_value = "math")]
    pub get_reward_kind: get_reward::LabelKind,
    /// A file holding a bearer token: every route but /healthz then answers 401 unless the
    /// request carries `Authorization: Bearer <token>`. For a service that listens beyond
    /// loopback.
    #[arg(long, value_name = "PATH", env = "VERIFIER_AUTH_TOKEN_FILE")]
    pub auth_token_file: Option<PathBuf>,
    #[command(flatten)]
    pub plugins: crate::plugins::PluginArgs,
}

pub struct AppState {
    pub engine: Arc<Engine>,
    /// Where grading requests are read, graded and answered.
    pub batch_threads: batch_threads::BatchThreads,
    pub metrics: Metrics,
    pub admission: Arc<Semaphore>,
    pub request_slots: Arc<Semaphore>,
    pub client_slots: Arc<ClientSlots>,
    pub args: ServeArgs,
    /// The process's sandbox pool (the code grader's), for `POST /run_code`.
    pub sandboxes: Arc<LazySandboxes>,
    /// Becomes true just before the drain timeout ends: batches still grading answer at once.
    pub stop: tokio::sync::watch::Receiver<bool>,
    /// `GET /openapi.json`'s body, rendered once.
    pub openapi_json: axum::body::Bytes,
    pub routes: openapi::Routes,
    pub auth: Option<auth::BearerToken>,
}

/// Lets the process open as many files as its hard limit allows, as Go's runtime does: each
/// connection takes two descriptors (see `listen`), and the usual soft limit of 1,024 ran out
/// near 500 open connections, after which every client was refused.
/// Returns the open-file limit then in force (`None` if it cannot be read).
fn raise_open_file_limit() -> Option<libc::rlim_t> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write one rlimit through valid pointers.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return Some(raised.rlim_cur);
            }
            tracing::debug!("cannot raise the open-file limit");
        }
    }
    Some(limit.rlim_cur)
}

/// Connections the service holds at most, all clients together: two descriptors each (see
/// `listen`), with 512 left for everything else (sandbox workers, compiled modules, logs).
fn connections_in_all(open_file_limit: Option<libc::rlim_t>) -> usize {
    let limit = open_file_limit.unwrap_or(1024).min(1 << 24) as usize;
    (limit.saturating_sub(512) / 2).max(64)
}

pub fn run(
    args: ServeArgs,
    registry: Registry,
    sandboxes: Arc<LazySandboxes>,
) -> anyhow::Result<()> {
    // A bad token file stops the start, before anything listens.
    let auth = match &args.auth_token_file {
        Some(path) => Some(auth::BearerToken::from_file(path)?),
        None => None,
    };
    let open_file_limit = raise_open_file_limit();
    let jobs = args.jobs.unwrap_or_else(crate::default_jobs);
    let engine = Arc::new(Engine::new(
        registry,
        jobs,
        Duration::from_millis(args.timeout_ms),
    )?);
    // The instructions grader's tables (langdetect's profiles, ~115 ms) are built now, beside
    // start-up, rather than before the first IFEval request is answered.
    if let Some(instructions) = engine.registry().get("instructions").cloned() {
        std::thread::spawn(move || instructions.prepare());
    }
    // The event loop only parses envelopes and moves bytes; grading has its own pool.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(jobs.clamp(1, 4))
        .thread_name("http")
        .enable_all()
        .build()?;
    let connections = connections_in_all(open_file_limit);
    let served = runtime.block_on(serve(args, engine, sandboxes, auth, connections));
    // Grading still blocking a thread after the drain timeout is abandoned, not waited for
    // (dropping the runtime would wait): its batch has had its answer.
    runtime.shutdown_background();
    served
}

async fn serve(
    args: ServeArgs,
    engine: Arc<Engine>,
    sandboxes: Arc<LazySandboxes>,
    auth: Option<auth::BearerToken>,
    connections: usize,
) -> anyhow::Result<()> {
    let (stop_sender, stop) = tokio::sync::watch::channel(false);
    let (router, document) = openapi::routes();
    let openapi_json = serde_json::to_vec(&document).context("rendering the OpenAPI document")?;
    let state = Arc::new(AppState {
        engine: engine.clone(),
        batch_threads: Default::default(),
        metrics: Metrics::new(sandboxes.stats()),
        admission: Arc::new(Semaphore::new(args.max_queue.min(Semaphore::MAX_PERMITS))),
        request_slots: Arc::new(Semaphore::new(args.max_requests.max(1))),
        client_slots: Arc::new({
            let per_client = args
                .max_requests_per_client
                .unwrap_or(args.max_requests / 4)
                .max(1);
            // The same share of the queued samples as of the request slots.
            let samples = (args.max_queue as u128 * per_client as u128)
                .div_ceil(args.max_requests.max(1) as u128)
                .min(args.max_queue as u128) as usize;
            ClientSlots::new(per_client, samples)
                .with_connections(args.max_connections_per_client, connections)
        }),
        args: args.clone(),
        sandboxes,
        stop,
        openapi_json: openapi_json.into(),
        routes: openapi::Routes::of(&document),
        auth,
    });
    let clients = state.client_slots.clone();
    let app = router
        .fallback(handlers::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state);

    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let bound = listener.local_addr()?;
    // Tests and scripts read this line to find the port when --addr ends in :0.
    println!("verifier listening on http://{bound}");
    tracing::info!(%bound, jobs = engine.jobs(), max_queue = args.max_queue, "listening");
    let drain = Duration::from_secs(args.drain_timeout_s);
    // Batches still grading are answered a little before the drain ends, so that their answers
    // go out before the connections are closed.
    let answer_by = drain.saturating_sub(Duration::from_secs(1).min(drain / 2));
    listen::serve(
        listener,
        app,
        Duration::from_secs(args.read_timeout_s.max(1)),
        clients,
        shutdown_signal(),
        move || {
            tokio::spawn(async move {
                tokio::time::sleep(answer_by).await;
                let _ = stop_sender.send(true);
            });
            Box::pin(tokio::time::sleep(drain))
        },
    )
    .await;
    tracing::info!("shut down");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("SIGINT: finishing in-flight batches"),
        _ = terminate => tracing::info!("SIGTERM: finishing in-flight batches"),
    }
}
