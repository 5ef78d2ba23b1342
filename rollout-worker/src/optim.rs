//! AdamW with global-norm gradient clipping, as PyTorch's `torch.optim.AdamW` and
//! `clip_grad_norm_` (what TRL's trainer uses; HF `TrainingArguments` defaults: betas (0.9, 0.999),
//! eps 1e-8, weight decay 0.0, `max_grad_norm` 1.0):
//!
//! ```text
//! g     = g * min(1, max_norm / (||g||_2 + 1e-6))
//! p     = p * (1 - lr * weight_decay)          (not for norm weights, see [`decays`])
//! m     = b1 m + (1 - b1) g ;  v = b2 v + (1 - b2) g^2
//! p     = p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
//! ```

use rayon::prelude::*;

use crate::model::ModelWeights;
use crate::real::Real;

#[derive(Debug, Clone, Copy)]
pub struct AdamWConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// 0 disables clipping.
    pub max_grad_norm: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            lr: 1e-6,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            max_grad_norm: 1.0,
        }
    }
}

pub struct AdamW<T> {
    pub config: AdamWConfig,
    m: ModelWeights<T>,
    v: ModelWeights<T>,
    step: u64,
}

/// `||g||_2` over every tensor.
pub fn global_norm<T: Real>(grads: &ModelWeights<T>) -> f64 {
    grads
        .tensors()
        .iter()
        .flat_map(|(_, _, t)| t.iter())
        .map(|g| Real::to_f64(*g).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// How the learning rate moves over a run, named as Hugging Face's `lr_scheduler_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LrSchedule {
    /// From `lr` down to 0 over the run (TRL's default, through `TrainingArguments`; no warmup).
    Linear,
    Constant,
}

/// The learning rate of optimiser step `step` (1-based) of `total`: HF's
/// `get_linear_schedule_with_warmup` without warmup multiplies by `(total - (step - 1)) / total`,
/// so the first step uses `lr` and the last `lr / total`.
pub fn scheduled_lr(lr: f64, schedule: LrSchedule, step: usize, total: usize) -> f64 {
    match schedule {
        LrSchedule::Constant => lr,
        LrSchedule::Linear => {
            let total = total.max(1) as f64;
            lr * ((total - (step.max(1) - 1) as f64) / total).max(0.0)
        }
    }
}

/// Whether weight decay applies to a tensor: not to norm weights, as Hugging Face's
/// `Trainer.get_decay_parameter_names` leaves out every LayerNorm/RMSNorm weight and bias
/// (embeddings and projections are decayed).
pub fn decays(name: &str) -> bool {
    !(name.ends_with("norm.weight") || name.contains("bias"))
}

impl<T: Real> AdamW<T> {
    pub fn new(config: AdamWConfig, like: &ModelWeights<T>) -> AdamW<T> {
        AdamW {
            config,
            m: ModelWeights::zeros(&like.config),
            v: ModelWeights::zeros(&like.config),
            step: 0,
        }
    }

    /// Clips `grads` in place and updates `params`; returns the norm before clipping.
    pub fn step(&mut self, params: &mut ModelWeights<T>, grads: &mut ModelWeights<T>) -> f64 {
        let c = self.config;
        let norm = global_norm(grads);
        let clip = if c.max_grad_norm > 0.0 && norm > c.max_grad_norm {
            c.max_grad_norm / (norm + 1e-6)
        } else {
            1.0
        };
        self.step += 1;
        let (bc1, bc2) = (
            1.0 - c.beta1.powi(self.step as i32),
            1.0 - c.beta2.powi(self.step as i32),
        );
        let (b1, b2, lr, eps) = (T::of(c.beta1), T::of(c.beta2), T::of(c.lr), T::of(c.eps));
        let decay = T::of(1.0 - c.lr * c.weight_decay);
        let (bc1, bc2_sqrt, clip) = (T::of(bc1), T::of(bc2.sqrt()), T::of(clip));
        let tensors = params
            .tensors_mut()
            .into_iter()
            .zip(grads.tensors_mut())
            .zip(self.m.tensors_mut())
            .zip(self.v.tensors_mut());
        for ((((name, p), (_, g)), (_, m)), (_, v)) in tensors {
            let decay = if decays(&name) { decay } else { T::one() };
            // Elementwise, so split into pieces across threads (the result does not depend on
            // the split).
            const PIECE: usize = 1 << 16;
            p.par_chunks_mut(PIECE)
                .zip(g.par_chunks_mut(PIECE))
                .zip(m.par_chunks_mut(PIECE).zip(v.par_chunks_mut(PIECE)))
                .for_each(|((p, g), (m, v))| {
                    for i in 0..p.len() {
                        g[i] *= clip;
                        p[i] *= decay;
                        m[i] = b1 * m[i] + (T::one() - b1) * g[i];
                        v[i] = b2 * v[i] + (T::one() - b2) * g[i] * g[i];
                        p[i] -= lr * (m[i] / bc1) / (v[i].sqrt() / bc2_sqrt + eps);
                    }
                });
        }
        norm
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelConfig;

    #[test]
    fn first_step_moves_each_weight_by_lr_against_its_gradient_sign() {
        let config = ModelConfig::tiny(4);
        let mut p = ModelWeights::<f64>::zeros(&config);
        let mut g = ModelWeights::<f64>::zeros(&config);
        g.final_norm[0] = 0.5;
        g.final_norm[1] = -2.0;
        let mut opt = AdamW::new(
            AdamWConfig {
                lr: 0.1,
                max_grad_norm: 0.0,
                ..Default::default()
            },
            &p,
        );
        opt.step(&mut p, &mut g);
        assert!((p.final_norm[0] + 0.1).abs() < 1e-6 && (p.final_norm[1] - 0.1).abs() < 1e-6);
    }

    #[test]
    fn linear_schedule_starts_at_lr_and_ends_one_step_above_zero() {
        assert_eq!(scheduled_lr(1.0, LrSchedule::Linear, 1, 4), 1.0);
        assert_eq!(scheduled_lr(1.0, LrSchedule::Linear, 4, 4), 0.25);
        assert_eq!(scheduled_lr(1.0, LrSchedule::Constant, 4, 4), 1.0);
    }

    #[test]
    fn weight_decay_skips_norm_weights() {
        let config = ModelConfig::tiny(4);
        let mut p = ModelWeights::<f64>::zeros(&config);
        p.final_norm[0] = 1.0;
        p.layers[0].attn_norm[0] = 1.0;
        p.layers[0].wq[0] = 1.0;
        p.embed[0] = 1.0;
        let mut g = ModelWeights::<f64>::zeros(&config);
        let mut opt = AdamW::new(
            AdamWConfig {
                lr: 0.1,
                weight_decay: 0.5,
                ..Default::default()
            },
            &p,
        );
        opt.step(&mut p, &mut g);
        assert_eq!((p.final_norm[0], p.layers[0].attn_norm[0]), (1.0, 1.0));
        assert!((p.layers[0].wq[0] - 0.95).abs() < 1e-12 && (p.embed[0] - 0.95).abs() < 1e-12);
    }

    #[test]
    fn clipping_scales_to_the_max_norm() {
        let config = ModelConfig::tiny(4);
        let mut p = ModelWeights::<f64>::zeros(&config);
        let mut g = ModelWeights::<f64>::zeros(&config);
        g.final_norm[0] = 3.0;
        g.final_norm[1] = 4.0;
        let mut opt = AdamW::new(
            AdamWConfig {
                max_grad_norm: 1.0,
                ..Default::default()
            },
            &p,
        );
        assert_eq!(opt.step(&mut p, &mut g), 5.0);
        assert!((global_norm(&g) - 1.0).abs() < 1e-5);
    }
}
