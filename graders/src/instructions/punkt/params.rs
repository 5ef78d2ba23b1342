//! The learned Punkt parameters (abbreviations, collocations, sentence starters, orthographic
//! context), read once from the `punkt_tab` files embedded in the binary.
//!
//! The tables borrow their words from the files and hash them with foldhash: they are fixed
//! (a text only looks words up), and building them with a `String` and SipHash per word was
//! 25M instructions, looking up words a third of that per 10k IFEval responses.

use std::sync::OnceLock;

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

/// Orthographic-context flags, as Punkt records them per word type.
pub const ORTHO_BEG_UC: u32 = 1 << 1;
pub const ORTHO_MID_UC: u32 = 1 << 2;
pub const ORTHO_UNK_UC: u32 = 1 << 3;
pub const ORTHO_BEG_LC: u32 = 1 << 4;
pub const ORTHO_MID_LC: u32 = 1 << 5;
pub const ORTHO_UNK_LC: u32 = 1 << 6;
pub const ORTHO_UC: u32 = ORTHO_BEG_UC | ORTHO_MID_UC | ORTHO_UNK_UC;
pub const ORTHO_LC: u32 = ORTHO_BEG_LC | ORTHO_MID_LC | ORTHO_UNK_LC;

pub struct PunktParameters<'a> {
    pub abbrev_types: HashSet<&'a str>,
    /// Pairs of types, the second ones by the first (looked up without building a pair).
    pub collocations: HashMap<&'a str, HashSet<&'a str>>,
    pub sent_starters: HashSet<&'a str>,
    pub ortho_context: HashMap<&'a str, u32>,
}

impl<'a> PunktParameters<'a> {
    /// NLTK's English model (`punkt_tab/english`), parsed on first use.
    pub fn english() -> &'static PunktParameters<'static> {
        static ENGLISH: OnceLock<PunktParameters<'static>> = OnceLock::new();
        ENGLISH.get_or_init(|| {
            PunktParameters::from_tab_files(
                include_str!("english/abbrev_types.txt"),
                include_str!("english/collocations.tab"),
                include_str!("english/sent_starters.txt"),
                include_str!("english/ortho_context.tab"),
            )
        })
    }

    /// Parses punkt_tab files. Lines lose only their newline: NLTK keeps other whitespace, and
    /// the English model has an abbreviation type `". . "` with a trailing space.
    pub fn from_tab_files(
        abbrev_types: &'a str,
        collocations: &'a str,
        sent_starters: &'a str,
        ortho_context: &'a str,
    ) -> PunktParameters<'a> {
        PunktParameters {
            abbrev_types: lines(abbrev_types).collect(),
            collocations: lines(collocations)
                .filter_map(|line| line.split_once('\t'))
                .fold(HashMap::new(), |mut pairs, (a, b)| {
                    pairs.entry(a).or_insert_with(HashSet::new).insert(b);
                    pairs
                }),
            sent_starters: lines(sent_starters).collect(),
            ortho_context: lines(ortho_context)
                .filter_map(|line| line.split_once('\t'))
                .filter_map(|(word, flags)| Some((word, flags.trim().parse().ok()?)))
                .collect(),
        }
    }

    pub fn is_collocation(&self, first: &str, second: &str) -> bool {
        self.collocations
            .get(first)
            .is_some_and(|seconds| seconds.contains(second))
    }

    pub fn ortho(&self, typ: &str) -> u32 {
        self.ortho_context.get(typ).copied().unwrap_or(0)
    }
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').filter(|line| !line.is_empty())
}
