//! langdetect's random walk (`Detector._detect_block` once the n-grams are found), with
//! CPython's `random` underneath, reproduced bit for bit: the same draws, the same float
//! operations in the same order, so the same probabilities as Python (and as the `langdetect`
//! crate, which the tests compare us with).
//!
//! One trial: every language starts at `1 / languages`; `alpha` is `0.5 + gauss() * 0.05`;
//! then n-grams are drawn at random from the text's, each multiplying every language's
//! probability by `alpha / 10000` plus the language's probability for that n-gram; every
//! fifth draw (the first included) the probabilities are normalised by their sum (Neumaier's,
//! as CPython 3.12 and later add floats), and the trial ends once one exceeds 0.99999 or
//! after 1,000 draws. Each trial's probabilities, divided by the number of trials, are added
//! to the walk's sums. A trial is one call here, so a caller may stop when the trials to come
//! cannot change the answer.

use super::ngrams::{Profiles, Row, Slot, MAX_LANGUAGES};

const ALPHA: f64 = 0.5;
const ALPHA_WIDTH: f64 = 0.05;
const BASE_FREQ: f64 = 10_000.0;
const CONV_THRESHOLD: f64 = 0.99999;
const ITERATION_LIMIT: usize = 1_000;

/// The probabilities summed to zero (Python raises `ZeroDivisionError`).
#[derive(Debug)]
pub struct ZeroSum;

pub struct Walk<'a> {
    profiles: &'a Profiles,
    ngrams: &'a [Row],
    random: PyRandom,
    trials: usize,
    sums: Vec<f64>,
    probabilities: Vec<f64>,
}

impl<'a> Walk<'a> {
    /// A walk of `trials` trials over a text's n-gram rows (not empty), drawing from
    /// `random`.
    pub fn new(profiles: &'a Profiles, ngrams: &'a [Row], random: PyRandom, trials: usize) -> Self {
        let languages = profiles.languages().len();
        debug_assert!(!ngrams.is_empty() && ngrams.len() <= u32::MAX as usize);
        Walk {
            profiles,
            ngrams,
            random,
            trials,
            sums: vec![0.0; languages],
            probabilities: vec![0.0; languages],
        }
    }

    /// Each language's sum of its probabilities in the trials so far, each divided by the
    /// number of trials: after the last trial, langdetect's `langprob`.
    pub fn sums(&self) -> &[f64] {
        &self.sums
    }

    /// Walks one trial: with AVX2 where the CPU has it (the same IEEE multiplications and
    /// divisions, four at a time instead of two, so the same bits), else as built.
    pub fn trial(&mut self) -> Result<(), ZeroSum> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, as just checked.
            return unsafe { self.trial_avx2() };
        }
        self.trial_as_built()
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn trial_avx2(&mut self) -> Result<(), ZeroSum> {
        self.trial_as_built()
    }

    /// The trial, inlined into each of the variants above so that each is compiled for its
    /// instructions.
    #[inline(always)]
    pub(super) fn trial_as_built(&mut self) -> Result<(), ZeroSum> {
        let prob = &mut self.probabilities;
        let start = 1.0 / prob.len() as f64;
        prob.fill(start);
        let alpha = ALPHA + self.random.gauss() * ALPHA_WIDTH;
        let weight = alpha / BASE_FREQ;
        for i in 0.. {
            let row = self.ngrams[self.random.below(self.ngrams.len() as u32) as usize];
            multiply(prob, weight, self.profiles.slots(row));
            if i % 5 == 0 {
                let total = neumaier_sum(prob);
                if total == 0.0 {
                    return Err(ZeroSum);
                }
                for p in prob.iter_mut() {
                    *p /= total;
                }
                if largest(prob) > CONV_THRESHOLD || i >= ITERATION_LIMIT {
                    break;
                }
            }
        }
        let trials = self.trials as f64;
        for (sum, &p) in self.sums.iter_mut().zip(prob.iter()) {
            *sum += p / trials;
        }
        Ok(())
    }
}

/// `prob[i] *= weight + row[i]` for every language, where the row is 0 outside the n-gram's
/// slots: there `weight + 0.0` is `weight` exactly, so all are multiplied by `weight` and the
/// few slots set from their old values (most n-grams have one). Only an n-gram of many
/// languages gets a dense row of factors, which the crate built for every n-gram drawn.
#[inline(always)]
fn multiply(prob: &mut [f64], weight: f64, slots: &[Slot]) {
    const FEW: usize = 8;
    if slots.len() <= FEW {
        let mut updated = [0.0f64; FEW];
        for (new, slot) in updated.iter_mut().zip(slots) {
            *new = prob[usize::from(slot.language)] * (weight + { slot.probability });
        }
        for p in prob.iter_mut() {
            *p *= weight;
        }
        for (&new, slot) in updated.iter().zip(slots) {
            prob[usize::from(slot.language)] = new;
        }
    } else {
        let mut factors = [weight; MAX_LANGUAGES];
        for slot in slots {
            factors[usize::from(slot.language)] = weight + { slot.probability };
        }
        for (p, &factor) in prob.iter_mut().zip(&factors) {
            *p *= factor;
        }
    }
}

/// `maxp` of `Detector._normalize_prob` (`if maxp < p: maxp = p`, from 0.0), in four lanes
/// that the compiler can keep in vector registers: it is only compared with the threshold, so
/// the order does not matter, and NaN never wins either way.
#[inline(always)]
fn largest(prob: &[f64]) -> f64 {
    let mut lanes = [0.0f64; 4];
    let chunks = prob.chunks_exact(4);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &p) in lanes.iter_mut().zip(chunk) {
            *lane = if *lane < p { p } else { *lane };
        }
    }
    rest.iter()
        .chain(&lanes)
        .fold(0.0, |most, &p| if most < p { p } else { most })
}

/// `sum(prob)` in CPython 3.12 and later: left to right with Neumaier's compensation, the
/// compensation added at the end when it is finite and not zero.
#[inline(always)]
fn neumaier_sum(prob: &[f64]) -> f64 {
    let Some((&first, rest)) = prob.split_first() else {
        return 0.0;
    };
    let mut total = first;
    let mut compensation = 0.0f64;
    for &x in rest {
        let t = total + x;
        compensation += if total.abs() >= x.abs() {
            (total - t) + x
        } else {
            (x - t) + total
        };
        total = t;
    }
    if compensation != 0.0 && compensation.is_finite() {
        total += compensation;
    }
    total
}

const N: usize = 624;
const M: usize = 397;

/// CPython's `random.Random`: the Mersenne Twister (MT19937), `random()`, `gauss()` and
/// `_randbelow()`.
#[derive(Clone)]
pub struct PyRandom {
    state: [u32; N],
    next: usize,
    gauss_next: Option<f64>,
}

impl PyRandom {
    /// `random.seed(key)` for a non-negative integer key given as its 32-bit words, least
    /// significant first (`init_by_array`).
    pub fn seeded(key: &[u32]) -> PyRandom {
        let mut mt = [0u32; N];
        mt[0] = 19_650_218;
        for i in 1..N {
            mt[i] = 1_812_433_253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..N.max(key.len()) {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_566_083_941))
                .wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        PyRandom {
            state: mt,
            next: N,
            gauss_next: None,
        }
    }

    /// `random.getstate()[1]`: the 624 words and the position.
    #[cfg(test)]
    pub fn state(&self) -> (&[u32], usize) {
        (&self.state, self.next)
    }

    fn regenerate(&mut self) {
        let mt = &mut self.state;
        let mix = |upper: u32, lower: u32, far: u32| {
            let y = (upper & 0x8000_0000) | (lower & 0x7fff_ffff);
            far ^ (y >> 1) ^ ((y & 1).wrapping_neg() & 0x9908_b0df)
        };
        for k in 0..N {
            mt[k] = mix(mt[k], mt[(k + 1) % N], mt[(k + M) % N]);
        }
        self.next = 0;
    }

    /// `genrand_uint32`.
    fn next_u32(&mut self) -> u32 {
        if self.next >= N {
            self.regenerate();
        }
        let mut y = self.state[self.next];
        self.next += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `random()`: 53 random bits.
    fn random(&mut self) -> f64 {
        let a = f64::from(self.next_u32() >> 5);
        let b = f64::from(self.next_u32() >> 6);
        (a * 67_108_864.0 + b) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `gauss(0.0, 1.0)`: two values a time, the second kept for the next call.
    pub fn gauss(&mut self) -> f64 {
        if let Some(z) = self.gauss_next.take() {
            return z;
        }
        let x2pi = self.random() * (2.0 * std::f64::consts::PI);
        let g2rad = (-2.0 * (1.0 - self.random()).ln()).sqrt();
        self.gauss_next = Some(x2pi.sin() * g2rad);
        x2pi.cos() * g2rad
    }

    /// `_randbelow(n)` for `n >= 1`: `getrandbits(n.bit_length())` until it is below `n`.
    pub fn below(&mut self, n: u32) -> u32 {
        let shift = n.leading_zeros();
        loop {
            let r = self.next_u32() >> shift;
            if r < n {
                return r;
            }
        }
    }
}
