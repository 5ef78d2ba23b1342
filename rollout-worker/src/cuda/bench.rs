//! `rollout-worker bench --device cuda`: the CPU bench's three works (greedy generation at batch
//! 1 and 8 after a 32-token prompt, a training step on 8 x 256 tokens) on GPU 0, in tokens/s.
//! The GPU's limits are not measured here, so there is no ratio to them.

use std::time::Instant;

use serde::Serialize;

use super::decode::{GpuDecoder, SlotRow};
use super::optim::GpuAdamW;
use super::{train, Gpu, GpuWeights};
use crate::model::{ModelWeights, ScoredSequence};
use crate::optim::AdamWConfig;
use crate::rng::Rng;

#[derive(Serialize)]
struct Line<'a> {
    work: &'a str,
    path: &'static str,
    device: &'a str,
    tokens_per_s: f64,
    seconds: f64,
    tokens: usize,
}

fn argmax(l: &[f32]) -> u32 {
    l.iter()
        .enumerate()
        .fold(0, |b, (i, &z)| if z > l[b] { i } else { b }) as u32
}

fn generation(gpu: &Gpu, w: &GpuWeights, batch: usize, steps: usize) -> anyhow::Result<f64> {
    let c = &w.config;
    let mut rng = Rng::new(3);
    let mut dec = GpuDecoder::new(gpu, w, batch + 1, 32 + steps + 1)?;
    let prompt: Vec<SlotRow> = (0..32)
        .map(|_| SlotRow {
            slot: 0,
            token: rng.below(c.vocab_size) as u32,
            want_logits: false,
        })
        .collect();
    dec.step(&prompt)?;
    for b in 0..batch {
        dec.copy_slot(0, b + 1)?;
    }
    let mut last: Vec<u32> = (0..batch).map(|_| rng.below(c.vocab_size) as u32).collect();
    gpu.sync()?;
    let started = Instant::now();
    for _ in 0..steps {
        let rows: Vec<SlotRow> = last
            .iter()
            .enumerate()
            .map(|(i, &t)| SlotRow {
                slot: i + 1,
                token: t,
                want_logits: true,
            })
            .collect();
        let logits = dec.step(&rows)?;
        for (t, l) in last.iter_mut().zip(&logits) {
            *t = argmax(l);
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

fn training(gpu: &Gpu, w: &mut GpuWeights) -> anyhow::Result<f64> {
    let c = w.config.clone();
    let mut rng = Rng::new(5);
    let batch: Vec<ScoredSequence> = (0..8)
        .map(|_| ScoredSequence {
            tokens: (0..256).map(|_| rng.below(c.vocab_size) as u32).collect(),
            first_scored: 64,
        })
        .collect();
    let mut grads = GpuWeights::zeros(gpu, &c)?;
    let mut optimizer = GpuAdamW::new(gpu, AdamWConfig::default(), w)?;
    let mut seconds = 0.0;
    // The second step is timed, as on the CPU (the first pays for allocations).
    for _ in 0..2 {
        gpu.sync()?;
        let started = Instant::now();
        grads.fill_zero(gpu)?;
        let (logps, acts) = train::forward(gpu, w, &batch, 1.0)?;
        let total: usize = logps.iter().map(Vec::len).sum();
        let d_logps: Vec<Vec<f32>> = logps
            .iter()
            .map(|s| s.iter().map(|_| -1.0 / total as f32).collect())
            .collect();
        train::backward(gpu, w, acts, &d_logps, &mut grads)?;
        optimizer.step(gpu, w, &mut grads)?;
        gpu.sync()?;
        seconds = started.elapsed().as_secs_f64();
    }
    Ok(seconds)
}

/// Runs the works `wanted` accepts on `weights` and prints one line (or JSON object) each.
pub fn run(
    weights: &ModelWeights<f32>,
    tokens: usize,
    json: bool,
    wanted: &dyn Fn(&str) -> bool,
) -> anyhow::Result<()> {
    let gpu = Gpu::open(0)?;
    let mut w = GpuWeights::upload(&gpu, weights)?;
    if !json {
        println!(
            "device: {}; model: {} parameters",
            gpu.description,
            weights.config.parameter_count()
        );
    }
    let report = |work: &str, tokens: usize, seconds: f64| -> anyhow::Result<()> {
        let line = Line {
            work,
            path: "cuda",
            device: &gpu.description,
            tokens_per_s: tokens as f64 / seconds,
            seconds,
            tokens,
        };
        if json {
            println!("{}", serde_json::to_string(&line)?);
        } else {
            println!(
                "{work:<12} {:>9.1} tokens/s  [{seconds:.3}s for {tokens} tokens]",
                line.tokens_per_s
            );
        }
        Ok(())
    };
    for (work, batch) in [("generate_b1", 1usize), ("generate_b8", 8)] {
        if wanted(work) {
            let seconds = generation(&gpu, &w, batch, tokens)?;
            report(work, batch * tokens, seconds)?;
        }
    }
    if wanted("train_8x256") {
        let seconds = training(&gpu, &mut w)?;
        report("train_8x256", 8 * 256, seconds)?;
    }
    Ok(())
}
