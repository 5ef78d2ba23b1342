//! Finding the candidate's code in a completion (DESIGN.md §4): the last fenced block tagged with
//! the task's language, else the last fenced block of any tag, else the whole completion (empty
//! blocks do not count).
//!
//! Fences are Markdown's: a line starting with three or more backticks (or tildes) opens a block,
//! the same run closes it. An unclosed final block counts up to the end of the text, because
//! completions are often cut at the token limit.

use crate::contract::CodeLanguage;

/// A fenced block: its info-string tag (lower-case, possibly empty) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fenced<'a> {
    tag: String,
    body: &'a str,
}

/// The candidate's code, or `None` when there is none (empty or white space only). Empty blocks
/// are passed over: a stray empty fence after the code (a model opening a block it never fills)
/// must not hide the code before it.
pub fn extract_code(completion: &str, language: CodeLanguage) -> Option<&str> {
    let mut blocks = fenced_blocks(completion);
    let fenced = !blocks.is_empty();
    blocks.retain(|b| !b.body.trim().is_empty());
    if fenced && blocks.is_empty() {
        return None;
    }
    let code = blocks
        .iter()
        .rev()
        .find(|b| language_tags(language).contains(&b.tag.as_str()))
        .or_else(|| blocks.last())
        .map_or(completion, |b| b.body);
    (!code.trim().is_empty()).then_some(code)
}

fn language_tags(language: CodeLanguage) -> &'static [&'static str] {
    match language {
        CodeLanguage::Python => &["python", "py", "python3"],
        CodeLanguage::Javascript => &["javascript", "js", "node", "nodejs", "mjs"],
    }
}

fn fenced_blocks(text: &str) -> Vec<Fenced<'_>> {
    let mut blocks = Vec::new();
    // (fence string, tag, byte offset where the body starts)
    let mut open: Option<(&str, String, usize)> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let line_start = offset;
        offset += line.len();
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if indent > 3 {
            continue;
        }
        let fence_len = fence_run(trimmed);
        match &open {
            None if fence_len >= 3 => {
                let fence = &trimmed[..fence_len];
                let tag = trimmed[fence_len..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_matches(|c| c == '{' || c == '}' || c == '.')
                    .to_ascii_lowercase();
                open = Some((fence, tag, offset));
            }
            Some((fence, _, _))
                if fence_len >= fence.len()
                    && trimmed.starts_with(&fence[..1])
                    && trimmed[fence_len..].trim().is_empty() =>
            {
                let (_, tag, body_start) = open.take().expect("checked above");
                blocks.push(Fenced {
                    tag,
                    body: &text[body_start..line_start],
                });
            }
            _ => {}
        }
    }
    if let Some((_, tag, body_start)) = open {
        blocks.push(Fenced {
            tag,
            body: &text[body_start.min(text.len())..],
        });
    }
    blocks
}

/// Length of the run of backticks or tildes a line starts with.
fn fence_run(line: &str) -> usize {
    let Some(first) = line.chars().next().filter(|c| *c == '`' || *c == '~') else {
        return 0;
    };
    line.chars().take_while(|c| *c == first).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use CodeLanguage::*;

    #[test]
    fn takes_the_last_block_of_the_language() {
        let text =
            "try:\n```python\nx = 1\n```\nthen\n```js\nlet y\n```\n```python\nx = 2\n```\nok";
        assert_eq!(extract_code(text, Python), Some("x = 2\n"));
        assert_eq!(extract_code(text, Javascript), Some("let y\n"));
    }

    #[test]
    fn falls_back_to_any_block_then_the_whole_text() {
        assert_eq!(
            extract_code("a\n```\ncode()\n```\n", Python),
            Some("code()\n")
        );
        assert_eq!(
            extract_code("```rust\nfn f(){}\n```", Python),
            Some("fn f(){}\n")
        );
        assert_eq!(
            extract_code("def f():\n    return 1\n", Python),
            Some("def f():\n    return 1\n")
        );
    }

    #[test]
    fn empty_blocks_are_passed_over() {
        let text = "```python\ndef f():\n    return 1\n```\nDone.\n```python\n\n```\n```python\n";
        assert_eq!(extract_code(text, Python), Some("def f():\n    return 1\n"));
        assert_eq!(extract_code("```python\n  \n```\n", Python), None);
    }

    #[test]
    fn an_unclosed_block_runs_to_the_end() {
        assert_eq!(
            extract_code("sure\n```py\ndef f():\n    pass", Python),
            Some("def f():\n    pass")
        );
    }

    #[test]
    fn nested_shorter_fences_stay_inside_a_longer_one() {
        let text = "````python\ns = '''\n```\n'''\n````\n";
        assert_eq!(extract_code(text, Python), Some("s = '''\n```\n'''\n"));
    }

    #[test]
    fn empty_code_is_none() {
        assert_eq!(extract_code("   \n", Python), None);
        assert_eq!(extract_code("```python\n\n```", Python), None);
    }
}
