//! `repetition`: open-r1's n-gram repetition penalty (`get_repetition_penalty_reward`,
//! research/rl.md §2): words = `text.lower().split()`; no words or fewer than n → 0; otherwise
//! `(1 − #distinct n-grams / #n-grams) · max_penalty`, with `max_penalty ≤ 0`.
//!
//! Params: `ngram_size` (default 3), `max_penalty` (default −1.0). open-r1's English (white
//! space) word split, with two changes so that repetition cannot be hidden: invisible format
//! characters (zero-width spaces, joiners) are dropped first, and each Han, kana or Hangul
//! character is a word (open-r1's Chinese variant segments with jieba instead).

use std::collections::HashSet;

use serde::Deserialize;

use super::params::{parse, shaped};
use crate::chars::{is_ideograph, is_invisible};
use crate::contract::{check_magnitude, Task, Verdict};
use crate::registry::{GradeContext, Grader, GraderInfo};

pub const KIND: &str = "repetition";

/// The `repetition` task's params.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Words per n-gram.
    #[serde(default = "default_ngram_size")]
    pub ngram_size: usize,
    /// The penalty when every n-gram repeats (at most 0).
    #[serde(default = "default_max_penalty")]
    pub max_penalty: f64,
}

fn default_ngram_size() -> usize {
    3
}

fn default_max_penalty() -> f64 {
    -1.0
}

/// The penalty for `text`: 0 for no repetition, `max_penalty` when every n-gram repeats.
pub fn repetition_penalty(text: &str, ngram_size: usize, max_penalty: f64) -> f64 {
    repetition_penalty_until(text, ngram_size, max_penalty, &|| false).expect("never stopped")
}

/// [`repetition_penalty`], asking `stop` every [`CHECK_EVERY`] units of work; `None` once it
/// says stop (the deadline passed).
pub fn repetition_penalty_until(
    text: &str,
    ngram_size: usize,
    max_penalty: f64,
    stop: &dyn Fn() -> bool,
) -> Option<f64> {
    let lowered = lowered_visible(text, stop)?;
    let words = words_of(&lowered, stop)?;
    if words.is_empty() || words.len() < ngram_size || ngram_size == 0 {
        return Some(0.0);
    }
    let windows = words.len() - ngram_size + 1;
    let mut distinct: HashSet<&[&str]> = HashSet::with_capacity(windows);
    for (i, ngram) in words.windows(ngram_size).enumerate() {
        if i % CHECK_EVERY == 0 && stop() {
            return None;
        }
        distinct.insert(ngram);
    }
    Some((1.0 - distinct.len() as f64 / windows as f64) * max_penalty)
}

/// Bytes lowercased between two asks of the deadline.
const LOWERCASE_PIECE: usize = 1 << 16;

/// `text` lowercased, without invisible characters, in pieces that each end at an ASCII white
/// space (lowercasing a final sigma looks at the letters around it, which white space stops), so
/// the deadline is asked every [`LOWERCASE_PIECE`] bytes: in one pass, 20 MB took a debug build
/// past a second before the first ask.
///
/// Invisible format characters are dropped, not kept in words: sprinkled differently into each
/// copy (`an\u{200B}swer`), they made every repeated phrase distinct (red team).
fn lowered_visible(text: &str, stop: &dyn Fn() -> bool) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if stop() {
            return None;
        }
        let cut = match rest.as_bytes().get(LOWERCASE_PIECE..) {
            None => rest.len(),
            Some(tail) => tail
                .iter()
                .position(u8::is_ascii_whitespace)
                .map_or(rest.len(), |i| LOWERCASE_PIECE + i + 1),
        };
        let (piece, tail) = rest.split_at(cut);
        out.extend(piece.to_lowercase().chars().filter(|&c| !is_invisible(c)));
        rest = tail;
    }
    Some(out)
}

/// Words split at white space, with each Han, kana or Hangul character a word of its own, and
/// a run longer than [`LONG_WORD`] characters counted as pieces of [`PIECE`]: text without
/// spaces in any script (`我我我…`, Thai, `the,answer,is,…`) was one word and never a repeated
/// n-gram, and fixed pieces of periodic text repeat with it.
fn words_of<'a>(text: &'a str, stop: &dyn Fn() -> bool) -> Option<Vec<&'a str>> {
    let mut words = Vec::new();
    // Where the current run of non-space characters starts.
    let mut run: Option<usize> = None;
    for (n, (i, c)) in text.char_indices().enumerate() {
        if n % CHECK_EVERY == 0 && stop() {
            return None;
        }
        if c.is_whitespace() || is_ideograph(c) {
            if let Some(start) = run.take() {
                push_run(&mut words, &text[start..i]);
            }
            if is_ideograph(c) {
                words.push(&text[i..i + c.len_utf8()]);
            }
        } else if run.is_none() {
            run = Some(i);
        }
    }
    if let Some(start) = run {
        push_run(&mut words, &text[start..]);
    }
    Some(words)
}

/// A run of more characters than this is not one word but pieces of [`PIECE`] characters.
const LONG_WORD: usize = 32;
const PIECE: usize = 8;

fn push_run<'a>(words: &mut Vec<&'a str>, run: &'a str) {
    if run.chars().nth(LONG_WORD).is_none() {
        words.push(run);
        return;
    }
    let mut piece_start = 0;
    for (count, (i, _)) in run.char_indices().enumerate() {
        if count > 0 && count % PIECE == 0 {
            words.push(&run[piece_start..i]);
            piece_start = i;
        }
    }
    words.push(&run[piece_start..]);
}

/// Units of work (n-grams here) between two looks at the deadline: a few hundred microseconds.
pub const CHECK_EVERY: usize = 1 << 14;

pub struct RepetitionGrader;

impl Grader for RepetitionGrader {
    fn info(&self) -> GraderInfo {
        GraderInfo {
            kind: KIND.into(),
            description: "open-r1's n-gram repetition penalty (0 down to max_penalty)".into(),
            available: true,
            variants: Vec::new(),
            version: None,
        }
    }

    fn grade(&self, completion: &str, task: &Task, ctx: &GradeContext) -> Verdict {
        let params: Params = match parse(task, KIND) {
            Ok(params) => params,
            Err(verdict) => return verdict,
        };
        if params.max_penalty > 0.0 || check_magnitude(params.max_penalty).is_err() {
            return Verdict::error(format!(
                "repetition.max_penalty: must be a number <= 0 of magnitude at most {:e}, got {:e}",
                crate::contract::MAX_WEIGHT,
                params.max_penalty
            ));
        }
        if params.ngram_size == 0 {
            return Verdict::error("repetition.ngram_size: must be at least 1");
        }
        let stop = || ctx.expired();
        match repetition_penalty_until(completion, params.ngram_size, params.max_penalty, &stop) {
            Some(penalty) => shaped(penalty, params.max_penalty, 0.0),
            None => Verdict::timeout("the deadline passed while counting repeated n-grams"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lowercasing in pieces gives the one-pass result: pieces end at white space, so a final
    /// sigma and multi-byte characters at a piece's edge are lowercased as in the whole text.
    #[test]
    fn lowercasing_in_pieces_is_lowercasing_the_whole() {
        let unit = "ΟΔΟΣ Straße\u{200B}ΣΑΣ É 我们 ";
        let text = unit.repeat(LOWERCASE_PIECE / unit.len() * 3 + 7);
        let whole: String = text
            .to_lowercase()
            .chars()
            .filter(|&c| !is_invisible(c))
            .collect();
        assert_eq!(
            lowered_visible(&text, &|| false).as_deref(),
            Some(whole.as_str())
        );
        assert_eq!(lowered_visible(&text, &|| true), None);
    }

    /// Repetition hidden by zero-width characters or by writing without spaces is counted.
    #[test]
    fn invisible_characters_and_missing_spaces_hide_nothing() {
        let plain = "the answer is ".repeat(20);
        let expected = repetition_penalty(&plain, 3, -1.0);
        assert!(expected < -0.9, "{expected}");
        let sprinkled: String = (0..20)
            .map(|i| format!("the{} an\u{200B}swer is ", "\u{200B}".repeat(i)))
            .collect();
        assert_eq!(repetition_penalty(&sprinkled, 3, -1.0), expected);
        assert!(repetition_penalty(&"我".repeat(200), 3, -1.0) < -0.9);
    }

    /// The red team's second round: other invisible characters, per-copy marks, scripts and
    /// separators without spaces. Every one repeats one phrase 50 times.
    #[test]
    fn repetition_in_any_script_or_disguise_is_counted() {
        let phrase = ["the", "answer", "is"];
        let copies: Vec<String> = vec![
            phrase.repeat(50).join("\u{180E}"),
            phrase.repeat(50).join("\u{2066}"),
            phrase.repeat(50).join(","),
            phrase.repeat(50).concat(),
            (0..50)
                .map(|i| format!("the{} answer is ", "\u{034F}".repeat(i)))
                .collect(),
            (0..50)
                .map(|i| format!("the{} answer is ", "\u{0301}".repeat(i % 7)))
                .collect(),
            "สวัสดีครับ".repeat(50),
            "\u{1100}\u{1161}".repeat(100),
            "ｱｲｳ".repeat(100),
            "。".repeat(300),
        ];
        for text in &copies {
            let penalty = repetition_penalty(text, 3, -1.0);
            assert!(
                penalty < -0.5,
                "{penalty} for {:?}",
                &text[..text.len().min(40)]
            );
        }
        // Ordinary prose is not touched by the long-run rule.
        assert_eq!(repetition_penalty("a b c a b c a b", 3, -1.0), -0.5);
    }

    #[test]
    fn matches_open_r1_numbers() {
        // 6 trigrams, 3 distinct ("a b c", "b c a", "c a b"): (1 - 3/6) * -1 = -0.5.
        assert_eq!(repetition_penalty("a b c a b c a b", 3, -1.0), -0.5);
        assert_eq!(repetition_penalty("The cat sat on the mat", 3, -1.0), 0.0);
        assert_eq!(repetition_penalty("a b", 3, -1.0), 0.0);
        assert_eq!(repetition_penalty("", 3, -1.0), 0.0);
        // Case-folded: "Go go go go" has 2 bigrams... 3 bigrams, 1 distinct: (1 - 1/3) * -0.5.
        assert!((repetition_penalty("Go go go go", 2, -0.5) + 1.0 / 3.0).abs() < 1e-12);
    }
}
