//! Hostile programs against the sandboxes: every one must end safely, within its limits, with
//! the right outcome, and leave nothing behind for the next run. Python and JavaScript.
//!
//! Most cases use the in-process [`Sandbox`] (one fresh instance per run, like a worker); the
//! pool cases start real worker processes (this test binary, re-entered through
//! `sandbox_worker_entry`) and fake workers that crash or hang.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use sandboxes::{
    Language, Limits, Outcome, Part, PoolConfig, RunRequest, RunResult, Sandbox, SandboxPool,
    WorkerCommand,
};

/// Not a test: the entry point of worker processes that the pool tests start from this binary.
#[test]
fn sandbox_worker_entry() {
    if std::env::var_os(sandboxes::WORKER_ENV).is_some() {
        std::process::exit(sandboxes::worker_main());
    }
}

fn run(language: Language, program: &str) -> RunResult {
    run_with(RunRequest::new(language, program))
}

fn run_with(request: RunRequest) -> RunResult {
    // One sandbox per test thread: a `Sandbox` is single-threaded by design.
    thread_local! {
        static SANDBOX: Sandbox = Sandbox::new().expect("sandbox runtimes set up");
    }
    SANDBOX.with(|sandbox| sandbox.run(&request))
}

fn limits(time_limit_ms: u64, memory_limit_mb: u64) -> Limits {
    Limits {
        time_limit_ms,
        memory_limit_bytes: memory_limit_mb << 20,
        ..Limits::default()
    }
}

fn python(program: &str) -> RunResult {
    run(Language::Python, program)
}

fn javascript(program: &str) -> RunResult {
    run(Language::Javascript, program)
}

fn assert_exception(result: &RunResult, type_names: &[&str]) {
    match &result.outcome {
        Outcome::Exception { type_name } if type_names.contains(&type_name.as_str()) => {}
        other => panic!("expected an exception {type_names:?}, got {other:?}: {result:?}"),
    }
}

// ---------------------------------------------------------------- Python: CPU and memory

#[test]
fn python_infinite_loop_stops_at_the_time_limit() {
    let started = Instant::now();
    let result = run_with(
        RunRequest::new(Language::Python, "while True: pass").with_limits(limits(1000, 256)),
    );
    let elapsed = started.elapsed();
    assert_eq!(result.outcome, Outcome::TimeLimit, "{result:?}");
    // The acceptance figure (within 1.1 s) is measured by `verifier bench sandbox`; here the
    // bound leaves room for a loaded CI machine.
    assert!(elapsed < Duration::from_millis(1500), "took {elapsed:?}");
    assert!(
        elapsed >= Duration::from_millis(990),
        "stopped early: {elapsed:?}"
    );
}

#[test]
fn python_huge_string_is_refused() {
    let result = python("x = 'a' * 10**10");
    // wasm32 CPython refuses the size up front (OverflowError); either way nothing is allocated.
    assert!(
        matches!(&result.outcome, Outcome::MemoryLimit)
            || matches!(&result.outcome, Outcome::Exception { type_name } if type_name == "OverflowError" || type_name == "MemoryError"),
        "{result:?}"
    );
    assert!(result.peak_memory_bytes <= 256 << 20);
}

#[test]
fn python_allocation_beyond_the_cap_is_the_memory_limit() {
    let result = run_with(
        RunRequest::new(Language::Python, "x = bytearray(300 * 2**20)")
            .with_limits(limits(5000, 256)),
    );
    assert_eq!(result.outcome, Outcome::MemoryLimit, "{result:?}");
    assert!(result.memory_limit_hit);
    assert!(
        result.peak_memory_bytes <= 256 << 20,
        "{}",
        result.peak_memory_bytes
    );
}

#[test]
fn python_growing_list_hits_the_memory_cap() {
    let program = "x = []\nwhile True:\n    x.append([0] * 10000)";
    let result =
        run_with(RunRequest::new(Language::Python, program).with_limits(limits(10_000, 128)));
    assert_eq!(result.outcome, Outcome::MemoryLimit, "{result:?}");
    assert!(result.peak_memory_bytes <= 128 << 20);
}

#[test]
fn python_growing_bytearrays_hit_the_memory_cap() {
    let program = "x = []\nwhile True:\n    x.append(bytearray(10**6))";
    let result =
        run_with(RunRequest::new(Language::Python, program).with_limits(limits(10_000, 256)));
    assert_eq!(result.outcome, Outcome::MemoryLimit, "{result:?}");
    assert!(result.peak_memory_bytes <= 256 << 20);
}

#[test]
fn python_caught_memory_error_can_recover() {
    let program =
        "try:\n    x = bytearray(300 * 2**20)\nexcept MemoryError:\n    print('recovered')";
    let result = python(program);
    assert_eq!(result.outcome, Outcome::Finished, "{result:?}");
    assert_eq!(result.stdout, "recovered\n");
    assert!(result.memory_limit_hit);
}

#[test]
fn python_deep_recursion_with_raised_limit_ends_safely() {
    let program = "import sys\nsys.setrecursionlimit(10**6)\ndef f(n):\n    return f(n + 1)\nf(0)";
    let started = Instant::now();
    let result =
        run_with(RunRequest::new(Language::Python, program).with_limits(limits(2000, 256)));
    assert!(started.elapsed() < Duration::from_millis(3000));
    assert!(
        matches!(
            result.outcome,
            Outcome::TimeLimit | Outcome::MemoryLimit | Outcome::Trap { .. }
        ) || matches!(&result.outcome, Outcome::Exception { type_name } if type_name == "RecursionError" || type_name == "MemoryError"),
        "{result:?}"
    );
    // The host and the next run are unaffected.
    assert_eq!(python("print(1)").stdout, "1\n");
}

// ---------------------------------------------------------------- Python: output

#[test]
fn python_single_huge_print_is_truncated_at_the_cap() {
    let result = python("print('x' * 10**8)");
    assert!(result.stdout_truncated, "{result:?}");
    assert_eq!(result.stdout.len(), Limits::default().stdout_limit_bytes);
    assert!(!result.finished_cleanly());
}

#[test]
fn python_print_flood_is_truncated_and_ends() {
    let result = run_with(
        RunRequest::new(Language::Python, "while True:\n    print('spam' * 1000)")
            .with_limits(limits(5000, 256)),
    );
    assert!(result.stdout_truncated, "{result:?}");
    assert!(result.stdout.len() <= Limits::default().stdout_limit_bytes);
    assert_ne!(result.outcome, Outcome::Finished);
}

/// Past its cap, stderr is dropped, not refused: the program goes on and finishes (a program
/// must not fail for its diagnostics), and only the cap's worth is kept.
#[test]
fn python_stderr_flood_is_truncated_and_the_program_goes_on() {
    let result = python(
        "import sys\nfor _ in range(4096):\n    sys.stderr.write('e' * 1000)\nprint('done')",
    );
    assert!(result.stderr_truncated, "{result:?}");
    assert_eq!(result.stderr.len(), Limits::default().stderr_limit_bytes);
    assert_eq!(
        (&result.outcome, result.stdout.as_str()),
        (&Outcome::Finished, "done\n")
    );
}

// ---------------------------------------------------------------- Python: escapes

#[test]
fn python_cannot_start_processes() {
    assert_exception(&python("import os\nos.system('ls')"), &["AttributeError"]);
    assert_exception(&python("import os\nos.fork()"), &["AttributeError"]);
    assert_exception(
        &python("import subprocess\nsubprocess.run(['ls'])"),
        &["ModuleNotFoundError", "OSError"],
    );
    assert_exception(
        &python("import os\nos.execv('/bin/sh', ['sh'])"),
        &["AttributeError", "OSError"],
    );
}

#[test]
fn python_sees_no_file_system() {
    assert_exception(
        &python("print(open('/etc/passwd').read())"),
        &["FileNotFoundError", "PermissionError", "OSError"],
    );
    assert_exception(
        &python("open('out.txt', 'w').write('x')"),
        &["FileNotFoundError", "PermissionError", "OSError"],
    );
    assert_exception(
        &python("import os\nprint(os.listdir('/'))"),
        &["FileNotFoundError", "PermissionError", "OSError"],
    );
    assert_exception(
        &python("import os\nprint(os.listdir('.'))"),
        &["FileNotFoundError", "PermissionError", "OSError"],
    );
}

// ---------------------------------------------------------------- scratch directory

fn with_scratch(language: Language, program: &str, megabytes: u64) -> RunResult {
    run_with(
        RunRequest::new(language, program)
            .with_limits(limits(5_000, 256))
            .with_scratch_dir(megabytes << 20),
    )
}

/// Serialises the scratch tests, so that one can count the folders left on the host.
static SCRATCH_TESTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Scratch folders this process created on the host (they are named by the process id).
fn scratch_folders_left() -> usize {
    let prefix = format!("verifier-scratch-{}-", std::process::id());
    ["/dev/shm".into(), std::env::temp_dir()]
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flat_map(|listing| listing.flatten())
        .filter(|entry| entry.file_name().to_string_lossy().starts_with(&prefix))
        .count()
}

#[test]
fn python_scratch_directory_is_private_per_run_and_capped() {
    let _serial = SCRATCH_TESTS.lock().unwrap_or_else(|e| e.into_inner());
    let write = "import tempfile, os\n\
        open('/tmp/notes.txt', 'w').write('kept?')\n\
        with tempfile.NamedTemporaryFile('w', delete=False) as f:\n    f.write('x')\n\
        print(open('/tmp/notes.txt').read(), len(os.listdir('/tmp')))";
    let result = with_scratch(Language::Python, write, 1);
    assert_eq!(result.outcome, Outcome::Finished, "{result:?}");
    assert_eq!(result.stdout, "kept? 2\n");
    // The next run starts with an empty folder, and the host keeps nothing.
    let result = with_scratch(Language::Python, "import os\nprint(os.listdir('/tmp'))", 1);
    assert_eq!(result.stdout, "[]\n", "{result:?}");
    // Still no file system outside it.
    assert_exception(
        &with_scratch(Language::Python, "open('/etc/passwd')", 1),
        &["FileNotFoundError", "PermissionError", "OSError"],
    );
    // A disk bomb and a file-count bomb end at the cap.
    let bomb = "f = open('/tmp/big', 'wb')\nwhile True:\n    f.write(b'x' * 65536)";
    let result = with_scratch(Language::Python, bomb, 4);
    assert_eq!(result.outcome, Outcome::ScratchLimit, "{result:?}");
    let many = "i = 0\nwhile True:\n    open('/tmp/f%d' % i, 'w').close()\n    i += 1";
    let result = with_scratch(Language::Python, many, 4);
    assert_eq!(result.outcome, Outcome::ScratchLimit, "{result:?}");
    // A run with a scratch directory still keeps its time limit.
    let started = Instant::now();
    let result = run_with(
        RunRequest::new(Language::Python, "while True: pass")
            .with_limits(limits(1_000, 256))
            .with_scratch_dir(1 << 20),
    );
    assert_eq!(result.outcome, Outcome::TimeLimit, "{result:?}");
    assert!(started.elapsed() < Duration::from_millis(1_500));
    assert_eq!(scratch_folders_left(), 0);
}

#[test]
fn javascript_scratch_directory_works_only_when_asked_for() {
    let _serial = SCRATCH_TESTS.lock().unwrap_or_else(|e| e.into_inner());
    let program = "let f = std.open('/tmp/x.txt', 'w'); f.puts('hi'); f.close(); \
        print(std.loadFile('/tmp/x.txt'));";
    let result = with_scratch(Language::Javascript, program, 1);
    assert_eq!(
        (&result.outcome, result.stdout.as_str()),
        (&Outcome::Finished, "hi\n")
    );
    let result = javascript("print(std.open('/tmp/x.txt', 'w'));");
    assert_eq!(result.stdout, "null\n", "{result:?}");
}

#[test]
fn python_has_no_network() {
    let result = python("import socket\ns = socket.socket()\ns.connect(('127.0.0.1', 80))");
    assert_exception(
        &result,
        &[
            "ModuleNotFoundError",
            "PermissionError",
            "OSError",
            "AttributeError",
        ],
    );
}

#[test]
fn python_has_no_ctypes_and_no_threads() {
    assert_exception(
        &python("import ctypes"),
        &["ModuleNotFoundError", "ImportError"],
    );
    let threads =
        python("import threading\nt = threading.Thread(target=print)\nt.start()\nt.join()");
    assert_exception(&threads, &["RuntimeError", "ModuleNotFoundError"]);
}

#[test]
fn python_environment_is_empty() {
    let result = python("import os, sys\nprint(dict(os.environ), sys.argv)");
    assert_eq!(result.outcome, Outcome::Finished, "{result:?}");
    assert!(result.stdout.starts_with("{} "), "{}", result.stdout);
}

// ---------------------------------------------------------------- Python: exits before the tests

#[test]
fn python_exits_before_the_harness_are_not_finishing() {
    let harness = "print('tests passed')";
    let cases = [
        ("import sys\nsys.exit(0)", Outcome::SystemExit { code: 0 }),
        ("raise SystemExit", Outcome::SystemExit { code: 0 }),
        ("import sys\nsys.exit(3)", Outcome::SystemExit { code: 3 }),
        (
            "import sys\nsys.exit('bye')",
            Outcome::SystemExit { code: 1 },
        ),
        ("import os\nos._exit(0)", Outcome::Exited { code: 0 }),
        ("exit()", Outcome::SystemExit { code: 0 }),
    ];
    for (program, expected) in cases {
        let result = run_with(RunRequest::new(Language::Python, program).with_harness(harness));
        assert_eq!(result.outcome, expected, "{program}: {result:?}");
        assert_ne!(result.part, Some(Part::Harness), "{program}");
        assert!(!result.stdout.contains("tests passed"), "{program}");
    }
    let honest = run_with(
        RunRequest::new(Language::Python, "x = 1")
            .with_harness("assert x == 1\nprint('tests passed')"),
    );
    assert_eq!(honest.outcome, Outcome::Finished);
    assert_eq!(honest.part, Some(Part::Harness));
    assert_eq!(honest.stdout, "tests passed\n");
}

#[test]
fn python_harness_cannot_be_skipped_by_patching_the_guest_module() {
    let program = "import sys\nfor name, module in list(sys.modules.items()):\n    if hasattr(module, '_execute'):\n        module._execute = lambda *args: None";
    let result = run_with(
        RunRequest::new(Language::Python, program)
            .with_harness("raise AssertionError('tests failed')"),
    );
    assert_exception(&result, &["AssertionError"]);
}

// ---------------------------------------------------------------- Python: no state between runs

#[test]
fn python_state_does_not_leak_between_runs() {
    let polluter = "import builtins, math, sys, random\nbuiltins.FOO = 1\nmath.pi = 3\nrandom.seed(1)\nsys.setrecursionlimit(50)\nGLOBAL_LEFT = 5\nsys.modules.clear()";
    assert_eq!(python(polluter).outcome, Outcome::Finished);
    let observer = "import builtins, math, sys\nprint(hasattr(builtins, 'FOO'), math.pi, sys.getrecursionlimit() > 50, 'GLOBAL_LEFT' in globals())";
    let result = python(observer);
    assert_eq!(
        result.stdout, "False 3.141592653589793 True False\n",
        "{result:?}"
    );
}

#[test]
fn python_stdlib_modules_are_importable() {
    let program = "import json, re, math, collections, itertools, heapq, functools, fractions, decimal, typing, string, bisect, random, datetime\nprint(fractions.Fraction(1, 3) + 1, heapq.nsmallest(1, [3, 1]))";
    let result = python(program);
    assert_eq!(result.outcome, Outcome::Finished, "{result:?}");
    assert_eq!(result.stdout, "4/3 [1]\n");
}

// ---------------------------------------------------------------- JavaScript

#[test]
fn javascript_infinite_loop_stops_at_the_time_limit() {
    let started = Instant::now();
    let result = run_with(
        RunRequest::new(Language::Javascript, "for (;;) {}").with_limits(limits(1000, 256)),
    );
    assert_eq!(result.outcome, Outcome::TimeLimit, "{result:?}");
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[test]
fn javascript_memory_bomb_hits_the_cap() {
    let program = "const a = []; for (;;) a.push(new Array(1e6).fill(1));";
    let result =
        run_with(RunRequest::new(Language::Javascript, program).with_limits(limits(10_000, 128)));
    assert_eq!(result.outcome, Outcome::MemoryLimit, "{result:?}");
    assert!(result.peak_memory_bytes <= 128 << 20);
    let huge_string = javascript("const s = 'a'.repeat(2 ** 29); console.log(s.length)");
    assert_ne!(huge_string.outcome, Outcome::Finished, "{huge_string:?}");
}

#[test]
fn javascript_deep_recursion_ends_safely() {
    let result = javascript("function f(n) { return f(n + 1) + 1; } f(0);");
    assert!(
        matches!(
            result.outcome,
            Outcome::Exception { .. } | Outcome::Trap { .. } | Outcome::Exited { .. }
        ),
        "{result:?}"
    );
    assert_eq!(javascript("console.log(1)").stdout, "1\n");
}

#[test]
fn javascript_output_at_the_cap_counts_as_truncated() {
    // QuickJS ignores failed writes and exits 0: only the full buffer shows the truncation.
    let result = javascript("console.log('x'.repeat(1e8))");
    assert!(result.stdout_truncated, "{result:?}");
    assert!(!result.finished_cleanly());
    let flood = run_with(
        RunRequest::new(
            Language::Javascript,
            "for (;;) console.log('spam'.repeat(1000))",
        )
        .with_limits(limits(5000, 256)),
    );
    assert!(flood.stdout_truncated, "{flood:?}");
    assert_ne!(flood.outcome, Outcome::Finished);
}

#[test]
fn javascript_sees_no_files_environment_or_processes() {
    let result = javascript(
        "console.log(std.open('/etc/passwd', 'r'), std.open('out.txt', 'w'), std.getenv('HOME'), \
         typeof fetch, typeof require, typeof process)",
    );
    assert_eq!(result.outcome, Outcome::Finished, "{result:?}");
    assert_eq!(
        result.stdout,
        "null null undefined undefined undefined undefined\n"
    );
    let exec = javascript("console.log(os.exec(['ls']))");
    assert!(
        !exec.stdout.contains("passwd")
            && exec.outcome
                != Outcome::Trap {
                    message: String::new()
                },
        "{exec:?}"
    );
}

#[test]
fn javascript_exits_and_exceptions_are_distinguishable() {
    assert_eq!(javascript("console.log('ok')").outcome, Outcome::Finished);
    assert_eq!(
        javascript("std.exit(0)").outcome,
        Outcome::Exited { code: 0 }
    );
    assert_eq!(
        javascript("std.exit(4)").outcome,
        Outcome::Exited { code: 4 }
    );
    let thrown = javascript("throw new RangeError('bad')");
    assert_eq!(
        thrown.outcome,
        Outcome::Exception {
            type_name: "RangeError".into()
        },
        "{thrown:?}"
    );
}

#[test]
fn javascript_state_does_not_leak_between_runs() {
    assert_eq!(
        javascript(
            "globalThis.FOO = 1; Math.max = () => 0; Array.prototype.x = 1; Object.prototype.y = 2"
        )
        .outcome,
        Outcome::Finished
    );
    let result = javascript("console.log(typeof FOO, Math.max(1, 2), [].x, ({}).y)");
    assert_eq!(
        result.stdout, "undefined 2 undefined undefined\n",
        "{result:?}"
    );
}

// ---------------------------------------------------------------- the worker pool

fn real_pool() -> Arc<SandboxPool> {
    static POOL: OnceLock<Arc<SandboxPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        let command = WorkerCommand::test_harness("sandbox_worker_entry").unwrap();
        let runtime = pool_runtime();
        Arc::new(
            runtime
                .block_on(SandboxPool::start(PoolConfig::new(command).with_workers(2)))
                .unwrap(),
        )
    })
    .clone()
}

fn pool_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

#[test]
fn pool_runs_hostile_programs_in_worker_processes() {
    let pool = real_pool();
    let results = pool_runtime().block_on(async {
        let requests = [
            RunRequest::new(Language::Python, "while True: pass").with_limits(limits(500, 256)),
            // WASI 0.2's `exit` carries success or failure only, so a non-zero code reads as 1.
            RunRequest::new(Language::Python, "import os\nos._exit(7)"),
            RunRequest::new(Language::Javascript, "for (;;) {}").with_limits(limits(500, 256)),
            RunRequest::new(Language::Python, "print(sum(range(10)))"),
        ];
        let handles: Vec<_> = requests
            .into_iter()
            .map(|request| {
                let pool = pool.clone();
                tokio::spawn(async move { pool.run(request).await })
            })
            .collect();
        let mut results = Vec::new();
        for handle in handles {
            results.push(handle.await.unwrap());
        }
        results
    });
    assert_eq!(results[0].outcome, Outcome::TimeLimit, "{:?}", results[0]);
    assert_eq!(results[1].outcome, Outcome::Exited { code: 1 });
    assert_eq!(results[2].outcome, Outcome::TimeLimit);
    assert_eq!(results[3].stdout, "45\n");
}

/// A fake worker: reports ready, then runs `then` (a shell snippet) instead of serving.
fn fake_worker(then: &str) -> PoolConfig {
    let script = format!("printf '\\n\\000sandboxes-worker-ready-v1\\000\\n'; {then}");
    let command = WorkerCommand {
        program: "sh".into(),
        args: vec!["-c".into(), script.into()],
    };
    let mut config = PoolConfig::new(command).with_workers(1);
    config.grace = Duration::from_millis(300);
    config.startup_timeout = Duration::from_secs(5);
    config
}

#[test]
fn pool_replaces_crashed_and_stuck_workers_with_error_results() {
    let runtime = pool_runtime();
    let quick = RunRequest::new(Language::Python, "pass").with_limits(limits(200, 64));
    for (what, config) in [
        ("crash", fake_worker("head -c 1 > /dev/null; exit 3")),
        ("hang", fake_worker("sleep 60")),
        (
            "garbage",
            fake_worker("head -c 1 > /dev/null; printf 'xxxxxxxxxxxx'; sleep 60"),
        ),
        ("never ready", {
            let mut config = PoolConfig::new(WorkerCommand {
                program: "false".into(),
                args: vec![],
            })
            .with_workers(1);
            config.startup_timeout = Duration::from_secs(2);
            config
        }),
    ] {
        let pool = runtime.block_on(SandboxPool::start(config)).unwrap();
        for attempt in 0..2 {
            let started = Instant::now();
            let result = runtime.block_on(pool.run(quick.clone()));
            assert!(
                matches!(result.outcome, Outcome::Error { .. }),
                "{what} #{attempt}: {result:?}"
            );
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "{what} #{attempt} took {:?}",
                started.elapsed()
            );
        }
    }
}

/// A worker puts back the pages each run wrote itself (`written_pages.rs`), instead of leaving
/// all of it to wasmtime: a run that writes all over the interpreter's heap, in the main
/// instance and in its peer, must leave the next run in that worker exactly where a fresh one
/// starts. "Exactly" is read off the allocator: a fresh instance's next object address, its
/// count of allocated blocks and of tracked objects are the same every time.
#[test]
fn a_worker_starts_every_run_from_the_pristine_image_after_runs_that_wrote_everywhere() {
    let command = WorkerCommand::test_harness("sandbox_worker_entry").unwrap();
    let runtime = pool_runtime();
    let pool = runtime
        .block_on(SandboxPool::start(PoolConfig::new(command).with_workers(1)))
        .unwrap();
    let observer = "import gc, sys\nleft = sum(1 for o in gc.get_objects() if type(o) in (list, dict) and 'LEFT_BY_AN_EARLIER_RUN' in o)\nprint(id(object()), sys.getallocatedblocks(), len(gc.get_objects()), left)";
    let polluter = "import gc\nfor o in gc.get_objects():\n    if type(o) is list: o.append('LEFT_BY_AN_EARLIER_RUN')\n    elif type(o) is dict: o['LEFT_BY_AN_EARLIER_RUN'] = 1\njunk = [bytes([i % 251]) * 4000 for i in range(3000)]";
    let with_peer = |program: &str| {
        RunRequest::new(Language::Python, program).with_peer(sandboxes::PeerRequest {
            program: program.into(),
            stdin: String::new(),
            limits: Limits::default(),
        })
    };
    let observe = || {
        let result = runtime.block_on(pool.run(with_peer(observer)));
        let peer = result.peer.as_ref().expect("the peer's result");
        assert_eq!(result.outcome, Outcome::Finished, "{result:?}");
        (result.stdout.clone(), peer.stdout.clone())
    };
    let fresh = observe();
    assert!(fresh.0.ends_with(" 0\n"), "{fresh:?}");
    for round in 0..4 {
        runtime.block_on(pool.run(with_peer(polluter)));
        assert_eq!(observe(), fresh, "after polluting run {round}");
    }
}
