//! HumanEval through the real code grader and sandbox pool: every canonical solution passes,
//! every `return None` variant fails, and the reward hacks of research/code.md §2c (and the
//! others issue 5 lists) score 0 on all 164 problems. Also: a batch with infinite loops and memory
//! bombs mixed in finishes, with time-limit and memory-limit verdicts.

mod code_support;

use code_support::{grade_all, humaneval, mismatches, worker_entry, HumanEval};
use graders::contract::Task;

/// Not a test: the entry point of the sandbox worker processes started from this binary.
#[test]
fn sandbox_worker_entry() {
    worker_entry();
}

fn grade_variant(body: impl Fn(&HumanEval) -> String) -> (Vec<String>, Vec<graders::Verdict>) {
    let problems = humaneval();
    let items: Vec<(String, Task)> = problems.iter().map(|p| (body(p), p.task())).collect();
    let ids = problems.iter().map(|p| p.task_id.clone()).collect();
    (ids, grade_all(&items))
}

fn assert_none_pass(name: &str, body: impl Fn(&HumanEval) -> String) {
    let (ids, verdicts) = grade_variant(body);
    let passed = mismatches(&ids, &verdicts, false);
    println!("{name}: {} of {} passed", passed.len(), ids.len());
    assert!(passed.is_empty(), "{name} passed on: {passed:#?}");
    let errors: Vec<_> = verdicts
        .iter()
        .filter(|v| v.status == graders::Status::Error)
        .collect();
    assert!(errors.is_empty(), "{name}: grader errors {errors:#?}");
}

#[test]
fn all_164_canonical_solutions_pass() {
    let (ids, verdicts) = grade_variant(|p| p.canonical.clone());
    let failed = mismatches(&ids, &verdicts, true);
    println!(
        "canonical: {} of {} passed",
        ids.len() - failed.len(),
        ids.len()
    );
    assert!(failed.is_empty(), "canonical failures: {failed:#?}");
}

#[test]
fn all_164_return_none_variants_fail() {
    assert_none_pass("return None", |_| "    return None\n".into());
}

const ALWAYS_EQUAL: &str = "    class AlwaysEqual:
        def __eq__(self, other): return True
        def __ne__(self, other): return False
        def __lt__(self, other): return True
        def __le__(self, other): return True
        def __gt__(self, other): return True
        def __ge__(self, other): return True
        def __abs__(self): return 0
        def __sub__(self, other): return self
        def __rsub__(self, other): return self
        def __len__(self): return 0
        def __iter__(self): return iter([])
        def __bool__(self): return True
        def __hash__(self): return 0
    return AlwaysEqual()
";

#[test]
fn always_equal_objects_score_zero_on_all_164() {
    assert_none_pass("always-equal", |_| ALWAYS_EQUAL.into());
    // A subclass of a built-in type with its own comparison is refused the same way.
    assert_none_pass("int subclass", |_| {
        "    class Sneaky(int):\n        def __eq__(self, other): return True\n        __hash__ = int.__hash__\n    return Sneaky(0)\n".into()
    });
}

#[test]
fn sys_exit_before_the_tests_scores_zero_on_all_164() {
    assert_none_pass("sys.exit at top level", |_| {
        "    return None\nimport sys\nsys.exit(0)\n".into()
    });
    assert_none_pass("sys.exit in the function", |_| {
        "    import sys\n    sys.exit(0)\n".into()
    });
    assert_none_pass("raise SystemExit", |_| "    raise SystemExit(0)\n".into());
}

#[test]
fn os_exit_before_the_tests_scores_zero_on_all_164() {
    assert_none_pass("os._exit at top level", |_| {
        "    return None\nimport os\nos._exit(0)\n".into()
    });
    assert_none_pass("os._exit in the function", |_| {
        "    import os\n    os._exit(0)\n".into()
    });
}

#[test]
fn atexit_hooks_and_printed_success_markers_score_zero_on_all_164() {
    let forged = r#"{"k":"test","i":0,"v":"pass"}"#;
    assert_none_pass("atexit hook", move |_| {
        format!("    return None\nimport atexit\natexit.register(lambda: print('passed', {forged:?}, 'All tests passed'))\n")
    });
    assert_none_pass("printed markers then exit", move |_| {
        format!("    return None\nprint('passed')\nprint({forged:?})\nprint('{{\"k\":\"done\"}}')\nimport os\nos._exit(0)\n")
    });
    assert_none_pass("marker on the real stdout", move |_| {
        format!("    return None\nimport sys\nsys.__stdout__.write({forged:?} + '\\n')\nsys.__stdout__.flush()\n")
    });
}

#[test]
fn redefining_check_or_builtins_scores_zero_on_all_164() {
    assert_none_pass("redefined check", |_| {
        "    return None\ndef check(candidate):\n    return True\n".into()
    });
    assert_none_pass("patched builtins", |_| {
        "    return None\nimport builtins\nbuiltins.abs = lambda x: 0\nbuiltins.len = lambda x: 0\nbuiltins.isinstance = lambda *a: True\nbuiltins.sorted = lambda *a, **k: None\nbuiltins.all = lambda *a: True\nbuiltins.any = lambda *a: True\n".into()
    });
    assert_none_pass("patched in the call", |_| {
        "    import builtins, math\n    builtins.abs = lambda x: 0\n    math.fabs = lambda x: 0.0\n    return None\n".into()
    });
}

#[test]
fn reading_the_tests_finds_nothing() {
    // Looks for the tests where a naive harness keeps them: files, its own globals, the caller.
    let body = "    import os, sys\n    found = [n for n in os.listdir('.')] if hasattr(os, 'listdir') else []\n    g = globals()\n    if 'check' in g or 'METADATA' in g or found:\n        return 'found'\n    return None\n";
    assert_none_pass("reading the tests", |_| body.into());
}

#[test]
fn redefining_the_prompts_helpers_does_not_pass() {
    // HumanEval/38 and /50 test `decode(encode(s)) == s` with the prompt's `encode`: a candidate
    // must not win by redefining both as the identity.
    let problems = humaneval();
    let mut items = Vec::new();
    for (id, helper) in [
        ("HumanEval/38", "encode_cyclic"),
        ("HumanEval/50", "encode_shift"),
    ] {
        let p = problems.iter().find(|p| p.task_id == id).unwrap();
        items.push((
            format!("    return s\n\ndef {helper}(s):\n    return s\n"),
            p.task(),
        ));
    }
    // HumanEval/32 checks `math.fabs(poly(xs, x)) < 1e-4`: patching math or the prompt's poly.
    let p32 = problems
        .iter()
        .find(|p| p.task_id == "HumanEval/32")
        .unwrap();
    items.push((
        "    import math\n    math.fabs = lambda x: 0.0\n    return 0.0\n".into(),
        p32.task(),
    ));
    items.push((
        "    return 0.0\n\ndef poly(xs, x):\n    return 0.0\n".into(),
        p32.task(),
    ));
    items.push((
        "    import random\n    random.Random.randint = lambda self, a, b: a\n    random.Random.uniform = lambda self, a, b: 0\n    return 0.0\n".into(),
        p32.task(),
    ));
    let verdicts = grade_all(&items);
    for (item, verdict) in items.iter().zip(&verdicts) {
        assert_eq!(verdict.reward, 0.0, "passed: {}\n{verdict:?}", item.0);
    }
}

#[test]
fn infinite_loops_and_memory_bombs_end_with_limit_verdicts() {
    let problems = humaneval();
    let bombs = [
        ("time_limit", "    while True:\n        pass\n"),
        (
            "time_limit",
            "    x = 0\n    while x >= 0:\n        x += 1\n",
        ),
        (
            "memory_limit",
            "    data = []\n    while True:\n        data.append(bytearray(10**7))\n",
        ),
        // `bytearray(10**10)` is no bomb on wasm32: CPython refuses it up front (OverflowError).
        (
            "memory_limit",
            "    return [bytearray(10**8) for _ in range(10)]\n",
        ),
        ("memory_limit", "    x = [0] * (10**9)\n    return x\n"),
    ];
    let mut items = Vec::new();
    let mut expected = Vec::new();
    for (index, problem) in problems.iter().take(40).enumerate() {
        // 300 ms native-equivalent per test: about 1 s in the sandbox.
        let task = problem.task_with_limit(Some(300));
        if index % 4 == 0 {
            let (verdict, body) = bombs[(index / 4) % bombs.len()];
            items.push((body.to_string(), task));
            expected.push(verdict);
        } else {
            items.push((problem.canonical.clone(), task));
            expected.push("passed");
        }
    }
    let started = std::time::Instant::now();
    let verdicts = grade_all(&items);
    println!(
        "{} samples with {} bombs graded in {:?}",
        items.len(),
        items.len() / 4,
        started.elapsed()
    );
    for ((verdict, want), problem) in verdicts.iter().zip(&expected).zip(&problems) {
        let got = verdict
            .details
            .get("verdict")
            .and_then(|v| v.as_str())
            .unwrap_or("none");
        assert_eq!(got, *want, "{}: {verdict:?}", problem.task_id);
    }
}
