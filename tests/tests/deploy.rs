//! The deployment files: the Kubernetes manifests validated offline against the API's schemas
//! (`kubernetes-validate`, pinned by hash in a venv the test makes) with the probes, selector
//! and autoscaler checked to fit together; the Dockerfile's promises (multi-stage, runtimes set
//! up at build, non-root, health check on /healthz); and the image built and run where a
//! container engine and the base images are reachable (skipped, saying why, elsewhere).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tests::{pinned_venv, repo_root};

/// The Kubernetes version the manifests are checked against.
const KUBERNETES_VERSION: &str = "1.33.0";

#[test]
fn kubernetes_manifests_and_compose_validate_offline() {
    let Some(python) = pinned_venv(
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("deploy-venv"),
        "deploy-requirements.txt",
    ) else {
        return;
    };
    let output = Command::new(&python)
        .arg(repo_root().join("tests/python/check_manifests.py"))
        .arg(repo_root())
        .arg(KUBERNETES_VERSION)
        .output()
        .expect("run check_manifests.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "check_manifests.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.matches("(strict)").count(), 3, "{stdout}");
}

#[test]
fn the_dockerfile_builds_in_stages_sets_up_runtimes_and_runs_unprivileged() {
    let text = std::fs::read_to_string(repo_root().join("Dockerfile")).expect("a Dockerfile");
    let instructions: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let stages = instructions
        .iter()
        .filter(|l| l.starts_with("FROM "))
        .count();
    assert!(stages >= 2, "not multi-stage");
    assert!(text.contains("cargo build --release"), "no release build");
    let position = |needle: &str| {
        instructions
            .iter()
            .position(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("no `{needle}` in the Dockerfile"))
    };
    // Set-up runs as the user that serves, so the cache is that user's own (the service
    // refuses a cache directory another user owns).
    let user = position("USER ");
    assert!(
        position("RUN verifier setup") > user,
        "set-up runs before USER"
    );
    assert!(
        !instructions[user].contains("root") && !instructions[user].contains(" 0"),
        "{}",
        instructions[user]
    );
    assert!(text.contains("HEALTHCHECK") && text.contains("/healthz"));
    let ignored =
        std::fs::read_to_string(repo_root().join(".dockerignore")).expect(".dockerignore");
    assert!(
        ignored.lines().any(|l| l.trim() == "target"),
        "the build context would hold target/"
    );
}

#[test]
fn the_dockerfile_health_check_passes_on_a_live_service_and_fails_on_a_dead_one() {
    let text = std::fs::read_to_string(repo_root().join("Dockerfile")).expect("a Dockerfile");
    // The exec form after `CMD` on the HEALTHCHECK's continuation line: a JSON array.
    let after = text.split("HEALTHCHECK").nth(1).expect("a HEALTHCHECK");
    let array = &after[after.find("CMD [").expect("exec-form CMD") + 4..];
    let array = &array[..array.find('\n').unwrap()];
    let command: Vec<String> = serde_json::from_str(array).expect("CMD is a JSON array");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    assert_eq!(command[0], "python3", "{command:?}");
    let service = tests::Service::start(&[]);
    let address = service.url.trim_start_matches("http://").to_string();
    let probe = |expect_ok: bool| {
        let args: Vec<String> = command[1..]
            .iter()
            .map(|a| a.replace("127.0.0.1:8080", &address))
            .collect();
        // The failing probe's traceback is expected: not shown.
        let stderr = if expect_ok {
            Stdio::inherit()
        } else {
            Stdio::null()
        };
        let status = Command::new(&python)
            .args(&args)
            .stderr(stderr)
            .status()
            .expect("run the probe");
        assert_eq!(status.success(), expect_ok, "probe {args:?}");
    };
    probe(true);
    drop(service);
    probe(false);
}

/// Whether `docker` answers and can get the base images; `Err` says why not.
fn engine_and_base_images() -> Result<(), String> {
    let info = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .map_err(|e| format!("no docker command ({e})"))?;
    if !info.status.success() {
        return Err(format!(
            "the docker daemon does not answer: {}",
            String::from_utf8_lossy(&info.stderr).trim()
        ));
    }
    for image in ["rust:1.95-bookworm", "debian:bookworm-slim"] {
        let present = Command::new("docker")
            .args(["image", "inspect", image])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if present {
            continue;
        }
        let pulled = Command::new("timeout")
            .args(["120", "docker", "pull", image])
            .output()
            .map_err(|e| format!("cannot run docker pull ({e})"))?;
        if !pulled.status.success() {
            return Err(format!(
                "base image {image} is not here and cannot be pulled: {}",
                String::from_utf8_lossy(&pulled.stderr).trim()
            ));
        }
    }
    Ok(())
}

#[test]
fn the_image_builds_and_serves_where_an_engine_is_reachable() {
    if let Err(why) = engine_and_base_images() {
        eprintln!("skipped: cannot build the container image here: {why}");
        println!("skipped: cannot build the container image here: {why}");
        return;
    }
    let tag = format!("verifier-test:{}", std::process::id());
    let built = Command::new("docker")
        .args(["build", "-t", &tag, "."])
        .current_dir(repo_root())
        .status()
        .expect("docker build");
    assert!(built.success(), "docker build failed");
    let run = Command::new("docker")
        .args(["run", "-d", "--rm", "-p", "127.0.0.1::8080", &tag])
        .output()
        .expect("docker run");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let container = String::from_utf8_lossy(&run.stdout).trim().to_string();
    let port = Command::new("docker")
        .args(["port", &container, "8080"])
        .output()
        .expect("docker port");
    let address = String::from_utf8_lossy(&port.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let url = format!("http://{address}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while ureq::get(&format!("{url}/healthz")).call().is_err() {
        assert!(
            Instant::now() < deadline,
            "the container never became healthy"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The runtimes were set up at build: the first code request needs no set-up.
    let sample = tests::python_code_sample("first");
    let started = Instant::now();
    let reply = ureq::post(&format!("{url}/v1/grade"))
        .send_json(serde_json::json!({ "samples": [sample] }))
        .expect("grade in the container");
    let body: serde_json::Value = reply.into_json().unwrap();
    let took = started.elapsed();
    let _ = Command::new("docker").args(["stop", &container]).status();
    assert_eq!(body["results"][0]["status"], "correct", "{body}");
    println!("first code request in a fresh container: {took:?}");
}
