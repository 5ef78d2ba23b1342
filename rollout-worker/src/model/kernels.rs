//! The kernels the training forward and backward are written over, so that the layer-by-layer
//! code exists once: [`Reference`] is the plain code in [`crate::real`] and [`super::ops`] (the
//! oracle, in any [`Real`]); the fast path ([`crate::fast::train::Fast`]) overrides the ones
//! that dominate a training step, in f32.

use super::ops;
use crate::real::{self, Real};

pub trait Kernels<T: Real>: Sync {
    /// `y = x W^T` (see [`real::linear`]).
    fn linear(&self, x: &[T], rows: usize, w: &[T], in_dim: usize, out_dim: usize) -> Vec<T> {
        real::linear(x, rows, w, in_dim, out_dim)
    }

    /// See [`real::linear_backward`].
    #[allow(clippy::too_many_arguments)]
    fn linear_backward(
        &self,
        dy: &[T],
        x: &[T],
        rows: usize,
        w: &[T],
        d_w: &mut [T],
        in_dim: usize,
        out_dim: usize,
    ) -> Vec<T> {
        real::linear_backward(dy, x, rows, w, d_w, in_dim, out_dim)
    }

    /// See [`ops::swiglu`].
    fn swiglu(&self, gate: &[T], up: &[T]) -> Vec<T> {
        ops::swiglu(gate, up)
    }

    /// See [`ops::swiglu_backward`].
    fn swiglu_backward(&self, dy: &[T], gate: &[T], up: &[T]) -> (Vec<T>, Vec<T>) {
        ops::swiglu_backward(dy, gate, up)
    }

    /// See [`ops::attention_head`].
    fn attention_head(&self, q: &[T], k: &[T], v: &[T], len: usize, hd: usize) -> (Vec<T>, Vec<T>) {
        ops::attention_head(q, k, v, len, hd)
    }

    /// See [`ops::attention_head_backward`].
    #[allow(clippy::too_many_arguments)]
    fn attention_head_backward(
        &self,
        d_out: &[T],
        q: &[T],
        k: &[T],
        v: &[T],
        probs: &[T],
        len: usize,
        hd: usize,
        grads: (&mut [T], &mut [T], &mut [T]),
    ) {
        ops::attention_head_backward(d_out, q, k, v, probs, len, hd, grads)
    }
}

/// The plain kernels: the oracle.
pub struct Reference;

impl<T: Real> Kernels<T> for Reference {}
