//! The inner loops of the fast path, in f32: dot products of one weight row with several input
//! rows, for f32 and bf16 weight rows. On x86-64 with AVX2 and FMA (checked at run time, once)
//! they run eight lanes wide with independent accumulators; elsewhere a portable loop with eight
//! accumulators, which the compiler can still vectorise.
//!
//! Accumulating in eight (or sixteen) partial sums changes the rounding order from the
//! reference's sequential sum; the tests hold the difference to 1e-4 on logits.

use std::sync::OnceLock;

/// Weight rows as the kernels read them.
#[derive(Clone, Copy)]
pub enum Rows<'a> {
    F32(&'a [f32]),
    /// bf16 bit patterns (the top half of an f32).
    Bf16(&'a [u16]),
}

impl Rows<'_> {
    pub fn len(&self) -> usize {
        match self {
            Rows::F32(w) => w.len(),
            Rows::Bf16(w) => w.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub fn bf16_of(x: f32) -> u16 {
    // Round to nearest even; NaN stays NaN.
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x40) as u16;
    }
    let round = 0x7fff + ((bits >> 16) & 1);
    ((bits + round) >> 16) as u16
}

pub fn f32_of_bf16(b: u16) -> f32 {
    f32::from_bits((b as u32) << 16)
}

fn has_avx2_fma() -> bool {
    static DETECTED: OnceLock<bool> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// `out[o * n + i] = w[o] . x[i]` for weight rows `o` in `rows` (each `k` long) and the `n`
/// input rows of `x` (`n x k`). `out` holds `rows.len() * n` values.
pub fn dots(w: Rows, k: usize, rows: std::ops::Range<usize>, x: &[f32], n: usize, out: &mut [f32]) {
    dots_strided(w, k, k, rows, x, n, out)
}

/// [`dots`] where weight row `o` starts at `o * stride` (its first `k` values are used).
pub fn dots_strided(
    w: Rows,
    stride: usize,
    k: usize,
    rows: std::ops::Range<usize>,
    x: &[f32],
    n: usize,
    out: &mut [f32],
) {
    assert!(k <= stride || rows.len() <= 1);
    let needed = if rows.is_empty() {
        0
    } else {
        (rows.end - 1) * stride + k
    };
    assert!(needed <= w.len() && n * k <= x.len() && out.len() >= rows.len() * n);
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA (checked above); bounds asserted above.
        unsafe { avx2::dots(w, stride, k, rows, x, n, out) };
        return;
    }
    for (j, o) in rows.enumerate() {
        for i in 0..n {
            let xi = &x[i * k..(i + 1) * k];
            let at = o * stride;
            out[j * n + i] = match w {
                Rows::F32(w) => dot_portable(&w[at..at + k], xi, |v| v),
                Rows::Bf16(w) => dot_portable(&w[at..at + k], xi, f32_of_bf16),
            };
        }
    }
}

fn dot_portable<W: Copy>(w: &[W], x: &[f32], f: impl Fn(W) -> f32) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = w.len() / 8;
    for c in 0..chunks {
        for l in 0..8 {
            acc[l] += f(w[c * 8 + l]) * x[c * 8 + l];
        }
    }
    let mut tail = 0.0;
    for t in chunks * 8..w.len() {
        tail += f(w[t]) * x[t];
    }
    acc.iter().sum::<f32>() + tail
}

/// `a . b` for activations (attention scores).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut out = [0f32];
    dots(Rows::F32(a), a.len(), 0..1, b, 1, &mut out);
    out[0]
}

/// `y += alpha * x` (the compiler vectorises this loop as written).
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += alpha * x;
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::Rows;
    use std::arch::x86_64::*;

    #[inline(always)]
    unsafe fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }

    /// Eight weights starting at `p` (f32, or bf16 widened).
    #[inline(always)]
    unsafe fn load_w<const BF16: bool>(p: *const u8) -> __m256 {
        if BF16 {
            let h = _mm_loadu_si128(p as *const __m128i);
            _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16))
        } else {
            _mm256_loadu_ps(p as *const f32)
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dots(
        w: Rows,
        stride: usize,
        k: usize,
        rows: std::ops::Range<usize>,
        x: &[f32],
        n: usize,
        out: &mut [f32],
    ) {
        match w {
            Rows::F32(w) => {
                dots_impl::<false>(w.as_ptr() as *const u8, 4, stride, k, rows, x, n, out)
            }
            Rows::Bf16(w) => {
                dots_impl::<true>(w.as_ptr() as *const u8, 2, stride, k, rows, x, n, out)
            }
        }
    }

    /// Four weight rows against two input rows at a time: eight accumulators, each weight
    /// vector loaded once for both inputs (the weight block stays in L1 across input pairs).
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn dots_impl<const BF16: bool>(
        w: *const u8,
        esize: usize,
        stride: usize,
        k: usize,
        rows: std::ops::Range<usize>,
        x: &[f32],
        n: usize,
        out: &mut [f32],
    ) {
        let main = k / 8 * 8;
        let scalar = |o: usize, i: usize, t: usize| -> f32 {
            let wv = if BF16 {
                super::f32_of_bf16(*(w.add((o * stride + t) * esize) as *const u16))
            } else {
                *(w.add((o * stride + t) * esize) as *const f32)
            };
            wv * x[i * k + t]
        };
        let start = rows.start;
        let mut o = rows.start;
        while o < rows.end {
            let block = (rows.end - o).min(4);
            let mut i = 0;
            while i < n {
                let pair = (n - i).min(2);
                let sums = if pair == 2 {
                    block_sums::<BF16, 2>(w, esize, stride, k, o, block, x.as_ptr().add(i * k))
                } else {
                    block_sums::<BF16, 1>(w, esize, stride, k, o, block, x.as_ptr().add(i * k))
                };
                for r in 0..block {
                    for p in 0..pair {
                        let mut s = sums[r][p];
                        for tt in main..k {
                            s += scalar(o + r, i + p, tt);
                        }
                        out[(o + r - start) * n + i + p] = s;
                    }
                }
                i += pair;
            }
            o += block;
        }
    }
    /// Sums over the first `k / 8 * 8` columns of `block` (<= 4) weight rows from `o` against
    /// `P` consecutive input rows at `x`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn block_sums<const BF16: bool, const P: usize>(
        w: *const u8,
        esize: usize,
        stride: usize,
        k: usize,
        o: usize,
        block: usize,
        x: *const f32,
    ) -> [[f32; 2]; 4] {
        let main = k / 8 * 8;
        let mut acc = [[_mm256_setzero_ps(); P]; 4];
        let mut t = 0;
        while t < main {
            let mut xv = [_mm256_setzero_ps(); P];
            for (p, v) in xv.iter_mut().enumerate() {
                *v = _mm256_loadu_ps(x.add(p * k + t));
            }
            for (r, acc_r) in acc.iter_mut().enumerate() {
                if r < block {
                    let wv = load_w::<BF16>(w.add(((o + r) * stride + t) * esize));
                    for p in 0..P {
                        acc_r[p] = _mm256_fmadd_ps(wv, xv[p], acc_r[p]);
                    }
                }
            }
            t += 8;
        }
        let mut sums = [[0f32; 2]; 4];
        for r in 0..block {
            for p in 0..P {
                sums[r][p] = hsum(acc[r][p]);
            }
        }
        sums
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_match_a_plain_sum_for_odd_shapes_and_bf16() {
        let (m, k, n) = (7, 37, 3);
        let w: Vec<f32> = (0..m * k).map(|i| ((i * 7919) % 13) as f32 - 6.0).collect();
        let x: Vec<f32> = (0..n * k)
            .map(|i| ((i * 104729) % 11) as f32 - 5.0)
            .collect();
        let mut out = vec![0.0; (m - 2) * n];
        dots(Rows::F32(&w), k, 2..m, &x, n, &mut out);
        let wb: Vec<u16> = w.iter().map(|&v| bf16_of(v)).collect();
        let mut out_b = vec![0.0; (m - 2) * n];
        dots(Rows::Bf16(&wb), k, 2..m, &x, n, &mut out_b);
        for o in 2..m {
            for i in 0..n {
                let want: f32 = (0..k).map(|t| w[o * k + t] * x[i * k + t]).sum();
                // Small integers: every order of summation is exact, and so is bf16.
                assert_eq!(out[(o - 2) * n + i], want);
                assert_eq!(out_b[(o - 2) * n + i], want);
            }
        }
        assert_eq!(bf16_of(1.0), 0x3f80);
        assert_eq!(f32_of_bf16(bf16_of(-2.5)), -2.5);
    }
}
