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

/// CPU time this thread has used, from Linux's `/proc/thread-self/schedstat` (first field, ns).
/// The machine is shared, so wall time over-states the cost; CPU time does not.
fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// Best responses/s over `passes` passes of `grade_all`: (per wall second, per CPU second).
fn best_rate(rows: usize, passes: usize, mut grade_all: impl FnMut()) -> (f64, Option<f64>) {
    grade_all(); // warm-up: lazily built tables (Punkt parameters, langdetect profiles)
    let mut best_wall = Duration::MAX;
    let mut best_cpu: Option<Duration> = None;
    for _ in 0..passes {
        let (wall, cpu) = (Instant::now(), thread_cpu_time());
        grade_all();
        best_wall = best_wall.min(wall.elapsed());
        if let (Some(before), Some(after)) = (cpu, thread_cpu_time()) {
            let used = after.saturating_sub(before);
            best_cpu = Some(best_cpu.map_or(used, |best| best.min(used)));
        }
    }
    let rate = |d: Duration| rows as f64 / d.as_secs_f64().max(1e-9);
    (rate(best_wall), best_cpu.map(rate))
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
        "{:<8} {:>12} {:>15} {:>17} {:>15}",
        "mode", "ours resp/s", "ours resp/CPU-s", "reference resp/s", "speed-up (CPU)"
    );
    for (mode, (wall, cpu), reference) in [
        ("strict", strict, 1251.0),
        ("loose", loose, 725.0),
        ("both", both, 477.0),
    ] {
        let cpu_text = cpu.map_or("n/a".to_string(), |c| format!("{c:.0}"));
        let speedup = cpu.unwrap_or(wall) / reference;
        println!("{mode:<8} {wall:>12.0} {cpu_text:>15} {reference:>17.0} {speedup:>14.1}x");
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
