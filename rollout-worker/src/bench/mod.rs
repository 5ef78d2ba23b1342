//! `rollout-worker bench`: tokens/s of the three works that make up a GRPO step on SmolLM2-135M's
//! shape (generation at batch 1 and 8, a training step on 8 sequences of 256 tokens), each next
//! to the limit this machine allows, from the peak FLOP/s and memory bandwidth the bench measures
//! in the same run ([`limits`]). Random weights unless `--model` names real ones: the figures
//! depend on the shape, not the values.

pub mod limits;

use std::time::Instant;

use clap::Args;
use serde::Serialize;

use crate::fast::{self, FastDecoder, Precision};
use crate::load::load_model;
use crate::model::decode::{DecodeStep, Decoder, KvCache, Row};
use crate::model::{backward, forward, ModelConfig, ModelWeights, ScoredSequence};
use crate::optim::{AdamW, AdamWConfig};
use crate::rng::Rng;

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Measure the plain reference instead of the fast path.
    #[arg(long)]
    pub reference: bool,
    /// Decoding weights on the fast path.
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    pub precision: Precision,
    /// New tokens per generation measurement.
    #[arg(long, default_value_t = 32)]
    pub tokens: usize,
    /// Real weights (`smollm2`, a .gguf file or a checkpoint directory); default: random weights
    /// in SmolLM2-135M's shape.
    #[arg(long)]
    pub model: Option<String>,
    /// Only these works (repeatable): generate_b1, generate_b8, train_8x256.
    #[arg(long = "work")]
    pub works: Vec<String>,
    /// `cpu`, or `cuda` (GPU 0, tokens/s only: the GPU's limits are not measured).
    #[arg(long, value_enum, default_value_t = crate::cuda::Device::Cpu)]
    pub device: crate::cuda::Device,
}

/// SmolLM2-135M(-Instruct)'s `config.json`.
pub fn smollm2_config() -> ModelConfig {
    ModelConfig {
        vocab_size: 49152,
        hidden_size: 576,
        intermediate_size: 1536,
        num_hidden_layers: 30,
        num_attention_heads: 9,
        num_key_value_heads: 3,
        head_dim: None,
        rope_theta: 100_000.0,
        rms_norm_eps: 1e-5,
        tie_word_embeddings: true,
        max_position_embeddings: 8192,
    }
}

#[derive(Serialize)]
struct Line {
    work: String,
    path: &'static str,
    precision: Option<Precision>,
    tokens_per_s: f64,
    /// What this machine allows for the work, from the limits below.
    limit_tokens_per_s: f64,
    ratio_to_limit: f64,
    /// `bandwidth` or `compute`: which limit binds.
    bound: &'static str,
    peak_gflop_s: f64,
    bandwidth_gb_s: f64,
    threads: usize,
    seconds: f64,
    /// Process CPU time during the work (system time shows threads spinning or yielding).
    cpu_user_s: f64,
    cpu_sys_s: f64,
    /// Tokens per CPU-second (user + system): on a shared machine, `threads` times this is what
    /// the work would reach with the cores to itself, if it scaled perfectly.
    tokens_per_cpu_s: f64,
}

/// User and system CPU seconds of this process so far (Linux; zeros elsewhere).
fn cpu_times() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = 100.0; // USER_HZ on Linux
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / tick
    };
    (get(11), get(12))
}

/// Multiply-adds per token through the weight matrices (the output projection included).
fn matrix_params(c: &ModelConfig) -> f64 {
    let (d, f) = (c.hidden_size, c.intermediate_size);
    let layer = d * (c.q_dim() + 2 * c.kv_dim()) + c.q_dim() * d + 3 * d * f;
    (c.num_hidden_layers * layer + c.vocab_size * d) as f64
}

struct Measured {
    seconds: f64,
    tokens: usize,
    cpu: (f64, f64),
}

fn timed(tokens: usize, f: impl FnOnce()) -> Measured {
    let (u0, s0) = cpu_times();
    let started = Instant::now();
    f();
    let seconds = started.elapsed().as_secs_f64();
    let (u1, s1) = cpu_times();
    Measured {
        seconds,
        tokens,
        cpu: (u1 - u0, s1 - s0),
    }
}

/// Greedy decoding of `steps` tokens for `batch` sequences after a 32-token prompt; only the
/// decoding steps are timed.
fn generation(
    decoder: &dyn DecodeStep<f32>,
    c: &ModelConfig,
    batch: usize,
    steps: usize,
) -> Measured {
    let mut rng = Rng::new(3);
    let layers = c.num_hidden_layers;
    let prompt: Vec<u32> = (0..32).map(|_| rng.below(c.vocab_size) as u32).collect();
    let mut prefill = vec![KvCache::new(layers)];
    let rows: Vec<Row> = prompt
        .iter()
        .map(|&t| Row {
            cache: 0,
            token: t,
            want_logits: false,
        })
        .collect();
    decoder.step(&mut prefill, &rows);
    let mut caches = vec![prefill[0].clone(); batch];
    let mut last: Vec<u32> = (0..batch).map(|_| rng.below(c.vocab_size) as u32).collect();
    timed(steps * batch, || {
        for _ in 0..steps {
            let rows: Vec<Row> = last
                .iter()
                .enumerate()
                .map(|(i, &t)| Row {
                    cache: i,
                    token: t,
                    want_logits: true,
                })
                .collect();
            let logits = decoder.step(&mut caches, &rows);
            for (t, l) in last.iter_mut().zip(&logits) {
                let best = l
                    .iter()
                    .enumerate()
                    .fold(0, |b, (i, &z)| if z > l[b] { i } else { b });
                *t = best as u32;
            }
        }
    })
}

/// A training step on 8 sequences of 256 tokens (64 prompt, 192 scored): forward, a
/// GRPO-shaped upstream gradient, backward, AdamW. The second of two steps is timed: a run takes
/// many, and from the second on the allocator hands back the first step's memory instead of
/// fresh pages (whose faults and zeroing are a sixth of a first step).
fn training(weights: &mut ModelWeights<f32>, reference: bool) -> Measured {
    let c = weights.config.clone();
    let mut rng = Rng::new(5);
    let batch: Vec<ScoredSequence> = (0..8)
        .map(|_| ScoredSequence {
            tokens: (0..256).map(|_| rng.below(c.vocab_size) as u32).collect(),
            first_scored: 64,
        })
        .collect();
    let mut grads = ModelWeights::<f32>::zeros(&c);
    let mut optimizer = AdamW::new(AdamWConfig::default(), weights);
    let mut step = || {
        grads.fill_zero();
        let (logps, acts) = if reference {
            forward(weights, &batch, 1.0)
        } else {
            fast::train::forward(weights, &batch, 1.0)
        };
        let total: usize = logps.iter().map(Vec::len).sum();
        let d_logps: Vec<Vec<f32>> = logps
            .iter()
            .map(|s| s.iter().map(|_| -1.0 / total as f32).collect())
            .collect();
        if reference {
            backward::backward(weights, &acts, &d_logps, &mut grads);
        } else {
            fast::train::backward(weights, &acts, &d_logps, &mut grads);
        }
        drop(acts);
        optimizer.step(weights, &mut grads);
    };
    step();
    timed(8 * 256, step)
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.device == crate::cuda::Device::Cuda {
        let weights = match &args.model {
            Some(spec) => load_model(spec, 0)?.weights,
            None => ModelWeights::random(&smollm2_config(), &mut Rng::new(1)),
        };
        let wanted = |w: &str| args.works.is_empty() || args.works.iter().any(|x| x == w);
        return crate::cuda::bench::run(&weights, args.tokens, args.json, &wanted);
    }
    let threads = rayon::current_num_threads();
    let peak = limits::peak_gflops().unwrap_or(f64::NAN);
    let bandwidth = limits::bandwidth_gbs();
    let mut weights = match &args.model {
        Some(spec) => load_model(spec, 0)?.weights,
        None => ModelWeights::random(&smollm2_config(), &mut Rng::new(1)),
    };
    let c = weights.config.clone();
    let path = if args.reference { "reference" } else { "fast" };
    if !args.json {
        println!(
            "limits: {peak:.1} GFLOP/s peak (f32 FMA), {bandwidth:.1} GB/s read bandwidth, {threads} threads"
        );
        println!("model: {} parameters, path: {path}", c.parameter_count());
    }
    let wanted = |w: &str| args.works.is_empty() || args.works.iter().any(|x| x == w);
    let flops_per_token = 2.0 * matrix_params(&c);
    let precision = (!args.reference).then_some(args.precision);
    let bytes_per_weight = match precision {
        Some(Precision::Bf16) => 2.0,
        _ => 4.0,
    };
    let report = |work: &str, m: Measured, limit: f64, bound: &'static str| -> anyhow::Result<()> {
        let tps = m.tokens as f64 / m.seconds;
        let line = Line {
            work: work.into(),
            path,
            precision,
            tokens_per_s: tps,
            limit_tokens_per_s: limit,
            ratio_to_limit: tps / limit,
            bound,
            peak_gflop_s: peak,
            bandwidth_gb_s: bandwidth,
            threads,
            seconds: m.seconds,
            cpu_user_s: m.cpu.0,
            cpu_sys_s: m.cpu.1,
            tokens_per_cpu_s: m.tokens as f64 / (m.cpu.0 + m.cpu.1),
        };
        if args.json {
            println!("{}", serde_json::to_string(&line)?);
        } else {
            println!(
                "{work:<12} {tps:>8.1} tokens/s  limit {limit:>7.1} ({bound})  ratio {:.2}  [{:.1}s wall, {:.1}s user, {:.1}s sys, {:.1} tokens/CPU-s]",
                line.ratio_to_limit, m.seconds, m.cpu.0, m.cpu.1, line.tokens_per_cpu_s
            );
        }
        Ok(())
    };

    if wanted("generate_b1") || wanted("generate_b8") {
        let max_pos = 32 + args.tokens + 1;
        let reference_decoder;
        let fast_decoder;
        let decoder: &dyn DecodeStep<f32> = if args.reference {
            reference_decoder = Decoder::new(&weights, max_pos);
            &reference_decoder
        } else {
            fast_decoder = FastDecoder::new(&weights, args.precision, max_pos);
            &fast_decoder
        };
        let step_bytes = matrix_params(&c) * bytes_per_weight;
        for (work, batch) in [("generate_b1", 1usize), ("generate_b8", 8)] {
            if !wanted(work) {
                continue;
            }
            let m = generation(decoder, &c, batch, args.tokens);
            let by_bandwidth = bandwidth * 1e9 / step_bytes * batch as f64;
            let by_compute = peak * 1e9 / flops_per_token;
            let (limit, bound) = if by_bandwidth < by_compute {
                (by_bandwidth, "bandwidth")
            } else {
                (by_compute, "compute")
            };
            report(work, m, limit, bound)?;
        }
    }
    if wanted("train_8x256") {
        // Forward 2 flops per weight, backward 4; attention: 2 L (L+1) hd heads per layer and
        // sequence forward, twice that backward, spread over L tokens.
        let l = 256.0;
        let attention = 3.0 * 2.0 * (l + 1.0) * c.q_dim() as f64 * c.num_hidden_layers as f64;
        let per_token = 3.0 * flops_per_token + attention;
        let m = training(&mut weights, args.reference);
        report("train_8x256", m, peak * 1e9 / per_token, "compute")?;
    }
    Ok(())
}
