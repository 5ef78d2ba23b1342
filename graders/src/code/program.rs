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

/// The marshalled harness from the output of [`python_precompile_program`], if it looks right.
pub fn python_harness_marshal(stdout: &str) -> Option<String> {
    let hex = stdout.trim();
    let valid = hex.len() > 100
        && hex.len().is_multiple_of(2)
        && hex.bytes().all(|b| b.is_ascii_hexdigit());
    valid.then(|| hex.to_string())
}

/// What one harness run executes: a program, and for Python what it reads on standard input.
pub struct HarnessRun {
    pub program: String,
    pub stdin: Option<String>,
}

/// Loads the marshalled harness from the first line of standard input and hands it the rest.
/// Nothing is bound in `__main__` but `sys` and `marshal`: the configuration (nonce, tests)
/// lives only in the harness's frame, as before.
const PYTHON_BOOTSTRAP: &str = "import sys, marshal\n\
exec(marshal.loads(bytes.fromhex(sys.stdin.buffer.readline().decode())))\n\
_harness_main(sys.stdin.buffer.read().decode())\n";

/// The harness run for `language` with `config` (an object) as its input.
///
/// Python reads the configuration (and, given `python_harness_hex`, the precompiled harness)
/// from standard input: CPython-on-WebAssembly tokenises source at about 30 ns a byte, so a
/// 50 KB literal in the program cost 1.7 ms a run, while reading stdin costs next to nothing.
/// The candidate cannot read it back: the harness consumes stdin before the candidate runs.
pub fn harness_program(
    language: CodeLanguage,
    config: &Value,
    python_harness_hex: Option<&str>,
) -> HarnessRun {
    let config_text = config.to_string();
    match language {
        CodeLanguage::Python => match python_harness_hex {
            Some(hex) => HarnessRun {
                program: PYTHON_BOOTSTRAP.to_string(),
                stdin: Some(format!("{hex}\n{config_text}")),
            },
            None => HarnessRun {
                program: format!(
                    "{PYTHON_HARNESS}\nimport sys as _sys\n_harness_main(_sys.stdin.buffer.read().decode())\n"
                ),
                stdin: Some(config_text),
            },
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
        let run = harness_program(CodeLanguage::Python, &config, Some("abcd"));
        assert_eq!(run.program, PYTHON_BOOTSTRAP);
        let stdin = run.stdin.unwrap();
        let (hex, text) = stdin.split_once('\n').unwrap();
        assert_eq!(hex, "abcd");
        assert_eq!(serde_json::from_str::<Value>(text).unwrap(), config);
        let run = harness_program(CodeLanguage::Python, &config, None);
        assert!(run.program.starts_with(PYTHON_HARNESS));
        assert_eq!(
            serde_json::from_str::<Value>(&run.stdin.unwrap()).unwrap(),
            config
        );

        let run = harness_program(CodeLanguage::Javascript, &config, None);
        let last = run.program.trim_end().lines().last().unwrap();
        let literal = &last["harnessMain(".len()..last.len() - 2];
        let text: String = serde_json::from_str(literal).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), config);
        assert!(run.stdin.is_none());
    }
}
