//! Shared helpers for the end-to-end, conformance and hostile-input tests: find the real
//! `verifier` binary, start it on a free loopback port, speak HTTP to it, read `../shared`.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// IFEval reference verdicts (541 GPT-4 responses) and edge cases, from `../shared`.
pub const IFEVAL_VERDICTS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/conformance/ifeval/ifeval_verdicts.jsonl"
));
pub const IFEVAL_EDGE_CASES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/conformance/ifeval/ifeval_edge_cases.jsonl"
));

/// `../shared` next to the checkout, where conformance data and datasets live.
pub fn shared_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared"))
}

/// The `verifier` binary of this build profile (`$VERIFIER_BIN` overrides). `cargo test` builds
/// it because the verifier crate has an integration test of its own.
pub fn verifier_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("VERIFIER_BIN") {
        return PathBuf::from(path);
    }
    let test_exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/verifier
    let profile_dir = test_exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let bin = profile_dir.join(format!("verifier{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p verifier` (or the whole `cargo test --workspace`)",
        bin.display()
    );
    bin
}

/// A running `verifier serve` on 127.0.0.1 with a free port; killed when dropped.
pub struct Service {
    pub child: Child,
    pub url: String,
}

impl Service {
    pub fn start(extra_args: &[&str]) -> Service {
        Service::start_with_env(extra_args, &[])
    }

    /// As [`Service::start`], with extra environment variables.
    pub fn start_with_env(extra_args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Service {
        let mut child = Command::new(verifier_bin())
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(extra_args)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start verifier serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read the listening line");
        let url = line
            .trim()
            .strip_prefix("verifier listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        Service { child, url }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident memory of the service so far, in KiB (Linux only).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    pub fn get(&self, path: &str) -> Reply {
        request(
            ureq::get(&format!("{}{path}", self.url)).timeout(Duration::from_secs(30)),
            None,
        )
    }

    pub fn post(&self, path: &str, body: &str) -> Reply {
        let req = ureq::post(&format!("{}{path}", self.url))
            .set("content-type", "application/json")
            .timeout(Duration::from_secs(60));
        request(req, Some(body))
    }

    /// A raw connection to the service from the loopback address `from` (Linux routes all of
    /// 127/8 to the loopback interface): another client, as the service counts clients.
    pub fn connect_from(&self, from: std::net::Ipv4Addr) -> std::net::TcpStream {
        let address: std::net::SocketAddr = self.url.trim_start_matches("http://").parse().unwrap();
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket
            .bind(&std::net::SocketAddr::from((from, 0)).into())
            .unwrap_or_else(|e| panic!("cannot bind a client socket to {from}: {e}"));
        socket.connect(&address.into()).unwrap();
        let stream: std::net::TcpStream = socket.into();
        stream.set_nodelay(true).unwrap();
        stream
    }

    /// Posts `body` to `path` from the loopback address `from`; the whole answer, head
    /// included (or what arrived within 60 s).
    pub fn post_raw_from(&self, from: std::net::Ipv4Addr, path: &str, body: &str) -> String {
        use std::io::Write;
        let mut stream = self.connect_from(from);
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer, whatever its status.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!("not JSON ({e}): {}", &self.body[..self.body.len().min(300)])
        })
    }
}

fn request(req: ureq::Request, body: Option<&str>) -> Reply {
    let outcome = match body {
        Some(body) => req.send_string(body),
        None => req.call(),
    };
    let response = match outcome {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(err) => panic!("HTTP request failed: {err}"),
    };
    let status = response.status();
    let retry_after = response.header("retry-after").map(str::to_string);
    let mut text = String::new();
    response
        .into_reader()
        .read_to_string(&mut text)
        .expect("read body");
    Reply {
        status,
        retry_after,
        body: text,
    }
}

/// A format sample as JSON text.
pub fn format_sample(
    id: impl Into<serde_json::Value>,
    completion: &str,
    style: &str,
) -> serde_json::Value {
    serde_json::json!({"id": id.into(), "completion": completion, "task": {"kind": "format", "style": style}})
}

/// A private copy of the default sandbox cache (`$VERIFIER_CACHE_DIR` or `~/.cache/verifier`),
/// made complete first by grading one Python and one JavaScript code sample with it: a folder
/// to pass as `VERIFIER_CACHE_DIR`, whose `sandboxes/` holds hard links to the cached files
/// (copies where links fail), so it costs no disk. Replace a file (remove, then write) rather
/// than writing through it, or the original changes too. Removed when dropped.
pub struct CacheCopy {
    pub root: PathBuf,
}

impl CacheCopy {
    pub fn new(name: &str) -> CacheCopy {
        static WARM: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
        let source = WARM.get_or_init(|| {
            let output = Command::new(verifier_bin())
                .args(["grade", "--quiet"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .and_then(|mut child| {
                    use std::io::Write;
                    let mut stdin = child.stdin.take().unwrap();
                    for sample in [python_code_sample("warm"), javascript_code_sample("warm")] {
                        writeln!(stdin, "{sample}")?;
                    }
                    drop(stdin);
                    child.wait_with_output()
                })
                .expect("run verifier grade");
            let text = String::from_utf8_lossy(&output.stdout);
            let correct = text
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter(|r| r["status"] == "correct")
                .count();
            assert_eq!(
                correct, 2,
                "the default sandbox cache could not be set up: {text}"
            );
            let root = std::env::var_os("VERIFIER_CACHE_DIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    let home = std::env::var_os("HOME").expect("HOME");
                    PathBuf::from(home).join(".cache").join("verifier")
                });
            root.join("sandboxes")
        });
        let root =
            std::env::temp_dir().join(format!("verifier-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        link_tree(source, &root.join("sandboxes")).expect("copy the sandbox cache");
        CacheCopy { root }
    }

    pub fn sandboxes(&self) -> PathBuf {
        self.root.join("sandboxes")
    }

    /// The compiled runtimes (`compiled/<prefix>*.cwasm`) that have a recorded digest.
    pub fn compiled(&self, prefix: &str) -> Vec<PathBuf> {
        let dir = self.sandboxes().join("compiled");
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("compiled dir")
            .map(|entry| entry.unwrap().path())
            .filter(|path| {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                name.starts_with(prefix)
                    && name.ends_with(".cwasm")
                    && dir.join(format!("{name}.sha256")).exists()
            })
            .collect();
        found.sort();
        found
    }
}

impl Drop for CacheCopy {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(self.sandboxes(), std::fs::Permissions::from_mode(0o700));
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn link_tree(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            link_tree(&entry.path(), &target)?;
        } else if std::fs::hard_link(entry.path(), &target).is_err() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// A Python code sample (`call` test) whose completion passes.
pub fn python_code_sample(id: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "completion": "```python\ndef f(x):\n    return x + 1\n```",
        "task": {"kind": "code", "language": "python",
                 "tests": {"type": "call", "fn_name": "f", "cases": [{"args": [1], "expected": 2}]}}})
}

/// A JavaScript code sample (`call` test) whose completion passes.
pub fn javascript_code_sample(id: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "completion": "```javascript\nfunction f(x) { return x + 1; }\n```",
        "task": {"kind": "code", "language": "javascript",
                 "tests": {"type": "call", "fn_name": "f", "cases": [{"args": [1], "expected": 2}]}}})
}

/// The repository's root (the parent of the tests crate).
pub fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// `$PYTHON` (default `python3`) when it has `venv` and `ensurepip`; otherwise `None`, after
/// saying on stderr that the caller skips `what`.
pub fn python_with_venv(what: &str) -> Option<String> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    let usable = Command::new(&python)
        .args(["-c", "import venv, ensurepip"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !usable {
        eprintln!("skipped: no `{python}` with venv and ensurepip to {what}");
        return None;
    }
    Some(python)
}

/// Runs `command` to its end; one that cannot start or fails fails the test, with its output.
pub fn run_ok(command: &mut Command) -> std::process::Output {
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

/// Downloads the wheel that `pin` (a requirement line with `--hash=sha256:...`) names into
/// `folder`, with pip's hash check and without dependencies.
pub fn download_pinned(python: &str, pin: &str, folder: &Path) {
    std::fs::create_dir_all(folder).expect("create the download folder");
    let requirements = folder.join("requirements.txt");
    std::fs::write(&requirements, format!("{pin}\n")).expect("write the pin");
    run_ok(
        Command::new(python)
            .args(["-m", "pip", "download", "--no-deps", "--require-hashes"])
            .args(["--quiet", "--disable-pip-version-check", "-r"])
            .arg(&requirements)
            .arg("-d")
            .arg(folder),
    );
}

/// A venv at `venv` (callers pass a folder under `CARGO_TARGET_TMPDIR`) with the packages of `requirements` (a file in `tests/python`,
/// every package pinned by version and sha256) installed by pip with `--require-hashes`; its
/// `python`. Reused while the requirements are unchanged. `None` (the caller skips, saying so)
/// where no `python3` with venv and pip is installed; a failing pip is a test failure.
pub fn pinned_venv(venv: PathBuf, requirements: &str) -> Option<PathBuf> {
    let python = python_with_venv(&format!("install {requirements}"))?;
    let file = repo_root().join("tests/python").join(requirements);
    let wanted = std::fs::read_to_string(&file).expect("read the requirements file");
    let venv_python = venv.join("bin").join("python");
    let stamp = venv.join("installed-requirements.txt");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Some(venv_python);
    }
    let _ = std::fs::remove_dir_all(&venv);
    let made = Command::new(&python)
        .arg("-m")
        .arg("venv")
        .arg(&venv)
        .status()
        .expect("run python -m venv");
    assert!(made.success(), "python -m venv {} failed", venv.display());
    let installed = Command::new(&venv_python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--require-hashes",
            "--only-binary=:all:",
            "-r",
        ])
        .arg(&file)
        .output()
        .expect("run pip");
    assert!(
        installed.status.success(),
        "pip install --require-hashes -r {} failed:\n{}",
        file.display(),
        String::from_utf8_lossy(&installed.stderr)
    );
    std::fs::write(&stamp, wanted).expect("write the venv's stamp");
    Some(venv_python)
}

/// Runs `verifier grade` on raw bytes (which need not be UTF-8).
pub fn run_grade_bytes(args: &[&str], stdin: Vec<u8>) -> (Vec<serde_json::Value>, String, bool) {
    let mut child = Command::new(verifier_bin())
        .arg("grade")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start verifier grade");
    use std::io::Write;
    let mut stdin_pipe = child.stdin.take().unwrap();
    // Written from a thread: the child answers while we are still writing.
    let writer = std::thread::spawn(move || {
        let _ = stdin_pipe.write_all(&stdin);
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let results = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect();
    (
        results,
        String::from_utf8(output.stderr).unwrap(),
        output.status.success(),
    )
}
