//! The `math` grader: extract the final answer, parse it, decide equivalence with the gold answer.
//!
//! Placeholder until the math grader lands: every math task gets an `error` saying so.

use crate::contract::{Task, Verdict};
use crate::registry::{GradeContext, Grader, GraderInfo};

#[derive(Default)]
pub struct MathGrader;

impl Grader for MathGrader {
    fn info(&self) -> GraderInfo {
        GraderInfo {
            kind: "math".into(),
            description: "final-answer equivalence with the gold answer".into(),
            available: false,
            variants: Vec::new(),
        }
    }

    fn grade(&self, _completion: &str, _task: &Task, _ctx: &GradeContext) -> Verdict {
        Verdict::error("the math grader is not available yet in this build")
    }
}
