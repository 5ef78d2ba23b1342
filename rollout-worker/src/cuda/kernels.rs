//! The CUDA C sources of every kernel of the GPU backend, compiled at run time by NVRTC (llm.c's
//! spirit, no build-time CUDA): one source per concern, each with the names of the kernels it
//! defines, so that the NVRTC check (`tests/cuda_nvrtc.rs`) can compile every one and find each
//! entry point in the PTX. Every kernel mirrors a CPU reference formula in [`crate::model::ops`],
//! [`crate::optim`] or [`crate::model::forward`] (cited per kernel), in the same order of
//! operations where that is cheap, so results agree with the CPU to rounding.
//!
//! Conventions: f32 throughout, row-major, 64-bit indices into large buffers; "row" is one token.

/// One NVRTC program: its file name (for error messages), source and entry points.
pub struct KernelSource {
    pub name: &'static str,
    pub source: &'static str,
    pub kernels: &'static [&'static str],
}

/// Reductions shared by the sources (prepended to each). Every thread of the block gets the
/// result; `blockDim.x` must be a multiple of 32, at most 1024. The leading `__syncthreads`
/// keeps one call's partials from overwriting those a previous call is still reading.
pub const PRELUDE: &str = r#"
#define NEG_INF (__int_as_float(0xff800000))
typedef long long i64;
__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ double warp_sum_d(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ float block_sum(float v) {
    __shared__ float part[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) part[warp] = v;
    __syncthreads();
    return warp_sum(lane < warps ? part[lane] : 0.0f);
}
__device__ double block_sum_d(double v) {
    __shared__ double part_d[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum_d(v);
    __syncthreads();
    if (lane == 0) part_d[warp] = v;
    __syncthreads();
    return warp_sum_d(lane < warps ? part_d[lane] : 0.0);
}
__device__ float block_max(float v) {
    __shared__ float part_m[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) part_m[warp] = v;
    __syncthreads();
    return warp_max(lane < warps ? part_m[lane] : NEG_INF);
}
#define GRID_STRIDE(i, n) for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)gridDim.x * blockDim.x)
"#;

/// RMSNorm (`ops::rmsnorm`, `ops::rmsnorm_backward`): one block per row; the weight gradient
/// is a second kernel, one thread per column summing over rows (deterministic, no atomics).
const NORM: &str = r#"
extern "C" __global__ void rmsnorm_fwd(const float* x, const float* w, float* y, float* inv_rms,
                                       int d, float eps) {
    const float* xr = x + (i64)blockIdx.x * d;
    float s = 0.0f;
    for (int i = threadIdx.x; i < d; i += blockDim.x) s += xr[i] * xr[i];
    s = block_sum(s);
    float inv = 1.0f / sqrtf(s / (float)d + eps);
    if (threadIdx.x == 0) inv_rms[blockIdx.x] = inv;
    float* yr = y + (i64)blockIdx.x * d;
    for (int i = threadIdx.x; i < d; i += blockDim.x) yr[i] = xr[i] * inv * w[i];
}
// dx = inv * (dy * w - n * mean(dy * w * n)), n = x * inv.
extern "C" __global__ void rmsnorm_bwd_dx(const float* dy, const float* x, const float* inv_rms,
                                          const float* w, float* dx, int d) {
    i64 base = (i64)blockIdx.x * d;
    float inv = inv_rms[blockIdx.x];
    float dot = 0.0f;
    for (int i = threadIdx.x; i < d; i += blockDim.x) dot += dy[base + i] * w[i] * (x[base + i] * inv);
    float mean = block_sum(dot) / (float)d;
    for (int i = threadIdx.x; i < d; i += blockDim.x)
        dx[base + i] = inv * (dy[base + i] * w[i] - x[base + i] * inv * mean);
}
// d_w[i] += sum over rows of dy * n.
extern "C" __global__ void rmsnorm_bwd_dw(const float* dy, const float* x, const float* inv_rms,
                                          float* dw, int rows, int d) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= d) return;
    float acc = 0.0f;
    for (int r = 0; r < rows; r++) acc += dy[(i64)r * d + i] * (x[(i64)r * d + i] * inv_rms[r]);
    dw[i] += acc;
}
"#;

/// Rotary embeddings (`ops::Rope::rotate`), HF `rotate_half` layout, from the cos/sin tables
/// the CPU builds (uploaded, so both sides use the same rounded angles); `inverse` is the
/// transpose, for the backward pass.
const ROPE: &str = r#"
extern "C" __global__ void rope(float* x, const int* pos, const float* cos_t, const float* sin_t,
                                int rows, int heads, int hd, int inverse) {
    int half = hd / 2;
    GRID_STRIDE(idx, (i64)rows * heads * half) {
        int i = (int)(idx % half);
        i64 rh = idx / half;
        int r = (int)(rh / heads);
        float c = cos_t[(i64)pos[r] * half + i], s = sin_t[(i64)pos[r] * half + i];
        if (inverse) s = -s;
        float* v = x + rh * hd;
        float a = v[i], b = v[i + half];
        v[i] = a * c - b * s;
        v[i + half] = b * c + a * s;
    }
}
"#;

/// SwiGLU (`ops::swiglu`, `ops::swiglu_backward`), elementwise.
const SWIGLU: &str = r#"
__device__ __forceinline__ float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
extern "C" __global__ void swiglu_fwd(const float* gate, const float* up, float* out, i64 n) {
    GRID_STRIDE(i, n) { float g = gate[i]; out[i] = g * sigmoid(g) * up[i]; }
}
extern "C" __global__ void swiglu_bwd(const float* dy, const float* gate, const float* up,
                                      float* d_gate, float* d_up, i64 n) {
    GRID_STRIDE(i, n) {
        float g = gate[i], s = sigmoid(g);
        d_up[i] = dy[i] * g * s;
        d_gate[i] = dy[i] * up[i] * s * (1.0f + g * (1.0f - s));
    }
}
"#;

/// Row moves: the embedding lookup and its scatter-add backward (a token may repeat, hence
/// atomics), picking the scored rows out and adding their gradients back, residual adds.
const ROWS: &str = r#"
extern "C" __global__ void embed_gather(const float* embed, const int* tokens, float* x, int rows, int d) {
    GRID_STRIDE(i, (i64)rows * d) x[i] = embed[(i64)tokens[i / d] * d + i % d];
}
extern "C" __global__ void embed_scatter_add(const float* dx, const int* tokens, float* d_embed,
                                             int rows, int d) {
    GRID_STRIDE(i, (i64)rows * d) atomicAdd(&d_embed[(i64)tokens[i / d] * d + i % d], dx[i]);
}
extern "C" __global__ void gather_rows(const float* src, const int* idx, float* dst, int rows, int d) {
    GRID_STRIDE(i, (i64)rows * d) dst[i] = src[(i64)idx[i / d] * d + i % d];
}
extern "C" __global__ void scatter_add_rows(const float* src, const int* idx, float* dst, int rows, int d) {
    GRID_STRIDE(i, (i64)rows * d) atomicAdd(&dst[(i64)idx[i / d] * d + i % d], src[i]);
}
extern "C" __global__ void add_inplace(float* x, const float* y, i64 n) {
    GRID_STRIDE(i, n) x[i] += y[i];
}
"#;

/// The GRPO log-probabilities (`ops::log_softmax_at`: softmax of `logits / temperature`, the
/// exponentials summed in f64 as on the CPU) and `d logp / d logits` (`backward`'s first step:
/// `(onehot(t) - p) * g / temperature`, written over the probabilities).
const SOFTMAX: &str = r#"
extern "C" __global__ void log_softmax_at(const float* logits, const int* targets, float* probs,
                                          float* logp, int v, float temp) {
    const float* z = logits + (i64)blockIdx.x * v;
    float* p = probs + (i64)blockIdx.x * v;
    float m = NEG_INF;
    for (int j = threadIdx.x; j < v; j += blockDim.x) m = fmaxf(m, z[j]);
    m = block_max(m) / temp;
    double total = 0.0;
    for (int j = threadIdx.x; j < v; j += blockDim.x) {
        float e = expf(z[j] / temp - m);
        p[j] = e;
        total += (double)e;
    }
    total = block_sum_d(total);
    float inv = (float)(1.0 / total);
    for (int j = threadIdx.x; j < v; j += blockDim.x) p[j] *= inv;
    if (threadIdx.x == 0) logp[blockIdx.x] = z[targets[blockIdx.x]] / temp - m - (float)log(total);
}
extern "C" __global__ void logits_bwd(float* probs, const int* targets, const float* d_logp,
                                      int rows, int v, float temp) {
    GRID_STRIDE(i, (i64)rows * v) {
        i64 r = i / v;
        float g = d_logp[r] / temp;
        float dz = -g * probs[i];
        if (i % v == targets[r]) dz += g;
        probs[i] = dz;
    }
}
"#;

/// Causal grouped-query attention (`ops::attention_head` and its backward), one block per
/// (row, head). A row's keys are rows `kv_base .. kv_base + pos` of `k`/`v` (its sequence in a
/// packed training batch, or its KV-cache slot when decoding); its probabilities (and, in the
/// backward, `dS`) live at `probs + prob_off + head * prob_stride`. `info` holds five ints per
/// row: kv_base, pos, prob_off, prob_stride, seq_len (seq_len only for `attn_bwd_kv`).
const ATTENTION: &str = r#"
extern "C" __global__ void attn_fwd(const float* q, const float* k, const float* v, float* probs,
                                    float* out, const int* info, int heads, int kv_heads, int hd,
                                    float scale) {
    int r = blockIdx.x, h = blockIdx.y, g = h / (heads / kv_heads), kvw = kv_heads * hd;
    const int* in = info + 5 * r;
    int kv_base = in[0], pos = in[1];
    float* p = probs + (i64)in[2] + (i64)h * in[3];
    const float* qh = q + ((i64)r * heads + h) * hd;
    float m = NEG_INF;
    for (int j = threadIdx.x; j <= pos; j += blockDim.x) {
        const float* kj = k + (i64)(kv_base + j) * kvw + g * hd;
        float s = 0.0f;
        for (int t = 0; t < hd; t++) s += qh[t] * kj[t];
        s *= scale;
        p[j] = s;
        m = fmaxf(m, s);
    }
    m = block_max(m);
    float total = 0.0f;
    for (int j = threadIdx.x; j <= pos; j += blockDim.x) {
        float e = expf(p[j] - m);
        p[j] = e;
        total += e;
    }
    total = block_sum(total);
    for (int j = threadIdx.x; j <= pos; j += blockDim.x) p[j] /= total;
    __syncthreads();
    for (int t = threadIdx.x; t < hd; t += blockDim.x) {
        float o = 0.0f;
        for (int j = 0; j <= pos; j++) o += p[j] * v[(i64)(kv_base + j) * kvw + g * hd + t];
        out[((i64)r * heads + h) * hd + t] = o;
    }
}
// dS = P * (dP - rowsum(dP * P)) * scale (stored in ds), dq = dS k.
extern "C" __global__ void attn_bwd_q(const float* d_out, const float* k, const float* v,
                                      const float* probs, float* ds, float* dq, const int* info,
                                      int heads, int kv_heads, int hd, float scale) {
    int r = blockIdx.x, h = blockIdx.y, g = h / (heads / kv_heads), kvw = kv_heads * hd;
    const int* in = info + 5 * r;
    int kv_base = in[0], pos = in[1];
    i64 off = (i64)in[2] + (i64)h * in[3];
    const float* p = probs + off;
    float* s = ds + off;
    const float* doh = d_out + ((i64)r * heads + h) * hd;
    float weighted = 0.0f;
    for (int j = threadIdx.x; j <= pos; j += blockDim.x) {
        const float* vj = v + (i64)(kv_base + j) * kvw + g * hd;
        float dp = 0.0f;
        for (int t = 0; t < hd; t++) dp += doh[t] * vj[t];
        s[j] = dp;
        weighted += p[j] * dp;
    }
    weighted = block_sum(weighted);
    for (int j = threadIdx.x; j <= pos; j += blockDim.x) s[j] = p[j] * (s[j] - weighted) * scale;
    __syncthreads();
    for (int t = threadIdx.x; t < hd; t += blockDim.x) {
        float acc = 0.0f;
        for (int j = 0; j <= pos; j++) acc += s[j] * k[(i64)(kv_base + j) * kvw + g * hd + t];
        dq[((i64)r * heads + h) * hd + t] = acc;
    }
}
// One block per (key row, kv head): dk = sum dS^T q, dv = sum P^T dO over the query heads of
// the group and the later rows of the sequence (training layout: kv_base is the sequence's
// first row and pos this row's position in it).
extern "C" __global__ void attn_bwd_kv(const float* d_out, const float* q, const float* probs,
                                       const float* ds, float* dk, float* dv, const int* info,
                                       int heads, int kv_heads, int hd) {
    int r = blockIdx.x, g = blockIdx.y, group = heads / kv_heads;
    const int* in = info + 5 * r;
    int start = in[0], j = in[1], len = in[4];
    for (int t = threadIdx.x; t < hd; t += blockDim.x) {
        float dk_acc = 0.0f, dv_acc = 0.0f;
        for (int h = g * group; h < (g + 1) * group; h++) {
            for (int i = j; i < len; i++) {
                int ri = start + i;
                const int* ii = info + 5 * ri;
                i64 off = (i64)ii[2] + (i64)h * ii[3] + j;
                i64 qo = ((i64)ri * heads + h) * hd + t;
                dk_acc += ds[off] * q[qo];
                dv_acc += probs[off] * d_out[qo];
            }
        }
        dk[((i64)r * kv_heads + g) * hd + t] = dk_acc;
        dv[((i64)r * kv_heads + g) * hd + t] = dv_acc;
    }
}
"#;

/// AdamW (`optim::AdamW::step`, same formula and order) and the squared norm for clipping
/// (per-block partial sums in f64, summed on the host like `optim::global_norm`).
const ADAMW: &str = r#"
extern "C" __global__ void adamw(float* p, float* g, float* m, float* v, i64 n, float lr, float b1,
                                 float b2, float eps, float decay, float bc1, float bc2_sqrt,
                                 float clip) {
    GRID_STRIDE(i, n) {
        float gi = g[i] * clip;
        g[i] = gi;
        float pi = p[i] * decay;
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - lr * (mi / bc1) / (sqrtf(vi) / bc2_sqrt + eps);
    }
}
extern "C" __global__ void sumsq(const float* x, i64 n, double* partial) {
    double acc = 0.0;
    GRID_STRIDE(i, n) acc += (double)x[i] * (double)x[i];
    acc = block_sum_d(acc);
    if (threadIdx.x == 0) partial[blockIdx.x] += acc;
}
"#;

/// The KV cache: one pool per layer, `slots x max_pos x kv_dim`; appending a step's keys and
/// values, and copying a prompt's slot to the slots of its `G` completions.
const KV: &str = r#"
extern "C" __global__ void kv_append(const float* k_new, const float* v_new, float* k_cache,
                                     float* v_cache, const int* dst_row, int rows, int kvd) {
    GRID_STRIDE(i, (i64)rows * kvd) {
        i64 dst = (i64)dst_row[i / kvd] * kvd + i % kvd;
        k_cache[dst] = k_new[i];
        v_cache[dst] = v_new[i];
    }
}
extern "C" __global__ void kv_copy(float* k_cache, float* v_cache, i64 src, i64 dst, i64 n) {
    GRID_STRIDE(i, n) {
        k_cache[dst + i] = k_cache[src + i];
        v_cache[dst + i] = v_cache[src + i];
    }
}
"#;

/// Every source, in load order.
pub const SOURCES: &[KernelSource] = &[
    KernelSource {
        name: "norm.cu",
        source: NORM,
        kernels: &["rmsnorm_fwd", "rmsnorm_bwd_dx", "rmsnorm_bwd_dw"],
    },
    KernelSource {
        name: "rope.cu",
        source: ROPE,
        kernels: &["rope"],
    },
    KernelSource {
        name: "swiglu.cu",
        source: SWIGLU,
        kernels: &["swiglu_fwd", "swiglu_bwd"],
    },
    KernelSource {
        name: "rows.cu",
        source: ROWS,
        kernels: &[
            "embed_gather",
            "embed_scatter_add",
            "gather_rows",
            "scatter_add_rows",
            "add_inplace",
        ],
    },
    KernelSource {
        name: "softmax.cu",
        source: SOFTMAX,
        kernels: &["log_softmax_at", "logits_bwd"],
    },
    KernelSource {
        name: "attention.cu",
        source: ATTENTION,
        kernels: &["attn_fwd", "attn_bwd_q", "attn_bwd_kv"],
    },
    KernelSource {
        name: "adamw.cu",
        source: ADAMW,
        kernels: &["adamw", "sumsq"],
    },
    KernelSource {
        name: "kv.cu",
        source: KV,
        kernels: &["kv_append", "kv_copy"],
    },
];

/// A source with the shared prelude in front, as NVRTC compiles it.
pub fn full_source(s: &KernelSource) -> String {
    format!("{PRELUDE}\n{}", s.source)
}

/// How many kernels there are in all.
pub fn kernel_count() -> usize {
    SOURCES.iter().map(|s| s.kernels.len()).sum()
}
