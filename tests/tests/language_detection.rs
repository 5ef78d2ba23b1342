//! IFEval's language checks: `graders::instructions::language::detect` walks langdetect's first
//! trials and stops when the rest cannot change the answer. Here it must answer as the whole
//! walk does on every text we have: the IFEval responses whole, cut short, paragraph by
//! paragraph, and spliced two by two (half of one, half of another), where languages mix and
//! the answer stays open after the first trials.

use graders::instructions::language::{detect, SEED};
use langdetect::{DetectorFactory, Seed};
use serde_json::Value;

use tests::{IFEVAL_EDGE_CASES, IFEVAL_VERDICTS};

/// `Detector.append(text); Detector.detect()` with every trial, as IFEval's reference runs it.
fn whole_walk(text: &str) -> Option<String> {
    let mut detector = DetectorFactory::builtin().create().ok()?;
    detector.seed = Seed::int(SEED);
    detector.append(text);
    detector.detect().ok()
}

fn prefix(text: &str, chars: usize) -> &str {
    text.char_indices()
        .nth(chars)
        .map_or(text, |(at, _)| &text[..at])
}

fn suffix(text: &str, chars: usize) -> &str {
    let count = text.chars().count();
    let skip = count.saturating_sub(chars);
    text.char_indices()
        .nth(skip)
        .map_or("", |(at, _)| &text[at..])
}

#[test]
fn language_detection_answers_as_the_whole_walk() {
    let responses: Vec<String> = IFEVAL_VERDICTS
        .lines()
        .chain(IFEVAL_EDGE_CASES.lines())
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let row: Value = serde_json::from_str(line).expect("a JSON line");
            row["response"].as_str().expect("a response").to_string()
        })
        .collect();
    let mut texts: Vec<String> = Vec::new();
    for response in &responses {
        texts.push(response.clone());
        for chars in [12, 40, 150] {
            texts.push(prefix(response, chars).to_string());
        }
        texts.extend(
            response
                .split("\n\n")
                .filter(|p| !p.trim().is_empty())
                .take(4)
                .map(str::to_string),
        );
    }
    // Splices: the answers that stay open after the first trials are mostly here.
    for (i, a) in responses.iter().enumerate() {
        let b = &responses[(i * 7 + 3) % responses.len()];
        for chars in [20, 60, 200] {
            texts.push(format!("{} {}", suffix(a, chars), prefix(b, chars)));
        }
    }
    let mut open_after_first_trials = 0;
    for text in &texts {
        let want = whole_walk(text);
        assert_eq!(detect(text), want, "{text:?}");
        let two = format!("{text} {text}");
        assert_eq!(detect(&two), whole_walk(&two), "{two:?}");
        if want.is_some() && langdetect_is_split(text) {
            open_after_first_trials += 1;
        }
    }
    println!(
        "{} texts, {} of them with a second language above 0.1 in the whole walk",
        texts.len(),
        open_after_first_trials
    );
    // Without texts between two languages the test would not reach the whole-walk path.
    assert!(open_after_first_trials > 100, "{open_after_first_trials}");
}

/// Whether the whole walk ranks two languages above 0.1 (an answer the first trials may leave
/// open).
fn langdetect_is_split(text: &str) -> bool {
    let mut detector = DetectorFactory::builtin().create().expect("a detector");
    detector.seed = Seed::int(SEED);
    detector.append(text);
    detector
        .get_probabilities()
        .is_ok_and(|ranked| ranked.len() > 1)
}
