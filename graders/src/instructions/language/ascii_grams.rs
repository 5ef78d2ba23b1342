//! The rows of langdetect's n-grams of ASCII letters and spaces, nearly all of an English
//! text's, in ~90 KB that stay in cache.
//!
//! The profiles have 52 such unigrams, 1,132 bigrams and 10,074 trigrams, the trigrams behind
//! only 1,094 two-letter prefixes. Each prefix (or single letter) has one 16-byte entry: its
//! own row, and a bit per letter that follows it in a trigram, which ranks that trigram's row
//! among the prefix's. A dense table of every trigram (54³ entries, 630 KB) was evicted by the
//! rest of IFEval's grading, and its lookups were a third of finding a text's n-grams.

use super::ngrams::Row;

/// Codes of the characters: space 1, `A`-`Z` 2-27, `a`-`z` 28-53; 0 leads a prefix of one
/// character; [`NOT_ASCII`] marks the characters that have none.
const CODES: usize = 54;
pub const NOT_ASCII: u8 = u8::MAX;

#[inline]
pub fn code(c: char) -> u8 {
    match c {
        ' ' => 1,
        'A'..='Z' => c as u8 - b'A' + 2,
        'a'..='z' => c as u8 - b'a' + 28,
        _ => NOT_ASCII,
    }
}

#[derive(Clone, Copy, Default)]
struct Prefix {
    /// The row + 1 of the n-gram this prefix spells (a unigram for `(0, c)`), 0 for none.
    own: u32,
    /// Where the rows of the trigrams it leads begin in [`AsciiGrams::trigrams`].
    first_trigram: u32,
    /// Bit `c` set when the trigram of this prefix and code `c` has a row.
    next: u64,
}

#[derive(Default)]
pub struct AsciiGrams {
    prefixes: Vec<Prefix>,
    trigrams: Vec<Row>,
}

impl AsciiGrams {
    /// The table of `grams`: each one's codes (one to three, none [`NOT_ASCII`], then zeros)
    /// and row; `None` if an n-gram comes twice.
    pub fn build(mut grams: Vec<([u8; 3], Row)>) -> Option<AsciiGrams> {
        let mut table = AsciiGrams {
            prefixes: vec![Prefix::default(); CODES * CODES],
            trigrams: Vec::new(),
        };
        // Trigrams in the order of their prefix, then of their last letter: the rank of the
        // last letter's bit is then the position among the prefix's rows.
        grams.sort_unstable();
        for (codes, row) in grams {
            let index = |a: u8, b: u8| usize::from(a) * CODES + usize::from(b);
            match codes {
                [0, _, _] | [_, 0, 1..=u8::MAX] => return None,
                [c, 0, 0] => set_once(&mut table.prefixes[index(0, c)].own, row + 1)?,
                [a, b, 0] => set_once(&mut table.prefixes[index(a, b)].own, row + 1)?,
                [a, b, c] => {
                    let prefix = &mut table.prefixes[index(a, b)];
                    if prefix.next == 0 {
                        prefix.first_trigram = u32::try_from(table.trigrams.len()).ok()?;
                    }
                    if prefix.next & 1 << c != 0 {
                        return None;
                    }
                    prefix.next |= 1 << c;
                    table.trigrams.push(row);
                }
            }
        }
        Some(table)
    }

    #[inline]
    fn prefix(&self, a: u8, b: u8) -> &Prefix {
        &self.prefixes[usize::from(a) * CODES + usize::from(b)]
    }

    #[inline]
    pub fn unigram(&self, c: u8) -> Option<Row> {
        self.prefix(0, c).own.checked_sub(1)
    }

    #[inline]
    pub fn bigram(&self, a: u8, b: u8) -> Option<Row> {
        self.prefix(a, b).own.checked_sub(1)
    }

    #[inline]
    pub fn trigram(&self, a: u8, b: u8, c: u8) -> Option<Row> {
        let prefix = self.prefix(a, b);
        let bit = 1u64 << c;
        (prefix.next & bit != 0).then(|| {
            let rank = (prefix.next & (bit - 1)).count_ones();
            self.trigrams[(prefix.first_trigram + rank) as usize]
        })
    }
}

/// Sets an entry that must still be 0; `None` if it was not.
pub fn set_once(entry: &mut u32, value: u32) -> Option<()> {
    (*entry == 0).then(|| *entry = value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_gram_and_no_other() {
        let grams = ["a", "th", " t", "the", "thx", " th", "he ", "Zz"];
        let codes = |g: &str| {
            let mut codes = [0; 3];
            for (code, c) in codes.iter_mut().zip(g.chars()) {
                *code = super::code(c);
            }
            codes
        };
        let table = AsciiGrams::build(
            grams
                .iter()
                .enumerate()
                .map(|(row, g)| (codes(g), row as Row))
                .collect(),
        )
        .unwrap();
        let find = |g: &str| match codes(g) {
            [c, 0, 0] => table.unigram(c),
            [a, b, 0] => table.bigram(a, b),
            [a, b, c] => table.trigram(a, b, c),
        };
        for (row, g) in grams.iter().enumerate() {
            assert_eq!(find(g), Some(row as Row), "{g:?}");
        }
        for absent in ["b", "ht", "tha", "thz", "zth", "Z", " a"] {
            assert_eq!(find(absent), None, "{absent:?}");
        }
        assert!(AsciiGrams::build(vec![(codes("the"), 1), (codes("the"), 2)]).is_none());
        assert_eq!(code('é'), NOT_ASCII);
        assert_eq!((code(' '), code('A'), code('z')), (1, 2, 53));
    }
}
