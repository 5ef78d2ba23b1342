//! A sample's `completion` on the wire: the model's text, or a chat message list as training
//! frameworks hold conversational completions (TRL's `[{"role": "assistant", "content": ...}]`).
//! A list is graded as the content of its last assistant message, the turn the reward is for;
//! the Python client (`clients/python/.../_convert.py`) reads lists the same way.

use serde::de::{Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Deserializes `completion`: a string as it is; a list of messages as its last assistant
/// message's content. A list with no assistant message, or a message that is not
/// `{"role": string, "content": string | [parts] | null}`, is an error naming the problem, as is
/// a key written twice in a message (read as a `Value`, the last `content` won silently, so a log
/// could show one text while another was graded: red team; a sample's own fields refuse
/// duplicates too).
pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match UniqueKeys::deserialize(deserializer)?.0 {
        Value::String(text) => Ok(text),
        Value::Array(messages) => last_assistant_content(&messages).map_err(D::Error::custom),
        other => Err(D::Error::custom(format!(
            "expected a string or a list of chat messages, got {}",
            super::json_type_name(&other)
        ))),
    }
}

/// A JSON value, with any object's repeated key refused instead of the last one kept.
struct UniqueKeys(Value);

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(UniqueKeysVisitor)
            .map(UniqueKeys)
    }
}

struct UniqueKeysVisitor;

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(UniqueKeys(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if fields.contains_key(&key) {
                return Err(A::Error::custom(format!(
                    "a message has the key `{key}` twice"
                )));
            }
            let UniqueKeys(value) = map.next_value()?;
            fields.insert(key, value);
        }
        Ok(Value::Object(fields))
    }
}

/// The text of the last message whose role is `assistant` (a message without a `role` counts
/// as the assistant's, as TRL's documentation writes completions).
pub fn last_assistant_content(messages: &[Value]) -> Result<String, String> {
    let mut roles = Vec::with_capacity(messages.len());
    for (i, message) in messages.iter().enumerate() {
        let Value::Object(fields) = message else {
            return Err(format!(
                "message {i} must be an object with `role` and `content`, got {}",
                super::json_type_name(message)
            ));
        };
        match fields.get("role") {
            None => roles.push("assistant"),
            Some(Value::String(role)) => roles.push(role.as_str()),
            Some(other) => {
                return Err(format!(
                    "message {i}: `role` must be a string, got {}",
                    super::json_type_name(other)
                ))
            }
        }
    }
    let Some(last) = roles.iter().rposition(|role| *role == "assistant") else {
        return Err(if messages.is_empty() {
            "an empty chat message list has no assistant message to grade".to_string()
        } else {
            format!(
                "the chat message list has no assistant message to grade (roles: {})",
                roles.join(", ")
            )
        });
    };
    content_text(&messages[last]["content"]).map_err(|why| format!("message {last}: {why}"))
}

/// A message's `content`: a string, `null` (an assistant turn that only calls tools), or a list
/// of content parts whose text parts are joined (multimodal chat templates write them so).
fn content_text(content: &Value) -> Result<String, String> {
    match content {
        Value::Null => Ok(String::new()),
        Value::String(text) => Ok(text.clone()),
        Value::Array(parts) => {
            let mut text = String::new();
            for (k, part) in parts.iter().enumerate() {
                match part {
                    Value::String(s) => text.push_str(s),
                    Value::Object(fields) => {
                        let kind = fields.get("type").and_then(Value::as_str).unwrap_or("text");
                        if kind != "text" {
                            continue;
                        }
                        match fields.get("text") {
                            Some(Value::String(s)) => text.push_str(s),
                            _ => {
                                return Err(format!(
                                    "content part {k} is a text part without a string `text`"
                                ))
                            }
                        }
                    }
                    other => {
                        return Err(format!(
                            "content part {k} must be a string or an object, got {}",
                            super::json_type_name(other)
                        ))
                    }
                }
            }
            Ok(text)
        }
        other => Err(format!(
            "`content` must be a string, a list of parts or null, got {}",
            super::json_type_name(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn last(messages: Value) -> Result<String, String> {
        last_assistant_content(messages.as_array().unwrap())
    }

    #[test]
    fn the_last_assistant_message_is_the_completion() {
        let conversation = json!([
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "first try: 5"},
            {"role": "tool", "content": "checked"},
            {"role": "assistant", "content": [{"type": "text", "text": "so "}, {"type": "image"}, "4"]},
            {"role": "user", "content": "thanks"}
        ]);
        assert_eq!(last(conversation).unwrap(), "so 4");
        assert_eq!(last(json!([{"content": "no role"}])).unwrap(), "no role");
        assert_eq!(
            last(json!([{"role": "assistant", "content": null}])).unwrap(),
            ""
        );
    }

    #[test]
    fn lists_without_an_assistant_turn_or_malformed_are_errors_that_say_why() {
        let err =
            last(json!([{"role": "user", "content": "hi"}, {"role": "system", "content": "x"}]));
        assert!(err.unwrap_err().contains("roles: user, system"));
        assert!(last(json!([])).unwrap_err().contains("empty"));
        assert!(last(json!(["text"]))
            .unwrap_err()
            .contains("message 0 must be an object"));
        assert!(last(json!([{"role": 3}]))
            .unwrap_err()
            .contains("`role` must be a string"));
        let duplicate = serde_json::from_str::<crate::contract::Sample>(
            r#"{"completion": [{"role": "assistant", "content": "shown", "content": "graded"}],
                "task": {"kind": "format", "style": "r1"}}"#,
        );
        let err = duplicate
            .expect_err("a repeated key is refused")
            .to_string();
        assert!(err.contains("the key `content` twice"), "{err}");
        let err = last(json!([{"role": "assistant", "content": 7}])).unwrap_err();
        assert!(err.starts_with("message 0: `content`"), "{err}");
        let err = last(json!([{"role": "assistant", "content": [{"type": "text"}]}])).unwrap_err();
        assert!(err.contains("part 0"), "{err}");
    }
}
