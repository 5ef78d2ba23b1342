//! The crate's own end-to-end checks: the runtimes set themselves up, programs run in fresh
//! instances with the right outcome, and the pool answers through worker processes (the
//! `sandbox-worker` binary of this crate). The full hostile suite lives in the `tests` crate.

use sandboxes::{
    Language, Outcome, Part, PoolConfig, PythonModule, RunRequest, Sandbox, SandboxPool,
    WorkerCommand,
};

fn sandbox() -> Sandbox {
    Sandbox::new().expect("the sandbox runtimes set up and load")
}

#[test]
fn baked_python_modules_are_importable_fresh_in_every_run_and_only_where_asked_for() {
    let module = PythonModule::new("baked_probe", "VALUE = 41 + 1\nSEEN = []\n");
    let baked = Sandbox::with_python_modules(&sandboxes::default_cache_dir(), &[module])
        .expect("a sandbox with a baked module sets up");
    let program = "import baked_probe\nbaked_probe.SEEN.append(1)\nprint(baked_probe.VALUE, len(baked_probe.SEEN))";
    for _ in 0..2 {
        // A change made in one run is gone in the next: the module comes from the snapshot.
        let run = baked.run(&RunRequest::new(Language::Python, program));
        assert_eq!(
            (run.outcome.clone(), run.stdout.as_str()),
            (Outcome::Finished, "42 1\n"),
            "{run:?}"
        );
    }
    let bare = sandbox().run(&RunRequest::new(Language::Python, program));
    assert_eq!(
        bare.outcome,
        Outcome::Exception {
            type_name: "ModuleNotFoundError".into()
        }
    );
}

/// The snapshot's objects are immortal (`immortal.rs`), so using them writes no reference
/// count; objects a run makes are not, objects with a finalizer are not, and a program that
/// drops a snapshot object's references sees the object live on, unchanged, as a module global
/// does in CPython anyway.
#[test]
fn the_snapshots_objects_are_immortal_and_a_runs_own_are_not() {
    let program = [
        "import sys, json, collections",
        "print(sys._is_immortal(json.dumps), sys._is_immortal(json.__dict__),",
        "      sys._is_immortal(collections.OrderedDict), sys._is_immortal('text_' + str(7)))",
        "print(sys._is_immortal([]), sys._is_immortal(object()), sys._is_immortal(sys.__stdout__))",
        "dumps = json.dumps",
        "del json.dumps",
        "print(dumps([1]), sys._is_immortal(dumps))",
    ]
    .join("\n");
    let run = sandbox().run(&RunRequest::new(Language::Python, program));
    assert_eq!(run.outcome, Outcome::Finished, "{run:?}");
    assert_eq!(
        run.stdout, "True True True False\nFalse False False\n[1] True\n",
        "{run:?}"
    );
}

#[test]
fn python_runs_finish_exit_and_raise_distinguishably() {
    let sandbox = sandbox();
    let finished = sandbox.run(&RunRequest::new(
        Language::Python,
        "import json\nprint(json.dumps([1, 2]))",
    ));
    assert_eq!(finished.outcome, Outcome::Finished, "{finished:?}");
    assert_eq!(finished.stdout, "[1, 2]\n");
    assert!(finished.peak_memory_bytes > 0);

    let exited = sandbox.run(
        &RunRequest::new(Language::Python, "import sys\nsys.exit(0)")
            .with_harness("print('tests ran')"),
    );
    assert_eq!(exited.outcome, Outcome::SystemExit { code: 0 });
    assert_eq!(exited.part, Some(Part::Program));
    assert_eq!(exited.stdout, "");

    let os_exit = sandbox.run(&RunRequest::new(Language::Python, "import os\nos._exit(0)"));
    assert_eq!(os_exit.outcome, Outcome::Exited { code: 0 });

    let raised = sandbox.run(
        &RunRequest::new(Language::Python, "def f():\n    pass")
            .with_harness("raise ValueError('no')"),
    );
    assert_eq!(
        raised.outcome,
        Outcome::Exception {
            type_name: "ValueError".into()
        }
    );
    assert_eq!(raised.part, Some(Part::Harness));
    assert!(
        raised.stderr.contains("ValueError: no"),
        "{}",
        raised.stderr
    );

    let echoed =
        sandbox.run(&RunRequest::new(Language::Python, "print(input()[::-1])").with_stdin("abc\n"));
    assert_eq!(echoed.stdout, "cba\n");
}

#[test]
fn javascript_runs_and_reports_exceptions() {
    let sandbox = sandbox();
    let finished = sandbox.run(&RunRequest::new(Language::Javascript, "console.log(1 + 2)"));
    assert_eq!(finished.outcome, Outcome::Finished, "{finished:?}");
    assert_eq!(finished.stdout, "3\n");

    let raised = sandbox.run(&RunRequest::new(Language::Javascript, "null.x"));
    assert_eq!(
        raised.outcome,
        Outcome::Exception {
            type_name: "TypeError".into()
        },
        "{raised:?}"
    );

    let stdin = sandbox.run(
        &RunRequest::new(
            Language::Javascript,
            "console.log(std.in.readAsString().trim().length)",
        )
        .with_stdin("hello\n"),
    );
    assert_eq!(stdin.stdout, "5\n", "{stdin:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_runs_through_worker_processes() {
    let command = WorkerCommand {
        program: env!("CARGO_BIN_EXE_sandbox-worker").into(),
        args: Vec::new(),
    };
    let pool = std::sync::Arc::new(
        SandboxPool::start(PoolConfig::new(command).with_workers(2))
            .await
            .unwrap(),
    );
    let handles: Vec<_> = (0..8)
        .map(|index| {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(RunRequest::new(
                    Language::Python,
                    format!("print({index} * 2)"),
                ))
                .await
            })
        })
        .collect();
    for (index, handle) in handles.into_iter().enumerate() {
        let result = handle.await.unwrap();
        assert_eq!(result.outcome, Outcome::Finished, "{result:?}");
        assert_eq!(result.stdout, format!("{}\n", index * 2));
    }
}

/// Deep C recursion in CPython (nested JSON, `repr` and `==` of deep lists, deep expressions)
/// raises an exception the program can catch, on the pool's workers and in-process alike: the
/// guest's native stack outlasts CPython's own guard, so no input turns into an uncatchable trap.
#[test]
fn deep_recursion_raises_catchable_errors_instead_of_trapping() {
    let program = r#"
import json, copy
def nested(k):
    x = []
    for _ in range(k):
        x = [x]
    return x
deep = nested(300000)
cases = [
    lambda: json.loads("[" * 1000000),
    lambda: json.loads('{"a":' * 1000000),
    lambda: repr(deep),
    lambda: deep == nested(300000),
    lambda: json.dumps(deep),
    lambda: copy.deepcopy(deep),
    lambda: eval("(" * 200000 + ")" * 200000),
]
for case in cases:
    try:
        case()
        print("returned")
    except (RecursionError, MemoryError):
        print("caught")
"#;
    let request = RunRequest::new(Language::Python, program).with_limits(sandboxes::Limits {
        time_limit_ms: 60_000,
        memory_limit_bytes: 1 << 30,
        ..sandboxes::Limits::default()
    });
    let run = sandbox().run(&request);
    assert_eq!(run.outcome, Outcome::Finished, "{run:?}");
    assert_eq!(run.stdout, "caught\n".repeat(7), "{run:?}");
}
