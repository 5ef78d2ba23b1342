//! This machine's limits, measured by the bench itself on the threads it runs with: peak f32
//! multiply-add throughput (GFLOP/s) and the bandwidth of reading memory (GB/s). Each is the
//! best of a few short runs, so a busy moment lowers it less than it lowers one run.

use std::time::Instant;

use rayon::prelude::*;

/// Independent accumulators per thread: enough to cover the FMA latency on two pipes.
const ACCS: usize = 12;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_loop_avx2(iters: usize) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm256_set1_ps(0.0); ACCS];
    let a = _mm256_set1_ps(0.999_999);
    let b = _mm256_set1_ps(1e-7);
    for _ in 0..iters {
        for v in acc.iter_mut() {
            *v = _mm256_fmadd_ps(*v, a, b);
        }
    }
    let mut out = [0f32; 8];
    let mut sum = _mm256_setzero_ps();
    for v in acc {
        sum = _mm256_add_ps(sum, v);
    }
    _mm256_storeu_ps(out.as_mut_ptr(), sum);
    out.iter().sum()
}

/// FLOPs of one thread's loop, and the loop (or `None` without AVX2 + FMA).
fn fma_loop(iters: usize) -> Option<f32> {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: the features were just detected.
        return Some(unsafe { fma_loop_avx2(iters) });
    }
    let _ = iters;
    None
}

/// Peak f32 GFLOP/s over all threads (8-wide FMA: 16 flops per instruction), or `None` where
/// the CPU lacks AVX2 + FMA.
pub fn peak_gflops() -> Option<f64> {
    let threads = rayon::current_num_threads();
    let iters = 4_000_000;
    let mut best: f64 = 0.0;
    for _ in 0..3 {
        let started = Instant::now();
        let sums: Vec<Option<f32>> = (0..threads)
            .into_par_iter()
            .map(|_| fma_loop(iters))
            .collect();
        let seconds = started.elapsed().as_secs_f64();
        if sums.iter().any(Option::is_none) {
            return None;
        }
        std::hint::black_box(sums);
        let flops = (threads * iters * ACCS * 16) as f64;
        best = best.max(flops / seconds / 1e9);
    }
    Some(best)
}

/// Read bandwidth in GB/s: every thread sums its share of a 256 MiB buffer (far larger than
/// the caches).
pub fn bandwidth_gbs() -> f64 {
    let n: usize = 64 << 20; // f32 values
    let buffer: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();
    let threads = rayon::current_num_threads();
    let share = n.div_ceil(threads);
    let mut best: f64 = 0.0;
    for _ in 0..4 {
        let started = Instant::now();
        let total: f32 = buffer
            .par_chunks(share)
            .map(|chunk| {
                let mut acc = [0f32; 16];
                for block in chunk.chunks_exact(16) {
                    for (a, &x) in acc.iter_mut().zip(block) {
                        *a += x;
                    }
                }
                acc.iter().sum::<f32>()
            })
            .sum();
        let seconds = started.elapsed().as_secs_f64();
        std::hint::black_box(total);
        best = best.max((n * 4) as f64 / seconds / 1e9);
    }
    best
}
