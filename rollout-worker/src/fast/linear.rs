//! Weight matrices packed once for decoding, and the matrix-vector product over them.
//!
//! A decoding step multiplies a handful of rows (1 for one sequence, 8 for a group) by every
//! weight matrix, so it is bound by reading the weights: the reference's general matrix product
//! repacks each weight matrix into panels on every call, which costs more than the product. Here
//! the weights are laid out once (row-major `out x in`, with the projections that read the same
//! input fused into one matrix: q|k|v and gate|up) and read once per step, every weight row
//! against all input rows while it is in L1.
//!
//! Threads: each product is one parallel region, its output rows split into one contiguous
//! share per thread (no work stealing of small pieces, so no idle threads spinning for more).

use rayon::prelude::*;

use super::simd::{self, bf16_of, Rows};

/// The element type of packed decoding weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    F32,
    /// Weights rounded to bfloat16 (half the bytes per step); activations and sums stay f32.
    Bf16,
}

enum Data {
    F32(Vec<f32>),
    Bf16(Vec<u16>),
}

/// An `out x in` matrix in the layout the kernels read.
pub struct Packed {
    pub out_dim: usize,
    pub in_dim: usize,
    data: Data,
}

impl Packed {
    /// Stacks `parts` (each `rows x in_dim`, row-major) into one matrix.
    pub fn stack(parts: &[&[f32]], in_dim: usize, precision: Precision) -> Packed {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let data = match precision {
            Precision::F32 => {
                let mut v = Vec::with_capacity(total);
                parts.iter().for_each(|p| v.extend_from_slice(p));
                Data::F32(v)
            }
            Precision::Bf16 => {
                let mut v = Vec::with_capacity(total);
                parts
                    .iter()
                    .for_each(|p| v.extend(p.iter().map(|&x| bf16_of(x))));
                Data::Bf16(v)
            }
        };
        Packed {
            out_dim: total / in_dim,
            in_dim,
            data,
        }
    }

    fn rows(&self) -> Rows<'_> {
        match &self.data {
            Data::F32(v) => Rows::F32(v),
            Data::Bf16(v) => Rows::Bf16(v),
        }
    }

    /// Bytes read per product.
    pub fn bytes(&self) -> usize {
        match &self.data {
            Data::F32(v) => v.len() * 4,
            Data::Bf16(v) => v.len() * 2,
        }
    }

    /// `y (n x out) = x (n x in) W^T`.
    pub fn apply(&self, x: &[f32], n: usize) -> Vec<f32> {
        let (k, m) = (self.in_dim, self.out_dim);
        assert_eq!(x.len(), n * k, "input is not n x in_dim");
        if n == 0 {
            return Vec::new();
        }
        let threads = rayon::current_num_threads().max(1);
        // One share per thread, a multiple of the kernel's 4-row block.
        let share = m.div_ceil(threads).div_ceil(4) * 4;
        let mut transposed = vec![0.0f32; m * n];
        let rows = self.rows();
        transposed
            .par_chunks_mut(share.max(1) * n)
            .enumerate()
            .for_each(|(c, out)| {
                let start = c * share;
                let end = (start + share).min(m);
                simd::dots(rows, k, start..end, x, n, out);
            });
        if n == 1 {
            return transposed;
        }
        let mut y = vec![0.0f32; n * m];
        for (o, col) in transposed.chunks(n).enumerate() {
            for (i, &v) in col.iter().enumerate() {
                y[i * m + o] = v;
            }
        }
        y
    }
}
