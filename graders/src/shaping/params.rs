//! What the shaping graders share: typed parameters parsed from a plugin-style task (errors
//! name the field), how a completion's length is measured, and how a shaping reward maps to a
//! status.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::chars::{is_ideograph, is_invisible};
use crate::contract::{Status, Task, Verdict};

/// Parses `task`'s params (everything but `kind`) into `T`, or an error verdict naming the field.
pub fn parse<T: DeserializeOwned>(task: &Task, kind: &str) -> Result<T, Verdict> {
    let params = match task {
        Task::Plugin {
            kind: found,
            params,
        } if found.as_str() == kind => params.clone(),
        other => {
            return Err(Verdict::error(format!(
                "the `{kind}` grader got a `{}` task",
                other.kind()
            )))
        }
    };
    serde_path_to_error::deserialize(Value::Object(params)).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        Verdict::error(if path == "." {
            format!("{kind}: {message}")
        } else {
            format!("{kind}.{path}: {message}")
        })
    })
}

/// How a completion's length is counted when the caller does not pass `length`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LengthUnit {
    /// A tokenizer-free stand-in for model tokens ([`token_estimate`]).
    #[default]
    Tokens,
    /// Unicode characters, as open-r1 measures (`len(content)`).
    Chars,
}

/// The length options every length reward accepts.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct LengthSpec {
    /// The completion's length in model tokens, from the trainer's tokenizer (wins when given).
    #[serde(default)]
    pub length: Option<u64>,
    #[serde(default)]
    pub unit: LengthUnit,
}

impl LengthSpec {
    pub fn measure(&self, completion: &str) -> f64 {
        match (self.length, self.unit) {
            (Some(length), _) => length as f64,
            (None, LengthUnit::Tokens) => token_estimate(completion) as f64,
            (None, LengthUnit::Chars) => completion.chars().count() as f64,
        }
    }
}

/// ASCII characters per token at least, for text that has no separators to count.
const ASCII_CHARS_PER_TOKEN: usize = 6;

/// A completion's length in tokens without a tokenizer: its words (runs between white space or
/// invisible characters, every Han, kana or Hangul character a word of its own), and at least
/// one token per six ASCII characters plus one per other character, as tokenizers spend at
/// least one on almost every character outside ASCII (emoji, Thai, tags, combining marks).
/// Counted by white space alone, text without spaces was one "token" however long, the best a
/// length reward can pay; counting every character at a sixth, 3,000 emoji were 500 (red teams).
pub fn token_estimate(text: &str) -> usize {
    let (mut words, mut ascii, mut other, mut in_word) = (0usize, 0usize, 0usize, false);
    for c in text.chars() {
        if c.is_ascii() {
            ascii += 1;
        } else {
            other += 1;
        }
        if c.is_whitespace() || is_invisible(c) {
            in_word = false;
        } else if is_ideograph(c) {
            words += 1;
            in_word = false;
        } else if !in_word {
            words += 1;
            in_word = true;
        }
    }
    words.max(ascii.div_ceil(ASCII_CHARS_PER_TOKEN) + other)
}

/// A shaping reward's status: `correct` at its best value, `incorrect` at its worst, `partial`
/// in between (so a penalty of 0 reads as "nothing to punish", not as a wrong answer).
pub fn status_between(reward: f64, worst: f64, best: f64) -> Status {
    if (best - worst).abs() < f64::EPSILON {
        return Status::Correct;
    }
    Status::from_score((reward - worst) / (best - worst))
}

/// A verdict carrying `reward` with the status [`status_between`] gives it.
pub fn shaped(reward: f64, worst: f64, best: f64) -> Verdict {
    Verdict {
        reward,
        status: status_between(reward, worst, best),
        details: Default::default(),
        error: None,
    }
}

/// Marks a component the group pass must fill in (see [`super::apply_group_rewards`]).
pub const DEFERRED: &str = "deferred";

/// A placeholder verdict for a component that needs the GRPO group or the primary component's
/// status. It stays an `error` (with this message) unless the sample has a `group_id`.
pub fn deferred(why: &str) -> Verdict {
    Verdict::error(why).with_detail(DEFERRED, true)
}

#[cfg(test)]
mod token_tests {
    use super::token_estimate;

    #[test]
    fn tokens_cannot_be_hidden_by_removing_spaces() {
        assert_eq!(token_estimate("The answer is 42."), 4);
        let words = ["the"; 30];
        let spaced = words.join(" ");
        assert_eq!(token_estimate(&spaced), 30);
        assert!(token_estimate(&words.join("\u{200B}")) >= 30);
        assert!(
            token_estimate(&words.join("_")) >= 15,
            "{}",
            token_estimate(&words.join("_"))
        );
        assert_eq!(token_estimate(&"我".repeat(1000)), 1000);
        assert_eq!(token_estimate(""), 0);
        // Scripts and symbols without spaces count one token a character at least.
        assert_eq!(token_estimate(&"😀".repeat(3000)), 3000);
        assert!(token_estimate(&"สวัสดีครับ".repeat(300)) >= 3000);
        assert!(token_estimate(&format!("a{}", "\u{0301}".repeat(6000))) >= 6000);
    }
}
