//! The Python client (`clients/python`) installed as a user installs it, then its own tests run
//! against the `verifier` binary of this build: a fresh venv in the target dir, `pip install` of
//! the package (no index needed: it has no dependencies and builds with its in-tree backend), and
//! `python -m unittest` over `clients/python/tests` with `VERIFIER_BIN` set.
//!
//! Skipped, saying so, where `python3` (with `venv` and `pip`) is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the repository")
        .to_path_buf()
}

fn run(command: &mut Command) -> Output {
    let shown = format!("{command:?}");
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    assert!(
        output.status.success(),
        "{shown} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn python_client_tests_pass_against_the_real_service() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    let usable = Command::new(&python)
        .args(["-c", "import venv, ensurepip"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !usable {
        eprintln!("skipped: no `{python}` with venv and ensurepip to install the Python client");
        return;
    }
    let verifier = tests::verifier_bin();
    let root = repo_root();
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("python-client-venv");
    let _ = std::fs::remove_dir_all(&venv);
    run(Command::new(&python).arg("-m").arg("venv").arg(&venv));
    let venv_python = venv.join("bin").join("python");
    run(Command::new(&venv_python)
        .args([
            "-m",
            "pip",
            "install",
            "--no-index",
            "--disable-pip-version-check",
            "--quiet",
        ])
        .arg(root.join("clients/python")));

    // Run from outside the source tree, so that the installed package is the one imported.
    let tests_dir = root.join("clients/python/tests");
    let output = Command::new(&venv_python)
        .args(["-m", "unittest", "discover", "-v", "-s"])
        .arg(&tests_dir)
        .arg("-t")
        .arg(&tests_dir)
        .current_dir(&venv)
        .env("VERIFIER_BIN", &verifier)
        .env_remove("VERIFIER_URL")
        .env_remove("PYTHONPATH")
        .output()
        .expect("run the Python client's tests");
    let report = String::from_utf8_lossy(&output.stderr);
    println!("{}", String::from_utf8_lossy(&output.stdout));
    println!("{report}");
    assert!(output.status.success(), "the Python client's tests failed");
    let ran: usize = report
        .lines()
        .find_map(|l| {
            l.strip_prefix("Ran ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .expect("unittest's `Ran N tests` line");
    assert!(ran >= 40, "only {ran} Python tests ran");
    assert!(
        !report.contains("skipped"),
        "some Python tests were skipped although VERIFIER_BIN was set"
    );
    let imported = run(Command::new(&venv_python)
        .args([
            "-c",
            "import verifier_client; print(verifier_client.__file__)",
        ])
        .current_dir(&venv));
    let path = String::from_utf8_lossy(&imported.stdout);
    assert!(
        path.contains("site-packages"),
        "the tests did not use the installed package: {path}"
    );
}
