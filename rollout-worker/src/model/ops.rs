//! The small kernels of the decoder, each with its backward next to it: RMSNorm, rotary
//! embeddings, SwiGLU and causal attention of one head over one sequence.

use crate::real::Real;

/// RMSNorm over rows of width `d`: `y = x / sqrt(mean(x^2) + eps) * weight`.
/// Returns `y` and the per-row reciprocal RMS (kept for the backward pass).
pub fn rmsnorm<T: Real>(x: &[T], weight: &[T], eps: f64) -> (Vec<T>, Vec<T>) {
    let d = weight.len();
    let rows = x.len() / d;
    let mut y = vec![T::zero(); x.len()];
    let mut inv_rms = vec![T::zero(); rows];
    for r in 0..rows {
        let row = &x[r * d..(r + 1) * d];
        let mean_sq = row.iter().map(|&v| v * v).sum::<T>() / T::of(d as f64);
        let inv = T::one() / (mean_sq + T::of(eps)).sqrt();
        inv_rms[r] = inv;
        for i in 0..d {
            y[r * d + i] = row[i] * inv * weight[i];
        }
    }
    (y, inv_rms)
}

/// Backward of [`rmsnorm`]: adds into `d_weight`, returns `dx`.
/// With `n = x * inv`: `dx = inv * (g - n * mean(g * n))` where `g = dy * weight`.
pub fn rmsnorm_backward<T: Real>(
    dy: &[T],
    x: &[T],
    inv_rms: &[T],
    weight: &[T],
    d_weight: &mut [T],
) -> Vec<T> {
    let d = weight.len();
    let mut dx = vec![T::zero(); x.len()];
    for (r, &inv) in inv_rms.iter().enumerate() {
        let (xr, dyr) = (&x[r * d..(r + 1) * d], &dy[r * d..(r + 1) * d]);
        let mut dot = T::zero();
        for i in 0..d {
            let n = xr[i] * inv;
            d_weight[i] += dyr[i] * n;
            dot += dyr[i] * weight[i] * n;
        }
        let mean = dot / T::of(d as f64);
        for i in 0..d {
            let n = xr[i] * inv;
            dx[r * d + i] = inv * (dyr[i] * weight[i] - n * mean);
        }
    }
    dx
}

/// Cosine and sine tables for rotary embeddings: `angle(pos, i) = pos * theta^(-2i / head_dim)`.
pub struct Rope<T> {
    half: usize,
    cos: Vec<T>,
    sin: Vec<T>,
}

impl<T: Real> Rope<T> {
    pub fn new(head_dim: usize, theta: f64, max_pos: usize) -> Rope<T> {
        let half = head_dim / 2;
        let mut cos = Vec::with_capacity(max_pos * half);
        let mut sin = Vec::with_capacity(max_pos * half);
        for pos in 0..max_pos {
            for i in 0..half {
                let freq = theta.powf(-((2 * i) as f64) / head_dim as f64);
                let angle = pos as f64 * freq;
                cos.push(T::of(angle.cos()));
                sin.push(T::of(angle.sin()));
            }
        }
        Rope { half, cos, sin }
    }

    /// The cosine and sine tables, `max_pos x head_dim/2` (the GPU backend uploads them, so both
    /// sides rotate by the same rounded angles).
    pub fn tables(&self) -> (&[T], &[T]) {
        (&self.cos, &self.sin)
    }

    /// Rotates one head vector in place at `pos`, HF `rotate_half` layout: element `i` pairs
    /// with `i + head_dim/2`. `inverse` applies the transpose (the backward pass).
    pub fn rotate(&self, v: &mut [T], pos: usize, inverse: bool) {
        let h = self.half;
        assert!(
            (pos + 1) * h <= self.cos.len(),
            "position {pos} beyond the rope table"
        );
        for i in 0..h {
            let (c, mut s) = (self.cos[pos * h + i], self.sin[pos * h + i]);
            if inverse {
                s = -s;
            }
            let (a, b) = (v[i], v[i + h]);
            v[i] = a * c - b * s;
            v[i + h] = b * c + a * s;
        }
    }

    /// Rotates every head of each row, row `r` at position `positions[r]`.
    pub fn rotate_rows(&self, x: &mut [T], width: usize, positions: &[usize], inverse: bool) {
        let head_dim = 2 * self.half;
        for (r, &pos) in positions.iter().enumerate() {
            for head in x[r * width..(r + 1) * width].chunks_mut(head_dim) {
                self.rotate(head, pos, inverse);
            }
        }
    }
}

pub fn sigmoid<T: Real>(x: T) -> T {
    T::one() / (T::one() + (-x).exp())
}

/// SwiGLU: `silu(gate) * up`.
pub fn swiglu<T: Real>(gate: &[T], up: &[T]) -> Vec<T> {
    gate.iter()
        .zip(up)
        .map(|(&g, &u)| g * sigmoid(g) * u)
        .collect()
}

/// Backward of [`swiglu`]: returns `(d_gate, d_up)`.
pub fn swiglu_backward<T: Real>(dy: &[T], gate: &[T], up: &[T]) -> (Vec<T>, Vec<T>) {
    let mut d_gate = vec![T::zero(); gate.len()];
    let mut d_up = vec![T::zero(); gate.len()];
    for i in 0..gate.len() {
        let (g, s) = (gate[i], sigmoid(gate[i]));
        d_up[i] = dy[i] * g * s;
        d_gate[i] = dy[i] * up[i] * s * (T::one() + g * (T::one() - s));
    }
    (d_gate, d_up)
}

/// Log-softmax of `logits / temperature` at `target`, and the softmax itself. The sum of the
/// exponentials (49,152 of them for SmolLM2) is accumulated in f64: summed in order in f32 its
/// rounding error grows with the vocabulary (6x transformers' error before this).
pub fn log_softmax_at<T: Real>(logits: &[T], target: usize, temperature: T) -> (T, Vec<T>) {
    let max = logits.iter().fold(T::neg_infinity(), |m, &z| m.max(z)) / temperature;
    let mut probs: Vec<T> = logits
        .iter()
        .map(|&z| (z / temperature - max).exp())
        .collect();
    let total: f64 = probs.iter().map(|&p| p.to_f64()).sum();
    let inv = T::of(1.0 / total);
    probs.iter_mut().for_each(|p| *p *= inv);
    (
        logits[target] / temperature - max - T::of(total.ln()),
        probs,
    )
}

/// Causal attention of one query head over one sequence of `len` positions.
/// `q`, `k`, `v` are `len x head_dim` (contiguous). Returns the output and the attention
/// probabilities (`len x len`, zero above the diagonal).
pub fn attention_head<T: Real>(
    q: &[T],
    k: &[T],
    v: &[T],
    len: usize,
    hd: usize,
) -> (Vec<T>, Vec<T>) {
    let scale = T::one() / T::of(hd as f64).sqrt();
    let mut probs = vec![T::zero(); len * len];
    let mut out = vec![T::zero(); len * hd];
    for i in 0..len {
        let qi = &q[i * hd..(i + 1) * hd];
        let row = &mut probs[i * len..i * len + i + 1];
        for (j, p) in row.iter_mut().enumerate() {
            *p = dot(qi, &k[j * hd..(j + 1) * hd]) * scale;
        }
        softmax_in_place(row);
        let oi = &mut out[i * hd..(i + 1) * hd];
        for (j, &p) in row.iter().enumerate() {
            for (o, &vv) in oi.iter_mut().zip(&v[j * hd..(j + 1) * hd]) {
                *o += p * vv;
            }
        }
    }
    (out, probs)
}

/// Backward of [`attention_head`]: adds into `dq`, `dk`, `dv`.
/// `dS = P * (dP - rowsum(dP * P))`, `dq = dS k / sqrt(hd)`, `dk = dS^T q / sqrt(hd)`, `dv = P^T dO`.
#[allow(clippy::too_many_arguments)]
pub fn attention_head_backward<T: Real>(
    d_out: &[T],
    q: &[T],
    k: &[T],
    v: &[T],
    probs: &[T],
    len: usize,
    hd: usize,
    (dq, dk, dv): (&mut [T], &mut [T], &mut [T]),
) {
    let scale = T::one() / T::of(hd as f64).sqrt();
    let mut d_probs = vec![T::zero(); len];
    for i in 0..len {
        let doi = &d_out[i * hd..(i + 1) * hd];
        let p = &probs[i * len..i * len + i + 1];
        for j in 0..=i {
            d_probs[j] = dot(doi, &v[j * hd..(j + 1) * hd]);
            for (dvv, &g) in dv[j * hd..(j + 1) * hd].iter_mut().zip(doi) {
                *dvv += p[j] * g;
            }
        }
        let weighted: T = (0..=i).map(|j| p[j] * d_probs[j]).sum();
        for j in 0..=i {
            let ds = p[j] * (d_probs[j] - weighted) * scale;
            for t in 0..hd {
                dq[i * hd + t] += ds * k[j * hd + t];
                dk[j * hd + t] += ds * q[i * hd + t];
            }
        }
    }
}

pub fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    a.iter().zip(b).map(|(&x, &y)| x * y).sum()
}

pub fn softmax_in_place<T: Real>(row: &mut [T]) {
    let max = row.iter().fold(T::neg_infinity(), |m, &z| m.max(z));
    let mut total = T::zero();
    for p in row.iter_mut() {
        *p = (*p - max).exp();
        total += *p;
    }
    row.iter_mut().for_each(|p| *p /= total);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_softmax_over_a_large_vocabulary_is_accurate_in_f32() {
        // 49,152 logits of similar size: an in-order f32 sum of their exponentials drifts.
        let mut rng = crate::rng::Rng::new(9);
        let logits: Vec<f32> = (0..49_152).map(|_| (0.5 * rng.normal()) as f32).collect();
        let exact: Vec<f64> = logits.iter().map(|&z| z as f64).collect();
        let (lp, probs) = log_softmax_at(&logits, 7, 1.0f32);
        let (want, _) = log_softmax_at(&exact, 7, 1.0f64);
        assert!((lp as f64 - want).abs() < 2e-6, "{lp} vs {want}");
        let mass: f64 = probs.iter().map(|&p| p as f64).sum();
        assert!((mass - 1.0).abs() < 1e-5, "{mass}");
        // The old in-order f32 sum, for the record of what this guards against.
        let max = logits.iter().fold(f32::NEG_INFINITY, |m, &z| m.max(z));
        let naive: f32 = logits.iter().map(|&z| (z - max).exp()).sum();
        let old = logits[7] - max - naive.ln();
        println!(
            "log p: f64 sum error {:.2e}, in-order f32 sum error {:.2e}",
            (lp as f64 - want).abs(),
            (old as f64 - want).abs()
        );
    }
}
