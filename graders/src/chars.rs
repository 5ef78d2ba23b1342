//! Character classes the graders share, where a rule about text must not be fooled by what a
//! reader cannot see (zero-width characters) or by text written without spaces (CJK).

/// Invisible format characters: soft hyphen, zero-width spaces and joiners, directional marks,
/// word joiner and invisible operators, byte-order mark.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
    )
}

/// Nothing visible: white space and invisible characters only (`str::trim` keeps a zero-width
/// space, so a body of one passed as non-empty).
pub fn is_blank(text: &str) -> bool {
    text.chars().all(|c| c.is_whitespace() || is_invisible(c))
}

/// Characters that are words of their own: Han, kana, Hangul syllables.
pub fn is_ideograph(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF
        | 0xAC00..=0xD7AF | 0x20000..=0x3134F)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_means_nothing_visible() {
        assert!(is_blank(" \n\u{200B}\u{FEFF}\t"));
        assert!(!is_blank("\u{200B}a"));
        assert!(is_ideograph('我') && is_ideograph('か') && !is_ideograph('a'));
    }
}
