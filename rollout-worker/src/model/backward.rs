//! The backward pass of [`super::forward`]: given `d loss / d logp` for every scored token,
//! accumulates `d loss / d weight` into a gradient buffer of the same shape as the weights.
//! Written out layer by layer in reverse, mirroring the forward code.

use rayon::prelude::*;

use super::forward::{gather_head, scatter_add_head, Activations};
use super::kernels::{Kernels, Reference};
use super::ops::{self, Rope};
use super::ModelWeights;
use crate::real::Real;

/// Adds the gradient of `sum_i d_logps[i] * logp_i` into `grads`.
pub fn backward<T: Real>(
    w: &ModelWeights<T>,
    acts: &Activations<T>,
    d_logps: &[Vec<T>],
    grads: &mut ModelWeights<T>,
) {
    backward_with(&Reference, w, acts, d_logps, grads)
}

/// [`backward`] with the given kernels.
pub fn backward_with<T: Real, K: Kernels<T>>(
    kern: &K,
    w: &ModelWeights<T>,
    acts: &Activations<T>,
    d_logps: &[Vec<T>],
    grads: &mut ModelWeights<T>,
) {
    let c = &w.config;
    let (d, v, f) = (c.hidden_size, c.vocab_size, c.intermediate_size);
    let rows = acts.rows;
    let flat: Vec<T> = d_logps.iter().flatten().copied().collect();
    assert_eq!(
        flat.len(),
        acts.scored_rows.len(),
        "one gradient per scored token"
    );

    // logp = z[t]/tau - logsumexp(z/tau)  =>  d logp / d z = (onehot(t) - softmax(z/tau)) / tau.
    let mut d_logits = vec![T::zero(); flat.len() * v];
    d_logits.par_chunks_mut(v).enumerate().for_each(|(i, row)| {
        let probs = &acts.probs_out[i * v..(i + 1) * v];
        let g = flat[i] / acts.temperature;
        for (dz, &p) in row.iter_mut().zip(probs) {
            *dz = -g * p;
        }
        row[acts.targets[i]] += g;
    });
    let selected: Vec<T> = acts
        .scored_rows
        .iter()
        .flat_map(|&r| acts.x_norm_final[r * d..(r + 1) * d].iter().copied())
        .collect();
    let d_selected = {
        let (out_matrix, d_out_matrix) = match (&w.lm_head, &mut grads.lm_head) {
            (Some(head), Some(d_head)) => (head, d_head),
            _ => (&w.embed, &mut grads.embed),
        };
        kern.linear_backward(
            &d_logits,
            &selected,
            flat.len(),
            out_matrix,
            d_out_matrix,
            d,
            v,
        )
    };
    let mut d_norm_final = vec![T::zero(); rows * d];
    for (i, &r) in acts.scored_rows.iter().enumerate() {
        for j in 0..d {
            d_norm_final[r * d + j] += d_selected[i * d + j];
        }
    }
    let mut dx = ops::rmsnorm_backward(
        &d_norm_final,
        &acts.x_final,
        &acts.inv_rms_final,
        &w.final_norm,
        &mut grads.final_norm,
    );

    let max_len = acts.spans.iter().map(|s| s.1).max().unwrap_or(1);
    let rope = Rope::<T>::new(c.head_dim(), c.rope_theta, max_len);
    for (l, (lw, a)) in w.layers.iter().zip(&acts.layers).enumerate().rev() {
        let lg = &mut grads.layers[l];
        // Feed-forward block: x_out = x_mid + down(swiglu(gate(n), up(n))), n = norm(x_mid).
        let d_hidden = kern.linear_backward(&dx, &a.hidden, rows, &lw.w_down, &mut lg.w_down, f, d);
        let (d_gate, d_up) = kern.swiglu_backward(&d_hidden, &a.gate, &a.up);
        let mut d_norm = kern.linear_backward(
            &d_gate,
            &a.x_norm_ffn,
            rows,
            &lw.w_gate,
            &mut lg.w_gate,
            d,
            f,
        );
        let d_norm_up =
            kern.linear_backward(&d_up, &a.x_norm_ffn, rows, &lw.w_up, &mut lg.w_up, d, f);
        d_norm
            .iter_mut()
            .zip(&d_norm_up)
            .for_each(|(a, &b)| *a += b);
        let d_mid_norm = ops::rmsnorm_backward(
            &d_norm,
            &a.x_mid,
            &a.inv_rms_ffn,
            &lw.ffn_norm,
            &mut lg.ffn_norm,
        );
        let d_mid: Vec<T> = dx.iter().zip(&d_mid_norm).map(|(&a, &b)| a + b).collect();

        // Attention block: x_mid = x_in + o(attn(rope(q(n)), rope(k(n)), v(n))), n = norm(x_in).
        let d_attn =
            kern.linear_backward(&d_mid, &a.attn_out, rows, &lw.wo, &mut lg.wo, c.q_dim(), d);
        let (mut dq, mut dk, dv) = attention_backward(kern, c, acts, a, &d_attn);
        rope.rotate_rows(&mut dq, c.q_dim(), &acts.positions, true);
        rope.rotate_rows(&mut dk, c.kv_dim(), &acts.positions, true);
        let mut d_norm =
            kern.linear_backward(&dq, &a.x_norm_attn, rows, &lw.wq, &mut lg.wq, d, c.q_dim());
        for (dy, wt, dwt) in [(&dk, &lw.wk, &mut lg.wk), (&dv, &lw.wv, &mut lg.wv)] {
            let part = kern.linear_backward(dy, &a.x_norm_attn, rows, wt, dwt, d, c.kv_dim());
            d_norm.iter_mut().zip(&part).for_each(|(a, &b)| *a += b);
        }
        let d_in_norm = ops::rmsnorm_backward(
            &d_norm,
            &a.x_in,
            &a.inv_rms_attn,
            &lw.attn_norm,
            &mut lg.attn_norm,
        );
        dx = d_mid.iter().zip(&d_in_norm).map(|(&a, &b)| a + b).collect();
    }

    for (r, &tok) in acts.tokens.iter().enumerate() {
        let row = &mut grads.embed[tok as usize * d..(tok as usize + 1) * d];
        for (g, &x) in row.iter_mut().zip(&dx[r * d..(r + 1) * d]) {
            *g += x;
        }
    }
}

/// Gradients of queries, keys and values (still rotated), in parallel over (sequence, kv head):
/// each job owns one key/value head and the query heads that share it.
fn attention_backward<T: Real, K: Kernels<T>>(
    kern: &K,
    c: &super::ModelConfig,
    acts: &Activations<T>,
    a: &super::forward::LayerActivations<T>,
    d_attn: &[T],
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let (hd, heads, kv_heads, group) = (
        c.head_dim(),
        c.num_attention_heads,
        c.num_key_value_heads,
        c.group_size(),
    );
    let (qd, kvd) = (c.q_dim(), c.kv_dim());
    let jobs: Vec<(usize, usize)> = (0..acts.spans.len())
        .flat_map(|s| (0..kv_heads).map(move |g| (s, g)))
        .collect();
    type Grads<T> = (Vec<Vec<T>>, Vec<T>, Vec<T>);
    let results: Vec<Grads<T>> = jobs
        .par_iter()
        .map(|&(s, g)| {
            let span = acts.spans[s];
            let len = span.1;
            let kh = gather_head(&a.k, kvd, span, g, hd);
            let vh = gather_head(&a.v, kvd, span, g, hd);
            let mut dk = vec![T::zero(); len * hd];
            let mut dv = vec![T::zero(); len * hd];
            let mut dqs = Vec::with_capacity(group);
            for h in g * group..(g + 1) * group {
                let qh = gather_head(&a.q, qd, span, h, hd);
                let doh = gather_head(d_attn, qd, span, h, hd);
                let mut dq = vec![T::zero(); len * hd];
                let probs = &a.probs[s * heads + h];
                kern.attention_head_backward(
                    &doh,
                    &qh,
                    &kh,
                    &vh,
                    probs,
                    len,
                    hd,
                    (&mut dq, &mut dk, &mut dv),
                );
                dqs.push(dq);
            }
            (dqs, dk, dv)
        })
        .collect();
    let mut dq = vec![T::zero(); acts.rows * qd];
    let mut dk = vec![T::zero(); acts.rows * kvd];
    let mut dv = vec![T::zero(); acts.rows * kvd];
    for (&(s, g), (dqs, dkh, dvh)) in jobs.iter().zip(results) {
        let span = acts.spans[s];
        for (i, dqh) in dqs.iter().enumerate() {
            scatter_add_head(&mut dq, qd, span, g * group + i, hd, dqh);
        }
        scatter_add_head(&mut dk, kvd, span, g, hd, &dkh);
        scatter_add_head(&mut dv, kvd, span, g, hd, &dvh);
    }
    (dq, dk, dv)
}
