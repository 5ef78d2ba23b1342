//! Reading [`CodeTests`] from JSON with its call cases' big integers exact.
//!
//! serde's internally tagged enums buffer their fields before choosing the variant, and the
//! buffer holds an integer past 64 bits as the nearest float: `"expected":
//! 1180591620717411303425` (Python's `json.dumps(2**70 + 1)`) became `2**70`, and a wrong answer
//! passed (red team). So the tests are read by hand: `cases` is kept as raw text until the
//! variant is known, and a `call` task's cases are read from it with such integers tagged
//! ([`super::exact_integers::tag_big_integers`]), as `verifier eval` reads HumanEval+.

use serde::de::{Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::exact_integers::tag_big_integers;
use super::{CallCase, CodeTests, StdioCase};

const FIELDS: &[&str] = &[
    "type",
    "code",
    "entry_point",
    "cases",
    "float_tolerance",
    "fn_name",
];
const VARIANTS: &[&str] = &["assert", "stdio", "call"];

impl<'de> Deserialize<'de> for CodeTests {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(CodeTestsVisitor)
    }
}

/// The fields of any variant, each at most once.
#[derive(Default)]
struct Fields {
    kind: Option<String>,
    code: Option<String>,
    entry_point: Option<String>,
    cases: Option<Box<RawValue>>,
    float_tolerance: Option<Option<f64>>,
    fn_name: Option<String>,
}

fn once<T, E: serde::de::Error>(
    slot: &mut Option<T>,
    value: T,
    name: &'static str,
) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(value);
    Ok(())
}

struct CodeTestsVisitor;

impl<'de> Visitor<'de> for CodeTestsVisitor {
    type Value = CodeTests;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("code tests: an object whose `type` is `assert`, `stdio` or `call`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<CodeTests, A::Error> {
        let mut fields = Fields::default();
        while let Some(key) = access.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "type" => once(&mut fields.kind, access.next_value()?, "type")?,
                "code" => once(&mut fields.code, access.next_value()?, "code")?,
                "entry_point" => {
                    once(&mut fields.entry_point, access.next_value()?, "entry_point")?
                }
                "cases" => once(&mut fields.cases, access.next_value()?, "cases")?,
                "float_tolerance" => once(
                    &mut fields.float_tolerance,
                    access.next_value()?,
                    "float_tolerance",
                )?,
                "fn_name" => once(&mut fields.fn_name, access.next_value()?, "fn_name")?,
                other => return Err(A::Error::unknown_field(other, FIELDS)),
            }
        }
        fields.into_tests()
    }
}

impl Fields {
    fn into_tests<E: serde::de::Error>(self) -> Result<CodeTests, E> {
        let kind = self.kind.ok_or_else(|| E::missing_field("type"))?;
        // Each variant takes its own fields only, as `deny_unknown_fields` did.
        let present = [
            ("code", self.code.is_some()),
            ("entry_point", self.entry_point.is_some()),
            ("cases", self.cases.is_some()),
            ("float_tolerance", self.float_tolerance.is_some()),
            ("fn_name", self.fn_name.is_some()),
        ];
        let only = |allowed: &'static [&'static str]| match present
            .iter()
            .find(|(name, is)| *is && !allowed.contains(name))
        {
            Some((name, _)) => Err(E::unknown_field(name, allowed)),
            None => Ok(()),
        };
        match kind.as_str() {
            "assert" => {
                only(&["type", "code", "entry_point"])?;
                Ok(CodeTests::Assert {
                    code: self.code.ok_or_else(|| E::missing_field("code"))?,
                    entry_point: self
                        .entry_point
                        .ok_or_else(|| E::missing_field("entry_point"))?,
                })
            }
            "stdio" => {
                only(&["type", "cases", "float_tolerance"])?;
                let cases = self.cases.ok_or_else(|| E::missing_field("cases"))?;
                Ok(CodeTests::Stdio {
                    cases: cases_from::<StdioCase, E>(cases.get())?,
                    float_tolerance: self.float_tolerance.flatten(),
                })
            }
            "call" => {
                only(&["type", "fn_name", "cases"])?;
                let cases = self.cases.ok_or_else(|| E::missing_field("cases"))?;
                Ok(CodeTests::Call {
                    fn_name: self.fn_name.ok_or_else(|| E::missing_field("fn_name"))?,
                    cases: cases_from::<CallCase, E>(&tag_big_integers(cases.get()))?,
                })
            }
            other => Err(E::unknown_variant(other, VARIANTS)),
        }
    }
}

/// The cases, read from their JSON text; an error names the case.
fn cases_from<T: serde::de::DeserializeOwned, E: serde::de::Error>(
    text: &str,
) -> Result<Vec<T>, E> {
    serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(text)).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            E::custom(format!("cases: {}", e.into_inner()))
        } else {
            E::custom(format!("cases{path}: {}", e.into_inner()))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Result<CodeTests, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn each_variant_takes_its_own_fields_once() {
        assert!(read(r#"{"type":"assert","code":"c","entry_point":"f"}"#).is_ok());
        let refused = [
            (
                r#"{"type":"assert","code":"c","entry_point":"f","cases":[]}"#,
                "unknown field `cases`",
            ),
            (
                r#"{"type":"stdio","cases":[],"fn_name":"f"}"#,
                "unknown field `fn_name`",
            ),
            (
                r#"{"type":"call","fn_name":"f","cases":[],"float_tolerance":0.1}"#,
                "unknown field `float_tolerance`",
            ),
            (
                r#"{"type":"call","fn_name":"f","fn_name":"g","cases":[]}"#,
                "duplicate field `fn_name`",
            ),
            (r#"{"type":"call","cases":[]}"#, "missing field `fn_name`"),
            (r#"{"type":"loop","cases":[]}"#, "unknown variant `loop`"),
            (r#"{"cases":[]}"#, "missing field `type`"),
            (
                r#"{"type":"call","fn_name":"f","cases":[{"args":[],"expected":1,"x":2}]}"#,
                "cases[0].x: unknown field `x`",
            ),
        ];
        for (json, needle) in refused {
            let error = read(json).unwrap_err();
            assert!(error.contains(needle), "{json}: {error}");
        }
    }

    #[test]
    fn call_cases_keep_big_integers_and_stdio_cases_read_as_written() {
        let call = read(
            r#"{"type":"call","fn_name":"f","cases":[{"args":[18446744073709551616],"expected":"18446744073709551616"}]}"#,
        );
        let CodeTests::Call { cases, .. } = call.unwrap() else {
            panic!("a call")
        };
        assert_eq!(
            cases[0].args[0],
            serde_json::json!({"$int": "18446744073709551616"})
        );
        assert_eq!(cases[0].expected, serde_json::json!("18446744073709551616"));
        let stdio =
            read(r#"{"type":"stdio","cases":[{"input":"1","output":"2"}],"float_tolerance":null}"#);
        assert!(matches!(
            stdio.unwrap(),
            CodeTests::Stdio {
                float_tolerance: None,
                ..
            }
        ));
    }
}
