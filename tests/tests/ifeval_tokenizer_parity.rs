//! Sentence and capital-word counts of every IFEval response and its loose variants compared
//! with NLTK's, when a file of NLTK's counts is given in `IFEVAL_NLTK_COUNTS` (one JSON object
//! `{"sentences", "capitals"}` per variant, in `evaluate::loose_variants` reference order).
//! Without it the test says so and passes: NLTK is a development-time oracle, not a dependency.

use graders::instructions::{evaluate, punkt, pystr, treebank};
use serde_json::Value;

use tests::{IFEVAL_EDGE_CASES as EDGE_CASES, IFEVAL_VERDICTS as VERDICTS};

#[test]
fn punkt_and_treebank_counts_match_nltk() {
    let Ok(path) = std::env::var("IFEVAL_NLTK_COUNTS") else {
        println!("IFEVAL_NLTK_COUNTS not set: skipping the NLTK parity check");
        return;
    };
    let expected: Vec<Value> = std::fs::read_to_string(path)
        .expect("readable counts file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let mut texts = Vec::new();
    for line in VERDICTS.lines().chain(EDGE_CASES.lines()) {
        let row: Value = serde_json::from_str(line).unwrap();
        let v = evaluate::loose_variants(row["response"].as_str().unwrap());
        for i in [0, 1, 5, 6, 7, 2, 3, 4] {
            texts.push(v[i].clone());
        }
    }
    assert_eq!(texts.len(), expected.len());
    let (mut sentence_ok, mut capital_ok) = (0, 0);
    for (text, want) in texts.iter().zip(&expected) {
        let sentences = punkt::sentences(text).len() as i64;
        let capitals = treebank::word_tokenize(text)
            .iter()
            .filter(|w| pystr::is_upper(w))
            .count() as i64;
        if Some(sentences) == want["sentences"].as_i64() {
            sentence_ok += 1;
        } else {
            println!(
                "sentences: ours {sentences}, nltk {}: {text:?}",
                want["sentences"]
            );
        }
        if Some(capitals) == want["capitals"].as_i64() {
            capital_ok += 1;
        } else {
            println!(
                "capitals: ours {capitals}, nltk {}: {text:?}",
                want["capitals"]
            );
        }
    }
    println!(
        "sentences {sentence_ok}/{n}, capitals {capital_ok}/{n}",
        n = texts.len()
    );
    assert_eq!(sentence_ok, texts.len());
    assert_eq!(capital_ok, texts.len());
}
