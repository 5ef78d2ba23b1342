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

/// What a JavaScript program run whole (a `stdio` test, `/run_code`) finds before its own code:
/// QuickJS has `console.log` only, so `console.error` and `console.warn` write to stderr and
/// `console.info` and `console.debug` to stdout, as in Node. Without them an honest solution
/// that logged debug lines with `console.error` died of a `TypeError` (red team). It names
/// nothing but properties of `globalThis`, taken when it runs: the program shares its scope,
/// and one that declares its own `std` (a standard deviation) or `console` must neither break
/// the prelude nor be broken by it (red team). One line, so that the program's own line
/// numbers in error messages move by one only.
const JAVASCRIPT_CONSOLE_PRELUDE: &str = "(() => { const g = globalThis, c = g.console; \
if (!c || typeof c.error === \"function\") return; \
const err = g.std && g.std.err, J = g.JSON, S = g.String; \
const show = (v) => { if (typeof v === \"string\") return v; try { const t = J.stringify(v); \
return t === undefined ? S(v) : t; } catch (_) { return S(v); } }; \
const toStderr = (...values) => { if (err) err.puts(values.map(show).join(\" \") + \"\\n\"); }; \
c.error = toStderr; c.warn = toStderr; \
if (typeof c.info !== \"function\") c.info = c.log; \
if (typeof c.debug !== \"function\") c.debug = c.log; })();\n";

/// A whole JavaScript program with [`JAVASCRIPT_CONSOLE_PRELUDE`] before it. A program that
/// opens with a `"use strict"` directive keeps it: the directive goes before the prelude, where
/// it is still the first statement. A leading hashbang line is a comment (see
/// [`javascript_source`]).
pub fn javascript_whole_program(code: &str) -> String {
    let code = javascript_source(code);
    let opening = code.trim_start();
    let strict = ["\"use strict\"", "'use strict'"]
        .iter()
        .any(|directive| opening.starts_with(directive));
    let directive = if strict { "\"use strict\"; " } else { "" };
    format!("{directive}{JAVASCRIPT_CONSOLE_PRELUDE}{code}")
}

/// JavaScript source as the candidate wrote it, but for a leading hashbang line
/// (`#!/usr/bin/env node`), which Node reads as a comment and QuickJS, or any script with
/// something before it (a prefix, our prelude), as a syntax error that failed honest solutions
/// (red team): it becomes a comment, of the same length.
pub fn javascript_source(code: &str) -> std::borrow::Cow<'_, str> {
    match code.strip_prefix("#!") {
        Some(rest) => format!("//{rest}").into(),
        None => code.into(),
    }
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

    #[test]
    fn a_whole_javascript_program_keeps_its_strict_directive_and_its_code() {
        let plain = javascript_whole_program("console.log(1);\n");
        assert!(plain.starts_with("(() => { const g = globalThis"));
        assert!(plain.ends_with("\nconsole.log(1);\n"));
        assert_eq!(plain.lines().count(), 2, "the prelude is one line");
        let strict = javascript_whole_program("  'use strict';\nx = 1;\n");
        assert!(strict.starts_with("\"use strict\"; (() => {"));
        let hashbang = javascript_whole_program("#!/usr/bin/env node\nconsole.log(1);\n");
        assert!(
            hashbang.ends_with("\n///usr/bin/env node\nconsole.log(1);\n"),
            "{hashbang}"
        );
    }
}
