//! The `instructions` grader: IFEval's verifiable instructions, strict and loose.
//!
//! Placeholder until the instructions grader lands: every such task gets an `error` saying so.

use crate::contract::{Task, Verdict};
use crate::registry::{GradeContext, Grader, GraderInfo};

pub struct InstructionsGrader;

impl Grader for InstructionsGrader {
    fn info(&self) -> GraderInfo {
        GraderInfo {
            kind: "instructions".into(),
            description: "IFEval-style verifiable instructions, strict or loose".into(),
            available: false,
            variants: Vec::new(),
        }
    }

    fn grade(&self, _completion: &str, _task: &Task, _ctx: &GradeContext) -> Verdict {
        Verdict::error("the instructions grader is not available yet in this build")
    }
}
