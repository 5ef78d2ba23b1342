//! The CUDA backend against the CPU reference, wherever a GPU is present: decoding logits,
//! training log-probabilities and gradients, and one whole GRPO step (loss, backward, clipping,
//! AdamW). Without a driver or a GPU each test prints "skipped: no CUDA driver/GPU" and passes,
//! after checking that opening the device failed with a message rather than a panic.
//!
//! Tolerances: cuBLAS and the GPU's reductions sum in other orders than the CPU, in f32, so
//! agreement is to f32 rounding grown through three layers: logits and log-probabilities within
//! 1e-3 of the largest magnitude (relative), gradients within 1e-3 of each tensor's largest.

use rollout_worker::cuda::decode::{GpuDecoder, SlotRow};
use rollout_worker::cuda::{self, CudaPolicy, Gpu, GpuWeights};
use rollout_worker::grpo::{advantages, grpo_loss, AdvantageConfig, LossConfig, LossType};
use rollout_worker::model::backward::backward;
use rollout_worker::model::decode::{Decoder, KvCache, Row};
use rollout_worker::model::{forward, ModelConfig, ModelWeights, ScoredSequence};
use rollout_worker::optim::{AdamW, AdamWConfig};
use rollout_worker::rng::Rng;

/// The GPU, or `None` after saying why the test is skipped.
fn gpu_or_skip(test: &str) -> Option<Gpu> {
    match Gpu::open(0) {
        Ok(gpu) => {
            println!("{test}: on {}", gpu.description);
            Some(gpu)
        }
        Err(e) => {
            let why = format!("{e:#}");
            assert!(
                why.starts_with("no CUDA")
                    || why.starts_with("no NVRTC")
                    || why.starts_with("no cuBLAS"),
                "opening the GPU failed unexpectedly: {why}"
            );
            println!("{test}: skipped: no CUDA driver/GPU ({why})");
            None
        }
    }
}

/// Odd widths (hidden 44, head_dim 22, intermediate 70), GQA (2 query heads per kv head).
fn config(tied: bool) -> ModelConfig {
    ModelConfig {
        vocab_size: 37,
        hidden_size: 44,
        intermediate_size: 70,
        num_hidden_layers: 3,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        head_dim: Some(22),
        rope_theta: 10_000.0,
        rms_norm_eps: 1e-5,
        tie_word_embeddings: tied,
        max_position_embeddings: 64,
    }
}

/// Weights larger than the 0.02 initialisation, so attention is far from uniform.
fn weights(config: &ModelConfig, seed: u64) -> ModelWeights<f32> {
    let mut rng = Rng::new(seed);
    let mut w = ModelWeights::<f32>::random(config, &mut rng);
    for (name, t) in w.tensors_mut() {
        for x in t.iter_mut() {
            *x = if name.ends_with("norm.weight") {
                (1.0 + 0.2 * rng.normal()) as f32
            } else {
                (0.15 * rng.normal()) as f32
            };
        }
    }
    w
}

fn relative_diff(a: &[f32], b: &[f32]) -> (f32, f32) {
    assert_eq!(a.len(), b.len());
    let scale = a.iter().fold(0f32, |m, x| m.max(x.abs()));
    let diff = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    (diff / scale.max(1e-30), scale)
}

const PROMPTS: [&[u32]; 2] = [&[1, 4, 9, 16, 25, 36, 2, 3, 5, 7, 11], &[8, 6, 4]];

#[test]
fn cuda_decoding_logits_match_the_reference() {
    let Some(gpu) = gpu_or_skip("decoding") else {
        return;
    };
    for tied in [false, true] {
        let c = config(tied);
        let w = weights(&c, 11);
        let gw = GpuWeights::upload(&gpu, &w).unwrap();
        let cpu = Decoder::new(&w, 32);
        let mut caches = vec![KvCache::<f32>::new(c.num_hidden_layers); 2];
        let mut dev = GpuDecoder::new(&gpu, &gw, 2, 32).unwrap();
        // Both prompts prefilled in one call, every other row's logits wanted, then five steps.
        let mut cpu_rows = Vec::new();
        let mut gpu_rows = Vec::new();
        for (slot, prompt) in PROMPTS.iter().enumerate() {
            for (i, &token) in prompt.iter().enumerate() {
                let want_logits = i % 2 == 0;
                cpu_rows.push(Row {
                    cache: slot,
                    token,
                    want_logits,
                });
                gpu_rows.push(SlotRow {
                    slot,
                    token,
                    want_logits,
                });
            }
        }
        let mut want = cpu.step(&mut caches, &cpu_rows);
        let mut got = dev.step(&gpu_rows).unwrap();
        for step in 0..5u32 {
            let tokens = [(step * 7) % 37, (step * 7 + 5) % 37];
            let cpu_rows: Vec<Row> = (0..2)
                .map(|cache| Row {
                    cache,
                    token: tokens[cache],
                    want_logits: true,
                })
                .collect();
            let gpu_rows: Vec<SlotRow> = (0..2)
                .map(|slot| SlotRow {
                    slot,
                    token: tokens[slot],
                    want_logits: true,
                })
                .collect();
            want.extend(cpu.step(&mut caches, &cpu_rows));
            got.extend(dev.step(&gpu_rows).unwrap());
        }
        assert_eq!(want.len(), got.len());
        let (diff, scale) = relative_diff(&want.concat(), &got.concat());
        println!("tied {tied}: CUDA logits within {diff:.2e} (relative) of the reference, largest {scale:.2}");
        assert!(diff <= 1e-3, "CUDA decoding differs by {diff} relative");
        assert!(scale > 1.0, "logits too small to test anything: {scale}");
    }
}

fn batch() -> Vec<ScoredSequence> {
    vec![
        ScoredSequence {
            tokens: vec![3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9],
            first_scored: 4,
        },
        ScoredSequence {
            tokens: vec![2, 7, 1, 8, 2, 8],
            first_scored: 1,
        },
        ScoredSequence {
            tokens: vec![30, 31, 32, 33, 34, 35, 36, 0, 1],
            first_scored: 6,
        },
    ]
}

#[test]
fn cuda_training_logps_and_gradients_match_the_reference() {
    let Some(gpu) = gpu_or_skip("training") else {
        return;
    };
    for tied in [false, true] {
        let c = config(tied);
        let w = weights(&c, 21);
        let batch = batch();
        let temperature = 0.7;
        let (want_lp, acts) = forward(&w, &batch, temperature);
        let mut rng = Rng::new(4);
        let d_logps: Vec<Vec<f32>> = want_lp
            .iter()
            .map(|s| s.iter().map(|_| rng.normal() as f32).collect())
            .collect();
        let mut want_g = ModelWeights::<f32>::zeros(&c);
        backward(&w, &acts, &d_logps, &mut want_g);

        let gw = GpuWeights::upload(&gpu, &w).unwrap();
        let (got_lp, gacts) = cuda::train::forward(&gpu, &gw, &batch, temperature).unwrap();
        let (diff, scale) = relative_diff(&want_lp.concat(), &got_lp.concat());
        println!(
            "tied {tied}: CUDA log-probabilities within {diff:.2e} (relative), largest {scale:.2}"
        );
        assert!(diff <= 1e-3, "log-probabilities differ by {diff} relative");
        let mut grads = GpuWeights::zeros(&gpu, &c).unwrap();
        cuda::train::backward(&gpu, &gw, gacts, &d_logps, &mut grads).unwrap();
        let got_g = grads.download(&gpu).unwrap();
        for ((name, _, want), (_, _, got)) in want_g.tensors().into_iter().zip(got_g.tensors()) {
            let (diff, scale) = relative_diff(want, got);
            assert!(scale > 0.0, "{name}: zero gradient, nothing tested");
            assert!(
                diff <= 1e-3,
                "tied {tied}: {name} gradient differs by {diff} of its largest ({scale})"
            );
        }
        println!("tied {tied}: CUDA gradients within 1e-3 of each tensor's largest");
    }
}

#[test]
fn one_cuda_grpo_step_matches_the_reference() {
    let Some(gpu) = gpu_or_skip("grpo step") else {
        return;
    };
    drop(gpu); // CudaPolicy opens its own.
    let c = config(true);
    let mut w = weights(&c, 31);
    let batch = batch();
    let rewards = [1.0, 0.0, 0.5];
    let adv = advantages(&rewards, AdvantageConfig::trl(3));
    let loss_config = LossConfig {
        loss_type: LossType::Dapo,
        epsilon_low: 0.2,
        epsilon_high: 0.2,
        beta: 0.0,
        max_completion_length: 16,
    };
    let opt = AdamWConfig {
        lr: 1e-3,
        max_grad_norm: 0.5,
        ..Default::default()
    };
    let to_f64 = |lp: &[Vec<f32>]| -> Vec<Vec<f64>> {
        lp.iter()
            .map(|s| s.iter().map(|&x| x as f64).collect())
            .collect()
    };
    let to_f32 = |d: &[Vec<f64>]| -> Vec<Vec<f32>> {
        d.iter()
            .map(|s| s.iter().map(|&x| x as f32).collect())
            .collect()
    };
    let before = w.clone();
    let mut dev = CudaPolicy::new(&w, false, opt).unwrap();

    // CPU reference step.
    let (lp, acts) = forward(&w, &batch, 1.0);
    let lp = to_f64(&lp);
    let out = grpo_loss(&loss_config, &lp, &lp, None, &adv);
    let mut grads = ModelWeights::<f32>::zeros(&c);
    backward(&w, &acts, &to_f32(&out.d_logps), &mut grads);
    let want_norm = AdamW::new(opt, &w).step(&mut w, &mut grads);

    // The same step on the GPU, from its own log-probabilities.
    let (glp, gacts) = dev.forward(&batch, 1.0).unwrap();
    let glp = to_f64(&glp);
    let gout = grpo_loss(&loss_config, &glp, &glp, None, &adv);
    assert!((gout.loss - out.loss).abs() <= 1e-4 * out.loss.abs().max(1.0));
    let got_norm = dev.update(gacts, &to_f32(&gout.d_logps), opt.lr).unwrap();
    println!(
        "GRPO step: loss {:.6} / {:.6}, grad norm {want_norm:.6} / {got_norm:.6} (CPU / CUDA)",
        out.loss, gout.loss
    );
    assert!(
        (got_norm - want_norm).abs() <= 1e-3 * want_norm,
        "grad norm {got_norm} vs {want_norm}"
    );
    let got = dev.weights().unwrap();
    // Adam's first step moves each weight by about lr * sign(g): where the gradient is a
    // rounding error its sign may differ between the two, so only weights whose gradient is at
    // least 1% of the tensor's largest are compared closely; every move stays within lr.
    for (((name, _, p0), (_, _, want)), ((_, _, got), (_, _, g))) in before
        .tensors()
        .into_iter()
        .zip(w.tensors())
        .zip(got.tensors().into_iter().zip(grads.tensors()))
    {
        let g_max = g.iter().fold(0f32, |m, x| m.max(x.abs()));
        for i in 0..p0.len() {
            let (dw, dg) = (want[i] - p0[i], got[i] - p0[i]);
            assert!(dg.abs() <= opt.lr as f32 * 1.01, "{name}[{i}] moved {dg}");
            if g[i].abs() >= 0.01 * g_max {
                assert!(
                    (dw - dg).abs() <= 0.01 * opt.lr as f32,
                    "{name}[{i}]: CPU moved {dw}, CUDA {dg}"
                );
            }
        }
    }
    println!("GRPO step: CUDA weights after AdamW match the reference");
}
