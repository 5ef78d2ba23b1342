//! The 25 IFEval instruction ids and their kwargs, parsed into [`Instruction`]s.
//!
//! kwargs use IFEval's own field names. `null` values are ignored (the Hugging Face copy of
//! IFEval carries every field, null where unused); an unknown field, a wrong type or a missing
//! field is an error that names the instruction and the field. Where the reference would draw a
//! missing value at random, we refuse instead: a reward must not be a dice roll. The one
//! deviation that changes a verdict: a `letter` outside a-z (IFEval keys 1122 and 1129) is
//! counted literally, where the reference counts a randomly drawn letter.

use regex::Regex;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::pystr;
use super::regex_cache;

/// IFEval's two comparison relations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Relation {
    #[serde(rename = "less than")]
    LessThan,
    #[serde(rename = "at least")]
    AtLeast,
}

impl Relation {
    pub fn holds(self, count: i64, threshold: i64) -> bool {
        match self {
            Relation::LessThan => count < threshold,
            Relation::AtLeast => count >= threshold,
        }
    }
}

/// One verifiable instruction, ready to check.
#[derive(Debug, Clone)]
pub enum Instruction {
    KeywordsExistence {
        patterns: Vec<Regex>,
    },
    KeywordFrequency {
        pattern: Regex,
        frequency: i64,
        relation: Relation,
    },
    ForbiddenWords {
        patterns: Vec<Regex>,
    },
    LetterFrequency {
        letter: char,
        frequency: i64,
        relation: Relation,
    },
    ResponseLanguage {
        language: String,
    },
    NumberSentences {
        count: i64,
        relation: Relation,
    },
    NumberParagraphs {
        count: i64,
    },
    NumberWords {
        count: i64,
        relation: Relation,
    },
    NthParagraphFirstWord {
        paragraphs: i64,
        nth: i64,
        first_word: String,
    },
    NumberPlaceholders {
        count: i64,
    },
    Postscript {
        pattern: Regex,
    },
    NumberBulletLists {
        count: i64,
    },
    ConstrainedResponse,
    NumberHighlightedSections {
        count: i64,
    },
    MultipleSections {
        splitter: Regex,
        count: i64,
    },
    JsonFormat,
    Title,
    TwoResponses,
    RepeatPrompt {
        prompt: String,
    },
    EndChecker {
        end_phrase: String,
    },
    Quotation,
    CapitalWordFrequency {
        frequency: i64,
        relation: Relation,
    },
    EnglishCapital,
    EnglishLowercase,
    NoComma,
}

/// Every instruction id this grader knows, in IFEval's registry order.
pub const INSTRUCTION_IDS: [&str; 25] = [
    "keywords:existence",
    "keywords:frequency",
    "keywords:forbidden_words",
    "keywords:letter_frequency",
    "language:response_language",
    "length_constraints:number_sentences",
    "length_constraints:number_paragraphs",
    "length_constraints:number_words",
    "length_constraints:nth_paragraph_first_word",
    "detectable_content:number_placeholders",
    "detectable_content:postscript",
    "detectable_format:number_bullet_lists",
    "detectable_format:constrained_response",
    "detectable_format:number_highlighted_sections",
    "detectable_format:multiple_sections",
    "detectable_format:json_format",
    "detectable_format:title",
    "combination:two_responses",
    "combination:repeat_prompt",
    "startend:end_checker",
    "startend:quotation",
    "change_case:capital_word_frequency",
    "change_case:english_capital",
    "change_case:english_lowercase",
    "punctuation:no_comma",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoKwargs {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Keywords {
    keywords: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeywordFrequency {
    keyword: String,
    frequency: i64,
    relation: Relation,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForbiddenWords {
    forbidden_words: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LetterFrequency {
    letter: String,
    let_frequency: i64,
    let_relation: Relation,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Language {
    language: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Sentences {
    num_sentences: i64,
    relation: Relation,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Paragraphs {
    num_paragraphs: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Words {
    num_words: i64,
    relation: Relation,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NthParagraph {
    num_paragraphs: i64,
    nth_paragraph: i64,
    first_word: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Placeholders {
    num_placeholders: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Postscript {
    postscript_marker: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Bullets {
    num_bullets: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Highlights {
    num_highlights: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Sections {
    section_spliter: String,
    num_sections: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RepeatPrompt {
    prompt_to_repeat: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndPhrase {
    end_phrase: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CapitalWords {
    capital_frequency: i64,
    capital_relation: Relation,
}

/// Deserializes kwargs (nulls dropped) into `T`, naming the offending field on error.
fn kwargs<T: DeserializeOwned>(map: &Map<String, Value>) -> Result<T, String> {
    let present: Map<String, Value> = map
        .iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    serde_path_to_error::deserialize(Value::Object(present)).map_err(|error| {
        let path = error.path().to_string();
        if path == "." {
            error.into_inner().to_string()
        } else {
            format!("kwargs.{path}: {}", error.into_inner())
        }
    })
}

/// Python's `\w` for `str` patterns: letters, numbers and `_` (as [`pystr::is_word_char`]).
const PYTHON_WORD: &str = r"\p{L}\p{N}_";

/// IFEval's `\b{word}\b` with Python's word characters on each side. The regex crate's Unicode
/// `\b` also counts combining marks, joiners and connector punctuation as word characters, so
/// for it `war\u{301}`, `war\u{200d}` or `war\u{203f}` did not hold the word `war`, where IFEval's
/// Python finds it (red team: a forbidden word kept behind an invisible mark). A word written
/// as a regular expression keeps `\b` as the regex crate has it.
fn python_word_regex(word: &str) -> Result<Regex, String> {
    let (Some(first), Some(last)) = (word.chars().next(), word.chars().last()) else {
        return keyword_regex(r"\b\b");
    };
    if regex::escape(word) != word {
        return keyword_regex(&format!(r"\b{word}\b"));
    }
    // `\b` before a word character: a non-word character or the start before it; before a
    // non-word character: a word character before it. The same after.
    let before = if pystr::is_word_char(first) {
        format!("(?:^|[^{PYTHON_WORD}])")
    } else {
        format!("[{PYTHON_WORD}]")
    };
    let after = if pystr::is_word_char(last) {
        format!("(?:[^{PYTHON_WORD}]|$)")
    } else {
        format!("[{PYTHON_WORD}]")
    };
    keyword_regex(&format!("{before}{word}{after}"))
}

fn keyword_regex(pattern: &str) -> Result<Regex, String> {
    regex_cache::compile(&format!("(?i){pattern}"))
        .map_err(|_| format!("`{pattern}` is not a regular expression this grader supports"))
}

impl Instruction {
    /// Builds the instruction `id` from its kwargs. `prompt` (the task's prompt) stands in for a
    /// missing `prompt_to_repeat`.
    pub fn parse(
        id: &str,
        map: &Map<String, Value>,
        prompt: Option<&str>,
    ) -> Result<Instruction, String> {
        use Instruction as I;
        Ok(match id {
            "keywords:existence" => {
                let k: Keywords = kwargs(map)?;
                let mut keywords = k.keywords;
                keywords.sort();
                I::KeywordsExistence {
                    patterns: keywords
                        .iter()
                        .map(|k| keyword_regex(k))
                        .collect::<Result<_, _>>()?,
                }
            }
            "keywords:frequency" => {
                let k: KeywordFrequency = kwargs(map)?;
                I::KeywordFrequency {
                    pattern: keyword_regex(pystr::strip(&k.keyword))?,
                    frequency: k.frequency,
                    relation: k.relation,
                }
            }
            "keywords:forbidden_words" => {
                let k: ForbiddenWords = kwargs(map)?;
                let mut words = k.forbidden_words;
                words.sort();
                words.dedup();
                I::ForbiddenWords {
                    patterns: words
                        .iter()
                        .map(|w| python_word_regex(w))
                        .collect::<Result<_, _>>()?,
                }
            }
            "keywords:letter_frequency" => {
                let k: LetterFrequency = kwargs(map)?;
                let lowered = pystr::lower(pystr::strip(&k.letter));
                let mut chars = lowered.chars();
                let (Some(letter), None) = (chars.next(), chars.next()) else {
                    return Err(format!(
                        "kwargs.letter: expected a single character, got {:?}",
                        k.letter
                    ));
                };
                I::LetterFrequency {
                    letter,
                    frequency: k.let_frequency,
                    relation: k.let_relation,
                }
            }
            "language:response_language" => I::ResponseLanguage {
                language: kwargs::<Language>(map)?.language,
            },
            "length_constraints:number_sentences" => {
                let k: Sentences = kwargs(map)?;
                I::NumberSentences {
                    count: k.num_sentences,
                    relation: k.relation,
                }
            }
            "length_constraints:number_paragraphs" => I::NumberParagraphs {
                count: kwargs::<Paragraphs>(map)?.num_paragraphs,
            },
            "length_constraints:number_words" => {
                let k: Words = kwargs(map)?;
                I::NumberWords {
                    count: k.num_words,
                    relation: k.relation,
                }
            }
            "length_constraints:nth_paragraph_first_word" => {
                let k: NthParagraph = kwargs(map)?;
                I::NthParagraphFirstWord {
                    paragraphs: k.num_paragraphs,
                    nth: k.nth_paragraph,
                    first_word: pystr::lower(&k.first_word),
                }
            }
            "detectable_content:number_placeholders" => I::NumberPlaceholders {
                count: kwargs::<Placeholders>(map)?.num_placeholders,
            },
            "detectable_content:postscript" => {
                let marker = kwargs::<Postscript>(map)?.postscript_marker;
                let pattern = match marker.as_str() {
                    "P.P.S" => r"(?m)\s*p\.\s?p\.\s?s.*$".to_string(),
                    "P.S." => r"(?m)\s*p\.\s?s\..*$".to_string(),
                    // The reference puts the marker into the regex unescaped.
                    other => format!(r"(?m)\s*{}.*$", pystr::lower(other)),
                };
                I::Postscript {
                    pattern: regex_cache::compile(&pattern).map_err(|_| {
                        format!("kwargs.postscript_marker: `{marker}` does not make a valid regex")
                    })?,
                }
            }
            "detectable_format:number_bullet_lists" => I::NumberBulletLists {
                count: kwargs::<Bullets>(map)?.num_bullets,
            },
            "detectable_format:constrained_response" => {
                kwargs::<NoKwargs>(map)?;
                I::ConstrainedResponse
            }
            "detectable_format:number_highlighted_sections" => I::NumberHighlightedSections {
                count: kwargs::<Highlights>(map)?.num_highlights,
            },
            "detectable_format:multiple_sections" => {
                let k: Sections = kwargs(map)?;
                let spliter = pystr::strip(&k.section_spliter);
                let pattern = format!(r"\s?{spliter}\s?\d+\s?");
                I::MultipleSections {
                    splitter: regex_cache::compile(&pattern).map_err(|_| {
                        format!("kwargs.section_spliter: `{spliter}` does not make a valid regex")
                    })?,
                    count: k.num_sections,
                }
            }
            "detectable_format:json_format" => no_kwargs(map, I::JsonFormat)?,
            "detectable_format:title" => no_kwargs(map, I::Title)?,
            "combination:two_responses" => no_kwargs(map, I::TwoResponses)?,
            "combination:repeat_prompt" => {
                let k: RepeatPrompt = kwargs(map)?;
                let prompt = k.prompt_to_repeat.or_else(|| prompt.map(str::to_string));
                I::RepeatPrompt {
                    prompt: prompt
                        .ok_or("kwargs.prompt_to_repeat: missing (and the task has no `prompt`)")?,
                }
            }
            "startend:end_checker" => I::EndChecker {
                end_phrase: pystr::lower(pystr::strip(&kwargs::<EndPhrase>(map)?.end_phrase)),
            },
            "startend:quotation" => no_kwargs(map, I::Quotation)?,
            "change_case:capital_word_frequency" => {
                let k: CapitalWords = kwargs(map)?;
                I::CapitalWordFrequency {
                    frequency: k.capital_frequency,
                    relation: k.capital_relation,
                }
            }
            "change_case:english_capital" => no_kwargs(map, I::EnglishCapital)?,
            "change_case:english_lowercase" => no_kwargs(map, I::EnglishLowercase)?,
            "punctuation:no_comma" => no_kwargs(map, I::NoComma)?,
            unknown => return Err(format!("unknown instruction id `{unknown}`")),
        })
    }
}

fn no_kwargs(map: &Map<String, Value>, instruction: Instruction) -> Result<Instruction, String> {
    kwargs::<NoKwargs>(map).map(|_| instruction)
}
