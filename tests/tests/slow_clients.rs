//! Slow and stalled clients against the real `verifier serve`: they cannot hold the request
//! slots past the read timeout (408), one client cannot hold more than its share of them
//! (`--max-requests-per-client`), the request-slot 503 is answered before the body is read, and
//! SIGTERM exits within the drain timeout whatever the clients do, answering a batch still
//! grading with `error` results.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::json;
use tests::{format_sample, Service};

const GOOD: &str = "<think>\nx\n</think>\n<answer>\n1\n</answer>";

/// The client address of [`connect`] (the service listens on 127.0.0.1).
const CLIENT_A: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
/// Another client on this host: Linux routes all of 127/8 to the loopback interface.
const CLIENT_B: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// A raw connection to the service's address.
fn connect(service: &Service) -> TcpStream {
    connect_from(service, CLIENT_A)
}

/// A raw connection to the service from the loopback address `from`.
fn connect_from(service: &Service, from: Ipv4Addr) -> TcpStream {
    service.connect_from(from)
}

/// Starts a grading request that promises `length` body bytes and sends only `sent` of them.
fn stalled_upload(service: &Service, length: usize, sent: usize) -> TcpStream {
    stalled_upload_from(service, CLIENT_A, length, sent)
}

/// [`stalled_upload`] from the loopback address `from`.
fn stalled_upload_from(service: &Service, from: Ipv4Addr, length: usize, sent: usize) -> TcpStream {
    let mut stream = connect_from(service, from);
    write!(
        stream,
        "POST /v1/grade HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n"
    )
    .unwrap();
    stream.write_all(&b"{".repeat(sent)).unwrap();
    stream
}

/// What arrives on `stream` within `wait` (until the server closes it, or the wait ends).
fn read_for(stream: &mut TcpStream, wait: Duration) -> String {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut got = Vec::new();
    let mut buffer = [0u8; 4096];
    let until = Instant::now() + wait;
    while Instant::now() < until {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buffer[..n]);
                if String::from_utf8_lossy(&got).contains("\r\n\r\n") {
                    // Headers are in; give the body a moment and stop.
                    stream
                        .set_read_timeout(Some(Duration::from_millis(200)))
                        .unwrap();
                }
            }
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

fn one_format_batch() -> String {
    json!({"samples": [format_sample("a", GOOD, "think_answer")]}).to_string()
}

/// Posts `body` to `/v1/grade` from the loopback address `from`; the whole answer.
fn post_from(service: &Service, from: Ipv4Addr, body: &str) -> String {
    service.post_raw_from(from, "/v1/grade", body)
}

#[test]
fn one_client_cannot_take_every_request_slot() {
    // Eight request slots; a client's share is a quarter of them by default: two.
    let service = Service::start(&["--max-requests", "8", "--read-timeout-s", "30"]);
    // One client opens eight uploads that trickle (one body byte, then nothing): two take its
    // share and hold it; the others are refused at once, before their bodies.
    let mut trickling: Vec<TcpStream> = (0..8)
        .map(|_| stalled_upload_from(&service, CLIENT_A, 1000, 1))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let answers: Vec<String> = trickling
        .iter_mut()
        .map(|stream| read_for(stream, Duration::from_secs(1)))
        .collect();
    let refused: Vec<&String> = answers
        .iter()
        .filter(|a| a.starts_with("HTTP/1.1 503"))
        .collect();
    let held = answers.iter().filter(|a| a.is_empty()).count();
    assert_eq!((refused.len(), held), (6, 2), "{answers:#?}");
    for answer in refused {
        assert!(
            answer.to_ascii_lowercase().contains("retry-after: 1"),
            "{answer}"
        );
        assert!(answer.contains("--max-requests-per-client"), "{answer}");
    }
    // Another client still has its request graded while the first holds its share.
    let answer = post_from(&service, CLIENT_B, &one_format_batch());
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert!(answer.contains(r#""status":"correct""#), "{answer}");
}

#[test]
fn the_request_slot_503_comes_before_the_body_is_read() {
    let service = Service::start(&["--max-requests", "1"]);
    // One client holds the only slot, mid-body.
    let _holder = stalled_upload_from(&service, CLIENT_A, 1000, 1);
    std::thread::sleep(Duration::from_millis(200));
    // Another client announces a body and sends none of it: it is answered anyway.
    let mut second = stalled_upload_from(&service, CLIENT_B, 100_000, 0);
    let started = Instant::now();
    let answer = read_for(&mut second, Duration::from_secs(2));
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    // The global bound, not the client's share (the second client holds nothing).
    assert!(
        answer.contains("requests are already in flight"),
        "{answer}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn stalled_clients_cannot_hold_the_request_slots_past_the_read_timeout() {
    let service = Service::start(&[
        "--max-requests",
        "4",
        "--max-requests-per-client",
        "4",
        "--read-timeout-s",
        "1",
    ]);
    // Four clients take every slot with one body byte each; a fifth stops inside its headers.
    let mut stalled: Vec<TcpStream> = (0..4).map(|_| stalled_upload(&service, 1000, 1)).collect();
    let mut in_headers = connect(&service);
    in_headers
        .write_all(b"POST /v1/grade HTTP/1.1\r\nhost: x\r\ncontent-le")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(service.post("/v1/grade", &one_format_batch()).status, 503);
    for stream in &mut stalled {
        let answer = read_for(stream, Duration::from_secs(3));
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
        assert!(answer.contains("--read-timeout-s"), "{answer}");
    }
    let answer = read_for(&mut in_headers, Duration::from_secs(3));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    // The slots are free again.
    let reply = service.post("/v1/grade", &one_format_batch());
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["results"][0]["status"], json!("correct"));
    // And /metrics agrees: nothing in flight.
    let metrics = service.get("/metrics").body;
    assert!(
        metrics.contains("verifier_inflight_requests 0"),
        "{metrics}"
    );
}

#[test]
fn sigterm_with_slow_clients_and_busy_workers_exits_within_the_drain_timeout() {
    let drain_s = 3;
    let mut service = Service::start(&[
        "--jobs",
        "1",
        "--read-timeout-s",
        "60",
        "--drain-timeout-s",
        &drain_s.to_string(),
    ]);
    // Slow clients that the read timeout would not end before the drain does.
    let _stalled: Vec<TcpStream> = (0..8).map(|_| stalled_upload(&service, 1000, 1)).collect();
    let mut in_headers = connect(&service);
    in_headers
        .write_all(b"POST /v1/grade HTTP/1.1\r\nhost")
        .unwrap();
    // A batch that takes far longer than the drain: code that never ends, each run stopped
    // only by its time limit (seconds), one after another.
    let samples: Vec<_> = (0..4)
        .map(|i| {
            json!({"id": i, "completion": format!("```javascript\nfunction f(x) {{ while (true) {{}} return {i}; }}\n```"),
                   "task": {"kind": "code", "language": "javascript",
                            "tests": {"type": "call", "fn_name": "f", "cases": [{"args": [1], "expected": 2}]}}})
        })
        .collect();
    let body = json!({ "samples": samples }).to_string();
    let url = service.url.clone();
    let busy = std::thread::spawn(move || {
        ureq::post(&format!("{url}/v1/grade"))
            .timeout(Duration::from_secs(60))
            .send_string(&body)
            .map(|r| r.into_string().unwrap())
            .map_err(|e| e.to_string())
    });
    std::thread::sleep(Duration::from_millis(1500));
    let signalled = Instant::now();
    let pid = service.pid() as i32;
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = loop {
        if let Some(status) = service.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(drain_s + 2),
            "still running {:?} after SIGTERM",
            signalled.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = signalled.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(
        took <= Duration::from_millis(drain_s * 1000 + 500),
        "{took:?}"
    );
    // The busy batch was answered, every sample an error that says why.
    let answer = busy.join().unwrap().expect("the busy batch is answered");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["id"], json!(i));
        assert_eq!(result["status"], json!("error"));
        assert!(result["error"].as_str().unwrap().contains("shutting down"));
    }
}

/// A client that stops reading its answer cannot keep it in the server's memory: once a write
/// has waited on it for the read timeout, the connection is dropped with what it was sending
/// (before, answers of 96 MB sat in memory for as long as their clients liked, red team).
#[test]
fn a_client_that_stops_reading_its_answer_is_dropped() {
    let service = Service::start(&["--read-timeout-s", "1"]);
    let long_id = "x".repeat(3000);
    let samples: Vec<serde_json::Value> = (0..4000)
        .map(|i| json!({"id": format!("{long_id}{i}"), "completion": GOOD, "task": {"kind": "format", "style": "r1"}}))
        .collect();
    let body = json!({ "samples": samples }).to_string();
    let address: SocketAddr = service.url.trim_start_matches("http://").parse().unwrap();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    // A small window, so that the answer (12 MB) cannot all sit in the sockets' buffers.
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&address.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    write!(
        stream,
        "POST /v1/grade HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    // Not reading: the server's writes wait on us past its 1 s read timeout.
    std::thread::sleep(Duration::from_secs(5));
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let started = Instant::now();
    let (mut received, mut buffer) = (Vec::new(), vec![0u8; 1 << 16]);
    loop {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the connection was not closed"
    );
    let text = String::from_utf8_lossy(&received);
    let (head, answer) = text
        .split_once("\r\n\r\n")
        .expect("the answer's head arrived");
    let length: usize = head
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_string)
        })
        .expect("a content-length")
        .trim()
        .parse()
        .unwrap();
    assert!(length > 10_000_000, "{length}");
    assert!(
        answer.len() < length,
        "the whole answer arrived ({} of {length} bytes): the connection was kept",
        answer.len()
    );
    // Everyone else is still served.
    let reply = service.post("/v1/grade", &one_format_batch());
    assert_eq!(reply.status, 200, "{}", reply.body);
}

/// One client cannot fill the grading queue with a few large requests: each client has the same
/// share of `--max-queue` as of the request slots (one client's five requests took all 65,536
/// places and everyone else was answered 503, red team); a batch larger than a client's share
/// could never be admitted, so it is 413.
#[test]
fn one_client_cannot_fill_the_sample_queue() {
    // 8 requests, 2 per client: a client's share is a quarter of 100 queued samples.
    let service = Service::start(&["--max-queue", "100", "--max-requests", "8"]);
    let batch = |n: usize, slow: bool| {
        let samples: Vec<serde_json::Value> = (0..n)
            .map(|i| {
                if slow {
                    json!({"id": i, "completion": format!("```python\nimport time\ndef f(x):\n    time.sleep(0.5)  # {i}\n    return x + 1\n```"),
                           "task": {"kind": "code", "language": "python",
                                    "tests": {"type": "call", "fn_name": "f", "cases": [{"args": [1], "expected": 2}]}}})
                } else {
                    format_sample(i, GOOD, "think_answer")
                }
            })
            .collect();
        json!({ "samples": samples }).to_string()
    };
    let too_big = post_from(&service, CLIENT_A, &batch(26, false));
    assert!(too_big.starts_with("HTTP/1.1 413"), "{too_big}");
    // Client A queues 8 slow samples, then asks for 20 more: past its share of 25.
    let slow_body = batch(8, true);
    let url_service = &service;
    std::thread::scope(|scope| {
        let slow = scope.spawn(|| post_from(url_service, CLIENT_A, &slow_body));
        std::thread::sleep(Duration::from_millis(500));
        let more = post_from(&service, CLIENT_A, &batch(20, false));
        assert!(more.starts_with("HTTP/1.1 503"), "{more}");
        assert!(more.contains("share"), "{more}");
        // Another client still gets in.
        let other = post_from(&service, CLIENT_B, &batch(20, false));
        assert!(other.starts_with("HTTP/1.1 200"), "{other}");
        let slow = slow.join().unwrap();
        assert!(slow.starts_with("HTTP/1.1 200"), "{slow}");
    });
}

/// A client that opens connections and sends nothing holds at most its share of them; another
/// client is still served, and the first gets a new connection once one of its own closes.
/// (Before the cap, ~500 idle connections from one address took every file descriptor under
/// the usual soft limit of 1,024, and every client was refused.)
#[test]
fn one_client_cannot_hold_every_connection() {
    let service = Service::start(&["--max-connections-per-client", "8"]);
    let mut idle: Vec<TcpStream> = (0..8).map(|_| connect(&service)).collect();
    // Give the accept loop time to count the eight before the ninth arrives.
    std::thread::sleep(Duration::from_millis(300));
    let mut refused = connect(&service);
    let started = Instant::now();
    let mut byte = [0u8; 1];
    refused
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let ended = matches!(refused.read(&mut byte), Ok(0) | Err(_));
    assert!(
        ended && started.elapsed() < Duration::from_secs(4),
        "the ninth connection was not closed at once"
    );
    let answer = post_from(&service, CLIENT_B, &one_format_batch());
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(idle.pop());
    std::thread::sleep(Duration::from_millis(300));
    let answer = post_from(&service, CLIENT_A, &one_format_batch());
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
