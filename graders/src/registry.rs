//! The [`Grader`] trait and the [`Registry`] that maps a task's `kind` to its grader.
//!
//! Built-in graders are registered by [`Registry::with_builtins`]; the verifier adds graders that
//! need the outside world (sandboxed code, plugins loaded at run time) with [`Registry::insert`],
//! which is why a grader is a trait object looked up by a string rather than a closed enum.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::contract::{Sample, Task, Verdict};

/// Grades one completion against one task. Implementations must be pure with respect to the
/// outside world (or reach it only through a trait the caller provides), must not panic on any
/// input, and should give up with a `timeout` verdict once [`GradeContext::expired`] is true.
pub trait Grader: Send + Sync {
    fn info(&self) -> GraderInfo;
    fn grade(&self, completion: &str, task: &Task, ctx: &GradeContext) -> Verdict;
    /// One-off work before the first grading (starting sandboxes), which callers do before any
    /// sample's deadline starts so that it is not charged to a sample. Cheap once done; a
    /// failure shows up in the verdicts of `grade`. Default: nothing to do.
    fn prepare(&self) {}
    /// Whether this grader's time on a sample grows at most linearly with the sample's text
    /// and task, at a few nanoseconds a byte, whatever they hold, without waiting on anything:
    /// its time is then bounded by the request's size, and a service may grade a small batch
    /// of such samples on the thread that read it (`verifier serve` does, on its event loop)
    /// rather than hand it to a grading thread and back. Default: no.
    fn linear_time(&self) -> bool {
        false
    }
}

/// What `GET /v1/graders` shows about a grader.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GraderInfo {
    pub kind: String,
    pub description: String,
    /// False for a kind whose grader has not landed (its tasks get an `error` result saying so).
    pub available: bool,
    /// Accepted variants, e.g. format styles.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<String>,
    /// A plugin's version, as it states it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Per-call context: the deadline by which the grader should have answered.
#[derive(Debug, Clone, Copy, Default)]
pub struct GradeContext {
    pub deadline: Option<Instant>,
    /// The whole time the client itself gave this sample (its `limits.timeout_ms`), if it chose
    /// one. Only a deadline the client chose, shorter than what a grader needs, is the client's
    /// doing; a default deadline, or one that earlier work on the same sample used up, is not.
    pub client_allowance: Option<Duration>,
}

impl GradeContext {
    pub fn with_deadline(deadline: Instant) -> GradeContext {
        GradeContext {
            deadline: Some(deadline),
            client_allowance: None,
        }
    }

    /// A deadline `allowance` from now that the client chose.
    pub fn with_client_deadline(allowance: Duration) -> GradeContext {
        GradeContext {
            deadline: Some(Instant::now() + allowance),
            client_allowance: Some(allowance),
        }
    }

    pub fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// Graders by task kind.
#[derive(Clone, Default)]
pub struct Registry {
    graders: BTreeMap<String, Arc<dyn Grader>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// The pure graders this crate ships, plus a placeholder for `code`, whose grader needs a
    /// sandbox that the caller supplies.
    pub fn with_builtins() -> Registry {
        let mut registry = Registry::new();
        registry.insert(Arc::new(crate::format::FormatGrader));
        registry.insert(Arc::new(crate::math::MathGrader));
        registry.insert(Arc::new(crate::instructions::InstructionsGrader));
        // Shaping rewards (language consistency, length, repetition) as weighted components.
        for grader in crate::shaping::graders() {
            registry.insert(grader);
        }
        registry.insert(Arc::new(Unavailable {
            kind: "code",
            description: "runs the candidate's code against tests in a sandbox",
            why: "the code grader is not available here: it needs a sandbox, which `verifier grade`, `verifier serve` and `verifier eval` provide",
        }));
        registry
    }

    /// Adds a grader under its `info().kind`, returning the one it replaces, if any.
    pub fn insert(&mut self, grader: Arc<dyn Grader>) -> Option<Arc<dyn Grader>> {
        self.graders.insert(grader.info().kind, grader)
    }

    pub fn get(&self, kind: &str) -> Option<&Arc<dyn Grader>> {
        self.graders.get(kind)
    }

    /// Whether every component of `sample` has a linear-time grader ([`Grader::linear_time`]);
    /// a kind no grader owns is not.
    pub fn grades_in_linear_time(&self, sample: &Sample) -> bool {
        let linear = |task: &Task| self.get(task.kind()).is_some_and(|g| g.linear_time());
        linear(&sample.task) && sample.components.iter().all(|c| linear(&c.task))
    }

    pub fn infos(&self) -> Vec<GraderInfo> {
        self.graders.values().map(|g| g.info()).collect()
    }

    /// Grades with the grader the task names; an unknown kind is an `error` verdict that lists
    /// the kinds there are.
    pub fn grade(&self, completion: &str, task: &Task, ctx: &GradeContext) -> Verdict {
        match self.get(task.kind()) {
            Some(grader) => grader.grade(completion, task, ctx),
            None => Verdict::error(format!(
                "unknown task kind `{}`; available kinds: {}",
                task.kind(),
                self.graders.keys().cloned().collect::<Vec<_>>().join(", ")
            )),
        }
    }
}

/// A kind that parses but whose grader has not landed: every task gets a clear `error`.
pub struct Unavailable {
    pub kind: &'static str,
    pub description: &'static str,
    pub why: &'static str,
}

impl Grader for Unavailable {
    fn info(&self) -> GraderInfo {
        GraderInfo {
            kind: self.kind.to_string(),
            description: self.description.to_string(),
            available: false,
            variants: Vec::new(),
            version: None,
        }
    }

    fn grade(&self, _completion: &str, _task: &Task, _ctx: &GradeContext) -> Verdict {
        Verdict::error(self.why)
    }
}
