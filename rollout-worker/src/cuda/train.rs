//! The training forward and backward on the GPU, line for line the CPU's
//! [`crate::model::forward::forward_with`] and [`crate::model::backward::backward_with`]: the
//! same packed batch, the same activations kept (on the device), the same order of layers.

use cudarc::driver::CudaSlice;

use super::device::{blocks, grid, Gpu};
use super::ops::{self, AttnRows, Buf};
use super::weights::{layer, GpuWeights};
use crate::launch;
use crate::model::ops::Rope;
use crate::model::ScoredSequence;

type Res<T> = anyhow::Result<T>;

/// What one layer's backward pass needs (see [`crate::model::forward::LayerActivations`]).
pub struct LayerActs {
    x_in: Buf,
    inv_rms_attn: Buf,
    x_norm_attn: Buf,
    q: Buf,
    k: Buf,
    v: Buf,
    probs: Buf,
    attn_out: Buf,
    x_mid: Buf,
    inv_rms_ffn: Buf,
    x_norm_ffn: Buf,
    gate: Buf,
    up: Buf,
    hidden: Buf,
}

/// Everything the backward pass needs, on the device.
pub struct GpuActivations {
    rows: usize,
    positions: CudaSlice<i32>,
    tokens: CudaSlice<i32>,
    attn: AttnRows,
    rope: (Buf, Buf),
    layers: Vec<LayerActs>,
    x_final: Buf,
    inv_rms_final: Buf,
    selected: Buf,
    scored_rows: CudaSlice<i32>,
    targets: CudaSlice<i32>,
    /// Softmax over the vocabulary at each scored row; the backward overwrites it with
    /// `d loss / d logits`.
    probs_out: Buf,
    temperature: f32,
}

/// Runs the model on `batch` and returns, per sequence, the log-probabilities of its scored
/// tokens (as [`crate::model::forward`]), and the activations.
pub fn forward(
    gpu: &Gpu,
    w: &GpuWeights,
    batch: &[ScoredSequence],
    temperature: f64,
) -> Res<(Vec<Vec<f32>>, GpuActivations)> {
    let c = &w.config;
    let (d, hd, f) = (c.hidden_size, c.head_dim(), c.intermediate_size);
    let (heads, kv_heads) = (c.num_attention_heads, c.num_key_value_heads);
    let (qd, kvd) = (c.q_dim(), c.kv_dim());
    let mut positions = Vec::new();
    let mut tokens = Vec::new();
    let mut scored_rows = Vec::new();
    let mut targets = Vec::new();
    // Probabilities of sequence s live at prob_base(s) as [position][head][key], `len` keys a row.
    let mut info = Vec::new();
    let mut prob_base = 0usize;
    for seq in batch {
        anyhow::ensure!(seq.first_scored >= 1 && seq.first_scored <= seq.tokens.len());
        let (start, len) = (tokens.len(), seq.tokens.len());
        for i in 0..len {
            let off = prob_base + i * heads * len;
            info.extend([start, i, off, len, len].map(|x| x as i32));
        }
        prob_base += heads * len * len;
        positions.extend((0..len).map(|p| p as i32));
        tokens.extend(seq.tokens.iter().map(|&t| t as i32));
        for t in seq.first_scored..len {
            scored_rows.push((start + t - 1) as i32);
            targets.push(seq.tokens[t] as i32);
        }
    }
    anyhow::ensure!(
        prob_base < i32::MAX as usize,
        "batch too large for 32-bit attention offsets"
    );
    let rows = tokens.len();
    let n_scored = scored_rows.len();
    let max_len = batch.iter().map(|s| s.tokens.len()).max().unwrap_or(1);
    let rope = Rope::<f32>::new(hd, c.rope_theta, max_len.max(1));
    let (cos, sin) = rope.tables();
    let rope = (gpu.upload(cos)?, gpu.upload(sin)?);
    let attn = AttnRows {
        info: gpu.upload(&info)?,
        rows,
        probs_len: prob_base,
    };
    let positions = gpu.upload(&positions)?;
    let tokens_dev = gpu.upload(&tokens)?;
    let scored_dev = gpu.upload(&scored_rows)?;
    let targets_dev = gpu.upload(&targets)?;

    let mut x = gpu.zeros(rows * d)?;
    launch!(gpu, "embed_gather", blocks(rows * d, 256);
        w.embed(), &tokens_dev, &mut x, &(rows as i32), &(d as i32))?;
    let eps = c.rms_norm_eps;
    let mut layers = Vec::with_capacity(c.num_hidden_layers);
    for l in 0..c.num_hidden_layers {
        let lw = |which| w.layer(l, which);
        let (x_norm_attn, inv_rms_attn) = ops::rmsnorm(gpu, &x, lw(layer::ATTN_NORM), rows, eps)?;
        let (mut q, mut k, mut v) = (
            gpu.zeros(rows * qd)?,
            gpu.zeros(rows * kvd)?,
            gpu.zeros(rows * kvd)?,
        );
        gpu.linear(&x_norm_attn, rows, lw(layer::WQ), d, qd, &mut q, 0.0)?;
        gpu.linear(&x_norm_attn, rows, lw(layer::WK), d, kvd, &mut k, 0.0)?;
        gpu.linear(&x_norm_attn, rows, lw(layer::WV), d, kvd, &mut v, 0.0)?;
        ops::rope(gpu, &mut q, &positions, &rope, rows, heads, hd, false)?;
        ops::rope(gpu, &mut k, &positions, &rope, rows, kv_heads, hd, false)?;
        let (attn_out, probs) = ops::attention(gpu, &q, &k, &v, &attn, (heads, kv_heads, hd))?;
        // x_mid = x + o(attn): the projection written over a copy of x (beta = 1).
        let mut x_mid = clone(gpu, &x)?;
        gpu.linear(&attn_out, rows, lw(layer::WO), qd, d, &mut x_mid, 1.0)?;
        let (x_norm_ffn, inv_rms_ffn) = ops::rmsnorm(gpu, &x_mid, lw(layer::FFN_NORM), rows, eps)?;
        let (mut gate, mut up) = (gpu.zeros(rows * f)?, gpu.zeros(rows * f)?);
        gpu.linear(&x_norm_ffn, rows, lw(layer::GATE), d, f, &mut gate, 0.0)?;
        gpu.linear(&x_norm_ffn, rows, lw(layer::UP), d, f, &mut up, 0.0)?;
        let hidden = ops::swiglu(gpu, &gate, &up)?;
        let mut x_out = clone(gpu, &x_mid)?;
        gpu.linear(&hidden, rows, lw(layer::DOWN), f, d, &mut x_out, 1.0)?;
        layers.push(LayerActs {
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
    let fin = &w.tensors[w.final_norm_index()];
    let (x_norm_final, inv_rms_final) = ops::rmsnorm(gpu, &x, fin, rows, eps)?;
    let selected = ops::gather_rows(gpu, &x_norm_final, &scored_dev, n_scored, d)?;
    let vocab = c.vocab_size;
    let mut logits = gpu.zeros(n_scored * vocab)?;
    let out_matrix = &w.tensors[w.output_index()];
    gpu.linear(&selected, n_scored, out_matrix, d, vocab, &mut logits, 0.0)?;
    let mut probs_out = gpu.zeros(n_scored * vocab)?;
    let mut logp = gpu.zeros(n_scored)?;
    if n_scored > 0 {
        launch!(gpu, "log_softmax_at", grid(n_scored, 1, 512);
            &logits, &targets_dev, &mut probs_out, &mut logp, &(vocab as i32),
            &(temperature as f32))?;
    }
    drop(logits);
    let flat = gpu.download(&logp)?;
    let mut logps = Vec::with_capacity(batch.len());
    let mut next = 0;
    for seq in batch {
        let n = seq.tokens.len() - seq.first_scored;
        logps.push(flat[next..next + n].to_vec());
        next += n;
    }
    let acts = GpuActivations {
        rows,
        positions,
        tokens: tokens_dev,
        attn,
        rope,
        layers,
        x_final: x,
        inv_rms_final,
        selected,
        scored_rows: scored_dev,
        targets: targets_dev,
        probs_out,
        temperature: temperature as f32,
    };
    Ok((logps, acts))
}

fn clone(gpu: &Gpu, x: &Buf) -> Res<Buf> {
    gpu.stream
        .clone_dtod(x)
        .map_err(|e| anyhow::anyhow!("GPU copy: {e:?}"))
}

/// Adds the gradient of `sum_i d_logps[i] * logp_i` into `grads` (see
/// [`crate::model::backward::backward`]). Consumes the activations: the logits' gradient is
/// written over the kept softmax.
pub fn backward(
    gpu: &Gpu,
    w: &GpuWeights,
    mut acts: GpuActivations,
    d_logps: &[Vec<f32>],
    grads: &mut GpuWeights,
) -> Res<()> {
    let c = w.config.clone();
    let (d, f, vocab) = (c.hidden_size, c.intermediate_size, c.vocab_size);
    let (heads, kv_heads, hd) = (c.num_attention_heads, c.num_key_value_heads, c.head_dim());
    let (qd, kvd) = (c.q_dim(), c.kv_dim());
    let rows = acts.rows;
    let flat: Vec<f32> = d_logps.iter().flatten().copied().collect();
    let n_scored = acts.selected.len() / d;
    anyhow::ensure!(flat.len() == n_scored, "one gradient per scored token");
    let mut d_norm_final = gpu.zeros(rows * d)?;
    if n_scored > 0 {
        let d_logp = gpu.upload(&flat)?;
        launch!(gpu, "logits_bwd", super::device::blocks(n_scored * vocab, 256);
            &mut acts.probs_out, &acts.targets, &d_logp, &(n_scored as i32), &(vocab as i32),
            &acts.temperature)?;
        let out_index = w.output_index();
        let mut d_selected = gpu.zeros(n_scored * d)?;
        gpu.linear_backward(
            &acts.probs_out,
            &acts.selected,
            n_scored,
            &w.tensors[out_index],
            &mut grads.tensors[out_index],
            d,
            vocab,
            &mut d_selected,
            0.0,
        )?;
        launch!(gpu, "scatter_add_rows", blocks(n_scored * d, 256);
            &d_selected, &acts.scored_rows, &mut d_norm_final, &(n_scored as i32), &(d as i32))?;
    }
    let fin = w.final_norm_index();
    let mut dx = ops::rmsnorm_backward(
        gpu,
        &d_norm_final,
        &acts.x_final,
        &acts.inv_rms_final,
        &w.tensors[fin],
        &mut grads.tensors[fin],
        rows,
    )?;
    for l in (0..c.num_hidden_layers).rev() {
        let a = &acts.layers[l];
        let idx = |which| GpuWeights::index(l, which);
        let lw = |which| &w.tensors[idx(which)];
        // Feed-forward block: x_out = x_mid + down(swiglu(gate(n), up(n))), n = norm(x_mid).
        let mut d_hidden = gpu.zeros(rows * f)?;
        gpu.linear_backward(
            &dx,
            &a.hidden,
            rows,
            lw(layer::DOWN),
            &mut grads.tensors[idx(layer::DOWN)],
            f,
            d,
            &mut d_hidden,
            0.0,
        )?;
        let (d_gate, d_up) = ops::swiglu_backward(gpu, &d_hidden, &a.gate, &a.up)?;
        let mut d_norm = gpu.zeros(rows * d)?;
        for (dy, which, beta) in [(&d_gate, layer::GATE, 0.0), (&d_up, layer::UP, 1.0)] {
            gpu.linear_backward(
                dy,
                &a.x_norm_ffn,
                rows,
                lw(which),
                &mut grads.tensors[idx(which)],
                d,
                f,
                &mut d_norm,
                beta,
            )?;
        }
        let mut d_mid = ops::rmsnorm_backward(
            gpu,
            &d_norm,
            &a.x_mid,
            &a.inv_rms_ffn,
            lw(layer::FFN_NORM),
            &mut grads.tensors[idx(layer::FFN_NORM)],
            rows,
        )?;
        ops::add(gpu, &mut d_mid, &dx)?;

        // Attention block: x_mid = x_in + o(attn(rope(q(n)), rope(k(n)), v(n))), n = norm(x_in).
        let mut d_attn = gpu.zeros(rows * qd)?;
        gpu.linear_backward(
            &d_mid,
            &a.attn_out,
            rows,
            lw(layer::WO),
            &mut grads.tensors[idx(layer::WO)],
            qd,
            d,
            &mut d_attn,
            0.0,
        )?;
        let shape = (heads, kv_heads, hd);
        let (mut dq, mut dk, dv) =
            ops::attention_backward(gpu, &d_attn, &a.q, &a.k, &a.v, &a.probs, &acts.attn, shape)?;
        ops::rope(
            gpu,
            &mut dq,
            &acts.positions,
            &acts.rope,
            rows,
            heads,
            hd,
            true,
        )?;
        ops::rope(
            gpu,
            &mut dk,
            &acts.positions,
            &acts.rope,
            rows,
            kv_heads,
            hd,
            true,
        )?;
        let mut d_norm = gpu.zeros(rows * d)?;
        for (dy, which, width, beta) in [
            (&dq, layer::WQ, qd, 0.0),
            (&dk, layer::WK, kvd, 1.0),
            (&dv, layer::WV, kvd, 1.0),
        ] {
            gpu.linear_backward(
                dy,
                &a.x_norm_attn,
                rows,
                lw(which),
                &mut grads.tensors[idx(which)],
                d,
                width,
                &mut d_norm,
                beta,
            )?;
        }
        let mut d_in = ops::rmsnorm_backward(
            gpu,
            &d_norm,
            &a.x_in,
            &a.inv_rms_attn,
            lw(layer::ATTN_NORM),
            &mut grads.tensors[idx(layer::ATTN_NORM)],
            rows,
        )?;
        ops::add(gpu, &mut d_in, &d_mid)?;
        dx = d_in;
    }
    launch!(gpu, "embed_scatter_add", blocks(rows * d, 256);
        &dx, &acts.tokens, &mut grads.tensors[0], &(rows as i32), &(d as i32))?;
    Ok(())
}
