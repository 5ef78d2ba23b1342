//! Command-line conventions: shell completions (`verifier completions bash|zsh|fish`), examples
//! in `--help`, and the sample format in `grade --help`.

use std::process::Command;

use tests::verifier_bin;

fn run(args: &[&str]) -> String {
    let output = Command::new(verifier_bin())
        .args(args)
        .output()
        .expect("run verifier");
    assert!(
        output.status.success(),
        "verifier {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

#[test]
fn completions_cover_the_subcommands_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef verifier"),
        ("fish", "complete -c verifier"),
    ] {
        let script = run(&["completions", shell]);
        assert!(script.contains(marker), "{shell}: no `{marker}`");
        for word in ["serve", "grade", "eval", "exec", "setup", "auth-token-file"] {
            assert!(script.contains(word), "{shell} completions lack `{word}`");
        }
    }
    let refused = Command::new(verifier_bin())
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("bash"));
}

#[test]
fn help_has_examples_and_grade_help_has_the_sample_format() {
    let top = run(&["--help"]);
    assert!(top.contains("Examples:") && top.contains("verifier grade samples.jsonl"));
    let serve = run(&["serve", "--help"]);
    assert!(serve.contains("Examples:") && serve.contains("--auth-token-file"));
    let grade = run(&["grade", "--help"]);
    for needle in [
        "one JSON sample per line",
        "\"completion\"",
        "\"task\": {\"kind\": \"math\", \"answer\": \"2\"}",
        "\"components\"",
        "\"limits\"",
        "correct, partial, incorrect, no_answer, timeout or error",
    ] {
        assert!(
            grade.contains(needle),
            "grade --help lacks {needle:?}:\n{grade}"
        );
    }
}
