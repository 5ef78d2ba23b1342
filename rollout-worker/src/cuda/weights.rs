//! The model's tensors on the GPU, in [`ModelWeights::tensors`]'s order and with its names, so
//! weights copy over and back unchanged and gradients and optimiser moments have the same shape.

use cudarc::driver::CudaSlice;

use super::device::Gpu;
use crate::model::{ModelConfig, ModelWeights};

/// Index of a tensor inside one layer, as [`ModelWeights::tensors`] orders them.
pub mod layer {
    pub const ATTN_NORM: usize = 0;
    pub const WQ: usize = 1;
    pub const WK: usize = 2;
    pub const WV: usize = 3;
    pub const WO: usize = 4;
    pub const FFN_NORM: usize = 5;
    pub const GATE: usize = 6;
    pub const UP: usize = 7;
    pub const DOWN: usize = 8;
    pub const COUNT: usize = 9;
}

pub struct GpuWeights {
    pub config: ModelConfig,
    pub names: Vec<String>,
    pub tensors: Vec<CudaSlice<f32>>,
}

impl GpuWeights {
    pub fn upload(gpu: &Gpu, w: &ModelWeights<f32>) -> anyhow::Result<GpuWeights> {
        let mut names = Vec::new();
        let mut tensors = Vec::new();
        for (name, _, t) in w.tensors() {
            names.push(name);
            tensors.push(gpu.upload(t)?);
        }
        Ok(GpuWeights {
            config: w.config.clone(),
            names,
            tensors,
        })
    }

    /// Zeros in the shape of `config` (gradients, moments).
    pub fn zeros(gpu: &Gpu, config: &ModelConfig) -> anyhow::Result<GpuWeights> {
        let host = ModelWeights::<f32>::zeros(config);
        let mut names = Vec::new();
        let mut tensors = Vec::new();
        for (name, _, t) in host.tensors() {
            names.push(name);
            tensors.push(gpu.zeros(t.len())?);
        }
        Ok(GpuWeights {
            config: config.clone(),
            names,
            tensors,
        })
    }

    pub fn download(&self, gpu: &Gpu) -> anyhow::Result<ModelWeights<f32>> {
        let mut host = ModelWeights::<f32>::zeros(&self.config);
        for ((_, dst), src) in host.tensors_mut().into_iter().zip(&self.tensors) {
            *dst = gpu.download(src)?;
        }
        Ok(host)
    }

    pub fn fill_zero(&mut self, gpu: &Gpu) -> anyhow::Result<()> {
        for t in &mut self.tensors {
            gpu.stream
                .memset_zeros(t)
                .map_err(|e| anyhow::anyhow!("memset: {e:?}"))?;
        }
        Ok(())
    }

    pub fn embed(&self) -> &CudaSlice<f32> {
        &self.tensors[0]
    }

    /// Index of tensor `which` (see [`layer`]) of layer `l`.
    pub fn index(l: usize, which: usize) -> usize {
        1 + l * layer::COUNT + which
    }

    pub fn layer(&self, l: usize, which: usize) -> &CudaSlice<f32> {
        &self.tensors[Self::index(l, which)]
    }

    pub fn final_norm_index(&self) -> usize {
        1 + self.config.num_hidden_layers * layer::COUNT
    }

    /// The output projection's index (`lm_head`, or the embedding when tied).
    pub fn output_index(&self) -> usize {
        if self.config.tie_word_embeddings {
            0
        } else {
            self.final_norm_index() + 1
        }
    }
}
