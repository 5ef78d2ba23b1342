//! KV-cache decoding on packed weights: the same computation as
//! [`crate::model::decode::Decoder`] (which stays the oracle), with the matrix products on
//! [`Packed`] weights and attention in one parallel region per layer.

use rayon::prelude::*;

use super::linear::{Packed, Precision};
use super::simd;
use crate::model::decode::{DecodeStep, KvCache, Row};
use crate::model::ops::{self, Rope};
use crate::model::{ModelConfig, ModelWeights};

struct PackedLayer {
    attn_norm: Vec<f32>,
    qkv: Packed,
    wo: Packed,
    ffn_norm: Vec<f32>,
    gate_up: Packed,
    down: Packed,
}

/// A model's weights packed for decoding (built once per set of weights).
pub struct FastDecoder {
    config: ModelConfig,
    embed: Vec<f32>,
    layers: Vec<PackedLayer>,
    final_norm: Vec<f32>,
    head: Packed,
    rope: Rope<f32>,
}

impl FastDecoder {
    pub fn new(w: &ModelWeights<f32>, precision: Precision, max_positions: usize) -> FastDecoder {
        let c = &w.config;
        let d = c.hidden_size;
        let layers = w
            .layers
            .iter()
            .map(|l| PackedLayer {
                attn_norm: l.attn_norm.clone(),
                qkv: Packed::stack(&[&l.wq, &l.wk, &l.wv], d, precision),
                wo: Packed::stack(&[&l.wo], c.q_dim(), precision),
                ffn_norm: l.ffn_norm.clone(),
                gate_up: Packed::stack(&[&l.w_gate, &l.w_up], d, precision),
                down: Packed::stack(&[&l.w_down], c.intermediate_size, precision),
            })
            .collect();
        FastDecoder {
            config: c.clone(),
            embed: w.embed.clone(),
            layers,
            final_norm: w.final_norm.clone(),
            head: Packed::stack(&[w.output_matrix()], d, precision),
            rope: Rope::new(c.head_dim(), c.rope_theta, max_positions),
        }
    }

    /// Weight bytes one decoding step reads (every matrix once; embedding rows are negligible).
    pub fn bytes_per_step(&self) -> usize {
        let layers: usize = self
            .layers
            .iter()
            .map(|l| l.qkv.bytes() + l.wo.bytes() + l.gate_up.bytes() + l.down.bytes())
            .sum();
        layers + self.head.bytes()
    }
}

impl DecodeStep<f32> for FastDecoder {
    fn step(&self, caches: &mut [KvCache<f32>], rows: &[Row]) -> Vec<Vec<f32>> {
        let c = &self.config;
        let (d, hd, n, f) = (c.hidden_size, c.head_dim(), rows.len(), c.intermediate_size);
        let (qd, kvd) = (c.q_dim(), c.kv_dim());
        let mut next_pos: Vec<usize> = caches.iter().map(|k| k.len).collect();
        let positions: Vec<usize> = rows
            .iter()
            .map(|r| {
                next_pos[r.cache] += 1;
                next_pos[r.cache] - 1
            })
            .collect();
        let mut x = vec![0.0f32; n * d];
        for (i, r) in rows.iter().enumerate() {
            let t = r.token as usize;
            x[i * d..(i + 1) * d].copy_from_slice(&self.embed[t * d..(t + 1) * d]);
        }
        for (l, lw) in self.layers.iter().enumerate() {
            let (xn, _) = ops::rmsnorm(&x, &lw.attn_norm, c.rms_norm_eps);
            let qkv = lw.qkv.apply(&xn, n);
            let width = qd + 2 * kvd;
            let mut q = vec![0.0f32; n * qd];
            let mut k = vec![0.0f32; n * kvd];
            for i in 0..n {
                let row = &qkv[i * width..(i + 1) * width];
                q[i * qd..(i + 1) * qd].copy_from_slice(&row[..qd]);
                k[i * kvd..(i + 1) * kvd].copy_from_slice(&row[qd..qd + kvd]);
            }
            self.rope.rotate_rows(&mut q, qd, &positions, false);
            self.rope.rotate_rows(&mut k, kvd, &positions, false);
            for (i, r) in rows.iter().enumerate() {
                let cache = &mut caches[r.cache];
                cache.keys[l].extend_from_slice(&k[i * kvd..(i + 1) * kvd]);
                let v = &qkv[i * width + qd + kvd..(i + 1) * width];
                cache.values[l].extend_from_slice(v);
            }
            let attn = attention(c, caches, rows, &positions, &q, l);
            let proj = lw.wo.apply(&attn, n);
            x.iter_mut().zip(&proj).for_each(|(a, &b)| *a += b);
            let (xn, _) = ops::rmsnorm(&x, &lw.ffn_norm, c.rms_norm_eps);
            let gu = lw.gate_up.apply(&xn, n);
            let mut hidden = vec![0.0f32; n * f];
            for i in 0..n {
                let (gate, up) = gu[i * 2 * f..(i + 1) * 2 * f].split_at(f);
                for ((h, &g), &u) in hidden[i * f..(i + 1) * f].iter_mut().zip(gate).zip(up) {
                    *h = g * ops::sigmoid(g) * u;
                }
            }
            let down = lw.down.apply(&hidden, n);
            x.iter_mut().zip(&down).for_each(|(a, &b)| *a += b);
        }
        for (cache, &len) in caches.iter_mut().zip(&next_pos) {
            cache.len = len;
        }
        let wanted: Vec<usize> = (0..n).filter(|&i| rows[i].want_logits).collect();
        let selected: Vec<f32> = wanted
            .iter()
            .flat_map(|&i| x[i * d..(i + 1) * d].iter().copied())
            .collect();
        let (xn, _) = ops::rmsnorm(&selected, &self.final_norm, c.rms_norm_eps);
        let v = c.vocab_size;
        let logits = self.head.apply(&xn, wanted.len());
        let _ = hd;
        logits.chunks(v).map(<[f32]>::to_vec).collect()
    }
}

/// Each row's queries against its cache (up to its own position), one job per (row, key/value
/// head) in one parallel region; a job owns the output of the query heads sharing that head.
fn attention(
    c: &ModelConfig,
    caches: &[KvCache<f32>],
    rows: &[Row],
    positions: &[usize],
    q: &[f32],
    layer: usize,
) -> Vec<f32> {
    let (hd, group, kv_heads) = (c.head_dim(), c.group_size(), c.num_key_value_heads);
    let (qd, kvd) = (c.q_dim(), c.kv_dim());
    let scale = 1.0 / (hd as f32).sqrt();
    let mut out = vec![0.0f32; rows.len() * qd];
    out.par_chunks_mut(group * hd)
        .enumerate()
        .for_each(|(job, out)| {
            let (i, g) = (job / kv_heads, job % kv_heads);
            let cache = &caches[rows[i].cache];
            let (keys, values) = (&cache.keys[layer], &cache.values[layer]);
            let len = positions[i] + 1;
            let mut scores = vec![0.0f32; len];
            for (hi, oh) in out.chunks_mut(hd).enumerate() {
                let h = g * group + hi;
                let qh = &q[i * qd + h * hd..i * qd + (h + 1) * hd];
                for (j, s) in scores.iter_mut().enumerate() {
                    let kj = &keys[j * kvd + g * hd..j * kvd + (g + 1) * hd];
                    *s = simd::dot(qh, kj) * scale;
                }
                ops::softmax_in_place(&mut scores);
                for (j, &p) in scores.iter().enumerate() {
                    simd::axpy(p, &values[j * kvd + g * hd..j * kvd + (g + 1) * hd], oh);
                }
            }
        });
    out
}
