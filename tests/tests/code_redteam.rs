//! The code reward attacked as a policy would attack it (issue 12), through the real grader and
//! sandbox pool. Every attack here solves nothing, so every one must score 0, and none may come
//! back `error` or `timeout` (a trainer drops those from the group, which would let a policy
//! escape a negative advantage).
//!
//! The attacks target the class, not one harness: the task-agnostic bytecode oracle of the
//! outside red team (walk the frames up to the caller running `assert candidate(...) == <literal>`
//! and return the next constant), the same through the garbage collector and profiling hooks,
//! forged protocol answers, values the tests' side must not trust, exits, limits and hangs.

mod code_support;

use code_support::{eval, grade_all, humaneval, mbpp, scratch, worker_entry, HumanEval};
use graders::contract::Task;
use graders::{Status, Verdict};
use serde_json::{json, Value};

/// Not a test: the entry point of the sandbox worker processes started from this binary.
#[test]
fn sandbox_worker_entry() {
    worker_entry();
}

/// Module-level attack code appended after the function, which calls `_attack(args)`.
const BYTECODE_ORACLE: &str = r#"
import sys, dis
def _attack(args):
    # The caller's next constant after the instruction that called us: `== <literal>`.
    frame = sys._getframe(1)
    while frame is not None:
        try:
            instructions = list(dis.get_instructions(frame.f_code))
        except Exception:
            instructions = []
        for index, instruction in enumerate(instructions):
            if instruction.offset > frame.f_lasti:
                for later in instructions[index:]:
                    if later.opname in ("LOAD_CONST", "RETURN_CONST") and later.argval is not None:
                        return later.argval
                break
        frame = frame.f_back
    return None
"#;

const GC_ORACLE: &str = r#"
import gc, sys
def _attack(args):
    # Any test code object in the heap: its constants hold the expected values; the harness's
    # frames hold the comparison's right-hand side.
    for obj in gc.get_objects():
        code = getattr(obj, "f_code", None) or (obj if type(obj).__name__ == "code" else None)
        if code is not None and getattr(code, "co_filename", "") in ("<test>", "<string>"):
            consts = [c for c in code.co_consts if c is not None and not isinstance(c, type(code))]
            if consts:
                return consts[-1]
        if isinstance(obj, dict) and "__h_r" in obj:
            return obj["__h_r"]
    f = sys._getframe()
    while f.f_back is not None:
        f = f.f_back
        if "__h_r" in f.f_locals:
            return f.f_locals["__h_r"]
    return None
"#;

const PROFILE_ORACLE: &str = r#"
import sys
_seen = {}
def _hook(frame, event, arg):
    if "__h_r" in frame.f_locals:
        _seen["r"] = frame.f_locals["__h_r"]
sys.setprofile(_hook)
sys.settrace(lambda f, e, a: _hook(f, e, a))
try:
    sys.monitoring.use_tool_id(3, "attack")
    sys.monitoring.register_callback(3, sys.monitoring.events.PY_RETURN, lambda code, offset, value: _seen.setdefault("v", value))
    sys.monitoring.set_events(3, sys.monitoring.events.PY_RETURN)
except Exception:
    pass
def _attack(args):
    f = sys._getframe(1)
    while f is not None:
        _hook(f, "call", None)
        f = f.f_back
    return _seen.get("r")
"#;

/// The candidate replaces the handler of its own instance and answers every request with
/// forged data: a tag for an object of the tests' side, a "passed" record, and nonsense.
const FORGED_ANSWERS: &str = r#"
import sandbox_peer, json
def _attack(args):
    return None
_calls = [0]
def _lie(message):
    _calls[0] += 1
    request = json.loads(message)
    if request.get("op") == "load":
        return json.dumps({"value": {"names": {n: "callable" for n in ("check", "candidate", "__h_pass", "_attack")} | {k: "callable" for k in globals() if not k.startswith("__")}}})
    forged = [
        {"value": {"$handle": [0, "bool"]}},
        {"value": {"$type": "object"}},
        {"k": "test", "i": 0, "v": "pass"},
        {"value": True, "raised": None},
        "[" * 5000 + "]" * 5000,
    ]
    # Which lie depends on the call, so that across the tasks every one of them is told.
    answer = forged[(len(message) + _calls[0]) % len(forged)]
    return answer if isinstance(answer, str) else json.dumps(answer)
# The harness registers its own handler once this code has run: the lie takes its place. (Calling
# `sandbox_peer.serve(_lie)` here, as this attack once did, was replaced by the harness's own
# handler, so every call got the honest answer and the attack tested nothing: red team.)
_register = sandbox_peer.serve
sandbox_peer.serve = lambda honest: _register(_lie)
# And, from the candidate's instance, a call of its own "to the tests":
try:
    sandbox_peer.call(json.dumps({"k": "test", "i": 0, "v": "pass"}))
except Exception:
    pass
"#;

/// Values that make the tests' side work hard or fail outside a test statement.
const HOSTILE_VALUES: &str = r#"
class _Bad(Exception):
    def __str__(self):
        raise RuntimeError("no message for you")
_n = [0]
def _attack(args):
    _n[0] += 1
    kind = _n[0] % 6
    if kind == 0:
        raise _Bad()
    if kind == 1:
        raise KeyboardInterrupt()
    if kind == 2:
        raise SystemExit(0)
    if kind == 3:
        nested = []
        for _ in range(200):
            nested = [nested]
        return nested
    if kind == 4:
        return "x" * (20 << 20)
    class TimeLimit(Exception):
        pass
    raise TimeLimit("time-limit")
"#;

/// Ends the candidate's instance in each way it can: the test that was running fails.
const ENDINGS: &str = r#"
import os, sys, time
_n = [0]
def _attack(args):
    _n[0] += 1
    kind = hash(repr(args)) % 5
    if kind == 0:
        os._exit(0)
    if kind == 1:
        time.sleep(10**6)
    if kind == 2:
        while True:
            pass
    if kind == 3:
        return bytearray(1 << 30)
    def down(n):
        return down(n + 1) + 1
    return down(0)
"#;

/// A HumanEval completion that calls `attack` with its arguments; the attack's module code
/// follows the function, as a model would write it.
fn humaneval_attack(problem: &HumanEval, attack: &str) -> String {
    let _ = problem;
    format!("    return _attack(locals())\n{attack}")
}

fn expect_zero_and_no_escape(name: &str, ids: &[String], verdicts: &[Verdict]) {
    let mut passed = Vec::new();
    let mut escaped = Vec::new();
    for (id, verdict) in ids.iter().zip(verdicts) {
        if verdict.reward != 0.0 {
            passed.push(format!("{id}: {}", verdict.reward));
        }
        if matches!(verdict.status, Status::Error | Status::Timeout) {
            escaped.push(format!("{id}: {:?} {:?}", verdict.status, verdict.error));
        }
    }
    println!(
        "{name}: {} of {} scored above 0, {} came back error/timeout",
        passed.len(),
        ids.len(),
        escaped.len()
    );
    assert!(passed.is_empty(), "{name} scored on: {passed:#?}");
    assert!(
        escaped.is_empty(),
        "{name} escaped to error/timeout: {escaped:#?}"
    );
}

/// Runs `attack` on every HumanEval task, checks it earns nothing and escapes nowhere, and gives
/// the verdicts.
fn attack_humaneval(name: &str, attack: &str) -> Vec<Verdict> {
    let problems = humaneval();
    let items: Vec<(String, Task)> = problems
        .iter()
        .map(|p| (humaneval_attack(p, attack), p.task()))
        .collect();
    let ids: Vec<String> = problems.iter().map(|p| p.task_id.clone()).collect();
    let verdicts = grade_all(&items);
    expect_zero_and_no_escape(name, &ids, &verdicts);
    verdicts
}

#[test]
fn the_bytecode_oracle_scores_zero_on_all_164_humaneval_tasks() {
    attack_humaneval("bytecode oracle", BYTECODE_ORACLE);
}

#[test]
fn garbage_collector_and_profiling_oracles_score_zero_on_humaneval() {
    attack_humaneval("gc oracle", GC_ORACLE);
    attack_humaneval("profile/trace/monitoring oracle", PROFILE_ORACLE);
}

#[test]
fn forged_answers_from_the_candidates_instance_score_zero() {
    let verdicts = attack_humaneval("forged answers", FORGED_ANSWERS);
    // The lies were told: answered honestly, every first failure would be `got None` (what
    // `_attack` returns), as it was when the harness's handler replaced the attack's.
    let lied = verdicts
        .iter()
        .filter(|v| {
            let message = v.details["first_failure"]["message"].as_str().unwrap_or("");
            !message.ends_with("got None")
        })
        .count();
    let total = verdicts.len();
    println!("forged answers: {lied} of {total} first failures not the honest answer's");
    assert!(lied > total / 2, "the forged answers were not sent");
}

#[test]
fn hostile_values_and_exceptions_are_the_candidates_failures() {
    attack_humaneval("hostile values", HOSTILE_VALUES);
}

#[test]
fn every_way_of_ending_the_candidates_instance_is_incorrect() {
    // A few problems only: each loop or sleep takes the full time limit (9 s) of its sample.
    let problems: Vec<HumanEval> = humaneval().into_iter().take(8).collect();
    let items: Vec<(String, Task)> = problems
        .iter()
        .map(|p| (humaneval_attack(p, ENDINGS), p.task_with_limit(Some(300))))
        .collect();
    let ids: Vec<String> = problems.iter().map(|p| p.task_id.clone()).collect();
    let verdicts = grade_all(&items);
    expect_zero_and_no_escape("endings", &ids, &verdicts);
    let seen: Vec<&str> = verdicts
        .iter()
        .map(|v| v.details["verdict"].as_str().unwrap_or("?"))
        .collect();
    println!("endings: {seen:?}");
}

#[test]
fn sleeping_past_the_limit_ends_at_the_limit() {
    let problem = &humaneval()[0];
    let completion = "    import time\n    time.sleep(20)\n".to_string();
    let started = std::time::Instant::now();
    let verdicts = grade_all(&[(completion, problem.task_with_limit(Some(300)))]);
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(verdicts[0].status, Status::Incorrect);
    assert_eq!(verdicts[0].details["verdict"], "time_limit");
    // 300 ms native-equivalent is 900 ms in the sandbox.
    assert!(seconds < 5.0, "took {seconds:.1} s");
}

#[test]
fn the_bytecode_oracle_scores_zero_on_all_974_mbpp_tasks() {
    // The attack defines every function the task's prompt names (the reference's `def`s here),
    // each returning the oracle's guess.
    let mut text = String::new();
    for row in mbpp() {
        let code = row["code"].as_str().unwrap_or_default();
        let mut completion = String::new();
        for line in code.lines() {
            if let Some(rest) = line.trim_start().strip_prefix("def ") {
                if let Some(name) = rest.split('(').next() {
                    completion += &format!(
                        "def {}(*args, **kwargs):\n    return _attack(args)\n",
                        name.trim()
                    );
                }
            }
        }
        completion += BYTECODE_ORACLE;
        text += &format!(
            "{}\n",
            json!({"task_id": row["task_id"], "completion": completion})
        );
    }
    let samples = scratch("mbpp_oracle.jsonl");
    std::fs::write(&samples, text).unwrap();
    let (report, rows) = eval(
        &[
            "--dataset",
            "mbpp",
            "--samples",
            samples.to_str().unwrap(),
            "--k",
            "1",
        ],
        "mbpp_oracle_results.jsonl",
    );
    let passed: Vec<&Value> = rows.iter().filter(|r| r["passed"] == json!(true)).collect();
    let escaped: Vec<&Value> = rows
        .iter()
        .filter(|r| r["status"] == "error" || r["status"] == "timeout")
        .collect();
    println!(
        "MBPP bytecode oracle: pass@1 {}, {} passed, {} error/timeout of {}",
        report["pass@1"],
        passed.len(),
        escaped.len(),
        rows.len()
    );
    assert!(passed.is_empty(), "{passed:#?}");
    assert!(escaped.is_empty(), "{escaped:#?}");
}

/// Not an attack: the exception stand-ins must not fail honest code. The prompt defines the
/// exception class, the candidate raises it, and the tests' `except` catches it; a candidate
/// that raises a class of its own under another name does not pass.
#[test]
fn exceptions_of_the_prompts_and_the_candidates_classes_reach_the_tests() {
    let task = |prefix: &str| -> Task {
        serde_json::from_value(json!({
            "kind": "code", "language": "python", "prefix": prefix,
            "tests": {"type": "assert", "entry_point": "f", "code":
                "assert f(2) == 4\ntry:\n    f(-1)\n    assert False\nexcept InvalidInput:\n    pass\n"}
        }))
        .unwrap()
    };
    let prompt_class = "class InvalidInput(Exception):\n    pass\n";
    let raising =
        "def f(x):\n    if x < 0:\n        raise InvalidInput('negative')\n    return 2 * x\n";
    let own_class = "class InvalidInput(Exception):\n    pass\n".to_string() + raising;
    let other = "class Other(Exception):\n    pass\ndef f(x):\n    if x < 0:\n        raise Other()\n    return 2 * x\n";
    let verdicts = grade_all(&[
        (format!("```python\n{raising}```"), task(prompt_class)),
        (format!("```python\n{own_class}```"), task("")),
        (format!("```python\n{other}```"), task("")),
    ]);
    assert_eq!(verdicts[0].status, Status::Correct, "{:?}", verdicts[0]);
    assert_eq!(verdicts[1].status, Status::Correct, "{:?}", verdicts[1]);
    assert_eq!(verdicts[2].status, Status::Incorrect, "{:?}", verdicts[2]);
}

/// A quick component graded beside code that spends the sample's deadline is not a `timeout`
/// (R1's code-plus-format setup), so the sample is not either.
#[test]
fn code_that_spends_the_deadline_beside_a_format_component_is_incorrect() {
    let sample: graders::contract::Sample = serde_json::from_value(json!({
        "completion": "<think>x</think>\n<answer>\n```python\ndef f(x):\n    while True:\n        pass\n```\n</answer>",
        "task": {"kind": "code", "language": "python", "time_limit_ms": 300,
            "tests": {"type": "call", "fn_name": "f", "cases": [
                {"args": [2], "expected": 4}, {"args": [3], "expected": 9}]}},
        "components": [{"name": "format", "weight": 1.0, "task": {"kind": "format", "style": "r1"}}]
    }))
    .unwrap();
    let mut registry = graders::Registry::with_builtins();
    registry.insert(std::sync::Arc::new(ForwardingGrader));
    // Each case may take 900 ms in the sandbox, the run 1.8 s; the deadline leaves 1.5 s, more
    // than one test's budget, so spending it is the candidate's doing.
    let ctx = graders::GradeContext::with_deadline(
        std::time::Instant::now() + std::time::Duration::from_millis(1500),
    );
    let result = graders::grade_sample(&registry, &sample, &ctx);
    assert_eq!(result.status, Status::Incorrect, "{result:?}");
}

/// The shared pool's code grader under the registry's name for it.
struct ForwardingGrader;

impl graders::Grader for ForwardingGrader {
    fn info(&self) -> graders::GraderInfo {
        code_support::grader().info()
    }

    fn grade(&self, completion: &str, task: &Task, ctx: &graders::GradeContext) -> Verdict {
        code_support::grader().grade(completion, task, ctx)
    }
}

/// A looping candidate against two code components of one sample: the first spends its own
/// budget, the second finds the deadline nearly (or wholly) spent. Neither the default deadline
/// nor the time earlier work took is the client's choice: both are `incorrect`, never `timeout`.
#[test]
fn code_components_that_share_a_spent_deadline_are_incorrect() {
    let tests = json!({"type": "assert", "entry_point": "f",
        "code": "def check(candidate):\n    assert candidate(2) == 4\n"});
    let code_task =
        json!({"kind": "code", "language": "python", "time_limit_ms": 300, "tests": tests});
    let sample: graders::contract::Sample = serde_json::from_value(json!({
        "completion": "```python\ndef f(x):\n    while True:\n        pass\n```",
        "task": code_task,
        "components": [{"name": "hidden", "weight": 1.0, "task": code_task}]
    }))
    .unwrap();
    let mut registry = graders::Registry::with_builtins();
    registry.insert(std::sync::Arc::new(ForwardingGrader));
    // One test may take 900 ms in the sandbox: the first component spends it, leaving the
    // second 300 ms (then none) of a server-default deadline.
    for deadline_ms in [1200, 900] {
        let ctx = graders::GradeContext::with_deadline(
            std::time::Instant::now() + std::time::Duration::from_millis(deadline_ms),
        );
        let result = graders::grade_sample(&registry, &sample, &ctx);
        assert_eq!(
            result.status,
            Status::Incorrect,
            "{deadline_ms}: {result:?}"
        );
    }
    // A deadline the client chose, shorter than one test's budget, is the client's: `timeout`.
    let ctx = graders::GradeContext::with_client_deadline(std::time::Duration::from_millis(400));
    let result = graders::grade_sample(&registry, &sample, &ctx);
    assert_eq!(result.status, Status::Timeout, "{result:?}");
}

/// A plugin's reward that takes no time but, as a plugin does, cannot answer once the sample's
/// deadline has passed.
struct StopwatchPlugin;

impl graders::Grader for StopwatchPlugin {
    fn info(&self) -> graders::GraderInfo {
        graders::GraderInfo {
            kind: "stopwatch".into(),
            description: "1.0 while the sample's deadline has not passed".into(),
            available: true,
            variants: Vec::new(),
            version: None,
        }
    }

    fn grade(&self, _completion: &str, _task: &Task, ctx: &graders::GradeContext) -> Verdict {
        if ctx.expired() {
            return Verdict::timeout("the sample's deadline passed before the plugin answered");
        }
        Verdict::scored(1.0)
    }
}

/// A looping candidate with a plugin's reward listed after its code (red team): the code must
/// not spend the deadline before the plugin is graded, which made the sample a `timeout` that a
/// trainer drops. The plugin is graded first; the code fails on its own, `incorrect`.
#[test]
fn a_plugin_listed_after_the_code_is_graded_before_the_code_spends_the_deadline() {
    let code_task = json!({"kind": "code", "language": "python", "time_limit_ms": 300,
        "tests": {"type": "assert", "entry_point": "f",
            "code": "def check(candidate):\n    assert candidate(2) == 4\n"}});
    let sample: graders::contract::Sample = serde_json::from_value(json!({
        "completion": "```python\ndef f(x):\n    while True:\n        pass\n```",
        "task": code_task,
        "components": [{"name": "style", "weight": 0.1, "task": {"kind": "stopwatch"}}]
    }))
    .unwrap();
    let mut registry = graders::Registry::with_builtins();
    registry.insert(std::sync::Arc::new(ForwardingGrader));
    registry.insert(std::sync::Arc::new(StopwatchPlugin));
    // A server-default deadline that one test's budget (900 ms in the sandbox) spends.
    let ctx = graders::GradeContext::with_deadline(
        std::time::Instant::now() + std::time::Duration::from_millis(900),
    );
    let result = graders::grade_sample(&registry, &sample, &ctx);
    assert_eq!(result.status, Status::Incorrect, "{result:?}");
    assert_eq!(result.components[1].status, Status::Correct, "{result:?}");
    assert!((result.reward - 0.1).abs() < 1e-12, "{result:?}");
}

/// Arguments cross as copies: what a call does to them is done to the tests' own objects too,
/// so a test that its input is left alone (or updated in place) holds as in one interpreter.
#[test]
fn arguments_the_candidate_changes_change_in_the_tests_and_identity_holds() {
    let task = |check: &str, entry_point: &str| -> Task {
        serde_json::from_value(
            json!({"kind": "code", "language": "python", "time_limit_ms": 300,
            "tests": {"type": "assert", "code": check, "entry_point": entry_point}}),
        )
        .unwrap()
    };
    let pure = "def check(candidate):\n    a = [3, 1, 2]\n    r = candidate(a)\n    assert a == [3, 1, 2], 'mutated input'\n    assert r is not a\n    assert r == [1, 2, 3]\n";
    let update = "def check(candidate):\n    a, d, s = [3, 1, 2], {'n': 1, 'gone': 0}, {1}\n    inner = a\n    assert candidate(a, d, s) is a\n    assert inner == [1, 2, 3] and d == {'n': 2} and s == {1, 2}\n";
    let items = vec![
        ("def f(a):\n    a.sort()\n    return a\n".to_string(), task(pure, "f")),
        ("def f(a):\n    return sorted(a)\n".to_string(), task(pure, "f")),
        (
            "def g(a, d, s):\n    a.sort()\n    d['n'] += 1\n    del d['gone']\n    s.add(2)\n    return a\n".to_string(),
            task(update, "g"),
        ),
    ];
    let verdicts = grade_all(&items);
    assert_eq!(verdicts[0].reward, 0.0, "{:?}", verdicts[0]);
    assert_eq!(verdicts[0].status, Status::Incorrect, "{:?}", verdicts[0]);
    assert_eq!(verdicts[1].reward, 1.0, "{:?}", verdicts[1]);
    assert_eq!(verdicts[2].reward, 1.0, "{:?}", verdicts[2]);
}

fn python_assert_task(check: &str, entry_point: &str, scoring: &str) -> Task {
    serde_json::from_value(json!({"kind": "code", "language": "python", "time_limit_ms": 300,
        "scoring": scoring, "tests": {"type": "assert", "code": check, "entry_point": entry_point}}))
    .unwrap()
}

/// The load request is no test's call: a first test that calls nothing (`assert True`, as 12
/// HumanEval tasks begin) earns no partial credit, and tests none of which call the candidate
/// are never a pass (outside red team, 2026-12-03: the first test always counted as calling).
#[test]
fn a_first_test_that_calls_nothing_earns_nothing() {
    let raising = "def f(x):\n    raise ValueError\n".to_string();
    let check = "def check(candidate):\n    assert True, 'debug'\n    assert candidate(1) == 2\n    assert candidate(2) == 4\n";
    let items = vec![
        (raising.clone(), python_assert_task(check, "f", "fraction")),
        (
            "def f(x):\n    return 0\n".to_string(),
            python_assert_task("assert True\nassert 1 == 1\n", "f", "all"),
        ),
        (
            "def f(x):\n    return 2 * x\n".to_string(),
            python_assert_task(check, "f", "fraction"),
        ),
    ];
    let verdicts = grade_all(&items);
    assert_eq!(verdicts[0].reward, 0.0, "{:?}", verdicts[0]);
    assert_eq!(verdicts[0].status, Status::Incorrect, "{:?}", verdicts[0]);
    assert_eq!(verdicts[1].reward, 0.0, "{:?}", verdicts[1]);
    assert_ne!(verdicts[1].status, Status::Correct, "{:?}", verdicts[1]);
    assert_eq!(verdicts[2].reward, 1.0, "{:?}", verdicts[2]);

    // Every HumanEval task under fraction scoring, against a candidate that only raises.
    let problems = humaneval();
    let items: Vec<(String, Task)> = problems
        .iter()
        .map(|p| {
            let mut task = p.task_with_limit(Some(300));
            if let Task::Code(code) = &mut task {
                code.scoring = graders::contract::Scoring::Fraction;
            }
            ("    raise ValueError('no')\n".to_string(), task)
        })
        .collect();
    let ids: Vec<String> = problems.iter().map(|p| p.task_id.clone()).collect();
    expect_zero_and_no_escape("raising, fraction scoring", &ids, &grade_all(&items));
}

/// A candidate whose instance exits or hangs inside a test's own `try` fails that test: the
/// test's `except Exception` must not turn the end of the candidate's instance into a pass (the
/// JavaScript harness already held this).
#[test]
fn an_exit_or_hang_inside_the_tests_own_try_fails_the_test() {
    // The ending comes in the last call, so no later call notices it.
    let check = "def check(candidate):\n    assert candidate(2) == 4\n    try:\n        candidate(-1)\n        ok = False\n    except Exception:\n        ok = True\n    assert ok\n";
    let body =
        |ending: &str| format!("def f(x):\n    if x < 0:\n        {ending}\n    return 2 * x\n");
    let items = vec![
        (
            body("import os; os._exit(0)"),
            python_assert_task(check, "f", "all"),
        ),
        (
            body("while True: pass"),
            python_assert_task(check, "f", "all"),
        ),
        (
            body("raise ValueError(x)"),
            python_assert_task(check, "f", "all"),
        ),
    ];
    let verdicts = grade_all(&items);
    for verdict in &verdicts[..2] {
        assert_eq!(verdict.reward, 0.0, "{verdict:?}");
        assert_eq!(verdict.status, Status::Incorrect, "{verdict:?}");
    }
    assert_eq!(verdicts[2].reward, 1.0, "{:?}", verdicts[2]);
}

/// An answer of any size crosses from the candidate's instance (Python caps `str(int)` at 4,300
/// digits by default).
#[test]
fn a_huge_integer_answer_crosses_whole() {
    let check = "def check(candidate):\n    assert candidate(5000) == 10 ** 5000\n";
    let verdicts = grade_all(&[(
        "def f(n):\n    return 10 ** n\n".to_string(),
        python_assert_task(check, "f", "all"),
    )]);
    assert_eq!(verdicts[0].reward, 1.0, "{:?}", verdicts[0]);
}

/// A generator, `map` or iterable class of the candidate's iterates there, item by item, so
/// `list(candidate(x))` holds for honest code; an endless one ends at the time limit, and its
/// `StopIteration` ends only its own iteration.
#[test]
fn the_candidates_iterables_iterate_in_its_instance() {
    let check = "def check(candidate):\n    assert list(candidate(4)) == [0, 1, 4, 9]\n";
    let items: Vec<(String, Task)> = [
        "def f(n):\n    for i in range(n):\n        yield i * i\n",
        "def f(n):\n    return map(lambda i: i * i, range(n))\n",
        "class It:\n    def __init__(self, n):\n        self.i, self.n = -1, n\n    def __iter__(self):\n        return self\n    def __next__(self):\n        self.i += 1\n        if self.i >= self.n:\n            raise StopIteration\n        return self.i ** 2\ndef f(n):\n    return It(n)\n",
        "def f(n):\n    for i in range(n):\n        yield i\n",
        "def f(n):\n    i = 0\n    while True:\n        yield i\n        i += 1\n",
        "def f(n):\n    return object()\n",
    ]
    .iter()
    .map(|code| (code.to_string(), python_assert_task(check, "f", "all")))
    .collect();
    let verdicts = grade_all(&items);
    let got: Vec<(f64, Status)> = verdicts.iter().map(|v| (v.reward, v.status)).collect();
    use Status::{Correct, Incorrect};
    let want = [(1.0, Correct), (1.0, Correct), (1.0, Correct)]
        .into_iter()
        .chain([(0.0, Incorrect); 3])
        .collect::<Vec<_>>();
    assert_eq!(got, want, "{verdicts:#?}");
    assert_eq!(verdicts[4].details["verdict"], "time_limit");
}

/// Test code written to run as a script (`check(f)` at the end) is graded as its `check`: the
/// call is the run we make ourselves (it failed every candidate, red team).
#[test]
fn test_code_that_calls_check_itself_is_graded_once() {
    let check = "def check(candidate):\n    assert candidate(2) == 4\n\ncheck(f)\n";
    let verdicts = grade_all(&[
        (
            "def f(x):\n    return 2 * x\n".to_string(),
            python_assert_task(check, "f", "all"),
        ),
        (
            "def f(x):\n    return x\n".to_string(),
            python_assert_task(check, "f", "all"),
        ),
    ]);
    assert_eq!(verdicts[0].reward, 1.0, "{:?}", verdicts[0]);
    assert_eq!(verdicts[1].reward, 0.0, "{:?}", verdicts[1]);
    assert_eq!(verdicts[1].status, Status::Incorrect, "{:?}", verdicts[1]);
}

/// The peak resident memory of this process, in bytes, since `reset_peak_memory`.
fn peak_memory() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn reset_peak_memory() {
    // "5" resets the peak resident set size (Linux 4.0 and later).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A `call` candidate shares its instance with the harness and can forge records (the host
/// compares what they claim, so a forgery earns nothing). Red team: it filled the output of
/// four runs with forged records of arrays nested 120 deep, and the host parsed them all, 4.2
/// GB for one sample; with arrays and objects bounded, of flat arrays of numbers, 2.3 GB. The
/// values read from a sample's records are now bounded, so such a sample is `incorrect`
/// within a bounded footprint, and honest results are read whole.
#[test]
fn forged_records_cannot_fill_the_hosts_memory() {
    let attack = "import sys\n\
        def f(x):\n\
        \x20   fr = sys._getframe()\n\
        \x20   while fr is not None and 'nonce' not in fr.f_locals:\n\
        \x20       fr = fr.f_back\n\
        \x20   nonce = fr.f_locals['nonce']\n\
        \x20   out = sys.__stdout__\n\
        \x20   deep = '[' * 120 + ']' * 120\n\
        \x20   out.write(nonce + ' {\"k\":\"case\",\"i\":0,\"value\":-1}\\n')\n\
        \x20   chunk = (nonce + ' {\"k\":\"x\",\"v\":' + deep + '}\\n') * 1000\n\
        \x20   try:\n\
        \x20       while True:\n\
        \x20           out.write(chunk)\n\
        \x20           out.flush()\n\
        \x20   except BaseException:\n\
        \x20       pass\n\
        \x20   return -1\n";
    let cases: Vec<Value> = (0..10)
        .map(|i| json!({"args": [i], "expected": i}))
        .collect();
    let task: Task = serde_json::from_value(json!({"kind": "code", "language": "python",
        "tests": {"type": "call", "fn_name": "f", "cases": cases}}))
    .unwrap();
    reset_peak_memory();
    let verdicts = grade_all(&[(attack.to_string(), task.clone())]);
    let peak = peak_memory();
    assert_eq!(verdicts[0].status, Status::Incorrect, "{:?}", verdicts[0]);
    assert_eq!(verdicts[0].reward, 0.0, "{:?}", verdicts[0]);
    // Four runs' outputs (64 MiB) and a million parsed values (~100 MB) at most; 4.2 GB before.
    assert!(peak < 1 << 30, "peak resident memory {} MiB", peak >> 20);
    // The same with flat arrays of numbers, two bytes of text each (red team: 2.3 GB when only
    // arrays and objects were counted).
    let flat = attack
        .replace(
            "deep = '[' * 120 + ']' * 120",
            "deep = '[' + '0,' * 2000000 + '0]'",
        )
        .replace("+ '}\\n') * 1000", "+ '}\\n')");
    reset_peak_memory();
    assert!(
        flat.contains("'0,' * 2000000") && !flat.contains("* 1000"),
        "{flat}"
    );
    let verdicts = grade_all(&[(flat, task.clone())]);
    let peak = peak_memory();
    assert_eq!(verdicts[0].status, Status::Incorrect, "{:?}", verdicts[0]);
    // ~12M parsed numbers at most: 0.9 GB in `verifier grade` (2.3 GB before), a little more in
    // this test's process.
    assert!(peak < 3 << 29, "peak resident memory {} MiB", peak >> 20);
    let honest = grade_all(&[("def f(x):\n    return x\n".to_string(), task)]);
    assert_eq!(honest[0].reward, 1.0, "{:?}", honest[0]);
    // An honest result of 1.1M numbers is read whole (a first bound of a million values failed
    // it, and HumanEval+'s HumanEval/130 with it).
    let zeros = Value::Array(vec![json!(0); 1_100_000]);
    let big: Task = serde_json::from_value(json!({"kind": "code", "language": "python",
        "tests": {"type": "call", "fn_name": "f", "cases": [{"args": [1_100_000], "expected": zeros}]}}))
    .unwrap();
    let verdicts = grade_all(&[("def f(n):\n    return [0] * n\n".to_string(), big)]);
    assert_eq!(verdicts[0].status, Status::Correct, "{:?}", verdicts[0]);
}

#[test]
fn source_too_complex_to_parse_is_a_failure_of_its_own_kind_in_both_modes() {
    // CPython's parser gives up on 10,000 nested unary minuses with a `MemoryError`; compiling
    // can also run out of memory for real. That is the candidate's failure, as a limit or a
    // runtime error, not a syntax error (call mode called every compile failure one).
    let code = format!("x = {}1\ndef f(a):\n    return a\n", "-".repeat(10_000));
    let call: Task = serde_json::from_value(json!({"kind": "code", "language": "python",
        "tests": {"type": "call", "fn_name": "f", "cases": [{"args": [1], "expected": 1}]}}))
    .unwrap();
    let assert: Task = serde_json::from_value(json!({"kind": "code", "language": "python",
        "tests": {"type": "assert", "entry_point": "f",
                  "code": "def check(candidate):\n    assert candidate(1) == 1\n"}}))
    .unwrap();
    let indented = "def f(a):\nreturn a\n".to_string();
    let verdicts = grade_all(&[
        (code.clone(), call.clone()),
        (code, assert.clone()),
        (indented.clone(), call),
        (indented, assert),
    ]);
    let kinds: Vec<&str> = verdicts
        .iter()
        .map(|v| v.details["verdict"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        kinds,
        [
            "memory_limit",
            "memory_limit",
            "syntax_error",
            "syntax_error"
        ],
        "{verdicts:#?}"
    );
    for verdict in &verdicts {
        assert_eq!(verdict.status, Status::Incorrect, "{verdict:?}");
    }
}

#[test]
fn an_answer_keyed_by_half_an_emoji_keeps_its_case_and_the_cases_after_it() {
    // A lone surrogate is written as a `\ud83d` escape, in keys too, which the host's JSON reader
    // refused: the case's record was lost, and with it every later case, under `fraction` as
    // well (red team). Read with U+FFFD for the half, as the expected value holds it.
    let code = "def f(s):\n    return {chr(0xD83D): 1} if s == 'x' else len(s)\n";
    let task: Task = serde_json::from_value(json!({"kind": "code", "language": "python",
        "scoring": "fraction",
        "tests": {"type": "call", "fn_name": "f", "cases": [
            {"args": ["x"], "expected": {"\u{fffd}": 1}},
            {"args": ["ab"], "expected": 2},
            {"args": ["abc"], "expected": 4}]}}))
    .unwrap();
    let verdict = grade_all(&[(code.to_string(), task)]).remove(0);
    let tests: Vec<&str> = verdict.details["tests"]
        .as_array()
        .expect("per-test verdicts")
        .iter()
        .map(|t| t.as_str().unwrap_or("?"))
        .collect();
    assert_eq!(tests, ["passed", "passed", "wrong_answer"], "{verdict:?}");
    assert!((verdict.reward - 2.0 / 3.0).abs() < 1e-9, "{verdict:?}");
}
