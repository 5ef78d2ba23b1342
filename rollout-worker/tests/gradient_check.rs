//! The analytic gradients of the whole model agree with central finite differences, in f64, on a
//! tiny configuration (GQA, untied and tied embeddings, several sequences of different lengths).

use rollout_worker::model::backward::backward;
use rollout_worker::model::{forward, ModelConfig, ModelWeights, ScoredSequence};
use rollout_worker::rng::Rng;

/// A scalar loss of the model: a fixed random weighting of every scored log-probability.
fn loss(
    w: &ModelWeights<f64>,
    batch: &[ScoredSequence],
    coef: &[Vec<f64>],
    temperature: f64,
) -> f64 {
    let (logps, _) = forward(w, batch, temperature);
    logps
        .iter()
        .flatten()
        .zip(coef.iter().flatten())
        .map(|(l, c)| l * c)
        .sum()
}

fn check(config: ModelConfig, temperature: f64) {
    let mut rng = Rng::new(7);
    let mut w = ModelWeights::<f64>::random(&config, &mut rng);
    // Larger-than-init weights so every path carries signal; norms away from 1.
    for (name, t) in w.tensors_mut() {
        for x in t.iter_mut() {
            *x = if name.ends_with("norm.weight") {
                1.0 + 0.3 * rng.normal()
            } else {
                0.3 * rng.normal()
            };
        }
    }
    let batch = vec![
        ScoredSequence {
            tokens: vec![1, 5, 3, 7, 2],
            first_scored: 2,
        },
        ScoredSequence {
            tokens: vec![4, 4, 0],
            first_scored: 1,
        },
        ScoredSequence {
            tokens: vec![6, 2, 9, 8, 1, 3, 5],
            first_scored: 3,
        },
    ];
    let coef: Vec<Vec<f64>> = batch
        .iter()
        .map(|s| {
            (s.first_scored..s.tokens.len())
                .map(|_| rng.normal())
                .collect()
        })
        .collect();

    let (_, acts) = forward(&w, &batch, temperature);
    let mut grads = ModelWeights::<f64>::zeros(&config);
    backward(&w, &acts, &coef, &mut grads);

    let eps = 1e-5;
    let mut worst: f64 = 0.0;
    let analytic: Vec<(String, Vec<f64>)> = grads
        .tensors()
        .into_iter()
        .map(|(n, _, t)| (n, t.clone()))
        .collect();
    for (ti, (name, g)) in analytic.iter().enumerate() {
        // Every element of small tensors, a spread of elements of larger ones.
        let picks: Vec<usize> = if g.len() <= 64 {
            (0..g.len()).collect()
        } else {
            (0..24).map(|_| rng.below(g.len())).collect()
        };
        for i in picks {
            let original = w.tensors_mut()[ti].1[i];
            w.tensors_mut()[ti].1[i] = original + eps;
            let plus = loss(&w, &batch, &coef, temperature);
            w.tensors_mut()[ti].1[i] = original - eps;
            let minus = loss(&w, &batch, &coef, temperature);
            w.tensors_mut()[ti].1[i] = original;
            let numeric = (plus - minus) / (2.0 * eps);
            let rel = (numeric - g[i]).abs() / numeric.abs().max(g[i].abs()).max(1e-6);
            assert!(
                rel < 1e-3,
                "{name}[{i}]: analytic {} numeric {numeric} rel {rel:e}",
                g[i]
            );
            worst = worst.max(rel);
        }
    }
    println!("model gradient check: worst relative error {worst:.3e} over all tensors");
}

#[test]
fn whole_model_gradients_match_finite_differences_untied() {
    check(ModelConfig::tiny(10), 1.0);
}

#[test]
fn whole_model_gradients_match_finite_differences_tied_with_temperature() {
    let mut config = ModelConfig::tiny(10);
    config.tie_word_embeddings = true;
    config.num_key_value_heads = 1;
    check(config, 0.7);
}

#[test]
fn kv_cache_decoding_matches_the_training_forward() {
    use rollout_worker::model::decode::{Decoder, KvCache, Row};
    let config = ModelConfig::tiny(10);
    let mut rng = Rng::new(3);
    let w = ModelWeights::<f64>::random(&config, &mut rng);
    let tokens = vec![1u32, 5, 3, 7, 2, 9];
    let (logps, _) = forward(
        &w,
        &[ScoredSequence {
            tokens: tokens.clone(),
            first_scored: 1,
        }],
        1.0,
    );
    let decoder = Decoder::new(&w, 16);
    let mut caches = vec![KvCache::new(config.num_hidden_layers)];
    // Prefill three tokens, then one at a time.
    let mut logits = decoder.step(
        &mut caches,
        &[0, 1, 2].map(|i| Row {
            cache: 0,
            token: tokens[i],
            want_logits: true,
        }),
    );
    for &t in &tokens[3..5] {
        logits.extend(decoder.step(
            &mut caches,
            &[Row {
                cache: 0,
                token: t,
                want_logits: true,
            }],
        ));
    }
    for (i, row) in logits.iter().enumerate() {
        let (lp, _) = rollout_worker::model::ops::log_softmax_at(row, tokens[i + 1] as usize, 1.0);
        assert!(
            (lp - logps[0][i]).abs() < 1e-10,
            "position {i}: {lp} vs {}",
            logps[0][i]
        );
    }
}
