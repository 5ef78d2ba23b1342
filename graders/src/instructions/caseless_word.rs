//! A plain keyword (no regex syntax in it) found ignoring case, as IFEval's
//! `re.search(keyword, text, flags=re.IGNORECASE)`, `re.findall` (counted) and
//! `re.search(r"\b" + word + r"\b", ...)` find it, without compiling a regex.
//!
//! Why by hand: the regex for a word between Python's word boundaries,
//! `(?i)(?:^|[^\p{L}\p{N}_])word(?:[^\p{L}\p{N}_]|$)`, took 1.4–2.4 ms to compile (the Unicode
//! classes, case-folded), and even `(?i)keyword` 0.27 ms; the `keywords:*` instructions compile
//! one per keyword. On IFEval's 541 prompts, each graded once, those compilations were most of
//! the grading time (0.38–0.52 CPU-s for the 541 against 0.13–0.20 without). Building a
//! [`CaselessWord`] takes microseconds, and a search stays linear in the text.
//!
//! Semantics: a character of the text matches a character of the keyword when both are in the
//! same simple case-folding orbit (as `(?i)` in the regex crate, which the keyword checks use
//! for patterns), with Python's one addition: `I`, `i`, `İ` and `ı` are one letter to
//! `re.IGNORECASE` (red team: `kıll` hid the forbidden word `kill`, which the reference finds;
//! the other orbits differ only for letters Python 3.11's Unicode 14 does not have). `\b` is
//! Python's, decided on the text's own characters: a boundary lies between a word character
//! (`\w`: letters, numbers, `_`) and a non-word one, the ends of the text counting as non-word.

use regex_syntax::hir::{ClassUnicode, ClassUnicodeRange};

use super::pystr::is_word_char;

/// A plain keyword to find ignoring case.
#[derive(Debug, Clone)]
pub struct CaselessWord {
    /// Every character of the word's case orbits (`k`, `K` and the Kelvin sign for a `k`) with
    /// its orbit's number, sorted by character: a text character's orbit is a binary search
    /// away, however many distinct characters the word has.
    orbit_of_char: Vec<(char, usize)>,
    /// The word as orbit numbers, one per character.
    word: Vec<usize>,
    /// Knuth-Morris-Pratt's failure function over `word`: linear time whatever the text and the
    /// word (orbits are equivalence classes, so comparing orbit numbers is an equality test).
    failure: Vec<usize>,
    /// The distinct first bytes of the UTF-8 of the first character's orbit, when there are at
    /// most three: outside a partial match the scan jumps to the next of them with `memchr`
    /// (lead bytes never occur inside a character, so each is a character's start). Without
    /// it, a scan for an absent keyword decoded and looked up every character, several times
    /// the regex it replaced on a 10 MB text (red team); with it, 0.11 CPU-s against 0.21 for
    /// five absent forbidden words in 10 MB.
    first_bytes: Option<Vec<u8>>,
}

impl CaselessWord {
    /// `None` for an empty word (no characters to find).
    pub fn new(word: &str) -> Option<CaselessWord> {
        let mut orbit_of_char: std::collections::HashMap<char, usize> = Default::default();
        let mut orbits = 0;
        let mut numbers = Vec::with_capacity(word.len());
        for c in word.chars() {
            let number = match orbit_of_char.get(&c) {
                Some(&number) => number,
                None => {
                    // Orbits are disjoint: `c` was in none of those seen, so none of its
                    // orbit's characters were either.
                    for member in orbit_of(c) {
                        orbit_of_char.insert(member, orbits);
                    }
                    orbits += 1;
                    orbits - 1
                }
            };
            numbers.push(number);
        }
        let mut orbit_of_char: Vec<(char, usize)> = orbit_of_char.into_iter().collect();
        orbit_of_char.sort_unstable();
        if numbers.is_empty() {
            return None;
        }
        let failure = failure_function(&numbers);
        let mut first_bytes: Vec<u8> = orbit_of_char
            .iter()
            .filter(|&&(_, number)| number == numbers[0])
            .map(|&(member, _)| member.encode_utf8(&mut [0; 4]).as_bytes()[0])
            .collect();
        first_bytes.sort_unstable();
        first_bytes.dedup();
        Some(CaselessWord {
            first_bytes: (first_bytes.len() <= 3).then_some(first_bytes),
            orbit_of_char,
            word: numbers,
            failure,
        })
    }

    /// Whether the word occurs in `text`.
    pub fn occurs_in(&self, text: &str) -> bool {
        let mut found = false;
        self.each_occurrence(text, |_| {
            found = true;
            false
        });
        found
    }

    /// Whether the word occurs in `text` with a Python word boundary on each side.
    pub fn occurs_as_word_in(&self, text: &str) -> bool {
        let mut found = false;
        self.each_occurrence(text, |at| {
            found = boundary_before(text, at.start) && boundary_after(text, at.end);
            !found
        });
        found
    }

    /// Occurrences that do not overlap, taken from the left (`re.findall`'s count).
    pub fn count_in(&self, text: &str) -> usize {
        let mut count = 0;
        let mut free_from = 0;
        self.each_occurrence(text, |at| {
            if at.start >= free_from {
                count += 1;
                free_from = at.end;
            }
            true
        });
        count
    }

    /// Calls `found` with the byte range of every occurrence, overlapping ones included, from
    /// the left, while it returns true. (Every occurrence has as many characters as the word,
    /// so they come in the order of their starts too.)
    fn each_occurrence(&self, text: &str, mut found: impl FnMut(std::ops::Range<usize>) -> bool) {
        let m = self.word.len();
        // Byte offsets of the last `m` characters read, to find where a match began.
        let mut starts = vec![0usize; m];
        let mut matched = 0;
        let mut count = 0usize;
        let mut at = 0;
        while at < text.len() {
            if matched == 0 {
                match self.next_candidate(text.as_bytes(), at) {
                    Some(candidate) => at = candidate,
                    None => return,
                }
            }
            let c = text[at..].chars().next().expect("at a character's start");
            starts[count % m] = at;
            let number = self.orbit_number(c);
            loop {
                if number == Some(self.word[matched]) {
                    matched += 1;
                    break;
                }
                if matched == 0 {
                    break;
                }
                matched = self.failure[matched - 1];
            }
            if matched == m {
                let start = starts[(count + 1 - m) % m];
                if !found(start..at + c.len_utf8()) {
                    return;
                }
                matched = self.failure[m - 1];
            }
            count += 1;
            at += c.len_utf8();
        }
    }

    /// Where the next character that may start the word can be, from byte `at` on.
    fn next_candidate(&self, text: &[u8], at: usize) -> Option<usize> {
        let rest = &text[at..];
        let offset = match self.first_bytes.as_deref() {
            Some(&[a]) => memchr::memchr(a, rest),
            Some(&[a, b]) => memchr::memchr2(a, b, rest),
            Some(&[a, b, c]) => memchr::memchr3(a, b, c, rest),
            _ => Some(0),
        };
        offset.map(|offset| at + offset)
    }

    fn orbit_number(&self, c: char) -> Option<usize> {
        self.orbit_of_char
            .binary_search_by_key(&c, |&(member, _)| member)
            .ok()
            .map(|at| self.orbit_of_char[at].1)
    }
}

/// The letters Python's `re.IGNORECASE` takes for one another beyond simple case folding
/// (`İ` lower-cases to `i`, and `sre` pairs `ı` with `i`), sorted.
const PYTHON_DOTTED_AND_DOTLESS_I: [char; 4] = ['I', 'i', '\u{130}', '\u{131}'];

/// The characters that match `c` ignoring case: its simple case-folding orbit, as `(?i)` has it,
/// the four Python i's together.
fn orbit_of(c: char) -> Vec<char> {
    if PYTHON_DOTTED_AND_DOTLESS_I.contains(&c) {
        return PYTHON_DOTTED_AND_DOTLESS_I.to_vec();
    }
    let mut class = ClassUnicode::new([ClassUnicodeRange::new(c, c)]);
    class.case_fold_simple();
    class
        .iter()
        .flat_map(|range| range.start()..=range.end())
        .collect()
}

/// For each prefix of `word`, the length of its longest proper prefix that is also a suffix.
fn failure_function(word: &[usize]) -> Vec<usize> {
    let mut failure = vec![0; word.len()];
    let mut k = 0;
    for i in 1..word.len() {
        while k > 0 && word[i] != word[k] {
            k = failure[k - 1];
        }
        if word[i] == word[k] {
            k += 1;
        }
        failure[i] = k;
    }
    failure
}

/// Python's `\b` at byte `at`, which starts a match: the characters on either side differ in
/// being word characters.
fn boundary_before(text: &str, at: usize) -> bool {
    let before = text[..at].chars().next_back().is_some_and(is_word_char);
    let first = text[at..].chars().next().is_some_and(is_word_char);
    before != first
}

/// Python's `\b` at byte `at`, which ends a match.
fn boundary_after(text: &str, at: usize) -> bool {
    let last = text[..at].chars().next_back().is_some_and(is_word_char);
    let after = text[at..].chars().next().is_some_and(is_word_char);
    last != after
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(word: &str, text: &str) -> bool {
        CaselessWord::new(word)
            .expect("a word")
            .occurs_as_word_in(text)
    }

    #[test]
    fn words_are_found_between_python_word_boundaries_ignoring_case() {
        assert!(found("war", "No WAR here."));
        assert!(found("war", "war"));
        assert!(!found("war", "warm words"));
        assert!(!found("war", "a postwar plan"));
        assert!(!found("war", "war_time"));
        assert!(!found("war", "war2"));
        // Marks, joiners and connector punctuation are not Python word characters.
        assert!(found("war", "war\u{301}"));
        assert!(found("war", "war\u{200d}"));
        assert!(found("war", "war\u{203f}"));
        // Case orbits: the Kelvin sign is a `k`, a long s an `s`, final sigma a sigma.
        assert!(found("kiss", "\u{212a}i\u{17f}s"));
        assert!(found("ΟΔΟΣ", "οδος"));
        // Python's i's: dotted and dotless are one letter to `re.IGNORECASE`.
        assert!(found("kill", "k\u{131}ll"));
        assert!(found("kill", "K\u{130}LL"));
        assert!(found("\u{131}\u{130}", "iI"));
        // Words that start or end with a non-word character need a word character beside it.
        assert!(found("-x", "a-x b"));
        assert!(!found("-x", "a -x b"));
        assert!(!found("-x", "-x"));
    }

    #[test]
    fn a_failed_boundary_does_not_hide_a_later_or_overlapping_match() {
        assert!(found("aa", "aaa aa"));
        assert!(!found("aa", "aaa"));
        assert!(found("abab", "ababab abab"));
        assert!(found("ab", "xab ab"));
        assert!(found("é", "café é"));
        assert!(!found("é", "café"));
    }

    #[test]
    fn counts_do_not_overlap() {
        let aa = CaselessWord::new("aA").unwrap();
        assert_eq!(aa.count_in("aaaaa"), 2);
        assert_eq!(aa.count_in("a aa AAA"), 2);
        let abab = CaselessWord::new("abab").unwrap();
        assert_eq!(abab.count_in("abababab"), 2);
        assert_eq!(abab.count_in("ababab"), 1);
        assert!(abab.occurs_in("xxABABxx"));
        assert!(!abab.occurs_in("aba bab"));
    }

    #[test]
    fn words_of_many_distinct_characters_are_found() {
        // Greek and Cyrillic letters, each with an upper-case partner.
        let word: String = ('\u{3b1}'..='\u{3c9}')
            .chain('\u{430}'..='\u{44f}')
            .collect();
        let shouted: String = word.chars().flat_map(char::to_uppercase).collect();
        let matcher = CaselessWord::new(&word).unwrap();
        assert!(matcher.occurs_as_word_in(&format!("x {shouted} y")));
        assert!(!matcher.occurs_as_word_in(&format!("x {shouted}y")));
        assert_eq!(matcher.count_in(&format!("{word}{shouted}")), 2);
    }

    /// Held to the regexes the matcher replaces, on words and texts that stress the orbits and
    /// the boundaries (for characters whose case orbit keeps to one side of `\w`, that regex
    /// decides `\b` as Python does).
    #[test]
    fn agrees_with_the_regex_it_replaces() {
        let word_class = r"\p{L}\p{N}_";
        let words = [
            "war", "kiss", "é", "aa", "ab", "-x", "x-", "naïve", "ΣΑΣ", "1st",
        ];
        let pieces = [
            "", " ", "a", "A", "_", "-", "é", "É", "war", "WAR", "K", "\u{212a}", "s", "\u{17f}",
            "ς", "σ", "Σ", "1", "x", "naïve", "NAÏVE", "st", "\u{301}",
        ];
        for word in words {
            let before = if is_word_char(word.chars().next().unwrap()) {
                format!("(?:^|[^{word_class}])")
            } else {
                format!("[{word_class}]")
            };
            let after = if is_word_char(word.chars().last().unwrap()) {
                format!("(?:[^{word_class}]|$)")
            } else {
                format!("[{word_class}]")
            };
            let regex = regex::Regex::new(&format!("(?i){before}{word}{after}")).unwrap();
            let matcher = CaselessWord::new(word).unwrap();
            let anywhere = regex::Regex::new(&format!("(?i){word}")).unwrap();
            for a in pieces {
                for b in pieces {
                    for c in pieces {
                        let text = format!("{a}{b}{word}{c}{a}{word}{b}");
                        let text2 = format!("{a}{b}{c}");
                        for t in [text.as_str(), text2.as_str()] {
                            assert_eq!(
                                matcher.occurs_as_word_in(t),
                                regex.is_match(t),
                                "{word:?} as a word in {t:?}"
                            );
                            assert_eq!(matcher.occurs_in(t), anywhere.is_match(t));
                            assert_eq!(
                                matcher.count_in(t),
                                anywhere.find_iter(t).count(),
                                "{word:?} counted in {t:?}"
                            );
                        }
                    }
                }
            }
        }
    }
}
