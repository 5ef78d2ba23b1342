//! Sampling completions with the KV cache: each prompt is prefilled once, its cache copied for
//! its `G` completions, and every live completion advances one token per step, all in one batch
//! (so each step reads the weights once). A completion ends at a stop token (kept, as TRL keeps
//! EOS in the completion mask) or at `max_new_tokens`.

use crate::model::decode::{DecodeStep, Decoder, KvCache, Row};
use crate::model::ModelWeights;
use crate::real::Real;
use crate::rng::Rng;

#[derive(Debug, Clone, Copy)]
pub struct SamplingConfig {
    /// 0 means greedy.
    pub temperature: f64,
    /// Nucleus sampling: keep the smallest set of tokens whose probability reaches `top_p`.
    pub top_p: f64,
    pub max_new_tokens: usize,
}

/// Picks the next token from logits.
pub fn sample_token<T: Real>(logits: &[T], config: &SamplingConfig, rng: &mut Rng) -> u32 {
    if config.temperature <= 0.0 {
        let mut best = 0;
        for (i, &z) in logits.iter().enumerate() {
            if z > logits[best] {
                best = i;
            }
        }
        return best as u32;
    }
    let max = logits
        .iter()
        .fold(f64::NEG_INFINITY, |m, &z| m.max(Real::to_f64(z)));
    let mut probs: Vec<(f64, u32)> = logits
        .iter()
        .enumerate()
        .map(|(i, &z)| {
            (
                ((Real::to_f64(z) - max) / config.temperature).exp(),
                i as u32,
            )
        })
        .collect();
    let total: f64 = probs.iter().map(|p| p.0).sum();
    probs.iter_mut().for_each(|p| p.0 /= total);
    if config.top_p < 1.0 {
        probs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut mass = 0.0;
        let mut keep = probs.len();
        for (i, p) in probs.iter().enumerate() {
            mass += p.0;
            if mass >= config.top_p {
                keep = i + 1;
                break;
            }
        }
        probs.truncate(keep);
    }
    let total: f64 = probs.iter().map(|p| p.0).sum();
    let mut u = rng.uniform() * total;
    for &(p, id) in &probs {
        if u < p {
            return id;
        }
        u -= p;
    }
    probs.last().map_or(0, |p| p.1)
}

/// `group_size` completions for each prompt, grouped by prompt, with the reference decoder.
pub fn generate<T: Real>(
    weights: &ModelWeights<T>,
    prompts: &[Vec<u32>],
    group_size: usize,
    config: &SamplingConfig,
    stop_tokens: &[u32],
    rng: &mut Rng,
) -> Vec<Vec<Vec<u32>>> {
    let decoder = Decoder::new(weights, positions_needed(prompts, config));
    let layers = weights.config.num_hidden_layers;
    generate_with(
        &decoder,
        layers,
        prompts,
        group_size,
        config,
        stop_tokens,
        rng,
    )
}

/// Positions a decoder needs for these prompts and this many new tokens.
pub fn positions_needed(prompts: &[Vec<u32>], config: &SamplingConfig) -> usize {
    prompts.iter().map(Vec::len).max().unwrap_or(0) + config.max_new_tokens + 1
}

/// [`generate`] with any decoder (the reference or the fast path) of a `layers`-layer model.
pub fn generate_with<T: Real>(
    decoder: &impl DecodeStep<T>,
    layers: usize,
    prompts: &[Vec<u32>],
    group_size: usize,
    config: &SamplingConfig,
    stop_tokens: &[u32],
    rng: &mut Rng,
) -> Vec<Vec<Vec<u32>>> {
    // Prefill every prompt in one call.
    let mut prompt_caches: Vec<KvCache<T>> = prompts.iter().map(|_| KvCache::new(layers)).collect();
    let rows: Vec<Row> = prompts
        .iter()
        .enumerate()
        .flat_map(|(p, toks)| {
            toks.iter().enumerate().map(move |(i, &t)| Row {
                cache: p,
                token: t,
                want_logits: i + 1 == toks.len(),
            })
        })
        .collect();
    let prompt_logits = decoder.step(&mut prompt_caches, &rows);

    let mut caches = Vec::with_capacity(prompts.len() * group_size);
    let mut completions: Vec<Vec<u32>> = Vec::with_capacity(prompts.len() * group_size);
    for (p, logits) in prompt_logits.iter().enumerate() {
        for _ in 0..group_size {
            caches.push(prompt_caches[p].clone());
            completions.push(vec![sample_token(logits, config, rng)]);
        }
    }
    let done =
        |c: &Vec<u32>| stop_tokens.contains(c.last().unwrap()) || c.len() >= config.max_new_tokens;
    loop {
        let live: Vec<usize> = (0..completions.len())
            .filter(|&i| !done(&completions[i]))
            .collect();
        if live.is_empty() {
            break;
        }
        let rows: Vec<Row> = live
            .iter()
            .map(|&i| Row {
                cache: i,
                token: *completions[i].last().unwrap(),
                want_logits: true,
            })
            .collect();
        let logits = decoder.step(&mut caches, &rows);
        for (&i, l) in live.iter().zip(&logits) {
            completions[i].push(sample_token(l, config, rng));
        }
    }
    let mut grouped = Vec::with_capacity(prompts.len());
    let mut it = completions.into_iter();
    for _ in prompts {
        grouped.push(it.by_ref().take(group_size).collect());
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_picks_the_largest_and_top_p_keeps_the_head() {
        let cfg = SamplingConfig {
            temperature: 0.0,
            top_p: 1.0,
            max_new_tokens: 1,
        };
        let mut rng = Rng::new(1);
        assert_eq!(sample_token(&[0.1f32, 2.0, -1.0], &cfg, &mut rng), 1);
        let nucleus = SamplingConfig {
            temperature: 1.0,
            top_p: 0.5,
            ..cfg
        };
        for _ in 0..50 {
            assert_eq!(sample_token(&[0.0f32, 5.0, 0.0], &nucleus, &mut rng), 1);
        }
    }
}
