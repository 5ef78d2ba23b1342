//! The toy task: single-digit arithmetic (`a+b=` and `a-b=` with one-digit operands and a
//! one-digit answer), answered by a tiny random-initialised model with a character tokenizer.
//! Its answers are one token long, so a random policy is right about one time in fifteen; it
//! learns the table from the verifier's rewards alone. Each prompt is a `math` task, graded by the
//! verifier's math grader like any other.

use std::io::Write;
use std::path::Path;

use serde_json::json;

/// Every problem of the task: `(prompt, answer)`.
pub fn problems() -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for a in 0..10i64 {
        for b in 0..10i64 {
            if a + b <= 9 {
                out.push((format!("{a}+{b}="), a + b));
            }
            if a >= b {
                out.push((format!("{a}-{b}="), a - b));
            }
        }
    }
    out
}

/// Writes the prompts file (one JSON object per line: `prompt` plus the sample's `task`).
pub fn write_prompts(path: &Path) -> anyhow::Result<usize> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let problems = problems();
    for (prompt, answer) in &problems {
        let line =
            json!({"prompt": prompt, "task": {"kind": "math", "answer": answer.to_string()}});
        writeln!(file, "{line}")?;
    }
    file.flush()?;
    Ok(problems.len())
}

#[cfg(test)]
mod tests {
    #[test]
    fn has_both_operations_with_one_digit_answers() {
        let p = super::problems();
        assert_eq!(p.len(), 110);
        assert!(p.iter().all(|(_, a)| (0..10).contains(a)));
    }
}
