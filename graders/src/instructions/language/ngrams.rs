//! langdetect's language profiles, laid out for the walk, and the n-grams of a text
//! (`Detector._extract_ngrams`).
//!
//! The profiles are the `langdetect` crate's, read from the serialised factory that `build.rs`
//! writes with `DetectorFactory::to_bytes` (format `LDF1`: languages, then each n-gram's packed
//! characters and its `(language, probability)` slots). We lay them out ourselves because the
//! crate's layout was most of the language checks' cost, which was ~40% of IFEval's grading:
//! every character of a text looked up two n-grams in a hash table (24 µs for IFEval's mean
//! 1,189-character response), and every n-gram the walk drew first was copied into a dense
//! row of 55 from slots behind two more pointers. Here n-grams of ASCII letters and spaces,
//! nearly all of an English text's, are found in tables indexed by their letters, and the
//! walk reads each drawn n-gram's few slots from one flat array.

use rustc_hash::FxHashMap;

use super::ascii_grams::{self, set_once, AsciiGrams, NOT_ASCII};
use super::serialised;

/// One language's probability for an n-gram (the languages absent from a row have 0).
///
/// Packed in 9 bytes, not 16: the walk's reads of slots are cache misses, and more of them
/// share a line (unaligned loads cost nothing measurable on x86-64).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C, packed)]
pub struct Slot {
    pub probability: f64,
    pub language: u8,
}

/// The profiles: languages, and each n-gram's row of slots.
///
/// A row is named by where its slots are, `start << 6 | len` ([`Row`]), so that the walk
/// reads a drawn n-gram's slots with one access to memory that is not in cache, not two.
pub struct Profiles {
    languages: Vec<String>,
    /// The n-grams of ASCII letters and spaces.
    ascii: AsciiGrams,
    /// Row + 1 of every other unigram of the Basic Multilingual Plane, 0 for none.
    bmp_unigrams: Vec<u32>,
    /// Row of every other n-gram, by its packed characters ([`pack`]).
    other: FxHashMap<u64, u32>,
    slots: Vec<Slot>,
}

/// An n-gram's row: its slots' start in [`Profiles::slots`] and their number, in one word.
pub type Row = u32;

/// Bits of a [`Row`] that hold the number of slots: a row has at most one per language.
const LEN_BITS: u32 = 6;

/// The most languages the profiles may have.
pub const MAX_LANGUAGES: usize = (1 << LEN_BITS) - 1;

/// `NGram.normalize`: ASCII letters stay, other ASCII characters become a space (as the
/// crate's table has it, without the table), the rest as the crate says.
#[inline]
fn normalize(c: char) -> char {
    match c {
        'A'..='Z' | 'a'..='z' => c,
        '\0'..='\x7f' => ' ',
        _ => langdetect::text::normalize(c),
    }
}

/// An n-gram's characters packed into one word, as the serialised factory keys them: 21 bits
/// per character, each stored plus one so that the length is implied.
fn pack(gram: &[char]) -> u64 {
    gram.iter()
        .enumerate()
        .fold(0, |key, (i, &c)| key | (c as u64 + 1) << (21 * i))
}

/// The characters of a packed n-gram (its first `len`), if it is one.
fn unpack(key: u64) -> Option<([char; 3], usize)> {
    let mut gram = [' '; 3];
    let mut len = 0;
    for (i, c) in gram.iter_mut().enumerate() {
        let v = (key >> (21 * i)) & 0x1f_ffff;
        if v == 0 {
            break;
        }
        *c = char::from_u32(v as u32 - 1)?;
        len += 1;
    }
    (len > 0 && pack(&gram[..len]) == key).then_some((gram, len))
}

fn insert_once(map: &mut FxHashMap<u64, Row>, key: u64, row: Row) -> Option<()> {
    map.insert(key, row).is_none().then_some(())
}

impl Profiles {
    /// Reads a serialised factory (`LDF1`), or `None` when it is not one that our walk answers
    /// as the crate's does: one to [`MAX_LANGUAGES`] languages, each row covering every one
    /// (the crate raises IndexError for a shorter one), and the sums Neumaier's (CPython 3.12 and later: the crate's
    /// default, which `build.rs` serialises).
    pub fn from_serialised(bytes: &[u8]) -> Option<Profiles> {
        let (header, rows) = serialised::read(bytes)?;
        // Neumaier's sums, and `isupper` of Unicode 16.0 (CPython 3.14), which the walk and
        // `super::is_upper` reproduce.
        const NEUMAIER: u8 = 1;
        const UNICODE_16_0: u8 = 4;
        if header.sum_mode != NEUMAIER
            || header.unicode != UNICODE_16_0
            || header.languages.is_empty()
            || header.languages.len() > MAX_LANGUAGES
        {
            return None;
        }
        let languages = header.languages.len();
        let mut profiles = Profiles {
            languages: header.languages.iter().map(|l| l.to_string()).collect(),
            ascii: AsciiGrams::default(),
            bmp_unigrams: vec![0; 0x1_0000],
            other: FxHashMap::default(),
            slots: Vec::with_capacity(bytes.len() / 12),
        };
        profiles.other.reserve(rows.len());
        let mut ascii = Vec::new();
        // The rows come most frequent first (`build.rs`), and keep that order here.
        for serialised in rows {
            if serialised.len as usize != languages {
                return None;
            }
            let start = u32::try_from(profiles.slots.len()).ok()?;
            if start >= 1 << (32 - LEN_BITS) {
                return None;
            }
            let slots = serialised.slots();
            let row = start << LEN_BITS | slots.len() as u32;
            for (language, probability) in slots {
                profiles.slots.push(Slot {
                    language: u8::try_from(language)
                        .ok()
                        .filter(|&l| usize::from(l) < languages)?,
                    probability,
                });
            }
            let (gram, len) = unpack(serialised.key)?;
            let mut codes = [0; 3];
            for (code, &c) in codes.iter_mut().zip(&gram[..len]) {
                *code = ascii_grams::code(c);
            }
            if !codes.contains(&NOT_ASCII) {
                ascii.push((codes, row));
            } else if let [c] = gram[..len] {
                if (c as u32) < 0x1_0000 {
                    set_once(&mut profiles.bmp_unigrams[c as usize], row + 1)?;
                } else {
                    insert_once(&mut profiles.other, pack(&gram[..1]), row)?;
                }
            } else {
                insert_once(&mut profiles.other, pack(&gram[..len]), row)?;
            }
        }
        profiles.ascii = AsciiGrams::build(ascii)?;
        Some(profiles)
    }

    pub fn languages(&self) -> &[String] {
        &self.languages
    }

    #[inline]
    pub fn slots(&self, row: Row) -> &[Slot] {
        let start = (row >> LEN_BITS) as usize;
        &self.slots[start..start + (row & MAX_LANGUAGES as u32) as usize]
    }

    /// The row of an n-gram of one to three characters outside the ASCII table, if a
    /// profile has it.
    fn other_row(&self, gram: &[char]) -> Option<Row> {
        match gram {
            [c] if (*c as u32) < 0x1_0000 => self.bmp_unigrams[*c as usize].checked_sub(1),
            _ => self.other.get(&pack(gram)).copied(),
        }
    }

    /// `Detector._extract_ngrams`: the rows of the n-grams of `text` (prepared, and cleaned
    /// when `drop_latin` says so: then the letters `'A'..='z'` are skipped) that
    /// some profile has, in order. `NGram` keeps the last three normalised characters, begun
    /// afresh after a space; a character that is upper case after an upper-case one puts it
    /// in a capital word, whose n-grams are skipped until a character that is not upper case.
    pub fn ngram_rows(&self, text: &str, drop_latin: bool, rows: &mut Vec<Row>) {
        rows.clear();
        let mut grams = [' '; 3];
        let mut codes = [ascii_grams::code(' '); 3];
        let mut upper = [false; 3];
        let mut len = 1usize;
        let mut capital_word = false;
        for raw in text.chars() {
            if drop_latin && ('A'..='z').contains(&raw) {
                continue;
            }
            let c = normalize(raw);
            let last_upper = upper[len - 1];
            if grams[len - 1] == ' ' {
                (grams[0], codes[0], upper[0]) = (' ', ascii_grams::code(' '), false);
                (len, capital_word) = (1, false);
                if c == ' ' {
                    continue;
                }
            } else if len == 3 {
                grams.copy_within(1.., 0);
                codes.copy_within(1.., 0);
                upper.copy_within(1.., 0);
                len = 2;
            }
            let is_upper = super::is_upper(c);
            (grams[len], codes[len], upper[len]) = (c, ascii_grams::code(c), is_upper);
            len += 1;
            capital_word = is_upper && (last_upper || capital_word);
            if capital_word {
                continue;
            }
            let [a, b, c_code] = codes;
            let (last, previous) = (codes[len - 1], codes[len - 2]);
            if c != ' ' {
                rows.extend(match last {
                    NOT_ASCII => self.other_row(&grams[len - 1..len]),
                    _ => self.ascii.unigram(last),
                });
            }
            rows.extend(match (previous, last) {
                (NOT_ASCII, _) | (_, NOT_ASCII) => self.other_row(&grams[len - 2..len]),
                _ => self.ascii.bigram(previous, last),
            });
            if len == 3 {
                rows.extend(match (a, b, c_code) {
                    (NOT_ASCII, _, _) | (_, NOT_ASCII, _) | (_, _, NOT_ASCII) => {
                        self.other_row(&grams)
                    }
                    _ => self.ascii.trigram(a, b, c_code),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_is_normalised_as_the_crate_does() {
        for c in '\0'..='\x7f' {
            assert_eq!(normalize(c), langdetect::text::normalize(c), "{c:?}");
        }
    }
}
