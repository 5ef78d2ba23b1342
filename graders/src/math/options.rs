//! Per-task options of the math grader (`task.options`), with R1/open-r1-like defaults for RL.
//!
//! | option | type | default | meaning |
//! | --- | --- | --- | --- |
//! | `answer_targets` | list of `"latex"`, `"expr"`, `"choice"` | `["latex", "expr"]` | what to look for in the completion |
//! | `gold_targets` | same | `["latex", "expr"]` | what to look for in the gold answer |
//! | `boxed_priority` | integer, or `-1` to ignore boxes | `0` (boxes first) | rank of `\boxed{}` among candidates (anchored phrases are 0, 50, 100; bare math 300) |
//! | `require_anchor` | bool | `false` | only boxes and anchored phrases count, no bare math or numbers |
//! | `extraction_mode` | `"any_match"` or `"first_match"` | `"any_match"` | take the best candidate that parses, or only the best candidate |
//! | `choices` | list of letters | `["A","B","C","D","E"]` when a target is `"choice"` | multiple-choice letters |
//! | `float_rounding` | integer 0..=15 | `6` | decimal places for the decimal rule |
//! | `strict` | bool | `true` | `false` lets the answer's variable names differ from the gold's |
//! | `allow_set_relation` | bool | `false` | also accept an inequality answer for an interval gold |
//!
//! Unknown options are an error, so a typo does not silently change what is graded. The
//! options are read into [`OptionsSpec`], which is also their published schema.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::equiv::Rules;
use super::extract::Targets;

/// Everything the grader needs to know about one task.
#[derive(Debug, Clone)]
pub struct MathOptions {
    pub answer: Targets,
    pub gold: Targets,
    /// Only the best candidate is tried (`first_match`).
    pub first_match: bool,
    /// The chat template already opened `<think>`: the completion starts inside it, so one that
    /// never writes `</think>` has given no answer.
    pub think_prefilled: bool,
    pub rules: Rules,
}

impl Default for MathOptions {
    fn default() -> MathOptions {
        MathOptions {
            answer: targets(true, true, Vec::new(), Some(0), true),
            gold: Targets {
                whole_text_is_answer: true,
                ..targets(true, true, Vec::new(), Some(0), true)
            },
            first_match: false,
            think_prefilled: false,
            rules: Rules::default(),
        }
    }
}

fn targets(
    latex: bool,
    expr: bool,
    choices: Vec<String>,
    boxed_priority: Option<i32>,
    without_anchor: bool,
) -> Targets {
    Targets {
        latex,
        expr,
        choices,
        boxed_priority,
        without_anchor,
        whole_text: true,
        whole_text_is_answer: false,
    }
}

const DEFAULT_CHOICES: [&str; 5] = ["A", "B", "C", "D", "E"];

/// What the completion (or the gold answer) is searched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = MathTarget)]
pub enum Target {
    /// LaTeX: boxes, `$...$`, environments.
    Latex,
    /// Plain expressions and numbers.
    Expr,
    /// A multiple-choice letter (see `choices`).
    Choice,
}

/// `any_match` takes the best candidate that parses; `first_match` only the best candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = MathExtractionMode)]
pub enum ExtractionMode {
    AnyMatch,
    FirstMatch,
}

/// The math task's `options`, as the grader reads them: this type is both the parser and the
/// published schema (`GET /openapi.json`), so the two cannot drift apart. Every option may be
/// left out; an unknown one is an error naming it.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MathOptions)]
pub struct OptionsSpec {
    /// What to look for in the completion (default `["latex", "expr"]`).
    #[serde(default)]
    pub answer_targets: Option<Vec<Target>>,
    /// What to look for in the gold answer (default `["latex", "expr"]`).
    #[serde(default)]
    pub gold_targets: Option<Vec<Target>>,
    /// Rank of `\boxed{}` among candidates (anchored phrases are 0, 50, 100; bare math 300);
    /// default 0 (boxes first); a negative value ignores boxes.
    #[serde(default)]
    pub boxed_priority: Option<i64>,
    /// Only boxes and anchored phrases count, no bare math or numbers (default false).
    #[serde(default)]
    pub require_anchor: Option<bool>,
    /// Default `any_match`.
    #[serde(default)]
    pub extraction_mode: Option<ExtractionMode>,
    /// Multiple-choice letters when a target is `choice` (default A to E).
    #[serde(default)]
    pub choices: Option<Vec<String>>,
    /// Decimal places for the decimal rule, 0 to 15 (default 6).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 15)]
    pub float_rounding: Option<u8>,
    /// `false` lets the answer's variable names differ from the gold's (default true).
    #[serde(default)]
    pub strict: Option<bool>,
    /// Also accept an inequality answer for an interval gold (default false).
    #[serde(default)]
    pub allow_set_relation: Option<bool>,
    /// The prompt's chat template already opened `<think>` (R1-distill templates do): the
    /// completion starts inside the reasoning, only text after `</think>` is searched, and one
    /// that never closes it has no answer (default false; as the `format` task's option).
    #[serde(default)]
    pub think_prefilled: Option<bool>,
}

impl MathOptions {
    /// Reads `task.options`; the error names the offending option.
    pub fn from_map(options: &Map<String, Value>) -> Result<MathOptions, String> {
        if options.is_empty() {
            // The usual case reads nothing and allocates nothing.
            return Ok(MathOptions::default());
        }
        // Borrowed from the options map: no copy of the values.
        let entries = options.iter().map(|(key, value)| (key.as_str(), value));
        let deserializer = serde::de::value::MapDeserializer::new(entries);
        let spec: OptionsSpec = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let path = e.path().to_string();
            let inner: serde_json::Error = e.into_inner();
            if path == "." {
                inner.to_string()
            } else {
                format!("option `{path}`: {inner}")
            }
        })?;
        MathOptions::from_spec(spec)
    }

    fn from_spec(spec: OptionsSpec) -> Result<MathOptions, String> {
        let mut out = MathOptions::default();
        if let Some(places) = spec.float_rounding {
            if places > 15 {
                return Err("option `float_rounding` must be an integer from 0 to 15".into());
            }
            out.rules.float_rounding = u32::from(places);
        }
        if let Some(strict) = spec.strict {
            out.rules.strict = strict;
        }
        if let Some(allow) = spec.allow_set_relation {
            out.rules.allow_set_relation = allow;
        }
        out.first_match = spec.extraction_mode == Some(ExtractionMode::FirstMatch);
        out.think_prefilled = spec.think_prefilled.unwrap_or(false);
        let boxed = match spec.boxed_priority {
            Some(p) if p < 0 => None,
            Some(p) => Some(p.min(1000) as i32),
            None => Some(0),
        };
        let without_anchor = !spec.require_anchor.unwrap_or(false);
        let default_kinds = [Target::Latex, Target::Expr];
        let answer_kinds = spec.answer_targets.as_deref().unwrap_or(&default_kinds);
        let gold_kinds = spec.gold_targets.as_deref().unwrap_or(&default_kinds);
        let letters = |kinds: &[Target]| -> Vec<String> {
            if !kinds.contains(&Target::Choice) {
                return Vec::new();
            }
            match &spec.choices {
                Some(choices) => choices.iter().map(|c| c.to_uppercase()).collect(),
                None => DEFAULT_CHOICES.iter().map(|c| c.to_string()).collect(),
            }
        };
        for (kinds, slot, anchorless, is_gold) in [
            (answer_kinds, &mut out.answer, without_anchor, false),
            (gold_kinds, &mut out.gold, true, true),
        ] {
            let has = |k: Target| kinds.contains(&k);
            *slot = targets(
                has(Target::Latex),
                has(Target::Expr),
                letters(kinds),
                boxed,
                anchorless,
            );
            slot.whole_text = anchorless && (has(Target::Latex) || has(Target::Expr));
            slot.whole_text_is_answer = is_gold;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_and_rejects_options() {
        let map = json!({"float_rounding": 3, "answer_targets": ["choice"], "boxed_priority": -1});
        let opts = MathOptions::from_map(map.as_object().unwrap()).unwrap();
        assert_eq!(opts.rules.float_rounding, 3);
        assert_eq!(opts.answer.choices.len(), 5);
        assert!(opts.answer.boxed_priority.is_none());
        let bad = json!({"float_roundin": 3});
        let err = MathOptions::from_map(bad.as_object().unwrap()).unwrap_err();
        assert!(err.contains("float_roundin"), "{err}");
        for (bad, names) in [
            (json!({"float_rounding": 16}), "float_rounding"),
            (
                json!({"answer_targets": ["latex", "words"]}),
                "answer_targets",
            ),
            (json!({"strict": "yes"}), "strict"),
            (json!({"extraction_mode": "best"}), "extraction_mode"),
        ] {
            let err = MathOptions::from_map(bad.as_object().unwrap()).unwrap_err();
            assert!(err.contains(names), "{err}");
        }
        let first = json!({"extraction_mode": "first_match", "require_anchor": true,
                           "choices": ["a", "b"], "gold_targets": ["choice"]});
        let opts = MathOptions::from_map(first.as_object().unwrap()).unwrap();
        assert!(opts.first_match);
        assert!(!opts.answer.without_anchor);
        assert_eq!(opts.gold.choices, ["A", "B"]);
        assert!(opts.answer.choices.is_empty());
    }
}
