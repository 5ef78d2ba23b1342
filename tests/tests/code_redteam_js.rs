//! JavaScript `assert` tests attacked as a policy would attack them (issue 12), through the real
//! grader and sandbox pool. The tests' `check(candidate)` runs in one instance and the candidate's
//! code in another, run afresh for each call: every attack on the realm the two used to share
//! (the tests' source through the caller chain, `toJSON` and `JSON.stringify` replacements that
//! rewrite records, prototype pollution) must find nothing, score 0, and never come back `error`
//! or `timeout`. And real solutions must still pass, with every kind of value crossing exactly.

mod code_support;

use code_support::{grade_all, worker_entry};
use graders::contract::{CodeLanguage, CodeTask, CodeTests, Scoring, Task};
use graders::{Status, Verdict};
use serde_json::{json, Value};

/// Not a test: the entry point of the sandbox worker processes started from this binary.
#[test]
fn sandbox_worker_entry() {
    worker_entry();
}

fn assert_task(check: &str, entry_point: &str, time_limit_ms: u64) -> Task {
    Task::Code(CodeTask {
        language: CodeLanguage::Javascript,
        tests: CodeTests::Assert {
            code: check.into(),
            entry_point: entry_point.into(),
        },
        prefix: None,
        scoring: Scoring::All,
        time_limit_ms: Some(time_limit_ms),
        memory_limit_mb: Some(64),
        float_tolerance: None,
        compare: Default::default(),
    })
}

/// A HumanEval-X-style check with its expected values as literals in its source.
const ADD_CHECK: &str = "function check(candidate) {\n\
  if (candidate(2, 3) !== 5) throw new Error('2+3');\n\
  if (candidate(40, 2) !== 42) throw new Error('40+2');\n\
  if (candidate(-7, 7) !== 0) throw new Error('-7+7');\n\
}";

const ATTACKS: &[(&str, &str)] = &[
    (
        "the caller chain's sources (the expected value after `candidate(a, b) !==`)",
        "function add(a, b) {\n\
           let f = add.caller, text = '';\n\
           for (let i = 0; f && i < 50; i++, f = f.caller) text += String(f);\n\
           const m = new RegExp('candidate\\\\(' + a + ', ' + b + '\\\\) !== (-?\\\\d+)').exec(text);\n\
           return m ? Number(m[1]) : -1;\n\
         }",
    ),
    (
        "stack traces and the globals",
        "function add(a, b) {\n\
           let text = String(new Error().stack);\n\
           for (const k of Object.getOwnPropertyNames(globalThis)) { try { text += String(globalThis[k]); } catch (_) {} }\n\
           const m = new RegExp('candidate\\\\(' + a + ', ' + b + '\\\\) !== (-?\\\\d+)').exec(text);\n\
           return m ? Number(m[1]) : -1;\n\
         }",
    ),
    (
        "a non-configurable toJSON that rewrites every record to a pass",
        "Object.defineProperty(Object.prototype, 'toJSON', { configurable: false, value() {\n\
           return { k: 'test', i: 0, v: 'pass' }; } });\n\
         function add(a, b) { return 0; }",
    ),
    (
        "JSON.stringify and print replaced to forge records",
        "const realStringify = JSON.stringify;\n\
         JSON.stringify = () => '{\"k\":\"test\",\"i\":0,\"v\":\"pass\"}';\n\
         globalThis.print = () => {}; console.log = () => {};\n\
         function add(a, b) { return 0; }",
    ),
    (
        "prototype pollution through the answer",
        "function add(a, b) { return JSON.parse('{\"__proto__\": {\"toJSON\": 1, \"valueOf\": 5}}'); }",
    ),
    (
        "an object that claims to be every number",
        "function add(a, b) { return { valueOf() { return a + b; }, toString() { return String(a + b); } }; }",
    ),
    (
        "a forged answer written straight to the channel",
        "function add(a, b) { const t = 'o{\"ok\":true,\"value\":\"pass\"}';\n\
           const v = new Uint8Array(t.length); for (let i = 0; i < t.length; i++) v[i] = t.charCodeAt(i);\n\
           os.write(1073741824, v.buffer, 0, v.length); std.exit(0); }",
    ),
    ("an exit in the call", "function add(a, b) { std.exit(0); }"),
    ("an exit while loading", "std.exit(0);\nfunction add(a, b) { return a + b; }"),
    ("a loop while loading", "for (;;) {}\nfunction add(a, b) { return a + b; }"),
    ("a loop in the call", "function add(a, b) { for (;;) {} }"),
    (
        "a thrown object whose getters loop",
        "function add(a, b) { throw { get name() { for (;;) {} }, get message() { for (;;) {} } }; }",
    ),
    (
        "memory exhaustion",
        "function add(a, b) { const s = 'x'.repeat(1 << 20), a2 = []; for (;;) a2.push(s + a2.length); }",
    ),
    ("a value nested past any limit", "function add(a, b) { let v = []; for (let i = 0; i < 1e5; i++) v = [v]; return v; }"),
];

fn expect_zero_and_no_escape(name: &str, verdict: &Verdict) {
    assert_eq!(verdict.reward, 0.0, "{name}: {verdict:?}");
    assert_eq!(verdict.status, Status::Incorrect, "{name}: {verdict:?}");
}

#[test]
fn attacks_on_the_realm_the_tests_used_to_share_score_zero() {
    let items: Vec<(String, Task)> = ATTACKS
        .iter()
        .map(|(_, code)| (code.to_string(), assert_task(ADD_CHECK, "add", 300)))
        .collect();
    let verdicts = grade_all(&items);
    for ((name, _), verdict) in ATTACKS.iter().zip(&verdicts) {
        println!(
            "{name}: {} {}",
            verdict.status.as_str(),
            verdict.details["verdict"]
        );
        expect_zero_and_no_escape(name, verdict);
    }
    // The same attacks' target, solved honestly, passes.
    let right = grade_all(&[(
        "function add(a, b) { return a + b; }".to_string(),
        assert_task(ADD_CHECK, "add", 300),
    )]);
    assert_eq!(right[0].reward, 1.0, "{:?}", right[0]);
}

/// A reply written straight to the channel, nested deeper than QuickJS's parser can recurse
/// under WebAssembly (its stack check does not work there): before the nesting was counted, 4,000
/// levels trapped the tests' instance and 6,000 corrupted it into a hang (red team). Now each
/// is refused unparsed, as the candidate's failure, at any depth and whatever the brackets.
#[test]
fn a_reply_nested_past_the_parsers_stack_is_refused_before_parsing() {
    let forged = |opening: &str, depth: usize| {
        format!(
            "function add(a, b) {{\n\
               const t = 'o{{\"ok\":true,\"value\":5,\"args\":' + '{opening}'.repeat({depth});\n\
               const v = new Uint8Array(t.length); for (let i = 0; i < t.length; i++) v[i] = t.charCodeAt(i);\n\
               os.write(1073741824, v.buffer, 0, v.length); std.exit(0); }}"
        )
    };
    let mut items = Vec::new();
    for depth in [250, 2_000, 4_000, 6_000, 100_000] {
        items.push((forged("[", depth), assert_task(ADD_CHECK, "add", 2_000)));
    }
    items.push((
        forged("{\"a\":", 6_000),
        assert_task(ADD_CHECK, "add", 2_000),
    ));
    // Brackets inside strings are not nesting: a deep-looking string still crosses.
    items.push((
        "function add(a, b) { return '['.repeat(10000).length === 10000 ? a + b : 0; }".to_string(),
        assert_task(ADD_CHECK, "add", 2_000),
    ));
    items.push((
        "function add(a, b) { const s = '[{'.repeat(5000); return s.length === 10000 ? a + b : s; }"
            .to_string(),
        assert_task(ADD_CHECK, "add", 2_000),
    ));
    let verdicts = grade_all(&items);
    for (i, verdict) in verdicts[..6].iter().enumerate() {
        let name = format!("forged reply {i}");
        expect_zero_and_no_escape(&name, verdict);
        let text = Value::Object((*verdict.details).clone()).to_string();
        assert!(!text.contains("trap"), "{name}: {text}");
        assert_ne!(verdict.details["verdict"], "time_limit", "{name}: {text}");
    }
    for verdict in &verdicts[6..] {
        assert_eq!(verdict.reward, 1.0, "{verdict:?}");
    }
}

/// An `async` check asserts in a promise: its failed assertions are rejections, not throws. A
/// red team found every completion passing such a check, the promise never read; it is now
/// judged when it settles, and one that never settles earns nothing.
#[test]
fn an_async_check_is_judged_when_its_promise_settles() {
    let check = "async function check(candidate) {\n\
      await null;\n\
      if (candidate(2, 3) !== 5) throw new Error('2+3');\n\
      if (candidate(40, 2) !== 42) throw new Error('40+2');\n\
    }";
    let wrong = [
        "function add(a, b) { return 0; }",
        "function add(a, b) { throw new Error('no'); }",
        "function add(a, b) { for (;;) {} }",
    ];
    for code in wrong {
        let verdict = grade_all(&[(code.to_string(), assert_task(check, "add", 300))]).remove(0);
        expect_zero_and_no_escape(code, &verdict);
    }
    let right = "function add(a, b) { return a + b; }";
    let verdict = grade_all(&[(right.to_string(), assert_task(check, "add", 300))]).remove(0);
    assert_eq!(verdict.reward, 1.0, "{verdict:?}");
    // A check whose promise never settles has not passed, whatever the candidate.
    let never = "function check(candidate) { candidate(2, 3); return new Promise(() => {}); }";
    let verdict = grade_all(&[(right.to_string(), assert_task(never, "add", 300))]).remove(0);
    assert_eq!(verdict.reward, 0.0, "{verdict:?}");
    assert_ne!(verdict.status, Status::Correct, "{verdict:?}");
}

#[test]
fn a_call_that_fails_inside_the_tests_own_try_still_fails_the_test() {
    // The test expects an exception for -1, and catches whatever comes: a candidate that loops
    // or exits there must not pass because the test caught the failure.
    let check = "function check(candidate) {\n\
      let threw = false;\n\
      try { candidate(-1); } catch (e) { threw = true; }\n\
      if (!threw) throw new Error('no error for -1');\n\
    }";
    for code in [
        "function root(x) { if (x < 0) for (;;) {} return Math.sqrt(x); }",
        "function root(x) { if (x < 0) std.exit(1); return Math.sqrt(x); }",
    ] {
        let verdict = grade_all(&[(code.to_string(), assert_task(check, "root", 300))]).remove(0);
        expect_zero_and_no_escape(code, &verdict);
    }
    let right =
        "function root(x) { if (x < 0) throw new RangeError('negative'); return Math.sqrt(x); }";
    let verdict = grade_all(&[(right.to_string(), assert_task(check, "root", 300))]).remove(0);
    assert_eq!(verdict.reward, 1.0, "{verdict:?}");
}

#[test]
fn every_kind_of_plain_value_and_the_candidates_errors_cross_exactly() {
    let check = r#"function check(candidate) {
  const same = (a, b) => Object.is(a, b) || (typeof a === "object" && a !== null && typeof b === "object" && b !== null
    && Array.isArray(a) === Array.isArray(b) && Object.keys(a).length === Object.keys(b).length
    && Object.keys(a).every((k) => Object.prototype.hasOwnProperty.call(b, k) && same(a[k], b[k])));
  const cases = [
    [1n << 80n], [NaN], [-0], [Infinity], [undefined], ["é€𝄞\u0000\n"], [[1, [2, [3]]]],
    [{ $int: "5" }], [{ $obj: 1 }], [JSON.parse('{"__proto__": {"x": 1}}')], [{ a: null, b: [true, 2.5] }],
  ];
  for (const [value] of cases) {
    const back = candidate(value);
    if (!same(back, value)) throw new Error("did not cross exactly: " + String(value));
  }
  if (({}).x !== undefined) throw new Error("polluted");
  try { candidate("boom"); throw new Error("no error"); }
  catch (e) { if (!(e instanceof RangeError) || e.message !== "boom") throw e; }
  try { candidate("custom"); throw new Error("no error"); }
  catch (e) { if (e.name !== "ValidationError" || e.message !== "custom") throw e; }
  let calledBack = false;
  try { candidate(() => 1); } catch (e) { calledBack = e instanceof TypeError; }
  if (!calledBack) throw new Error("a function crossed");
}"#;
    let code = r#"class ValidationError extends Error {}
function echo(value) {
  if (value === "boom") throw new RangeError("boom");
  if (value === "custom") throw new ValidationError("custom");
  return value;
}"#;
    let verdict = grade_all(&[(code.to_string(), assert_task(check, "echo", 2_000))]).remove(0);
    assert_eq!(verdict.reward, 1.0, "{verdict:?}");
}

#[test]
fn load_failures_and_tests_that_never_call_the_candidate_earn_nothing() {
    let syntax = grade_all(&[(
        "function add(a, b) { return a +; }".to_string(),
        assert_task(ADD_CHECK, "add", 300),
    )])
    .remove(0);
    assert_eq!(syntax.details["verdict"], "syntax_error", "{syntax:?}");
    let missing = grade_all(&[(
        "function plus(a, b) { return a + b; }".to_string(),
        assert_task(ADD_CHECK, "add", 300),
    )])
    .remove(0);
    assert_eq!(missing.status, Status::Incorrect, "{missing:?}");
    let idle = "function check(candidate) { if (1 + 1 !== 2) throw new Error('math'); }";
    let verdict = grade_all(&[(
        "function add(a, b) { return a + b; }".to_string(),
        assert_task(idle, "add", 300),
    )])
    .remove(0);
    assert_eq!(verdict.status, Status::Error, "{verdict:?}");
}

#[test]
fn arguments_the_candidate_changes_change_in_the_tests_and_identity_holds() {
    // Must not mutate its input, must return a new array: a candidate that sorts in place and
    // returns its input fails both, as it would in one realm.
    let pure = "function check(candidate) {\n\
      const a = [3, 1, 2]; const r = candidate(a);\n\
      if (a.join() !== '3,1,2') throw new Error('mutated input');\n\
      if (r === a) throw new Error('must return a new array');\n\
      if (r.join() !== '1,2,3') throw new Error('wrong');\n\
    }";
    let in_place = "function sorted(a) { a.sort((x, y) => x - y); return a; }";
    let copy = "function sorted(a) { return [...a].sort((x, y) => x - y); }";
    let verdicts = grade_all(&[
        (in_place.to_string(), assert_task(pure, "sorted", 300)),
        (copy.to_string(), assert_task(pure, "sorted", 300)),
    ]);
    assert_eq!(verdicts[0].reward, 0.0, "{:?}", verdicts[0]);
    assert_eq!(verdicts[1].reward, 1.0, "{:?}", verdicts[1]);
    // An in-place update is seen by the tests, nested objects included.
    let update = "function check(candidate) {\n\
      const a = [3, 1, 2], o = { n: 1, inner: { k: [] } };\n\
      if (candidate(a, o) !== a) throw new Error('not the same array');\n\
      if (a.join() !== '1,2,3' || o.n !== 2 || o.inner.k.length !== 1 || 'gone' in o) throw new Error('not updated');\n\
    }";
    let right = "function sortInPlace(a, o) { a.sort(); o.n += 1; o.inner.k.push(1); delete o.gone; return a; }";
    let verdict =
        grade_all(&[(right.to_string(), assert_task(update, "sortInPlace", 300))]).remove(0);
    assert_eq!(verdict.reward, 1.0, "{verdict:?}");
}

#[test]
fn the_prompts_helpers_run_on_the_tests_side_from_the_prompt() {
    let prefix = "function encodeShift(s) {\n\
      return [...s].map((c) => String.fromCharCode(((c.charCodeAt(0) + 5 - 97) % 26) + 97)).join('');\n\
    }\n\
    function decodeShift(s) {\n";
    let check = "function check(candidate) {\n\
      for (const s of ['hello', 'xyz', 'abc']) if (candidate(encodeShift(s)) !== s) throw new Error(s);\n\
      if (decodeShift(encodeShift('q')) !== 'q') throw new Error('by name');\n\
    }";
    let task = |code: &str| {
        let mut task = assert_task(check, "decodeShift", 300);
        if let Task::Code(code_task) = &mut task {
            code_task.prefix = Some(prefix.into());
        }
        (code.to_string(), task)
    };
    let right = "  return [...s].map((c) => String.fromCharCode(((c.charCodeAt(0) - 5 - 97 + 26) % 26) + 97)).join('');\n}";
    // Redefining the helper as the identity (so that `candidate(x) = x` passes) changes only the
    // candidate's own instance.
    let hack = "  return s;\n}\nfunction encodeShift(s) { return s; }";
    let verdicts = grade_all(&[task(right), task(hack)]);
    assert_eq!(verdicts[0].reward, 1.0, "{:?}", verdicts[0]);
    assert_eq!(verdicts[1].reward, 0.0, "{:?}", verdicts[1]);
    assert_eq!(verdicts[1].status, Status::Incorrect, "{:?}", verdicts[1]);
}

/// A returned object shaped like one of the host's tags (`{$int: "5"}`) is an object, not the
/// integer it spells: `call` tests compare on the host, which reads those tags.
#[test]
fn an_object_shaped_like_a_tag_is_not_the_value_it_spells() {
    let task = |expected: Value| -> Task {
        serde_json::from_value(json!({"kind": "code", "language": "javascript",
            "time_limit_ms": 300, "tests": {"type": "call", "fn_name": "f",
            "cases": [{"args": [1], "expected": expected}]}}))
        .unwrap()
    };
    let items = vec![
        (
            "function f(x) { return {$int: '5'}; }".to_string(),
            task(json!(5)),
        ),
        (
            "function f(x) { return {$float: 'nan'}; }".to_string(),
            task(json!({"$float": "nan"})),
        ),
        ("function f(x) { return 5; }".to_string(), task(json!(5))),
    ];
    let verdicts = grade_all(&items);
    for verdict in &verdicts[..2] {
        assert_eq!(verdict.reward, 0.0, "{verdict:?}");
        assert_eq!(verdict.status, Status::Incorrect, "{verdict:?}");
    }
    assert_eq!(verdicts[2].reward, 1.0, "{:?}", verdicts[2]);
}

/// The candidate's instance runs afresh for each call, and keeps nothing between calls: not
/// even what it wrote. Red team: the run's one stdout (capped at 16 MiB) was shared by every
/// call, so a call could tell how much earlier calls had written from how much of its own
/// write fitted, a counter that survived the calls. Each call now writes to fresh streams, so
/// the same write fits whole every time.
#[test]
fn a_call_cannot_see_what_earlier_calls_wrote() {
    let writer = "function add(a, b) {\n\
                    const buffer = new Uint8Array(6 << 20);\n\
                    return os.write(1, buffer.buffer, 0, buffer.length);\n\
                  }";
    let check = "function check(candidate) {\n\
                   const written = [];\n\
                   for (let i = 0; i < 4; i++) written.push(candidate(i, 1));\n\
                   if (new Set(written).size !== 1) throw new Error(JSON.stringify(written));\n\
                 }";
    let verdict = grade_all(&[(writer.to_string(), assert_task(check, "add", 5000))]).remove(0);
    assert_eq!(verdict.status, Status::Correct, "{verdict:?}");
}

/// A timer the candidate leaves behind must not hold the sandbox once the run's verdicts are
/// written: beside a right answer, `os.setTimeout(f, 1e9)` kept a `call` run waiting for its
/// event loop to empty until the sample's deadline (10 s for a 3 ms run, red team), which a
/// policy could make every sample cost. The run ends at its `done` record now.
#[test]
fn a_timer_left_behind_does_not_hold_a_finished_run() {
    use graders::contract::CallCase;
    let task = Task::Code(CodeTask {
        language: CodeLanguage::Javascript,
        tests: CodeTests::Call {
            fn_name: "next".into(),
            cases: (0..3)
                .map(|i| CallCase {
                    args: vec![json!(i)],
                    expected: json!(i + 1),
                })
                .collect(),
        },
        prefix: None,
        scoring: Scoring::All,
        time_limit_ms: Some(20_000),
        memory_limit_mb: Some(64),
        float_tolerance: None,
        compare: Default::default(),
    });
    let started = std::time::Instant::now();
    let verdicts = grade_all(&[(
        "function next(x) { os.setTimeout(() => {}, 1e9); return x + 1; }".to_string(),
        task,
    )]);
    let took = started.elapsed();
    assert_eq!(verdicts[0].reward, 1.0, "{:?}", verdicts[0]);
    // Without the fix the run lasts its whole budget (20 s a case); with it, milliseconds.
    assert!(
        took < std::time::Duration::from_secs(8),
        "the run waited for the timer: {took:?}"
    );
}

#[test]
fn an_error_whose_name_holds_a_lone_surrogate_still_fails_its_test_on_record() {
    // `JSON.stringify` writes a lone surrogate as an escape the host's JSON reader refuses; the
    // record once went missing, and only "no record counts as a failure" kept this at 0 (red team).
    let code = "function add(a, b) {\n\
                  const error = new Error('no');\n\
                  error.name = 'AssertionError\\ud800';\n\
                  throw error;\n\
                }";
    let verdict = grade_all(&[(code.to_string(), assert_task(ADD_CHECK, "add", 2_000))]).remove(0);
    assert_eq!(verdict.reward, 0.0, "{verdict:?}");
    assert_eq!(verdict.status, Status::Incorrect, "{verdict:?}");
    let details = format!("{:?}", verdict.details);
    assert!(details.contains("AssertionError"), "{details}");
    assert!(!details.contains("without a verdict"), "{details}");
}
