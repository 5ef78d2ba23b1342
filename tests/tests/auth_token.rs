//! `verifier serve --auth-token-file`: every route but /healthz answers 401 without the right
//! `Authorization: Bearer` token (with `WWW-Authenticate: Bearer`), and serves with it; the
//! 401s are counted in /metrics under their route; a bad token file stops the start.

use std::process::Command;
use std::time::Duration;

use tests::{verifier_bin, Service};

/// Status, `WWW-Authenticate` and body of a request with an optional `Authorization` header.
fn send(
    service: &Service,
    method: &str,
    path: &str,
    auth: Option<&str>,
) -> (u16, Option<String>, String) {
    let mut request =
        ureq::request(method, &format!("{}{path}", service.url)).timeout(Duration::from_secs(60));
    if let Some(value) = auth {
        request = request.set("authorization", value);
    }
    let outcome = if method == "POST" {
        request.set("content-type", "application/json").send_string(
            r#"{"samples": [{"completion": "$\\boxed{2}$", "task": {"kind": "math", "answer": "2"}}]}"#,
        )
    } else {
        request.call()
    };
    let response = match outcome {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response,
        Err(err) => panic!("{method} {path}: {err}"),
    };
    let status = response.status();
    let challenge = response.header("www-authenticate").map(str::to_string);
    (
        status,
        challenge,
        response.into_string().unwrap_or_default(),
    )
}

#[test]
fn every_route_but_healthz_needs_the_token() {
    let dir = std::env::temp_dir().join(format!("verifier-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("token");
    std::fs::write(&token_file, "correct-horse-battery-staple\n").unwrap();
    let service = Service::start(&["--auth-token-file", token_file.to_str().unwrap()]);
    let right = Some("Bearer correct-horse-battery-staple");

    let (status, _, body) = send(&service, "GET", "/healthz", None);
    assert_eq!(status, 200, "/healthz must stay open for probes: {body}");

    let routes = [
        ("POST", "/v1/grade"),
        ("GET", "/v1/graders"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("GET", "/no/such/route"),
    ];
    for (method, path) in routes {
        for wrong in [
            None,
            Some("Bearer correct-horse-battery-stapl"),
            Some("Bearer correct-horse-battery-staple-and-more"),
            Some("Basic correct-horse-battery-staple"),
            Some("correct-horse-battery-staple"),
        ] {
            let (status, challenge, body) = send(&service, method, path, wrong);
            assert_eq!(status, 401, "{method} {path} with {wrong:?}: {body}");
            assert_eq!(challenge.as_deref(), Some("Bearer"), "{method} {path}");
            assert!(body.contains("bearer token"), "{body}");
        }
        let (status, _, body) = send(&service, method, path, right);
        let expected = if path == "/no/such/route" { 404 } else { 200 };
        assert_eq!(status, expected, "{method} {path} with the token: {body}");
    }
    let (_, _, graded) = send(&service, "POST", "/v1/grade", right);
    assert!(graded.contains(r#""status":"correct""#), "{graded}");
    let (_, _, metrics) = send(&service, "GET", "/metrics", right);
    for line in [
        r#"verifier_http_requests_total{code="401",route="/v1/grade"} 5"#,
        r#"verifier_http_requests_total{code="401",route="unmatched"} 5"#,
    ] {
        assert!(metrics.contains(line), "missing {line} in:\n{metrics}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_token_file_stops_the_start_naming_it() {
    let dir = std::env::temp_dir().join(format!("verifier-auth-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty-token");
    std::fs::write(&empty, "\n").unwrap();
    let missing = dir.join("missing-token");
    for (file, why) in [(&empty, "empty"), (&missing, "cannot read")] {
        let output = Command::new(verifier_bin())
            .args(["serve", "--addr", "127.0.0.1:0", "--auth-token-file"])
            .arg(file)
            .output()
            .expect("run verifier serve");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "started with {}", file.display());
        assert!(
            stderr.contains(why) && stderr.contains(file.to_str().unwrap()),
            "{stderr}"
        );
        assert!(
            !String::from_utf8_lossy(&output.stdout).contains("listening"),
            "it listened before refusing"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
