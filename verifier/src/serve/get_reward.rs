//! `POST /get_reward`: OpenRLHF's remote reward model, so that `--remote_rm_url
//! http://host:8080/get_reward` is the whole change for an OpenRLHF user.
//!
//! The shapes are OpenRLHF's own (OpenRLHF/OpenRLHF):
//! - request `{"query": [...], "prompts": [...], "labels": [...]}`, built in
//!   `openrlhf/utils/remote_rm_utils.py` (`remote_rm_fn_ray`, before 2026-01) and in
//!   `openrlhf/utils/agent.py` (`SingleTurnAgentExecutor._fetch_rewards_via_http`, since), and
//!   posted as JSON;
//! - response `{"rewards": [...], "scores": [...], "extra_logs": {...}}`, as
//!   `openrlhf/cli/serve_rm.py` answers and `examples/python/reward_func.py` documents:
//!   `rewards` for the advantage, `scores` (0–1) for dynamic filtering, `extra_logs` logged.
//!
//! OpenRLHF turns every reward and every `extra_logs` value into a tensor
//! (`torch.tensor([value])` in `openrlhf/trainer/ppo_utils/samples_generator.py`; concatenated
//! per key before then, `experience_maker.py`), so all of them must be numbers, one per sample.
//! Hence our choice for samples that could not be graded (`error`, `timeout`): their reward and
//! score are `?error_reward=` (default 0, the reward our own results carry), and the statuses
//! go into `extra_logs` as one 0/1 list per status (`verifier_error`, `verifier_timeout`, ...),
//! so their rates are logged each step and never hide among wrong answers. The statuses and
//! error messages themselves are in `statuses` and `errors` beside them, which OpenRLHF ignores.

mod labels;
mod response_text;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use graders::contract::{CodeLanguage, FormatStyle, Limits};
use graders::{Sample, SampleError, Status};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::handlers::{
    admit, count, error, grade_batch, json_body, parse_request, ErrorBody, Prepared, Refusal,
};
use super::AppState;
use crate::engine::{Engine, Graded};
pub use labels::LabelKind;
use labels::TaskOptions;

const ROUTE: &str = "/get_reward";

/// Requests of at most this many items have their samples made on the caller's thread (as
/// the engine grades batches of at most 64 there).
const SMALL_REQUEST: usize = 64;

/// OpenRLHF's request: each sample's prompt and response together (`query`), the prompts, and
/// the labels (the gold answer, the tests, or a task object; their meaning is `?kind=`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RewardRequest {
    query: Vec<String>,
    prompts: Vec<String>,
    /// Read one by one (a label that cannot be read fails its item, not the request), and a
    /// math label that is a JSON number keeps its digits: parsed as a float, 23! was
    /// 2.585201673888498e22 and its exact answer graded wrong (red team).
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    labels: Option<Vec<Box<serde_json::value::RawValue>>>,
}

/// The route's options, from its query string (`/get_reward?kind=code&language=javascript`).
#[derive(Deserialize, Default, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RewardParams {
    /// What a label means (default: the server's `--get-reward-kind`, `math`).
    #[param(inline)]
    kind: Option<LabelKind>,
    /// `kind=format`: the style (default `r1`).
    #[param(inline)]
    style: Option<FormatStyle>,
    /// `kind=format`: the template opened `<think>` already (default: the prompt ends with it).
    think_prefilled: Option<bool>,
    /// `kind=code`: the language (default `python`).
    #[param(inline)]
    language: Option<CodeLanguage>,
    /// Reward and score of a sample that could not be graded (`error`, `timeout`); default 0.
    error_reward: Option<f64>,
    /// Deadline per sample, in milliseconds (default: the server's `--timeout-ms`).
    timeout_ms: Option<u64>,
}

/// One reward and score per sample; `extra_logs` holds a 0/1 list per status
/// (`verifier_error`, ...), which OpenRLHF logs; `statuses` and `errors` it ignores.
#[derive(Serialize, ToSchema)]
pub(super) struct RewardResponse<'a> {
    rewards: Vec<f64>,
    scores: Vec<f64>,
    #[schema(value_type = Object)]
    extra_logs: Map<String, Value>,
    #[schema(value_type = Vec<String>)]
    statuses: Vec<&'static str>,
    #[schema(value_type = Vec<Option<String>>)]
    errors: Vec<Option<&'a str>>,
}

/// OpenRLHF's remote reward model (`--remote_rm_url http://host:8080/get_reward`).
#[utoipa::path(
    post,
    path = "/get_reward",
    tag = "grading",
    params(RewardParams),
    request_body = RewardRequest,
    responses(
        (status = 200, description = "One reward per sample, in request order", body = RewardResponse),
        (status = 400, description = "A malformed body, query string or label", body = ErrorBody),
        (status = 401, description = "No or wrong bearer token (only with --auth-token-file)", body = ErrorBody),
        (status = 408, description = "The body did not arrive within --read-timeout-s", body = ErrorBody),
        (status = 413, description = "Over --max-body-mb, or more samples than --max-batch", body = ErrorBody),
        (status = 503, description = "Overloaded", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    ),
    security((), ("bearer" = [])),
)]
pub async fn get_reward(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    params: Result<Query<RewardParams>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let response = match params {
        Ok(Query(params)) => answer(&state, peer, params, &headers, body).await,
        Err(rejection) => error(
            StatusCode::BAD_REQUEST,
            format!(
                "bad query string: {}; options: kind, style, think_prefilled, language, \
                 error_reward, timeout_ms",
                rejection.body_text()
            ),
        ),
    };
    count(&state, ROUTE, response)
}

async fn answer(
    state: &Arc<AppState>,
    peer: SocketAddr,
    params: RewardParams,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let kind = params.kind.unwrap_or(state.args.get_reward_kind);
    if let Err(message) = check_params(kind, &params) {
        return error(StatusCode::BAD_REQUEST, message);
    }
    let admitted = match admit(state, peer, headers, body).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let (body, slot) = admitted.into_parts();
    let client = super::client_slots::client_of(peer.ip());
    let options = TaskOptions {
        format_style: params.style,
        think_prefilled: params.think_prefilled,
        language: params.language,
    };
    let limits = Limits {
        timeout_ms: params.timeout_ms,
    };
    let error_reward = params.error_reward.unwrap_or(0.0);
    // Parsed on the batch thread that grades it (see `batch_threads`).
    let prepare = move || {
        let request = read_request(&body)?;
        let n = request.query.len();
        let grade = move |engine: &Engine| {
            let make = |i: usize| {
                sample(
                    i,
                    &request.query[i],
                    &request.prompts[i],
                    request.labels.as_ref().map(|labels| &*labels[i]),
                    kind,
                    &options,
                    &limits,
                )
            };
            // A small request's samples are made here: on the pool, a one-item request waited
            // behind every large batch queued there (9 s behind another client's, red team).
            let samples: Vec<Result<Sample, SampleError>> = if n <= SMALL_REQUEST {
                (0..n).map(make).collect()
            } else {
                engine.install(|| {
                    use rayon::prelude::*;
                    (0..n).into_par_iter().map(make).collect()
                })
            };
            engine.grade_samples(client, samples, &|i| format!("item {i}"))
        };
        Ok::<Prepared, Refusal>(Prepared {
            samples: n,
            linear_text: None,
            grade: Box::new(grade),
        })
    };
    // Its samples are made from the lists on the batch thread (see `batch_threads`).
    let graded = grade_batch(
        state,
        slot,
        false,
        prepare,
        move |n| (0..n).map(Value::from).collect(),
        Arc::new(move |graded: &Graded| render(graded, error_reward)),
    )
    .await;
    match graded {
        Ok(Ok(body)) => json_body(body),
        Ok(Err(err)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode rewards: {err}"),
        ),
        Err(response) => response,
    }
}

/// The request's lists, or the 400 that says what is wrong with them.
fn read_request(body: &[u8]) -> Result<RewardRequest, Refusal> {
    let request: RewardRequest = parse_request(body).map_err(|err| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!(
                "malformed request: expected {{\"query\": [...], \"prompts\": [...], \
                 \"labels\": [...]}} (lists of the same length): {err}"
            ),
        ))
    })?;
    let n = request.query.len();
    let labels = request.labels.as_ref().map_or(n, Vec::len);
    if request.prompts.len() != n || labels != n {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            format!(
                "`query`, `prompts` and `labels` must be lists of the same length; got {n}, {} \
                 and {}",
                request.prompts.len(),
                labels
            ),
        )));
    }
    Ok(request)
}

/// Options that do not apply to the kind are refused rather than ignored: a `style` with
/// `kind=math` is a mistake worth hearing about.
fn check_params(kind: LabelKind, params: &RewardParams) -> Result<(), String> {
    let misplaced = [
        ("style", params.style.is_some(), LabelKind::Format),
        (
            "think_prefilled",
            params.think_prefilled.is_some(),
            LabelKind::Format,
        ),
        ("language", params.language.is_some(), LabelKind::Code),
    ];
    for (name, given, applies_to) in misplaced {
        if given && kind != applies_to {
            return Err(format!(
                "`{name}` applies to kind={} only, not kind={}",
                kind_name(applies_to),
                kind_name(kind)
            ));
        }
    }
    if let Some(reward) = params.error_reward {
        graders::contract::check_magnitude(reward)
            .map_err(|why| format!("`error_reward` {why}"))?;
    }
    Ok(())
}

fn kind_name(kind: LabelKind) -> String {
    use clap::ValueEnum;
    kind.to_possible_value()
        .map(|value| value.get_name().to_string())
        .unwrap_or_default()
}

/// One OpenRLHF item as a sample: the response cut out of the query, the label as the task.
fn sample(
    i: usize,
    query: &str,
    prompt: &str,
    label: Option<&serde_json::value::RawValue>,
    kind: LabelKind,
    options: &TaskOptions,
    limits: &Limits,
) -> Result<Sample, SampleError> {
    let fail = |message: String| SampleError {
        id: Value::from(i),
        message,
    };
    let completion = response_text::response_of(query, prompt)
        .map_err(|why| fail(format!("query[{i}]: {why}")))?;
    let label = label_value(label, kind).map_err(|why| fail(format!("labels[{i}]: {why}")))?;
    let task = kind
        .task(&label, prompt, options)
        .map_err(|why| fail(format!("labels[{i}]: {why}")))?;
    Ok(Sample {
        id: Value::from(i),
        completion: completion.to_string(),
        task,
        weight: None,
        components: Vec::new(),
        group_id: None,
        limits: limits.clone(),
    })
}

/// A label as a JSON value; a math label written as a number is its literal text, every digit
/// kept (the math grader reads `25852016738884976640000` exactly; a float does not).
fn label_value(
    label: Option<&serde_json::value::RawValue>,
    kind: LabelKind,
) -> Result<Value, String> {
    let Some(label) = label else {
        return Ok(Value::Null);
    };
    let text = label.get().trim();
    if kind == LabelKind::Math && text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return Ok(Value::String(text.to_string()));
    }
    let value: Value =
        serde_json::from_str(text).map_err(|err| format!("cannot be read: {err}"))?;
    if kind == LabelKind::Task {
        // Read as a task from its own text too, which refuses a field given twice: read as a
        // JSON value, `{"answer": "1", "answer": "2"}` was graded against "2" without a word.
        let task_text = match &value {
            Value::String(inner) => inner.as_str(),
            _ => text,
        };
        if let Err(err) = serde_json::from_str::<graders::contract::Task>(task_text) {
            return Err(format!("invalid task: {err}"));
        }
    }
    Ok(value)
}

fn render(graded: &Graded, error_reward: f64) -> serde_json::Result<Vec<u8>> {
    let failed = |status: Status| matches!(status, Status::Error | Status::Timeout);
    let rewards: Vec<f64> = graded
        .results
        .iter()
        .map(|r| {
            if failed(r.status) {
                error_reward
            } else {
                r.reward
            }
        })
        .collect();
    let mut extra_logs = Map::new();
    for status in Status::ALL {
        let indicator: Vec<f64> = graded
            .results
            .iter()
            .map(|r| if r.status == status { 1.0 } else { 0.0 })
            .collect();
        extra_logs.insert(format!("verifier_{}", status.as_str()), indicator.into());
    }
    serde_json::to_vec(&RewardResponse {
        scores: rewards.clone(),
        rewards,
        extra_logs,
        statuses: graded.results.iter().map(|r| r.status.as_str()).collect(),
        errors: graded.results.iter().map(|r| r.error.as_deref()).collect(),
    })
}
