//! KV-cache decoding on the GPU, as [`crate::model::decode::Decoder::step`]: each call appends
//! rows (tokens) to cache slots and returns the logits of the rows that want them. The cache is
//! one pool per layer, `slots x max_pos x kv_dim`, so a batch of rows from different sequences
//! is one launch per kernel; [`generate`] is [`crate::sampling::generate_with`] over slots
//! (a prompt's slot copied on the device to the slots of its `G` completions).

use cudarc::driver::CudaSlice;

use super::device::{blocks, Gpu};
use super::ops::{self, AttnRows, Buf};
use super::weights::{layer, GpuWeights};
use crate::launch;
use crate::model::ops::Rope;
use crate::rng::Rng;
use crate::sampling::{positions_needed, sample_token, SamplingConfig};

type Res<T> = anyhow::Result<T>;

pub struct GpuDecoder<'w> {
    gpu: &'w Gpu,
    w: &'w GpuWeights,
    rope: (Buf, Buf),
    keys: Vec<Buf>,
    values: Vec<Buf>,
    /// Positions filled in each slot.
    pub lens: Vec<usize>,
    max_pos: usize,
}

/// One input row: the slot it extends, its token, and whether its logits are wanted.
#[derive(Debug, Clone, Copy)]
pub struct SlotRow {
    pub slot: usize,
    pub token: u32,
    pub want_logits: bool,
}

impl<'w> GpuDecoder<'w> {
    pub fn new(gpu: &'w Gpu, w: &'w GpuWeights, slots: usize, max_pos: usize) -> Res<Self> {
        let c = &w.config;
        let rope = Rope::<f32>::new(c.head_dim(), c.rope_theta, max_pos);
        let (cos, sin) = rope.tables();
        let pool = slots * max_pos * c.kv_dim();
        let mut keys = Vec::new();
        let mut values = Vec::new();
        for _ in 0..c.num_hidden_layers {
            keys.push(gpu.zeros(pool)?);
            values.push(gpu.zeros(pool)?);
        }
        Ok(GpuDecoder {
            gpu,
            w,
            rope: (gpu.upload(cos)?, gpu.upload(sin)?),
            keys,
            values,
            lens: vec![0; slots],
            max_pos,
        })
    }

    /// Copies slot `src`'s filled positions to slot `dst`, every layer.
    pub fn copy_slot(&mut self, src: usize, dst: usize) -> Res<()> {
        let kvd = self.w.config.kv_dim();
        let n = self.lens[src] * kvd;
        let (from, to) = (
            (src * self.max_pos * kvd) as i64,
            (dst * self.max_pos * kvd) as i64,
        );
        for l in 0..self.keys.len() {
            let gpu = self.gpu;
            launch!(gpu, "kv_copy", blocks(n, 256);
                &mut self.keys[l], &mut self.values[l], &from, &to, &(n as i64))?;
        }
        self.lens[dst] = self.lens[src];
        Ok(())
    }

    /// Runs `rows` (rows of the same slot in order) and returns the logits of the rows that
    /// want them, in row order.
    pub fn step(&mut self, rows: &[SlotRow]) -> Res<Vec<Vec<f32>>> {
        let (gpu, w) = (self.gpu, self.w);
        let c = &w.config;
        let (d, hd, f, n) = (c.hidden_size, c.head_dim(), c.intermediate_size, rows.len());
        let (heads, kv_heads) = (c.num_attention_heads, c.num_key_value_heads);
        let (qd, kvd) = (c.q_dim(), c.kv_dim());
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut positions = Vec::with_capacity(n);
        let mut dst_rows = Vec::with_capacity(n);
        let mut info = Vec::with_capacity(5 * n);
        for (i, r) in rows.iter().enumerate() {
            let pos = self.lens[r.slot];
            anyhow::ensure!(pos < self.max_pos, "slot {} is full ({pos})", r.slot);
            self.lens[r.slot] += 1;
            positions.push(pos as i32);
            let base = r.slot * self.max_pos;
            dst_rows.push((base + pos) as i32);
            // Scores go to a scratch row per (row, head), `max_pos` wide.
            let off = i * heads * self.max_pos;
            info.extend([base, pos, off, self.max_pos, pos + 1].map(|x| x as i32));
        }
        let positions = gpu.upload(&positions)?;
        let dst_rows = gpu.upload(&dst_rows)?;
        let attn = AttnRows {
            info: gpu.upload(&info)?,
            rows: n,
            probs_len: n * heads * self.max_pos,
        };
        let tokens: Vec<i32> = rows.iter().map(|r| r.token as i32).collect();
        let tokens = gpu.upload(&tokens)?;
        let mut x = gpu.zeros(n * d)?;
        launch!(gpu, "embed_gather", blocks(n * d, 256);
            w.embed(), &tokens, &mut x, &(n as i32), &(d as i32))?;
        let eps = c.rms_norm_eps;
        for l in 0..c.num_hidden_layers {
            let lw = |which| w.layer(l, which);
            let (xn, _) = ops::rmsnorm(gpu, &x, lw(layer::ATTN_NORM), n, eps)?;
            let (mut q, mut k, mut v) =
                (gpu.zeros(n * qd)?, gpu.zeros(n * kvd)?, gpu.zeros(n * kvd)?);
            gpu.linear(&xn, n, lw(layer::WQ), d, qd, &mut q, 0.0)?;
            gpu.linear(&xn, n, lw(layer::WK), d, kvd, &mut k, 0.0)?;
            gpu.linear(&xn, n, lw(layer::WV), d, kvd, &mut v, 0.0)?;
            ops::rope(gpu, &mut q, &positions, &self.rope, n, heads, hd, false)?;
            ops::rope(gpu, &mut k, &positions, &self.rope, n, kv_heads, hd, false)?;
            // Every row's key and value go in before any row attends (a prefill's later rows
            // see its earlier ones).
            launch!(gpu, "kv_append", blocks(n * kvd, 256);
                &k, &v, &mut self.keys[l], &mut self.values[l], &dst_rows, &(n as i32),
                &(kvd as i32))?;
            let (out, _) = ops::attention(
                gpu,
                &q,
                &self.keys[l],
                &self.values[l],
                &attn,
                (heads, kv_heads, hd),
            )?;
            gpu.linear(&out, n, lw(layer::WO), qd, d, &mut x, 1.0)?;
            let (xn, _) = ops::rmsnorm(gpu, &x, lw(layer::FFN_NORM), n, eps)?;
            let (mut gate, mut up) = (gpu.zeros(n * f)?, gpu.zeros(n * f)?);
            gpu.linear(&xn, n, lw(layer::GATE), d, f, &mut gate, 0.0)?;
            gpu.linear(&xn, n, lw(layer::UP), d, f, &mut up, 0.0)?;
            let hidden = ops::swiglu(gpu, &gate, &up)?;
            gpu.linear(&hidden, n, lw(layer::DOWN), f, d, &mut x, 1.0)?;
        }
        let wanted: Vec<i32> = (0..n)
            .filter(|&i| rows[i].want_logits)
            .map(|i| i as i32)
            .collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let idx: CudaSlice<i32> = gpu.upload(&wanted)?;
        let selected = ops::gather_rows(gpu, &x, &idx, wanted.len(), d)?;
        let fin = &w.tensors[w.final_norm_index()];
        let (xn, _) = ops::rmsnorm(gpu, &selected, fin, wanted.len(), eps)?;
        let vocab = c.vocab_size;
        let mut logits = gpu.zeros(wanted.len() * vocab)?;
        let out_matrix = &w.tensors[w.output_index()];
        gpu.linear(&xn, wanted.len(), out_matrix, d, vocab, &mut logits, 0.0)?;
        let host = gpu.download(&logits)?;
        Ok(host.chunks(vocab).map(<[f32]>::to_vec).collect())
    }
}

/// `group_size` completions for each prompt, grouped by prompt, decoded on the GPU and sampled
/// on the host exactly as [`crate::sampling::generate_with`] does (same order of random draws).
pub fn generate(
    gpu: &Gpu,
    w: &GpuWeights,
    prompts: &[Vec<u32>],
    group_size: usize,
    config: &SamplingConfig,
    stop_tokens: &[u32],
    rng: &mut Rng,
) -> Res<Vec<Vec<Vec<u32>>>> {
    let p = prompts.len();
    // Slots 0..p hold the prompts; p + i the completions.
    let mut dec = GpuDecoder::new(
        gpu,
        w,
        p * (group_size + 1),
        positions_needed(prompts, config),
    )?;
    let rows: Vec<SlotRow> = prompts
        .iter()
        .enumerate()
        .flat_map(|(slot, toks)| {
            toks.iter().enumerate().map(move |(i, &t)| SlotRow {
                slot,
                token: t,
                want_logits: i + 1 == toks.len(),
            })
        })
        .collect();
    let prompt_logits = dec.step(&rows)?;
    let mut completions: Vec<Vec<u32>> = Vec::with_capacity(p * group_size);
    for (pi, logits) in prompt_logits.iter().enumerate() {
        for _ in 0..group_size {
            dec.copy_slot(pi, p + completions.len())?;
            completions.push(vec![sample_token(logits, config, rng)]);
        }
    }
    let done =
        |c: &Vec<u32>| stop_tokens.contains(c.last().unwrap()) || c.len() >= config.max_new_tokens;
    loop {
        let live: Vec<usize> = (0..completions.len())
            .filter(|&i| !done(&completions[i]))
            .collect();
        if live.is_empty() {
            break;
        }
        let rows: Vec<SlotRow> = live
            .iter()
            .map(|&i| SlotRow {
                slot: p + i,
                token: *completions[i].last().unwrap(),
                want_logits: true,
            })
            .collect();
        let logits = dec.step(&rows)?;
        for (&i, l) in live.iter().zip(&logits) {
            completions[i].push(sample_token(l, config, rng));
        }
    }
    let mut grouped = Vec::with_capacity(p);
    let mut it = completions.into_iter();
    for _ in prompts {
        grouped.push(it.by_ref().take(group_size).collect());
    }
    Ok(grouped)
}
