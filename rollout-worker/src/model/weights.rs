//! The parameters of the model, laid out as in Hugging Face checkpoints (linear weights are
//! `out x in`, row-major), and named with the same tensor names, so safetensors files load and
//! save without renaming. The same struct holds gradients and optimiser moments.

use crate::model::ModelConfig;
use crate::real::Real;
use crate::rng::Rng;

#[derive(Debug, Clone)]
pub struct LayerWeights<T> {
    pub attn_norm: Vec<T>,
    pub wq: Vec<T>,
    pub wk: Vec<T>,
    pub wv: Vec<T>,
    pub wo: Vec<T>,
    pub ffn_norm: Vec<T>,
    pub w_gate: Vec<T>,
    pub w_up: Vec<T>,
    pub w_down: Vec<T>,
}

#[derive(Debug, Clone)]
pub struct ModelWeights<T> {
    pub config: ModelConfig,
    pub embed: Vec<T>,
    pub layers: Vec<LayerWeights<T>>,
    pub final_norm: Vec<T>,
    /// `None` when the output projection is tied to `embed`.
    pub lm_head: Option<Vec<T>>,
}

impl<T: Real> ModelWeights<T> {
    /// All zeros (gradient and optimiser buffers).
    pub fn zeros(config: &ModelConfig) -> ModelWeights<T> {
        let (d, f, v) = (
            config.hidden_size,
            config.intermediate_size,
            config.vocab_size,
        );
        let (q, kv) = (config.q_dim(), config.kv_dim());
        let z = |n: usize| vec![T::zero(); n];
        ModelWeights {
            config: config.clone(),
            embed: z(v * d),
            layers: (0..config.num_hidden_layers)
                .map(|_| LayerWeights {
                    attn_norm: z(d),
                    wq: z(q * d),
                    wk: z(kv * d),
                    wv: z(kv * d),
                    wo: z(d * q),
                    ffn_norm: z(d),
                    w_gate: z(f * d),
                    w_up: z(f * d),
                    w_down: z(d * f),
                })
                .collect(),
            final_norm: z(d),
            lm_head: (!config.tie_word_embeddings).then(|| z(v * d)),
        }
    }

    /// Random initialisation as in `LlamaPreTrainedModel._init_weights`: normal(0, 0.02) for
    /// matrices, ones for norms.
    pub fn random(config: &ModelConfig, rng: &mut Rng) -> ModelWeights<T> {
        let mut w = ModelWeights::zeros(config);
        for (name, tensor) in w.tensors_mut() {
            if name.ends_with("norm.weight") {
                tensor.iter_mut().for_each(|x| *x = T::one());
            } else {
                tensor
                    .iter_mut()
                    .for_each(|x| *x = T::of(0.02 * rng.normal()));
            }
        }
        w
    }

    /// The output projection (`lm_head`, or the embedding when tied).
    pub fn output_matrix(&self) -> &[T] {
        self.lm_head.as_deref().unwrap_or(&self.embed)
    }

    /// Every tensor with its Hugging Face name and shape, in a fixed order.
    pub fn tensors(&self) -> Vec<(String, Vec<usize>, &Vec<T>)> {
        let shapes = self.shapes();
        let mut refs: Vec<&Vec<T>> = vec![&self.embed];
        for l in &self.layers {
            refs.extend([
                &l.attn_norm,
                &l.wq,
                &l.wk,
                &l.wv,
                &l.wo,
                &l.ffn_norm,
                &l.w_gate,
                &l.w_up,
                &l.w_down,
            ]);
        }
        refs.push(&self.final_norm);
        if let Some(head) = &self.lm_head {
            refs.push(head);
        }
        shapes
            .into_iter()
            .zip(refs)
            .map(|((n, s), t)| (n, s, t))
            .collect()
    }

    /// Mutable access to every tensor with its name, same order as [`Self::tensors`].
    pub fn tensors_mut(&mut self) -> Vec<(String, &mut Vec<T>)> {
        let names: Vec<String> = self.shapes().into_iter().map(|(n, _)| n).collect();
        let mut refs: Vec<&mut Vec<T>> = vec![&mut self.embed];
        for l in &mut self.layers {
            refs.extend([
                &mut l.attn_norm,
                &mut l.wq,
                &mut l.wk,
                &mut l.wv,
                &mut l.wo,
                &mut l.ffn_norm,
                &mut l.w_gate,
                &mut l.w_up,
                &mut l.w_down,
            ]);
        }
        refs.push(&mut self.final_norm);
        if let Some(head) = &mut self.lm_head {
            refs.push(head);
        }
        names.into_iter().zip(refs).collect()
    }

    /// Names and shapes of every tensor.
    pub fn shapes(&self) -> Vec<(String, Vec<usize>)> {
        let c = &self.config;
        let (d, f, v) = (c.hidden_size, c.intermediate_size, c.vocab_size);
        let (q, kv) = (c.q_dim(), c.kv_dim());
        let mut out = vec![("model.embed_tokens.weight".to_string(), vec![v, d])];
        for i in 0..c.num_hidden_layers {
            let p = format!("model.layers.{i}");
            out.extend([
                (format!("{p}.input_layernorm.weight"), vec![d]),
                (format!("{p}.self_attn.q_proj.weight"), vec![q, d]),
                (format!("{p}.self_attn.k_proj.weight"), vec![kv, d]),
                (format!("{p}.self_attn.v_proj.weight"), vec![kv, d]),
                (format!("{p}.self_attn.o_proj.weight"), vec![d, q]),
                (format!("{p}.post_attention_layernorm.weight"), vec![d]),
                (format!("{p}.mlp.gate_proj.weight"), vec![f, d]),
                (format!("{p}.mlp.up_proj.weight"), vec![f, d]),
                (format!("{p}.mlp.down_proj.weight"), vec![d, f]),
            ]);
        }
        out.push(("model.norm.weight".to_string(), vec![d]));
        if !c.tie_word_embeddings {
            out.push(("lm_head.weight".to_string(), vec![v, d]));
        }
        out
    }

    /// Sets every element to zero, keeping the allocations.
    pub fn fill_zero(&mut self) {
        for (_, t) in self.tensors_mut() {
            t.iter_mut().for_each(|x| *x = T::zero());
        }
    }

    /// Converts element type (e.g. f32 weights to f64 for a gradient check).
    pub fn cast<U: Real>(&self) -> ModelWeights<U> {
        let mut out = ModelWeights::<U>::zeros(&self.config);
        for ((_, _, src), (_, dst)) in self.tensors().into_iter().zip(out.tensors_mut()) {
            for (d, s) in dst.iter_mut().zip(src) {
                *d = U::of(Real::to_f64(*s));
            }
        }
        out
    }
}
