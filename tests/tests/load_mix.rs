//! The acceptance load run (ignored: a minute long, run by hand against a release build):
//! 64 concurrent clients for `LOAD_SECONDS` (60) send batches mixing math, format, instructions
//! and 10% code (JavaScript and Python, some spending about a second) to the real service.
//! Checks that no result is lost or duplicated (every id answered once), that resident memory
//! stays bounded, and that a 1-sample format request's p99 stays under 50 ms while code is
//! queued; prints throughput, p50/p99 by kind and the 503 rate.
//!
//! `cargo build --release -p verifier && VERIFIER_BIN=target/release/verifier \
//!  cargo test --release -p tests --test load_mix -- --ignored --nocapture`

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tests::{format_sample, javascript_code_sample, python_code_sample, Service};

const CLIENTS: usize = 64;

fn math_sample(id: &str, n: usize) -> Value {
    json!({"id": id, "completion": format!("<think>\nadd\n</think>\nSo the answer is $\\boxed{{\\frac{{{n}}}{{2}}}}$."),
           "task": {"kind": "math", "answer": format!("{}", n as f64 / 2.0)}})
}

fn instructions_sample(id: &str, n: usize) -> Value {
    json!({"id": id, "completion": format!("here is a short answer in lower case number {n}"),
           "task": {"kind": "instructions",
                    "instruction_id_list": ["change_case:english_lowercase", "length_constraints:number_words"],
                    "kwargs": [{}, {"relation": "less than", "num_words": 40}]}})
}

fn busy_code_sample(id: &str) -> Value {
    json!({"id": id, "completion": format!("```javascript\nfunction f(x) {{ let s = 0; for (let i = 0; i < 8000000; i++) {{ s += i % 7; }} /* {id} */ return x + 1 + (s < 0 ? 1 : 0); }}\n```"),
           "task": {"kind": "code", "language": "javascript",
                    "tests": {"type": "call", "fn_name": "f", "cases": [{"args": [1], "expected": 2}]}}})
}

/// One request's samples: (kind label, samples).
fn request(client: usize, number: usize) -> (&'static str, Vec<Value>) {
    let id = |i: usize| format!("c{client}-r{number}-s{i}");
    match (client + number) % 10 {
        0 => {
            // 10% code: half quick (JavaScript or Python), half about a second of work.
            let sample = match number % 4 {
                0 => javascript_code_sample(&id(0)),
                1 => python_code_sample(&id(0)),
                _ => busy_code_sample(&id(0)),
            };
            ("code", vec![sample])
        }
        1..=3 => (
            "format",
            vec![format_sample(
                id(0),
                "<think>\nx\n</think>\n<answer>\n1\n</answer>",
                "think_answer",
            )],
        ),
        4..=6 => (
            "math",
            (0..8)
                .map(|i| math_sample(&id(i), number * 8 + i))
                .collect(),
        ),
        _ => (
            "instructions",
            (0..4)
                .map(|i| instructions_sample(&id(i), number + i))
                .collect(),
        ),
    }
}

#[test]
#[ignore = "a minute of load; run by hand (see the module doc)"]
fn mixed_load_loses_nothing_and_format_stays_fast_while_code_is_queued() {
    let seconds: u64 = std::env::var("LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    // The 64 clients all connect from 127.0.0.1: one client's share must be every slot.
    let service = Service::start(&["--max-requests-per-client", "64"]);
    // Sandboxes set up before the clock starts.
    let warm = service.post(
        "/v1/grade",
        &json!({"samples": [javascript_code_sample("w"), python_code_sample("w2")]}).to_string(),
    );
    assert_eq!(warm.status, 200);

    let seen: Mutex<HashSet<String>> = Mutex::new(HashSet::new());
    let latencies: Mutex<BTreeMap<&'static str, Vec<Duration>>> = Mutex::new(BTreeMap::new());
    let statuses: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());
    let (mut sent, mut ok, mut unavailable, mut samples_ok) = (0u64, 0u64, 0u64, 0u64);
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let per_client: Vec<(u64, u64, u64, u64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let (service, seen, latencies, statuses) = (&service, &seen, &latencies, &statuses);
                scope.spawn(move || {
                    let (mut sent, mut ok, mut unavailable, mut samples_ok) = (0, 0, 0, 0);
                    let mut number = 0;
                    while Instant::now() < until {
                        let (kind, samples) = request(client, number);
                        let body = json!({ "samples": samples }).to_string();
                        let began = Instant::now();
                        let reply = service.post("/v1/grade", &body);
                        let took = began.elapsed();
                        sent += 1;
                        match reply.status {
                            200 => {
                                ok += 1;
                                let results = reply.json()["results"].as_array().unwrap().clone();
                                assert_eq!(results.len(), samples.len(), "{kind}");
                                let mut seen = seen.lock().unwrap();
                                let mut statuses = statuses.lock().unwrap();
                                for (sample, result) in samples.iter().zip(&results) {
                                    assert_eq!(sample["id"], result["id"], "results in order");
                                    let id = result["id"].as_str().unwrap().to_string();
                                    assert!(seen.insert(id.clone()), "{id} answered twice");
                                    *statuses
                                        .entry(format!(
                                            "{kind}:{}",
                                            result["status"].as_str().unwrap()
                                        ))
                                        .or_default() += 1;
                                }
                                samples_ok += results.len() as u64;
                                latencies
                                    .lock()
                                    .unwrap()
                                    .entry(kind)
                                    .or_default()
                                    .push(took);
                                number += 1;
                            }
                            503 => {
                                unavailable += 1;
                                std::thread::sleep(Duration::from_millis(20));
                            }
                            other => panic!("{other}: {}", reply.body),
                        }
                    }
                    (sent, ok, unavailable, samples_ok)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let wall = started.elapsed().as_secs_f64();
    for (s, o, u, n) in per_client {
        sent += s;
        ok += o;
        unavailable += u;
        samples_ok += n;
    }
    let peak_rss_mib = service.peak_rss_kib().unwrap_or(0) / 1024;
    let mut latencies = latencies.into_inner().unwrap();
    println!(
        "{CLIENTS} clients, {wall:.1} s: {sent} requests ({:.0}/s), {ok} answered 200 ({samples_ok} samples, {:.0}/s), 503 rate {:.2}%, peak RSS {peak_rss_mib} MiB",
        sent as f64 / wall,
        samples_ok as f64 / wall,
        100.0 * unavailable as f64 / sent.max(1) as f64
    );
    for (kind, values) in latencies.iter_mut() {
        values.sort();
        let at = |q: f64| values[((values.len() as f64 * q) as usize).min(values.len() - 1)];
        println!(
            "{kind:<13} requests {:>6}  p50 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms",
            values.len(),
            at(0.5).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3,
            values[values.len() - 1].as_secs_f64() * 1e3
        );
    }
    println!("statuses: {:?}", statuses.into_inner().unwrap());
    assert_eq!(seen.into_inner().unwrap().len() as u64, samples_ok);
    assert!(peak_rss_mib < 1024, "peak RSS {peak_rss_mib} MiB");
    let format = &latencies["format"];
    let p99 = format[((format.len() as f64 * 0.99) as usize).min(format.len() - 1)];
    assert!(p99 < Duration::from_millis(50), "format p99 {p99:?}");
}
