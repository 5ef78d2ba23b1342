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
//! Unknown options are an error, so a typo does not silently change what is graded.

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

impl MathOptions {
    /// Reads `task.options`; the error names the offending option.
    pub fn from_map(options: &Map<String, Value>) -> Result<MathOptions, String> {
        let mut out = MathOptions::default();
        let mut choices: Option<Vec<&str>> = None;
        // Borrowed from the options map: reading options allocates nothing in the usual case.
        let mut answer_kinds: Vec<&str> = vec!["latex", "expr"];
        let mut gold_kinds = answer_kinds.clone();
        let mut boxed: Option<i32> = Some(0);
        let mut without_anchor = true;
        for (key, value) in options {
            match key.as_str() {
                "answer_targets" => answer_kinds = string_list(key, value)?,
                "gold_targets" => gold_kinds = string_list(key, value)?,
                "boxed_priority" => {
                    let p = value
                        .as_i64()
                        .ok_or_else(|| format!("option `{key}` must be an integer"))?;
                    boxed = (p >= 0).then_some(p.clamp(0, 1000) as i32);
                }
                "require_anchor" => without_anchor = !bool_option(key, value)?,
                "extraction_mode" => match value.as_str() {
                    Some("any_match") => out.first_match = false,
                    Some("first_match") => out.first_match = true,
                    _ => {
                        return Err(format!(
                            "option `{key}` must be \"any_match\" or \"first_match\""
                        ))
                    }
                },
                "choices" => choices = Some(string_list(key, value)?),
                "float_rounding" => {
                    let places = value
                        .as_u64()
                        .filter(|p| *p <= 15)
                        .ok_or_else(|| format!("option `{key}` must be an integer from 0 to 15"))?;
                    out.rules.float_rounding = places as u32;
                }
                "strict" => out.rules.strict = bool_option(key, value)?,
                "allow_set_relation" => out.rules.allow_set_relation = bool_option(key, value)?,
                other => {
                    return Err(format!(
                        "unknown math option `{other}`; known: answer_targets, gold_targets, \
                         boxed_priority, require_anchor, extraction_mode, choices, \
                         float_rounding, strict, allow_set_relation"
                    ))
                }
            }
        }
        let letters = |kinds: &[&str]| -> Vec<String> {
            if kinds.contains(&"choice") {
                choices
                    .as_deref()
                    .unwrap_or(&DEFAULT_CHOICES)
                    .iter()
                    .map(|c| c.to_uppercase())
                    .collect()
            } else {
                Vec::new()
            }
        };
        for (kinds, slot, anchorless, is_gold) in [
            (&answer_kinds, &mut out.answer, without_anchor, false),
            (&gold_kinds, &mut out.gold, true, true),
        ] {
            if let Some(bad) = kinds
                .iter()
                .find(|k| !matches!(**k, "latex" | "expr" | "choice"))
            {
                return Err(format!(
                    "unknown extraction target `{bad}`; use \"latex\", \"expr\" or \"choice\""
                ));
            }
            let has = |k: &str| kinds.contains(&k);
            *slot = targets(has("latex"), has("expr"), letters(kinds), boxed, anchorless);
            slot.whole_text = anchorless && (has("latex") || has("expr"));
            slot.whole_text_is_answer = is_gold;
        }
        Ok(out)
    }
}

fn bool_option(key: &str, value: &Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| format!("option `{key}` must be true or false"))
}

fn string_list<'a>(key: &str, value: &'a Value) -> Result<Vec<&'a str>, String> {
    let items = value
        .as_array()
        .ok_or_else(|| format!("option `{key}` must be a list of strings"))?;
    items
        .iter()
        .map(|v| {
            v.as_str()
                .ok_or_else(|| format!("option `{key}` must be a list of strings"))
        })
        .collect()
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
        assert!(err.contains("float_roundin"));
    }
}
