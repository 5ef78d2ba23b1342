//! Grader plugins end to end, through the real binary: Python plugins (a file, a folder) and a
//! component plugin built from Python with `verifier plugin build`, over HTTP and through
//! `verifier grade`, as a sample's task and as a weighted component; hostile plugins (each an
//! `error` naming it, the batch goes on) and hostile completions (nothing they write passes for
//! the plugin's result); reloading with a changed plugin; `verifier plugin check` and `new`.
//!
//! Each distinct set of Python plugins is one sandbox build (~20 s, once per cache), so the
//! hostile plugins and the examples are loaded together.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{json, Value};
use tests::{repo_root, verifier_bin, Service};

fn data(name: &str) -> String {
    repo_root()
        .join("tests/data/plugins")
        .join(name)
        .display()
        .to_string()
}

/// The component example, built once per test run with `verifier plugin build`.
fn keywords_component() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("verifier-plugins-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let output = dir.join("keywords.wasm");
        let source = repo_root().join("examples/plugins/keywords_component/keywords.py");
        let run = Command::new(verifier_bin())
            .args(["plugin", "build"])
            .arg(&source)
            .arg("-o")
            .arg(&output)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "plugin build failed: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        output
    })
}

/// `--plugin` arguments for every plugin these tests load together.
fn plugin_args() -> Vec<String> {
    let mut args = Vec::new();
    let mut add = |name: &str, path: String| {
        args.push("--plugin".to_string());
        args.push(format!("{name}={path}"));
    };
    let examples = repo_root().join("examples/plugins");
    add(
        "json_schema",
        examples.join("json_schema.py").display().to_string(),
    );
    add("keywords", keywords_component().display().to_string());
    add("length_band", data("length_band"));
    for hostile in [
        "loops",
        "allocates",
        "forges",
        "exits",
        "sys_exits",
        "floods",
        "returns_nan",
        "returns_text",
        "echo",
        "counts_calls",
        "writes_partial_line",
        "parses_numbers",
        "unescapes",
        "catches_json",
        "calculator",
    ] {
        add(hostile, data(&format!("{hostile}.py")));
    }
    args
}

fn sample(id: &str, completion: &str, task: Value) -> Value {
    json!({"id": id, "completion": completion, "task": task})
}

const PERSON_SCHEMA: &str = r#"{"type": "object", "required": ["name", "age"],
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "additionalProperties": false}"#;

/// The samples every transport grades, with what each must come back as.
fn cases() -> Vec<(Value, &'static str, f64, &'static str)> {
    let schema: Value = serde_json::from_str(PERSON_SCHEMA).unwrap();
    let good_json = "<think>a person</think>\n```json\n{\"name\": \"Ada\", \"age\": 36}\n```";
    let bad_json = "```json\n{\"name\": \"Ada\", \"age\": \"old\"}\n```";
    let forged = "x\n{\"k\":\"result\",\"value\":1}\n00000000000000000000000000000000 {\"k\":\"result\",\"value\":1}\n{\"k\":\"done\"}";
    vec![
        (
            sample(
                "schema-ok",
                good_json,
                json!({"kind": "json_schema", "schema": schema}),
            ),
            "correct",
            1.0,
            "",
        ),
        (
            sample(
                "schema-bad",
                bad_json,
                json!({"kind": "json_schema", "schema": schema}),
            ),
            "incorrect",
            0.0,
            "",
        ),
        (
            sample(
                "keywords",
                "Chlorophyll drives photosynthesis.",
                json!({"kind": "keywords", "required": ["photosynthesis", "chlorophyll", "light"]}),
            ),
            "partial",
            2.0 / 3.0,
            "",
        ),
        (
            sample(
                "keywords-bad-task",
                "x",
                json!({"kind": "keywords", "required": 7}),
            ),
            "error",
            0.0,
            "plugin `keywords` reported an error: `required` must be a list of strings",
        ),
        (
            sample(
                "folder",
                "one two three",
                json!({"kind": "length_band", "min": 2, "max": 5}),
            ),
            "correct",
            1.0,
            "",
        ),
        (
            sample("loops", "x", json!({"kind": "loops"})),
            "error",
            0.0,
            "plugin `loops` ran past its time limit of 500 ms",
        ),
        (
            sample("allocates", "x", json!({"kind": "allocates"})),
            "error",
            0.0,
            "plugin `allocates` ran out of memory (its limit is 64 MiB)",
        ),
        (
            sample("forges", "x", json!({"kind": "forges"})),
            "error",
            0.0,
            "plugin `forges` raised RuntimeError: no reward here (forges.py, line ",
        ),
        (
            sample("exits", "x", json!({"kind": "exits"})),
            "error",
            0.0,
            "plugin `exits` exited (status 0) instead of returning",
        ),
        (
            sample("sys_exits", "x", json!({"kind": "sys_exits"})),
            "error",
            0.0,
            "plugin `sys_exits` raised SystemExit",
        ),
        (
            sample("floods", "x", json!({"kind": "floods"})),
            "error",
            0.0,
            "plugin `floods` printed more than its output limit of 64 KiB",
        ),
        // Honest plugins fed hostile completions: what the plugin honestly returns is what the
        // sample gets, never an `error` the completion provoked (a trainer drops those).
        (
            sample(
                "partial-line",
                "42",
                json!({"kind": "writes_partial_line", "answer": "42"}),
            ),
            "correct",
            1.0,
            "",
        ),
        (
            sample(
                "partial-line-flood",
                &"9".repeat(3 << 20),
                json!({"kind": "writes_partial_line", "answer": "42"}),
            ),
            "incorrect",
            0.0,
            "",
        ),
        (
            sample(
                "huge-int",
                &format!("It is 1{}", "0".repeat(400)),
                json!({"kind": "parses_numbers", "answer": 42}),
            ),
            "incorrect",
            0.0,
            "",
        ),
        (
            sample(
                "lone-surrogate",
                "\\ud800",
                json!({"kind": "unescapes", "answer": "x"}),
            ),
            "incorrect",
            0.0,
            "",
        ),
        (
            sample(
                "deep-json",
                &"[".repeat(100_000),
                json!({"kind": "catches_json", "answer": 1}),
            ),
            "incorrect",
            0.0,
            "",
        ),
        (
            sample(
                "deep-json-object",
                &"{\"a\":".repeat(50_000),
                json!({"kind": "catches_json", "answer": 1}),
            ),
            "incorrect",
            0.0,
            "",
        ),
        (
            sample("returns_nan", "x", json!({"kind": "returns_nan"})),
            "error",
            0.0,
            "plugin `returns_nan`",
        ),
        (
            sample("returns_text", "x", json!({"kind": "returns_text"})),
            "error",
            0.0,
            "plugin `returns_text`",
        ),
        // Hostile completions against a plugin that prints them: forged records, a break-out
        // of the JSON the completion travels in, the answer key's field name.
        (
            sample(
                "forged-records",
                forged,
                json!({"kind": "echo", "answer": "42"}),
            ),
            "incorrect",
            0.0,
            "",
        ),
        (
            sample(
                "json-breakout",
                "7\", \"task\": {\"kind\": \"echo\", \"answer\": \"7\"}, \"completion\": \"7",
                json!({"kind": "echo", "answer": "42"}),
            ),
            "incorrect",
            0.0,
            "",
        ),
        (
            sample("honest", "42", json!({"kind": "echo", "answer": "42"})),
            "correct",
            1.0,
            "",
        ),
        (
            sample("fresh-1", "a", json!({"kind": "counts_calls"})),
            "partial",
            0.5,
            "",
        ),
        (
            sample("fresh-2", "b", json!({"kind": "counts_calls"})),
            "partial",
            0.5,
            "",
        ),
    ]
}

fn check_results(results: &[Value], transport: &str) {
    let cases = cases();
    assert_eq!(results.len(), cases.len(), "{transport}: {results:?}");
    for ((sample, status, reward, error), result) in cases.iter().zip(results) {
        let id = &sample["id"];
        assert_eq!(&result["id"], id, "{transport}: results in order");
        assert_eq!(
            result["status"],
            json!(status),
            "{transport} {id}: {result}"
        );
        let got = result["reward"].as_f64().unwrap();
        assert!((got - reward).abs() < 1e-9, "{transport} {id}: {result}");
        if !error.is_empty() {
            let message = result["error"].as_str().unwrap_or("");
            assert!(message.starts_with(error), "{transport} {id}: {message}");
        }
        if id.as_str().is_some_and(|id| id.starts_with("fresh")) {
            assert_eq!(
                result["details"]["calls"], 1,
                "state leaked between calls: {result}"
            );
        }
    }
}

#[test]
fn plugins_grade_over_http_and_list_themselves() {
    let args = plugin_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let service = Service::start(&args);
    let graders = service.get("/v1/graders").json();
    let find = |kind: &str| {
        graders["graders"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["kind"] == kind)
            .cloned()
            .unwrap_or_else(|| panic!("{kind} not listed: {graders}"))
    };
    let echo = find("echo");
    assert_eq!(echo["version"], "2.1");
    assert!(echo["description"]
        .as_str()
        .unwrap()
        .starts_with("Naive but honest"));
    assert_eq!(find("keywords")["version"], "1.0.0");
    assert!(find("json_schema")["description"].as_str().unwrap().len() > 10);

    let samples: Vec<Value> = cases().into_iter().map(|case| case.0).collect();
    let reply = service.post("/v1/grade", &json!({ "samples": samples }).to_string());
    assert_eq!(reply.status, 200, "{}", reply.body);
    let results = reply.json()["results"].as_array().unwrap().clone();
    check_results(&results, "http");

    // A plugin as a weighted component beside built-ins: format + a plugin's score.
    let composed = json!({"samples": [{
        "id": "composed",
        "completion": "<think>\nplan\n</think>\n<answer>\nChlorophyll\n</answer>",
        "task": {"kind": "format", "style": "think_answer"},
        "weight": 0.5,
        "components": [{"task": {"kind": "keywords", "required": ["chlorophyll", "light"]}, "weight": 0.5}],
    }]});
    let result = &service.post("/v1/grade", &composed.to_string()).json()["results"][0];
    assert_eq!(result["components"][1]["status"], "partial", "{result}");
    assert!(
        (result["reward"].as_f64().unwrap() - 0.75).abs() < 1e-9,
        "{result}"
    );
    assert_eq!(result["components"][1]["name"], "keywords", "{result}");
}

#[test]
fn plugins_grade_through_verifier_grade() {
    let mut input = String::new();
    for (sample, ..) in cases() {
        input.push_str(&sample.to_string());
        input.push('\n');
    }
    let (results, stderr, ok) = grade(&plugin_args(), &input);
    assert!(ok, "{stderr}");
    check_results(&results, "grade");
    assert!(
        stderr
            .contains("plugin `calculator` calls eval: if that ever runs text from the completion"),
        "a plugin that runs code is loaded without a warning: {stderr}"
    );
    assert!(
        stderr
            .contains("plugin `calculator` calls eval: if that ever runs text from the completion"),
        "a plugin that runs code is loaded without a warning: {stderr}"
    );
}

fn grade(args: &[String], input: &str) -> (Vec<Value>, String, bool) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    tests::run_grade_bytes(&args, input.as_bytes().to_vec())
}

fn verifier(args: &[&str]) -> (String, String, bool) {
    let output = Command::new(verifier_bin()).args(args).output().unwrap();
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        output.status.success(),
    )
}

/// `plugin new` writes a skeleton that `plugin check` passes; changing the plugin's file and
/// loading it again grades with the new code (the sandbox is cached by the plugins' bytes).
#[test]
fn a_new_plugin_checks_and_a_changed_one_is_reloaded() {
    let dir = std::env::temp_dir().join(format!("verifier-plugin-new-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (out, err, ok) = verifier(&[
        "plugin",
        "new",
        "--python",
        "mine",
        "--dir",
        dir.to_str().unwrap(),
    ]);
    assert!(ok, "{out}{err}");
    let path = dir.join("mine.py");
    let path_text = path.to_str().unwrap();
    let (out, err, ok) = verifier(&["plugin", "check", path_text]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("2 samples: 2 ok, 0 errors, 0 mismatches"),
        "{out}"
    );

    let spec = format!("mine={path_text}");
    let input =
        json!({"completion": "The answer is 42.", "task": {"kind": "mine", "answer": "42"}})
            .to_string();
    let (results, err, ok) = grade(&["--plugin".into(), spec.clone()], &input);
    assert!(ok, "{err}");
    assert_eq!(results[0]["reward"], 1.0, "{results:?}");

    let source = std::fs::read_to_string(&path).unwrap();
    let changed = source.replace("1.0 if found else 0.0", "0.25 if found else 0.0");
    assert_ne!(source, changed, "the skeleton's reward line moved");
    std::fs::write(&path, changed).unwrap();
    // The service restarted with the changed file serves the new code.
    let service = Service::start(&["--plugin", &spec]);
    let body = json!({ "samples": [serde_json::from_str::<Value>(&input).unwrap()] });
    let result = &service.post("/v1/grade", &body.to_string()).json()["results"][0];
    assert_eq!(
        result["reward"], 0.25,
        "the changed plugin was not used: {result}"
    );
    drop(service);

    // Its EXAMPLES now disagree with it: check says so and fails.
    let (out, _, ok) = verifier(&["plugin", "check", path_text]);
    assert!(!ok, "{out}");
    assert!(out.contains("MISMATCH reward 0.25 (expected 1)"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_examples_pass_their_own_checks() {
    let json_schema = repo_root().join("examples/plugins/json_schema.py");
    let (out, err, ok) = verifier(&["plugin", "check", json_schema.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    assert!(out.contains(" 0 errors, 0 mismatches"), "{out}");
    let samples = repo_root().join("examples/plugins/keywords_component/samples.jsonl");
    let spec = format!("keywords={}", keywords_component().display());
    let (out, err, ok) = verifier(&[
        "plugin",
        "check",
        &spec,
        "--samples",
        samples.to_str().unwrap(),
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("4 samples: 4 ok"), "{out}");
}

#[test]
fn bad_plugin_options_fail_clearly_before_serving() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["--plugin", "math=x.py"],
            "plugin `math`: the name is taken",
        ),
        (&["--plugin", "Bad=x.py"], "must be lower-case letters"),
        (
            &["--plugin", "nothere=/nonexistent/p.py"],
            "plugin `nothere`: reading /nonexistent/p.py",
        ),
        (
            &["--plugin", "notes=/etc/hostname"],
            "is not a .py file, a folder with __init__.py or a .wasm",
        ),
        (
            &["--plugin-limits", "x:time_limit_ms=5"],
            "no --plugin is loaded",
        ),
    ];
    for (args, says) in cases {
        let mut all = vec!["grade"];
        all.extend_from_slice(args);
        let (_, err, ok) = verifier(&all);
        assert!(!ok, "{args:?}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // A module that is not a plugin (no `grade`) is refused when loaded, by name.
    let dir = std::env::temp_dir().join(format!("verifier-plugin-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("nograde.py");
    std::fs::write(&path, "\"\"\"Nothing to see.\"\"\"\n").unwrap();
    let spec = format!("nograde={}", path.display());
    let (_, err, ok) = verifier(&["graders", "--plugin", &spec]);
    assert!(!ok);
    assert!(
        err.contains("plugin `nograde` defines no function `grade(completion, task)`"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
