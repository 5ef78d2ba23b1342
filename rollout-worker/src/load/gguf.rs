//! The GGUF container (version 2 and 3): a header of typed key/value metadata, tensor
//! descriptions, then aligned tensor data. We read the Llama architecture's hyper-parameters,
//! the GPT-2 style tokenizer and the chat template from the metadata, and dequantise every tensor.
//!
//! llama.cpp's converter permutes the rows of `attn_q` and `attn_k` so that rotary pairs are
//! adjacent (`2i, 2i+1`); our model uses Hugging Face's `rotate_half` pairing (`i, i+d/2`), so
//! loading undoes that permutation.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context};

use super::quant;
use super::LoadedModel;
use crate::model::{ModelConfig, ModelWeights};
use crate::tokenizer::{BpeTokenizer, ChatTemplate};

#[derive(Debug, Clone)]
pub enum Value {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    Array(Vec<Value>),
}

impl Value {
    fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Int(i) => Some(*i as u64),
            _ => None,
        }
    }
    fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
    fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

pub struct TensorInfo {
    pub dims: Vec<usize>,
    pub ty: u32,
    pub offset: usize,
}

pub struct GgufFile {
    pub metadata: HashMap<String, Value>,
    pub tensors: HashMap<String, TensorInfo>,
    data: Vec<u8>,
    data_start: usize,
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> anyhow::Result<&[u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .context("GGUF file is truncated")?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn u32(&mut self) -> anyhow::Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into()?))
    }
    fn u64(&mut self) -> anyhow::Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into()?))
    }
    fn string(&mut self) -> anyhow::Result<String> {
        let n = self.u64()? as usize;
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
    fn value(&mut self, ty: u32) -> anyhow::Result<Value> {
        Ok(match ty {
            0 => Value::Int(self.take(1)?[0] as i64),
            1 => Value::Int(self.take(1)?[0] as i8 as i64),
            2 => Value::Int(u16::from_le_bytes(self.take(2)?.try_into()?) as i64),
            3 => Value::Int(i16::from_le_bytes(self.take(2)?.try_into()?) as i64),
            4 => Value::Int(self.u32()? as i64),
            5 => Value::Int(self.u32()? as i32 as i64),
            6 => Value::Float(f32::from_le_bytes(self.take(4)?.try_into()?) as f64),
            7 => Value::Bool(self.take(1)?[0] != 0),
            8 => Value::Str(self.string()?),
            9 => {
                let item = self.u32()?;
                let n = self.u64()? as usize;
                let mut items = Vec::with_capacity(n.min(1 << 20));
                for _ in 0..n {
                    items.push(self.value(item)?);
                }
                Value::Array(items)
            }
            10 => Value::Int(self.u64()? as i64),
            11 => Value::Int(self.u64()? as i64),
            12 => Value::Float(f64::from_le_bytes(self.take(8)?.try_into()?)),
            other => bail!("unknown GGUF metadata type {other}"),
        })
    }
}

impl GgufFile {
    pub fn read(path: &Path) -> anyhow::Result<GgufFile> {
        GgufFile::parse(std::fs::read(path)?)
    }

    pub fn parse(data: Vec<u8>) -> anyhow::Result<GgufFile> {
        let mut r = Reader {
            bytes: &data,
            at: 0,
        };
        if r.take(4)? != b"GGUF" {
            bail!("not a GGUF file (bad magic)");
        }
        let version = r.u32()?;
        if !(2..=3).contains(&version) {
            bail!("GGUF version {version} is not supported (2 and 3 are)");
        }
        let n_tensors = r.u64()? as usize;
        let n_kv = r.u64()? as usize;
        let mut metadata = HashMap::new();
        for _ in 0..n_kv {
            let key = r.string()?;
            let ty = r.u32()?;
            let value = r.value(ty).with_context(|| format!("metadata `{key}`"))?;
            metadata.insert(key, value);
        }
        let mut tensors = HashMap::new();
        for _ in 0..n_tensors {
            let name = r.string()?;
            let n_dims = r.u32()? as usize;
            let dims = (0..n_dims)
                .map(|_| r.u64().map(|d| d as usize))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let ty = r.u32()?;
            let offset = r.u64()? as usize;
            tensors.insert(name, TensorInfo { dims, ty, offset });
        }
        let alignment = metadata
            .get("general.alignment")
            .and_then(Value::as_u64)
            .unwrap_or(32) as usize;
        let data_start = r.at.div_ceil(alignment) * alignment;
        Ok(GgufFile {
            metadata,
            tensors,
            data,
            data_start,
        })
    }

    /// A tensor dequantised to f32, row-major with `dims[0]` fastest (GGML order).
    pub fn tensor(&self, name: &str) -> anyhow::Result<Vec<f32>> {
        let info = self
            .tensors
            .get(name)
            .with_context(|| format!("tensor `{name}` is missing"))?;
        let n: usize = info.dims.iter().product();
        let start = self.data_start + info.offset;
        let size = quant::byte_size(info.ty, n)?;
        let bytes = self
            .data
            .get(start..start + size)
            .with_context(|| format!("tensor `{name}` lies outside the file"))?;
        quant::dequantize(info.ty, bytes, n).with_context(|| format!("tensor `{name}`"))
    }

    fn meta_u(&self, key: &str) -> anyhow::Result<usize> {
        self.metadata
            .get(key)
            .and_then(Value::as_u64)
            .map(|v| v as usize)
            .with_context(|| format!("metadata `{key}` is missing"))
    }

    fn strings(&self, key: &str) -> anyhow::Result<Vec<String>> {
        match self.metadata.get(key) {
            Some(Value::Array(items)) => Ok(items
                .iter()
                .map(|v| v.as_str().unwrap_or_default().to_string())
                .collect()),
            _ => bail!("metadata `{key}` is missing"),
        }
    }
}

/// Undoes llama.cpp's Q/K row permutation for one projection of `heads` heads.
fn unpermute_rows(w: &[f32], heads: usize, head_dim: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; w.len()];
    let half = head_dim / 2;
    for h in 0..heads {
        for i in 0..half {
            for j in 0..2 {
                let src = h * head_dim + 2 * i + j;
                let dst = h * head_dim + j * half + i;
                out[dst * cols..(dst + 1) * cols].copy_from_slice(&w[src * cols..(src + 1) * cols]);
            }
        }
    }
    out
}

/// Loads a Llama-architecture GGUF file: weights (dequantised), tokenizer, chat template.
pub fn load(path: &Path) -> anyhow::Result<LoadedModel> {
    let file = GgufFile::read(path)?;
    let arch = file
        .metadata
        .get("general.architecture")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    if arch != "llama" {
        bail!("architecture `{arch}` is not supported (only `llama`)");
    }
    let tokens = file.strings("tokenizer.ggml.tokens")?;
    let model_kind = file
        .metadata
        .get("tokenizer.ggml.model")
        .and_then(Value::as_str)
        .unwrap_or("");
    if model_kind != "gpt2" {
        bail!("tokenizer model `{model_kind}` is not supported (only byte-level BPE, `gpt2`)");
    }
    let config = ModelConfig {
        vocab_size: tokens.len(),
        hidden_size: file.meta_u("llama.embedding_length")?,
        intermediate_size: file.meta_u("llama.feed_forward_length")?,
        num_hidden_layers: file.meta_u("llama.block_count")?,
        num_attention_heads: file.meta_u("llama.attention.head_count")?,
        num_key_value_heads: file.meta_u("llama.attention.head_count_kv")?,
        head_dim: None,
        rope_theta: file
            .metadata
            .get("llama.rope.freq_base")
            .and_then(Value::as_f64)
            .unwrap_or(10_000.0),
        rms_norm_eps: file
            .metadata
            .get("llama.attention.layer_norm_rms_epsilon")
            .and_then(Value::as_f64)
            .unwrap_or(1e-5),
        tie_word_embeddings: !file.tensors.contains_key("output.weight"),
        max_position_embeddings: file.meta_u("llama.context_length").unwrap_or(2048),
    };
    config.validate()?;
    let mut w = ModelWeights::<f32>::zeros(&config);
    let hd = config.head_dim();
    w.embed = file.tensor("token_embd.weight")?;
    w.final_norm = file.tensor("output_norm.weight")?;
    if let Some(head) = &mut w.lm_head {
        *head = file.tensor("output.weight")?;
    }
    for (i, layer) in w.layers.iter_mut().enumerate() {
        let t = |name: &str| file.tensor(&format!("blk.{i}.{name}.weight"));
        layer.attn_norm = t("attn_norm")?;
        layer.wq = unpermute_rows(
            &t("attn_q")?,
            config.num_attention_heads,
            hd,
            config.hidden_size,
        );
        layer.wk = unpermute_rows(
            &t("attn_k")?,
            config.num_key_value_heads,
            hd,
            config.hidden_size,
        );
        layer.wv = t("attn_v")?;
        layer.wo = t("attn_output")?;
        layer.ffn_norm = t("ffn_norm")?;
        layer.w_gate = t("ffn_gate")?;
        layer.w_up = t("ffn_up")?;
        layer.w_down = t("ffn_down")?;
    }
    for ((name, shape, tensor), (_, expected)) in w
        .tensors()
        .into_iter()
        .zip(ModelWeights::<f32>::zeros(&config).shapes())
    {
        anyhow::ensure!(
            tensor.len() == shape.iter().product::<usize>() && shape == expected,
            "tensor {name} has the wrong size"
        );
    }

    let merges = file
        .strings("tokenizer.ggml.merges")?
        .into_iter()
        .filter_map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        })
        .collect();
    let types: Vec<i64> = match file.metadata.get("tokenizer.ggml.token_type") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_u64().unwrap_or(1) as i64)
            .collect(),
        _ => vec![1; tokens.len()],
    };
    // Type 3 is a control token, 4 user-defined: both are matched whole in the text.
    let special: Vec<u32> = types
        .iter()
        .enumerate()
        .filter(|(_, &t)| t == 3 || t == 4)
        .map(|(i, _)| i as u32)
        .collect();
    let eos = file.meta_u("tokenizer.ggml.eos_token_id")? as u32;
    let bos = file
        .meta_u("tokenizer.ggml.bos_token_id")
        .ok()
        .map(|b| b as u32);
    let pre = file
        .metadata
        .get("tokenizer.ggml.pre")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let split_digits = matches!(
        pre,
        "smollm" | "llama3" | "llama-bpe" | "qwen2" | "deepseek-llm"
    );
    let template = file
        .metadata
        .get("tokenizer.chat_template")
        .and_then(Value::as_str)
        .map(str::to_string);
    let chat_template = template.as_deref().and_then(ChatTemplate::from_jinja);
    let name = file
        .metadata
        .get("general.name")
        .and_then(Value::as_str)
        .unwrap_or("model")
        .to_string();
    let tokenizer = BpeTokenizer::new(tokens, merges, special, eos, bos, split_digits, template);
    Ok(LoadedModel {
        description: format!(
            "{name} from {} ({} parameters, dequantised to f32)",
            path.display(),
            config.parameter_count()
        ),
        weights: w,
        tokenizer: Box::new(tokenizer),
        chat_template,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpermute_restores_rotate_half_order() {
        // One head of dim 4, one column: GGUF rows (0,2,1,3) in HF order are rows 0,1,2,3.
        let gguf = [0.0, 2.0, 1.0, 3.0];
        assert_eq!(unpermute_rows(&gguf, 1, 4, 1), vec![0.0, 1.0, 2.0, 3.0]);
    }
}
