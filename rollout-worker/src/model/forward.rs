//! The training forward pass: a batch of sequences packed row after row, every activation kept
//! for [`super::backward`], and the log-probability of each scored token as the output.
//!
//! Sequences are independent (no padding, no cross-sequence attention): linear layers run on all
//! rows at once, attention runs per (sequence, head) in parallel.

use rayon::prelude::*;

use super::kernels::{Kernels, Reference};
use super::ops::{self, Rope};
use super::ModelWeights;
use crate::real::Real;

/// One sequence and which of its tokens are scored: `tokens[first_scored..]`, each predicted from
/// the position before it (so `first_scored >= 1`; for GRPO it is the prompt length).
#[derive(Debug, Clone)]
pub struct ScoredSequence {
    pub tokens: Vec<u32>,
    pub first_scored: usize,
}

/// What one layer's backward pass needs.
pub struct LayerActivations<T> {
    pub x_in: Vec<T>,
    pub inv_rms_attn: Vec<T>,
    pub x_norm_attn: Vec<T>,
    /// Queries and keys after rotation, values: `rows x q_dim` / `rows x kv_dim`.
    pub q: Vec<T>,
    pub k: Vec<T>,
    pub v: Vec<T>,
    /// Attention probabilities per (sequence, head), `len x len` each.
    pub probs: Vec<Vec<T>>,
    pub attn_out: Vec<T>,
    pub x_mid: Vec<T>,
    pub inv_rms_ffn: Vec<T>,
    pub x_norm_ffn: Vec<T>,
    pub gate: Vec<T>,
    pub up: Vec<T>,
    pub hidden: Vec<T>,
}

/// Everything the backward pass needs.
pub struct Activations<T> {
    pub rows: usize,
    /// First row and length of each sequence.
    pub spans: Vec<(usize, usize)>,
    pub positions: Vec<usize>,
    pub tokens: Vec<u32>,
    pub layers: Vec<LayerActivations<T>>,
    pub x_final: Vec<T>,
    pub inv_rms_final: Vec<T>,
    pub x_norm_final: Vec<T>,
    /// Row each scored token is predicted from, and the token.
    pub scored_rows: Vec<usize>,
    pub targets: Vec<usize>,
    /// Softmax over the vocabulary at each scored row (`scored x vocab`).
    pub probs_out: Vec<T>,
    pub temperature: T,
}

/// Runs the model and returns, per sequence, `log p(tokens[t] | tokens[..t])` for every scored
/// `t`, computed from `logits / temperature` (as TRL's `_get_per_token_logps` does).
pub fn forward<T: Real>(
    w: &ModelWeights<T>,
    batch: &[ScoredSequence],
    temperature: f64,
) -> (Vec<Vec<T>>, Activations<T>) {
    forward_with(&Reference, w, batch, temperature)
}

/// [`forward`] with the given kernels.
pub fn forward_with<T: Real, K: Kernels<T>>(
    kern: &K,
    w: &ModelWeights<T>,
    batch: &[ScoredSequence],
    temperature: f64,
) -> (Vec<Vec<T>>, Activations<T>) {
    let c = &w.config;
    let (d, hd) = (c.hidden_size, c.head_dim());
    let mut spans = Vec::new();
    let mut positions = Vec::new();
    let mut tokens = Vec::new();
    let mut scored_rows = Vec::new();
    let mut targets = Vec::new();
    for seq in batch {
        assert!(seq.first_scored >= 1 && seq.first_scored <= seq.tokens.len());
        let start = tokens.len();
        spans.push((start, seq.tokens.len()));
        positions.extend(0..seq.tokens.len());
        tokens.extend_from_slice(&seq.tokens);
        for t in seq.first_scored..seq.tokens.len() {
            scored_rows.push(start + t - 1);
            targets.push(seq.tokens[t] as usize);
        }
    }
    let rows = tokens.len();
    let max_len = spans.iter().map(|s| s.1).max().unwrap_or(0);
    let rope = Rope::<T>::new(hd, c.rope_theta, max_len.max(1));

    let mut x = vec![T::zero(); rows * d];
    for (r, &tok) in tokens.iter().enumerate() {
        x[r * d..(r + 1) * d].copy_from_slice(&w.embed[tok as usize * d..(tok as usize + 1) * d]);
    }

    let mut layers = Vec::with_capacity(w.layers.len());
    for lw in &w.layers {
        let (x_norm_attn, inv_rms_attn) = ops::rmsnorm(&x, &lw.attn_norm, c.rms_norm_eps);
        let mut q = kern.linear(&x_norm_attn, rows, &lw.wq, d, c.q_dim());
        let mut k = kern.linear(&x_norm_attn, rows, &lw.wk, d, c.kv_dim());
        let v = kern.linear(&x_norm_attn, rows, &lw.wv, d, c.kv_dim());
        rope.rotate_rows(&mut q, c.q_dim(), &positions, false);
        rope.rotate_rows(&mut k, c.kv_dim(), &positions, false);

        let (attn_out, probs) = attention(kern, c, &spans, &q, &k, &v);
        let projected = kern.linear(&attn_out, rows, &lw.wo, c.q_dim(), d);
        let x_mid: Vec<T> = x.iter().zip(&projected).map(|(&a, &b)| a + b).collect();

        let (x_norm_ffn, inv_rms_ffn) = ops::rmsnorm(&x_mid, &lw.ffn_norm, c.rms_norm_eps);
        let f = c.intermediate_size;
        let gate = kern.linear(&x_norm_ffn, rows, &lw.w_gate, d, f);
        let up = kern.linear(&x_norm_ffn, rows, &lw.w_up, d, f);
        let hidden = kern.swiglu(&gate, &up);
        let down = kern.linear(&hidden, rows, &lw.w_down, f, d);
        let x_out: Vec<T> = x_mid.iter().zip(&down).map(|(&a, &b)| a + b).collect();

        layers.push(LayerActivations {
            x_in: std::mem::replace(&mut x, x_out),
            inv_rms_attn,
            x_norm_attn,
            q,
            k,
            v,
            probs,
            attn_out,
            x_mid,
            inv_rms_ffn,
            x_norm_ffn,
            gate,
            up,
            hidden,
        });
    }

    let (x_norm_final, inv_rms_final) = ops::rmsnorm(&x, &w.final_norm, c.rms_norm_eps);
    let selected: Vec<T> = scored_rows
        .iter()
        .flat_map(|&r| x_norm_final[r * d..(r + 1) * d].iter().copied())
        .collect();
    let v = c.vocab_size;
    let logits = kern.linear(&selected, scored_rows.len(), w.output_matrix(), d, v);
    let temp = T::of(temperature);
    let mut probs_out = vec![T::zero(); logits.len()];
    let flat_logps: Vec<T> = logits
        .par_chunks(v)
        .zip(probs_out.par_chunks_mut(v))
        .zip(targets.par_iter())
        .map(|((row, probs), &target)| {
            let (logp, p) = ops::log_softmax_at(row, target, temp);
            probs.copy_from_slice(&p);
            logp
        })
        .collect();

    let mut logps = Vec::with_capacity(batch.len());
    let mut next = 0;
    for seq in batch {
        let n = seq.tokens.len() - seq.first_scored;
        logps.push(flat_logps[next..next + n].to_vec());
        next += n;
    }
    let acts = Activations {
        rows,
        spans,
        positions,
        tokens,
        layers,
        x_final: x,
        inv_rms_final,
        x_norm_final,
        scored_rows,
        targets,
        probs_out,
        temperature: temp,
    };
    (logps, acts)
}

/// Copies head `head` of sequence rows `[start, start+len)` out of a `rows x width` matrix.
pub(crate) fn gather_head<T: Real>(
    x: &[T],
    width: usize,
    (start, len): (usize, usize),
    head: usize,
    hd: usize,
) -> Vec<T> {
    let mut out = Vec::with_capacity(len * hd);
    for r in start..start + len {
        out.extend_from_slice(&x[r * width + head * hd..r * width + (head + 1) * hd]);
    }
    out
}

/// Adds a contiguous `len x hd` block into head `head` of rows `[start, start+len)`.
pub(crate) fn scatter_add_head<T: Real>(
    x: &mut [T],
    width: usize,
    (start, len): (usize, usize),
    head: usize,
    hd: usize,
    block: &[T],
) {
    for i in 0..len {
        let dst = &mut x[(start + i) * width + head * hd..(start + i) * width + (head + 1) * hd];
        for (a, &b) in dst.iter_mut().zip(&block[i * hd..(i + 1) * hd]) {
            *a += b;
        }
    }
}

/// Causal grouped-query attention over every sequence, in parallel over (sequence, head).
fn attention<T: Real, K: Kernels<T>>(
    kern: &K,
    c: &super::ModelConfig,
    spans: &[(usize, usize)],
    q: &[T],
    k: &[T],
    v: &[T],
) -> (Vec<T>, Vec<Vec<T>>) {
    let (hd, heads, group) = (c.head_dim(), c.num_attention_heads, c.group_size());
    let (qd, kvd) = (c.q_dim(), c.kv_dim());
    let jobs: Vec<(usize, usize)> = (0..spans.len())
        .flat_map(|s| (0..heads).map(move |h| (s, h)))
        .collect();
    let results: Vec<(Vec<T>, Vec<T>)> = jobs
        .par_iter()
        .map(|&(s, h)| {
            let span = spans[s];
            let qh = gather_head(q, qd, span, h, hd);
            let kh = gather_head(k, kvd, span, h / group, hd);
            let vh = gather_head(v, kvd, span, h / group, hd);
            kern.attention_head(&qh, &kh, &vh, span.1, hd)
        })
        .collect();
    let rows = q.len() / qd;
    let mut out = vec![T::zero(); rows * qd];
    let mut probs = Vec::with_capacity(jobs.len());
    for (&(s, h), (o, p)) in jobs.iter().zip(results) {
        scatter_add_head(&mut out, qd, spans[s], h, hd, &o);
        probs.push(p);
    }
    (out, probs)
}
