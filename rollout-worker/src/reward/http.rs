//! The verifier client: batches of samples to one or more `verifier serve` endpoints
//! (`POST /v1/grade` with `{"samples": [...]}` answers `{"results": [...]}` in order).
//!
//! A batch is cut into chunks, one per endpoint, sent concurrently, each of whole GRPO groups (the
//! verifier computes a group's rewards over the request's whole group: a group cut in two got
//! two sets of wrong Kimi length rewards; red team). A chunk that fails (connection
//! refused, timeout, a 5xx or 429, or an answer with the wrong number of results) is retried on
//! the next endpoint after a back-off (the server's `Retry-After` when it gives one, else
//! exponential), so an endpoint that dies loses no sample; only when every attempt fails does
//! the call return an error, never a made-up reward. An endpoint that refused a connection or
//! timed out is passed over for `cool_down` (unless every endpoint is), so a dead one costs one
//! failed attempt per cool-down rather than one per chunk.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use graders::contract::{GradeResult, Sample};
use serde::{Deserialize, Serialize};

use super::RewardSource;

#[derive(Serialize)]
struct GradeRequest<'a> {
    samples: &'a [&'a Sample],
}

#[derive(Deserialize)]
struct GradeResponse {
    results: Vec<GradeResult>,
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Base URLs such as `http://127.0.0.1:8080`.
    pub endpoints: Vec<String>,
    pub timeout: Duration,
    /// Tries per chunk, across endpoints.
    pub max_attempts: usize,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// How long an unreachable endpoint is passed over.
    pub cool_down: Duration,
}

impl HttpConfig {
    pub fn new(endpoints: Vec<String>) -> HttpConfig {
        HttpConfig {
            endpoints,
            timeout: Duration::from_secs(60),
            max_attempts: 8,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            cool_down: Duration::from_secs(10),
        }
    }
}

pub struct HttpVerifier {
    config: HttpConfig,
    agent: ureq::Agent,
    next_endpoint: AtomicUsize,
    /// Per endpoint: unreachable until this instant.
    down_until: Vec<Mutex<Option<Instant>>>,
}

/// Why one attempt failed, and how long the server asked us to wait.
struct Failure {
    message: String,
    retry_after: Option<Duration>,
    /// Connection refused, reset or timed out: the endpoint looks dead.
    unreachable: bool,
}

impl HttpVerifier {
    pub fn new(config: HttpConfig) -> anyhow::Result<HttpVerifier> {
        if config.endpoints.is_empty() {
            bail!("no verifier endpoint given");
        }
        let agent = ureq::AgentBuilder::new().timeout(config.timeout).build();
        let down_until = config.endpoints.iter().map(|_| Mutex::new(None)).collect();
        Ok(HttpVerifier {
            config,
            agent,
            next_endpoint: AtomicUsize::new(0),
            down_until,
        })
    }

    fn post(&self, endpoint: &str, samples: &[&Sample]) -> Result<Vec<GradeResult>, Failure> {
        let url = format!("{}/v1/grade", endpoint.trim_end_matches('/'));
        let fail = |message: String| Failure {
            message,
            retry_after: None,
            unreachable: false,
        };
        let response = match self.agent.post(&url).send_json(GradeRequest { samples }) {
            Ok(response) => response,
            Err(ureq::Error::Status(code, response)) => {
                let retry_after = response
                    .header("Retry-After")
                    .and_then(|s| s.trim().parse::<f64>().ok())
                    .map(Duration::from_secs_f64);
                let body = response.into_string().unwrap_or_default();
                return Err(Failure {
                    message: format!(
                        "{url}: HTTP {code}: {}",
                        body.chars().take(300).collect::<String>()
                    ),
                    retry_after,
                    unreachable: false,
                });
            }
            Err(ureq::Error::Transport(err)) => {
                // ureq's own message starts with the URL; say it once.
                let text = err.to_string();
                let text = text
                    .strip_prefix(&format!("{url}: "))
                    .map_or(text.clone(), str::to_string);
                return Err(Failure {
                    message: format!("{url}: {text}"),
                    retry_after: None,
                    unreachable: true,
                });
            }
        };
        let parsed: GradeResponse = response
            .into_json()
            .map_err(|e| fail(format!("{url}: unreadable answer: {e}")))?;
        if parsed.results.len() != samples.len() {
            return Err(fail(format!(
                "{url}: {} results for {} samples",
                parsed.results.len(),
                samples.len()
            )));
        }
        Ok(parsed.results)
    }

    /// The next endpoint in round-robin order that is not cooling down (any, if all are).
    fn pick_endpoint(&self) -> usize {
        let n = self.config.endpoints.len();
        let now = Instant::now();
        let start = self.next_endpoint.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| {
                self.down_until[i]
                    .lock()
                    .unwrap()
                    .map_or(true, |until| until <= now)
            })
            .unwrap_or(start % n)
    }

    /// Sends one chunk, moving to the next endpoint after each failure.
    fn grade_chunk(&self, samples: &[&Sample]) -> anyhow::Result<Vec<GradeResult>> {
        let mut backoff = self.config.initial_backoff;
        let mut errors = Vec::new();
        for attempt in 0..self.config.max_attempts {
            let index = self.pick_endpoint();
            match self.post(&self.config.endpoints[index], samples) {
                Ok(results) => return Ok(results),
                Err(failure) => {
                    if failure.unreachable {
                        let until = Instant::now() + self.config.cool_down;
                        *self.down_until[index].lock().unwrap() = Some(until);
                    }
                    errors.push(failure.message);
                    if attempt + 1 < self.config.max_attempts {
                        std::thread::sleep(
                            failure
                                .retry_after
                                .unwrap_or(backoff)
                                .min(self.config.max_backoff),
                        );
                        backoff = (backoff * 2).min(self.config.max_backoff);
                    }
                }
            }
        }
        Err(anyhow!(
            "no verifier answered after {} attempts: {}",
            self.config.max_attempts,
            summarise(&errors)
        ))
    }
}

/// Distinct failures once each, in first-seen order, with how often each happened: a dead
/// endpoint tried four times is one line, not its URL four times over.
fn summarise(errors: &[String]) -> String {
    let mut seen: Vec<(&str, usize)> = Vec::new();
    for e in errors {
        match seen.iter_mut().find(|(m, _)| *m == e.as_str()) {
            Some((_, n)) => *n += 1,
            None => seen.push((e, 1)),
        }
    }
    seen.iter()
        .map(|(m, n)| {
            if *n > 1 {
                format!("{m} ({n} times)")
            } else {
                m.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The samples' indices in about `parts` chunks, each holding every sample of each group it has
/// (a group is the samples with one `group_id`, wherever they are; a sample without one is on
/// its own), in input order within a group.
fn whole_group_chunks(samples: &[Sample], parts: usize) -> Vec<Vec<usize>> {
    let mut units: Vec<Vec<usize>> = Vec::new();
    let mut unit_of: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, sample) in samples.iter().enumerate() {
        let Some(group) = &sample.group_id else {
            units.push(vec![i]);
            continue;
        };
        match unit_of.entry(group.to_string()) {
            std::collections::hash_map::Entry::Occupied(unit) => units[*unit.get()].push(i),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(units.len());
                units.push(vec![i]);
            }
        }
    }
    let size = samples.len().div_ceil(parts.max(1));
    let mut chunks = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for unit in units {
        if !current.is_empty() && current.len() + unit.len() > size {
            chunks.push(std::mem::take(&mut current));
        }
        current.extend(unit);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

impl RewardSource for HttpVerifier {
    fn grade(&self, samples: &[Sample]) -> anyhow::Result<Vec<GradeResult>> {
        if samples.is_empty() {
            return Ok(Vec::new());
        }
        let chunks = whole_group_chunks(samples, self.config.endpoints.len());
        let answers: Vec<anyhow::Result<Vec<GradeResult>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = chunks
                .iter()
                .map(|chunk| {
                    let chunk: Vec<&Sample> = chunk.iter().map(|&i| &samples[i]).collect();
                    scope.spawn(move || self.grade_chunk(&chunk))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow!("grading thread panicked")))
                })
                .collect()
        });
        let mut results: Vec<Option<GradeResult>> = vec![None; samples.len()];
        for (chunk, answer) in chunks.iter().zip(answers) {
            for (&i, result) in chunk.iter().zip(answer?) {
                results[i] = Some(result);
            }
        }
        Ok(results
            .into_iter()
            .map(|result| result.expect("every sample is in one chunk"))
            .collect())
    }

    fn describe(&self) -> String {
        format!("verifier at {}", self.config.endpoints.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(group: Option<&str>) -> Sample {
        let mut value =
            serde_json::json!({"completion": "x", "task": {"kind": "format", "style": "r1"}});
        if let Some(group) = group {
            value["group_id"] = group.into();
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn chunks_keep_every_group_whole_and_every_sample_once() {
        // Groups of 3 (q0 interleaved with q1), among samples of no group, over 2 endpoints.
        let groups = [
            Some("q0"),
            None,
            Some("q1"),
            Some("q0"),
            Some("q1"),
            Some("q0"),
            None,
            Some("q1"),
            None,
        ];
        let samples: Vec<Sample> = groups.iter().map(|g| sample(*g)).collect();
        for parts in [1, 2, 3, 9] {
            let chunks = whole_group_chunks(&samples, parts);
            let mut seen: Vec<usize> = chunks.iter().flatten().copied().collect();
            seen.sort_unstable();
            assert_eq!(
                seen,
                (0..samples.len()).collect::<Vec<_>>(),
                "{parts} parts"
            );
            for group in ["q0", "q1"] {
                let holding: Vec<usize> = (0..chunks.len())
                    .filter(|&c| chunks[c].iter().any(|&i| groups[i] == Some(group)))
                    .collect();
                assert_eq!(holding.len(), 1, "{group} cut over chunks {holding:?}");
            }
        }
        assert!(whole_group_chunks(&samples, 3).len() > 1, "still spread");
    }
}
