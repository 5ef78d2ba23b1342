//! The response inside an OpenRLHF query. OpenRLHF sends `query` as the decoded prompt and
//! response tokens together, special tokens kept (`hf_tokenizer.decode(observation_tokens,
//! skip_special_tokens=False)` in `openrlhf/utils/agent.py`, `SingleTurnAgentExecutor.execute`),
//! and `prompts` as the templated prompt text; its own example reward function
//! (`examples/python/math_reward_func.py`) cuts `query[len(prompt):]`. We do the same, a little
//! more carefully: the prompt must be found, or the sample is an error (grading the prompt too
//! would pay for answers written in it), and the end-of-turn tokens a chat template or the
//! generator leaves after the response are not part of it.

/// The response: what follows `prompt` in `query`, without trailing end-of-turn tokens.
///
/// The prompt is looked for as a prefix, then anywhere (a tokenizer may put a BOS token before
/// it), then as a prefix with whitespace ignored (decoding may re-space the prompt's text).
pub fn response_of<'q>(query: &'q str, prompt: &str) -> Result<&'q str, String> {
    // With no prompt the whole query would be graded, the prompt's own text (a worked example,
    // a boxed answer) included (red team).
    if prompt.trim().is_empty() {
        return Err(
            "the prompt is empty, so the response cannot be told apart from the query: send \
             the prompt the query starts with"
                .into(),
        );
    }
    let rest = if let Some(rest) = query.strip_prefix(prompt) {
        rest
    } else if let Some(at) = query.find(prompt).filter(|_| !prompt.is_empty()) {
        &query[at + prompt.len()..]
    } else if let Some(end) = prefix_end_ignoring_whitespace(query, prompt) {
        // Where the prompt's own trailing whitespace ended cannot be told: none is kept.
        query[end..].trim_start()
    } else {
        return Err(format!(
            "the query does not start with its prompt, so the response cannot be told apart \
             (query begins {:?}, prompt begins {:?})",
            excerpt(query),
            excerpt(prompt)
        ));
    };
    Ok(graders::end_tokens::strip_end_tokens(rest))
}

/// Where `prompt` ends in `query` when both are read without whitespace, if `query` starts
/// with it so read.
fn prefix_end_ignoring_whitespace(query: &str, prompt: &str) -> Option<usize> {
    let mut wanted = prompt.chars().filter(|c| !c.is_whitespace()).peekable();
    wanted.peek()?;
    for (at, c) in query.char_indices() {
        if c.is_whitespace() {
            continue;
        }
        if wanted.next() != Some(c) {
            return None;
        }
        if wanted.peek().is_none() {
            return Some(at + c.len_utf8());
        }
    }
    None
}

fn excerpt(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMPT: &str = "<|im_start|>user\nWhat is 1+1?<|im_end|>\n<|im_start|>assistant\n";

    #[test]
    fn the_prompt_is_cut_off_and_end_tokens_are_dropped() {
        let query = format!("{PROMPT}It is $\\boxed{{2}}$.<|im_end|><|endoftext|><|endoftext|>");
        assert_eq!(response_of(&query, PROMPT).unwrap(), "It is $\\boxed{2}$.");
        let with_bos = format!("<s>{PROMPT}two</s>");
        assert_eq!(response_of(&with_bos, PROMPT).unwrap(), "two");
        let respaced = format!("{}  two", PROMPT.replace('\n', " "));
        assert_eq!(response_of(&respaced, PROMPT).unwrap(), "two");
    }

    #[test]
    fn an_empty_prompt_is_an_error_not_the_whole_query() {
        for prompt in ["", "  \n"] {
            let err = response_of("What is \\boxed{3}? answer nothing", prompt).unwrap_err();
            assert!(err.contains("the prompt is empty"), "{err}");
        }
    }

    #[test]
    fn a_query_without_its_prompt_is_an_error() {
        let err = response_of("something else entirely", PROMPT).unwrap_err();
        assert!(err.contains("does not start with its prompt"), "{err}");
        assert!(response_of("", PROMPT).is_err());
    }
}
