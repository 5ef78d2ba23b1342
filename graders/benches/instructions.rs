//! `cargo bench -p graders --bench instructions`: IFEval checks on the 541 GPT-4 responses of
//! shared/conformance/ifeval/ifeval_verdicts.jsonl, strict, loose and both, on one thread,
//! printed next to the reference's figures (google-research / lm-eval checks, one core, measured
//! on this machine: 1,251 responses/s strict, 725 loose, 477 both; research/format.md §2.3).
//!
//! Every pass grades every response from its task (kwargs parsed each time, as the service
//! does); the best of several passes is reported, as for the reference.

use std::hint::black_box;
use std::time::{Duration, Instant};

use graders::contract::{InstructionsMode, InstructionsTask, Scoring};
use graders::instructions::{evaluate, grade_instructions, parse_instructions};
use serde_json::Value;

const VERDICTS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/conformance/ifeval/ifeval_verdicts.jsonl"
));

/// (task, response) for each of the 541 rows.
fn load() -> Vec<(InstructionsTask, String)> {
    VERDICTS
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let row: Value = serde_json::from_str(line).expect("valid JSON line");
            let task = InstructionsTask {
                instruction_id_list: serde_json::from_value(row["instruction_id_list"].clone())
                    .expect("ids"),
                kwargs: serde_json::from_value(row["kwargs"].clone()).expect("kwargs"),
                mode: InstructionsMode::Strict,
                scoring: Scoring::All,
                prompt: row["prompt"].as_str().map(String::from),
            };
            (
                task,
                row["response"].as_str().expect("response").to_string(),
            )
        })
        .collect()
}

/// Best responses/s over `passes` passes of `grade_all`.
fn best_rate(rows: usize, passes: usize, mut grade_all: impl FnMut()) -> f64 {
    grade_all(); // warm-up: lazily built tables (Punkt parameters, langdetect profiles)
    let mut best = Duration::MAX;
    for _ in 0..passes {
        let started = Instant::now();
        grade_all();
        best = best.min(started.elapsed());
    }
    rows as f64 / best.as_secs_f64()
}

fn main() {
    let rows = load();
    let strict_rows = rows.clone();
    let loose_rows: Vec<(InstructionsTask, String)> = rows
        .iter()
        .map(|(task, response)| {
            let mut task = task.clone();
            task.mode = InstructionsMode::Loose;
            (task, response.clone())
        })
        .collect();
    let passes = 15;

    let strict = best_rate(rows.len(), passes, || {
        for (task, response) in &strict_rows {
            black_box(grade_instructions(response, task));
        }
    });
    let loose = best_rate(rows.len(), passes, || {
        for (task, response) in &loose_rows {
            black_box(grade_instructions(response, task));
        }
    });
    let both = best_rate(rows.len(), passes, || {
        for (task, response) in &rows {
            let instructions = parse_instructions(task).expect("IFEval tasks parse");
            black_box(evaluate::both(response, &instructions));
        }
    });

    println!(
        "IFEval checks, {} GPT-4 responses, one thread, best of {passes} passes",
        rows.len()
    );
    println!(
        "{:<8} {:>14} {:>18} {:>9}",
        "mode", "ours resp/s", "reference resp/s", "speed-up"
    );
    for (mode, ours, reference) in [
        ("strict", strict, 1251.0),
        ("loose", loose, 725.0),
        ("both", both, 477.0),
    ] {
        println!(
            "{mode:<8} {ours:>14.0} {reference:>18.0} {:>8.1}x",
            ours / reference
        );
    }
    println!("target: 50x the reference");
    cost_per_instruction(&rows);
}

/// Strict-check cost of each instruction id (µs per call), to show where the time goes.
fn cost_per_instruction(rows: &[(InstructionsTask, String)]) {
    let mut cost: std::collections::BTreeMap<String, (Duration, usize)> = Default::default();
    for (task, response) in rows {
        let instructions = parse_instructions(task).expect("IFEval tasks parse");
        for (id, instruction) in task.instruction_id_list.iter().zip(&instructions) {
            let started = Instant::now();
            for _ in 0..5 {
                black_box(instruction.check(black_box(response)));
            }
            let entry = cost.entry(id.clone()).or_default();
            entry.0 += started.elapsed() / 5;
            entry.1 += 1;
        }
    }
    println!("\nstrict check cost per instruction id (µs per call, mean)");
    for (id, (total, calls)) in cost {
        println!(
            "  {id:<48} {:>8.1}",
            total.as_secs_f64() * 1e6 / calls as f64
        );
    }
}
