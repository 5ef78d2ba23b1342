//! Building the program a sandbox runs: our trusted harness (Python or JavaScript), followed by one
//! call that hands it a JSON configuration holding the nonce, the candidate's code and the test
//! inputs. Expected values of `call` tests never enter the program: they stay on the host.

use serde_json::Value;

use crate::contract::CodeLanguage;

const PYTHON_HARNESS: &str = include_str!("harness.py");
const JAVASCRIPT_HARNESS: &str = include_str!("harness.js");

/// A program that prints the marshalled code object of the Python harness as hex. Compiling the
/// 20 KB harness costs about 30 ms in CPython-on-WebAssembly, loading it from `marshal` a small
/// fraction of that; the bytes depend on the sandbox's CPython, so they are made there, once.
pub fn python_precompile_program() -> String {
    let literal = Value::String(PYTHON_HARNESS.to_string()).to_string();
    format!(
        "import marshal, sys\nsys.stdout.write(marshal.dumps(compile({literal}, '<harness>', 'exec')).hex())\n"
    )
}

/// The preamble that defines the Python harness from its marshalled code (see above).
pub fn python_preamble_from_marshal(hex: &str) -> Option<String> {
    let hex = hex.trim();
    let valid = hex.len() > 100
        && hex.len().is_multiple_of(2)
        && hex.bytes().all(|b| b.is_ascii_hexdigit());
    valid.then(|| format!("import marshal\nexec(marshal.loads(bytes.fromhex('{hex}')))\n"))
}

/// The harness program for `language` with `config` (an object) as its input; `python_preamble`
/// replaces the harness's source with its precompiled form.
pub fn harness_program(
    language: CodeLanguage,
    config: &Value,
    python_preamble: Option<&str>,
) -> String {
    // The configuration travels as a string literal holding JSON. A JSON string literal is also a
    // valid Python and JavaScript string literal (serde escapes quotes, backslashes and control
    // characters; `\u2028` is legal in ES2019+ string literals).
    let config_text = config.to_string();
    let literal = Value::String(config_text).to_string();
    match language {
        CodeLanguage::Python => {
            let harness = python_preamble.unwrap_or(PYTHON_HARNESS);
            format!("{harness}\n_harness_main({literal})\n")
        }
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
        let program = harness_program(CodeLanguage::Python, &config, None);
        let last = program.trim_end().lines().last().unwrap();
        assert!(last.starts_with("_harness_main(\"{"), "{last}");
        // Decoding the literal as JSON gives back the exact configuration.
        let literal = &last["_harness_main(".len()..last.len() - 1];
        let text: String = serde_json::from_str(literal).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), config);
        assert!(
            harness_program(CodeLanguage::Javascript, &config, None).contains("harnessMain(\"{")
        );
    }
}
