//! End-to-end tests of `verifier serve`: the real binary on a loopback port, spoken to over HTTP.

use serde_json::{json, Value};
use tests::{format_sample, Service};

const GOOD: &str = "<think>\nreasoning\n</think>\n<answer>\n42\n</answer>";

fn batch(samples: &[Value]) -> String {
    json!({ "samples": samples }).to_string()
}

#[test]
fn health_graders_and_unknown_routes() {
    let service = Service::start(&[]);
    let health = service.get("/healthz");
    assert_eq!(
        (health.status, health.json()["status"].clone()),
        (200, json!("ok"))
    );

    let graders = service.get("/v1/graders").json();
    let kinds: Vec<&str> = graders["graders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["kind"].as_str().unwrap())
        .collect();
    for kind in ["code", "format", "instructions", "math"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }

    let missing = service.get("/v2/nothing");
    assert_eq!(missing.status, 404);
    assert!(missing.json()["error"]
        .as_str()
        .unwrap()
        .contains("/v1/grade"));
}

#[test]
fn a_batch_is_graded_in_order_with_components_and_ids() {
    let service = Service::start(&[]);
    let mut samples: Vec<Value> = (0..50)
        .map(|i| {
            format_sample(
                format!("s{i}"),
                if i % 2 == 0 { GOOD } else { "no tags" },
                "think_answer",
            )
        })
        .collect();
    samples.push(json!({
        "id": "composed", "completion": GOOD,
        "task": {"kind": "format", "style": "r1"},
        "components": [{"name": "tags", "weight": 0.5, "task": {"kind": "format", "style": "tag_count"}}]
    }));
    let reply = service.post("/v1/grade", &batch(&samples));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let results = reply.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 51);
    for (i, result) in results.iter().take(50).enumerate() {
        assert_eq!(result["id"], json!(format!("s{i}")));
        let (reward, status) = if i % 2 == 0 {
            (1.0, "correct")
        } else {
            (0.0, "incorrect")
        };
        assert_eq!(result["reward"], json!(reward), "{result}");
        assert_eq!(result["status"], json!(status));
    }
    // Identical (task, completion) pairs are graded once; the copies say so.
    assert_eq!(results[2]["cached"], json!(true));
    let composed = &results[50];
    assert_eq!(composed["reward"], json!(1.5));
    assert_eq!(composed["components"][1]["name"], json!("tags"));
    assert_eq!(composed["components"][1]["weight"], json!(0.5));
}

#[test]
fn malformed_json_is_a_400_that_says_why() {
    let service = Service::start(&[]);
    for body in [
        "{\"samples\": [",
        "not json",
        "{\"samples\": 5}",
        "{}",
        "[]",
    ] {
        let reply = service.post("/v1/grade", body);
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        let message = reply.json()["error"].as_str().unwrap().to_string();
        assert!(message.contains("malformed request"), "{message}");
    }
}

/// A compressed body is 415, saying so (it was read as JSON and refused as malformed).
#[test]
fn a_compressed_body_is_415_saying_so() {
    let service = Service::start(&[]);
    let url = format!("{}/v1/grade", service.url);
    let body = batch(&[format_sample("a", "x", "r1")]);
    for encoding in ["gzip", "deflate"] {
        let reply = ureq::post(&url)
            .set("content-type", "application/json")
            .set("content-encoding", encoding)
            .send_string(&body);
        let Err(ureq::Error::Status(status, reply)) = reply else {
            panic!("{encoding}: not refused");
        };
        assert_eq!(status, 415);
        let text = reply.into_string().unwrap();
        assert!(text.contains("not accepted"), "{text}");
    }
    // Identity is no compression.
    let reply = ureq::post(&url)
        .set("content-type", "application/json")
        .set("content-encoding", "identity")
        .send_string(&body)
        .unwrap();
    assert_eq!(reply.status(), 200);
}

#[test]
fn one_bad_sample_does_not_spoil_the_others() {
    let service = Service::start(&[]);
    let samples = vec![
        format_sample(1, GOOD, "think_answer"),
        json!({"id": 2, "completion": 12345, "task": {"kind": "format", "style": "r1"}}),
        json!({"id": 3, "completion": GOOD, "task": {"kind": "no_such_grader"}}),
        json!({"id": 4, "completion": GOOD, "task": {"kind": "format", "style": "xml"}}),
        json!("not even an object"),
        json!({"id": 6, "task": {"kind": "format", "style": "r1"}}),
        format_sample(7, GOOD, "tag_count"),
    ];
    let reply = service.post("/v1/grade", &batch(&samples));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let results = reply.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 7);
    assert_eq!(results[0]["status"], json!("correct"));
    assert_eq!(results[6]["status"], json!("correct"));
    let error_of = |i: usize| {
        assert_eq!(results[i]["status"], json!("error"), "{}", results[i]);
        assert_eq!(results[i]["reward"], json!(0.0));
        results[i]["error"].as_str().unwrap().to_string()
    };
    let wrong_type = error_of(1);
    assert!(
        wrong_type.contains("samples[1]") && wrong_type.contains("`completion`"),
        "{wrong_type}"
    );
    assert_eq!(results[1]["id"], json!(2));
    let unknown = error_of(2);
    assert!(
        unknown.contains("unknown task kind `no_such_grader`") && unknown.contains("math"),
        "{unknown}"
    );
    let bad_style = error_of(3);
    assert!(bad_style.contains("style"), "{bad_style}");
    let not_object = error_of(4);
    assert!(not_object.contains("samples[4]"), "{not_object}");
    let missing = error_of(5);
    assert!(missing.contains("completion"), "{missing}");
}

/// The results of grading `samples` in one request (which must succeed, one result each),
/// without their timings.
fn results_without_timings(service: &Service, samples: &[Value]) -> Vec<Value> {
    let reply = service.post("/v1/grade", &batch(samples));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mut body = reply.json();
    without_timings(&mut body);
    let results = body["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), samples.len());
    results
}

/// `value` without its timings (`elapsed_us`), which differ from run to run.
fn without_timings(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|key, _| !key.starts_with("elapsed"));
            map.values_mut().for_each(without_timings);
        }
        Value::Array(items) => items.iter_mut().for_each(without_timings),
        _ => {}
    }
}

/// A small batch of format samples is graded on the event loop's thread; a larger body, or
/// one with a sample of another kind, on a batch thread. The same samples come out the same on
/// either path, with the same admission (a batch over `--max-batch` is 413 on both).
#[test]
fn a_batch_grades_alike_on_the_event_loop_and_on_a_batch_thread() {
    let service = Service::start(&["--max-batch", "40"]);
    let completions = [
        GOOD,
        "no tags",
        "<think>a</think><|im_end|>",
        "<think>a</think> 4<|im_end|>",
        "<think>\nA\n</think>\n<answer>\nB\n</answer>\nextra",
        "<think>\n\u{200B}\n</think>\n<answer>\nx\n</answer>",
    ];
    let mut common: Vec<Value> = Vec::new();
    for (i, completion) in completions.iter().enumerate() {
        for style in ["r1", "think_answer", "think_answer_strict", "tag_count"] {
            common.push(format_sample(format!("{i}-{style}"), completion, style));
        }
    }
    common.push(json!({
        "id": "composed", "completion": GOOD, "weight": 2.0,
        "task": {"kind": "format", "style": "r1"},
        "components": [{"name": "tags", "weight": 0.5, "task": {"kind": "format", "style": "tag_count"}}]
    }));
    let large = format_sample("large", &"x".repeat(300 * 1024), "r1");
    let math =
        json!({"id": "math", "completion": "\\boxed{2}", "task": {"kind": "math", "answer": "2"}});
    let mut answers = Vec::new();
    for extra in [None, Some(large), Some(math)] {
        let mut samples = common.clone();
        samples.extend(extra);
        let results = results_without_timings(&service, &samples);
        answers.push(results[..common.len()].to_vec());
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0], answers[2]);
    let rewards: Vec<f64> = answers[0]
        .iter()
        .map(|r| r["reward"].as_f64().unwrap())
        .collect();
    assert_eq!(&rewards[..4], &[1.0, 1.0, 1.0, 1.0], "{:?}", answers[0]);
    assert_eq!(
        rewards[8], 0.0,
        "an end token is no answer: {}",
        answers[0][8]
    );
    assert_eq!(rewards[12], 1.0, "{}", answers[0][12]);
    assert_eq!(answers[0][24]["reward"], json!(2.5), "{}", answers[0][24]);

    let too_many: Vec<Value> = (0..41).map(|i| format_sample(i, GOOD, "r1")).collect();
    let reply = service.post("/v1/grade", &batch(&too_many));
    assert_eq!(reply.status, 413, "{}", reply.body);
    let mut too_many_large = too_many.clone();
    too_many_large[0] = format_sample(0, &"x".repeat(300 * 1024), "r1");
    let reply = service.post("/v1/grade", &batch(&too_many_large));
    assert_eq!(reply.status, 413, "{}", reply.body);
}

/// A batch whose samples are all well formed is parsed in one pass; one with a bad sample is
/// parsed sample by sample. The good samples must come out the same either way.
#[test]
fn good_samples_grade_alike_whether_or_not_a_bad_one_is_in_the_batch() {
    let service = Service::start(&[]);
    let good = vec![
        format_sample("a", GOOD, "think_answer"),
        json!({"id": 2, "completion": "so \\boxed{\\frac{1}{2}}", "task": {"kind": "math", "answer": "0.5"}}),
        format_sample("a", GOOD, "think_answer"),
        json!({"completion": "no id", "task": {"kind": "format", "style": "r1"}}),
        json!({"id": [1, {"x": null}], "completion": GOOD, "task": {"kind": "format", "style": "tag_count"}}),
    ];
    let mut results = Vec::new();
    for bad in [
        None,
        Some(json!({"id": 9, "completion": GOOD, "task": {"kind": "format"}})),
    ] {
        let mut samples = good.clone();
        samples.extend(bad);
        let all = results_without_timings(&service, &samples);
        if samples.len() > good.len() {
            assert_eq!(
                all[good.len()]["status"],
                json!("error"),
                "{}",
                all[good.len()]
            );
        }
        results.push(all[..good.len()].to_vec());
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(
        results[0][1]["status"],
        json!("correct"),
        "{}",
        results[0][1]
    );
}

/// A body with bytes that are not UTF-8 is refused whole, whether or not another sample is bad:
/// the one-pass parse skips fields it ignores unread, and once graded such a body while the
/// per-sample path refused it (red team).
#[test]
fn a_body_that_is_not_utf8_is_refused_whatever_else_it_holds() {
    use std::io::{Read, Write};
    let service = Service::start(&[]);
    let good = format_sample("g", GOOD, "think_answer").to_string();
    let odd = b"{\"id\":\"u\",\"completion\":\"x\",\"task\":{\"kind\":\"format\",\"style\":\"r1\"},\"note\":\"\xff\xfe\"}";
    let bad = br#"{"id":"b","completion":"x","task":{"kind":"format"}}"#;
    let address = service.url.trim_start_matches("http://").to_string();
    for with_bad in [false, true] {
        let mut body = format!("{{\"samples\":[{good},").into_bytes();
        body.extend_from_slice(odd);
        if with_bad {
            body.push(b',');
            body.extend_from_slice(bad);
        }
        body.extend_from_slice(b"]}");
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        write!(
            stream,
            "POST /v1/grade HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        stream.write_all(&body).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 400"),
            "with a bad sample {with_bad}: {answer}"
        );
        assert!(answer.contains("not UTF-8"), "{answer}");
    }
}

#[test]
fn oversize_bodies_and_batches_are_413() {
    let service = Service::start(&["--max-body-mb", "1", "--max-batch", "100"]);
    let huge = "x".repeat(2 * 1024 * 1024);
    let reply = service.post("/v1/grade", &batch(&[format_sample(1, &huge, "r1")]));
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert!(reply.json()["error"].as_str().unwrap().contains("1 MiB"));

    let many: Vec<Value> = (0..101).map(|i| format_sample(i, GOOD, "r1")).collect();
    let reply = service.post("/v1/grade", &batch(&many));
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert!(reply.json()["error"]
        .as_str()
        .unwrap()
        .contains("101 samples"));

    // The service is still fine afterwards.
    let ok = service.post("/v1/grade", &batch(&[format_sample(1, GOOD, "r1")]));
    assert_eq!(ok.status, 200);
}

#[test]
fn metrics_count_requests_and_samples_by_kind_and_status() {
    let service = Service::start(&[]);
    let samples = vec![
        format_sample(1, GOOD, "think_answer"),
        format_sample(2, "nope", "think_answer"),
        json!({"id": 3, "completion": "x", "task": {"kind": "mystery"}}),
    ];
    assert_eq!(service.post("/v1/grade", &batch(&samples)).status, 200);
    let metrics = service.get("/metrics");
    assert_eq!(metrics.status, 200);
    let text = metrics.body;
    for needle in [
        r#"verifier_samples_graded_total{kind="format",status="correct"} 1"#,
        r#"verifier_samples_graded_total{kind="format",status="incorrect"} 1"#,
        r#"verifier_samples_graded_total{kind="unknown",status="error"} 1"#,
        r#"verifier_http_requests_total{code="200",route="/v1/grade"} 1"#,
        "verifier_grade_batch_seconds_bucket",
        "verifier_sample_grade_seconds_bucket",
        "verifier_queue_depth 0",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
}

#[test]
fn duplicate_task_keys_and_unknown_fields_are_errors_naming_them() {
    let service = Service::start(&[]);
    let format = r#"{"kind": "format", "style": "r1"}"#;
    // Raw text: a JSON builder cannot write a key twice.
    let samples = [
        r#"{"id": "dup", "completion": "x", "task": {"kind": "format", "style": "r1", "kind": "math", "answer": "1"}}"#.to_string(),
        format!(r#"{{"id": "limits", "completion": "x", "task": {format}, "limits": {{"timeout_ms": 100, "memory_mb": 5}}}}"#),
        r#"{"id": "math", "completion": "x", "task": {"kind": "math", "answer": "1", "optoins": {}}}"#.to_string(),
        r#"{"id": "code", "completion": "x", "task": {"kind": "code", "language": "python", "tests": {"type": "call", "fn_name": "f", "cases": [], "timeout": 1}}}"#.to_string(),
        format!(r#"{{"id": "ok", "completion": "{}", "task": {format}}}"#, GOOD.replace('\n', "\\n")),
    ];
    let body = format!(r#"{{"samples": [{}]}}"#, samples.join(","));
    let reply = service.post("/v1/grade", &body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let results = reply.json()["results"].as_array().unwrap().clone();
    let expect = [
        ("dup", "duplicate field `kind`"),
        ("limits", "memory_mb"),
        ("math", "optoins"),
        ("code", "timeout"),
    ];
    for (result, (id, needle)) in results.iter().zip(expect) {
        assert_eq!(
            (&result["id"], &result["status"]),
            (&json!(id), &json!("error")),
            "{result}"
        );
        let message = result["error"].as_str().unwrap();
        assert!(message.contains(needle), "{id}: {message}");
    }
    assert_eq!(results[4]["status"], json!("correct"), "{}", results[4]);
}

#[test]
fn metrics_count_404s_and_real_status_codes_under_bounded_labels() {
    let service = Service::start(&[]);
    for path in ["/nope", "/also/not/here", "/healthz"] {
        service.get(path);
    }
    let metrics = service.get("/metrics").body;
    assert!(
        metrics.contains(r#"verifier_http_requests_total{code="404",route="unmatched"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"verifier_http_requests_total{code="200",route="/healthz"} 1"#),
        "{metrics}"
    );
    assert!(
        !metrics.contains("/nope"),
        "client paths never become labels"
    );
}

#[test]
fn log_lines_carry_no_colours_when_stderr_is_not_a_terminal() {
    use std::io::{BufRead, BufReader, Read};
    let mut child = std::process::Command::new(tests::verifier_bin())
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // The log line follows the stdout line; read up to it before stopping the service.
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let mut stderr = String::new();
    while !stderr.contains("listening") {
        if log.read_line(&mut stderr).unwrap() == 0 {
            break;
        }
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    log.read_to_string(&mut stderr).unwrap();
    child.wait().unwrap();
    assert!(stderr.contains("listening"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "ANSI escapes in a pipe: {stderr:?}"
    );
}

#[test]
fn a_client_memory_limit_is_capped_by_the_server() {
    let service = Service::start(&["--max-memory-mb", "64"]);
    // Asks for 100 GB and allocates 200 MB: over the server's cap, so a memory-limit failure.
    let sample = json!({"id": "m", "completion": "```javascript\nfunction f(x) { const a = new Uint8Array(200 * 1024 * 1024); a[7] = x; return a[7] + 1; }\n```",
        "task": {"kind": "code", "language": "javascript", "memory_limit_mb": 100000,
                 "tests": {"type": "call", "fn_name": "f", "cases": [{"args": [1], "expected": 2}]}}});
    let reply = service.post("/v1/grade", &batch(std::slice::from_ref(&sample)));
    let result = &reply.json()["results"][0];
    assert_eq!(result["status"], json!("incorrect"), "{result}");
    // QuickJS turns the refused allocation into its own exception.
    let failure = result["details"]["first_failure"].to_string();
    assert!(
        result["details"]["verdict"] == json!("memory_limit") || failure.contains("out of memory"),
        "{result}"
    );
    // Without the cap (the default is 1 GiB) the same sample passes.
    let uncapped = Service::start(&[]);
    let reply = uncapped.post("/v1/grade", &batch(&[sample]));
    assert_eq!(
        reply.json()["results"][0]["status"],
        json!("correct"),
        "{}",
        reply.body
    );
}

/// A lone UTF-16 surrogate escaped in a completion is read as U+FFFD and graded, in a batch of
/// good samples and alone (see `cli_grade.rs`), and the other samples are unchanged.
#[test]
fn a_lone_surrogate_in_a_completion_is_graded_not_an_error() {
    let service = Service::start(&[]);
    let math = r#"{"id": 1, "completion": "\ud800 \\boxed{42}", "task": {"kind": "math", "answer": "42"}}"#;
    let good = format_sample(2, GOOD, "think_answer").to_string();
    for body in [
        format!("{{\"samples\": [{math}, {good}]}}"),
        format!("{{\"samples\": [{math}]}}"),
    ] {
        let reply = service.post("/v1/grade", &body);
        assert_eq!(reply.status, 200, "{}", reply.body);
        let results = reply.json()["results"].as_array().unwrap().clone();
        assert_eq!(results[0]["status"], json!("correct"), "{}", results[0]);
        assert_eq!(results[0]["id"], json!(1));
        if let Some(second) = results.get(1) {
            assert_eq!(second["status"], json!("correct"), "{second}");
        }
    }
}
