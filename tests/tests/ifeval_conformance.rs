//! IFEval conformance: our `instructions` grader against the reference verdicts in
//! shared/conformance/ifeval/ (see its README).
//!
//! * ifeval_verdicts.jsonl: 541 GPT-4 responses, 834 instructions. Per-instruction agreement in
//!   strict and in loose mode must be at least 99.5%, leaving out the two instructions flagged
//!   `nondeterministic` (a random letter in the reference). Prompt- and instruction-level
//!   accuracy are printed next to the paper's figures.
//! * ifeval_edge_cases.jsonl: 149 hand-written probes; at least 97% agreement (strict and loose
//!   together), each disagreement printed. Rows the data marks as langdetect-unstable are
//!   reported but not counted, as the README asks.
//!
//! Run with `cargo test -p tests --test ifeval_conformance -- --nocapture` to see the tables.

use std::collections::BTreeMap;

use graders::contract::{InstructionsMode, InstructionsTask, Scoring};
use graders::instructions::{evaluate, parse_instructions};
use serde_json::{Map, Value};

use tests::{IFEVAL_EDGE_CASES as EDGE_CASES, IFEVAL_VERDICTS as VERDICTS};

fn task(
    ids: Vec<String>,
    kwargs: Vec<Map<String, Value>>,
    prompt: Option<String>,
) -> InstructionsTask {
    InstructionsTask {
        instruction_id_list: ids,
        kwargs,
        mode: InstructionsMode::Strict,
        scoring: Scoring::All,
        prompt,
    }
}

fn bools(value: &Value) -> Vec<bool> {
    value
        .as_array()
        .expect("verdict list")
        .iter()
        .map(|b| b.as_bool().expect("bool"))
        .collect()
}

#[derive(Default)]
struct Tally {
    agree: usize,
    total: usize,
}

impl Tally {
    fn add(&mut self, agree: bool) {
        self.agree += usize::from(agree);
        self.total += 1;
    }

    fn percent(&self) -> f64 {
        100.0 * self.agree as f64 / self.total.max(1) as f64
    }
}

#[test]
fn ifeval_verdicts_agree_with_the_reference() {
    let mut per_id: BTreeMap<String, (Tally, Tally)> = BTreeMap::new();
    let (mut strict_all, mut loose_all) = (Tally::default(), Tally::default());
    // Accuracy of our verdicts: prompt-level and instruction-level, strict and loose.
    let (mut prompts, mut prompt_strict, mut prompt_loose) = (0usize, 0usize, 0usize);
    let (mut instructions, mut instr_strict, mut instr_loose) = (0usize, 0usize, 0usize);
    let mut disagreements = Vec::new();

    for line in VERDICTS.lines().filter(|l| !l.trim().is_empty()) {
        let row: Value = serde_json::from_str(line).expect("valid JSON line");
        let ids: Vec<String> = serde_json::from_value(row["instruction_id_list"].clone()).unwrap();
        let kwargs: Vec<Map<String, Value>> =
            serde_json::from_value(row["kwargs"].clone()).unwrap();
        let response = row["response"].as_str().unwrap();
        let key = &row["key"];
        let nondeterministic = row.get("nondeterministic").is_some();
        let (want_strict, want_loose) = (bools(&row["strict"]), bools(&row["loose"]));

        let parsed = parse_instructions(&task(
            ids.clone(),
            kwargs,
            row["prompt"].as_str().map(String::from),
        ))
        .unwrap_or_else(|e| panic!("key {key}: {e}"));
        let (strict, loose) = evaluate::both(response, &parsed);

        prompts += 1;
        prompt_strict += usize::from(strict.iter().all(|&f| f));
        prompt_loose += usize::from(loose.iter().all(|&f| f));
        instructions += ids.len();
        instr_strict += strict.iter().filter(|&&f| f).count();
        instr_loose += loose.iter().filter(|&&f| f).count();

        for (i, id) in ids.iter().enumerate() {
            let random_letter = nondeterministic && id == "keywords:letter_frequency";
            if random_letter {
                continue;
            }
            let entry = per_id.entry(id.clone()).or_default();
            entry.0.add(strict[i] == want_strict[i]);
            entry.1.add(loose[i] == want_loose[i]);
            strict_all.add(strict[i] == want_strict[i]);
            loose_all.add(loose[i] == want_loose[i]);
            if strict[i] != want_strict[i] || loose[i] != want_loose[i] {
                disagreements.push(format!(
                    "key {key} {id}: ours strict={} loose={}, reference strict={} loose={}",
                    strict[i], loose[i], want_strict[i], want_loose[i]
                ));
            }
        }
    }

    println!("\nIFEval per-instruction agreement with the reference (ours vs reference verdicts)");
    println!(
        "{:<48} {:>5} {:>9} {:>9}",
        "instruction id", "n", "strict %", "loose %"
    );
    for (id, (strict, loose)) in &per_id {
        println!(
            "{:<48} {:>5} {:>9.2} {:>9.2}",
            id,
            strict.total,
            strict.percent(),
            loose.percent()
        );
    }
    println!(
        "{:<48} {:>5} {:>9.2} {:>9.2}   ({}/{} strict, {}/{} loose; 2 random-letter checks left out)",
        "all",
        strict_all.total,
        strict_all.percent(),
        loose_all.percent(),
        strict_all.agree,
        strict_all.total,
        loose_all.agree,
        loose_all.total
    );
    let pct = |n: usize, d: usize| 100.0 * n as f64 / d as f64;
    println!("\nGPT-4 accuracy, ours (literal letters for keys 1122/1129) vs the paper:");
    println!(
        "  strict: prompt-level {:.2} ({prompt_strict}/{prompts}), instruction-level {:.2} ({instr_strict}/{instructions}); paper 76.89 / 83.57",
        pct(prompt_strict, prompts),
        pct(instr_strict, instructions)
    );
    println!(
        "  loose:  prompt-level {:.2} ({prompt_loose}/{prompts}), instruction-level {:.2} ({instr_loose}/{instructions}); paper 79.30 / 85.37",
        pct(prompt_loose, prompts),
        pct(instr_loose, instructions)
    );
    for line in &disagreements {
        println!("  disagreement: {line}");
    }

    for (mode, tally) in [("strict", &strict_all), ("loose", &loose_all)] {
        assert!(
            tally.percent() >= 99.5,
            "{mode} per-instruction agreement {:.2}% is below 99.5%",
            tally.percent()
        );
    }
}

#[test]
fn ifeval_edge_cases_agree_with_the_reference() {
    let mut counted = Tally::default();
    let mut unstable = Tally::default();
    let mut report = Vec::new();
    for line in EDGE_CASES.lines().filter(|l| !l.trim().is_empty()) {
        let row: Value = serde_json::from_str(line).expect("valid JSON line");
        let id = row["instruction_id"].as_str().unwrap().to_string();
        let kwargs: Map<String, Value> = serde_json::from_value(row["kwargs"].clone()).unwrap();
        let response = row["response"].as_str().unwrap();
        let stable = row["langdetect_stable"].as_bool() != Some(false);
        let prompt = row["prompt"].as_str().map(String::from);
        let (strict, loose) =
            match parse_instructions(&task(vec![id.clone()], vec![kwargs], prompt)) {
                Ok(parsed) => {
                    let (s, l) = evaluate::both(response, &parsed);
                    (Some(s[0]), Some(l[0]))
                }
                Err(why) => {
                    report.push(format!("{}: not gradable: {why}", row["id"]));
                    (None, None)
                }
            };
        for (mode, ours, want) in [
            ("strict", strict, &row["strict"]),
            ("loose", loose, &row["loose"]),
        ] {
            let want = want.as_bool();
            let agree = ours.is_some() && ours == want;
            if stable {
                counted.add(agree);
            } else {
                unstable.add(agree);
            }
            if !agree {
                report.push(format!(
                    "{} [{mode}]{}: ours {ours:?}, reference {want:?}; probes: {}; response {:?}",
                    row["id"],
                    if stable {
                        ""
                    } else {
                        " (langdetect-unstable, not counted)"
                    },
                    row["probes"].as_str().unwrap_or(""),
                    response
                ));
            }
        }
    }
    println!(
        "\nIFEval edge cases: {}/{} verdicts agree ({:.2}%); langdetect-unstable rows: {}/{} agree (not counted)",
        counted.agree,
        counted.total,
        counted.percent(),
        unstable.agree,
        unstable.total
    );
    for line in &report {
        println!("  {line}");
    }
    assert!(
        counted.percent() >= 97.0,
        "edge-case agreement {:.2}% is below 97%",
        counted.percent()
    );
}
