//! The HTTP verifier client against fake `verifier serve` endpoints on loopback: results come
//! back in order, a dead, overloaded (503 + Retry-After) or hanging endpoint loses no sample,
//! and when nobody answers the call fails loudly instead of inventing rewards.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use graders::contract::Sample;
use rollout_worker::reward::http::{HttpConfig, HttpVerifier};
use rollout_worker::reward::RewardSource;
use serde_json::{json, Value};

#[derive(Clone, Copy)]
enum Behaviour {
    /// Grades: reward 1 when the completion is "7".
    Good,
    /// Answers 503 with `Retry-After: 0` to the first request, then grades.
    BusyOnce,
    /// Accepts and never answers.
    Hang,
}

/// Starts a fake endpoint; returns its base URL and a counter of samples it graded (for `Hang`:
/// of connections it accepted).
fn serve(behaviour: Behaviour) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let graded = Arc::new(AtomicUsize::new(0));
    let counter = graded.clone();
    std::thread::spawn(move || {
        let mut seen = 0;
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            seen += 1;
            let busy = matches!(behaviour, Behaviour::BusyOnce) && seen == 1;
            if matches!(behaviour, Behaviour::Hang) {
                counter.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_secs(30));
                    drop(stream);
                });
                continue;
            }
            answer(stream, busy, &counter);
        }
    });
    (url, graded)
}

fn answer(stream: TcpStream, busy: bool, counter: &AtomicUsize) {
    let mut reader = BufReader::new(stream);
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let mut stream = reader.into_inner();
    if busy {
        let text = "overloaded";
        write!(stream, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}", text.len()).unwrap();
        return;
    }
    let request: Value = serde_json::from_slice(&body).unwrap();
    let results: Vec<Value> = request["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let right = s["completion"] == "7";
            json!({"id": s["id"], "reward": if right { 1.0 } else { 0.0 }, "status": if right { "correct" } else { "incorrect" }})
        })
        .collect();
    counter.fetch_add(results.len(), Ordering::SeqCst);
    let text = json!({ "results": results }).to_string();
    write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}", text.len()).unwrap();
}

/// A base URL where nothing listens.
fn dead_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

fn samples(n: usize) -> Vec<Sample> {
    (0..n)
        .map(|i| {
            let completion = if i % 3 == 0 { "7" } else { "6" };
            Sample::from_value(json!({"id": format!("s{i}"), "completion": completion, "task": {"kind": "math", "answer": "7"}})).unwrap()
        })
        .collect()
}

fn client(endpoints: Vec<String>, timeout_ms: u64) -> HttpVerifier {
    let mut config = HttpConfig::new(endpoints);
    config.timeout = Duration::from_millis(timeout_ms);
    config.initial_backoff = Duration::from_millis(10);
    HttpVerifier::new(config).unwrap()
}

#[test]
fn results_come_back_in_order_despite_dead_busy_and_hanging_endpoints() {
    let (good, graded) = serve(Behaviour::Good);
    let (busy, _) = serve(Behaviour::BusyOnce);
    let (hang, hung) = serve(Behaviour::Hang);
    let verifier = client(vec![dead_endpoint(), busy, hang, good], 500);
    let mut hung_after_first_round = 0;
    for round in 0..3 {
        let batch = samples(25);
        let results = verifier.grade(&batch).unwrap();
        assert_eq!(results.len(), 25, "round {round}");
        for (i, r) in results.iter().enumerate() {
            assert_eq!(r.id, json!(format!("s{i}")));
            assert_eq!(r.reward, if i % 3 == 0 { 1.0 } else { 0.0 });
        }
        if round == 0 {
            hung_after_first_round = hung.load(Ordering::SeqCst);
        }
    }
    // The hanging endpoint timed out once and is now passed over while it cools down.
    assert!(hung_after_first_round >= 1);
    assert_eq!(hung.load(Ordering::SeqCst), hung_after_first_round);
    assert!(graded.load(Ordering::SeqCst) > 0);
}

#[test]
fn no_endpoint_answering_is_an_error_not_zero_rewards() {
    let dead = dead_endpoint();
    let mut config = HttpConfig::new(vec![dead.clone()]);
    config.max_attempts = 4;
    config.initial_backoff = Duration::from_millis(1);
    let err = HttpVerifier::new(config)
        .unwrap()
        .grade(&samples(4))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no verifier answered after 4 attempts"),
        "{err}"
    );
    // Four identical failures are one line with a count, the URL written once.
    assert_eq!(err.matches(&dead).count(), 1, "{err}");
    assert!(err.contains("(4 times)"), "{err}");
    println!("{err}");
}
