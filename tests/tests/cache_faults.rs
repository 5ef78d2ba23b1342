//! The sandbox cache under faults, against the real binary: compiled modules that are truncated
//! or patched are rebuilt rather than loaded, a cache directory another user can write is
//! refused with a clear message, a complete cache on a read-only mount works, and a failed
//! set-up is retried without a restart. Each test works on its own copy of the cache
//! ([`CacheCopy`]); the first sets the default cache up if it is not (one to two minutes once).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use tests::{
    format_sample, javascript_code_sample, python_code_sample, verifier_bin, CacheCopy, Service,
};

/// Grades `samples` with `verifier grade` on the cache at `cache_root`; results and stderr.
fn grade_with_cache(cache_root: &Path, samples: &[Value]) -> (Vec<Value>, String) {
    let mut child = Command::new(verifier_bin())
        .args(["grade", "--quiet"])
        .env("VERIFIER_CACHE_DIR", cache_root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for sample in samples {
        writeln!(stdin, "{sample}").unwrap();
    }
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    let results = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (results, stderr)
}

/// Replaces `path` (a hard link into the shared cache) by a file of its own with `bytes`.
fn replace(path: &Path, bytes: &[u8]) {
    std::fs::remove_file(path).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn status(result: &Value) -> &str {
    result["status"].as_str().unwrap()
}

#[test]
fn a_truncated_compiled_module_is_rebuilt_not_an_error_until_deleted_by_hand() {
    let cache = CacheCopy::new("truncated");
    let modules = cache.compiled("quickjs-");
    assert!(
        !modules.is_empty(),
        "no compiled JavaScript runtime in the cache"
    );
    for module in &modules {
        let bytes = std::fs::read(module).unwrap();
        replace(module, &bytes[..bytes.len() / 2]);
    }
    let (results, stderr) = grade_with_cache(&cache.root, &[javascript_code_sample("js")]);
    assert_eq!(status(&results[0]), "correct", "{}\n{stderr}", results[0]);
    assert!(stderr.contains("corrupt or truncated"), "{stderr}");
    // And it stays fixed: the next run loads the rebuilt file without rebuilding.
    let (results, stderr) = grade_with_cache(&cache.root, &[javascript_code_sample("js")]);
    assert_eq!(status(&results[0]), "correct", "{}", results[0]);
    assert!(!stderr.contains("rebuilding"), "{stderr}");
}

#[test]
fn a_patched_compiled_module_is_rebuilt_never_loaded() {
    let cache = CacheCopy::new("patched");
    for module in cache.compiled("quickjs-") {
        // Same length, 108 bytes changed in the middle of the native code.
        let mut bytes = std::fs::read(&module).unwrap();
        let middle = bytes.len() / 2;
        for byte in &mut bytes[middle..middle + 108] {
            *byte ^= 0xcc;
        }
        replace(&module, &bytes);
    }
    let (results, stderr) = grade_with_cache(&cache.root, &[javascript_code_sample("js")]);
    assert_eq!(status(&results[0]), "correct", "{}\n{stderr}", results[0]);
    assert!(stderr.contains("corrupt or truncated"), "{stderr}");
}

#[test]
fn a_cache_dir_another_user_can_write_is_refused_with_a_clear_message() {
    let cache = CacheCopy::new("shared");
    std::fs::set_permissions(cache.sandboxes(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let format = format_sample(
        "f",
        "<think>\nx\n</think>\n<answer>\n1\n</answer>",
        "think_answer",
    );
    let (results, _) = grade_with_cache(&cache.root, &[python_code_sample("py"), format]);
    assert_eq!(status(&results[0]), "error", "{}", results[0]);
    let message = results[0]["error"].as_str().unwrap();
    assert!(
        message.contains("refusing the sandbox cache") && message.contains("other users write it"),
        "{message}"
    );
    assert_eq!(
        status(&results[1]),
        "correct",
        "the other samples are graded"
    );

    // Owned by someone else (only root can arrange that here).
    if unsafe { libc::geteuid() } == 0 {
        std::fs::set_permissions(cache.sandboxes(), std::fs::Permissions::from_mode(0o700))
            .unwrap();
        std::os::unix::fs::chown(cache.sandboxes(), Some(65534), None).unwrap();
        let (results, _) = grade_with_cache(&cache.root, &[python_code_sample("py")]);
        let message = results[0]["error"].as_str().unwrap_or_default();
        assert!(message.contains("owned by uid 65534"), "{}", results[0]);
        std::os::unix::fs::chown(cache.sandboxes(), Some(0), None).unwrap();
    }
}

/// A read-only bind mount of `source`, unmounted when dropped; `None` where this process may
/// not mount (not root, or no mount namespace rights).
struct ReadOnlyMount {
    path: std::path::PathBuf,
}

impl ReadOnlyMount {
    fn new(source: &Path, path: std::path::PathBuf) -> Option<ReadOnlyMount> {
        std::fs::create_dir_all(&path).ok()?;
        let ok = Command::new("mount")
            .args(["--bind", "-o", "ro"])
            .arg(source)
            .arg(&path)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        // Older util-linux ignores `ro` on the first bind: remount to be sure.
        let ro = ok
            && Command::new("mount")
                .args(["-o", "remount,bind,ro"])
                .arg(&path)
                .status()
                .is_ok_and(|s| s.success());
        if !ro {
            if ok {
                let _ = Command::new("umount").arg(&path).status();
            }
            let _ = std::fs::remove_dir(&path);
            return None;
        }
        Some(ReadOnlyMount { path })
    }
}

impl Drop for ReadOnlyMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
        let _ = std::fs::remove_dir(&self.path);
    }
}

#[test]
fn a_complete_cache_on_a_read_only_mount_works() {
    let cache = CacheCopy::new("readonly");
    let mount_point =
        std::env::temp_dir().join(format!("verifier-ro-cache-{}", std::process::id()));
    let Some(mount) = ReadOnlyMount::new(&cache.root, mount_point) else {
        eprintln!("SKIPPED: cannot make a read-only bind mount here (needs root)");
        return;
    };
    assert!(
        std::fs::write(mount.path.join("probe"), b"x").is_err(),
        "the mount is read-only"
    );
    let (results, stderr) = grade_with_cache(
        &mount.path,
        &[python_code_sample("py"), javascript_code_sample("js")],
    );
    for result in &results {
        assert_eq!(status(result), "correct", "{result}\n{stderr}");
    }
}

#[test]
fn a_failed_set_up_is_retried_without_a_restart() {
    let cache = CacheCopy::new("retry");
    // A set-up that has work to do (the JavaScript runtime is missing) and cannot take its lock.
    for module in cache.compiled("quickjs-") {
        std::fs::remove_file(module).unwrap();
    }
    let lock = cache.sandboxes().join(".setup.lock");
    let _ = std::fs::remove_file(&lock);
    std::fs::create_dir(&lock).unwrap();
    let service = Service::start_with_env(&[], &[("VERIFIER_CACHE_DIR", cache.root.as_os_str())]);
    let body = json!({"samples": [javascript_code_sample("js")]}).to_string();
    let first = service.post("/v1/grade", &body).json();
    assert_eq!(status(&first["results"][0]), "error", "{first}");
    let message = first["results"][0]["error"].as_str().unwrap();
    assert!(message.contains(".setup.lock"), "{message}");
    // The operator fixes it; the service tries again on a later request, without a restart.
    std::fs::remove_dir(&lock).unwrap();
    std::thread::sleep(Duration::from_millis(5_500));
    let second = service.post("/v1/grade", &body).json();
    assert_eq!(status(&second["results"][0]), "correct", "{second}");
}
