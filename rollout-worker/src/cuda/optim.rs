//! AdamW with global-norm clipping on the GPU: the formula, order and defaults of
//! [`crate::optim::AdamW::step`], moments kept on the device, the squared norm reduced there
//! and summed on the host in f64.

use super::device::{blocks, Gpu};
use super::weights::GpuWeights;
use crate::launch;
use crate::optim::{decays, AdamWConfig};

/// Blocks of the norm reduction (each adds its partial sum into its own slot).
const NORM_BLOCKS: usize = 256;

pub struct GpuAdamW {
    pub config: AdamWConfig,
    m: GpuWeights,
    v: GpuWeights,
    step: u64,
}

/// `||g||_2` over every tensor (as [`crate::optim::global_norm`]).
pub fn global_norm(gpu: &Gpu, grads: &GpuWeights) -> anyhow::Result<f64> {
    let mut partial = gpu.zeros::<f64>(NORM_BLOCKS)?;
    for t in &grads.tensors {
        let n = t.len() as i64;
        let mut cfg = blocks(t.len(), 256);
        cfg.grid_dim.0 = NORM_BLOCKS as u32;
        launch!(gpu, "sumsq", cfg; t, &n, &mut partial)?;
    }
    let host = gpu
        .stream
        .clone_dtoh(&partial)
        .map_err(|e| anyhow::anyhow!("copy from GPU: {e:?}"))?;
    Ok(host.iter().sum::<f64>().sqrt())
}

impl GpuAdamW {
    pub fn new(gpu: &Gpu, config: AdamWConfig, like: &GpuWeights) -> anyhow::Result<GpuAdamW> {
        Ok(GpuAdamW {
            config,
            m: GpuWeights::zeros(gpu, &like.config)?,
            v: GpuWeights::zeros(gpu, &like.config)?,
            step: 0,
        })
    }

    /// Clips `grads` in place and updates `params`; returns the norm before clipping.
    pub fn step(
        &mut self,
        gpu: &Gpu,
        params: &mut GpuWeights,
        grads: &mut GpuWeights,
    ) -> anyhow::Result<f64> {
        let c = self.config;
        let norm = global_norm(gpu, grads)?;
        let clip = if c.max_grad_norm > 0.0 && norm > c.max_grad_norm {
            c.max_grad_norm / (norm + 1e-6)
        } else {
            1.0
        };
        self.step += 1;
        let bc1 = 1.0 - c.beta1.powi(self.step as i32);
        let bc2 = 1.0 - c.beta2.powi(self.step as i32);
        let scalars = [c.lr, c.beta1, c.beta2, c.eps].map(|x| x as f32);
        let (bc1, bc2_sqrt, clip) = (bc1 as f32, bc2.sqrt() as f32, clip as f32);
        for i in 0..params.tensors.len() {
            let decay = if decays(&params.names[i]) {
                (1.0 - c.lr * c.weight_decay) as f32
            } else {
                1.0f32
            };
            let n = params.tensors[i].len();
            launch!(gpu, "adamw", blocks(n, 256);
                &mut params.tensors[i], &mut grads.tensors[i], &mut self.m.tensors[i],
                &mut self.v.tensors[i], &(n as i64), &scalars[0], &scalars[1], &scalars[2],
                &scalars[3], &decay, &bc1, &bc2_sqrt, &clip)?;
        }
        Ok(norm)
    }
}
