//! Conformance of the math grader with `shared/conformance/math/` (see its README).
//!
//! Each case's `config` (Math-Verify's extraction targets, boxed priority, float rounding,
//! strictness, relation-vs-set comparison) is mapped onto the grader's own task options; nothing
//! is special-cased. Agreement is printed per category and per source; the test fails below the
//! bars of issues 3 and 13: 98% on `math_verify_cases.jsonl`, all 21 issue reproducers.

use std::collections::BTreeMap;
use std::time::Instant;

use graders::contract::{MathTask, Status, Task};
use graders::math::{extract_answer, MathOptions, Targets};
use graders::{GradeContext, Registry};
use serde_json::{json, Map, Value};

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/conformance/math/"
);

fn read_cases(name: &str) -> Vec<Value> {
    let path = format!("{DIR}{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON case"))
        .collect()
}

/// Math-Verify extraction configs as our target names, plus the boxed priority they imply.
fn map_targets(configs: &Value) -> (Vec<&'static str>, Option<i64>) {
    let mut targets = Vec::new();
    let mut boxed = None;
    for c in configs.as_array().into_iter().flatten() {
        let c = c.as_str().unwrap_or_default();
        if c.starts_with("LatexExtractionConfig") {
            targets.push("latex");
            boxed = Some(if let Some(p) = c.split("boxed_match_priority=").nth(1) {
                p.trim_end_matches(')').parse().unwrap_or(50)
            } else {
                50
            });
        } else if c.starts_with("ExprExtractionConfig") {
            targets.push("expr");
        } else if c.starts_with("StringExtractionConfig") {
            targets.push("choice");
        }
    }
    (targets, boxed)
}

/// Our task options for a verify case's `config`.
fn options_for(config: &Value) -> Map<String, Value> {
    let mut options = Map::new();
    let (gold, gold_boxed) = map_targets(&config["gold_extraction"]);
    let pred_config = match &config["pred_extraction"] {
        Value::Array(_) => config["pred_extraction"].clone(),
        _ => config["gold_extraction"].clone(),
    };
    let (pred, pred_boxed) = map_targets(&pred_config);
    if !gold.is_empty() {
        options.insert("gold_targets".into(), json!(gold));
    }
    if !pred.is_empty() {
        options.insert("answer_targets".into(), json!(pred));
    }
    if let Some(p) = pred_boxed.or(gold_boxed) {
        options.insert("boxed_priority".into(), json!(p));
    }
    if let Some(r) = config["float_rounding"].as_u64() {
        options.insert("float_rounding".into(), json!(r));
    }
    if let Some(s) = config["strict"].as_bool() {
        options.insert("strict".into(), json!(s));
    }
    if let Some(a) = config["allow_set_relation_comp"].as_bool() {
        options.insert("allow_set_relation".into(), json!(a));
    }
    if config["pred"]
        .as_str()
        .is_some_and(|p| p.contains("try_extract_without_anchor=False"))
    {
        options.insert("require_anchor".into(), json!(true));
    }
    options
}

fn grade(completion: &str, gold: &str, options: Map<String, Value>) -> graders::Verdict {
    let task = Task::Math(MathTask {
        answer: gold.to_string(),
        options,
    });
    Registry::with_builtins().grade(completion, &task, &GradeContext::default())
}

/// `sympy.Rational(1, 3) + 1` and `sympy.Float(0.333)` as plain text.
fn from_sympy_source(s: &str) -> String {
    let mut out = s.replace("sympy.Float(", "(");
    while let Some(i) = out.find("sympy.Rational(") {
        let rest = &out[i + "sympy.Rational(".len()..];
        let close = rest.find(')').unwrap_or(rest.len());
        let inner = rest[..close].replace(", ", "/").replace(',', "/");
        out = format!(
            "{}({inner}){}",
            &out[..i],
            &rest[(close + 1).min(rest.len())..]
        );
    }
    out
}

/// A verify case: does the grader agree with `expected`?
fn verify_case(case: &Value) -> bool {
    let expected = case["expected"].as_bool().unwrap_or(false);
    let config = &case["config"];
    let (gold, pred, options) = if case["kind"] == "sympy_expr_eq" {
        let mut options = Map::new();
        options.insert("float_rounding".into(), config["float_rounding"].clone());
        options.insert("answer_targets".into(), json!(["expr"]));
        options.insert("gold_targets".into(), json!(["expr"]));
        (
            from_sympy_source(case["gold"].as_str().unwrap_or_default()),
            from_sympy_source(case["prediction"].as_str().unwrap_or_default()),
            options,
        )
    } else {
        (
            case["gold"].as_str().unwrap_or_default().to_string(),
            case["prediction"].as_str().unwrap_or_default().to_string(),
            options_for(config),
        )
    };
    let verdict = grade(&pred, &gold, options);
    (verdict.status == Status::Correct) == expected
}

/// Sympy spellings in parse expectations, as our plain notation.
fn expected_expr(s: &str) -> String {
    s.replace("EulerGamma", "\\Gamma")
}

/// A parse case: what extraction finds in `prediction` under `config.extraction`.
fn parse_case(case: &Value) -> bool {
    let config = &case["config"];
    let (kinds, boxed) = map_targets(&config["extraction"]);
    let mut map = Map::new();
    map.insert("answer_targets".into(), json!(kinds));
    map.insert("boxed_priority".into(), json!(boxed.unwrap_or(50)));
    if config["extraction"]
        .to_string()
        .contains("strings=(\\\"U\\\",)")
    {
        map.insert("choices".into(), json!(["U"]));
    }
    let options = MathOptions::from_map(&map).expect("options");
    let first_match = config["extraction_mode"] == "first_match";
    let pred = case["prediction"].as_str().unwrap_or_default();
    let found = extract_answer(pred, &options.answer, first_match);
    let expected: Vec<String> = case["expected"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let equals = |found: &graders::math::Extracted, text: &str| -> bool {
        let targets = Targets {
            latex: true,
            expr: true,
            choices: Vec::new(),
            boxed_priority: Some(0),
            without_anchor: true,
            whole_text: true,
            whole_text_is_answer: false,
        };
        let Some(want) = extract_answer(&expected_expr(text), &targets, false).answer else {
            return false;
        };
        graders::math::equivalent(
            &want.expr,
            &found.expr,
            &Default::default(),
            &GradeContext::default(),
        )
        .unwrap_or(false)
            || found.text.eq_ignore_ascii_case(text)
    };
    match config["compare"].as_str().unwrap_or("exact_list") {
        "no_integer" => !found.answer.is_some_and(|a| {
            matches!(a.expr, graders::math::Expr::Num { ref value, decimals: None } if value.is_integer())
        }),
        "first_value_not" => !found.answer.is_some_and(|a| equals(&a, &expected[0])),
        "first_value_equals_first_match_mode" => {
            let first = extract_answer(pred, &options.answer, true).answer;
            match (found.answer, first) {
                (Some(a), Some(b)) => a.expr == b.expr,
                (None, None) => true,
                _ => false,
            }
        }
        _ if expected.is_empty() => found.answer.is_none(),
        _ => found.answer.is_some_and(|a| equals(&a, &expected[0])),
    }
}

struct Tally {
    by_group: BTreeMap<String, (usize, usize)>,
    failures: Vec<String>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            by_group: BTreeMap::new(),
            failures: Vec::new(),
        }
    }

    fn record(&mut self, group: &str, passed: bool, case: &Value) {
        let entry = self.by_group.entry(group.to_string()).or_default();
        entry.1 += 1;
        if passed {
            entry.0 += 1;
        } else {
            let short = |v: &Value| {
                let s = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                if s.len() > 120 {
                    format!(
                        "{}…{}",
                        &s[..s.floor_char_boundary(50)],
                        &s[s.floor_char_boundary(s.len() - 60)..]
                    )
                } else {
                    s
                }
            };
            self.failures.push(format!(
                "  {} [{}] expected {}: gold {:?} prediction {:?}",
                case["id"].as_str().unwrap_or("?"),
                group,
                case["expected"],
                short(&case["gold"]),
                short(&case["prediction"]),
            ));
        }
    }

    fn total(&self) -> (usize, usize) {
        self.by_group
            .values()
            .fold((0, 0), |acc, (p, n)| (acc.0 + p, acc.1 + n))
    }

    fn print(&self, title: &str) {
        let (passed, total) = self.total();
        println!(
            "== {title}: {passed}/{total} ({:.1}%)",
            100.0 * passed as f64 / total.max(1) as f64
        );
        for (group, (p, n)) in &self.by_group {
            println!(
                "  {group:<16} {p:>3}/{n:<3} {:>5.1}%",
                100.0 * *p as f64 / *n as f64
            );
        }
        if !self.failures.is_empty() {
            println!(" disagreements:");
            for f in &self.failures {
                println!("{f}");
            }
        }
    }
}

#[test]
fn math_verify_cases_agree() {
    let mut tally = Tally::new();
    for case in read_cases("math_verify_cases.jsonl") {
        let passed = match case["kind"].as_str() {
            Some("parse") => parse_case(&case),
            _ => verify_case(&case),
        };
        tally.record(case["category"].as_str().unwrap_or("?"), passed, &case);
    }
    tally.print("math_verify_cases.jsonl");
    let (passed, total) = tally.total();
    let agreement = passed as f64 / total as f64;
    assert!(
        agreement >= 0.98,
        "agreement {:.1}% is below the 98% bar",
        agreement * 100.0
    );
}

#[test]
fn math_verify_issue_cases_agree() {
    let mut tally = Tally::new();
    for case in read_cases("math_verify_issue_cases.jsonl") {
        let passed = if case["kind"] == "parse_deadline" {
            // The power tower of issue #65: judged in well under a millisecond, never correct.
            let pred = case["prediction"].as_str().unwrap_or_default();
            let start = Instant::now();
            let verdict = grade(pred, "1", Map::new());
            let elapsed = start.elapsed();
            println!("  #65 power tower: {:?} in {elapsed:?}", verdict.status);
            verdict.status != Status::Correct && elapsed.as_millis() < 10
        } else {
            verify_case(&case)
        };
        tally.record(case["category"].as_str().unwrap_or("?"), passed, &case);
    }
    tally.print("math_verify_issue_cases.jsonl");
    let (passed, total) = tally.total();
    // Issue 13 raised the bar from 20 to all 21 (what was measured when it was filed).
    assert!(
        passed >= 21 && passed == total,
        "{passed}/{total} issue cases, the bar is all of them (21)"
    );
}

#[test]
fn other_checkers_cases_reported() {
    let mut tally = Tally::new();
    for case in read_cases("other_checkers_cases.jsonl") {
        let source = case["id"]
            .as_str()
            .unwrap_or("?")
            .split('/')
            .next()
            .unwrap_or("?")
            .to_string();
        // Ambiguous golds (rounded decimals) carry no judgement.
        let expected = match (&case["expected"], &case["correct"]) {
            (Value::Bool(b), _) => *b,
            (_, Value::Bool(b)) => *b,
            _ => continue,
        };
        let mut options = Map::new();
        if case["config"]["harness"] == "open_r1_accuracy_reward"
            || case["config"]["harness"] == "open_r1_cosine_scaled_reward"
        {
            options.insert("require_anchor".into(), json!(true));
        }
        let gold = case["gold"].as_str().unwrap_or_default();
        let pred = case["prediction"].as_str().unwrap_or_default();
        let verdict = grade(pred, gold, options);
        tally.record(
            &source,
            (verdict.status == Status::Correct) == expected,
            &case,
        );
    }
    tally.print("other_checkers_cases.jsonl (per source)");
}
