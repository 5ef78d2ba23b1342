//! How code work is scheduled in the real `verifier serve`: a small batch of code samples uses
//! every sandbox worker, a code sample's deadline starts when a worker can take it (not while
//! it waits for one), requests take turns at the sandbox workers (a 1-sample code request is not
//! queued behind another request's hundreds), and a format request is answered in milliseconds
//! while sandbox work is queued (pure graders never wait behind the sandboxes).

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tests::{format_sample, python_code_sample, Service};

/// A JavaScript sample that passes after `turns` loop turns (10M: about a second); `id` makes
/// its code distinct.
fn busy_sample(id: &str, timeout_ms: Option<u64>, turns: u64) -> Value {
    let mut sample = json!({"id": id, "completion": format!("```javascript\nfunction f(x) {{ let s = 0; for (let i = 0; i < {turns}; i++) {{ s += i % 7; }} /* {id} */ return x + 1 + (s < 0 ? 1 : 0); }}\n```"),
           "task": {"kind": "code", "language": "javascript",
                    "tests": {"type": "call", "fn_name": "f", "cases": [{"args": [1], "expected": 2}]}}});
    if let Some(timeout_ms) = timeout_ms {
        sample["limits"] = json!({ "timeout_ms": timeout_ms });
    }
    sample
}

fn grade(service: &Service, samples: &[Value]) -> Vec<Value> {
    let reply = service.post("/v1/grade", &json!({ "samples": samples }).to_string());
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["results"].as_array().unwrap().clone()
}

fn warm(service: &Service) {
    let warm = grade(service, &[busy_sample("warm", None, 10_000_000)]);
    assert_eq!(warm[0]["status"], json!("correct"), "{}", warm[0]);
}

#[test]
fn a_small_code_batch_runs_on_every_worker() {
    // Two sandbox workers (one per core here, at least two).
    let service = Service::start(&[]);
    warm(&service);
    let samples: Vec<Value> = (0..4)
        .map(|i| busy_sample(&format!("b{i}"), None, 10_000_000))
        .collect();
    let started = Instant::now();
    let results = grade(&service, &samples);
    let wall = started.elapsed().as_secs_f64();
    let busy: f64 = results
        .iter()
        .map(|r| {
            assert_eq!(r["status"], json!("correct"), "{r}");
            r["elapsed_us"].as_f64().unwrap() / 1e6
        })
        .sum();
    // One after another, the samples' own times add up to the wall time; on two workers at
    // once, to about twice it.
    assert!(
        busy / wall > 1.4,
        "samples ran {busy:.2} s in {wall:.2} s of wall time: not in parallel"
    );
}

#[test]
fn a_code_sample_deadline_starts_when_a_worker_is_free() {
    // Many grading threads, two sandbox workers, 36 samples sent at once, each with two code
    // components of about a quarter of a second and a 6 s deadline. Served two at a time they
    // take about 9 s in all; the time a sample waits for a worker, before or between its
    // components, must not count against its deadline (which leaves it twelve times its work,
    // for machines where other tests' workers take the same cores).
    // All 36 requests come from one client (127.0.0.1): its share must cover them.
    let service = Service::start(&["--jobs", "36", "--max-requests-per-client", "36"]);
    warm(&service);
    let sample = |i: usize| {
        let mut sample = busy_sample(&format!("d{i}"), Some(6000), 2_500_000);
        sample["components"] = json!([{ "task": sample["task"].clone() }]);
        sample
    };
    let results: Vec<Value> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..36)
            .map(|i| {
                let service = &service;
                scope.spawn(move || grade(service, &[sample(i)]))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap()[0].clone())
            .collect()
    });
    for result in &results {
        assert_eq!(result["status"], json!("correct"), "{result}");
    }
}

/// The service's `verifier_queue_depth` gauge (samples admitted and not yet answered).
fn queue_depth(service: &Service) -> u64 {
    let metrics = service.get("/metrics").body;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("verifier_queue_depth "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no queue depth in:\n{metrics}"))
}

#[test]
fn a_one_sample_code_request_takes_its_turn_ahead_of_a_big_batch() {
    let service = Service::start(&[]);
    warm(&service);
    let warm_python = grade(&service, &[python_code_sample("warm-py")]);
    assert_eq!(
        warm_python[0]["status"],
        json!("correct"),
        "{}",
        warm_python[0]
    );
    // Request A: 200 Python samples that never end, each stopped by its 1 s deadline; two
    // sandbox workers take about 100 s for them all. Sent raw and never read: the service is
    // killed at the end of the test.
    let spinning: Vec<Value> = (0..200)
        .map(|i| {
            json!({"id": i, "completion": format!("```python\ndef f(x):\n    while True:\n        pass  # {i}\n```"),
                   "task": {"kind": "code", "language": "python",
                            "tests": {"type": "call", "fn_name": "f", "cases": [{"args": [1], "expected": 2}]}},
                   "limits": {"timeout_ms": 1000}})
        })
        .collect();
    let body = json!({ "samples": spinning }).to_string();
    let mut big = std::net::TcpStream::connect(service.url.trim_start_matches("http://")).unwrap();
    write!(
        big,
        "POST /v1/grade HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // Until A is admitted, and a little more, so that its samples occupy both workers.
    let admitted_by = Instant::now() + Duration::from_secs(10);
    while queue_depth(&service) < 200 {
        assert!(Instant::now() < admitted_by, "request A was not admitted");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));

    // Request B: one correct sample. Its turn comes once a worker finishes one of A's samples.
    let started = Instant::now();
    let reply = ureq::post(&format!("{}/v1/grade", service.url))
        .timeout(Duration::from_secs(30))
        .send_string(&json!({ "samples": [python_code_sample("b")] }).to_string());
    let took = started.elapsed();
    let reply = reply.unwrap_or_else(|e| {
        panic!("request B was not answered ({e}) after {took:?}: queued behind request A")
    });
    let results: Value = reply.into_json().unwrap();
    assert_eq!(
        results["results"][0]["status"],
        json!("correct"),
        "{results}"
    );
    // About one sample's deadline (1 s) and B's own run; the bound is loose for shared machines.
    assert!(
        took < Duration::from_secs(5),
        "request B took {took:?} behind a 200-sample code request"
    );
    eprintln!("a 1-sample code request behind 200 spinning samples: answered in {took:?}");
    drop(big);
}

#[test]
fn a_format_request_is_answered_in_milliseconds_while_code_is_queued() {
    let service = Service::start(&[]);
    warm(&service);
    // Two requests of code that never ends, each run stopped only by its time limit.
    let spinning: Vec<Value> = (0..4)
        .map(|i| {
            json!({"id": i, "completion": format!("```javascript\nfunction f(x) {{ while (true) {{}} return {i}; }}\n```"),
                   "task": {"kind": "code", "language": "javascript", "time_limit_ms": 500,
                            "tests": {"type": "call", "fn_name": "f", "cases": [{"args": [1], "expected": 2}]}}})
        })
        .collect();
    let latencies = std::thread::scope(|scope| {
        for _ in 0..2 {
            let service = &service;
            let spinning = &spinning;
            scope.spawn(move || grade(service, spinning));
        }
        std::thread::sleep(Duration::from_millis(500));
        let format = [format_sample(
            "f",
            "<think>\nx\n</think>\n<answer>\n1\n</answer>",
            "think_answer",
        )];
        let mut latencies: Vec<Duration> = (0..20)
            .map(|_| {
                let started = Instant::now();
                let results = grade(&service, &format);
                assert_eq!(results[0]["status"], json!("correct"));
                let took = started.elapsed();
                std::thread::sleep(Duration::from_millis(50));
                took
            })
            .collect();
        latencies.sort();
        latencies
    });
    let worst = latencies[latencies.len() - 1];
    // The issue's bar is a p99 under 50 ms; on a shared CI machine the bound here is looser.
    assert!(
        worst < Duration::from_millis(250),
        "format latencies while code is queued: {latencies:?}"
    );
}

/// `POST /run_code` takes turns at the sandbox workers with grading requests, and clients take
/// turns however many requests each sent: one client's slow runs do not hold every worker while
/// another client's one-sample code grade waits behind all of them (the runs went past the
/// queue, and the grade waited 23 s, red team).
#[test]
fn run_code_takes_turns_with_grading_at_the_sandbox_workers() {
    let service = Service::start(&[]);
    warm(&service);
    // Six runs of up to 3 s each (run_timeout 1 s, three times that in the sandbox) on the two
    // workers: 9 s of work queued ahead of the grade if they did not take turns.
    let url = service.url.clone();
    let slow: Vec<_> = (0..6)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || {
                let body = json!({"code": format!("import time\n# {i}\ntime.sleep(100)\n"),
                                  "language": "python", "run_timeout": 1, "compile_timeout": 10});
                ureq::post(&format!("{url}/run_code"))
                    .timeout(Duration::from_secs(60))
                    .send_string(&body.to_string())
                    .map(|reply| reply.into_string().unwrap_or_default())
                    .map_err(|err| err.to_string())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    // From another client: clients take turns at the workers, however many requests each sent.
    let started = Instant::now();
    let results = grade_from(&service, [127, 0, 0, 2], &[python_code_sample("small")]);
    let waited = started.elapsed();
    assert_eq!(results[0]["status"], json!("correct"), "{}", results[0]);
    for run in slow {
        let answer = run.join().unwrap().expect("the run was answered");
        assert!(answer.contains("TimeLimitExceeded"), "{answer}");
    }
    assert!(
        waited < Duration::from_millis(6500),
        "the one-sample grade waited {waited:?} behind the runs"
    );
}

/// [`grade`] from the loopback address `from`: another client.
fn grade_from(service: &Service, from: [u8; 4], samples: &[Value]) -> Vec<Value> {
    let body = json!({ "samples": samples }).to_string();
    let answer = service.post_raw_from(from.into(), "/v1/grade", &body);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{answer}");
    serde_json::from_str::<Value>(body).unwrap()["results"]
        .as_array()
        .unwrap()
        .clone()
}
