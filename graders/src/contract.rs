//! The wire contracts of DESIGN.md §4, defined once: a [`Sample`] in, a [`GradeResult`] out.
//!
//! Parsing is two-level on purpose: the envelope (`id`, `completion`, `task`, ...) is plain serde,
//! while `task` is dispatched by its `kind` so that a malformed task names the exact field
//! (`task.answer: invalid type ...`) and an unknown kind reaches the registry, which can say which
//! graders exist (plugins register kinds at run time, so serde cannot know them all).

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use utoipa::ToSchema;

mod schema;
pub use schema::documented_kinds;

mod code_tests;
mod completion;
mod details;
pub mod exact_integers;
pub mod lone_surrogates;
mod result_json;
pub use completion::last_assistant_content;
pub use details::Details;

/// One sample to grade.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct Sample {
    /// Echoed back unchanged (string, number or absent).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub id: Value,
    /// The model's text. On the wire also a chat message list, read as its last assistant
    /// message's content (see [`last_assistant_content`]).
    #[serde(deserialize_with = "completion::deserialize")]
    pub completion: String,
    /// What correct means; the primary reward component.
    pub task: Task,
    /// Weight of `task` in the total reward (default 1; magnitude at most [`MAX_WEIGHT`]).
    #[serde(
        default,
        deserialize_with = "optional_weight",
        skip_serializing_if = "Option::is_none"
    )]
    pub weight: Option<f64>,
    /// Further weighted reward components (e.g. R1's format reward next to accuracy), at most
    /// [`MAX_COMPONENTS`].
    #[serde(
        default,
        deserialize_with = "bounded_components",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub components: Vec<ComponentSpec>,
    /// GRPO group this completion belongs to; echoed back, used by group-relative shaping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<Value>,
    /// Per-sample limits.
    #[serde(default, skip_serializing_if = "Limits::is_default")]
    pub limits: Limits,
}

/// An extra reward component: a task graded on the same completion, with a weight.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct ComponentSpec {
    /// Name shown in the result (defaults to the task's kind, or `kind:style` for format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default = "one", deserialize_with = "weight")]
    pub weight: f64,
    pub task: Task,
}

fn one() -> f64 {
    1.0
}

/// The largest magnitude of a weight (and of a shaping grader's reward bounds): far above any
/// real use, and small enough that no weighted sum of rewards can overflow a double, so a
/// reward is always a finite number.
pub const MAX_WEIGHT: f64 = 1e6;

/// Checks that `value` is a finite number of magnitude at most [`MAX_WEIGHT`].
pub fn check_magnitude(value: f64) -> Result<f64, String> {
    if value.is_finite() && value.abs() <= MAX_WEIGHT {
        Ok(value)
    } else {
        Err(format!(
            "must be a finite number of magnitude at most {MAX_WEIGHT:e}, got {value:e}"
        ))
    }
}

fn weight<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    check_magnitude(f64::deserialize(deserializer)?).map_err(D::Error::custom)
}

/// Most components one sample may have. Every component is graded and answered with its own
/// result: 1.3 million unknown-kind components in a 28 MB request made a 235 MB answer (red
/// team); a reward is a handful of components.
pub const MAX_COMPONENTS: usize = 64;

fn bounded_components<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<ComponentSpec>, D::Error> {
    struct Bounded;
    impl<'de> serde::de::Visitor<'de> for Bounded {
        type Value = Vec<ComponentSpec>;
        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(formatter, "a list of at most {MAX_COMPONENTS} components")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut components = Vec::new();
            while let Some(component) = seq.next_element()? {
                if components.len() == MAX_COMPONENTS {
                    return Err(A::Error::custom(format!(
                        "more than {MAX_COMPONENTS} components in one sample"
                    )));
                }
                components.push(component);
            }
            Ok(components)
        }
    }
    deserializer.deserialize_seq(Bounded)
}

fn optional_weight<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    Option::<f64>::deserialize(deserializer)?
        .map(check_magnitude)
        .transpose()
        .map_err(D::Error::custom)
}

/// Per-sample limits.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Deadline for grading the whole sample, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

impl Limits {
    fn is_default(&self) -> bool {
        *self == Limits::default()
    }
}

/// What correct means, by `kind`.
#[derive(Debug, Clone, PartialEq)]
pub enum Task {
    Math(MathTask),
    Code(CodeTask),
    Format(FormatTask),
    Instructions(InstructionsTask),
    /// A kind no built-in grader owns: a plugin's, or a mistake the registry reports.
    Plugin {
        kind: String,
        params: Map<String, Value>,
    },
}

impl Serialize for Task {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        #[derive(Serialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        enum Builtin<'a> {
            Math(&'a MathTask),
            Code(&'a CodeTask),
            Format(&'a FormatTask),
            Instructions(&'a InstructionsTask),
        }
        match self {
            Task::Math(t) => Builtin::Math(t).serialize(serializer),
            Task::Code(t) => Builtin::Code(t).serialize(serializer),
            Task::Format(t) => Builtin::Format(t).serialize(serializer),
            Task::Instructions(t) => Builtin::Instructions(t).serialize(serializer),
            Task::Plugin { kind, params } => {
                let mut map = serializer.serialize_map(Some(params.len() + 1))?;
                map.serialize_entry("kind", kind)?;
                for (key, value) in params {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

impl Task {
    /// The `kind` string this task was given.
    pub fn kind(&self) -> &str {
        match self {
            Task::Plugin { kind, .. } => kind,
            builtin => builtin.builtin_kind().expect("a built-in kind"),
        }
    }

    /// The kind of a built-in task, as a name that outlives it (`None` for a plugin's).
    pub fn builtin_kind(&self) -> Option<&'static str> {
        match self {
            Task::Math(_) => Some("math"),
            Task::Code(_) => Some("code"),
            Task::Format(_) => Some("format"),
            Task::Instructions(_) => Some("instructions"),
            Task::Plugin { .. } => None,
        }
    }

    /// A short human name for a reward component of this task.
    pub fn component_name(&self) -> String {
        match self {
            Task::Format(f) => f.style.component_name().to_string(),
            other => other.kind().to_string(),
        }
    }
}

impl<'de> Deserialize<'de> for Task {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TaskVisitor)
    }
}

/// Reads a task. When `kind` is its first key, as clients write it, the other fields stream
/// straight into the typed task; otherwise the object is buffered first to find its `kind`.
/// (Buffering every task through a `Value` was 19% of the instructions of `verifier grade` on
/// format samples.) Either way a task's keys are unique, as a sample's are:
/// `{"kind": "format", "kind": "math"}` is an error, not whichever came last.
struct TaskVisitor;

impl<'de> serde::de::Visitor<'de> for TaskVisitor {
    type Value = Task;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a task: an object with a `kind`")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut access: A) -> Result<Task, A::Error> {
        let Some(Key(first)) = access.next_key::<Key>()? else {
            return Err(A::Error::missing_field("kind"));
        };
        if first == "kind" {
            let kind = kind_name::<A::Error>(access.next_value()?)?;
            let rest = serde::de::value::MapAccessDeserializer::new(KindOnlyOnce(access));
            return Ok(match kind.as_str() {
                "math" => Task::Math(MathTask::deserialize(rest)?),
                "code" => Task::Code(CodeTask::deserialize(rest)?),
                "format" => Task::Format(FormatTask::deserialize(rest)?),
                "instructions" => Task::Instructions(InstructionsTask::deserialize(rest)?),
                _ => Task::Plugin {
                    kind,
                    params: rest.deserialize_map(UniqueKeys)?,
                },
            });
        }
        // `kind` comes later. The entries are read as values, as they come, except `tests`,
        // which is kept as raw text until the kind is known: a code task's call cases are
        // read from it so that their big integers stay exact (see `contract/code_tests.rs`).
        let mut map = Map::new();
        let mut tests: Option<Box<RawValue>> = None;
        let mut key = first.into_owned();
        loop {
            if map.contains_key(&key) || (key == "tests" && tests.is_some()) {
                return Err(A::Error::custom(format!("duplicate field `{key}`")));
            }
            if key == "tests" {
                tests = Some(access.next_value()?);
            } else {
                let value: Value = access.next_value()?;
                map.insert(key, value);
            }
            match access.next_key::<String>()? {
                Some(next) => key = next,
                None => break,
            }
        }
        let kind = match map.remove("kind") {
            Some(kind) => kind_name::<A::Error>(kind)?,
            None => return Err(A::Error::missing_field("kind")),
        };
        if kind == "code" {
            let mut text = Value::Object(map).to_string();
            if let Some(tests) = tests {
                text.pop();
                if text.len() > 1 {
                    text.push(',');
                }
                text.push_str("\"tests\":");
                text.push_str(tests.get());
                text.push('}');
            }
            let mut deserializer = serde_json::Deserializer::from_str(&text);
            let task = serde_path_to_error::deserialize(&mut deserializer);
            return task.map(Task::Code).map_err(path_error);
        }
        if let Some(tests) = tests {
            let tests = serde_json::from_str(tests.get()).map_err(A::Error::custom)?;
            map.insert("tests".into(), tests);
        }
        fn typed<T: serde::de::DeserializeOwned, E: serde::de::Error>(
            map: Map<String, Value>,
        ) -> Result<T, E> {
            serde_path_to_error::deserialize(Value::Object(map)).map_err(path_error)
        }
        Ok(match kind.as_str() {
            "math" => Task::Math(typed(map)?),
            "format" => Task::Format(typed(map)?),
            "instructions" => Task::Instructions(typed(map)?),
            _ => Task::Plugin { kind, params: map },
        })
    }
}

/// A task's error with the path of the field it is in, when there is one.
fn path_error<E: serde::de::Error, I: std::fmt::Display>(
    error: serde_path_to_error::Error<I>,
) -> E {
    let path = error.path().to_string();
    if path == "." {
        E::custom(error.into_inner())
    } else {
        E::custom(format!("{path}: {}", error.into_inner()))
    }
}

fn kind_name<E: serde::de::Error>(kind: Value) -> Result<String, E> {
    match kind {
        Value::String(kind) => Ok(kind),
        other => Err(E::custom(format!(
            "`kind` must be a string, got {}",
            json_type_name(&other)
        ))),
    }
}

/// An object key, borrowed from the input where it can be.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> serde::de::Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(key)))
            }
            fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(key.to_owned())))
            }
            fn visit_string<E>(self, key: String) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(key)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The rest of a task object after its leading `kind`: a second `kind` is an error.
struct KindOnlyOnce<A>(A);

impl<'de, A: serde::de::MapAccess<'de>> serde::de::MapAccess<'de> for KindOnlyOnce<A> {
    type Error = A::Error;

    fn next_key_seed<K: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        use serde::de::value::{BorrowedStrDeserializer, StringDeserializer};
        match self.0.next_key::<Key>()? {
            None => Ok(None),
            Some(Key(key)) if key == "kind" => Err(A::Error::custom("duplicate field `kind`")),
            Some(Key(std::borrow::Cow::Borrowed(key))) => seed
                .deserialize(BorrowedStrDeserializer::<A::Error>::new(key))
                .map(Some),
            Some(Key(std::borrow::Cow::Owned(key))) => seed
                .deserialize(StringDeserializer::<A::Error>::new(key))
                .map(Some),
        }
    }

    fn next_value_seed<V: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, A::Error> {
        self.0.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// Reads a JSON object into a map, refusing a key that appears twice.
struct UniqueKeys;

impl<'de> serde::de::Visitor<'de> for UniqueKeys {
    type Value = Map<String, Value>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("an object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, access: A) -> Result<Self::Value, A::Error> {
        self.read_into(Map::new(), access)
    }
}

impl UniqueKeys {
    /// Adds the rest of an object's entries to `map`.
    fn read_into<'de, A: serde::de::MapAccess<'de>>(
        self,
        mut map: Map<String, Value>,
        mut access: A,
    ) -> Result<Map<String, Value>, A::Error> {
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(A::Error::custom(format!("duplicate field `{key}`")));
            }
            let value: Value = access.next_value()?;
            map.insert(key, value);
        }
        Ok(map)
    }
}

/// `math`: the gold answer, plain, LaTeX, `$...$` or `\boxed{}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MathTask {
    pub answer: String,
    /// Grader options (extraction targets, rounding), read by the math grader.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schema(value_type = crate::math::options::OptionsSpec)]
    pub options: Map<String, Value>,
}

/// `code`: the candidate's code is run against tests in a sandbox.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeTask {
    pub language: CodeLanguage,
    pub tests: CodeTests,
    /// Code put before the candidate's (e.g. HumanEval's prompt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default)]
    pub scoring: Scoring,
    /// Time limit per test case, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_limit_ms: Option<u64>,
    /// Memory limit per run, in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit_mb: Option<u64>,
    /// Tolerance for float return values of `call` tests: `|got - expected| <= tol * (1 + |expected|)`
    /// (and for `stdio` tests' float tokens where their own `float_tolerance` is not set);
    /// with `compare: "python"`, evalplus's `atol` for `np.allclose`: `tol + 1e-7 * |expected|`
    /// (without it, 1e-6 from the first case whose expected value is floats on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub float_tolerance: Option<f64>,
    /// How `call` tests compare return values on the host.
    #[serde(default, skip_serializing_if = "Comparison::is_strict")]
    pub compare: Comparison,
}

/// The equality of `call` tests. `strict` (the default): types are checked, a boolean is never a
/// number, an expected JSON array takes a list or a tuple, integers compare exactly and the
/// tolerance applies only to expected floats. `python`: evalplus's comparison: Python's `==`
/// between plain values (`True == 1`, `[4, 6] != (4, 6)`: write an expected tuple as
/// `{"$tuple": [4, 6]}`; NaN equals nothing), then `np.allclose` under `float_tolerance`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    #[default]
    Strict,
    Python,
}

impl Comparison {
    fn is_strict(&self) -> bool {
        *self == Comparison::Strict
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CodeLanguage {
    Python,
    Javascript,
}

/// The three kinds of code tests. Read by hand (`contract/code_tests.rs`) so that a call case's
/// integers past 64 bits stay exact.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CodeTests {
    /// HumanEval/MBPP style: the test code defines `check(candidate)`.
    Assert { code: String, entry_point: String },
    /// Competitive programming: stdin in, stdout compared line by line.
    Stdio {
        cases: Vec<StdioCase>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        float_tolerance: Option<f64>,
    },
    /// A function called with JSON arguments; its return value is compared on the host.
    Call {
        fn_name: String,
        cases: Vec<CallCase>,
    },
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StdioCase {
    pub input: String,
    pub output: String,
}

/// One call of the candidate's function. Values are plain JSON; an integer beyond 64 bits may
/// be written as a bare number (kept exact, see `contract/code_tests.rs`) or as
/// `{"$int": "digits"}`, as the harness reports such values.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallCase {
    pub args: Vec<Value>,
    pub expected: Value,
}

/// How per-test (or per-instruction) verdicts become a reward.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scoring {
    /// 1 when everything passes, else 0.
    #[default]
    All,
    /// The fraction that passes.
    Fraction,
}

/// `format`: a rule about the completion's layout.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormatTask {
    pub style: FormatStyle,
    /// The chat template already emitted `<think>`: grade as if the completion began with it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub think_prefilled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FormatStyle {
    /// DeepSeek-R1: one `<think>` block with reasoning, then a non-empty answer.
    R1,
    /// open-r1's `format_reward`, bug for bug.
    ThinkAnswer,
    /// `think_answer` with open-r1's holes closed.
    ThinkAnswerStrict,
    /// open-r1's `tag_count_reward`: 0.25 per well-formed tag.
    TagCount,
}

impl FormatStyle {
    pub const ALL: [FormatStyle; 4] = [
        FormatStyle::R1,
        FormatStyle::ThinkAnswer,
        FormatStyle::ThinkAnswerStrict,
        FormatStyle::TagCount,
    ];

    /// `format:` and the style: a format component's name (a constant, not formatted per
    /// sample: `format!` was 4% of `verifier grade`'s instructions on format samples).
    pub fn component_name(self) -> &'static str {
        match self {
            FormatStyle::R1 => "format:r1",
            FormatStyle::ThinkAnswer => "format:think_answer",
            FormatStyle::ThinkAnswerStrict => "format:think_answer_strict",
            FormatStyle::TagCount => "format:tag_count",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FormatStyle::R1 => "r1",
            FormatStyle::ThinkAnswer => "think_answer",
            FormatStyle::ThinkAnswerStrict => "think_answer_strict",
            FormatStyle::TagCount => "tag_count",
        }
    }
}

/// `instructions`: IFEval-style verifiable instructions.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstructionsTask {
    pub instruction_id_list: Vec<String>,
    /// One kwargs object per instruction (IFEval's own field names); may be shorter or absent.
    #[serde(default)]
    pub kwargs: Vec<Map<String, Value>>,
    #[serde(default)]
    pub mode: InstructionsMode,
    #[serde(default)]
    pub scoring: Scoring,
    /// The prompt, which a few IFEval checks need (e.g. `combination:repeat_prompt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InstructionsMode {
    #[default]
    Strict,
    Loose,
}

/// How grading ended. A documented, closed set: never a silent zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Full reward.
    Correct,
    /// Some but not all of the reward (e.g. a fraction of tests or tags).
    Partial,
    /// Graded, and wrong.
    Incorrect,
    /// No answer could be extracted from the completion.
    NoAnswer,
    /// The deadline passed before grading finished.
    Timeout,
    /// The sample or the grader failed; `error` says why.
    Error,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Correct,
        Status::Partial,
        Status::Incorrect,
        Status::NoAnswer,
        Status::Timeout,
        Status::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Correct => "correct",
            Status::Partial => "partial",
            Status::Incorrect => "incorrect",
            Status::NoAnswer => "no_answer",
            Status::Timeout => "timeout",
            Status::Error => "error",
        }
    }

    /// The status a plain score implies: 1 is correct, 0 incorrect, in between partial.
    pub fn from_score(score: f64) -> Status {
        if score >= 1.0 {
            Status::Correct
        } else if score > 0.0 {
            Status::Partial
        } else {
            Status::Incorrect
        }
    }
}

/// What one grader says about one completion.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub reward: f64,
    pub status: Status,
    /// Readable details: extracted answer, failed test, per-instruction verdicts...
    pub details: Details,
    /// Set when `status` is `error` (or another status needs a reason).
    pub error: Option<String>,
}

impl Verdict {
    /// A verdict whose status follows from its score.
    pub fn scored(reward: f64) -> Verdict {
        Verdict {
            reward,
            status: Status::from_score(reward),
            details: Details::default(),
            error: None,
        }
    }

    pub fn error(message: impl Into<String>) -> Verdict {
        Verdict {
            reward: 0.0,
            status: Status::Error,
            details: Details::default(),
            error: Some(message.into()),
        }
    }

    pub fn timeout(message: impl Into<String>) -> Verdict {
        Verdict {
            status: Status::Timeout,
            ..Verdict::error(message)
        }
    }

    pub fn with_detail(mut self, key: &str, value: impl Into<Value>) -> Verdict {
        self.details.insert(key.to_string(), value.into());
        self
    }
}

/// The score of one reward component inside a result.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, ToSchema)]
pub struct ComponentResult {
    pub name: String,
    pub weight: f64,
    pub reward: f64,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schema(value_type = Map<String, Value>)]
    pub details: Details,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One result per sample, in request order.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, ToSchema)]
pub struct GradeResult {
    #[serde(default)]
    pub id: Value,
    /// Weighted sum of the components' rewards.
    pub reward: f64,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Every component, the primary task first. Absent for a sample that did not parse.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<ComponentResult>,
    /// The primary task's details.
    // The same shared map as the primary component's (see `Details`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schema(value_type = Map<String, Value>)]
    pub details: Details,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<Value>,
    /// Wall time spent grading this sample, in microseconds (0 when served from the cache).
    #[serde(default)]
    pub elapsed_us: u64,
    /// True when an identical (task, completion) earlier in the batch was graded instead.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cached: bool,
}

impl GradeResult {
    /// This result for another sample with the same task and completion (`cached`), under that
    /// sample's `id` and `group_id`. This result's own `id` and `group_id` are not copied: a
    /// clone of the whole result copied the first sample's id once per duplicate, so a body of
    /// duplicates after one sample with a large id cost its square (1 MiB: 31–34 s; red team).
    pub fn cached_copy(&self, id: Value, group_id: Option<Value>) -> GradeResult {
        GradeResult {
            id,
            reward: self.reward,
            status: self.status,
            error: self.error.clone(),
            components: self.components.clone(),
            details: self.details.clone(),
            group_id,
            elapsed_us: 0,
            cached: true,
        }
    }

    /// The result for a sample that could not be graded at all.
    pub fn error(id: Value, message: impl Into<String>) -> GradeResult {
        GradeResult {
            id,
            reward: 0.0,
            status: Status::Error,
            error: Some(message.into()),
            components: Vec::new(),
            details: Details::default(),
            group_id: None,
            elapsed_us: 0,
            cached: false,
        }
    }
}

/// Why a sample could not be parsed: a message that names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct SampleError {
    /// Best-effort `id` of the bad sample, so the error can be matched to it.
    pub id: Value,
    pub message: String,
}

impl Sample {
    /// Parses one sample from JSON text, naming the offending field on error.
    pub fn from_json_str(text: &str) -> Result<Sample, SampleError> {
        // Most samples are well formed: parse without tracking the path (a third of the cost
        // of parsing), and parse again with it only to describe an error.
        if let Ok(sample) = serde_json::from_str(text) {
            return Ok(sample);
        }
        if let Some(readable) = lone_surrogates::replace_lone_surrogates(text) {
            return Sample::from_json_str(&readable);
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let parsed = match serde_path_to_error::deserialize::<_, Sample>(&mut de) {
            Ok(sample) => de
                .end()
                .map(|()| sample)
                .map_err(|e| format!("malformed JSON: {e}")),
            // serde_json's streaming parser calls a wrongly typed enum (`"style": 7`) a syntax
            // error ("expected value"); when the text is well-formed JSON, the parsed tree
            // says what was found instead.
            Err(err) if err.inner().is_syntax() && is_well_formed(text) => {
                let streamed = describe_path_error(err);
                match serde_json::from_str::<Value>(text).map(Sample::from_value) {
                    Ok(Err(from_tree)) => Err(from_tree.message),
                    _ => Err(streamed.replacen("malformed JSON", "invalid sample", 1)),
                }
            }
            Err(err) => Err(describe_path_error(err)),
        };
        parsed.map_err(|message| SampleError {
            id: best_effort_id(text),
            message,
        })
    }

    /// Parses the sample on each of `lines` (ranges of `text`, in order, apart), each exactly as
    /// [`Sample::from_json_str`] would. One deserializer reads line after line, so the buffer
    /// it unescapes strings into grows once a call, not once a sample (a new one per sample was
    /// ~6% of `verifier grade`'s CPU on format samples). From the first line whose value fails,
    /// or does not end on that line with only whitespace after it, every line is parsed alone
    /// by `from_json_str` (which names the problem). Restarting the deserializer after each bad
    /// line instead let crafted lines (each opening a bracket the next lines continue, under a
    /// key whose value serde skips without a depth limit) make every restart read to the end
    /// of the chunk: 20 MB of them took 28.8 CPU-s (red team), now 0.20.
    pub fn from_json_lines(
        text: &str,
        lines: &[std::ops::Range<usize>],
    ) -> Vec<Result<Sample, SampleError>> {
        let mut parsed = Vec::with_capacity(lines.len());
        if let Some(first) = lines.first() {
            let from = first.start;
            let mut stream =
                serde_json::Deserializer::from_str(&text[from..]).into_iter::<Sample>();
            for line in lines {
                let value = stream.next();
                let end = from + stream.byte_offset();
                let on_this_line = (line.start..=line.end).contains(&end)
                    && text.as_bytes()[end..line.end]
                        .iter()
                        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
                match value {
                    Some(Ok(sample)) if on_this_line => parsed.push(Ok(sample)),
                    _ => break,
                }
            }
        }
        let alone = lines[parsed.len()..]
            .iter()
            .map(|line| Sample::from_json_str(&text[line.clone()]));
        parsed.extend(alone);
        parsed
    }

    /// Parses one sample from an already-parsed JSON value (an HTTP batch element).
    pub fn from_value(value: Value) -> Result<Sample, SampleError> {
        let id = value.get("id").cloned().unwrap_or(Value::Null);
        serde_path_to_error::deserialize::<_, Sample>(value).map_err(|err| SampleError {
            id,
            message: describe_path_error(err),
        })
    }
}

fn is_well_formed(text: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

fn describe_path_error(err: serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = err.path().to_string();
    let inner = err.into_inner();
    if inner.is_syntax() || inner.is_eof() {
        return format!("malformed JSON: {inner}");
    }
    if path == "." {
        format!("invalid sample: {inner}")
    } else {
        format!("invalid sample: field `{path}`: {inner}")
    }
}

fn best_effort_id(text: &str) -> Value {
    #[derive(Deserialize)]
    struct JustId {
        #[serde(default)]
        id: Value,
    }
    serde_json::from_str::<JustId>(text)
        .map(|j| j.id)
        .unwrap_or(Value::Null)
}

fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sample or its error, comparable.
    fn outcome(parsed: &Result<Sample, SampleError>) -> Result<Value, SampleError> {
        parsed
            .as_ref()
            .map(|sample| serde_json::to_value(sample).unwrap())
            .map_err(Clone::clone)
    }

    /// A cached copy is the graded result under the duplicate's own id and group, marked
    /// cached, with no time of its own.
    #[test]
    fn a_cached_copy_takes_the_duplicates_id_and_group() {
        let mut graded = GradeResult::error(serde_json::json!(["a", "long", "id"]), "why");
        graded.group_id = Some(Value::from("first group"));
        graded.elapsed_us = 17;
        let copy = graded.cached_copy(Value::from(2), None);
        assert_eq!(
            (
                copy.id.clone(),
                copy.group_id.clone(),
                copy.elapsed_us,
                copy.cached
            ),
            (Value::from(2), None, 0, true)
        );
        assert_eq!(
            (
                copy.reward,
                copy.status,
                copy.error,
                copy.components,
                copy.details
            ),
            (
                graded.reward,
                graded.status,
                graded.error,
                graded.components,
                graded.details
            )
        );
    }

    #[test]
    fn lines_parse_as_each_line_alone_does() {
        let lines = [
            r#"{"id":1,"completion":"a\nb \u00e9 \ud83d\ude00","task":{"kind":"format","style":"r1"}}"#,
            r#"  {"id":2,"completion":"x","task":{"kind":"math","answer":"1"}}  "#,
            "{\"id\":3,\"completion\":\"x\",\"task\":{\"kind\":\"math\",\"answer\":\"1\"}}\r",
            r#"{"id":4,"completion":"x","task":{"kind":"math","answer":"1"}} trailing"#,
            r#"{"id":5,"completion":"x","task":{"kind":"math","answer":"1"}}{"id":6}"#,
            r#"{"id":7,"completion":"x","#,
            r#""task":{"kind":"math","answer":"1"}}"#,
            r#"{"id":8,"completion":7,"task":{"kind":"math","answer":"1"}}"#,
            r#"{"id":9,"completion":"x","task":{"kind":"format","style":7}}"#,
            "\u{c}{\"id\":10,\"completion\":\"x\",\"task\":{\"kind\":\"math\",\"answer\":\"1\"}}",
            r#"[1, 2]"#,
            r#"{"id":11,"completion":"x","task":{"kind":"math","answer":"1"},"id":12}"#,
            r#"{"id":13,"completion":"\ud800","task":{"kind":"math","answer":"1"}}"#,
            r#"17"#,
            r#"{"id":14,"completion":"y","task":{"kind":"plugin_kind","n":1}}"#,
            r#"{"id":15,"completion":"z","task":{"kind":"math","answer":"2"}}"#,
        ];
        // Lines apart by newlines (as `grade` keeps them), and also run together.
        for separator in ["\n", "\n\n", ""] {
            let mut text = String::new();
            let mut ranges = Vec::new();
            for line in lines {
                let start = text.len();
                text.push_str(line);
                ranges.push(start..text.len());
                text.push_str(separator);
            }
            let together = Sample::from_json_lines(&text, &ranges);
            assert_eq!(together.len(), lines.len());
            for (line, parsed) in lines.iter().zip(&together) {
                assert_eq!(
                    outcome(parsed),
                    outcome(&Sample::from_json_str(line)),
                    "{line}"
                );
            }
            // The good lines after bad ones parse too.
            let ok = together.iter().filter(|p| p.is_ok()).count();
            assert!(
                ok >= 5,
                "{ok} of the lines parsed with separator {separator:?}"
            );
        }
    }

    #[test]
    fn format_component_names_are_format_and_the_style() {
        for style in FormatStyle::ALL {
            assert_eq!(style.component_name(), format!("format:{}", style.as_str()));
        }
    }

    #[test]
    fn a_sample_has_at_most_max_components() {
        let sample = |n: usize| {
            let component = r#"{"task":{"kind":"format","style":"r1"}}"#;
            let components = vec![component; n].join(",");
            format!(
                r#"{{"completion":"x","task":{{"kind":"format","style":"r1"}},"components":[{components}]}}"#
            )
        };
        assert_eq!(
            Sample::from_json_str(&sample(MAX_COMPONENTS))
                .unwrap()
                .components
                .len(),
            MAX_COMPONENTS
        );
        let err = Sample::from_json_str(&sample(MAX_COMPONENTS + 1)).unwrap_err();
        assert!(
            err.message.contains("more than 64 components"),
            "{}",
            err.message
        );
    }

    #[test]
    fn parses_each_builtin_kind() {
        let math = r#"{"id":"a","completion":"x","task":{"kind":"math","answer":"0.5"}}"#;
        assert!(matches!(
            Sample::from_json_str(math).unwrap().task,
            Task::Math(_)
        ));
        let code = r#"{"completion":"x","task":{"kind":"code","language":"python",
            "tests":{"type":"assert","code":"def check(c): pass","entry_point":"f"}}}"#;
        assert!(matches!(
            Sample::from_json_str(code).unwrap().task,
            Task::Code(_)
        ));
        let stdio = r#"{"completion":"x","task":{"kind":"code","language":"javascript",
            "tests":{"type":"stdio","cases":[{"input":"1","output":"2"}]},"scoring":"fraction"}}"#;
        assert!(matches!(
            Sample::from_json_str(stdio).unwrap().task,
            Task::Code(_)
        ));
        let call = r#"{"completion":"x","task":{"kind":"code","language":"python",
            "tests":{"type":"call","fn_name":"f","cases":[{"args":[1,[2]],"expected":3}]}}}"#;
        assert!(matches!(
            Sample::from_json_str(call).unwrap().task,
            Task::Code(_)
        ));
        let fmt = r#"{"completion":"x","task":{"kind":"format","style":"r1"}}"#;
        assert!(matches!(
            Sample::from_json_str(fmt).unwrap().task,
            Task::Format(_)
        ));
        let ifeval = r#"{"completion":"x","task":{"kind":"instructions",
            "instruction_id_list":["punctuation:no_comma"],"kwargs":[{}],"mode":"loose"}}"#;
        assert!(matches!(
            Sample::from_json_str(ifeval).unwrap().task,
            Task::Instructions(_)
        ));
    }

    /// A task reads the same whether `kind` comes first (streamed into the typed task) or
    /// later (buffered), through a JSON text and through a `Value`; both refuse the same things.
    #[test]
    fn a_task_reads_the_same_whatever_the_position_of_kind() {
        let tasks = [
            (
                r#"{"kind":"math","answer":"1/2","options":{"x":1}}"#,
                r#"{"answer":"1/2","options":{"x":1},"kind":"math"}"#,
            ),
            (
                r#"{"kind":"format","style":"r1"}"#,
                r#"{"style":"r1","kind":"format"}"#,
            ),
            (
                r#"{"kind":"my_plugin","level":3,"k\u0069nd2":"y"}"#,
                r#"{"level":3,"kind":"my_plugin","k\u0069nd2":"y"}"#,
            ),
        ];
        for (first, later) in tasks {
            let read = |task: &str| {
                let text = format!(r#"{{"completion":"x","task":{task}}}"#);
                let from_text = Sample::from_json_str(&text).unwrap().task;
                let value: Value = serde_json::from_str(&text).unwrap();
                let from_value = Sample::from_value(value).unwrap().task;
                assert_eq!(
                    serde_json::to_value(&from_text).unwrap(),
                    serde_json::to_value(&from_value).unwrap()
                );
                serde_json::to_value(&from_text).unwrap()
            };
            assert_eq!(read(first), read(later), "{first}");
        }
        let refused = [
            (
                r#"{"kind":"format","style":"r1","kind":"math"}"#,
                "duplicate field `kind`",
            ),
            (
                r#"{"style":"r1","kind":"format","kind":"math"}"#,
                "duplicate field `kind`",
            ),
            (r#"{"kind":"p","a":1,"kind":"q"}"#, "duplicate field `kind`"),
            (
                r#"{"kind":"format","style":"r1","style":"r1"}"#,
                "duplicate field `style`",
            ),
            (
                r#"{"style":"r1","style":"r1","kind":"format"}"#,
                "duplicate field `style`",
            ),
            (r#"{"kind":"math","answer":"1","optoins":{}}"#, "optoins"),
            (r#"{"answer":"1","optoins":{},"kind":"math"}"#, "optoins"),
            (
                r#"{"kind":3,"answer":"1"}"#,
                "`kind` must be a string, got a number",
            ),
            (
                r#"{"answer":"1","kind":null}"#,
                "`kind` must be a string, got null",
            ),
            (r#"{"answer":"1"}"#, "missing field `kind`"),
            (r#"{}"#, "missing field `kind`"),
            (r#"{"kind":"math"}"#, "missing field `answer`"),
            // A wrongly typed enum: serde_json's streaming parser calls it a syntax error.
            (
                r#"{"kind":"format","style":7}"#,
                "invalid type: integer `7`, expected string or map",
            ),
            (
                r#"{"style":null,"kind":"format"}"#,
                "style: invalid type: null, expected string or map",
            ),
        ];
        for (task, needle) in refused {
            let text = format!(r#"{{"completion":"x","task":{task}}}"#);
            let err = Sample::from_json_str(&text).unwrap_err().message;
            assert!(err.contains(needle), "{task}: {err}");
        }
        let broken = Sample::from_json_str(r#"{"completion":"x","task":{"kind":"#);
        assert!(broken.unwrap_err().message.starts_with("malformed JSON"));
    }

    #[test]
    fn unknown_kind_is_kept_for_the_registry() {
        let s = r#"{"completion":"x","task":{"kind":"my_plugin","level":3}}"#;
        let sample = Sample::from_json_str(s).unwrap();
        assert_eq!(sample.task.kind(), "my_plugin");
        match sample.task {
            Task::Plugin { params, .. } => assert_eq!(params["level"], 3),
            other => panic!("expected a plugin task, got {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field() {
        let wrong_type = r#"{"id":7,"completion":5,"task":{"kind":"format","style":"r1"}}"#;
        let err = Sample::from_json_str(wrong_type).unwrap_err();
        assert!(err.message.contains("`completion`"), "{}", err.message);
        assert_eq!(err.id, Value::from(7));

        let bad_task = r#"{"completion":"x","task":{"kind":"math","answer":3}}"#;
        let err = Sample::from_json_str(bad_task).unwrap_err();
        assert!(
            err.message.contains("task") && err.message.contains("answer"),
            "{}",
            err.message
        );

        let bad_style = r#"{"completion":"x","task":{"kind":"format","style":"xml"}}"#;
        let err = Sample::from_json_str(bad_style).unwrap_err();
        assert!(err.message.contains("style"), "{}", err.message);

        let missing = r#"{"completion":"x"}"#;
        let err = Sample::from_json_str(missing).unwrap_err();
        assert!(err.message.contains("task"), "{}", err.message);

        let malformed = r#"{"completion": "x", "#;
        let err = Sample::from_json_str(malformed).unwrap_err();
        assert!(err.message.contains("malformed JSON"), "{}", err.message);
    }

    #[test]
    fn a_chat_message_list_completion_is_its_last_assistant_message() {
        let chat = r#"{"completion":[{"role":"user","content":"1+1?"},
            {"role":"assistant","content":"$\\boxed{2}$"}],"task":{"kind":"math","answer":"2"}}"#;
        let sample = Sample::from_json_str(chat).unwrap();
        assert_eq!(sample.completion, "$\\boxed{2}$");
        // Serialised back, it is the text that was graded.
        let text = serde_json::to_value(&sample).unwrap();
        assert_eq!(text["completion"], "$\\boxed{2}$");

        let no_assistant = r#"{"id":4,"completion":[{"role":"user","content":"hi"}],
            "task":{"kind":"math","answer":"2"}}"#;
        let err = Sample::from_json_str(no_assistant).unwrap_err();
        assert!(
            err.message.contains("`completion`") && err.message.contains("no assistant message"),
            "{}",
            err.message
        );
        assert_eq!(err.id, Value::from(4));
        let number = r#"{"completion":5,"task":{"kind":"math","answer":"2"}}"#;
        let err = Sample::from_json_str(number).unwrap_err();
        assert!(
            err.message.contains("a string or a list of chat messages"),
            "{}",
            err.message
        );
    }

    #[test]
    fn task_round_trips_through_json() {
        let s = r#"{"completion":"x","task":{"kind":"my_plugin","level":3}}"#;
        let task = Sample::from_json_str(s).unwrap().task;
        let text = serde_json::to_string(&task).unwrap();
        let back: Task = serde_json::from_str(&text).unwrap();
        assert_eq!(task, back);
        let fmt: Task = serde_json::from_str(r#"{"kind":"format","style":"tag_count"}"#).unwrap();
        let text = serde_json::to_string(&fmt).unwrap();
        assert_eq!(serde_json::from_str::<Task>(&text).unwrap(), fmt);
    }
}
