//! `graders`: what "correct" means.
//!
//! A library of pure functions from (completion, task) to a verdict. It owns the wire contracts
//! (samples, tasks, results; [`contract`]), the [`Grader`] trait and its [`Registry`], reward
//! composition ([`compose`]), and one folder per grader family. It performs no I/O, spawns no
//! threads and knows nothing of sandboxes: anything that must run code goes through a trait the
//! caller implements.

pub mod chars;
pub mod code;
pub mod compose;
pub mod contract;
pub mod end_tokens;
pub mod format;
pub mod instructions;
pub mod math;
pub mod plugin;
pub mod registry;
pub mod shaping;
mod xorshift;

pub use compose::grade_sample;
pub use contract::{
    ComponentResult, ComponentSpec, GradeResult, Sample, SampleError, Status, Task, Verdict,
};
pub use registry::{GradeContext, Grader, GraderInfo, Registry};
