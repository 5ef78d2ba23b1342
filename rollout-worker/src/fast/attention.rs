//! Causal attention of one (sequence, head) for training, as small matrix products: scores
//! `Q K^T`, output `P V`, and in the backward pass `dO V^T`, `dS K`, `dS^T Q`, `P^T dO`.
//!
//! The rows are taken in blocks of [`BLOCK`] queries; a block only multiplies against the keys
//! at or before its last row, so the products skip most of the masked upper triangle (at 256
//! positions: 62% of the full square's work). The caller runs many heads in parallel, so every
//! product here is single-threaded.
//!
//! The products go through the `gemm` crate rather than `matrixmultiply` (which the big
//! training products use): `matrixmultiply`'s threading hands even these 256 x 64 x 256
//! products to its own thread pool, which competes with the rayon jobs calling it, and `gemm`
//! single-threaded measured 120-150 GFLOP/s on them (72 heads in parallel on 2 cores). The
//! previous eight-wide dot products per row spent 14% of a 8x256 training step here, about
//! 27 GFLOP/s.

/// Query rows per block.
const BLOCK: usize = 64;

/// A row-major matrix view with explicit strides: the slice, rows, columns, row stride,
/// column stride.
type View<'a> = (&'a [f32], usize, usize, isize, isize);

/// Furthest element a `rows x cols` view with these strides touches, plus one.
fn extent(rows: usize, cols: usize, rs: isize, cs: isize) -> usize {
    if rows == 0 || cols == 0 {
        return 0;
    }
    (rows - 1) * rs as usize + (cols - 1) * cs as usize + 1
}

/// `C = A B` (`accumulate`: `C += A B`), single-threaded and bounds-checked. `c` is row-major
/// with row stride `c_rs`.
fn product(a: View, b: View, c: &mut [f32], c_rs: usize, accumulate: bool) {
    let (a, m, k, a_rs, a_cs) = a;
    let (b, k2, n, b_rs, b_cs) = b;
    assert_eq!(k, k2, "inner dimensions differ");
    assert!(extent(m, k, a_rs, a_cs) <= a.len(), "A out of bounds");
    assert!(extent(k, n, b_rs, b_cs) <= b.len(), "B out of bounds");
    assert!(extent(m, n, c_rs as isize, 1) <= c.len(), "C out of bounds");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for row in 0..m {
                c[row * c_rs..row * c_rs + n].fill(0.0);
            }
        }
        return;
    }
    // SAFETY: the asserts above keep every access of the three views inside their slices.
    // gemm computes dst = alpha * dst + beta * lhs * rhs, reading dst only when asked to.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            c_rs as isize,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// The query blocks: `(first row, rows)`.
fn blocks(len: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..len)
        .step_by(BLOCK)
        .map(move |r0| (r0, BLOCK.min(len - r0)))
}

/// Forward: `q`, `k`, `v` are `len x hd`. Returns the output (`len x hd`) and the attention
/// probabilities (`len x len`, zero above the diagonal).
pub fn forward(q: &[f32], k: &[f32], v: &[f32], len: usize, hd: usize) -> (Vec<f32>, Vec<f32>) {
    let scale = 1.0 / (hd as f32).sqrt();
    let (l, h) = (len as isize, hd as isize);
    let mut probs = vec![0.0; len * len];
    let mut out = vec![0.0; len * hd];
    for (r0, rows) in blocks(len) {
        let keys = r0 + rows;
        let p = &mut probs[r0 * len..];
        // S = Q_block K^T over the keys the block can see.
        product(
            (&q[r0 * hd..], rows, hd, h, 1),
            (k, hd, keys, 1, h),
            p,
            len,
            false,
        );
        for i in 0..rows {
            let row = &mut p[i * len..i * len + keys];
            let seen = r0 + i + 1;
            row.iter_mut().for_each(|s| *s *= scale);
            crate::model::ops::softmax_in_place(&mut row[..seen]);
            row[seen..].fill(0.0);
        }
        product(
            (&probs[r0 * len..], rows, keys, l, 1),
            (v, keys, hd, h, 1),
            &mut out[r0 * hd..],
            hd,
            false,
        );
    }
    (out, probs)
}

/// Backward of [`forward`]: adds the gradients into `dq`, `dk`, `dv` (`len x hd` each; heads
/// that share keys and values add into the same `dk`, `dv`).
#[allow(clippy::too_many_arguments)]
pub fn backward(
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
    let (l, h) = (len as isize, hd as isize);
    let mut ds = vec![0.0; BLOCK * len];
    for (r0, rows) in blocks(len) {
        let keys = r0 + rows;
        let p = &probs[r0 * len..];
        let d_o = &d_out[r0 * hd..];
        // dV[..keys] += P_block^T dO_block.
        product((p, keys, rows, 1, l), (d_o, rows, hd, h, 1), dv, hd, true);
        // dP = dO_block V^T; dS = P (dP - sum_j P dP) * scale, zero where P is.
        product(
            (d_o, rows, hd, h, 1),
            (v, hd, keys, 1, h),
            &mut ds,
            len,
            false,
        );
        for i in 0..rows {
            let p_row = &p[i * len..i * len + keys];
            let ds_row = &mut ds[i * len..i * len + keys];
            let weighted: f32 = p_row.iter().zip(ds_row.iter()).map(|(&a, &b)| a * b).sum();
            for (g, &pj) in ds_row.iter_mut().zip(p_row) {
                *g = pj * (*g - weighted) * scale;
            }
        }
        // dQ_block += dS K ; dK[..keys] += dS^T Q_block.
        product(
            (&ds, rows, keys, l, 1),
            (k, keys, hd, h, 1),
            &mut dq[r0 * hd..],
            hd,
            true,
        );
        product(
            (&ds, keys, rows, 1, l),
            (&q[r0 * hd..], rows, hd, h, 1),
            dk,
            hd,
            true,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ops;

    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = crate::rng::Rng::new(seed);
        (0..n).map(|_| rng.uniform() as f32 * 2.0 - 1.0).collect()
    }

    /// Lengths below, at and across the block size, against the reference's scalar loops.
    #[test]
    fn matches_the_reference_forward_and_backward() {
        let hd = 16;
        for len in [1, 5, BLOCK, BLOCK + 3, 2 * BLOCK + 17] {
            let (q, k, v) = (
                values(len * hd, 1),
                values(len * hd, 2),
                values(len * hd, 3),
            );
            let d_out = values(len * hd, 4);
            let (out, probs) = forward(&q, &k, &v, len, hd);
            let (out_ref, probs_ref) = ops::attention_head(&q, &k, &v, len, hd);
            let close = |a: &[f32], b: &[f32], what: &str| {
                assert_eq!(a.len(), b.len());
                for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
                    assert!(
                        (x - y).abs() <= 1e-5 + 1e-4 * y.abs(),
                        "{what} {i} at len {len}: {x} vs {y}"
                    );
                }
            };
            close(&out, &out_ref, "output");
            close(&probs, &probs_ref, "probability");
            // Start from non-zero gradients: the backward adds into them.
            let start = values(len * hd, 5);
            let (mut dq, mut dk, mut dv) = (start.clone(), start.clone(), start.clone());
            backward(
                &d_out,
                &q,
                &k,
                &v,
                &probs,
                len,
                hd,
                (&mut dq, &mut dk, &mut dv),
            );
            let (mut rq, mut rk, mut rv) = (start.clone(), start.clone(), start);
            ops::attention_head_backward(
                &d_out,
                &q,
                &k,
                &v,
                &probs_ref,
                len,
                hd,
                (&mut rq, &mut rk, &mut rv),
            );
            close(&dq, &rq, "dq");
            close(&dk, &rk, "dk");
            close(&dv, &rv, "dv");
        }
    }
}
