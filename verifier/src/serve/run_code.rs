//! `POST /run_code`: SandboxFusion's code runner, so that verl's `sandbox_fusion.url` (and
//! anything else that speaks SandboxFusion) can point at this service. Programs run on the
//! process's sandbox pool (the code grader's), not in a process per call, under the same
//! admission rules as `/v1/grade`: a request slot (else 503 with `Retry-After`, before the body
//! is read), the body limit (413), the read timeout (408), one place in the grading queue.
//!
//! The shapes are SandboxFusion's (bytedance/SandboxFusion): `RunCodeRequest`,
//! `RunCodeResponse`, `RunStatus` and `parse_run_status` in `sandbox/server/sandbox_api.py`,
//! `CommandRunResult` and `CommandRunStatus` in `sandbox/runners/types.py`; a timed-out run has
//! no return code (`run_command_bare` in `sandbox/runners/base.py`). verl's client builds the
//! request in `verl/utils/reward_score/sandbox_fusion/utils.py` (`call_sandbox_api`: `code`,
//! `stdin`, `language`, `compile_timeout`, `run_timeout`, `memory_limit_MB`, `files`,
//! `fetch_files`) and reads `status`, `run_result.status`, `return_code`, `stdout`, `stderr`
//! and `execution_time` (`_process_single_case`); it retries only a 504, so a 503 from us under
//! overload reaches it as a failed case (-1), never a pass: keep verl's
//! `sandbox_fusion.max_concurrent` at or under `--max-requests`.
//!
//! Python and JavaScript (`python`; `nodejs`, and `javascript`/`js`) run; any other language is
//! answered in SandboxFusion's shape with `status: "SandboxError"` and a message that names the
//! languages we run. Time: `run_timeout` is what the client measured natively; our interpreters
//! are slower (see `graders::code::limits`), and they compile nothing, so a run gets
//! `run_timeout` plus the `compile_timeout` the client granted, up to three times
//! `run_timeout` (verl's HTTP timeout is `compile_timeout + run_timeout + 10` s, so the answer
//! always comes before it gives up), and never more than the service's longest deadline.
//! Memory: `memory_limit_MB`, or `--max-memory-mb` when it is not positive (SandboxFusion's
//! "no limit"), and never above `--max-memory-mb`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sandboxes::{Language, Limits, Outcome, RunRequest, RunResult};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::handlers::{admit, count, error, overloaded, parse_request, ErrorBody};
use super::AppState;

const ROUTE: &str = "/run_code";

/// Output kept per run, as for the code grader's runs (stdio tests compare all of it).
const STDOUT_LIMIT_BYTES: usize = 16 << 20;

/// How much longer than natively a run may take here, at most (the code grader's slowdown).
const SLOWDOWN: f64 = 3.0;

/// SandboxFusion's `RunCodeRequest`; every field it has is accepted, and an unknown one (a
/// typo) is refused.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RunCodeRequest {
    code: String,
    #[serde(default)]
    stdin: Option<String>,
    language: String,
    #[serde(default = "ten_seconds")]
    run_timeout: f64,
    #[serde(default = "ten_seconds")]
    compile_timeout: f64,
    #[serde(default = "no_limit", rename = "memory_limit_MB")]
    memory_limit_mb: i64,
    #[serde(default)]
    #[schema(value_type = Object)]
    files: Map<String, Value>,
    #[serde(default)]
    fetch_files: Vec<String>,
}

fn ten_seconds() -> f64 {
    10.0
}

fn no_limit() -> i64 {
    -1
}

/// SandboxFusion's `RunCodeResponse`, plus `sandbox`: how our sandbox saw the run.
#[derive(Serialize, ToSchema)]
pub(super) struct RunCodeResponse {
    /// `Success`, `Failed` (a non-zero return code or a time limit) or `SandboxError`.
    #[schema(value_type = String)]
    status: &'static str,
    message: String,
    compile_result: Option<CommandRunResult>,
    run_result: Option<CommandRunResult>,
    executor_pod_name: Option<String>,
    #[schema(value_type = Object)]
    files: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sandbox: Option<SandboxReport>,
}

/// SandboxFusion's `CommandRunResult`.
#[derive(Serialize, ToSchema)]
struct CommandRunResult {
    /// `Finished`, `TimeLimitExceeded` or `Error`.
    #[schema(value_type = String)]
    status: &'static str,
    /// Seconds.
    execution_time: Option<f64>,
    return_code: Option<i32>,
    stdout: Option<String>,
    stderr: Option<String>,
}

/// What SandboxFusion's shape has no field for.
#[derive(Serialize, ToSchema)]
struct SandboxReport {
    /// How the run ended, as our sandbox saw it (`finished`, `time_limit`, ...).
    #[schema(value_type = String)]
    outcome: Outcome,
    cpu_ms: f64,
    peak_memory_bytes: u64,
    time_limit_ms: u64,
    memory_limit_mb: u64,
    stdout_truncated: bool,
    stderr_truncated: bool,
}

/// SandboxFusion's code runner (verl's `sandbox_fusion.url`): runs one program on the
/// service's sandbox pool.
#[utoipa::path(
    post,
    path = "/run_code",
    tag = "grading",
    request_body = RunCodeRequest,
    responses(
        (status = 200, description = "The run, in SandboxFusion's shape (an unsupported language is a `SandboxError` here)", body = RunCodeResponse),
        (status = 400, description = "A malformed request", body = ErrorBody),
        (status = 401, description = "No or wrong bearer token (only with --auth-token-file)", body = ErrorBody),
        (status = 408, description = "The body did not arrive within --read-timeout-s", body = ErrorBody),
        (status = 413, description = "Over --max-body-mb", body = ErrorBody),
        (status = 503, description = "Overloaded", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    ),
    security((), ("bearer" = [])),
)]
pub async fn run_code(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let response = answer(&state, peer, &headers, body).await;
    count(&state, ROUTE, response)
}

async fn answer(
    state: &Arc<AppState>,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let admitted = match admit(state, peer, headers, body).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let request: RunCodeRequest = match parse_request(&admitted.body) {
        Ok(request) => request,
        Err(err) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "malformed request: expected SandboxFusion's {{\"code\", \"language\", \
                     \"stdin\", \"run_timeout\", \"memory_limit_MB\", ...}}: {err}"
                ),
            )
        }
    };
    let slot = admitted.into_slot();
    for (name, seconds) in [
        ("run_timeout", request.run_timeout),
        ("compile_timeout", request.compile_timeout),
    ] {
        if !seconds.is_finite() || seconds < 0.0 {
            return error(
                StatusCode::BAD_REQUEST,
                format!("`{name}` must be a number of seconds, at least 0; got {seconds}"),
            );
        }
    }
    let language = match request.language.as_str() {
        "python" => Language::Python,
        "nodejs" | "javascript" | "js" => Language::Javascript,
        other => {
            return sandbox_error(format!(
                "language `{other}` is not supported by this sandbox: it runs `python` and \
                 `nodejs` (also written `javascript`)"
            ))
        }
    };
    if !request.files.is_empty() || !request.fetch_files.is_empty() {
        return sandbox_error(
            "`files` and `fetch_files` are not supported: programs here see no file system".into(),
        );
    }
    let Some(share) = slot.reserve_samples(1) else {
        return super::handlers::share_used_up(state);
    };
    let Ok(queued) = state.admission.clone().try_acquire_many_owned(1) else {
        return overloaded(format!(
            "the grading queue is full ({} samples); retry later",
            state.args.max_queue
        ));
    };

    let longest = Duration::from_millis(state.args.timeout_ms).max(Duration::from_secs(60));
    let run_s = request.run_timeout;
    let budget_s = (run_s + request.compile_timeout).min(run_s * SLOWDOWN);
    let time_limit_ms = ((budget_s * 1000.0).ceil() as u64).clamp(1, longest.as_millis() as u64);
    let max_memory_mb = state.sandboxes.max_memory_mb();
    let memory_limit_mb = match u64::try_from(request.memory_limit_mb) {
        Ok(mb) if mb > 0 => mb.min(max_memory_mb),
        _ => max_memory_mb,
    };
    // The same console as a JavaScript `stdio` test's program gets.
    let code = match language {
        Language::Javascript => graders::code::javascript_whole_program(&request.code),
        _ => request.code,
    };
    let run = RunRequest::new(language, code)
        .with_stdin(request.stdin.unwrap_or_default())
        .with_limits(Limits {
            time_limit_ms,
            memory_limit_bytes: memory_limit_mb.saturating_mul(1 << 20),
            stdout_limit_bytes: STDOUT_LIMIT_BYTES,
            ..Limits::default()
        })
        .with_wall_limit(time_limit_ms);

    let (done, ran) = tokio::sync::oneshot::channel();
    let sandboxes = state.sandboxes.clone();
    // In turn with grading's sandboxed samples (the engine's fair queue), the permits held
    // until the run is over.
    let client = super::client_slots::client_of(peer.ip());
    state.engine.queue_sandbox_job(client, move || {
        let held = (queued, share, slot);
        let result = sandboxes.run(run);
        drop(held);
        let _ = done.send(result);
    });
    let mut stop = state.stop.clone();
    let result = tokio::select! {
        result = ran => result.unwrap_or_else(|_| RunResult::error("the sandbox pool dropped the run")),
        _ = stop.wait_for(|stop| *stop) => RunResult::error(
            "the service is shutting down: this run did not finish within the drain timeout \
             (--drain-timeout-s); send it again",
        ),
    };
    axum::Json(respond(result, time_limit_ms, memory_limit_mb)).into_response()
}

/// SandboxFusion's answer for a run that could not be carried out.
fn sandbox_error(message: String) -> Response {
    axum::Json(RunCodeResponse {
        status: "SandboxError",
        message,
        compile_result: None,
        run_result: None,
        executor_pod_name: None,
        files: Map::new(),
        sandbox: None,
    })
    .into_response()
}

/// How SandboxFusion would report the run: a process's return code (0 finished, the exit code,
/// 1 for an uncaught exception or an exhausted memory cap, as CPython and Node exit), no return
/// code for a time limit, and `SandboxError` only when the sandbox itself failed.
fn respond(result: RunResult, time_limit_ms: u64, memory_limit_mb: u64) -> RunCodeResponse {
    let mut stderr = result.stderr.clone();
    let mut note = |line: String| {
        if !stderr.is_empty() && !stderr.ends_with('\n') {
            stderr.push('\n');
        }
        stderr.push_str(&line);
    };
    let (status, return_code) = match &result.outcome {
        Outcome::Finished => ("Finished", Some(0)),
        Outcome::Exited { code } | Outcome::SystemExit { code } => ("Finished", Some(*code)),
        Outcome::Exception { .. } => ("Finished", Some(1)),
        Outcome::MemoryLimit => {
            note(format!(
                "sandbox: the memory limit of {memory_limit_mb} MB was exceeded"
            ));
            ("Finished", Some(1))
        }
        Outcome::ScratchLimit => ("Finished", Some(1)),
        Outcome::Trap { message } => {
            note(format!("sandbox: the interpreter crashed: {message}"));
            ("Finished", Some(1))
        }
        Outcome::TimeLimit => ("TimeLimitExceeded", None),
        Outcome::Error { message } => ("Error", {
            note(message.clone());
            None
        }),
    };
    let (top, message) = match (status, return_code) {
        ("Error", _) => ("SandboxError", stderr.clone()),
        ("TimeLimitExceeded", _) => ("Failed", String::new()),
        (_, Some(code)) if code != 0 => ("Failed", String::new()),
        _ => ("Success", String::new()),
    };
    RunCodeResponse {
        status: top,
        message,
        compile_result: None,
        run_result: Some(CommandRunResult {
            status,
            execution_time: Some(result.wall_ms / 1000.0),
            return_code,
            stdout: Some(result.stdout),
            stderr: Some(stderr),
        }),
        executor_pod_name: None,
        files: Map::new(),
        sandbox: Some(SandboxReport {
            outcome: result.outcome,
            cpu_ms: result.cpu_ms,
            peak_memory_bytes: result.peak_memory_bytes,
            time_limit_ms,
            memory_limit_mb,
            stdout_truncated: result.stdout_truncated,
            stderr_truncated: result.stderr_truncated,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(outcome: Outcome, stderr: &str) -> serde_json::Value {
        let mut result = RunResult::error("x");
        result.outcome = outcome;
        result.stdout = "out\n".into();
        result.stderr = stderr.into();
        result.wall_ms = 1500.0;
        serde_json::to_value(respond(result, 3000, 256)).unwrap()
    }

    #[test]
    fn outcomes_read_as_sandbox_fusion_reports_them() {
        let ok = report(Outcome::Finished, "");
        assert_eq!(ok["status"], "Success");
        assert_eq!(ok["run_result"]["status"], "Finished");
        assert_eq!(ok["run_result"]["return_code"], 0);
        assert_eq!(ok["run_result"]["execution_time"], 1.5);
        assert_eq!(ok["compile_result"], Value::Null);

        let raised = report(
            Outcome::Exception {
                type_name: "ValueError".into(),
            },
            "ValueError: x\n",
        );
        assert_eq!(
            (
                raised["status"].clone(),
                raised["run_result"]["return_code"].clone()
            ),
            ("Failed".into(), 1.into())
        );
        let exited = report(Outcome::SystemExit { code: 3 }, "");
        assert_eq!(exited["run_result"]["return_code"], 3);
        assert_eq!(report(Outcome::Exited { code: 0 }, "")["status"], "Success");

        let slow = report(Outcome::TimeLimit, "");
        assert_eq!(slow["status"], "Failed");
        assert_eq!(slow["run_result"]["status"], "TimeLimitExceeded");
        assert_eq!(slow["run_result"]["return_code"], Value::Null);

        let big = report(Outcome::MemoryLimit, "MemoryError");
        assert_eq!(big["run_result"]["return_code"], 1);
        assert!(big["run_result"]["stderr"]
            .as_str()
            .unwrap()
            .ends_with("limit of 256 MB was exceeded"));

        let broken = report(
            Outcome::Error {
                message: "worker died".into(),
            },
            "",
        );
        assert_eq!(broken["status"], "SandboxError");
        assert_eq!(broken["message"], "worker died");
        assert_eq!(broken["run_result"]["status"], "Error");
    }
}
