//! Back-pressure and shutdown of `verifier serve`, end to end: a client that sends far more than
//! the service can take gets 503 + Retry-After, memory stays bounded, every accepted sample gets
//! its result, and SIGTERM lets an in-flight batch finish.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tests::{format_sample, Service};

fn big_batch(n: usize, completion_bytes: usize, tag: &str) -> String {
    let reasoning = "step ".repeat(completion_bytes / 5);
    let samples: Vec<Value> = (0..n)
        .map(|i| {
            let text = format!("<think>\n{reasoning}{tag}{i}\n</think>\n<answer>\n{i}\n</answer>");
            format_sample(
                format!("{tag}-{i}"),
                &text,
                if i % 2 == 0 {
                    "think_answer_strict"
                } else {
                    "r1"
                },
            )
        })
        .collect();
    json!({ "samples": samples }).to_string()
}

#[test]
fn a_flood_gets_503_with_retry_after_bounded_memory_and_no_lost_samples() {
    // The 16 clients share 127.0.0.1: a client's share is every slot, so that the global
    // bounds are what is tested here (`slow_clients` tests the share).
    let service = Service::start(&[
        "--jobs",
        "1",
        "--max-queue",
        "2048",
        "--max-requests",
        "3",
        "--max-requests-per-client",
        "3",
    ]);
    let clients = 16;
    let requests_each = 6;
    let per_batch = 1024;
    let bodies: Vec<String> = (0..clients)
        .map(|c| big_batch(per_batch, 2048, &format!("c{c}")))
        .collect();
    let started = Instant::now();
    let outcomes: Vec<(u16, bool)> = std::thread::scope(|scope| {
        let handles: Vec<_> = bodies
            .iter()
            .enumerate()
            .map(|(c, body)| {
                let service = &service;
                scope.spawn(move || {
                    let mut seen = Vec::new();
                    for _ in 0..requests_each {
                        let reply = service.post("/v1/grade", body);
                        match reply.status {
                            200 => {
                                let results = reply.json()["results"].as_array().unwrap().clone();
                                let complete = results.len() == per_batch
                                    && results.iter().enumerate().all(|(i, r)| {
                                        r["id"] == json!(format!("c{c}-{i}"))
                                            && r["status"] == json!("correct")
                                    });
                                seen.push((200, complete));
                            }
                            503 => seen.push((503, reply.retry_after.as_deref() == Some("1"))),
                            other => panic!("unexpected status {other}: {}", reply.body),
                        }
                    }
                    seen
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let accepted = outcomes.iter().filter(|(s, _)| *s == 200).count();
    let refused = outcomes.iter().filter(|(s, _)| *s == 503).count();
    eprintln!(
        "{} requests of {per_batch} samples in {:.1} s: {accepted} accepted, {refused} refused with 503",
        outcomes.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        accepted > 0 && refused > 0,
        "accepted {accepted}, refused {refused}"
    );
    assert!(
        outcomes.iter().all(|(_, ok)| *ok),
        "a 200 lost a sample or a 503 lacked Retry-After"
    );

    // 3 bodies of ~2.3 MB in flight at most, plus their results: far under 400 MiB.
    let peak = service.peak_rss_kib().expect("VmHWM readable");
    eprintln!("peak RSS of the service: {} MiB", peak / 1024);
    assert!(peak < 400 * 1024, "peak RSS {} MiB", peak / 1024);

    let metrics = service.get("/metrics").body;
    assert!(metrics.contains(r#"verifier_http_requests_total{code="503",route="/v1/grade"}"#));
    assert!(
        metrics.contains("verifier_queue_depth 0"),
        "queue not drained:\n{metrics}"
    );
}

#[test]
fn sigterm_lets_the_in_flight_batch_finish() {
    let mut service = Service::start(&["--jobs", "1"]);
    let body = big_batch(16_000, 1024, "t");
    let result = std::thread::scope(|scope| {
        let request = scope.spawn(|| service.post("/v1/grade", &body));
        std::thread::sleep(Duration::from_millis(150));
        let status = std::process::Command::new("kill")
            .args(["-TERM", &service.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        request.join().unwrap()
    });
    assert_eq!(
        result.status,
        200,
        "{}",
        &result.body[..result.body.len().min(300)]
    );
    assert_eq!(result.json()["results"].as_array().unwrap().len(), 16_000);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = service.child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the service did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
