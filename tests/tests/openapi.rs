//! `GET /openapi.json` against the real service: the document parses, is OpenAPI 3.1, lists
//! every route it serves (each documented operation answers, none with 404), and documents the
//! fields of every task kind the registry lists (`GET /v1/graders`), math options included.
//! Then `tests/python/check_openapi.py`, in a venv with openapi-spec-validator pinned by hash,
//! validates the document and real responses against their schemas.

use std::collections::BTreeSet;
use std::process::Command;

use tests::{pinned_venv, repo_root, CacheCopy, Service};

#[test]
fn the_document_covers_every_route_and_every_registered_kind() {
    let service = Service::start(&[]);
    let reply = service.get("/openapi.json");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let doc = reply.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));

    let paths = doc["paths"].as_object().expect("paths");
    let documented: BTreeSet<String> = paths
        .iter()
        .flat_map(|(path, item)| {
            let methods = item.as_object().expect("a path item").keys();
            methods.map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    let expected: BTreeSet<String> = [
        "POST /v1/grade",
        "GET /v1/graders",
        "GET /healthz",
        "GET /metrics",
        "GET /openapi.json",
    ]
    .map(String::from)
    .into();
    assert!(
        documented.is_superset(&expected),
        "documented: {documented:?}"
    );
    // Every documented operation is served: a GET answers 200; a POST with a body that may not
    // be its shape answers anything but 404 (no route) or 405 (no such method there).
    for route in &documented {
        let (method, path) = route.split_once(' ').unwrap();
        let reply = match method {
            "GET" => service.get(path),
            _ => service.post(path, r#"{"samples": []}"#),
        };
        if method == "GET" {
            assert_eq!(reply.status, 200, "{route}: {}", reply.body);
        } else {
            assert!(
                ![404, 405].contains(&reply.status),
                "{route}: {}",
                reply.body
            );
        }
    }
    // The 404 message names the routes from the same document.
    let missing = service.get("/v2/grade");
    assert_eq!(missing.status, 404);
    for route in &expected {
        assert!(missing.body.contains(route.as_str()), "{}", missing.body);
    }

    let registered: BTreeSet<String> = service.get("/v1/graders").json()["graders"]
        .as_array()
        .expect("graders")
        .iter()
        .map(|g| g["kind"].as_str().expect("kind").to_string())
        .collect();
    let schemas = &doc["components"]["schemas"];
    let branches = schemas["Task"]["oneOf"].as_array().expect("Task is oneOf");
    let kinds: BTreeSet<String> = branches
        .iter()
        .map(|b| {
            b["properties"]["kind"]["enum"][0]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        kinds, registered,
        "documented task kinds vs GET /v1/graders"
    );
    for branch in branches {
        let properties = branch["properties"].as_object().unwrap();
        assert!(properties.len() > 1, "a kind without fields: {branch}");
        assert_eq!(branch["additionalProperties"], false, "{branch}");
    }
    let options = schemas["MathOptions"]["properties"]
        .as_object()
        .expect("math options documented");
    for option in [
        "answer_targets",
        "gold_targets",
        "boxed_priority",
        "require_anchor",
        "extraction_mode",
        "choices",
        "float_rounding",
        "strict",
        "allow_set_relation",
    ] {
        assert!(options.contains_key(option), "math option {option} missing");
    }
    println!(
        "documented: {documented:?}; kinds: {kinds:?}; {} schemas",
        schemas.as_object().unwrap().len()
    );
}

#[test]
fn real_responses_match_the_document_by_openapi_spec_validator() {
    let Some(python) = pinned_venv(
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("openapi-venv"),
        "openapi-requirements.txt",
    ) else {
        return;
    };
    // A warm sandbox cache of this test's own, so its code samples never wait for set-up.
    let cache = CacheCopy::new("openapi");
    let service = Service::start_with_env(&[], &[("VERIFIER_CACHE_DIR", cache.root.as_os_str())]);
    let output = Command::new(&python)
        .arg(repo_root().join("tests/python/check_openapi.py"))
        .arg(&service.url)
        .output()
        .expect("run check_openapi.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "check_openapi.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("responses validated against their documented schemas"),
        "{stdout}"
    );
}
