//! The drop-in routes of `verifier serve`, end to end on the real binary: chat message lists as
//! `completion`, OpenRLHF's `POST /get_reward` and SandboxFusion's `POST /run_code`, in the
//! shapes their own clients send and read (sources cited in `verifier/src/serve/get_reward.rs`
//! and `run_code.rs`; `compat_clients.rs` runs verl's own client module against them).

use std::collections::BTreeSet;

use serde_json::{json, Value};
use tests::Service;

/// A ChatML prompt as OpenRLHF holds it after `apply_chat_template`, and the query its
/// generator sends: the prompt and the response decoded with special tokens kept.
fn chatml_prompt(question: &str) -> String {
    format!("<|im_start|>system\nPut the answer in \\boxed{{}}.<|im_end|>\n<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n")
}

fn query(prompt: &str, response: &str) -> String {
    format!("{prompt}{response}<|im_end|><|endoftext|>")
}

/// The rewards `/get_reward?{params}` gives each `(response, label)` after `prompt`.
fn rewards(service: &Service, params: &str, prompt: &str, graded: &[(&str, &Value)]) -> Value {
    let request = json!({
        "query": graded.iter().map(|(response, _)| query(prompt, response)).collect::<Vec<_>>(),
        "prompts": vec![prompt; graded.len()],
        "labels": graded.iter().map(|(_, label)| *label).collect::<Vec<_>>(),
    });
    let reply = service.post(&format!("/get_reward?{params}"), &request.to_string());
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["rewards"].clone()
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn chat_message_lists_are_graded_as_their_last_assistant_message() {
    let service = Service::start(&[]);
    let task = json!({"kind": "math", "answer": "4"});
    let samples = json!({"samples": [
        {"id": "chat", "task": task, "completion": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is 2+2? (Not $\\boxed{5}$.)"},
            {"role": "assistant", "content": "It is $\\boxed{4}$."}]},
        {"id": "earlier-turn", "task": task, "completion": [
            {"role": "assistant", "content": "$\\boxed{4}$"},
            {"role": "user", "content": "Are you sure?"},
            {"role": "assistant", "content": "No: $\\boxed{5}$."}]},
        {"id": "no-assistant", "task": task, "completion": [{"role": "user", "content": "$\\boxed{4}$"}]},
        {"id": "malformed", "task": task, "completion": [{"role": "assistant", "content": 4}]},
        {"id": "plain", "task": task, "completion": "$\\boxed{4}$"}
    ]});
    let reply = service.post("/v1/grade", &samples.to_string());
    assert_eq!(reply.status, 200, "{}", reply.body);
    let results = reply.json()["results"].as_array().unwrap().clone();
    let status = |i: usize| results[i]["status"].as_str().unwrap().to_string();
    assert_eq!(status(0), "correct", "{}", results[0]);
    assert_eq!(results[0]["details"]["extracted"], "4");
    assert_eq!(status(1), "incorrect", "{}", results[1]);
    assert_eq!(status(4), "correct");
    for (i, needle) in [(2, "no assistant message"), (3, "`content` must be")] {
        assert_eq!(status(i), "error");
        let message = results[i]["error"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("samples[{i}]: "))
                && message.contains("`completion`")
                && message.contains(needle),
            "{message}"
        );
    }
}

#[test]
fn verifier_grade_reads_chat_message_lists_too() {
    use std::io::Write;
    let mut child = std::process::Command::new(tests::verifier_bin())
        .args(["grade", "--quiet"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run verifier grade");
    let lines = [
        json!({"completion": [{"role": "user", "content": "?"}, {"role": "assistant", "content": "$\\boxed{7}$"}],
               "task": {"kind": "math", "answer": "7"}}),
        json!({"completion": [{"role": "user", "content": "$\\boxed{7}$"}], "task": {"kind": "math", "answer": "7"}}),
    ];
    let mut stdin = child.stdin.take().unwrap();
    for line in &lines {
        writeln!(stdin, "{line}").unwrap();
    }
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    let results: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results[0]["status"], "correct", "{:?}", results);
    assert_eq!(results[1]["status"], "error");
    assert!(results[1]["error"]
        .as_str()
        .unwrap()
        .starts_with("line 2: "));
}

#[test]
fn get_reward_answers_openrlhf_with_rewards_scores_and_status_logs() {
    let service = Service::start(&[]);
    let p1 = chatml_prompt("What is 1/2 + 1/4?");
    let p2 = chatml_prompt("What is 6*7?");
    // OpenRLHF's payload: `{"query", "prompts", "labels"}` (openrlhf/utils/agent.py,
    // `_fetch_rewards_via_http`), one list entry per sample.
    let request = json!({
        "query": [
            query(&p1, "<think>add</think> So $\\boxed{\\frac{3}{4}}$"),
            query(&p2, "It is \\boxed{41}."),
            query(&p2, "I do not know."),
            query(&p2, "It is \\boxed{42}."),
            "a query that lost its prompt",
        ],
        "prompts": [p1, p2, p2, p2, p2],
        "labels": ["0.75", "42", "42", ["not", "an", "answer"], "42"],
    });
    let reply = service.post("/get_reward", &request.to_string());
    assert_eq!(reply.status, 200, "{}", reply.body);
    let answer = reply.json();
    for key in ["rewards", "scores", "extra_logs", "statuses", "errors"] {
        assert!(answer.get(key).is_some(), "{key} missing: {answer}");
    }
    assert_eq!(answer["rewards"], json!([1.0, 0.0, 0.0, 0.0, 0.0]));
    assert_eq!(answer["scores"], answer["rewards"]);
    assert_eq!(
        answer["statuses"],
        json!(["correct", "incorrect", "no_answer", "error", "error"])
    );
    // Every extra_logs value is a list of numbers, one per sample, as OpenRLHF makes tensors of them.
    let logs = answer["extra_logs"].as_object().unwrap();
    for status in [
        "correct",
        "partial",
        "incorrect",
        "no_answer",
        "timeout",
        "error",
    ] {
        let values = logs[&format!("verifier_{status}")].as_array().unwrap();
        assert_eq!(values.len(), 5);
        assert!(values.iter().all(|v| v.is_f64()));
    }
    assert_eq!(logs["verifier_error"], json!([0.0, 0.0, 0.0, 1.0, 1.0]));
    let errors = answer["errors"].as_array().unwrap();
    assert_eq!(errors[0], Value::Null);
    let label_error = errors[3].as_str().unwrap();
    assert!(
        label_error.contains("labels[3]") && label_error.contains("gold answer"),
        "{label_error}"
    );
    let query_error = errors[4].as_str().unwrap();
    assert!(
        query_error.contains("query[4]") && query_error.contains("does not start with its prompt"),
        "{query_error}"
    );

    // The reward of an ungradable sample is the caller's choice; graded ones are untouched.
    let chosen = service
        .post("/get_reward?error_reward=-1", &request.to_string())
        .json();
    assert_eq!(chosen["rewards"], json!([1.0, 0.0, 0.0, -1.0, -1.0]));
}

#[test]
fn get_reward_labels_mean_what_kind_says() {
    let service = Service::start(&[]);
    let prompt = chatml_prompt("Say something.");
    let formatted = query(&prompt, "<think>\nhm\n</think>\n<answer>\nok\n</answer>");
    let request = json!({"query": [formatted, query(&prompt, "just text")], "prompts": [prompt, prompt], "labels": [null, null]});
    let reply = service.post(
        "/get_reward?kind=format&style=think_answer",
        &request.to_string(),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["rewards"], json!([1.0, 0.0]));

    let ifeval =
        json!(json!({"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}).to_string());
    let graded = [("no commas here", &ifeval), ("one, two", &ifeval)];
    assert_eq!(
        rewards(&service, "kind=ifeval", &prompt, &graded),
        json!([1.0, 0.0])
    );

    // Code tests as verl and APPS keep them, as a JSON string label.
    let tests =
        json!(json!({"inputs": ["2 3\n", "10 -4\n"], "outputs": ["5\n", "6\n"]}).to_string());
    let right = "```python\na, b = map(int, input().split())\nprint(a + b)\n```";
    let wrong = "```python\na, b = map(int, input().split())\nprint(a * b)\n```";
    let graded = [(right, &tests), (wrong, &tests)];
    assert_eq!(
        rewards(&service, "kind=code", &prompt, &graded),
        json!([1.0, 0.0])
    );

    // `assert` tests whose check uses the prompt's helper (HumanEval/50's `encode_shift`) carry
    // the prompt as `prefix`: the helper is then the task's, and a completion that redefines it
    // with its answer to match earns nothing (red team: with no way to send a prefix, both
    // trivial functions passed).
    let helper =
        "def encode_shift(s):\n    return ''.join(chr(((ord(c) + 5 - 97) % 26) + 97) for c in s)\n";
    let check = "def check(candidate):\n    for s in ['abc', 'hello', 'xyz']:\n        assert candidate(encode_shift(s)) == s\n";
    let label = json!(
        json!({"type": "assert", "code": check, "entry_point": "decode_shift",
                             "prefix": helper})
        .to_string()
    );
    let right = "```python\ndef decode_shift(s):\n    return ''.join(chr(((ord(c) - 5 - 97) % 26) + 97) for c in s)\n```";
    let farmed =
        "```python\ndef encode_shift(s):\n    return s\ndef decode_shift(s):\n    return s\n```";
    let graded = [(right, &label), (farmed, &label)];
    assert_eq!(
        rewards(&service, "kind=code", &prompt, &graded),
        json!([1.0, 0.0])
    );
    // APPS-shaped tests carry it too (it was dropped without a word).
    let label =
        json!(json!({"inputs": ["1\n"], "outputs": ["6\n"], "prefix": "OFFSET = 5\n"}).to_string());
    let uses_it = "```python\nprint(OFFSET + int(input()))\n```";
    assert_eq!(
        rewards(&service, "kind=code", &prompt, &[(uses_it, &label)]),
        json!([1.0])
    );

    // A server that always grades format: `--get-reward-kind`.
    let format_service = Service::start(&["--get-reward-kind", "format"]);
    let request =
        json!({"query": [query(&prompt, "<think>\nwhy\n</think>\nbecause")], "prompts": [prompt]});
    let reply = format_service
        .post("/get_reward", &request.to_string())
        .json();
    assert_eq!(reply["statuses"], json!(["correct"]), "{reply}");
}

/// A math label written as a JSON number keeps every digit (as a float, 23! graded its exact
/// answer wrong), and a label that cannot be read fails its item, not the request (red team).
#[test]
fn get_reward_number_labels_keep_their_digits_and_bad_labels_fail_alone() {
    let service = Service::start(&[]);
    let prompt = chatml_prompt("What is 23!?");
    let exact = "25852016738884976640000";
    let request = format!(
        r#"{{"query": [{q}, {q}, {q}], "prompts": [{p}, {p}, {p}], "labels": [{exact}, "{exact}", 1e400]}}"#,
        q = json!(query(&prompt, &format!("It is \\boxed{{{exact}}}."))),
        p = json!(prompt),
    );
    let reply = service.post("/get_reward", &request);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let answer = reply.json();
    assert_eq!(answer["rewards"][0], json!(1.0), "{answer}");
    assert_eq!(answer["rewards"][1], json!(1.0), "{answer}");
    assert_eq!(answer["statuses"][2], json!("incorrect"), "{answer}");

    // A task label that gives a field twice is refused, not graded against the last one, as
    // an object and as a JSON string.
    let prompt = chatml_prompt("Pick one.");
    let twice = r#"{"kind": "math", "answer": "1", "answer": "2"}"#;
    let request = format!(
        r#"{{"query": [{q}, {q}], "prompts": [{p}, {p}], "labels": [{twice}, {quoted}]}}"#,
        q = json!(query(&prompt, "\\boxed{2}")),
        p = json!(prompt),
        quoted = json!(twice),
    );
    let reply = service.post("/get_reward?kind=task", &request);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let answer = reply.json();
    assert_eq!(answer["statuses"], json!(["error", "error"]), "{answer}");
    assert!(
        answer["errors"].to_string().contains("duplicate field"),
        "{answer}"
    );
}

#[test]
fn get_reward_refuses_malformed_requests_with_a_reason() {
    let service = Service::start(&[]);
    let cases = [
        (
            "/get_reward",
            json!({"query": ["a"], "prompts": ["a", "b"], "labels": ["1"]}).to_string(),
            "same length",
        ),
        (
            "/get_reward",
            json!({"query": ["a"], "labels": ["1"]}).to_string(),
            "prompts",
        ),
        (
            "/get_reward",
            json!({"query": ["a"], "prompts": [""], "lables": ["1"]}).to_string(),
            "lables",
        ),
        (
            "/get_reward",
            json!({"query": [1], "prompts": [""]}).to_string(),
            "malformed request",
        ),
        ("/get_reward", "{not json".to_string(), "malformed request"),
        (
            "/get_reward?kind=poetry",
            json!({"query": [], "prompts": []}).to_string(),
            "kind",
        ),
        (
            "/get_reward?kind=math&style=r1",
            json!({"query": [], "prompts": []}).to_string(),
            "applies to kind=format",
        ),
        (
            "/get_reward?error_reward=1e400",
            json!({"query": [], "prompts": []}).to_string(),
            "error_reward",
        ),
        (
            "/get_reward?timeoutms=5",
            json!({"query": [], "prompts": []}).to_string(),
            "timeoutms",
        ),
    ];
    for (path, body, needle) in cases {
        let reply = service.post(path, &body);
        assert_eq!(reply.status, 400, "{path} {body}: {}", reply.body);
        let message = reply.json()["error"].as_str().unwrap().to_string();
        assert!(message.contains(needle), "{path} {body}: {message}");
    }
}

fn run_code(service: &Service, request: Value) -> Value {
    let reply = service.post("/run_code", &request.to_string());
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

#[test]
fn run_code_answers_in_sandbox_fusions_shape() {
    let service = Service::start(&[]);
    // verl's payload exactly (verl/utils/reward_score/sandbox_fusion/utils.py, `call_sandbox_api`).
    let verl = |code: &str, stdin: Value, language: &str, timeout: f64| {
        json!({"compile_timeout": timeout, "run_timeout": timeout, "code": code, "stdin": stdin,
               "memory_limit_MB": 1024, "language": language, "files": {}, "fetch_files": []})
    };
    let ok = run_code(
        &service,
        verl(
            "a, b = map(int, input().split())\nprint(a + b)",
            json!("2 3\n"),
            "python",
            10.0,
        ),
    );
    // SandboxFusion's RunCodeResponse and CommandRunResult fields, plus our `sandbox` report.
    assert_eq!(
        keys(&ok),
        [
            "compile_result",
            "executor_pod_name",
            "files",
            "message",
            "run_result",
            "sandbox",
            "status"
        ]
        .map(String::from)
        .into()
    );
    assert_eq!(
        keys(&ok["run_result"]),
        [
            "execution_time",
            "return_code",
            "status",
            "stderr",
            "stdout"
        ]
        .map(String::from)
        .into()
    );
    assert_eq!(ok["status"], "Success", "{ok}");
    assert_eq!(ok["message"], "");
    assert_eq!(ok["compile_result"], Value::Null);
    assert_eq!(ok["run_result"]["status"], "Finished");
    assert_eq!(ok["run_result"]["return_code"], 0);
    assert_eq!(ok["run_result"]["stdout"], "5\n");
    assert!(ok["run_result"]["execution_time"].as_f64().unwrap() > 0.0);

    let raised = run_code(
        &service,
        verl("raise ValueError('bad input')", Value::Null, "python", 10.0),
    );
    assert_eq!(raised["status"], "Failed");
    assert_eq!(raised["run_result"]["status"], "Finished");
    assert_eq!(raised["run_result"]["return_code"], 1);
    assert!(
        raised["run_result"]["stderr"]
            .as_str()
            .unwrap()
            .contains("ValueError: bad input"),
        "{raised}"
    );

    let exited = run_code(
        &service,
        verl("import sys\nsys.exit(3)", Value::Null, "python", 10.0),
    );
    assert_eq!(
        (
            exited["status"].as_str(),
            exited["run_result"]["return_code"].as_i64()
        ),
        (Some("Failed"), Some(3))
    );

    let spins = run_code(
        &service,
        verl("while True:\n    pass", Value::Null, "python", 0.3),
    );
    assert_eq!(spins["status"], "Failed");
    assert_eq!(spins["run_result"]["status"], "TimeLimitExceeded");
    assert_eq!(spins["run_result"]["return_code"], Value::Null);
    // run_timeout 0.3 s natively: here the run also gets the unused compile_timeout (0.3 s).
    assert_eq!(spins["sandbox"]["time_limit_ms"], 600);

    let js = run_code(
        &service,
        verl(
            "const n = Number(std.in.readAsString().trim()); console.log(n * 2);",
            json!("21"),
            "nodejs",
            10.0,
        ),
    );
    assert_eq!(js["status"], "Success", "{js}");
    assert_eq!(js["run_result"]["stdout"], "42\n");

    let cpp = run_code(&service, verl("int main() {}", Value::Null, "cpp", 10.0));
    assert_eq!(cpp["status"], "SandboxError");
    assert_eq!(cpp["run_result"], Value::Null);
    assert!(
        cpp["message"]
            .as_str()
            .unwrap()
            .contains("language `cpp` is not supported"),
        "{cpp}"
    );

    let files = run_code(
        &service,
        json!({"code": "print(1)", "language": "python", "files": {"a.txt": "eA=="}}),
    );
    assert_eq!(files["status"], "SandboxError");
    assert!(files["message"].as_str().unwrap().contains("`files`"));

    // Memory: SandboxFusion's -1 (no limit) is the operator's cap.
    let unlimited = run_code(
        &service,
        json!({"code": "print(1)", "language": "python", "memory_limit_MB": -1}),
    );
    assert_eq!(unlimited["sandbox"]["memory_limit_mb"], 1024);
}

#[test]
fn run_code_refuses_malformed_requests_and_sheds_load_as_grading_does() {
    let service = Service::start(&["--max-requests", "1"]);
    for (body, needle) in [
        (json!({"language": "python"}).to_string(), "code"),
        (
            json!({"code": "1", "language": "python", "run_timout": 1}).to_string(),
            "run_timout",
        ),
        (
            json!({"code": "1", "language": "python", "run_timeout": -1}).to_string(),
            "run_timeout",
        ),
        ("[]".to_string(), "malformed request"),
    ] {
        let reply = service.post("/run_code", &body);
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert!(
            reply.json()["error"].as_str().unwrap().contains(needle),
            "{body}: {}",
            reply.body
        );
    }
    // One request slot: while a run holds it, the next request is 503 with Retry-After.
    let url = service.url.clone();
    let slow = std::thread::spawn(move || {
        // A run that spins for 1.5 s (the first also starts the sandbox pool); retried while
        // the probes below hold the slot.
        let body = json!({"code": "import time\nt = time.time()\nwhile time.time() - t < 1.5:\n    pass",
                          "language": "python"});
        loop {
            match ureq::post(&format!("{url}/run_code")).send_string(&body.to_string()) {
                Err(ureq::Error::Status(503, _)) => {
                    std::thread::sleep(std::time::Duration::from_millis(5))
                }
                other => return other.map(|r| r.status()).ok(),
            }
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let shed = loop {
        let reply = service.post(
            "/run_code",
            &json!({"code": "print(1)", "language": "python"}).to_string(),
        );
        if reply.status == 503 || std::time::Instant::now() > deadline {
            break reply;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(shed.status, 503, "{}", shed.body);
    assert_eq!(shed.retry_after.as_deref(), Some("1"));
    assert_eq!(slow.join().unwrap(), Some(200));
}

#[test]
fn a_run_still_going_at_the_drain_timeout_is_answered_not_dropped() {
    let service = Service::start(&["--drain-timeout-s", "3"]);
    // Warm the sandbox pool, so that the spinning run below is running when SIGTERM comes.
    run_code(&service, json!({"code": "print(1)", "language": "python"}));
    let url = service.url.clone();
    let spinning = std::thread::spawn(move || {
        let body =
            json!({"code": "while True:\n    pass", "language": "python", "run_timeout": 20});
        let reply = ureq::post(&format!("{url}/run_code")).send_string(&body.to_string());
        reply.map(|r| r.into_json::<Value>().unwrap()).ok()
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    let pid = i32::try_from(service.pid()).unwrap();
    // SAFETY: signalling the child process this test started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let answer = spinning
        .join()
        .unwrap()
        .expect("an answer before the process exits");
    assert_eq!(answer["status"], "SandboxError", "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("shutting down"),
        "{answer}"
    );
}

/// OpenRLHF's route reads a lone UTF-16 surrogate escaped in a query as U+FFFD, as `/v1/grade`
/// does, instead of refusing the whole request.
#[test]
fn get_reward_reads_a_lone_surrogate_as_a_replacement_character() {
    let service = Service::start(&[]);
    let prompt = chatml_prompt("What is 6*7?");
    let request = json!({
        "query": [query(&prompt, "It is \\boxed{42}. SURROGATE")],
        "prompts": [prompt],
        "labels": ["42"],
    })
    .to_string()
    .replace("SURROGATE", "\\udc00");
    let reply = service.post("/get_reward", &request);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["rewards"], json!([1.0]), "{}", reply.body);
}
