//! Host-side calls of the kernels in [`super::kernels`]: each allocates its output (or writes
//! into the buffer given) and launches on the GPU's stream; nothing here waits for the GPU.

use cudarc::driver::CudaSlice;

use super::device::{blocks, grid, Gpu};
use crate::launch;

pub type Buf = CudaSlice<f32>;
type Res<T> = anyhow::Result<T>;

/// Threads per block for per-row kernels.
const ROW_THREADS: u32 = 256;
/// Threads per block for the attention kernels (rows of up to a few thousand scores).
const ATTN_THREADS: u32 = 128;

/// RMSNorm of `rows x d`: returns `(y, inv_rms)`.
pub fn rmsnorm(gpu: &Gpu, x: &Buf, w: &Buf, rows: usize, eps: f64) -> Res<(Buf, Buf)> {
    let d = w.len();
    let mut y = gpu.zeros(rows * d)?;
    let mut inv = gpu.zeros(rows)?;
    launch!(gpu, "rmsnorm_fwd", grid(rows, 1, ROW_THREADS);
        x, w, &mut y, &mut inv, &(d as i32), &(eps as f32))?;
    Ok((y, inv))
}

/// Backward of [`rmsnorm`]: adds into `dw`, returns `dx`.
pub fn rmsnorm_backward(
    gpu: &Gpu,
    dy: &Buf,
    x: &Buf,
    inv: &Buf,
    w: &Buf,
    dw: &mut Buf,
    rows: usize,
) -> Res<Buf> {
    let d = w.len();
    let mut dx = gpu.zeros(rows * d)?;
    launch!(gpu, "rmsnorm_bwd_dx", grid(rows, 1, ROW_THREADS);
        dy, x, inv, w, &mut dx, &(d as i32))?;
    launch!(gpu, "rmsnorm_bwd_dw", blocks(d, ROW_THREADS);
        dy, x, inv, dw, &(rows as i32), &(d as i32))?;
    Ok(dx)
}

/// Rotates every head of each row in place; `tables` are the CPU's cos/sin tables.
#[allow(clippy::too_many_arguments)]
pub fn rope(
    gpu: &Gpu,
    x: &mut Buf,
    positions: &CudaSlice<i32>,
    tables: &(Buf, Buf),
    rows: usize,
    heads: usize,
    hd: usize,
    inverse: bool,
) -> Res<()> {
    launch!(gpu, "rope", blocks(rows * heads * hd / 2, ROW_THREADS);
        x, positions, &tables.0, &tables.1, &(rows as i32), &(heads as i32), &(hd as i32),
        &(inverse as i32))
}

pub fn swiglu(gpu: &Gpu, gate: &Buf, up: &Buf) -> Res<Buf> {
    let n = gate.len();
    let mut out = gpu.zeros(n)?;
    launch!(gpu, "swiglu_fwd", blocks(n, ROW_THREADS); gate, up, &mut out, &(n as i64))?;
    Ok(out)
}

pub fn swiglu_backward(gpu: &Gpu, dy: &Buf, gate: &Buf, up: &Buf) -> Res<(Buf, Buf)> {
    let n = gate.len();
    let (mut d_gate, mut d_up) = (gpu.zeros(n)?, gpu.zeros(n)?);
    launch!(gpu, "swiglu_bwd", blocks(n, ROW_THREADS);
        dy, gate, up, &mut d_gate, &mut d_up, &(n as i64))?;
    Ok((d_gate, d_up))
}

/// `x += y`.
pub fn add(gpu: &Gpu, x: &mut Buf, y: &Buf) -> Res<()> {
    let n = y.len();
    launch!(gpu, "add_inplace", blocks(n, ROW_THREADS); x, y, &(n as i64))
}

/// Rows `idx` of the `? x d` matrix `src`.
pub fn gather_rows(gpu: &Gpu, src: &Buf, idx: &CudaSlice<i32>, n: usize, d: usize) -> Res<Buf> {
    let mut dst = gpu.zeros(n * d)?;
    launch!(gpu, "gather_rows", blocks(n * d, ROW_THREADS);
        src, idx, &mut dst, &(n as i32), &(d as i32))?;
    Ok(dst)
}

/// The row-wise attention description each attention kernel reads: five ints per row
/// (kv_base, pos, prob_off, prob_stride, seq_len), see `kernels::ATTENTION`.
pub struct AttnRows {
    pub info: CudaSlice<i32>,
    pub rows: usize,
    /// Size of the probability (and dS) buffer.
    pub probs_len: usize,
}

/// Causal GQA attention of `q` (`rows x heads*hd`) over `k`, `v` as `rows` describes; returns
/// `(out, probs)`.
pub fn attention(
    gpu: &Gpu,
    q: &Buf,
    k: &Buf,
    v: &Buf,
    rows: &AttnRows,
    (heads, kv_heads, hd): (usize, usize, usize),
) -> Res<(Buf, Buf)> {
    let mut probs = gpu.zeros(rows.probs_len)?;
    let mut out = gpu.zeros(rows.rows * heads * hd)?;
    let scale = 1.0 / (hd as f64).sqrt();
    launch!(gpu, "attn_fwd", grid(rows.rows, heads, ATTN_THREADS);
        q, k, v, &mut probs, &mut out, &rows.info, &(heads as i32), &(kv_heads as i32),
        &(hd as i32), &(scale as f32))?;
    Ok((out, probs))
}

/// Backward of [`attention`] over a packed training batch: returns `(dq, dk, dv)` (rotated).
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(
    gpu: &Gpu,
    d_out: &Buf,
    q: &Buf,
    k: &Buf,
    v: &Buf,
    probs: &Buf,
    rows: &AttnRows,
    (heads, kv_heads, hd): (usize, usize, usize),
) -> Res<(Buf, Buf, Buf)> {
    let n = rows.rows;
    let mut ds: Buf = gpu.zeros(rows.probs_len)?;
    let mut dq = gpu.zeros(n * heads * hd)?;
    let (mut dk, mut dv) = (gpu.zeros(n * kv_heads * hd)?, gpu.zeros(n * kv_heads * hd)?);
    let scale = 1.0 / (hd as f64).sqrt();
    let shape = (heads as i32, kv_heads as i32, hd as i32);
    launch!(gpu, "attn_bwd_q", grid(n, heads, ATTN_THREADS);
        d_out, k, v, probs, &mut ds, &mut dq, &rows.info, &shape.0, &shape.1, &shape.2,
        &(scale as f32))?;
    launch!(gpu, "attn_bwd_kv", grid(n, kv_heads, ATTN_THREADS);
        d_out, q, probs, &ds, &mut dk, &mut dv, &rows.info, &shape.0, &shape.1, &shape.2)?;
    Ok((dq, dk, dv))
}
