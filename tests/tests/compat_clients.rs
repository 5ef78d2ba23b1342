//! Other frameworks' own client code against the real `verifier serve`: verl's SandboxFusion
//! client module, taken unchanged from verl's wheel, against `POST /run_code`, and OpenRLHF's
//! remote reward model request, made as its source makes it, against `POST /get_reward`
//! (`tests/anchors/compat/test_compat_clients.py` says which source lines).
//!
//! A venv in the target dir gets `requests` (`tests/anchors/compat/requirements.txt`) and verl's
//! wheel is downloaded without its dependencies, all pinned by version and sha256 and fetched by
//! pip; only `verl/utils/reward_score/sandbox_fusion/` is unpacked from the wheel (it needs
//! nothing but `requests`), so neither torch nor the rest of verl is installed. Skipped, saying
//! so, where `python3` with `venv` and `pip` is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

const VERL_PIN: &str = "verl==0.9.1 \
    --hash=sha256:db6e6f2a8d9d5808d9ec32d357a42319fdc6967df688ff9d9810050f49bfdd14";

fn anchors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("anchors/compat")
}

/// verl's SandboxFusion client package, unpacked as the top-level package `sandbox_fusion` in
/// the returned folder.
fn verl_sandbox_fusion(python: &Path, scratch: &Path) -> PathBuf {
    let download = scratch.join("verl-wheel");
    tests::download_pinned(&python.to_string_lossy(), VERL_PIN, &download);
    let package = scratch.join("verl-sandbox-fusion");
    let unpack = "import sys, zipfile, glob, os\n\
        prefix = 'verl/utils/reward_score/sandbox_fusion/'\n\
        wheel = zipfile.ZipFile(glob.glob(sys.argv[1] + '/verl-*.whl')[0])\n\
        names = [n for n in wheel.namelist() if n.startswith(prefix) and n.endswith('.py')]\n\
        assert names, 'no sandbox_fusion package in the wheel'\n\
        os.makedirs(os.path.join(sys.argv[2], 'sandbox_fusion'), exist_ok=True)\n\
        for n in names:\n\
        \x20   open(os.path.join(sys.argv[2], 'sandbox_fusion', n[len(prefix):]), 'wb').write(wheel.read(n))\n";
    tests::run_ok(
        Command::new(python)
            .args(["-c", unpack])
            .arg(&download)
            .arg(&package),
    );
    package
}

#[test]
fn verl_and_openrlhf_clients_work_against_the_compatible_routes() {
    let Some(python) = tests::python_with_venv("run the frameworks' clients") else {
        return;
    };
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("compat-clients");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    let venv = scratch.join("venv");
    tests::run_ok(Command::new(&python).arg("-m").arg("venv").arg(&venv));
    let venv_python = venv.join("bin").join("python");
    tests::run_ok(
        Command::new(&venv_python)
            .args([
                "-m",
                "pip",
                "install",
                "--no-deps",
                "--require-hashes",
                "--quiet",
            ])
            .args(["--disable-pip-version-check", "-r"])
            .arg(anchors().join("requirements.txt")),
    );
    let package = verl_sandbox_fusion(&venv_python, &scratch);

    let output = Command::new(&venv_python)
        .args(["-m", "unittest", "discover", "-v", "-s"])
        .arg(anchors())
        .current_dir(&scratch)
        .env("VERIFIER_BIN", tests::verifier_bin())
        .env("VERL_SANDBOX_FUSION", &package)
        .env_remove("PYTHONPATH")
        .output()
        .expect("run the compatibility tests");
    let report = String::from_utf8_lossy(&output.stderr);
    println!("{}", String::from_utf8_lossy(&output.stdout));
    println!("{report}");
    assert!(output.status.success(), "the compatibility tests failed");
    assert!(report.contains("Ran 3 tests"), "expected 3 tests to run");
    assert!(
        !report.contains("skipped"),
        "some compatibility tests were skipped"
    );
}
