//! Character classes the graders share, where a rule about text must not be fooled by what a
//! reader cannot see (zero-width and format characters, combining marks, fillers) or by text
//! written without spaces.

use std::sync::OnceLock;

/// What no reader sees as a character of its own: Unicode's default-ignorable code points
/// (zero-width spaces and joiners, variation selectors, tags, Hangul fillers, U+180E, U+034F),
/// format characters (bidirectional controls), control characters, combining marks, the
/// blank braille pattern, and code points that are no character anyone can read: private use
/// (U+E000, planes 15 and 16) and unassigned ones (a red team's `<think>\u{E000}</think>\u{E000}`
/// and U+0378 passed R1's format). A red team went through the short hand-made list this
/// replaced character by character; the Unicode classes remove the class.
const INVISIBLE: &str =
    r"[\p{Default_Ignorable_Code_Point}\p{Cf}\p{Cc}\p{Mn}\p{Me}\p{Co}\p{Cn}\x{2800}--\s]";

/// A set of characters written as a regex class (`[\p{L}\p{N}]`), tested by a binary search
/// over its code point ranges, sorted, made on first use. Matching a regex against each
/// character, as these tests did, cost ~100 instructions a character.
pub struct CharClass {
    pattern: &'static str,
    ranges: OnceLock<Vec<(u32, u32)>>,
}

impl CharClass {
    pub const fn new(pattern: &'static str) -> CharClass {
        CharClass {
            pattern,
            ranges: OnceLock::new(),
        }
    }

    fn ranges(&self) -> &[(u32, u32)] {
        self.ranges.get_or_init(|| {
            let hir = regex_syntax::parse(self.pattern).expect("a valid character class");
            match hir.kind() {
                regex_syntax::hir::HirKind::Class(regex_syntax::hir::Class::Unicode(class)) => {
                    class
                        .ranges()
                        .iter()
                        .map(|range| (u32::from(range.start()), u32::from(range.end())))
                        .collect()
                }
                other => unreachable!("a Unicode class, got {other:?}"),
            }
        })
    }

    pub fn contains(&self, c: char) -> bool {
        let c = u32::from(c);
        let ranges = self.ranges();
        let at = ranges.partition_point(|&(_, end)| end < c);
        ranges.get(at).is_some_and(|&(start, _)| start <= c)
    }
}

/// See [`INVISIBLE`]; white space is not invisible here (it separates words).
pub fn is_invisible(c: char) -> bool {
    static CLASS: CharClass = CharClass::new(INVISIBLE);
    if c.is_ascii() {
        return c.is_ascii_control() && !c.is_ascii_whitespace();
    }
    CLASS.contains(c)
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
    fn a_class_holds_what_its_regex_matches() {
        for pattern in [r"[\p{L}\p{N}]", r"\p{L}", r"\p{Nd}", INVISIBLE] {
            let class = CharClass::new(pattern);
            let regex = regex::Regex::new(&format!("^{pattern}$")).unwrap();
            let mut buf = [0u8; 4];
            for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
                assert_eq!(
                    class.contains(c),
                    regex.is_match(c.encode_utf8(&mut buf)),
                    "{pattern} {c:?}"
                );
            }
        }
    }

    #[test]
    fn blank_means_nothing_visible() {
        assert!(is_blank(" \n\u{200B}\u{FEFF}\t"));
        assert!(!is_blank("\u{200B}a"));
        assert!(is_ideograph('我') && is_ideograph('か') && !is_ideograph('a'));
    }

    /// Every invisible character the red teams used, and a few visible neighbours.
    #[test]
    fn the_invisible_classes_cover_what_red_teams_found() {
        for c in [
            '\u{200B}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{180E}',
            '\u{034F}',
            '\u{FE0F}',
            '\u{202A}',
            '\u{2066}',
            '\u{2800}',
            '\u{3164}',
            '\u{115F}',
            '\u{FFA0}',
            '\u{E0020}',
            '\u{0301}',
            '\u{061C}',
            '\u{206A}',
            '\u{E0100}',
            '\u{0007}',
            '\u{E000}',
            '\u{F8FF}',
            '\u{F0000}',
            '\u{0378}',
        ] {
            assert!(is_invisible(c), "U+{:04X}", c as u32);
            assert!(is_blank(&format!(" {c} ")), "U+{:04X}", c as u32);
        }
        for c in ['a', 'é', '我', '😀', 'ส', '。', ' ', '\n', '-'] {
            assert!(!is_invisible(c), "U+{:04X}", c as u32);
        }
    }
}
