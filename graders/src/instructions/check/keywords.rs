//! `keywords:*`: keyword regexes are built in [`super::super::spec`]; what is left is the letter
//! count, `Counter(text.lower())[letter]`.

use crate::instructions::pystr;

/// How often `letter` occurs in Python's `text.lower()` (full lower-casing: "İ" adds an "i").
pub fn letter_count(text: &str, letter: char) -> i64 {
    if text.is_ascii() && letter.is_ascii() {
        let wanted = letter as u8;
        return text
            .bytes()
            .filter(|b| b.to_ascii_lowercase() == wanted)
            .count() as i64;
    }
    pystr::lower(text).chars().filter(|&c| c == letter).count() as i64
}

#[cfg(test)]
mod tests {
    use super::letter_count;

    #[test]
    fn counts_lowercased_letters() {
        assert_eq!(letter_count("Banana", 'a'), 3);
        assert_eq!(letter_count("Été", 'e'), 0);
        assert_eq!(letter_count("x ## y #", '#'), 3);
    }
}
