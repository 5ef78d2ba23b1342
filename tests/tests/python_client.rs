//! The Python client (`clients/python`) installed as a user installs it, then its own tests run
//! against the `verifier` binary of this build: a fresh venv in the target dir, `pip install` of
//! the package (no index needed: it has no dependencies and builds with its in-tree backend), and
//! `python -m unittest` over `clients/python/tests` with `VERIFIER_BIN` set.
//!
//! Skipped, saying so, where `python3` (with `venv` and `pip`) is missing.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn python_client_tests_pass_against_the_real_service() {
    let Some(python) = tests::python_with_venv("install the Python client") else {
        return;
    };
    let verifier = tests::verifier_bin();
    let root = tests::repo_root();
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("python-client-venv");
    let _ = std::fs::remove_dir_all(&venv);
    tests::run_ok(Command::new(&python).arg("-m").arg("venv").arg(&venv));
    let venv_python = venv.join("bin").join("python");
    tests::run_ok(
        Command::new(&venv_python)
            .args([
                "-m",
                "pip",
                "install",
                "--no-index",
                "--disable-pip-version-check",
                "--quiet",
            ])
            .arg(root.join("clients/python")),
    );

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
    let imported = tests::run_ok(
        Command::new(&venv_python)
            .args([
                "-c",
                "import verifier_client; print(verifier_client.__file__)",
            ])
            .current_dir(&venv),
    );
    let path = String::from_utf8_lossy(&imported.stdout);
    assert!(
        path.contains("site-packages"),
        "the tests did not use the installed package: {path}"
    );
}
