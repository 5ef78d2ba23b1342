//! The `math` grader: extract the final answer, parse it, decide equivalence with the gold answer.
//!
//! Pipeline (DESIGN.md §5): [`extract`] ranks the places an answer may be (boxes first, then
//! anchored phrases, then the concluding sentence, then bare math and numbers); [`lexer`] and
//! [`parser`] turn the best one that parses, all of it, into our own [`expr::Expr`] tree (a
//! candidate that does not parse is never replaced by a part of itself: see
//! [`extract::Role`]); [`equiv`] decides equivalence with exact big-integer
//! and rational arithmetic ([`number`], [`eval`]), structural rules for sets, intervals, matrices
//! and relations, and numeric probing for free variables (at negated points too where an
//! absolute value, root or logarithm reads the sign). Per-task options are in [`options`].
//!
//! Results: `correct` (reward 1), `incorrect`, `no_answer` (nothing extractable), `error` (the
//! gold answer does not parse, named with where parsing stopped, or an option is wrong), `timeout` (the deadline passed). Details:
//! `extracted` (the answer text found) and `gold` (the gold answer text used).
//!
//! Everything is bounded: answers longer than [`parser::MAX_ANSWER_BYTES`] or nested deeper than
//! [`parser::MAX_DEPTH`] do not parse, exact numbers are capped at [`number::MAX_BITS`], and every
//! evaluation has a work budget, so hostile completions cost microseconds, not minutes.

pub mod equiv;
pub mod eval;
pub mod expr;
pub mod extract;
pub mod lexer;
pub mod number;
pub mod options;
pub mod parser;

use std::ops::ControlFlow;

use crate::contract::{Status, Task, Verdict};
use crate::registry::{GradeContext, Grader, GraderInfo};

pub use equiv::{equivalent, Rules};
pub use expr::Expr;
pub use extract::Targets;
pub use options::MathOptions;

/// An answer found in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    /// The candidate text that parsed.
    pub text: String,
    pub expr: Expr,
}

/// What extraction found: the parsed answer, if any, and the best raw candidate (which is
/// compared as a string when nothing parses, as Math-Verify's fallback does).
#[derive(Debug, Clone, Default)]
pub struct Extraction {
    pub answer: Option<Extracted>,
    pub first_raw: Option<String>,
    /// The best candidate that did not parse, and why: what an unparseable gold is reported as.
    pub failure: Option<(String, parser::ParseError)>,
}

/// Finds the answer in `text` (the whole text: callers strip `<think>` first if they need to).
///
/// At most 64 candidates are looked at (1 with `first_match`), best first; the walk over the
/// text stops at the first that parses. A candidate never stands in for a bigger one that did
/// not parse: one inside a failed candidate's span is passed over, and a failed box ends the
/// search (see [`extract::Role`]).
pub fn extract_answer(text: &str, targets: &Targets, first_match: bool) -> Extraction {
    let limit = if first_match { 1 } else { 64 };
    let mut out = Extraction::default();
    let mut tried = 0;
    // Spans of the candidates that did not parse (at most `limit`).
    let mut failed: Vec<(usize, usize)> = Vec::new();
    extract::walk(text, targets, limit, |candidate| {
        tried += 1;
        if failed.iter().any(|span| candidate.inside(*span)) {
            return if tried == limit {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            };
        }
        if out.first_raw.is_none() {
            out.first_raw = Some(candidate.text.trim().to_string());
        }
        match parser::parse_detailed(&candidate.text) {
            Ok(expr) => {
                out.answer = Some(Extracted {
                    text: candidate.text.trim().to_string(),
                    expr,
                });
                return ControlFlow::Break(());
            }
            Err(error) => {
                if out.failure.is_none() {
                    out.failure = Some((candidate.text.clone(), error));
                }
                if candidate.role == extract::Role::Declared {
                    return ControlFlow::Break(());
                }
                if candidate.role != extract::Role::Container {
                    failed.push(candidate.span);
                }
            }
        }
        // Stopping here, not at the next candidate, spares the walk from producing it (which
        // can mean scanning a whole further level of the text).
        if tried == limit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    out
}

/// Grades `completion` against `gold` with the given options.
pub fn grade_answer(
    completion: &str,
    gold: &str,
    options: &MathOptions,
    ctx: &GradeContext,
) -> Verdict {
    let gold_found = extract_answer(gold, &options.gold, false);
    let Some(region) = extract::answer_region(completion, options.think_prefilled) else {
        let reason = if options.think_prefilled {
            "the template opened <think> (think_prefilled) and the completion never closes it"
        } else {
            "the completion opens <think> and never closes it"
        };
        return verdict(
            Status::NoAnswer,
            None,
            gold_found.answer.as_ref().map(|a| a.text.as_str()),
        )
        .with_detail("reason", reason);
    };
    if ctx.expired() {
        return Verdict::timeout("deadline passed before the answer was extracted");
    }
    let pred_found = extract_answer(region, &options.answer, options.first_match);
    let Some(gold_answer) = gold_found.answer else {
        // An unparseable gold still matches an identical answer string.
        if let (Some(g), Some(p)) = (&gold_found.first_raw, &pred_found.first_raw) {
            if !g.is_empty() && g == p {
                return verdict(Status::Correct, Some(p), Some(g));
            }
        }
        let mut message = format!(
            "the gold answer `{}` could not be parsed as a math answer",
            truncate(gold, 200)
        );
        if let Some((text, error)) = &gold_found.failure {
            message.push_str(&stopped_at(text, error));
        }
        return Verdict::error(message).with_detail("gold", truncate(gold, 200));
    };
    let Some(pred_answer) = pred_found.answer else {
        if let Some(p) = &pred_found.first_raw {
            if *p == gold_answer.text {
                return verdict(Status::Correct, Some(p), Some(&gold_answer.text));
            }
            return verdict(Status::Incorrect, Some(p), Some(&gold_answer.text))
                .with_detail("reason", "the extracted answer does not parse");
        }
        return verdict(Status::NoAnswer, None, Some(&gold_answer.text));
    };
    if pred_answer.text == gold_answer.text {
        return verdict(
            Status::Correct,
            Some(&pred_answer.text),
            Some(&gold_answer.text),
        );
    }
    match equivalent(&gold_answer.expr, &pred_answer.expr, &options.rules, ctx) {
        Ok(true) => verdict(
            Status::Correct,
            Some(&pred_answer.text),
            Some(&gold_answer.text),
        ),
        Ok(false) => verdict(
            Status::Incorrect,
            Some(&pred_answer.text),
            Some(&gold_answer.text),
        ),
        Err(equiv::Stopped::Deadline) => {
            Verdict::timeout("deadline passed while comparing answers")
                .with_detail("extracted", truncate(&pred_answer.text, 500))
                .with_detail("gold", truncate(&gold_answer.text, 500))
        }
        // The answer's own cost: its failure, not a sample to drop (see COMPARISON_BUDGET).
        Err(equiv::Stopped::TooCostly) => verdict(
            Status::Incorrect,
            Some(&pred_answer.text),
            Some(&gold_answer.text),
        )
        .with_detail(
            "reason",
            "the answer costs more to compare than the comparison's work budget",
        ),
    }
}

/// `: parsing `text` stopped at byte N (`rest`): reason`, for an error a user must act on.
fn stopped_at(text: &str, error: &parser::ParseError) -> String {
    let at = error.at.min(text.len());
    let at = (0..=at)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    let shown = if text.trim() == text {
        String::new()
    } else {
        format!(" in `{}`", truncate(text.trim(), 200))
    };
    let rest = &text[at..];
    if rest.trim().is_empty() {
        format!(": it ends too early{shown} ({})", error.reason)
    } else {
        format!(
            ": parsing{shown} stopped at byte {at}, `{}` ({})",
            truncate(rest, 40),
            error.reason
        )
    }
}

fn verdict(status: Status, extracted: Option<&str>, gold: Option<&str>) -> Verdict {
    let reward = if status == Status::Correct { 1.0 } else { 0.0 };
    let mut v = Verdict {
        reward,
        status,
        details: Default::default(),
        error: None,
    };
    if let Some(e) = extracted {
        v = v.with_detail("extracted", truncate(e, 500));
    }
    if let Some(g) = gold {
        v = v.with_detail("gold", truncate(g, 500));
    }
    v
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[derive(Default)]
pub struct MathGrader;

impl Grader for MathGrader {
    fn info(&self) -> GraderInfo {
        GraderInfo {
            kind: "math".into(),
            description: "final-answer equivalence with the gold answer: boxed/anchored \
                          extraction, exact rational arithmetic, sets, intervals, matrices, \
                          equations"
                .into(),
            available: true,
            variants: Vec::new(),
            version: None,
        }
    }

    fn grade(&self, completion: &str, task: &Task, ctx: &GradeContext) -> Verdict {
        let Task::Math(task) = task else {
            return Verdict::error(format!(
                "the math grader cannot grade a `{}` task",
                task.kind()
            ));
        };
        let options = match MathOptions::from_map(&task.options) {
            Ok(o) => o,
            Err(e) => return Verdict::error(format!("task.options: {e}")),
        };
        if ctx.expired() {
            return Verdict::timeout("deadline passed before grading started");
        }
        grade_answer(completion, &task.answer, &options, ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::MathTask;

    fn grade(completion: &str, answer: &str) -> Verdict {
        let task = Task::Math(MathTask {
            answer: answer.into(),
            options: Default::default(),
        });
        MathGrader.grade(completion, &task, &GradeContext::default())
    }

    #[test]
    fn grades_the_design_example() {
        let v = grade(
            r"<think>...</think> The answer is $\boxed{\frac{1}{2}}$.",
            "0.5",
        );
        assert_eq!(v.status, Status::Correct, "{v:?}");
        assert_eq!(v.details["extracted"], r"\frac{1}{2}");
    }

    #[test]
    fn statuses() {
        assert_eq!(grade(r"\boxed{3}", "4").status, Status::Incorrect);
        assert_eq!(grade("I do not know.", "4").status, Status::NoAnswer);
        assert_eq!(grade(r"\boxed{3}", r"\frac{").status, Status::Error);
        assert_eq!(grade(r"<think>\boxed{4}", "4").status, Status::NoAnswer);
    }

    /// Under a template that opened `<think>` itself, a guess boxed mid-thought in reasoning
    /// that never closes is no answer (red team: it scored 1 without the option).
    #[test]
    fn a_prefilled_think_that_never_closes_is_no_answer() {
        let task = |prefilled: bool| {
            Task::Math(MathTask {
                answer: "2".into(),
                options: serde_json::from_value(serde_json::json!({"think_prefilled": prefilled}))
                    .unwrap(),
            })
        };
        let unclosed = r"Try n=3, that gives 9. Maybe \boxed{2}? Still checking whether";
        let closed = r"Try n=1. </think> The answer is \boxed{2}.";
        let grade = |text: &str, prefilled| {
            MathGrader.grade(text, &task(prefilled), &GradeContext::default())
        };
        assert_eq!(grade(unclosed, true).status, Status::NoAnswer);
        assert_eq!(grade(unclosed, false).status, Status::Correct);
        assert_eq!(grade(closed, true).status, Status::Correct);
        assert_eq!(
            grade(r"\boxed{1} </think> \boxed{2}", true).status,
            Status::Correct
        );
    }

    #[test]
    fn boxing_every_candidate_does_not_score() {
        let farm = r"It is \boxed{1}. Or maybe it is \boxed{2}. Possibly \boxed{3}. Or \boxed{4}.";
        assert_eq!(grade(farm, "1").status, Status::Incorrect);
        assert_eq!(
            grade(r"\boxed{1}, \boxed{2}, \boxed{3}", "2").status,
            Status::Incorrect
        );
    }

    #[test]
    fn a_gold_is_never_read_as_a_fragment_of_itself() {
        // Issue 13: `n(n+1)2^{n-2}` was read as `2`, so `\boxed{2}` scored and every right
        // answer did not.
        let gold = "n(n+1)2^{n-2}";
        for right in [
            r"\boxed{n(n+1)2^{n-2}}",
            r"\boxed{n(n+1) \cdot 2^{n-2}}",
            r"\boxed{2^{n-2}n(n+1)}",
            r"\boxed{(n^2+n)2^{n-2}}",
            r"So the sum is $n(n+1)2^{n-2}$.",
        ] {
            assert_eq!(grade(right, gold).status, Status::Correct, "{right}");
        }
        assert_eq!(grade(r"\boxed{2}", gold).status, Status::Incorrect);
        assert_eq!(grade(r"\boxed{2}", "(n+1)2^{n}").status, Status::Incorrect);
        assert_eq!(grade(r"\boxed{5}", "5!5!").status, Status::Incorrect);
        assert_eq!(grade(r"\boxed{14400}", "5!5!").status, Status::Correct);
        assert_eq!(
            grade(r"\boxed{(n+1)2^n}", "$(n+1)2^{n}$").status,
            Status::Correct
        );
    }

    #[test]
    fn a_sign_that_only_negative_values_show_is_not_lost() {
        // Positive probe points cannot tell `|x|` from `x`: "simplify sqrt(x^2)" must not pay
        // the classic wrong answer `x`.
        for (completion, gold) in [
            (r"\boxed{x}", "|x|"),
            (r"\boxed{x}", r"\sqrt{x^2}"),
            (r"\boxed{\sqrt{x^2}}", "x"),
            (r"\boxed{-|x|}", "-x"),
            (r"\boxed{\frac{|x|}{x}}", "1"),
            (r"\boxed{|x|^3}", "x^3"),
            (r"\boxed{\ln|x|}", r"\ln x"),
            (r"\boxed{|a+b|}", "a+b"),
            (r"\boxed{|x|+|y|}", "x+y"),
        ] {
            assert_eq!(
                grade(completion, gold).status,
                Status::Incorrect,
                "{completion} vs {gold}"
            );
        }
        for (completion, gold) in [
            (r"\boxed{|x|}", r"\sqrt{x^2}"),
            (r"\boxed{\sqrt{x}\cdot 2}", r"2\sqrt{x}"),
            (r"\boxed{\ln x + \ln 2}", r"\ln(2x)"),
            (r"\boxed{|-x|}", "|x|"),
        ] {
            assert_eq!(
                grade(completion, gold).status,
                Status::Correct,
                "{completion} vs {gold}"
            );
        }
    }

    #[test]
    fn notation_of_issue_13_grades_end_to_end() {
        for (completion, gold, expected) in [
            (r"\boxed{\frac{10!}{5!\,5!}}", "252", true),
            (r"\boxed{252}", r"\frac{10!}{5!\,5!}", true),
            (r"\boxed{36}", r"\binom{4}{2}3!", true),
            (r"\boxed{3\binom{4}{2}}", "18", true),
            (r"\boxed{\binom42}", "6", true),
            (r"\boxed{2\sqrt{3}\pi}", r"2\pi\sqrt3", true),
            (r"\boxed{{n \choose 2}}", r"\frac{n(n-1)}{2}", true),
            (r"\boxed{\binom{n}{2}}", r"{n \choose 2}", true),
            (r"\boxed{(2n-1)!!}", r"\frac{(2n)!}{2^n n!}", true),
            (r"\boxed{105}", "7!!", true),
            (r"\boxed{5040}", "7!!", false),
            (r"\boxed{1\,234}", "1234", true),
            (r"\boxed{2\,001\,000}", "2001000", true),
            (r"\boxed{12\ 345}", "12345", true),
            (r"\boxed{2\,001\,000}", "2001", false),
            (r"\boxed{0.\overline{6}}", r"\frac{2}{3}", true),
            (r"\boxed{0.0\overline{5}}", r"\frac{1}{18}", true),
            (r"\boxed{0.1(6)}", r"\frac{1}{6}", true),
            (r"\boxed{0.\overline{6}}", "0.67", false),
            (r"\boxed{\frac{5}{14}\approx 0.357}", r"\frac{5}{14}", true),
            (r"\boxed{\frac{5}{13}\approx 0.357}", r"\frac{5}{14}", false),
            (r"\boxed{x=6, y=5}", "(6, 5)", true),
            (r"\boxed{x = y = 0}", "(0, 0)", true),
            (r"\boxed{(x, y) = (6, 5)}", "(6, 5)", true),
            (r"\boxed{x=5, y=6}", "(6, 5)", false),
            (r"\boxed{\{1,2\}\cup\{3\}}", r"\{1,2,3\}", true),
            (r"\boxed{\{1,2\}\cup\{4\}}", r"\{1,2,3\}", false),
        ] {
            let v = grade(completion, gold);
            assert_eq!(
                v.status == Status::Correct,
                expected,
                "{completion} vs {gold}: {v:?}"
            );
        }
    }

    #[test]
    fn prose_examples_of_issue_13() {
        for (completion, gold) in [
            ("So the final answer is: 3^105 + 4^105 mod 7 = 0", "0"),
            (
                r"By AM-GM the minimum is 8, and this is achieved when \(a=b=c\).",
                "8",
            ),
            (
                "Counting monomials, 2,001,000 terms in the expansion of (x+y+z)^1999.",
                "2001000",
            ),
            (
                "\\begin{align*}\nS &= \\frac{1}{4} \\cdot 2 \\\\\n&= \\frac12.\n\\end{align*}",
                r"\frac{1}{2}",
            ),
            // Short prose is not a product of letters and a number.
            ("So 5.", "5"),
            ("It is 5", "5"),
        ] {
            let v = grade(completion, gold);
            assert_eq!(v.status, Status::Correct, "{completion}: {v:?}");
        }
    }

    #[test]
    fn an_unparseable_gold_is_an_error_that_says_where() {
        // Not shrunk to a number inside it, whatever the completion says.
        for (gold, answer, stop) in [
            ("n(n+1)2^{n-2", r"\boxed{2}", "ends too early"),
            ("2 3", r"\boxed{3}", "stopped at byte 2, `3`"),
            (r"x^2 7 + 1", r"\boxed{7}", "stopped at byte 4, `7 + 1`"),
            (r"$\frac{1}{2} ) $", r"\boxed{2}", "stopped at byte"),
        ] {
            let v = grade(answer, gold);
            assert_eq!(v.status, Status::Error, "{gold}: {v:?}");
            let message = v.error.unwrap_or_default();
            println!("{message}");
            assert!(message.contains(gold), "{message}");
            assert!(message.contains(stop), "{message}");
        }
    }

    #[test]
    fn a_box_that_does_not_parse_is_not_replaced_by_another_number() {
        let v = grade(r"Step one gives 12, so the answer is \boxed{12 +}.", "12");
        assert_eq!(v.status, Status::Incorrect, "{v:?}");
        assert_eq!(v.details["extracted"], "12 +");
        // A fragment of an anchored sentence that does not parse is not its answer either.
        let v = grade(r"The answer is 3x + ) 12.", "12");
        assert_ne!(v.status, Status::Correct, "{v:?}");
        // Without a box, the last value still counts.
        assert_eq!(grade("4 4/9 2", "2").status, Status::Correct);
    }

    #[test]
    fn power_towers_are_fast_and_wrong() {
        let start = std::time::Instant::now();
        let v = grade(r"\boxed{9^{9^{9^{9}}}}", "3");
        assert_ne!(v.status, Status::Correct);
        assert!(start.elapsed().as_millis() < 100);
    }
}
