//! Grader plugins: graders added at run time, without forking, that run sandboxed.
//!
//! - **Python plugins** ([`PythonPlugin`]): a module that defines `grade(completion, task)`. The
//!   verifier bakes it, with our runner (`runner.py`), into a Python sandbox of its own; every
//!   call is a fresh instance that reads the completion and the task as JSON on standard input
//!   and reports what `grade` returned in a nonce-framed record: the code harness's protocol
//!   (`code::protocol`), run through the same [`Executor`].
//! - **Component plugins** ([`ComponentPlugin`]): a WebAssembly component of the world in
//!   `wit/grader.wit`, whose typed `grade` export the sandbox calls in a fresh instance.
//!
//! Both read what the plugin returned with one function, [`verdict::read`].
//!
//! # Threat model
//!
//! A plugin *is* a grader: the operator chose it, so it decides the reward, and a failure of its
//! own (it raises, loops, runs out of memory, exits, returns garbage, floods its output) is an
//! `error` naming the plugin, never a score. The adversary is the completion: it reaches the
//! plugin only as a string value (and the task only as data), never as code or as part of a
//! program's text, and it cannot forge the result: the record that carries it is framed by a
//! nonce drawn per call, which the completion never sees, and only the first `result` record
//! before `done` counts. Nor can it decide whether an honest result arrives: what the plugin
//! prints goes to a capped buffer, details the host could not read are replaced (the reward
//! kept), and the guest's native stack outlasts CPython's recursion guard, so deep input raises
//! an exception the plugin can catch rather than a trap. Plugins run in a sandbox built for them
//! alone, apart from the code grader's, so a candidate's code can neither import a plugin nor
//! read its tables.
//!
//! The limit: a plugin that runs the completion as code (`eval`, `exec`) hands it the plugin's
//! interpreter, the nonce and the plugin's own comparisons included; nothing inside one
//! interpreter can stop that. Such plugins are flagged when loaded (`runs_code`); code is graded
//! by the code grader, whose candidate never shares an interpreter with what decides the reward.

mod component;
mod python;
pub mod verdict;

pub use component::{ComponentCall, ComponentOutcome, ComponentPlugin, ComponentRunner};
pub use python::{PluginExample, PythonPlugin, RUNNER_MODULE};

use serde::Deserialize;

use crate::registry::GraderInfo;

/// The WIT world component plugins implement (`wit/grader.wit`), and its name.
pub const GRADER_WIT: (&str, &str) = (include_str!("../../../wit/grader.wit"), "grader");

/// Limits of one plugin call, set per plugin (`LIMITS` in a Python plugin).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginLimits {
    /// Time budget of one call, in milliseconds of the sandbox's clock.
    pub time_limit_ms: u64,
    pub memory_limit_mb: u64,
    /// Most output (the plugin's prints and the result record together), in KiB.
    pub output_limit_kb: u64,
}

impl Default for PluginLimits {
    fn default() -> Self {
        PluginLimits {
            time_limit_ms: 5_000,
            memory_limit_mb: 256,
            output_limit_kb: 1024,
        }
    }
}

impl PluginLimits {
    /// Upper bounds a plugin may ask for: a minute, 4 GiB, 16 MiB of output.
    pub fn checked(self) -> Result<PluginLimits, String> {
        let within = |value: u64, most: u64, name: &str| {
            if (1..=most).contains(&value) {
                Ok(())
            } else {
                Err(format!(
                    "LIMITS `{name}` must be between 1 and {most}, got {value}"
                ))
            }
        };
        within(self.time_limit_ms, 60_000, "time_limit_ms")?;
        within(self.memory_limit_mb, 4096, "memory_limit_mb")?;
        within(self.output_limit_kb, 16 * 1024, "output_limit_kb")?;
        Ok(self)
    }
}

/// A plugin's name is the task `kind` it grades: lower-case letters, digits and `_`, starting
/// with a letter, at most 64 characters (it also names the plugin's Python module).
pub fn check_name(name: &str) -> Result<(), String> {
    let well_formed = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if name == "runner" {
        // The plugin's module would be `verifier_plugin_runner`, our runner's.
        Err("plugin name \"runner\" is reserved; choose another".into())
    } else if well_formed {
        Ok(())
    } else {
        Err(format!(
            "plugin name {name:?} must be lower-case letters, digits and `_`, starting with a \
             letter, at most 64 characters (it is the task `kind` the plugin grades)"
        ))
    }
}

/// How a plugin of either kind describes itself in the registry.
fn plugin_info(name: &str, description: &str, version: &Option<String>) -> GraderInfo {
    GraderInfo {
        kind: name.to_string(),
        description: description.to_string(),
        available: true,
        variants: Vec::new(),
        version: version.clone(),
    }
}

/// The deadline's time left for a call, in milliseconds, and whether it is gone.
fn time_left_ms(ctx: &crate::GradeContext) -> Option<u64> {
    ctx.deadline.map(|deadline| {
        deadline
            .saturating_duration_since(std::time::Instant::now())
            .as_millis() as u64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kinds() {
        for good in ["json_schema", "units2", "a"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "2x", "Json", "a-b", "a.b", "ä", &"a".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_are_bounded() {
        assert!(PluginLimits::default().checked().is_ok());
        let zero = PluginLimits {
            time_limit_ms: 0,
            ..PluginLimits::default()
        };
        assert!(zero.checked().unwrap_err().contains("time_limit_ms"));
        let limits: PluginLimits = serde_json::from_str(r#"{"memory_limit_mb": 64}"#).unwrap();
        assert_eq!(limits.memory_limit_mb, 64);
        assert_eq!(limits.time_limit_ms, 5_000);
        assert!(serde_json::from_str::<PluginLimits>(r#"{"time_ms": 1}"#).is_err());
    }
}
