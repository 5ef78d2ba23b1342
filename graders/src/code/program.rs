//! Building the program a sandbox runs: our trusted harness (Python or JavaScript), followed by one
//! call that hands it a JSON configuration holding the nonce, the candidate's code and the test
//! inputs. Expected values of `call` tests never enter the program: they stay on the host.

use serde_json::Value;

use crate::contract::CodeLanguage;

const PYTHON_HARNESS: &str = include_str!("harness.py");
const JAVASCRIPT_HARNESS: &str = include_str!("harness.js");

/// The harness program for `language` with `config` (an object) as its input.
pub fn harness_program(language: CodeLanguage, config: &Value) -> String {
    // The configuration travels as a string literal holding JSON. A JSON string literal is also a
    // valid Python and JavaScript string literal (serde escapes quotes, backslashes and control
    // characters; `\u2028` is legal in ES2019+ string literals).
    let config_text = config.to_string();
    let literal = Value::String(config_text).to_string();
    match language {
        CodeLanguage::Python => format!("{PYTHON_HARNESS}\n_harness_main({literal})\n"),
        CodeLanguage::Javascript => format!("{JAVASCRIPT_HARNESS}\nharnessMain({literal});\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_config_is_one_string_literal_at_the_end() {
        let config = json!({"code": "print(\"hi\")\n'''\\", "nonce": "n"});
        let program = harness_program(CodeLanguage::Python, &config);
        let last = program.trim_end().lines().last().unwrap();
        assert!(last.starts_with("_harness_main(\"{"), "{last}");
        // Decoding the literal as JSON gives back the exact configuration.
        let literal = &last["_harness_main(".len()..last.len() - 1];
        let text: String = serde_json::from_str(literal).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), config);
        assert!(harness_program(CodeLanguage::Javascript, &config).contains("harnessMain(\"{"));
    }
}
