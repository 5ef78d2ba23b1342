//! The fast CPU path against the plain reference, its oracle: decoding logits within 1e-4,
//! training log-probabilities within 1e-4 and gradients within 1e-3 (relative to each tensor's
//! largest gradient), on shapes whose widths are not multiples of the SIMD width; bf16 decoding
//! weights against f32 within a bound stated below.

use rollout_worker::fast::{self, FastDecoder, Precision};
use rollout_worker::model::backward::backward;
use rollout_worker::model::decode::{DecodeStep, Decoder, KvCache, Row};
use rollout_worker::model::{forward, ModelConfig, ModelWeights, ScoredSequence};
use rollout_worker::rng::Rng;
use rollout_worker::sampling::{generate, SamplingConfig};

/// Odd widths (hidden 44, head_dim 22, intermediate 70) so every kernel runs its tails.
fn config(tied: bool) -> ModelConfig {
    ModelConfig {
        vocab_size: 37,
        hidden_size: 44,
        intermediate_size: 70,
        num_hidden_layers: 3,
        num_attention_heads: 2,
        num_key_value_heads: 1,
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

/// Prefill two prompts, then decode five steps of three sequences; every step's logits.
fn decode_all(decoder: &dyn DecodeStep<f32>, layers: usize) -> Vec<Vec<f32>> {
    let mut caches = vec![KvCache::new(layers); 3];
    let mut rows = Vec::new();
    for (cache, prompt) in [vec![1u32, 4, 9, 16, 25, 36, 2, 3, 5, 7, 11], vec![8, 6, 4]]
        .iter()
        .enumerate()
    {
        for (i, &token) in prompt.iter().enumerate() {
            rows.push(Row {
                cache,
                token,
                want_logits: i % 2 == 0,
            });
        }
    }
    rows.push(Row {
        cache: 2,
        token: 30,
        want_logits: true,
    });
    let mut all = decoder.step(&mut caches, &rows);
    for step in 0..5u32 {
        let rows: Vec<Row> = (0..3)
            .map(|cache| Row {
                cache,
                token: (step * 7 + cache as u32 * 5) % 37,
                want_logits: true,
            })
            .collect();
        all.extend(decoder.step(&mut caches, &rows));
    }
    all
}

fn max_abs_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| {
            assert_eq!(x.len(), y.len());
            x.iter().zip(y).map(|(p, q)| (p - q).abs())
        })
        .fold(0.0, f32::max)
}

#[test]
fn fast_decoding_logits_match_the_reference() {
    for tied in [false, true] {
        let c = config(tied);
        let w = weights(&c, 11);
        let reference = decode_all(&Decoder::new(&w, 32), c.num_hidden_layers);
        let fast = decode_all(
            &FastDecoder::new(&w, Precision::F32, 32),
            c.num_hidden_layers,
        );
        let diff = max_abs_diff(&reference, &fast);
        let scale = reference.iter().flatten().fold(0f32, |m, x| m.max(x.abs()));
        println!("tied {tied}: fast f32 logits within {diff:.2e} of the reference (largest logit {scale:.2})");
        assert!(diff <= 1e-4, "fast decoding differs by {diff}");
        assert!(scale > 1.0, "logits too small to test anything: {scale}");
    }
}

#[test]
fn bf16_decoding_stays_close_to_f32() {
    let c = config(false);
    let w = weights(&c, 12);
    let f32_logits = decode_all(
        &FastDecoder::new(&w, Precision::F32, 32),
        c.num_hidden_layers,
    );
    let bf16_logits = decode_all(
        &FastDecoder::new(&w, Precision::Bf16, 32),
        c.num_hidden_layers,
    );
    let diff = max_abs_diff(&f32_logits, &bf16_logits);
    let scale = f32_logits
        .iter()
        .flatten()
        .fold(0f32, |m, x| m.max(x.abs()));
    println!("bf16 logits within {diff:.2e} of f32 (largest logit {scale:.2})");
    // bf16 keeps 8 bits of mantissa (relative rounding 2^-9 per weight); through three layers
    // the logits move by well under 2% of their range, and by more than f32 rounding would.
    assert!(
        diff < 0.02 * scale,
        "bf16 differs by {diff} (scale {scale})"
    );
    assert!(diff > 1e-6, "bf16 weights were not used: {diff}");
}

#[test]
fn fast_greedy_generation_picks_the_reference_tokens() {
    let c = config(true);
    let w = weights(&c, 13);
    let prompts = vec![vec![3u32, 1, 4, 1, 5], vec![9, 2, 6]];
    let sampling = SamplingConfig {
        temperature: 0.0,
        top_p: 1.0,
        max_new_tokens: 12,
    };
    let reference = generate(&w, &prompts, 2, &sampling, &[0], &mut Rng::new(1));
    let fast = fast::generate(
        &w,
        Precision::F32,
        &prompts,
        2,
        &sampling,
        &[0],
        &mut Rng::new(1),
    );
    assert_eq!(reference, fast);
}

/// Training log-probabilities and gradients of the fast path against the reference on `batch`:
/// asserts the bounds and returns the largest log-probability difference and the largest
/// gradient difference relative to its tensor's largest gradient.
fn check_training(w: &ModelWeights<f32>, batch: &[ScoredSequence], rng: &mut Rng) -> (f32, f32) {
    let (ref_logps, ref_acts) = forward(w, batch, 0.9);
    let (fast_logps, fast_acts) = fast::train::forward(w, batch, 0.9);
    let diff = max_abs_diff(&ref_logps, &fast_logps);
    assert!(diff <= 1e-4, "log-probabilities differ by {diff}");

    let coef: Vec<Vec<f32>> = ref_logps
        .iter()
        .map(|s| s.iter().map(|_| rng.normal() as f32).collect())
        .collect();
    let mut ref_grads = ModelWeights::<f32>::zeros(&w.config);
    backward(w, &ref_acts, &coef, &mut ref_grads);
    drop(ref_acts);
    let mut fast_grads = ModelWeights::<f32>::zeros(&w.config);
    fast::train::backward(w, &fast_acts, &coef, &mut fast_grads);
    let mut worst = 0f32;
    for ((name, _, r), (_, _, f)) in ref_grads.tensors().into_iter().zip(fast_grads.tensors()) {
        let scale = r.iter().fold(0f32, |m, x| m.max(x.abs()));
        assert!(scale > 0.0, "{name}: no gradient reached it");
        let d = r.iter().zip(f).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        let rel = d / scale;
        assert!(
            rel <= 1e-3,
            "{name}: gradients differ by {rel:e} of their largest value"
        );
        worst = worst.max(rel);
    }
    (diff, worst)
}

#[test]
fn fast_training_logps_and_gradients_match_the_reference() {
    for tied in [false, true] {
        let c = config(tied);
        let w = weights(&c, 14);
        let mut rng = Rng::new(15);
        // 150 positions: attention's query blocks of 64, a partial one last.
        let batch: Vec<ScoredSequence> = [(13usize, 4usize), (21, 1), (3, 2), (9, 9), (150, 70)]
            .iter()
            .map(|&(len, first)| ScoredSequence {
                tokens: (0..len).map(|_| rng.below(c.vocab_size) as u32).collect(),
                first_scored: first,
            })
            .collect();
        let (diff, worst) = check_training(&w, &batch, &mut rng);
        println!("tied {tied}: log-probabilities within {diff:.2e}, gradients within {worst:.2e} (relative)");
    }
}

/// The same on the real model's weights and shape (head_dim 64, 9 query heads over 3 key-value
/// heads, 49,152-token vocabulary), over sequences across attention's blocks.
#[test]
#[ignore = "downloads SmolLM2-135M-Instruct (about 93 MB) on first use; ~2 GB of memory"]
fn fast_training_matches_the_reference_on_smollm2() {
    let loaded = rollout_worker::load::load_model("smollm2", 0).unwrap();
    let w = &loaded.weights;
    let text = "Question: Tom has 3 apples and buys 4 more. How many apples does he have? \
                Answer: <think>3 + 4 = 7</think> \\boxed{7}. ";
    let tokens = loaded.tokenizer.encode(&text.repeat(4));
    assert!(tokens.len() > 70, "{} tokens", tokens.len());
    let batch = vec![
        ScoredSequence {
            tokens: tokens.clone(),
            first_scored: 20,
        },
        ScoredSequence {
            tokens: tokens[..30].to_vec(),
            first_scored: 5,
        },
    ];
    let (diff, worst) = check_training(w, &batch, &mut Rng::new(3));
    println!(
        "SmolLM2, {} and 30 tokens: log-probabilities within {diff:.2e}, gradients within {worst:.2e} (relative)",
        tokens.len()
    );
}

#[test]
#[ignore = "downloads SmolLM2-135M-Instruct (about 93 MB) on first use"]
fn fast_decoding_matches_the_reference_on_smollm2() {
    let loaded = rollout_worker::load::load_model("smollm2", 0).unwrap();
    let w = &loaded.weights;
    let layers = w.config.num_hidden_layers;
    let prompt = loaded.tokenizer.encode("The capital of France is");
    let run = |decoder: &dyn DecodeStep<f32>| {
        let mut caches = vec![KvCache::new(layers)];
        let rows: Vec<Row> = prompt
            .iter()
            .map(|&token| Row {
                cache: 0,
                token,
                want_logits: true,
            })
            .collect();
        decoder.step(&mut caches, &rows)
    };
    let reference = run(&Decoder::new(w, 64));
    let fast = run(&FastDecoder::new(w, Precision::F32, 64));
    let bf16 = run(&FastDecoder::new(w, Precision::Bf16, 64));
    let scale = reference.iter().flatten().fold(0f32, |m, x| m.max(x.abs()));
    let (diff, diff_bf16) = (
        max_abs_diff(&reference, &fast),
        max_abs_diff(&reference, &bf16),
    );
    println!("SmolLM2: fast f32 logits within {diff:.2e}, bf16 within {diff_bf16:.2e} (largest logit {scale:.1})");
    assert!(diff <= 1e-4, "fast decoding differs by {diff}");
}
