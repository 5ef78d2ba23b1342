//! The training forward and backward on the fast path: the reference's layer-by-layer code
//! ([`crate::model::forward::forward_with`], [`crate::model::backward::backward_with`]) with
//! attention done as blocks of eight-wide dot products over transposed operands instead of the
//! reference's scalar loops. Matrix products stay on `matrixmultiply`, whose packing is paid
//! once per product over thousands of rows here.

use rayon::prelude::*;

use super::simd::{dots, dots_strided, Rows};
use crate::model::backward::backward_with;
use crate::model::forward::forward_with;
use crate::model::kernels::Kernels;
use crate::model::ops::{self, softmax_in_place};
use crate::model::{Activations, ModelWeights, ScoredSequence};

/// The fast kernels (f32).
pub struct Fast;

/// `rows x cols` row-major to `cols x rows`.
fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = x[r * cols + c];
        }
    }
    out
}

/// Elements per parallel piece of an elementwise op (large enough that one piece outweighs
/// handing it to a thread).
const PIECE: usize = 1 << 16;

impl Kernels<f32> for Fast {
    fn swiglu(&self, gate: &[f32], up: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0; gate.len()];
        out.par_chunks_mut(PIECE)
            .zip(gate.par_chunks(PIECE).zip(up.par_chunks(PIECE)))
            .for_each(|(o, (g, u))| o.copy_from_slice(&ops::swiglu(g, u)));
        out
    }

    fn swiglu_backward(&self, dy: &[f32], gate: &[f32], up: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let mut d_gate = vec![0.0; gate.len()];
        let mut d_up = vec![0.0; gate.len()];
        d_gate
            .par_chunks_mut(PIECE)
            .zip(d_up.par_chunks_mut(PIECE))
            .enumerate()
            .for_each(|(i, (dg, du))| {
                let r = i * PIECE..(i * PIECE + dg.len());
                let (a, b) = ops::swiglu_backward(&dy[r.clone()], &gate[r.clone()], &up[r]);
                dg.copy_from_slice(&a);
                du.copy_from_slice(&b);
            });
        (d_gate, d_up)
    }

    fn attention_head(
        &self,
        q: &[f32],
        k: &[f32],
        v: &[f32],
        len: usize,
        hd: usize,
    ) -> (Vec<f32>, Vec<f32>) {
        let scale = 1.0 / (hd as f32).sqrt();
        let vt = transpose(v, len, hd);
        let mut probs = vec![0.0; len * len];
        let mut out = vec![0.0; len * hd];
        for i in 0..len {
            let row = &mut probs[i * len..i * len + i + 1];
            dots(Rows::F32(k), hd, 0..i + 1, &q[i * hd..(i + 1) * hd], 1, row);
            row.iter_mut().for_each(|s| *s *= scale);
            softmax_in_place(row);
            // out_i[t] = sum_j p_j v_j[t]: row t of v^T against the probabilities.
            let oi = &mut out[i * hd..(i + 1) * hd];
            dots_strided(Rows::F32(&vt), len, i + 1, 0..hd, row, 1, oi);
        }
        (out, probs)
    }

    fn attention_head_backward(
        &self,
        d_out: &[f32],
        q: &[f32],
        k: &[f32],
        v: &[f32],
        probs: &[f32],
        len: usize,
        hd: usize,
        (dq, dk, dv): (&mut [f32], &mut [f32], &mut [f32]),
    ) {
        let scale = 1.0 / (hd as f32).sqrt();
        let kt = transpose(k, len, hd);
        // dS and P transposed (column j of each as a contiguous row), for dK and dV.
        let mut ds_t = vec![0.0; len * len];
        let mut d_probs = vec![0.0; len];
        let mut ds = vec![0.0; len];
        let mut part = vec![0.0; hd];
        for i in 0..len {
            let p = &probs[i * len..i * len + i + 1];
            let dp = &mut d_probs[..i + 1];
            dots(
                Rows::F32(v),
                hd,
                0..i + 1,
                &d_out[i * hd..(i + 1) * hd],
                1,
                dp,
            );
            let weighted: f32 = p.iter().zip(dp.iter()).map(|(&a, &b)| a * b).sum();
            for j in 0..=i {
                ds[j] = p[j] * (dp[j] - weighted) * scale;
                ds_t[j * len + i] = ds[j];
            }
            dots_strided(
                Rows::F32(&kt),
                len,
                i + 1,
                0..hd,
                &ds[..i + 1],
                1,
                &mut part,
            );
            dq[i * hd..(i + 1) * hd]
                .iter_mut()
                .zip(&part)
                .for_each(|(a, &b)| *a += b);
        }
        let qt = transpose(q, len, hd);
        let dot = transpose(d_out, len, hd);
        let p_t = transpose(probs, len, len);
        // dK_j = sum_{i >= j} dS_ij q_i ; dV_j = sum_{i >= j} P_ij dO_i.
        for j in 0..len {
            let n = len - j;
            dots_strided(
                Rows::F32(&qt[j..]),
                len,
                n,
                0..hd,
                &ds_t[j * len + j..],
                1,
                &mut part,
            );
            dk[j * hd..(j + 1) * hd]
                .iter_mut()
                .zip(&part)
                .for_each(|(a, &b)| *a += b);
            dots_strided(
                Rows::F32(&dot[j..]),
                len,
                n,
                0..hd,
                &p_t[j * len + j..],
                1,
                &mut part,
            );
            dv[j * hd..(j + 1) * hd]
                .iter_mut()
                .zip(&part)
                .for_each(|(a, &b)| *a += b);
        }
    }
}

/// [`crate::model::forward`] with the fast kernels.
pub fn forward(
    w: &ModelWeights<f32>,
    batch: &[ScoredSequence],
    temperature: f64,
) -> (Vec<Vec<f32>>, Activations<f32>) {
    forward_with(&Fast, w, batch, temperature)
}

/// [`crate::model::backward::backward`] with the fast kernels.
pub fn backward(
    w: &ModelWeights<f32>,
    acts: &Activations<f32>,
    d_logps: &[Vec<f32>],
    grads: &mut ModelWeights<f32>,
) {
    backward_with(&Fast, w, acts, d_logps, grads)
}
