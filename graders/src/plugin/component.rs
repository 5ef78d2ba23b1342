//! Component plugins: a WebAssembly component of the world `verifier:grader` (`wit/grader.wit`
//! in the repository), whose `grade` export runs in a fresh instance per call.
//!
//! `graders` runs nothing itself: a [`ComponentRunner`] (the verifier's, on the sandbox pool)
//! calls an export with string arguments and hands back its result as plain JSON, in the
//! sandbox's generic encoding of component values (records as objects, `result` as `{"ok": v}`
//! or `{"err": v}`, `option` as the value or null, enum cases as strings). This module knows
//! what the grader world's values mean.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::python::{deadline_passed, ended};
use super::{time_left_ms, verdict, PluginLimits};
use crate::code::Ending;
use crate::contract::{Task, Verdict};
use crate::registry::{GradeContext, Grader, GraderInfo};

/// One call of an export of a loaded component.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentCall {
    /// The component, by the name it was loaded under.
    pub component: String,
    pub function: String,
    pub args: Vec<String>,
    pub limits: PluginLimits,
    /// Wall-clock bound (the sample's deadline).
    pub wall_limit_ms: Option<u64>,
}

/// How a call ended, and what the export returned if it did.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentOutcome {
    pub ending: Ending,
    pub returned: Option<Value>,
    /// The instance's output reached its cap.
    pub truncated: bool,
}

/// Calls exports of loaded components, each call in a fresh instance. Must not panic.
pub trait ComponentRunner: Send + Sync {
    fn call(&self, call: ComponentCall) -> ComponentOutcome;
}

/// A loaded component plugin.
pub struct ComponentPlugin {
    name: String,
    description: String,
    version: Option<String>,
    limits: PluginLimits,
    runner: Arc<dyn ComponentRunner>,
}

impl ComponentPlugin {
    /// Loads the component the runner knows as `name`: one call of its `info` export.
    pub fn load(
        name: &str,
        limits: PluginLimits,
        runner: Arc<dyn ComponentRunner>,
    ) -> Result<ComponentPlugin, String> {
        super::check_name(name)?;
        let outcome = runner.call(ComponentCall {
            component: name.to_string(),
            function: "info".into(),
            args: Vec::new(),
            limits,
            wall_limit_ms: None,
        });
        let Some(info) = outcome.returned else {
            let verdict = ended(name, &outcome.ending, outcome.truncated, &limits, false);
            return Err(verdict.error.unwrap_or_default());
        };
        let field = |key: &str| info.get(key).and_then(Value::as_str).map(str::to_string);
        let description = field("description")
            .filter(|d| !d.trim().is_empty())
            .unwrap_or_else(|| format!("the component plugin `{name}`"));
        Ok(ComponentPlugin {
            name: name.to_string(),
            description,
            version: field("version").filter(|v| !v.is_empty()),
            limits,
            runner,
        })
    }
}

impl ComponentPlugin {
    pub fn limits(&self) -> PluginLimits {
        self.limits
    }
}

impl Grader for ComponentPlugin {
    fn info(&self) -> GraderInfo {
        super::plugin_info(&self.name, &self.description, &self.version)
    }

    fn grade(&self, completion: &str, task: &Task, ctx: &GradeContext) -> Verdict {
        let wall_limit_ms = time_left_ms(ctx);
        if wall_limit_ms == Some(0) {
            return deadline_passed(&self.name);
        }
        let task_json = serde_json::to_string(task).unwrap_or_default();
        let outcome = self.runner.call(ComponentCall {
            component: self.name.clone(),
            function: "grade".into(),
            args: vec![completion.to_string(), task_json],
            limits: self.limits,
            wall_limit_ms,
        });
        match outcome.returned {
            Some(returned) => read_grade_result(&self.name, &returned),
            None => ended(
                &self.name,
                &outcome.ending,
                outcome.truncated,
                &self.limits,
                ctx.expired(),
            ),
        }
    }
}

/// `result<verdict, string>` as the verdict reader's plain form.
fn read_grade_result(name: &str, returned: &Value) -> Verdict {
    if let Some(message) = returned.get("err") {
        let message = message.as_str().unwrap_or("");
        return Verdict::error(format!("plugin `{name}` reported an error: {message}"));
    }
    let Some(Value::Object(verdict)) = returned.get("ok") else {
        return Verdict::error(format!(
            "plugin `{name}` returned {returned}, which is not the grader world's `result<verdict, string>`"
        ));
    };
    let mut plain = Map::new();
    if let Some(reward) = verdict.get("reward") {
        plain.insert("reward".into(), reward.clone());
    }
    if let Some(Value::String(status)) = verdict.get("status") {
        plain.insert("status".into(), json!(status.replace('-', "_")));
    }
    match verdict.get("details-json") {
        Some(Value::String(details)) => match serde_json::from_str::<Value>(details) {
            Ok(details) => {
                plain.insert("details".into(), details);
            }
            Err(error) => {
                return Verdict::error(format!(
                    "plugin `{name}` returned `details-json` that is not JSON: {error}"
                ))
            }
        },
        None | Some(Value::Null) => {}
        Some(other) => {
            return Verdict::error(format!("plugin `{name}` returned `details-json` {other}"))
        }
    }
    verdict::read(name, &Value::Object(plain))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Status;
    use std::sync::Mutex;

    struct Scripted(Mutex<Vec<ComponentOutcome>>);

    impl ComponentRunner for Scripted {
        fn call(&self, _call: ComponentCall) -> ComponentOutcome {
            self.0.lock().unwrap().remove(0)
        }
    }

    fn returned(value: Value) -> ComponentOutcome {
        ComponentOutcome {
            ending: Ending::Finished,
            returned: Some(value),
            truncated: false,
        }
    }

    #[test]
    fn the_grader_worlds_values_become_verdicts() {
        let runner = Arc::new(Scripted(Mutex::new(vec![
            returned(json!({"description": "Counts words.", "version": "0.3"})),
            returned(
                json!({"ok": {"reward": 0.0, "status": "no-answer", "details-json": "{\"words\":0}"}}),
            ),
            returned(json!({"err": "task has no `limit`"})),
            returned(json!({"ok": {"reward": 1.0, "status": null, "details-json": "{"}})),
            ComponentOutcome {
                ending: Ending::TimeLimit,
                returned: None,
                truncated: false,
            },
        ])));
        let plugin = ComponentPlugin::load("words", PluginLimits::default(), runner).unwrap();
        assert_eq!(plugin.info().version.as_deref(), Some("0.3"));
        let task: Task = serde_json::from_str(r#"{"kind": "words"}"#).unwrap();
        let ctx = GradeContext::default();
        let verdict = plugin.grade("", &task, &ctx);
        assert_eq!(verdict.status, Status::NoAnswer);
        assert_eq!(verdict.details["words"], 0);
        let error = plugin.grade("", &task, &ctx).error.unwrap();
        assert_eq!(
            error,
            "plugin `words` reported an error: task has no `limit`"
        );
        assert!(plugin
            .grade("", &task, &ctx)
            .error
            .unwrap()
            .contains("not JSON"));
        assert!(plugin
            .grade("", &task, &ctx)
            .error
            .unwrap()
            .contains("time limit"));
    }
}
