//! Back-pressure and shutdown of `verifier serve`, end to end: a client that sends far more than
//! the service can take gets 503 + Retry-After, memory stays bounded, every accepted sample gets
//! its result, and SIGTERM lets an in-flight batch finish.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tests::{format_sample, Service};

/// The tests here that load the cores or time their answers run one at a time: on two cores, one
/// test's service slows another's and the timings mean nothing.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

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
    let _serial = one_at_a_time();
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

fn sigterm(service: &Service) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &service.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

#[test]
fn sigterm_lets_the_in_flight_batch_finish() {
    let mut service = Service::start(&["--jobs", "1"]);
    let body = big_batch(16_000, 1024, "t");
    let result = std::thread::scope(|scope| {
        let request = scope.spawn(|| service.post("/v1/grade", &body));
        std::thread::sleep(Duration::from_millis(150));
        sigterm(&service);
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

/// A request whose body is still arriving when the drain's stop comes (a second before the drain
/// timeout, when batches still grading are answered with errors) is read and refused as any
/// other: a malformed body is 400 and an oversized batch 413. Red team: the stop's early answer
/// was taken before such a request had been read, and a malformed body came back `200
/// {"results":[]}`.
#[test]
fn a_request_read_after_the_drain_stop_still_gets_its_own_refusal() {
    use std::io::{Read, Write};
    let _serial = one_at_a_time();
    let service = Service::start(&["--jobs", "1", "--drain-timeout-s", "4", "--max-batch", "5"]);
    let malformed = format!("{{\"samples\":[1,2,{}}}", " ".repeat(50));
    let oversized = big_batch(8, 20, "o");
    let mut halves: Vec<(std::net::TcpStream, &str)> = [&malformed, &oversized]
        .into_iter()
        .map(|body| {
            let mut stream = service.connect_from(std::net::Ipv4Addr::LOCALHOST);
            let (first, rest) = body.split_at(body.len() / 2);
            write!(
                stream,
                "POST /v1/grade HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{first}",
                body.len()
            )
            .unwrap();
            (stream, rest)
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    sigterm(&service);
    // The stop comes at 3 s and the process exits at 4 s.
    std::thread::sleep(Duration::from_millis(3300));
    let answers: Vec<String> = halves
        .iter_mut()
        .map(|(stream, rest)| {
            stream.write_all(rest.as_bytes()).unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            answer
        })
        .collect();
    assert!(answers[0].starts_with("HTTP/1.1 400"), "{}", answers[0]);
    assert!(answers[0].contains("malformed request"), "{}", answers[0]);
    assert!(answers[1].starts_with("HTTP/1.1 413"), "{}", answers[1]);
}

/// `n` math samples that each take tens of milliseconds to refuse (a binomial of a huge number,
/// charged to the sample's work budget); distinct, so a batch's dedupe keeps every one.
fn slow_math_batch(n: usize, tag: &str) -> String {
    let samples: Vec<Value> = (0..n)
        .map(|i| {
            json!({"id": i, "completion": format!("\\boxed{{\\binom{{10^{{18}}}}{{3000}}}} ({tag}{i})"),
                   "task": {"kind": "math", "answer": "5"}})
        })
        .collect();
    json!({ "samples": samples }).to_string()
}

/// One client's large batch of slow samples does not hold the grading threads until it is done:
/// another client's batch (too large to be graded on its own request's thread) is answered
/// between its turns. Before turns, the second batch waited for the whole first one.
#[test]
fn a_large_slow_batch_takes_turns_with_other_clients() {
    let _serial = one_at_a_time();
    use std::net::Ipv4Addr;
    let service = std::sync::Arc::new(Service::start(&["--jobs", "1"]));
    let slow = slow_math_batch(300, "a");
    let first = {
        let service = service.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            let answer = service.post_raw_from(Ipv4Addr::new(127, 0, 0, 1), "/v1/grade", &slow);
            (answer, started.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let answer = service.post_raw_from(
        Ipv4Addr::new(127, 0, 0, 2),
        "/v1/grade",
        &big_batch(100, 200, "other"),
    );
    let waited = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let (slow_answer, slow_took) = first.join().unwrap();
    assert!(slow_answer.starts_with("HTTP/1.1 200"), "{slow_answer}");
    assert!(
        waited < Duration::from_secs(2),
        "the other client's batch waited {waited:?} behind a slow batch that took {slow_took:?}"
    );
    assert!(
        slow_took > Duration::from_secs(3) && slow_took > waited * 3,
        "the slow batch took {slow_took:?}, the other client waited {waited:?}: too quick to show turns"
    );
}

/// Turns are shared by client, not by request: a client with four slow batches in flight gets
/// one share of the grading threads, so another client's slow batch takes about twice as long
/// as alone, not five times (before, each request had its own share).
#[test]
fn a_client_with_many_requests_gets_one_share_of_the_grading_threads() {
    let _serial = one_at_a_time();
    use std::net::Ipv4Addr;
    let service = std::sync::Arc::new(Service::start(&["--jobs", "1"]));
    let other = Ipv4Addr::new(127, 0, 0, 2);
    let timed = |service: &Service, from: Ipv4Addr, body: &str| {
        let started = Instant::now();
        let answer = service.post_raw_from(from, "/v1/grade", body);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        started.elapsed()
    };
    // Batches over 64 samples (one chunk): smaller ones are graded on their request's thread.
    let alone = timed(&service, other, &slow_math_batch(70, "alone"));
    let many: Vec<_> = (0..4)
        .map(|k| {
            let service = service.clone();
            std::thread::spawn(move || {
                let body = slow_math_batch(70, &format!("many{k}-"));
                service.post_raw_from(Ipv4Addr::new(127, 0, 0, 1), "/v1/grade", &body)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let beside = timed(&service, other, &slow_math_batch(70, "beside"));
    for request in many {
        let answer = request.join().unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    let ratio = beside.as_secs_f64() / alone.as_secs_f64();
    println!("70 slow samples: {alone:?} alone, {beside:?} beside another client's four batches");
    assert!(
        ratio < 3.5,
        "70 slow samples took {alone:?} alone and {beside:?} beside one client's four batches \
         ({ratio:.1}x): that client had more than one share"
    );
}
