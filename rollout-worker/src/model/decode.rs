//! Incremental inference with a KV cache: each call appends rows (tokens) to one or more caches
//! and returns logits where asked. A prompt's prefill is many rows of one cache; a decoding step
//! is one row for each live sequence, so the weights are read once for the whole batch.

use rayon::prelude::*;

use super::ops::{self, Rope};
use super::ModelWeights;
use crate::real::{linear, Real};

/// Keys and values of one sequence, per layer, `positions x kv_dim`.
#[derive(Debug, Clone)]
pub struct KvCache<T> {
    pub keys: Vec<Vec<T>>,
    pub values: Vec<Vec<T>>,
    pub len: usize,
}

impl<T: Real> KvCache<T> {
    pub fn new(layers: usize) -> KvCache<T> {
        KvCache {
            keys: vec![Vec::new(); layers],
            values: vec![Vec::new(); layers],
            len: 0,
        }
    }
}

/// One decoding call: append `rows` to their caches and return the logits of the rows that want
/// them, in row order. The reference [`Decoder`] and the fast path both implement it.
pub trait DecodeStep<T>: Sync {
    fn step(&self, caches: &mut [KvCache<T>], rows: &[Row]) -> Vec<Vec<T>>;
}

impl<T: Real> DecodeStep<T> for Decoder<'_, T> {
    fn step(&self, caches: &mut [KvCache<T>], rows: &[Row]) -> Vec<Vec<T>> {
        Decoder::step(self, caches, rows)
    }
}

/// Rotary tables sized for a model, shared across decoding calls.
pub struct Decoder<'w, T> {
    pub weights: &'w ModelWeights<T>,
    rope: Rope<T>,
}

/// One input row: the cache it extends, its token, and whether its logits are wanted.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub cache: usize,
    pub token: u32,
    pub want_logits: bool,
}

impl<'w, T: Real> Decoder<'w, T> {
    pub fn new(weights: &'w ModelWeights<T>, max_positions: usize) -> Decoder<'w, T> {
        let c = &weights.config;
        Decoder {
            weights,
            rope: Rope::new(c.head_dim(), c.rope_theta, max_positions),
        }
    }

    /// Runs `rows` (rows of the same cache in order) and returns logits of the rows that want
    /// them, in row order.
    pub fn step(&self, caches: &mut [KvCache<T>], rows: &[Row]) -> Vec<Vec<T>> {
        let w = self.weights;
        let c = &w.config;
        let (d, hd, n) = (c.hidden_size, c.head_dim(), rows.len());
        let (qd, kvd, group) = (c.q_dim(), c.kv_dim(), c.group_size());
        let mut next_pos: Vec<usize> = caches.iter().map(|k| k.len).collect();
        let positions: Vec<usize> = rows
            .iter()
            .map(|r| {
                next_pos[r.cache] += 1;
                next_pos[r.cache] - 1
            })
            .collect();

        let mut x = vec![T::zero(); n * d];
        for (i, r) in rows.iter().enumerate() {
            let t = r.token as usize;
            x[i * d..(i + 1) * d].copy_from_slice(&w.embed[t * d..(t + 1) * d]);
        }
        for (l, lw) in w.layers.iter().enumerate() {
            let (xn, _) = ops::rmsnorm(&x, &lw.attn_norm, c.rms_norm_eps);
            let mut q = linear(&xn, n, &lw.wq, d, qd);
            let mut k = linear(&xn, n, &lw.wk, d, kvd);
            let v = linear(&xn, n, &lw.wv, d, kvd);
            self.rope.rotate_rows(&mut q, qd, &positions, false);
            self.rope.rotate_rows(&mut k, kvd, &positions, false);
            for (i, r) in rows.iter().enumerate() {
                caches[r.cache].keys[l].extend_from_slice(&k[i * kvd..(i + 1) * kvd]);
                caches[r.cache].values[l].extend_from_slice(&v[i * kvd..(i + 1) * kvd]);
            }
            // Row i attends to its cache up to and including its own position.
            let caches_ref: &[KvCache<T>] = caches;
            let mut attn = vec![T::zero(); n * qd];
            attn.par_chunks_mut(qd).enumerate().for_each(|(i, out)| {
                let (cache, pos) = (&caches_ref[rows[i].cache], positions[i]);
                let (keys, values) = (&cache.keys[l], &cache.values[l]);
                let scale = T::one() / T::of(hd as f64).sqrt();
                let mut scores = vec![T::zero(); pos + 1];
                for h in 0..c.num_attention_heads {
                    let qh = &q[i * qd + h * hd..i * qd + (h + 1) * hd];
                    let kv_off = (h / group) * hd;
                    for (j, s) in scores.iter_mut().enumerate() {
                        *s = ops::dot(qh, &keys[j * kvd + kv_off..j * kvd + kv_off + hd]) * scale;
                    }
                    ops::softmax_in_place(&mut scores);
                    let oh = &mut out[h * hd..(h + 1) * hd];
                    for (j, &p) in scores.iter().enumerate() {
                        for (o, &vv) in oh
                            .iter_mut()
                            .zip(&values[j * kvd + kv_off..j * kvd + kv_off + hd])
                        {
                            *o += p * vv;
                        }
                    }
                }
            });
            let proj = linear(&attn, n, &lw.wo, qd, d);
            x.iter_mut().zip(&proj).for_each(|(a, &b)| *a += b);
            let (xn, _) = ops::rmsnorm(&x, &lw.ffn_norm, c.rms_norm_eps);
            let f = c.intermediate_size;
            let gate = linear(&xn, n, &lw.w_gate, d, f);
            let up = linear(&xn, n, &lw.w_up, d, f);
            let down = linear(&ops::swiglu(&gate, &up), n, &lw.w_down, f, d);
            x.iter_mut().zip(&down).for_each(|(a, &b)| *a += b);
        }
        for (cache, &len) in caches.iter_mut().zip(&next_pos) {
            cache.len = len;
        }

        let wanted: Vec<usize> = (0..n).filter(|&i| rows[i].want_logits).collect();
        let selected: Vec<T> = wanted
            .iter()
            .flat_map(|&i| x[i * d..(i + 1) * d].iter().copied())
            .collect();
        let (xn, _) = ops::rmsnorm(&selected, &w.final_norm, c.rms_norm_eps);
        let v = c.vocab_size;
        let logits = linear(&xn, wanted.len(), w.output_matrix(), d, v);
        logits.chunks(v).map(<[T]>::to_vec).collect()
    }
}
