//! The check of each instruction on one text, with the reference's exact semantics
//! (shared/research/format.md §3.2 documents every one). Grouped as IFEval groups its ids:
//! [`keywords`], [`length`] (words, sentences, paragraphs), [`layout`] (detectable content and
//! format, start/end, combination) and [`case`] (change_case, language, punctuation).

mod case;
mod keywords;
mod layout;
mod length;

use super::spec::Instruction;

impl Instruction {
    /// Whether `text` follows this instruction (the reference's `check_following`, without the
    /// strict-mode "non-blank" test, which the caller applies).
    pub fn check(&self, text: &str) -> bool {
        self.check_until(text, &|| false).expect("never stopped")
    }

    /// [`Instruction::check`], asking `stop` inside the checks whose time grows with the number
    /// of sentences; `None` once it says stop.
    pub fn check_until(&self, text: &str, stop: &dyn Fn() -> bool) -> Option<bool> {
        use Instruction as I;
        Some(match self {
            I::KeywordsExistence { keywords } => keywords.iter().all(|k| k.is_in(text)),
            I::KeywordFrequency {
                keyword,
                frequency,
                relation,
            } => relation.holds(keyword.count_in(text) as i64, *frequency),
            I::ForbiddenWords { words } => !words.iter().any(|w| w.is_in(text)),
            I::LetterFrequency {
                letter,
                frequency,
                relation,
            } => relation.holds(keywords::letter_count(text, *letter), *frequency),
            I::ResponseLanguage { language } => super::language::is_language(text, language),
            I::NumberSentences { count, relation } => {
                relation.holds(length::sentence_count(text), *count)
            }
            I::NumberParagraphs { count } => length::star_paragraphs(text) == Some(*count),
            I::NumberWords { count, relation } => relation.holds(length::word_count(text), *count),
            I::NthParagraphFirstWord {
                paragraphs,
                nth,
                first_word,
            } => length::nth_paragraph_first_word(text, *paragraphs, *nth, first_word),
            I::NumberPlaceholders { count } => layout::placeholders(text) >= *count,
            I::Postscript { pattern } => pattern.is_match(&super::pystr::lower(text)),
            I::NumberBulletLists { count } => layout::bullet_lists(text) == *count,
            I::ConstrainedResponse => layout::constrained_response(text),
            I::NumberHighlightedSections { count } => layout::highlighted_sections(text) >= *count,
            I::MultipleSections { splitter, count } => {
                splitter.find_iter(text).count() as i64 >= *count
            }
            I::JsonFormat => layout::json_format(text),
            I::Title => layout::title(text),
            I::TwoResponses => layout::two_responses(text),
            I::RepeatPrompt { prompt } => layout::repeats_prompt(text, prompt),
            I::EndChecker { end_phrase } => layout::ends_with(text, end_phrase),
            I::Quotation => layout::quotation(text),
            I::CapitalWordFrequency {
                frequency,
                relation,
            } => relation.holds(case::capital_words_until(text, stop)?, *frequency),
            I::EnglishCapital => case::english_capital(text),
            I::EnglishLowercase => case::english_lowercase(text),
            I::NoComma => !text.contains(','),
        })
    }
}
