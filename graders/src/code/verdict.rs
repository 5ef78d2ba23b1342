//! Verdicts per test case, and how they become one [`Verdict`] with a reward and readable details.

use serde_json::{json, Map, Value};

use crate::contract::{Scoring, Status, Verdict};

/// How one test case went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestOutcome {
    Passed,
    WrongAnswer,
    /// An exception (its type, e.g. `IndexError`), an explicit exit, or a trap.
    RuntimeError(String),
    TimeLimit,
    MemoryLimit,
    OutputLimit,
    SyntaxError,
    /// Not run, because an earlier test failed and scoring is all-or-nothing.
    Skipped,
    /// Passed without calling the candidate's code (`assert True`): tests nothing, so it is
    /// dropped before scoring.
    Neutral,
}

impl TestOutcome {
    /// The short name used in details (`passed`, `wrong_answer`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            TestOutcome::Passed => "passed",
            TestOutcome::WrongAnswer => "wrong_answer",
            TestOutcome::RuntimeError(_) => "runtime_error",
            TestOutcome::TimeLimit => "time_limit",
            TestOutcome::MemoryLimit => "memory_limit",
            TestOutcome::OutputLimit => "output_limit",
            TestOutcome::SyntaxError => "syntax_error",
            TestOutcome::Skipped => "skipped",
            TestOutcome::Neutral => "neutral",
        }
    }

    /// Whether the test failed (neither passed nor was left out).
    pub fn is_failure(&self) -> bool {
        !matches!(
            self,
            TestOutcome::Passed | TestOutcome::Skipped | TestOutcome::Neutral
        )
    }
}

/// Every value a code result's `details.verdict` takes: a test outcome (the first failing
/// test's, or `passed`), `no_tests`, `incomplete` (tests left out), or `no_code`. A closed set,
/// so that metrics can use it as a label.
pub const SAMPLE_VERDICTS: [&str; 12] = [
    "passed",
    "wrong_answer",
    "runtime_error",
    "time_limit",
    "memory_limit",
    "output_limit",
    "syntax_error",
    "skipped",
    "neutral",
    "no_tests",
    "incomplete",
    "no_code",
];

/// One test case's verdict with a short explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    pub outcome: TestOutcome,
    /// What the test was (an assert's source line, `case 3`, ...).
    pub name: String,
    /// Expected vs got, or the error message; already shortened.
    pub message: String,
}

impl TestResult {
    pub fn new(outcome: TestOutcome, name: impl Into<String>, message: impl Into<String>) -> Self {
        TestResult {
            outcome,
            name: name.into(),
            message: excerpt(&message.into(), 300),
        }
    }
}

/// Cuts `text` to about `max` characters, keeping the start and the end.
pub fn excerpt(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max * 2 / 3).collect();
    let tail: String = text.chars().skip(count - max / 3).collect();
    format!(
        "{head}…[{} chars cut]…{tail}",
        count - head.chars().count() - max / 3
    )
}

/// Everything the grader learnt about a run, before scoring.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunReport {
    pub tests: Vec<TestResult>,
    pub elapsed_ms: f64,
    pub runs: u32,
}

/// Turns per-test results into the grader's verdict.
pub fn score(report: RunReport, scoring: Scoring, code_chars: usize) -> Verdict {
    let total = report.tests.len();
    let passed = report
        .tests
        .iter()
        .filter(|t| t.outcome == TestOutcome::Passed)
        .count();
    let reward = match (scoring, total) {
        (_, 0) => 0.0,
        (Scoring::All, _) => f64::from(u8::from(passed == total)),
        (Scoring::Fraction, _) => passed as f64 / total as f64,
    };
    let mut verdict = Verdict::scored(reward);
    let first_failure = report
        .tests
        .iter()
        .enumerate()
        .find(|(_, t)| t.outcome.is_failure());
    // "passed" only when every test passed: a report with tests left out, or none, says so.
    let overall = match first_failure {
        Some((_, failed)) => failed.outcome.as_str(),
        None if total > 0 && passed == total => "passed",
        None if total == 0 => "no_tests",
        None => "incomplete",
    };
    verdict.details.insert("verdict".into(), overall.into());
    if let Some((index, failed)) = first_failure {
        verdict.details.insert(
            "first_failure".into(),
            json!({
                "test": index,
                "name": failed.name,
                "verdict": failed.outcome.as_str(),
                "message": failed.message,
            }),
        );
    }
    let verdicts: Vec<Value> = report
        .tests
        .iter()
        .map(|t| Value::from(t.outcome.as_str()))
        .collect();
    let mut summary = Map::new();
    for t in &report.tests {
        let count = summary
            .get(t.outcome.as_str())
            .and_then(Value::as_u64)
            .unwrap_or(0);
        summary.insert(t.outcome.as_str().into(), (count + 1).into());
    }
    verdict
        .with_detail("passed", passed)
        .with_detail("total", total)
        .with_detail("tests", verdicts)
        .with_detail("counts", summary)
        .with_detail("elapsed_ms", (report.elapsed_ms * 1000.0).round() / 1000.0)
        .with_detail("runs", report.runs)
        .with_detail("code_chars", code_chars)
}

/// The verdict for a completion with no code in it.
pub fn no_code() -> Verdict {
    Verdict {
        status: Status::NoAnswer,
        ..Verdict::scored(0.0)
    }
    .with_detail("verdict", "no_code")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_is_a_listed_sample_verdict() {
        for outcome in [
            TestOutcome::Passed,
            TestOutcome::WrongAnswer,
            TestOutcome::RuntimeError("E".into()),
            TestOutcome::TimeLimit,
            TestOutcome::MemoryLimit,
            TestOutcome::OutputLimit,
            TestOutcome::SyntaxError,
            TestOutcome::Skipped,
            TestOutcome::Neutral,
        ] {
            assert!(SAMPLE_VERDICTS.contains(&outcome.as_str()), "{outcome:?}");
        }
        assert!(SAMPLE_VERDICTS.contains(&no_code().details["verdict"].as_str().unwrap()));
    }

    fn report(outcomes: &[TestOutcome]) -> RunReport {
        RunReport {
            tests: outcomes
                .iter()
                .enumerate()
                .map(|(i, o)| TestResult::new(o.clone(), format!("case {i}"), "m"))
                .collect(),
            elapsed_ms: 1.0,
            runs: 1,
        }
    }

    #[test]
    fn all_or_nothing_and_fraction() {
        use TestOutcome::*;
        let r = report(&[Passed, WrongAnswer, Passed, Passed]);
        assert_eq!(score(r.clone(), Scoring::All, 5).reward, 0.0);
        let v = score(r, Scoring::Fraction, 5);
        assert_eq!(v.reward, 0.75);
        assert_eq!(v.status, Status::Partial);
        assert_eq!(v.details["first_failure"]["test"], 1);
        assert_eq!(v.details["first_failure"]["verdict"], "wrong_answer");
        assert_eq!(v.details["counts"]["passed"], 3);
        let all = score(report(&[Passed, Passed]), Scoring::All, 5);
        assert_eq!((all.reward, all.status), (1.0, Status::Correct));
    }

    #[test]
    fn no_tests_is_never_a_pass() {
        assert_eq!(score(RunReport::default(), Scoring::All, 5).reward, 0.0);
        assert_eq!(
            score(RunReport::default(), Scoring::Fraction, 5).reward,
            0.0
        );
    }

    #[test]
    fn excerpts_keep_both_ends() {
        let long = "a".repeat(500) + "END";
        let cut = excerpt(&long, 60);
        assert!(
            cut.ends_with("END") && cut.starts_with("aaa") && cut.chars().count() < 90,
            "{cut}"
        );
        assert_eq!(excerpt("short", 60), "short");
    }
}
