//! The three test kinds (`assert`, `call`, `stdio`) in Python and JavaScript through the real
//! code grader and sandbox pool: verdicts per test, scoring, and the hacks that target each kind.

mod code_support;

use code_support::{grade_all, worker_entry};
use graders::contract::{CallCase, CodeLanguage, CodeTask, CodeTests, Scoring, StdioCase, Task};
use graders::{Status, Verdict};
use serde_json::{json, Value};

/// Not a test: the entry point of the sandbox worker processes started from this binary.
#[test]
fn sandbox_worker_entry() {
    worker_entry();
}

fn task(language: CodeLanguage, tests: CodeTests, scoring: Scoring) -> Task {
    Task::Code(CodeTask {
        language,
        tests,
        prefix: None,
        scoring,
        time_limit_ms: Some(500),
        memory_limit_mb: None,
        float_tolerance: None,
        compare: Default::default(),
    })
}

fn grade(completion: &str, task: Task) -> Verdict {
    grade_all(&[(completion.to_string(), task)]).remove(0)
}

fn verdicts(verdict: &Verdict) -> Value {
    verdict.details.get("tests").cloned().unwrap_or(Value::Null)
}

/// `a b` in, `a + b` out, compared as text.
fn sum_stdio() -> CodeTests {
    CodeTests::Stdio {
        cases: sum_cases(),
        float_tolerance: None,
    }
}

fn sum_cases() -> Vec<StdioCase> {
    vec![
        StdioCase {
            input: "1 2\n".into(),
            output: "3\n".into(),
        },
        StdioCase {
            input: "10 20\n".into(),
            output: "30\n".into(),
        },
        StdioCase {
            input: "-5 5\n".into(),
            output: "0\n".into(),
        },
    ]
}

#[test]
fn python_stdio_cases_are_compared_in_full_on_the_host() {
    let stdio = sum_stdio();
    let right = "```python\na, b = map(int, input().split())\nprint(a + b)\n```";
    let v = grade(
        right,
        task(CodeLanguage::Python, stdio.clone(), Scoring::All),
    );
    assert_eq!((v.reward, v.status), (1.0, Status::Correct), "{v:?}");
    // sys.exit(0) after printing is normal for competitive programming and still passes.
    let exits =
        "import sys\na, b = map(int, sys.stdin.read().split())\nprint(a + b)\nsys.exit(0)\n";
    assert_eq!(
        grade(
            exits,
            task(CodeLanguage::Python, stdio.clone(), Scoring::All)
        )
        .reward,
        1.0
    );
    // Extra lines are a wrong answer (a `zip` compare would pass them).
    let extra = "a, b = map(int, input().split())\nprint(a + b)\nprint('debug')\n";
    let v = grade(
        extra,
        task(CodeLanguage::Python, stdio.clone(), Scoring::Fraction),
    );
    assert_eq!(
        verdicts(&v),
        json!(["wrong_answer", "wrong_answer", "wrong_answer"])
    );
    // An exit before printing anything is a wrong answer, not a pass.
    let v = grade(
        "import os\nos._exit(0)\n",
        task(CodeLanguage::Python, stdio.clone(), Scoring::All),
    );
    assert_eq!(v.reward, 0.0);
    // A syntax error is reported as such, once for every case.
    let v = grade(
        "print(",
        task(CodeLanguage::Python, stdio.clone(), Scoring::Fraction),
    );
    assert_eq!(
        verdicts(&v),
        json!(["syntax_error", "syntax_error", "syntax_error"]),
        "{v:?}"
    );
    // Runtime errors name the exception; fraction scoring counts the passing cases.
    let partial =
        "a, b = map(int, input().split())\nif a < 0: raise ValueError('neg')\nprint(a + b)\n";
    let v = grade(
        partial,
        task(CodeLanguage::Python, stdio, Scoring::Fraction),
    );
    assert!((v.reward - 2.0 / 3.0).abs() < 1e-9, "{v:?}");
    assert_eq!(v.details["first_failure"]["verdict"], "runtime_error");
    assert!(
        v.details["first_failure"]["message"]
            .as_str()
            .unwrap()
            .contains("ValueError"),
        "{v:?}"
    );
}

#[test]
fn python_call_values_are_compared_on_the_host() {
    let cases = vec![
        CallCase {
            args: vec![json!([3, 1, 2])],
            expected: json!([1, 2, 3]),
        },
        CallCase {
            args: vec![json!([])],
            expected: json!([]),
        },
        CallCase {
            args: vec![json!([2, 2, 1])],
            expected: json!([1, 2, 2]),
        },
    ];
    let call = CodeTests::Call {
        fn_name: "sort_it".into(),
        cases,
    };
    let right = "def sort_it(xs):\n    return sorted(xs)\n";
    let v = grade(
        right,
        task(CodeLanguage::Python, call.clone(), Scoring::All),
    );
    assert_eq!(v.reward, 1.0, "{v:?}");
    // Tuples are arrays on the wire.
    let tuple = "def sort_it(xs):\n    return tuple(sorted(xs))\n";
    assert_eq!(
        grade(
            tuple,
            task(CodeLanguage::Python, call.clone(), Scoring::All)
        )
        .reward,
        1.0
    );
    let always_equal =
        "class E(list):\n    def __eq__(self, o): return True\ndef sort_it(xs):\n    return E()\n";
    let v = grade(
        always_equal,
        task(CodeLanguage::Python, call.clone(), Scoring::All),
    );
    assert_eq!(v.reward, 0.0, "{v:?}");
    assert!(
        v.details["first_failure"]["message"]
            .as_str()
            .unwrap()
            .contains("not a plain value"),
        "{v:?}"
    );
    let exits = "import sys\ndef sort_it(xs):\n    sys.exit(0)\n";
    let v = grade(
        exits,
        task(CodeLanguage::Python, call.clone(), Scoring::All),
    );
    assert_eq!(v.reward, 0.0);
    assert_eq!(v.details["first_failure"]["verdict"], "runtime_error");
    let os_exit = "import os\ndef sort_it(xs):\n    os._exit(0)\n";
    assert_eq!(
        grade(
            os_exit,
            task(CodeLanguage::Python, call.clone(), Scoring::All)
        )
        .reward,
        0.0
    );
    // A bool is not a number.
    let typed = CodeTests::Call {
        fn_name: "f".into(),
        cases: vec![CallCase {
            args: vec![],
            expected: json!(1),
        }],
    };
    assert_eq!(
        grade(
            "def f():\n    return True\n",
            task(CodeLanguage::Python, typed, Scoring::All)
        )
        .reward,
        0.0
    );
}

#[test]
fn python_time_and_memory_limits_are_verdicts() {
    let call = CodeTests::Call {
        fn_name: "f".into(),
        cases: vec![
            CallCase {
                args: vec![json!(1)],
                expected: json!(1),
            },
            CallCase {
                args: vec![json!(2)],
                expected: json!(2),
            },
        ],
    };
    let looping = "def f(x):\n    while True:\n        pass\n";
    let v = grade(
        looping,
        task(CodeLanguage::Python, call.clone(), Scoring::Fraction),
    );
    assert_eq!(verdicts(&v), json!(["time_limit", "skipped"]), "{v:?}");
    let bomb = "def f(x):\n    data = []\n    while True:\n        data.append(bytearray(10**7))\n";
    let v = grade(bomb, task(CodeLanguage::Python, call, Scoring::Fraction));
    assert_eq!(
        v.details["first_failure"]["verdict"], "memory_limit",
        "{v:?}"
    );
}

#[test]
fn javascript_call_assert_and_stdio() {
    let cases = vec![
        CallCase {
            args: vec![json!(2), json!(3)],
            expected: json!(5),
        },
        CallCase {
            args: vec![json!(-1), json!(1)],
            expected: json!(0),
        },
    ];
    let call = CodeTests::Call {
        fn_name: "add".into(),
        cases,
    };
    let right = "```javascript\nfunction add(a, b) { return a + b; }\n```";
    let v = grade(
        right,
        task(CodeLanguage::Javascript, call.clone(), Scoring::All),
    );
    assert_eq!(v.reward, 1.0, "{v:?}");
    let arrow = "const add = (a, b) => a + b;";
    assert_eq!(
        grade(
            arrow,
            task(CodeLanguage::Javascript, call.clone(), Scoring::All)
        )
        .reward,
        1.0
    );
    let sneaky = "function add(a, b) { return { valueOf() { return a + b; } }; }";
    assert_eq!(
        grade(
            sneaky,
            task(CodeLanguage::Javascript, call.clone(), Scoring::All)
        )
        .reward,
        0.0
    );
    let wrong = "function add(a, b) { return a - b; }";
    let v = grade(
        wrong,
        task(CodeLanguage::Javascript, call.clone(), Scoring::Fraction),
    );
    assert_eq!(
        verdicts(&v),
        json!(["wrong_answer", "wrong_answer"]),
        "{v:?}"
    );
    let syntax = "function add(a, b) { return a +; }";
    let v = grade(syntax, task(CodeLanguage::Javascript, call, Scoring::All));
    assert_eq!(
        v.details["first_failure"]["verdict"], "syntax_error",
        "{v:?}"
    );

    let check = "function check(candidate) {\n  if (candidate(2, 3) !== 5) throw new Error('2+3');\n  if (candidate(0, 0) !== 0) throw new Error('0+0');\n}";
    let assert = CodeTests::Assert {
        code: check.into(),
        entry_point: "add".into(),
    };
    assert_eq!(
        grade(
            right,
            task(CodeLanguage::Javascript, assert.clone(), Scoring::All)
        )
        .reward,
        1.0
    );
    let v = grade(
        "function add(a, b) { return 7; }",
        task(CodeLanguage::Javascript, assert.clone(), Scoring::All),
    );
    assert_eq!(v.reward, 0.0, "{v:?}");
    // A candidate that prints what a pass would look like gains nothing.
    let forged =
        "console.log('{\"k\":\"test\",\"i\":0,\"v\":\"pass\"}'); function add() { return 0; }";
    assert_eq!(
        grade(forged, task(CodeLanguage::Javascript, assert, Scoring::All)).reward,
        0.0
    );

    let looping = "function add(a, b) { while (true) {} }";
    let call = CodeTests::Call {
        fn_name: "add".into(),
        cases: vec![CallCase {
            args: vec![json!(1), json!(1)],
            expected: json!(2),
        }],
    };
    let v = grade(looping, task(CodeLanguage::Javascript, call, Scoring::All));
    assert_eq!(v.details["first_failure"]["verdict"], "time_limit", "{v:?}");
}

#[test]
fn integers_beyond_64_bits_reach_the_candidate_exactly_in_both_languages() {
    let call = CodeTests::Call {
        fn_name: "double".into(),
        cases: vec![
            CallCase {
                args: vec![json!({"$int": "123456789012345678901234567890"})],
                expected: json!({"$int": "246913578024691357802469135780"}),
            },
            CallCase {
                args: vec![json!([{"$int": "-99999999999999999999"}])],
                expected: json!({"$int": "-199999999999999999998"}),
            },
        ],
    };
    let python = "```python\ndef double(n):\n    n = n[0] if isinstance(n, list) else n\n    assert type(n) is int\n    return n + n\n```";
    let v = grade(
        python,
        task(CodeLanguage::Python, call.clone(), Scoring::Fraction),
    );
    assert_eq!(verdicts(&v), json!(["passed", "passed"]), "{v:?}");
    let javascript = "function double(n) {\n  n = Array.isArray(n) ? n[0] : n;\n  if (typeof n !== 'bigint') throw new TypeError(typeof n);\n  return n + n;\n}";
    let v = grade(
        javascript,
        task(CodeLanguage::Javascript, call, Scoring::Fraction),
    );
    assert_eq!(verdicts(&v), json!(["passed", "passed"]), "{v:?}");
}

/// A task written by Python's `json.dumps` holds big integers as bare numbers. serde reads
/// those as the nearest float, and a red team passed `2**70` where `2**70 + 1` was expected;
/// call cases keep them exact, as arguments and as expected values.
#[test]
fn bare_integers_beyond_64_bits_in_a_call_task_stay_exact() {
    let cases = r#"{"cases": [{"args": [70], "expected": 1180591620717411303425},
        {"args": [1180591620717411303425], "expected": true}], "type": "call", "fn_name": "f"}"#;
    let task: Task = serde_json::from_str(&format!(
        r#"{{"kind": "code", "language": "python", "scoring": "fraction", "tests": {cases}}}"#
    ))
    .unwrap();
    // `kind` after the tests: the task is read another way, with the same result.
    let kind_last: Task = serde_json::from_str(&format!(
        r#"{{"tests": {cases}, "language": "python", "scoring": "fraction", "kind": "code"}}"#
    ))
    .unwrap();
    assert_eq!(kind_last, task);
    let right = "def f(n):\n    return 2 ** n + 1 if n == 70 else n == 2 ** 70 + 1\n";
    let v = grade(right, task.clone());
    assert_eq!(verdicts(&v), json!(["passed", "passed"]), "{v:?}");
    for wrong in [
        "def f(n):\n    return 2 ** n if n == 70 else n == 2 ** 70\n",
        "def f(n):\n    return float(2 ** n) if n == 70 else n == float(2 ** 70)\n",
    ] {
        let v = grade(wrong, task.clone());
        assert_eq!(
            verdicts(&v),
            json!(["wrong_answer", "wrong_answer"]),
            "{wrong}: {v:?}"
        );
    }
}

/// In a `call` task the entry point may be any callable: evalplus passes a `fib` under
/// `functools.lru_cache`, and so must HumanEval+ through `verifier eval`.
#[test]
fn a_call_tasks_entry_point_may_be_any_callable() {
    let call = CodeTests::Call {
        fn_name: "fib".into(),
        cases: vec![CallCase {
            args: vec![json!(10)],
            expected: json!(55),
        }],
    };
    for code in [
        "import functools\n@functools.lru_cache(maxsize=None)\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
        "import functools\n@functools.cache\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
        "class Fib:\n    def __call__(self, n):\n        return n if n < 2 else self(n - 1) + self(n - 2)\nfib = Fib()\n",
    ] {
        let v = grade(code, task(CodeLanguage::Python, call.clone(), Scoring::All));
        assert_eq!(v.status, Status::Correct, "{code}: {v:?}");
    }
    let v = grade("fib = 55\n", task(CodeLanguage::Python, call, Scoring::All));
    assert_eq!(v.status, Status::Incorrect, "{v:?}");
}

/// A task-level `float_tolerance` applies to `stdio` float tokens where the tests set none
/// (red team: it was accepted, checked and then ignored).
#[test]
fn a_tasks_float_tolerance_applies_to_stdio_tests() {
    let stdio = |tolerance: Option<f64>| CodeTests::Stdio {
        cases: vec![StdioCase {
            input: "3\n".into(),
            output: "0.333333\n".into(),
        }],
        float_tolerance: tolerance,
    };
    let with_task_tolerance = |tests: CodeTests, tolerance: Option<f64>| {
        let mut task = task(CodeLanguage::Python, tests, Scoring::All);
        if let Task::Code(code) = &mut task {
            code.float_tolerance = tolerance;
        }
        task
    };
    let program = "print(round(1 / int(input()), 4))\n";
    let v = grade(program, with_task_tolerance(stdio(None), Some(1e-3)));
    assert_eq!(v.status, Status::Correct, "{v:?}");
    let v = grade(program, with_task_tolerance(stdio(None), None));
    assert_eq!(v.status, Status::Incorrect, "{v:?}");
    // The tests' own tolerance wins.
    let v = grade(program, with_task_tolerance(stdio(Some(1e-9)), Some(1e-3)));
    assert_eq!(v.status, Status::Incorrect, "{v:?}");
}

/// Standard error is diagnostics: a program that writes more of it than is kept (here ~120 KB
/// of debug lines, or one 1 MiB write, against a 64 KiB cap) is judged on its stdout alone, in Python and
/// JavaScript, in stdio, call and assert tests (red team: past the cap the writes failed, and
/// an honest program died of a `BrokenPipeError`). Standard output still has its limit.
#[test]
fn a_program_that_floods_stderr_is_judged_on_its_output() {
    let stdio = sum_stdio();
    let python = "```python\nimport sys\nfor i in range(1500):\n    print('debug line', i, 'x' * 64, file=sys.stderr)\na, b = map(int, input().split())\nprint(a + b)\n```";
    let v = grade(
        python,
        task(CodeLanguage::Python, stdio.clone(), Scoring::All),
    );
    assert_eq!((v.reward, v.status), (1.0, Status::Correct), "{v:?}");
    let javascript = "```javascript\nfor (let i = 0; i < 1500; i++) console.error('debug line', i, 'x'.repeat(64));\nconst [a, b] = std.in.readAsString().trim().split(/\\s+/).map(Number);\nconsole.log(a + b);\n```";
    let v = grade(
        javascript,
        task(CodeLanguage::Javascript, stdio.clone(), Scoring::All),
    );
    assert_eq!((v.reward, v.status), (1.0, Status::Correct), "{v:?}");
    // A program's own top-level `std` (a standard deviation) neither breaks the console nor
    // is broken by it (red team: the prelude once looked `std` up in the program's scope).
    let own_std = "```javascript\nconst [a, b] = globalThis.std.in.readAsString().trim().split(/\\s+/).map(Number);\nconsole.error('inputs', a, b);\nconsole.log(a + b);\nlet std = 0;\n```";
    let v = grade(own_std, task(CodeLanguage::Javascript, stdio, Scoring::All));
    assert_eq!((v.reward, v.status), (1.0, Status::Correct), "{v:?}");

    let call = CodeTests::Call {
        fn_name: "add".into(),
        cases: vec![CallCase {
            args: vec![json!(2), json!(3)],
            expected: json!(5),
        }],
    };
    let python =
        "import sys\ndef add(a, b):\n    sys.stderr.write('w' * (1 << 20))\n    return a + b\n";
    let v = grade(
        python,
        task(CodeLanguage::Python, call.clone(), Scoring::All),
    );
    assert_eq!(v.status, Status::Correct, "{v:?}");
    let javascript = "function add(a, b) { for (let i = 0; i < 4096; i++) console.error('w'.repeat(256)); return a + b; }\n";
    let v = grade(
        javascript,
        task(CodeLanguage::Javascript, call, Scoring::All),
    );
    assert_eq!(v.status, Status::Correct, "{v:?}");

    let asserts = CodeTests::Assert {
        code: "def check(candidate):\n    assert candidate(2, 3) == 5\n".into(),
        entry_point: "add".into(),
    };
    let v = grade(python, task(CodeLanguage::Python, asserts, Scoring::All));
    assert_eq!(v.status, Status::Correct, "{v:?}");
}

/// A JavaScript solution that opens with a hashbang line, as a Node script may, runs: the line
/// is a comment (red team: QuickJS read a syntax error, in stdio and call tests alike).
#[test]
fn a_javascript_hashbang_line_is_a_comment() {
    let stdio = sum_stdio();
    let program = "```javascript\n#!/usr/bin/env node\nconst [a, b] = std.in.readAsString().trim().split(/\\s+/).map(Number);\nconsole.log(a + b);\n```";
    let v = grade(program, task(CodeLanguage::Javascript, stdio, Scoring::All));
    assert_eq!(v.status, Status::Correct, "{v:?}");
    let call = CodeTests::Call {
        fn_name: "add".into(),
        cases: vec![CallCase {
            args: vec![json!(2), json!(3)],
            expected: json!(5),
        }],
    };
    let program = "```js\n#!/usr/bin/env node\nfunction add(a, b) { return a + b; }\n```";
    let v = grade(program, task(CodeLanguage::Javascript, call, Scoring::All));
    assert_eq!(v.status, Status::Correct, "{v:?}");
}
