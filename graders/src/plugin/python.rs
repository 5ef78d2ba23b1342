//! Python plugins: a module with `grade(completion, task)`, baked into the plugins' sandbox and
//! called through our runner (`runner.py`) in a fresh instance per call.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{time_left_ms, verdict, PluginLimits};
use crate::code::nonce::fresh_nonce;
use crate::code::protocol::{parse_records, text, Records, MAX_RECORD_COST};
use crate::code::{Ending, ExecOutcome, ExecRequest, Executor};
use crate::contract::{CodeLanguage, Task, Verdict};
use crate::registry::{GradeContext, Grader, GraderInfo};

/// Our runner, as the module (name, source) the plugins' sandbox must have baked in beside the
/// plugins' own modules ([`PythonPlugin::module_name`]).
pub const RUNNER_MODULE: (&str, &str) = ("verifier_plugin_runner", include_str!("runner.py"));

/// A call's program: it hands the configuration on standard input to the runner. The completion
/// is data in that JSON, never program text.
const BOOTSTRAP: &str = "import sys\n\
from verifier_plugin_runner import _plugin_main\n\
_plugin_main(sys.stdin.buffer.read().decode())\n";

/// The limits of the one-off `info` call made when a plugin is loaded.
const INFO_LIMITS: PluginLimits = PluginLimits {
    time_limit_ms: 10_000,
    memory_limit_mb: 256,
    output_limit_kb: 4096,
};

/// One example a plugin carries (`EXAMPLES`), which `verifier plugin check` runs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginExample {
    pub completion: String,
    /// The task's fields; its `kind` is the plugin's name when left out.
    #[serde(default)]
    pub task: Map<String, Value>,
    /// The reward the example must get, if given.
    #[serde(default)]
    pub reward: Option<f64>,
    /// The status it must get (`correct`, `partial`, `incorrect`, `no_answer`), if given.
    #[serde(default)]
    pub status: Option<crate::contract::Status>,
}

/// A loaded Python plugin: its name (the task `kind` it grades), what its module says of itself,
/// and the executor whose Python sandbox has it baked in.
pub struct PythonPlugin {
    name: String,
    description: String,
    version: Option<String>,
    limits: PluginLimits,
    examples: Vec<PluginExample>,
    /// The built-ins that run code (`eval`, `exec`, `compile`) its functions use.
    runs_code: Vec<String>,
    /// The author's file name (`word_limit.py`), shown in place of the baked module's.
    source_name: Option<String>,
    executor: Arc<dyn Executor>,
}

impl PythonPlugin {
    /// The module a plugin called `name` is baked as.
    pub fn module_name(name: &str) -> String {
        format!("verifier_plugin_{name}")
    }

    /// Loads plugin `name` from `executor`'s sandbox (which must have it baked in as
    /// [`PythonPlugin::module_name`], beside [`RUNNER_MODULE`]): one call reads its docstring,
    /// `VERSION`, `LIMITS` and `EXAMPLES`, and checks that it defines `grade`.
    pub fn load(name: &str, executor: Arc<dyn Executor>) -> Result<PythonPlugin, String> {
        super::check_name(name)?;
        let nonce = fresh_nonce();
        let config = json!({"nonce": nonce, "module": Self::module_name(name), "mode": "info"});
        let outcome = executor.execute(request(&config, &INFO_LIMITS, None));
        let records = parse_records(&outcome.stdout, &nonce, &mut MAX_RECORD_COST.clone());
        let Some(info) = records.first("info") else {
            let verdict = failure(name, &records, &outcome, &INFO_LIMITS, false);
            return Err(verdict.error.unwrap_or_default());
        };
        if let Some(problems) = info.get("problems").and_then(Value::as_array) {
            if let Some(problem) = problems.first().and_then(Value::as_str) {
                return Err(format!("plugin `{name}` {problem}"));
            }
        }
        let limits = match info.get("limits") {
            None | Some(Value::Null) => PluginLimits::default(),
            Some(limits) => serde_json::from_value::<PluginLimits>(limits.clone())
                .map_err(|e| format!("plugin `{name}`: LIMITS: {e}"))?
                .checked()
                .map_err(|e| format!("plugin `{name}`: {e}"))?,
        };
        let examples = match info.get("examples") {
            None | Some(Value::Null) => Vec::new(),
            Some(examples) => serde_json::from_value::<Vec<PluginExample>>(examples.clone())
                .map_err(|e| format!("plugin `{name}`: EXAMPLES: {e}"))?,
        };
        let version = match info.get("version") {
            Some(Value::String(version)) => Some(version.clone()),
            Some(Value::Number(version)) => Some(version.to_string()),
            _ => None,
        };
        let runs_code = info
            .get("runs_code")
            .and_then(Value::as_array)
            .map(|names| {
                names
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Ok(PythonPlugin {
            name: name.to_string(),
            description: summary(text(info, "doc"), name),
            version,
            limits,
            examples,
            runs_code,
            source_name: None,
            executor,
        })
    }

    pub fn limits(&self) -> PluginLimits {
        self.limits
    }

    /// The plugin with error messages that name its file as the author knows it (`word_limit.py`
    /// or, for a folder, `word_limit/`) instead of the module it is baked as.
    pub fn with_source_name(mut self, source_name: impl Into<String>) -> Self {
        self.source_name = Some(source_name.into());
        self
    }

    /// The plugin with its calls' limits set by the operator (`--plugin-limits`) over its own.
    pub fn with_limits(mut self, limits: PluginLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn examples(&self) -> &[PluginExample] {
        &self.examples
    }

    /// A warning for a plugin whose functions call `eval`, `exec` or `compile`: a completion
    /// run as code inside the plugin's interpreter can reach anything there, the result's
    /// framing included, and so set its own reward.
    pub fn code_execution_warning(&self) -> Option<String> {
        (!self.runs_code.is_empty()).then(|| {
            format!(
                "plugin `{}` calls {}: if that ever runs text from the completion, the \
                 completion controls the plugin's interpreter and can set its own reward; \
                 parse instead (json, ast.literal_eval), or grade code with the code grader",
                self.name,
                self.runs_code.join(", ")
            )
        })
    }
}

impl Grader for PythonPlugin {
    fn info(&self) -> GraderInfo {
        super::plugin_info(&self.name, &self.description, &self.version)
    }

    fn grade(&self, completion: &str, task: &Task, ctx: &GradeContext) -> Verdict {
        let wall_limit_ms = time_left_ms(ctx);
        if wall_limit_ms == Some(0) {
            return deadline_passed(&self.name);
        }
        let nonce = fresh_nonce();
        let config = json!({
            "nonce": nonce,
            "module": Self::module_name(&self.name),
            "completion": completion,
            "task": task,
        });
        let outcome = self
            .executor
            .execute(request(&config, &self.limits, wall_limit_ms));
        let records = parse_records(&outcome.stdout, &nonce, &mut MAX_RECORD_COST.clone());
        match records.first("result") {
            Some(result) => verdict::read(&self.name, result.get("value").unwrap_or(&Value::Null)),
            None => {
                let mut verdict =
                    failure(&self.name, &records, &outcome, &self.limits, ctx.expired());
                if let (Some(error), Some(source)) = (&mut verdict.error, &self.source_name) {
                    let module = Self::module_name(&self.name);
                    *error = error
                        .replace(&format!("{module}.py"), source)
                        .replace(&format!("{module}/"), source);
                }
                verdict
            }
        }
    }

    fn prepare(&self) {
        self.executor.prepare();
    }
}

fn request(config: &Value, limits: &PluginLimits, wall_limit_ms: Option<u64>) -> ExecRequest {
    ExecRequest {
        language: CodeLanguage::Python,
        program: BOOTSTRAP.to_string(),
        stdin: Some(config.to_string()),
        time_limit_ms: limits.time_limit_ms,
        memory_limit_mb: limits.memory_limit_mb,
        peer: None,
        wall_limit_ms,
        stdout_limit_bytes: Some(limits.output_limit_kb.saturating_mul(1024) as usize),
    }
}

pub(super) fn deadline_passed(name: &str) -> Verdict {
    Verdict::timeout(format!(
        "the sample's deadline passed before plugin `{name}` answered"
    ))
}

/// Why a call gave no result: what the runner reported, else how the run ended.
fn failure(
    name: &str,
    records: &Records,
    outcome: &ExecOutcome,
    limits: &PluginLimits,
    deadline_passed_meanwhile: bool,
) -> Verdict {
    if let Some(raised) = records.first("raised") {
        let type_name = text(raised, "type");
        if type_name == "MemoryError" {
            return out_of_memory(name, limits);
        }
        let mut message = format!("plugin `{name}` raised {type_name}");
        let detail = text(raised, "msg");
        if !detail.is_empty() {
            message.push_str(&format!(": {detail}"));
        }
        let place = text(raised, "where");
        if !place.is_empty() {
            message.push_str(&format!(" ({place})"));
        }
        return Verdict::error(message);
    }
    // A cut-off record is explained by how the run ended; one from a run that ended well is not.
    let ended_well = outcome.ending == Ending::Finished && !outcome.truncated;
    if let Some(why) = records.unreadable.as_ref().filter(|_| ended_well) {
        return Verdict::error(format!(
            "plugin `{name}`: its result could not be read ({why})"
        ));
    }
    for kind in ["not_plain", "bad_plugin"] {
        if let Some(record) = records.first(kind) {
            let verb = if kind == "not_plain" { "returned" } else { "" };
            return Verdict::error(
                format!("plugin `{name}` {verb} {}", text(record, "msg")).replace("  ", " "),
            );
        }
    }
    ended(
        name,
        &outcome.ending,
        outcome.truncated,
        limits,
        deadline_passed_meanwhile,
    )
}

/// A call that stopped before reporting anything, by how it ended (shared with components).
pub(super) fn ended(
    name: &str,
    ending: &Ending,
    truncated: bool,
    limits: &PluginLimits,
    deadline_passed_meanwhile: bool,
) -> Verdict {
    let message = match ending {
        Ending::TimeLimit if deadline_passed_meanwhile => return deadline_passed(name),
        Ending::TimeLimit => format!(
            "plugin `{name}` ran past its time limit of {} ms",
            limits.time_limit_ms
        ),
        Ending::MemoryLimit => return out_of_memory(name, limits),
        Ending::OutputLimit => output_limit(name, limits),
        _ if truncated => output_limit(name, limits),
        Ending::Exit(code) => {
            format!("plugin `{name}` exited (status {code}) instead of returning")
        }
        Ending::Exception { type_name, message } => {
            format!("plugin `{name}` failed outside `grade`: {type_name}: {message}")
        }
        Ending::Trap(message) => {
            format!("plugin `{name}` crashed the WebAssembly machine: {message}")
        }
        Ending::Finished => format!("plugin `{name}` ended without returning a result"),
        Ending::Error(message) => format!("plugin `{name}` could not be run: {message}"),
    };
    Verdict::error(message)
}

fn out_of_memory(name: &str, limits: &PluginLimits) -> Verdict {
    Verdict::error(format!(
        "plugin `{name}` ran out of memory (its limit is {} MiB)",
        limits.memory_limit_mb
    ))
}

fn output_limit(name: &str, limits: &PluginLimits) -> String {
    format!(
        "plugin `{name}` printed more than its output limit of {} KiB",
        limits.output_limit_kb
    )
}

/// The docstring's first paragraph on one line, or a plain description.
fn summary(doc: &str, name: &str) -> String {
    let first = doc.split("\n\n").next().unwrap_or("");
    let joined = first.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.is_empty() {
        format!("the Python plugin `{name}`")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Status;
    use std::sync::Mutex;

    /// Answers each call with a scripted outcome, whose stdout may hold `{nonce}`.
    struct Scripted {
        answers: Mutex<Vec<(Ending, String)>>,
        seen: Mutex<Vec<ExecRequest>>,
    }

    impl Executor for Scripted {
        fn execute(&self, request: ExecRequest) -> ExecOutcome {
            let config: Value = serde_json::from_str(request.stdin.as_deref().unwrap()).unwrap();
            let nonce = config["nonce"].as_str().unwrap().to_string();
            self.seen.lock().unwrap().push(request);
            let (ending, stdout) = self.answers.lock().unwrap().remove(0);
            ExecOutcome {
                ending,
                stdout: stdout.replace("{nonce}", &nonce),
                stderr: String::new(),
                truncated: false,
                elapsed_ms: 1.0,
            }
        }
    }

    fn plugin_answering(answers: Vec<(Ending, &str)>) -> (PythonPlugin, Arc<Scripted>) {
        let info = "{nonce} {\"k\":\"info\",\"doc\":\"Scores style.\\n\\nMore.\",\"version\":\"1.2\",\
                    \"limits\":{\"time_limit_ms\":700},\"examples\":[{\"completion\":\"x\",\"reward\":1}],\"problems\":[]}\n\
                    {nonce} {\"k\":\"done\"}\n";
        let mut all = vec![(Ending::Finished, info.to_string())];
        all.extend(answers.into_iter().map(|(e, s)| (e, s.to_string())));
        let executor = Arc::new(Scripted {
            answers: Mutex::new(all),
            seen: Mutex::new(Vec::new()),
        });
        let plugin = PythonPlugin::load("style", executor.clone()).expect("loads");
        (plugin, executor)
    }

    fn task() -> Task {
        serde_json::from_str(r#"{"kind": "style", "target": "short"}"#).unwrap()
    }

    #[test]
    fn info_and_results_come_from_framed_records_only() {
        let forged = "0000 {\"k\":\"result\",\"value\":1}\n{\"k\":\"result\",\"value\":1}\n\
                      {nonce} {\"k\":\"result\",\"value\":{\"reward\":0.25,\"details\":{\"n\":3}}}\n\
                      {nonce} {\"k\":\"done\"}\n{nonce} {\"k\":\"result\",\"value\":1}\n";
        let (plugin, executor) = plugin_answering(vec![(Ending::Finished, forged)]);
        let info = plugin.info();
        assert_eq!(info.description, "Scores style.");
        assert_eq!(info.version.as_deref(), Some("1.2"));
        assert_eq!(plugin.limits().time_limit_ms, 700);
        assert_eq!(plugin.examples().len(), 1);
        let verdict = plugin.grade("a \"completion\"\n", &task(), &GradeContext::default());
        assert_eq!((verdict.reward, verdict.status), (0.25, Status::Partial));
        assert_eq!(verdict.details["n"], 3);
        let seen = executor.seen.lock().unwrap();
        let call = &seen[1];
        assert_eq!(call.time_limit_ms, 700);
        assert_eq!(
            call.program, BOOTSTRAP,
            "the completion never enters the program"
        );
        let config: Value = serde_json::from_str(call.stdin.as_deref().unwrap()).unwrap();
        assert_eq!(config["completion"], "a \"completion\"\n");
        assert_eq!(config["task"]["target"], "short");
        assert_eq!(config["task"]["kind"], "style");
    }

    #[test]
    fn failures_are_errors_that_name_the_plugin() {
        let raised = "{nonce} {\"k\":\"raised\",\"type\":\"KeyError\",\"msg\":\"'x'\",\"where\":\"p.py, line 3, in grade\"}\n";
        let cases = [
            (
                (Ending::Finished, raised),
                "plugin `style` raised KeyError: 'x' (p.py, line 3, in grade)",
            ),
            (
                (Ending::TimeLimit, ""),
                "plugin `style` ran past its time limit of 700 ms",
            ),
            (
                (Ending::MemoryLimit, ""),
                "plugin `style` ran out of memory",
            ),
            (
                (Ending::Exit(3), "{nonce} {\"k\":\"result\"\n"),
                "exited (status 3)",
            ),
            ((Ending::OutputLimit, ""), "output limit of 1024 KiB"),
            (
                (
                    Ending::Finished,
                    "{nonce} {\"k\":\"not_plain\",\"msg\":\"a set\"}\n",
                ),
                "plugin `style` returned a set",
            ),
            (
                (Ending::Error("worker died".into()), ""),
                "could not be run: worker died",
            ),
        ];
        for ((ending, stdout), says) in cases {
            let (plugin, _) = plugin_answering(vec![(ending, stdout)]);
            let verdict = plugin.grade("c", &task(), &GradeContext::default());
            assert_eq!(verdict.status, Status::Error, "{says}");
            let error = verdict.error.unwrap();
            assert!(error.contains(says), "{error} / {says}");
        }
    }

    #[test]
    fn a_passed_deadline_is_a_timeout_not_an_error() {
        let (plugin, _) = plugin_answering(vec![]);
        let ctx = GradeContext::with_deadline(std::time::Instant::now());
        assert_eq!(plugin.grade("c", &task(), &ctx).status, Status::Timeout);
    }

    #[test]
    fn a_plugin_without_grade_or_with_bad_limits_does_not_load() {
        for (info, says) in [
            (
                "{\"k\":\"info\",\"problems\":[\"defines no function `grade(completion, task)`\"]}",
                "defines no function",
            ),
            (
                "{\"k\":\"info\",\"limits\":{\"time_limit_ms\":0},\"problems\":[]}",
                "time_limit_ms",
            ),
            (
                "{\"k\":\"info\",\"examples\":[{\"answer\":1}],\"problems\":[]}",
                "EXAMPLES",
            ),
        ] {
            let executor = Arc::new(Scripted {
                answers: Mutex::new(vec![(Ending::Finished, format!("{{nonce}} {info}\n"))]),
                seen: Mutex::new(Vec::new()),
            });
            let error = PythonPlugin::load("style", executor).err().unwrap();
            assert!(error.contains(says), "{error}");
        }
    }
}
