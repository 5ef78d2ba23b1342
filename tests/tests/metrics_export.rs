//! `/metrics` after real traffic (a math sample and two code samples, one failing): the process
//! metrics, the build-info gauge, the sandbox pool's gauges and counters, and code verdict
//! counts are there with plausible values; and every metric the Grafana dashboard in
//! `deploy/grafana` queries is one the service exports.

use std::collections::BTreeSet;

use tests::{python_code_sample, repo_root, CacheCopy, Service};

/// The value of the sample line that starts with `series` (name and labels, exactly).
fn value(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in:\n{metrics}"))
        .trim()
        .parse()
        .expect("a number")
}

#[test]
fn process_build_sandbox_and_verdict_metrics_are_exported() {
    // A warm cache (set up once, outside any request's timeout) of this test's own.
    let cache = CacheCopy::new("metrics-export");
    let service = Service::start_with_env(&[], &[("VERIFIER_CACHE_DIR", cache.root.as_os_str())]);
    let mut failing = python_code_sample("wrong");
    failing["completion"] = "```python\ndef f(x):\n    return x\n```".into();
    let body = serde_json::json!({"samples": [
        python_code_sample("right"),
        failing,
        {"completion": "$\\boxed{2}$", "task": {"kind": "math", "answer": "2"}},
    ]});
    let reply = service.post("/v1/grade", &body.to_string());
    assert_eq!(reply.status, 200, "{}", reply.body);
    let statuses: Vec<String> = reply.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        statuses,
        ["correct", "incorrect", "correct"],
        "{}",
        reply.body
    );

    let metrics = service.get("/metrics").body;
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        value(
            &metrics,
            &format!("verifier_build_info{{version=\"{version}\"}}")
        ),
        1.0
    );
    let rss = value(&metrics, "process_resident_memory_bytes");
    assert!(rss > 1e6 && rss < 4e9, "RSS {rss}");
    // prometheus' collector counts whole CPU seconds, from /proc/<pid>/stat as we read it here.
    let cpu = value(&metrics, "process_cpu_seconds_total");
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", service.pid())).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    assert!(
        cpu <= ticks / per_second + 1e-9 && cpu >= (ticks / per_second).floor() - 1.0,
        "process_cpu_seconds_total {cpu} vs {ticks} ticks"
    );
    assert!(value(&metrics, "process_open_fds") >= 3.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let started = value(&metrics, "process_start_time_seconds");
    assert!(
        started <= now && now - started < 3600.0,
        "start time {started}"
    );

    assert!(value(&metrics, "verifier_sandbox_workers") >= 1.0);
    assert_eq!(value(&metrics, "verifier_sandbox_workers_busy"), 0.0);
    assert_eq!(value(&metrics, "verifier_sandbox_jobs_queued"), 0.0);
    // Each code sample is at least one sandbox run (a `call` test: one run each).
    assert!(value(&metrics, "verifier_sandbox_jobs_total") >= 2.0);
    assert!(value(&metrics, "verifier_sandbox_queue_wait_seconds_total") >= 0.0);
    assert_eq!(
        value(&metrics, "verifier_sandbox_worker_restarts_total"),
        0.0
    );
    assert_eq!(
        value(
            &metrics,
            r#"verifier_code_verdicts_total{verdict="passed"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &metrics,
            r#"verifier_code_verdicts_total{verdict="wrong_answer"}"#
        ),
        1.0
    );

    // Every metric the dashboard queries exists (histograms through their _bucket series).
    let exported: BTreeSet<&str> = metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let dashboard =
        std::fs::read_to_string(repo_root().join("deploy/grafana/dashboards/verifier.json"))
            .expect("the Grafana dashboard");
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard).expect("dashboard JSON");
    let mut queried = BTreeSet::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if word.starts_with("verifier_") || word.starts_with("process_") {
                    queried.insert(word.to_string());
                }
            }
        }
    }
    assert!(queried.len() >= 15, "only {queried:?}");
    let missing: Vec<&String> = queried
        .iter()
        .filter(|name| !exported.contains(name.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries {missing:?}, which /metrics lacks"
    );
    println!("dashboard queries {} metrics, all exported", queried.len());
}
