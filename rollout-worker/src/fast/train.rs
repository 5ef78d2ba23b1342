//! The training forward and backward on the fast path: the reference's layer-by-layer code
//! ([`crate::model::forward::forward_with`], [`crate::model::backward::backward_with`]) with
//! attention as blocked small matrix products ([`super::attention`]) instead of the reference's
//! scalar loops, and the elementwise ops in parallel. The large matrix products stay on
//! `matrixmultiply`, whose packing is paid once per product over thousands of rows here.

use rayon::prelude::*;

use super::attention;
use crate::model::backward::backward_with;
use crate::model::forward::forward_with;
use crate::model::kernels::Kernels;
use crate::model::ops;
use crate::model::{Activations, ModelWeights, ScoredSequence};

/// The fast kernels (f32).
pub struct Fast;

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
        attention::forward(q, k, v, len, hd)
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
        grads: (&mut [f32], &mut [f32], &mut [f32]),
    ) {
        attention::backward(d_out, q, k, v, probs, len, hd, grads)
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
