//! Building the program a sandbox runs: our trusted harness (JavaScript: its source; Python: a
//! bootstrap that calls the harness baked into the sandbox) handed a JSON configuration holding
//! the nonce, the candidate's code and the test inputs. Expected values of `call` tests never
//! enter the program: they stay on the host.

use serde_json::Value;

use crate::contract::CodeLanguage;

/// The Python harness, as the module the Python sandbox must have baked in (see
/// [`PYTHON_HARNESS_MODULE`](super::PYTHON_HARNESS_MODULE)).
pub const PYTHON_HARNESS_MODULE_NAME: &str = "verifier_code_harness";
pub const PYTHON_HARNESS: &str = include_str!("harness.py");
const JAVASCRIPT_HARNESS: &str = include_str!("harness.js");

/// What one harness run executes: a program, and for Python what it reads on standard input.
pub struct HarnessRun {
    pub program: String,
    pub stdin: Option<String>,
}

/// Hands the configuration on standard input to the baked harness. Nothing is bound in
/// `__main__` but `sys` and `_harness_main`: the configuration (nonce, tests) lives only in the
/// harness's frame.
const PYTHON_BOOTSTRAP: &str = "import sys\n\
from verifier_code_harness import _harness_main\n\
_harness_main(sys.stdin.buffer.read().decode())\n";

/// The candidate's instance of a Python `assert` run: the candidate's code (the whole of
/// standard input) is loaded and answers the tests' calls (see `_candidate_main`).
pub const PYTHON_CANDIDATE_BOOTSTRAP: &str = "import sys\n\
from verifier_code_harness import _candidate_main\n\
_candidate_main(sys.stdin.buffer.read().decode())\n";

/// The candidate's instance of a JavaScript `assert` run: our harness, whose `candidateMain`
/// loads the candidate's code and answers the tests' calls, run afresh for each call.
pub fn javascript_candidate_program(code: &str, entry_point: &str) -> String {
    let config = serde_json::json!({"code": code, "entry_point": entry_point}).to_string();
    format!(
        "{JAVASCRIPT_HARNESS}\ncandidateMain({});\n",
        Value::String(config)
    )
}

/// A program that only checks that the sandbox has the harness baked in.
pub const PYTHON_HARNESS_PROBE: &str = "import verifier_code_harness\n";

/// The harness run for `language` with `config` (an object) as its input.
///
/// Python reads the configuration from standard input: CPython-on-WebAssembly tokenises source
/// at about 30 ns a byte, so a 50 KB literal in the program would cost 1.7 ms a run, while
/// reading stdin costs next to nothing. The candidate cannot read it back: the harness consumes
/// stdin before the candidate runs.
pub fn harness_program(language: CodeLanguage, config: &Value) -> HarnessRun {
    let config_text = config.to_string();
    match language {
        CodeLanguage::Python => HarnessRun {
            program: PYTHON_BOOTSTRAP.to_string(),
            stdin: Some(config_text),
        },
        // A JSON string literal is also a valid JavaScript string literal (serde escapes quotes,
        // backslashes and control characters; `\u2028` is legal in ES2019+ string literals).
        CodeLanguage::Javascript => HarnessRun {
            program: format!(
                "{JAVASCRIPT_HARNESS}\nharnessMain({});\n",
                Value::String(config_text)
            ),
            stdin: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_reads_its_config_from_stdin_and_javascript_from_one_literal() {
        let config = json!({"code": "print(\"hi\")\n'''\\", "nonce": "n"});
        let run = harness_program(CodeLanguage::Python, &config);
        assert_eq!(run.program, PYTHON_BOOTSTRAP);
        assert_eq!(
            serde_json::from_str::<Value>(&run.stdin.unwrap()).unwrap(),
            config
        );

        let run = harness_program(CodeLanguage::Javascript, &config);
        let last = run.program.trim_end().lines().last().unwrap();
        let literal = &last["harnessMain(".len()..last.len() - 2];
        let text: String = serde_json::from_str(literal).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), config);
        assert!(run.stdin.is_none());
    }
}
