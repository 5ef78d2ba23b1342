//! GPT-2's pre-tokenisation regex, by hand (the `regex` crate has no look-ahead):
//!
//! ```text
//! 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//! ```
//!
//! preceded, when `split_digits` is set, by Hugging Face's `Digits(individual_digits=true)`
//! split, which is what SmolLM2's tokenizer (`tokenizer.ggml.pre = "smollm"`) does.

fn is_letter(c: char) -> bool {
    c.is_alphabetic()
}
fn is_number(c: char) -> bool {
    c.is_numeric()
}
fn is_other(c: char) -> bool {
    !c.is_whitespace() && !is_letter(c) && !is_number(c)
}

/// Splits `text` into the pieces BPE runs on.
pub fn pretokenize(text: &str, split_digits: bool) -> Vec<&str> {
    let mut out = Vec::new();
    if !split_digits {
        gpt2_split(text, &mut out);
        return out;
    }
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if is_number(c) {
            gpt2_split(&text[start..i], &mut out);
            out.push(&text[i..i + c.len_utf8()]);
            start = i + c.len_utf8();
        }
    }
    gpt2_split(&text[start..], &mut out);
    out
}

fn gpt2_split<'a>(text: &'a str, out: &mut Vec<&'a str>) {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let end_of = |k: usize| chars.get(k).map_or(text.len(), |&(b, _)| b);
    let run = |mut k: usize, pred: fn(char) -> bool| {
        while k < chars.len() && pred(chars[k].1) {
            k += 1;
        }
        k
    };
    let mut k = 0;
    while k < chars.len() {
        let c = chars[k].1;
        let next = chars.get(k + 1).map(|p| p.1);
        let start = k;
        let stop = if c == '\'' {
            let rest = &text[chars[k].0 + 1..];
            let suffix = ["s", "t", "re", "ve", "m", "ll", "d"]
                .iter()
                .find(|s| rest.starts_with(*s));
            match suffix {
                Some(s) => k + 1 + s.len(),
                None => run(k + 1, is_other),
            }
        } else if is_letter(c) {
            run(k, is_letter)
        } else if is_number(c) {
            run(k, is_number)
        } else if is_other(c) {
            run(k, is_other)
        } else if c == ' ' && next.is_some_and(is_letter) {
            run(k + 1, is_letter)
        } else if c == ' ' && next.is_some_and(is_number) {
            run(k + 1, is_number)
        } else if c == ' ' && next.is_some_and(is_other) {
            run(k + 1, is_other)
        } else {
            // Whitespace: the run, minus its last character when a non-space follows
            // (`\s+(?!\S)`), so that the last space can join the next word.
            let end = run(k, char::is_whitespace);
            if end < chars.len() && end - k > 1 {
                end - 1
            } else {
                end
            }
        };
        out.push(&text[chars[start].0..end_of(stop)]);
        k = stop;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_gpt2() {
        assert_eq!(pretokenize("Hello world", false), ["Hello", " world"]);
        assert_eq!(
            pretokenize("it's  fine!\n\nOk", false),
            ["it", "'s", " ", " fine", "!", "\n", "\n", "Ok"]
        );
        assert_eq!(pretokenize("a   b", false), ["a", "  ", " b"]);
        assert_eq!(pretokenize("x = 12 ", false), ["x", " =", " 12", " "]);
    }

    #[test]
    fn isolates_digits_first() {
        assert_eq!(
            pretokenize("x = 123.", true),
            ["x", " =", " ", "1", "2", "3", "."]
        );
    }
}
