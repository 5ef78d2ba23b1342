//! The CUDA backend, on `cudarc` with dynamic loading (the binary builds and runs where no CUDA
//! is installed; `--device cuda` then fails with a clear message): kernels as CUDA C sources
//! compiled at run time by NVRTC, matrix products in cuBLAS, the CPU model's parameter layout,
//! so weights copy over unchanged and every result can be compared with the CPU reference
//! (`tests/cuda_backend.rs`).
//!
//! - [`kernels`]: every kernel's source, each mirroring a CPU reference formula;
//! - [`nvrtc`]: compiling them (PTX for the CI check, a cubin for the device), loading libnvrtc;
//! - [`wheel`]: NVRTC from the package registry's pinned `nvidia-cuda-nvrtc` wheel (CI);
//! - [`device`]: the context, stream, cuBLAS and loaded kernels; [`ops`]: the kernel calls;
//! - [`weights`]: the tensors on the device; [`train`]: forward and backward; [`decode`]:
//!   KV-cache decoding and sampling; [`optim`]: AdamW;
//! - [`bench`]: `rollout-worker bench --device cuda`;
//! - [`CudaPolicy`]: what the GRPO loop holds when it runs with `--device cuda`.

pub mod bench;
pub mod decode;
pub mod device;
pub mod kernels;
pub mod nvrtc;
pub mod ops;
pub mod optim;
pub mod train;
pub mod weights;
pub mod wheel;

pub use device::Gpu;
pub use weights::GpuWeights;

use crate::model::{ModelWeights, ScoredSequence};
use crate::optim::AdamWConfig;
use crate::rng::Rng;
use crate::sampling::SamplingConfig;

/// Where the model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Device {
    #[default]
    Cpu,
    Cuda,
}

/// The policy, its optional frozen reference, gradients and optimiser, all on one GPU.
pub struct CudaPolicy {
    pub gpu: Gpu,
    pub policy: GpuWeights,
    reference: Option<GpuWeights>,
    grads: GpuWeights,
    optimizer: optim::GpuAdamW,
}

impl CudaPolicy {
    /// Opens GPU 0 and copies the weights (and a frozen reference copy if asked) to it.
    pub fn new(
        weights: &ModelWeights<f32>,
        keep_reference: bool,
        optimizer: AdamWConfig,
    ) -> anyhow::Result<CudaPolicy> {
        let gpu = Gpu::open(0)?;
        let policy = GpuWeights::upload(&gpu, weights)?;
        let reference = if keep_reference {
            Some(GpuWeights::upload(&gpu, weights)?)
        } else {
            None
        };
        let grads = GpuWeights::zeros(&gpu, &weights.config)?;
        let optimizer = optim::GpuAdamW::new(&gpu, optimizer, &policy)?;
        Ok(CudaPolicy {
            gpu,
            policy,
            reference,
            grads,
            optimizer,
        })
    }

    pub fn generate(
        &self,
        prompts: &[Vec<u32>],
        group_size: usize,
        config: &SamplingConfig,
        stop_tokens: &[u32],
        rng: &mut Rng,
    ) -> anyhow::Result<Vec<Vec<Vec<u32>>>> {
        decode::generate(
            &self.gpu,
            &self.policy,
            prompts,
            group_size,
            config,
            stop_tokens,
            rng,
        )
    }

    /// Log-probabilities under the frozen reference, if one is kept.
    pub fn reference_logps(
        &self,
        batch: &[ScoredSequence],
        temperature: f64,
    ) -> anyhow::Result<Option<Vec<Vec<f32>>>> {
        match &self.reference {
            Some(r) => Ok(Some(train::forward(&self.gpu, r, batch, temperature)?.0)),
            None => Ok(None),
        }
    }

    pub fn forward(
        &self,
        batch: &[ScoredSequence],
        temperature: f64,
    ) -> anyhow::Result<(Vec<Vec<f32>>, train::GpuActivations)> {
        train::forward(&self.gpu, &self.policy, batch, temperature)
    }

    /// Backward from `d loss / d logp` and one AdamW step at `lr`; returns the gradient norm
    /// before clipping.
    pub fn update(
        &mut self,
        acts: train::GpuActivations,
        d_logps: &[Vec<f32>],
        lr: f64,
    ) -> anyhow::Result<f64> {
        self.grads.fill_zero(&self.gpu)?;
        train::backward(&self.gpu, &self.policy, acts, d_logps, &mut self.grads)?;
        self.optimizer.config.lr = lr;
        let norm = self
            .optimizer
            .step(&self.gpu, &mut self.policy, &mut self.grads)?;
        self.gpu.sync()?;
        Ok(norm)
    }

    /// The gradients of the last [`Self::update`], after clipping (for tests).
    pub fn gradients(&self) -> anyhow::Result<ModelWeights<f32>> {
        self.grads.download(&self.gpu)
    }

    /// The current weights, on the host (checkpoints).
    pub fn weights(&self) -> anyhow::Result<ModelWeights<f32>> {
        self.policy.download(&self.gpu)
    }
}
