//! Sandbox worker faults under the real `verifier serve`: a worker killed while idle costs no
//! job (the job goes to a fresh worker), a worker that cannot start says why in the result,
//! and a compiled runtime damaged under a running service is rebuilt when a worker next starts.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use tests::{javascript_code_sample, python_code_sample, CacheCopy, Service};

/// The pids of `service`'s sandbox worker processes.
fn workers(service: &Service) -> Vec<i32> {
    let parent = service.pid().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        let ppid = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .map(str::trim);
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if ppid == Some(parent.as_str())
            && String::from_utf8_lossy(&cmdline).contains("__sandbox-worker")
        {
            found.push(pid);
        }
    }
    found
}

fn kill_workers(service: &Service) -> usize {
    let pids = workers(service);
    for &pid in &pids {
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    std::thread::sleep(Duration::from_millis(300));
    pids.len()
}

fn grade(service: &Service, samples: &[Value]) -> Vec<Value> {
    let reply = service.post("/v1/grade", &json!({ "samples": samples }).to_string());
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["results"].as_array().unwrap().clone()
}

fn service_on(cache: &Path) -> Service {
    Service::start_with_env(&[], &[("VERIFIER_CACHE_DIR", cache.as_os_str())])
}

#[test]
fn a_worker_killed_while_idle_costs_no_job() {
    let cache = CacheCopy::new("idle-kill");
    let service = service_on(&cache.root);
    let warm = grade(&service, &[python_code_sample("w")]);
    assert_eq!(warm[0]["status"], json!("correct"), "{}", warm[0]);
    let killed = kill_workers(&service);
    assert!(killed > 0, "no sandbox workers found");
    let samples: Vec<Value> = (0..4)
        .map(|i| {
            if i % 2 == 0 {
                python_code_sample(&format!("p{i}"))
            } else {
                javascript_code_sample(&format!("j{i}"))
            }
        })
        .collect();
    for result in grade(&service, &samples) {
        assert_eq!(result["status"], json!("correct"), "{result}");
    }
    // Each killed worker was replaced when its slot next took a job, and /metrics says so.
    let metrics = service.get("/metrics").body;
    let restarts: usize = metrics
        .lines()
        .find_map(|l| l.strip_prefix("verifier_sandbox_worker_restarts_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no restart count in:\n{metrics}"));
    assert!(
        (1..=killed).contains(&restarts),
        "{restarts} restarts after killing {killed} workers"
    );
}

#[test]
fn a_worker_that_cannot_start_says_why_in_the_result() {
    let cache = CacheCopy::new("start-error");
    let service = service_on(&cache.root);
    let warm = grade(&service, &[javascript_code_sample("w")]);
    assert_eq!(warm[0]["status"], json!("correct"), "{}", warm[0]);
    // The compiled JavaScript runtime becomes something no set-up can replace.
    for module in cache.compiled("quickjs-") {
        std::fs::remove_file(&module).unwrap();
        std::fs::create_dir(&module).unwrap();
    }
    kill_workers(&service);
    let result = &grade(&service, &[javascript_code_sample("j")])[0];
    assert_eq!(result["status"], json!("error"), "{result}");
    let message = result["error"].as_str().unwrap();
    assert!(
        message.contains("the worker said") && message.contains("quickjs-"),
        "the worker's own error (file, cause) is in the message: {message}"
    );
}

#[test]
fn a_runtime_damaged_under_a_running_service_is_rebuilt() {
    let cache = CacheCopy::new("damaged-live");
    let service = service_on(&cache.root);
    let warm = grade(&service, &[javascript_code_sample("w")]);
    assert_eq!(warm[0]["status"], json!("correct"), "{}", warm[0]);
    for module in cache.compiled("quickjs-") {
        let bytes = std::fs::read(&module).unwrap();
        std::fs::remove_file(&module).unwrap();
        std::fs::write(&module, &bytes[..bytes.len() / 3]).unwrap();
    }
    kill_workers(&service);
    let result = &grade(&service, &[javascript_code_sample("j")])[0];
    assert_eq!(result["status"], json!("correct"), "{result}");
}

/// A JavaScript sample that passes after about a second of busy work (10M loop turns).
/// Each `id` gets its own code, so that no two samples are graded as one.
fn slow_javascript_sample(id: &str) -> Value {
    json!({"id": id, "completion": format!("```javascript\nfunction f(x) {{ let s = 0; for (let i = 0; i < 10000000; i++) {{ s += i % 7; }} /* {id} */ return x + 1 + (s < 0 ? 1 : 0); }}\n```"),
           "task": {"kind": "code", "language": "javascript", "time_limit_ms": 5000,
                    "tests": {"type": "call", "fn_name": "f", "cases": [{"args": [1], "expected": 2}]}}})
}

/// Sends one sample that runs about a second, applies `fault` to every worker while it runs
/// (one worker busy, the others idle), and checks that exactly that sample is an `error` naming
/// the worker. Then a batch with a sample for each worker: none of them is lost to the idle
/// workers the fault also hit (they never took a job, so the job goes to a fresh worker).
fn fault_while_one_runs(service: &Service, fault: impl FnOnce(&[i32])) {
    let body = json!({ "samples": [slow_javascript_sample("running")] }).to_string();
    let url = service.url.clone();
    let sender = std::thread::spawn(move || {
        ureq::post(&format!("{url}/v1/grade"))
            .timeout(Duration::from_secs(120))
            .send_string(&body)
            .map(|r| r.into_string().unwrap())
            .map_err(|e| e.to_string())
    });
    std::thread::sleep(Duration::from_millis(600));
    let pids = workers(service);
    assert!(
        pids.len() >= 2,
        "one busy and at least one idle worker: {pids:?}"
    );
    fault(&pids);
    let answer: Value = serde_json::from_str(&sender.join().unwrap().unwrap()).unwrap();
    let running = &answer["results"][0];
    assert_eq!(running["status"], json!("error"), "{running}");
    let message = running["error"].as_str().unwrap();
    assert!(message.contains("sandbox worker"), "{message}");

    let next: Vec<Value> = (0..pids.len())
        .map(|i| slow_javascript_sample(&format!("next{i}")))
        .collect();
    for result in grade(service, &next) {
        assert_eq!(result["status"], json!("correct"), "{result}");
    }
}

#[test]
fn workers_killed_mid_batch_lose_no_sample_that_had_not_started() {
    let cache = CacheCopy::new("kill-mid-batch");
    let service = service_on(&cache.root);
    grade(&service, &[javascript_code_sample("w")]);
    fault_while_one_runs(&service, |pids| {
        for &pid in pids {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
}

#[test]
fn workers_stopped_mid_batch_are_replaced_and_lose_no_sample_that_had_not_started() {
    let cache = CacheCopy::new("stop-mid-batch");
    let service = service_on(&cache.root);
    grade(&service, &[javascript_code_sample("w")]);
    let stopped = std::sync::Mutex::new(Vec::new());
    fault_while_one_runs(&service, |pids| {
        for &pid in pids {
            unsafe { libc::kill(pid, libc::SIGSTOP) };
        }
        stopped.lock().unwrap().extend_from_slice(pids);
    });
    // The stopped workers were killed and replaced, not left behind.
    for pid in stopped.into_inner().unwrap() {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            state.is_empty() || state.contains(") Z"),
            "{pid} lingers: {state}"
        );
    }
}
