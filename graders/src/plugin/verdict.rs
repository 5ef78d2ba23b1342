//! What a plugin returned, as a verdict: one reading for Python and component plugins.
//!
//! A plugin returns a number (the reward; a bool counts as 1 or 0), or an object with `reward`
//! and optionally `status` (`correct`, `partial`, `incorrect`, `no_answer`) and `details` (an
//! object shown with the result). Anything else is an `error` naming the plugin: a typo such as
//! `score` must not silently grade every sample 0.

use serde_json::{Map, Value};

use crate::contract::{check_magnitude, Status, Verdict};

/// The statuses a plugin may give; `timeout` and `error` are ours to give.
const PLUGIN_STATUSES: [Status; 4] = [
    Status::Correct,
    Status::Partial,
    Status::Incorrect,
    Status::NoAnswer,
];

/// The verdict `plugin` gave by returning `value`.
pub fn read(plugin: &str, value: &Value) -> Verdict {
    match parse(value) {
        Ok(verdict) => verdict,
        Err(problem) => Verdict::error(format!("plugin `{plugin}` returned {problem}")),
    }
}

fn parse(value: &Value) -> Result<Verdict, String> {
    match value {
        Value::Bool(passed) => Ok(Verdict::scored(if *passed { 1.0 } else { 0.0 })),
        Value::Number(_) => Ok(Verdict::scored(reward(value)?)),
        Value::Object(object) => parse_object(object),
        Value::Null => {
            Err("None; `grade` must return a reward (a number) or a dict with `reward`".into())
        }
        other => Err(format!(
            "{}; `grade` must return a reward (a number) or a dict with `reward`",
            describe(other)
        )),
    }
}

fn parse_object(object: &Map<String, Value>) -> Result<Verdict, String> {
    if let Some(key) = object
        .keys()
        .find(|key| !["reward", "status", "details"].contains(&key.as_str()))
    {
        return Err(format!(
            "a dict with the unknown key `{key}`; the keys are `reward`, `status` and `details`"
        ));
    }
    let reward = match object.get("reward") {
        Some(value @ Value::Number(_)) => reward(value)?,
        Some(Value::Bool(passed)) => f64::from(u8::from(*passed)),
        // JSON has no NaN or infinity: a component's non-finite float arrives as null.
        Some(Value::Null) => return Err("a `reward` that is None or not a finite number".into()),
        Some(other) => return Err(format!("a `reward` that is {}", describe(other))),
        None => return Err("a dict without `reward`".into()),
    };
    let mut verdict = Verdict::scored(reward);
    match object.get("status") {
        None | Some(Value::Null) => {}
        Some(status) => {
            let status = serde_json::from_value::<Status>(status.clone())
                .ok()
                .filter(|status| PLUGIN_STATUSES.contains(status))
                .ok_or_else(|| {
                    format!(
                        "the status {status}; a plugin's status is one of `correct`, `partial`, \
                         `incorrect`, `no_answer` (raise an exception for an error)"
                    )
                })?;
            verdict.status = status;
        }
    }
    match object.get("details") {
        None | Some(Value::Null) => {}
        Some(Value::Object(details)) => verdict.details = details.clone().into(),
        Some(other) => {
            return Err(format!(
                "`details` that are {}; they must be a dict",
                describe(other)
            ))
        }
    }
    Ok(verdict)
}

fn reward(value: &Value) -> Result<f64, String> {
    let number = value.as_f64().unwrap_or(f64::NAN);
    check_magnitude(number).map_err(|why| format!("a reward that {why}"))
}

fn describe(value: &Value) -> String {
    let kind = match value {
        Value::Null => "None",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a dict",
    };
    let mut text = value.to_string();
    if text.len() > 80 {
        let mut end = 80;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    format!("{kind} ({text})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_bools_and_dicts_are_rewards() {
        assert_eq!(read("p", &json!(0.5)).status, Status::Partial);
        assert_eq!(read("p", &json!(true)).reward, 1.0);
        assert_eq!(read("p", &json!(-1)).status, Status::Incorrect);
        let verdict = read(
            "p",
            &json!({"reward": 0, "status": "no_answer", "details": {"why": "no JSON"}}),
        );
        assert_eq!(verdict.status, Status::NoAnswer);
        assert_eq!(verdict.details["why"], "no JSON");
    }

    #[test]
    fn anything_else_is_an_error_naming_the_plugin() {
        for (value, says) in [
            (json!(null), "returned None"),
            (json!("1.0"), "a string"),
            (json!([1]), "a list"),
            (json!({"score": 1}), "unknown key `score`"),
            (json!({"status": "correct"}), "without `reward`"),
            (json!({"reward": "1"}), "a `reward` that is a string"),
            (
                json!({"reward": 1, "status": "error"}),
                "the status \"error\"",
            ),
            (json!({"reward": 1, "status": "great"}), "the status"),
            (
                json!({"reward": 1, "details": [1]}),
                "`details` that are a list",
            ),
            (json!(1e300), "must be a finite number"),
        ] {
            let verdict = read("style", &value);
            assert_eq!(verdict.status, Status::Error, "{value}");
            let error = verdict.error.unwrap();
            assert!(error.starts_with("plugin `style` returned"), "{error}");
            assert!(error.contains(says), "{value}: {error}");
        }
    }
}
