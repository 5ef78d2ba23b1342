//! Time and memory budgets. A test's time limit is given in *native-equivalent* milliseconds (what
//! the task author measured with a normal interpreter) and scaled here for the sandbox's slower
//! interpreters: CPU-heavy Python runs 3–4x slower in CPython-on-WebAssembly than natively
//! (research/code.md §2b), and QuickJS, an interpreter without a JIT, is slower still than the
//! engines JavaScript authors measure with. Without the scaling, correct solutions time out under
//! load.

use crate::contract::{CodeLanguage, CodeTask};

/// Tunables of the code grader; `Default` gives the values the issue and research settled on.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeGraderConfig {
    /// Native-equivalent time limit per test when the task gives none. For `assert` tests it
    /// covers the whole test program, as in openai/human-eval (3 s).
    pub default_time_limit_ms: u64,
    /// How much slower the sandbox's Python is than native CPython.
    pub python_slowdown: f64,
    /// How much slower QuickJS is than the engines JavaScript limits are usually measured with.
    pub javascript_slowdown: f64,
    /// Upper bound for one sandbox run, after scaling (a `call` test with many cases).
    pub max_run_time_ms: u64,
    /// Memory cap per run when the task gives none.
    pub default_memory_limit_mb: u64,
}

impl Default for CodeGraderConfig {
    fn default() -> Self {
        CodeGraderConfig {
            default_time_limit_ms: 3_000,
            // 3 s × 3 = 9 s: under the service's default 10 s deadline, so that a candidate
            // that loops ends at its own time limit (`incorrect`), never at the deadline.
            python_slowdown: 3.0,
            javascript_slowdown: 3.0,
            max_run_time_ms: 60_000,
            default_memory_limit_mb: 256,
        }
    }
}

impl CodeGraderConfig {
    /// The sandbox budget for a run that holds `tests` test cases of `task`.
    pub fn run_time_limit_ms(&self, task: &CodeTask, tests: usize) -> u64 {
        let per_test = task.time_limit_ms.unwrap_or(self.default_time_limit_ms) as f64;
        let slowdown = match task.language {
            CodeLanguage::Python => self.python_slowdown,
            CodeLanguage::Javascript => self.javascript_slowdown,
        };
        let scaled = per_test * slowdown.max(1.0) * tests.max(1) as f64;
        (scaled.ceil() as u64).clamp(1, self.max_run_time_ms.max(1))
    }

    pub fn memory_limit_mb(&self, task: &CodeTask) -> u64 {
        task.memory_limit_mb.unwrap_or(self.default_memory_limit_mb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{CodeTests, Scoring};

    fn task(limit: Option<u64>) -> CodeTask {
        CodeTask {
            language: CodeLanguage::Python,
            tests: CodeTests::Stdio {
                cases: vec![],
                float_tolerance: None,
            },
            prefix: None,
            scoring: Scoring::All,
            time_limit_ms: limit,
            memory_limit_mb: None,
            float_tolerance: None,
            compare: Default::default(),
        }
    }

    #[test]
    fn limits_scale_with_the_interpreter_and_are_capped() {
        let config = CodeGraderConfig::default();
        assert_eq!(config.run_time_limit_ms(&task(Some(1000)), 1), 3000);
        assert_eq!(config.run_time_limit_ms(&task(Some(1000)), 4), 12_000);
        assert!(config.run_time_limit_ms(&task(None), 1) < 10_000);
        assert_eq!(config.run_time_limit_ms(&task(None), 1000), 60_000);
        assert_eq!(config.memory_limit_mb(&task(None)), 256);
    }
}
