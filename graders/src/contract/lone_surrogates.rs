//! JSON text whose strings escape a lone UTF-16 surrogate (`"\ud800"`), made readable.
//!
//! Such an escape is valid JSON but names no character, so serde_json (rightly, for a Rust
//! `String`) refuses it, and the whole sample became an `error`. Python's `json.dumps` writes
//! one for any `str` holding a lone surrogate, so a completion decoded with
//! `errors="surrogateescape"`, or a model that learnt to emit one, turned its own sample into
//! an `error`, which a trainer drops from the group: a way out of a negative advantage. Each
//! lone surrogate is read as U+FFFD, the replacement character, as a lossy UTF-16 decoder reads
//! it; pairs are left alone.

/// `T` read from JSON `text`, as `serde_json::from_str` reads it, but that a text refused for
/// lone surrogates is read again with each as U+FFFD. Only a text that fails is scanned, so
/// well-formed input costs nothing more.
pub fn from_str<T: serde::de::DeserializeOwned>(text: &str) -> serde_json::Result<T> {
    serde_json::from_str(text).or_else(|err| match replace_lone_surrogates(text) {
        Some(readable) => serde_json::from_str(&readable),
        None => Err(err),
    })
}

/// `text` with each `\uXXXX` escape of a lone surrogate replaced by `\ufffd`; `None` when it
/// has none. Escapes are found as a JSON parser finds them: `\\u` is an escaped backslash
/// followed by `u`, not an escape. The replacement keeps the text's length.
pub fn replace_lone_surrogates(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut lone: Vec<usize> = Vec::new();
    let mut at = 0;
    while let Some(offset) = memchr::memchr(b'\\', &bytes[at..]) {
        let escape = at + offset;
        match bytes.get(escape + 1) {
            Some(b'u') => match code_unit(bytes, escape) {
                Some(0xD800..=0xDBFF) => {
                    let pair = bytes.get(escape + 6) == Some(&b'\\')
                        && bytes.get(escape + 7) == Some(&b'u')
                        && matches!(code_unit(bytes, escape + 6), Some(0xDC00..=0xDFFF));
                    if pair {
                        at = escape + 12;
                    } else {
                        lone.push(escape);
                        at = escape + 6;
                    }
                }
                Some(0xDC00..=0xDFFF) => {
                    lone.push(escape);
                    at = escape + 6;
                }
                _ => at = escape + 2,
            },
            // Any other escape (`\\` included) is two bytes.
            Some(_) => at = escape + 2,
            None => break,
        }
    }
    if lone.is_empty() {
        return None;
    }
    let mut fixed = text.as_bytes().to_vec();
    for escape in lone {
        fixed[escape..escape + 6].copy_from_slice(b"\\ufffd");
    }
    // Only ASCII was replaced by ASCII.
    Some(String::from_utf8(fixed).expect("ASCII replaced by ASCII"))
}

/// The code unit of the `\uXXXX` escape starting at `escape`, if it is one.
fn code_unit(bytes: &[u8], escape: usize) -> Option<u32> {
    let hex = bytes.get(escape + 2..escape + 6)?;
    let hex = std::str::from_utf8(hex).ok()?;
    u32::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        let fixed = replace_lone_surrogates(r#"{"a": "x\ud800y", "b": "\uDC00"}"#).unwrap();
        assert_eq!(fixed, r#"{"a": "x\ufffdy", "b": "\ufffd"}"#);
        let value: serde_json::Value = serde_json::from_str(&fixed).unwrap();
        assert_eq!(value["a"], "x\u{fffd}y");
    }

    #[test]
    fn pairs_escaped_backslashes_and_plain_text_are_left_alone() {
        assert_eq!(replace_lone_surrogates(r#""\ud83d\ude00""#), None);
        assert_eq!(replace_lone_surrogates(r#""\\ud800""#), None);
        assert_eq!(replace_lone_surrogates(r#""\u00e9 \n \"""#), None);
        assert_eq!(replace_lone_surrogates("no escapes at all"), None);
    }

    #[test]
    fn a_high_surrogate_before_another_high_one_is_lone() {
        let fixed = replace_lone_surrogates(r#""\ud800\ud83d\ude00""#).unwrap();
        assert_eq!(fixed, r#""\ufffd\ud83d\ude00""#);
    }

    #[test]
    fn values_are_read_with_replacement_characters_where_they_must_be() {
        let value: serde_json::Value = from_str(r#"{"a": "x\ud800"}"#).unwrap();
        assert_eq!(value["a"], "x\u{fffd}");
        assert!(from_str::<serde_json::Value>(r#"{"a": "x"#).is_err());
    }

    #[test]
    fn truncated_escapes_do_not_panic() {
        for text in [r"\", r"\u", r"\ud8", r#""\ud800\u"#, r#""\ud800\udc"#] {
            let _ = replace_lone_surrogates(text);
        }
        assert_eq!(
            replace_lone_surrogates(r#""\ud800\"#).as_deref(),
            Some(r#""\ufffd\"#)
        );
    }
}
