//! The `instructions` grader: IFEval's 25 verifiable instructions, strict and loose, with the
//! reference implementation's exact semantics (google-research `instruction_following_eval`,
//! as shipped in lm-eval; see shared/research/format.md §3).
//!
//! Code map: [`spec`] parses instruction ids and kwargs (`parsed` keeps each thread's recent
//! tasks parsed); [`check`] holds the check of each id;
//! [`evaluate`] applies strict and loose mode; [`punkt`] and [`treebank`] reproduce NLTK's
//! sentence and word tokenizers, [`language`] is langdetect with a fixed seed, [`pyjson`]
//! answers "would Python's `json.loads` accept this", [`pystr`] holds Python string semantics.
//!
//! Verdict: `details.followed` has one boolean per instruction; the reward is 1 when all are
//! followed and 0 otherwise (`scoring: all`), or the fraction followed (`scoring: fraction`);
//! the status follows the reward (`correct`, `partial`, `incorrect`). An unknown id or bad
//! kwargs give an `error` verdict naming the instruction and the field.
//!
//! Differences from the reference, all deliberate: a `letter` outside a-z is counted literally
//! (the reference counts a random letter); a missing kwarg is an error (the reference draws one
//! at random); langdetect is seeded (the reference is not, so short texts can flip there).
//! `combination:repeat_prompt` falls back to the task's `prompt` when `prompt_to_repeat` is absent.

mod caseless_word;
mod check;
pub mod evaluate;
pub mod language;
mod parsed;
pub mod punkt;
mod pyjson;
pub mod pystr;
mod regex_cache;
pub mod spec;
pub mod treebank;

use serde_json::Value;

use crate::contract::{InstructionsMode, InstructionsTask, Scoring, Status, Task, Verdict};
use crate::registry::{GradeContext, Grader, GraderInfo};
pub use spec::{Instruction, INSTRUCTION_IDS};

pub struct InstructionsGrader;

impl Grader for InstructionsGrader {
    fn info(&self) -> GraderInfo {
        GraderInfo {
            kind: "instructions".into(),
            description: "IFEval's 25 verifiable instructions, strict or loose, with the reference's exact semantics".into(),
            available: true,
            variants: INSTRUCTION_IDS.iter().map(|id| id.to_string()).collect(),
            version: None,
        }
    }

    /// Builds what grading otherwise builds on first use (langdetect's language profiles, 6–9 ms
    /// read from their build-time serialised form; Punkt's parameters; the word tokenizer's
    /// rules) by grading one small sample, so that the first sample's deadline does not pay
    /// for them.
    fn prepare(&self) {
        static WARMED: std::sync::Once = std::sync::Once::new();
        WARMED.call_once(|| {
            let _ = warm_up();
        });
    }

    fn grade(&self, completion: &str, task: &Task, ctx: &GradeContext) -> Verdict {
        match task {
            Task::Instructions(task) => {
                grade_instructions_until(completion, task, &|| ctx.expired())
            }
            other => Verdict::error(format!(
                "the instructions grader got a `{}` task",
                other.kind()
            )),
        }
    }
}

/// Parses the task's instructions, naming the first bad one.
pub fn parse_instructions(task: &InstructionsTask) -> Result<Vec<Instruction>, String> {
    if task.instruction_id_list.is_empty() {
        return Err("instruction_id_list is empty".into());
    }
    if task.kwargs.len() > task.instruction_id_list.len() {
        return Err(format!(
            "kwargs has {} entries for {} instructions",
            task.kwargs.len(),
            task.instruction_id_list.len()
        ));
    }
    let no_kwargs = serde_json::Map::new();
    task.instruction_id_list
        .iter()
        .enumerate()
        .map(|(index, id)| {
            let kwargs = task.kwargs.get(index).unwrap_or(&no_kwargs);
            Instruction::parse(id, kwargs, task.prompt.as_deref())
                .map_err(|why| format!("instruction {index} (`{id}`): {why}"))
        })
        .collect()
}

/// Grades one completion (the whole completion is the response, as in IFEval).
/// Grades one small English sample with a language, a sentence and a word check: what
/// [`InstructionsGrader::prepare`] runs to build the lazily built tables.
fn warm_up() -> Verdict {
    let kwargs = [
        r#"{"language": "en"}"#,
        r#"{"relation": "at least", "num_sentences": 1}"#,
        r#"{"relation": "at least", "num_words": 1}"#,
    ];
    let task = strict_task(
        &[
            "language:response_language",
            "length_constraints:number_sentences",
            "length_constraints:number_words",
        ],
        &kwargs,
        None,
    );
    grade_instructions("This sentence is in English. So is this one.", &task)
}

/// A strict, all-or-nothing task from instruction ids and each one's kwargs as JSON text.
fn strict_task(ids: &[&str], kwargs: &[&str], prompt: Option<&str>) -> InstructionsTask {
    InstructionsTask {
        instruction_id_list: ids.iter().map(|id| id.to_string()).collect(),
        kwargs: kwargs
            .iter()
            .map(|k| serde_json::from_str(k).expect("valid kwargs"))
            .collect(),
        mode: InstructionsMode::Strict,
        scoring: Scoring::All,
        prompt: prompt.map(str::to_string),
    }
}

pub fn grade_instructions(completion: &str, task: &InstructionsTask) -> Verdict {
    grade_instructions_until(completion, task, &|| false)
}

/// [`grade_instructions`], asking `stop` before each check: a `timeout` once it says stop.
pub fn grade_instructions_until(
    completion: &str,
    task: &InstructionsTask,
    stop: &dyn Fn() -> bool,
) -> Verdict {
    let parsed = parsed::parsed_instructions(task);
    let instructions = match parsed.as_ref() {
        Ok(instructions) => instructions,
        Err(why) => return Verdict::error(why.clone()),
    };
    let followed = match task.mode {
        InstructionsMode::Strict => evaluate::strict_until(completion, instructions, stop),
        InstructionsMode::Loose => evaluate::loose_until(completion, instructions, stop),
    };
    let Some(followed) = followed else {
        return Verdict::timeout("the deadline passed while checking the instructions");
    };
    let passed = followed.iter().filter(|&&f| f).count();
    let reward = match task.scoring {
        Scoring::All => f64::from(u8::from(passed == followed.len())),
        Scoring::Fraction => passed as f64 / followed.len() as f64,
    };
    let mode = match task.mode {
        InstructionsMode::Strict => "strict",
        InstructionsMode::Loose => "loose",
    };
    Verdict {
        reward,
        status: Status::from_score(reward),
        details: Default::default(),
        error: None,
    }
    .with_detail(
        "followed",
        Value::Array(followed.into_iter().map(Value::Bool).collect()),
    )
    .with_detail("mode", mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Sample;

    #[test]
    fn the_warm_up_sample_passes_every_check_it_runs() {
        // A warm-up that erred before reaching the language check would warm nothing.
        let verdict = warm_up();
        assert_eq!(verdict.status, Status::Correct, "{verdict:?}");
    }

    fn grade(json: &str) -> Verdict {
        let sample = Sample::from_json_str(json).unwrap();
        InstructionsGrader.grade(&sample.completion, &sample.task, &GradeContext::default())
    }

    #[test]
    fn reports_one_verdict_per_instruction() {
        let v = grade(
            r#"{"completion":"hello world, friend","task":{"kind":"instructions",
                "instruction_id_list":["punctuation:no_comma","length_constraints:number_words"],
                "kwargs":[{},{"relation":"at least","num_words":3}],"scoring":"fraction"}}"#,
        );
        assert_eq!(v.details["followed"], serde_json::json!([false, true]));
        assert_eq!(v.reward, 0.5);
        assert_eq!(v.status, Status::Partial);
    }

    #[test]
    fn loose_mode_forgives_markdown_and_preambles() {
        let task = |mode: &str| {
            format!(
                r#"{{"completion":"Sure, here it is:\n**\"Quoted answer\"**","task":{{"kind":"instructions",
                "instruction_id_list":["startend:quotation"],"mode":"{mode}"}}}}"#
            )
        };
        assert_eq!(grade(&task("strict")).status, Status::Incorrect);
        assert_eq!(grade(&task("loose")).status, Status::Correct);
    }

    /// `\bword\b` as IFEval's Python reads it: marks, joiners and connector punctuation are
    /// not word characters there (they hid a forbidden word from the regex crate's `\b`), and
    /// numbers such as `²` are.
    #[test]
    fn forbidden_words_have_pythons_word_boundaries() {
        let followed = |text: &str, word: &str| -> bool {
            let sample = serde_json::json!({"completion": text, "task": {"kind": "instructions",
                "instruction_id_list": ["keywords:forbidden_words"],
                "kwargs": [{"forbidden_words": [word]}]}});
            grade(&sample.to_string()).status == Status::Correct
        };
        for text in [
            "The war\u{301} is over.",
            "The war\u{200d} is over.",
            "The war\u{203f} is over.",
            "The \u{301}war is over.",
            "The war is over.",
            "WAR.",
            "war",
            "(war)",
        ] {
            assert!(!followed(text, "war"), "{text:?} holds the word");
        }
        for text in [
            "The war\u{b2} is over.",
            "warfare",
            "prewar",
            "war_time",
            "war3",
        ] {
            assert!(followed(text, "war"), "{text:?} does not hold the word");
        }
        // Hyphens and the like are literal to Python, so such words get Python's `\b` too.
        assert!(!followed("my well-being\u{301} matters", "well-being"));
        assert!(!followed("my well-being\u{200d} matters", "well-being"));
        assert!(followed("my well-beings matter", "well-being"));
        // Dotless and dotted i are an i to Python's IGNORECASE.
        assert!(!followed("I will k\u{131}ll it", "kill"));
        assert!(!followed("K\u{130}LL", "kill"));
        // Words that start or end with a non-word character keep `\b`'s meaning there.
        assert!(!followed("say hey!you", "hey!"));
        assert!(followed("say hey! you", "hey!"));
        assert!(followed("say hey!", "hey!"));
        // A word written as a pattern is still a pattern.
        assert!(!followed("colour", "colou?r"));
    }

    #[test]
    fn bad_input_is_an_error_that_names_it() {
        let unknown = grade(
            r#"{"completion":"x","task":{"kind":"instructions","instruction_id_list":["keywords:nope"]}}"#,
        );
        assert_eq!(unknown.status, Status::Error);
        assert!(unknown
            .error
            .unwrap()
            .contains("unknown instruction id `keywords:nope`"));
        let bad = grade(
            r#"{"completion":"x","task":{"kind":"instructions","instruction_id_list":["length_constraints:number_words"],
                "kwargs":[{"relation":"more than","num_words":3}]}}"#,
        );
        let message = bad.error.unwrap();
        assert!(message.contains("kwargs.relation"), "{message}");
        let missing = grade(
            r#"{"completion":"x","task":{"kind":"instructions","instruction_id_list":["keywords:frequency"],
                "kwargs":[{"keyword":"x","frequency":null}]}}"#,
        );
        assert!(missing.error.unwrap().contains("frequency"));
    }
}
