//! What an OpenRLHF label means: the task a response is graded against. OpenRLHF passes each
//! prompt's label (`--label_key` of the dataset) through untouched, usually a string; its
//! meaning is ours to set, per server (`--get-reward-kind`) or per route (`?kind=`).

use graders::contract::{FormatStyle, StdioCase};
use graders::Task;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The meaning of a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LabelKind {
    /// The gold answer of a math task (a string, or a number).
    Math,
    /// No label needed: the response's format (`style`, default `r1`).
    Format,
    /// Code tests as JSON (a string holding JSON, or an object): our `tests` object
    /// (`{"type": "stdio" | "assert" | "call", ...}`) or `{"inputs": [...], "outputs": [...]}`
    /// (APPS, TACO, CodeContests as verl keeps them) as stdio tests; either may carry the
    /// task's trusted `prefix` beside them (the prompt whose helpers `assert` tests use).
    Code,
    /// IFEval: `{"instruction_id_list": [...], "kwargs": [...]}` as JSON.
    Ifeval,
    /// A whole task in our own format (`{"kind": ..., ...}`) as JSON.
    Task,
}

/// The route's options that shape a task beside its label.
#[derive(Debug, Clone, Default)]
pub struct TaskOptions {
    pub format_style: Option<FormatStyle>,
    pub think_prefilled: Option<bool>,
    pub language: Option<graders::contract::CodeLanguage>,
}

impl LabelKind {
    /// The task for `label` (`prompt` is the templated prompt, whose end tells whether the
    /// template already opened `<think>`). The error says what is wrong with the label.
    pub fn task(self, label: &Value, prompt: &str, options: &TaskOptions) -> Result<Task, String> {
        let task = match self {
            LabelKind::Math => {
                let answer = match label {
                    Value::String(answer) => answer.clone(),
                    Value::Number(number) => number.to_string(),
                    other => {
                        return Err(format!(
                            "a math label is the gold answer, a string or a number; got {}",
                            type_name(other)
                        ))
                    }
                };
                json!({"kind": "math", "answer": answer})
            }
            LabelKind::Format => {
                let style = options.format_style.unwrap_or(FormatStyle::R1);
                // A template that ends the prompt with `<think>` (DeepSeek-R1's distills,
                // Qwen3) has already opened the block the response must close.
                let prefilled = options
                    .think_prefilled
                    .unwrap_or_else(|| prompt.trim_end().ends_with("<think>"));
                json!({"kind": "format", "style": style.as_str(), "think_prefilled": prefilled})
            }
            LabelKind::Code => {
                let language = options
                    .language
                    .unwrap_or(graders::contract::CodeLanguage::Python);
                let mut label = json_label(label)?;
                // The prompt's helpers (HumanEval's `encode_cyclic`, `poly`) are the task's,
                // not the candidate's, only when the prompt comes as `prefix`: without one, the
                // tests call the candidate's own versions of them (red team). Taken out first,
                // whatever shape the tests have.
                let prefix = label.as_object_mut().and_then(|t| t.remove("prefix"));
                let tests = code_tests(label)?;
                let mut task = json!({"kind": "code", "language": language, "tests": tests});
                if let Some(prefix) = prefix {
                    task["prefix"] = prefix;
                }
                task
            }
            LabelKind::Ifeval => {
                let Value::Object(mut fields) = json_label(label)? else {
                    return Err("an ifeval label is an object with `instruction_id_list`".into());
                };
                fields.insert("kind".into(), "instructions".into());
                Value::Object(fields)
            }
            LabelKind::Task => json_label(label)?,
        };
        serde_json::from_value::<Task>(task).map_err(|err| format!("invalid task: {err}"))
    }
}

/// A label that carries JSON: OpenRLHF's labels are dataset strings, so JSON arrives as text.
fn json_label(label: &Value) -> Result<Value, String> {
    match label {
        Value::String(text) => {
            serde_json::from_str(text).map_err(|err| format!("the label is not JSON: {err}"))
        }
        Value::Null => Err("the label is null; this kind needs one".into()),
        other => Ok(other.clone()),
    }
}

/// Our `tests` object, or APPS-style `{"inputs", "outputs"}` as stdio tests.
fn code_tests(value: Value) -> Result<Value, String> {
    let Value::Object(fields) = value else {
        return Err(format!(
            "code tests are an object, got {}",
            type_name(&value)
        ));
    };
    if fields.contains_key("type") {
        return Ok(Value::Object(fields));
    }
    let (Some(inputs), Some(outputs)) = (fields.get("inputs"), fields.get("outputs")) else {
        return Err(
            "unrecognised code tests: expected our `tests` object ({\"type\": ...}) or \
             {\"inputs\": [...], \"outputs\": [...]}"
                .into(),
        );
    };
    if fields.get("fn_name").is_some_and(|name| !name.is_null()) {
        return Err(
            "call-based tests (`fn_name`) are not supported here; use stdio tests or our \
                    `call` tests with kind=task"
                .into(),
        );
    }
    let (Value::Array(inputs), Value::Array(outputs)) = (inputs, outputs) else {
        return Err("`inputs` and `outputs` must be lists".into());
    };
    if inputs.len() != outputs.len() {
        return Err(format!(
            "{} inputs but {} outputs",
            inputs.len(),
            outputs.len()
        ));
    }
    let cases: Vec<StdioCase> = inputs
        .iter()
        .zip(outputs)
        .map(|(input, output)| StdioCase {
            input: as_text(input),
            output: as_text(output),
        })
        .collect();
    let mut tests = Map::new();
    tests.insert("type".into(), "stdio".into());
    tests.insert(
        "cases".into(),
        serde_json::to_value(cases).map_err(|err| err.to_string())?,
    );
    Ok(Value::Object(tests))
}

/// A test's input or output as text: a string as it is, a list of lines joined (some datasets
/// keep them so), anything else as its JSON.
fn as_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(lines) if lines.iter().all(Value::is_string) => lines
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(kind: LabelKind, label: Value) -> Result<Task, String> {
        kind.task(&label, "", &TaskOptions::default())
    }

    #[test]
    fn each_kind_reads_its_label() {
        assert!(
            matches!(task(LabelKind::Math, json!("1/2")), Ok(Task::Math(m)) if m.answer == "1/2")
        );
        assert!(matches!(task(LabelKind::Math, json!(7)), Ok(Task::Math(m)) if m.answer == "7"));
        assert!(matches!(
            task(LabelKind::Format, Value::Null),
            Ok(Task::Format(_))
        ));
        let apps = json!({"inputs": ["1 2\n", ["3", "4"]], "outputs": ["3\n", "7\n"]}).to_string();
        let Ok(Task::Code(code)) = task(LabelKind::Code, json!(apps)) else {
            panic!("APPS-style tests")
        };
        let graders::contract::CodeTests::Stdio { cases, .. } = code.tests else {
            panic!("stdio tests")
        };
        assert_eq!(cases[1].input, "3\n4");
        let ifeval = json!({"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]});
        assert!(matches!(
            task(LabelKind::Ifeval, ifeval),
            Ok(Task::Instructions(_))
        ));
        let own = json!({"kind": "format", "style": "tag_count"}).to_string();
        assert!(matches!(
            task(LabelKind::Task, json!(own)),
            Ok(Task::Format(_))
        ));
    }

    #[test]
    fn a_prompt_ending_in_think_prefills_the_format_check() {
        let options = TaskOptions::default();
        let Ok(Task::Format(format)) =
            LabelKind::Format.task(&Value::Null, "<|Assistant|><think>\n", &options)
        else {
            panic!("format")
        };
        assert!(format.think_prefilled);
    }

    #[test]
    fn bad_labels_say_what_is_wrong() {
        let err = task(LabelKind::Math, json!(["2"])).unwrap_err();
        assert!(err.contains("gold answer"), "{err}");
        let err = task(LabelKind::Code, json!("{not json")).unwrap_err();
        assert!(err.contains("not JSON"), "{err}");
        let err = task(LabelKind::Code, json!({"inputs": ["1"], "outputs": []})).unwrap_err();
        assert!(err.contains("1 inputs but 0 outputs"), "{err}");
        let err = task(
            LabelKind::Code,
            json!({"inputs": [], "outputs": [], "fn_name": "f"}),
        )
        .unwrap_err();
        assert!(err.contains("fn_name"), "{err}");
        let err = task(LabelKind::Task, json!({"kind": "math", "answr": "2"})).unwrap_err();
        assert!(err.contains("answr"), "{err}");
        assert!(task(LabelKind::Ifeval, Value::Null)
            .unwrap_err()
            .contains("null"));
    }
}
