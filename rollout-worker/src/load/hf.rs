//! Hugging Face checkpoint directories: `config.json`, `*.safetensors` and a tokenizer
//! (`tokenizer.json` + `tokenizer_config.json`, or our marker file for the toy tokenizer).
//! [`save`] writes the same layout, so our checkpoints load back with `--model <dir>`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{bail, Context};
use serde_json::{json, Value};

use super::{safetensors, LoadedModel};
use crate::model::{ModelConfig, ModelWeights};
use crate::tokenizer::{BpeTokenizer, CharTokenizer, ChatTemplate, Tokenizer};

/// Marker file for checkpoints whose tokenizer is the toy character tokenizer.
const TOY_MARKER: &str = "rollout_worker_tokenizer.json";

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

pub fn load(dir: &Path) -> anyhow::Result<LoadedModel> {
    let mut config_json = read_json(&dir.join("config.json"))?;
    if config_json["num_key_value_heads"].is_null() {
        config_json["num_key_value_heads"] = config_json["num_attention_heads"].clone();
    }
    let config: ModelConfig = serde_json::from_value(config_json).context("config.json")?;
    config.validate()?;

    let mut tensors = HashMap::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "safetensors") {
            tensors.extend(safetensors::read(&path)?);
        }
    }
    if tensors.is_empty() {
        bail!("no .safetensors file in {}", dir.display());
    }
    let mut w = ModelWeights::<f32>::zeros(&config);
    for (name, tensor) in w.tensors_mut() {
        let (_, data) = tensors
            .remove(&name)
            .with_context(|| format!("tensor {name} is missing"))?;
        anyhow::ensure!(
            data.len() == tensor.len(),
            "tensor {name}: {} values, expected {}",
            data.len(),
            tensor.len()
        );
        *tensor = data;
    }

    let (tokenizer, chat_template): (Box<dyn Tokenizer>, Option<ChatTemplate>) =
        if dir.join(TOY_MARKER).exists() {
            (
                Box::new(CharTokenizer::toy()),
                Some(ChatTemplate::Plain("{prompt}".into())),
            )
        } else {
            let t = load_tokenizer(dir)?;
            let template = t
                .chat_template
                .as_deref()
                .and_then(ChatTemplate::from_jinja);
            (Box::new(t), template)
        };
    Ok(LoadedModel {
        description: format!(
            "checkpoint {} ({} parameters)",
            dir.display(),
            config.parameter_count()
        ),
        weights: w,
        tokenizer,
        chat_template,
    })
}

/// A byte-level BPE `tokenizer.json`, with EOS and the chat template from `tokenizer_config.json`.
fn load_tokenizer(dir: &Path) -> anyhow::Result<BpeTokenizer> {
    let tj = read_json(&dir.join("tokenizer.json"))?;
    let model = &tj["model"];
    if model["type"] != "BPE" {
        bail!("tokenizer.json: only BPE models are supported");
    }
    let vocab = model["vocab"]
        .as_object()
        .context("tokenizer.json: model.vocab")?;
    let mut tokens = vec![String::new(); vocab.len()];
    for (text, id) in vocab {
        let id = id.as_u64().context("vocab id")? as usize;
        if id >= tokens.len() {
            tokens.resize(id + 1, String::new());
        }
        tokens[id] = text.clone();
    }
    let mut special = Vec::new();
    for added in tj["added_tokens"].as_array().into_iter().flatten() {
        let id = added["id"].as_u64().context("added token id")? as usize;
        if id >= tokens.len() {
            tokens.resize(id + 1, String::new());
        }
        tokens[id] = added["content"].as_str().unwrap_or_default().to_string();
        special.push(id as u32);
    }
    let merges = model["merges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| match m {
            Value::String(s) => s
                .split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string())),
            Value::Array(p) => Some((
                p.first()?.as_str()?.to_string(),
                p.get(1)?.as_str()?.to_string(),
            )),
            _ => None,
        })
        .collect();
    let split_digits = tj["pre_tokenizer"]
        .to_string()
        .contains("\"individual_digits\":true");
    let config = read_json(&dir.join("tokenizer_config.json")).unwrap_or(Value::Null);
    let token_text = |v: &Value| {
        v.as_str()
            .map(str::to_string)
            .or_else(|| v["content"].as_str().map(str::to_string))
    };
    let eos_text = token_text(&config["eos_token"]).unwrap_or_else(|| "<|endoftext|>".into());
    let eos = tokens
        .iter()
        .position(|t| *t == eos_text)
        .with_context(|| format!("EOS token {eos_text} is not in the vocabulary"))?
        as u32;
    let bos = token_text(&config["bos_token"])
        .and_then(|b| tokens.iter().position(|t| *t == b))
        .map(|i| i as u32);
    let template = config["chat_template"].as_str().map(str::to_string);
    Ok(BpeTokenizer::new(
        tokens,
        merges,
        special,
        eos,
        bos,
        split_digits,
        template,
    ))
}

/// Writes the tokenizer files `load` reads back.
pub fn save_bpe_tokenizer(dir: &Path, t: &BpeTokenizer) -> anyhow::Result<()> {
    let vocab: serde_json::Map<String, Value> = t
        .tokens
        .iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), json!(i)))
        .collect();
    let merges: Vec<String> = t.merges.iter().map(|(a, b)| format!("{a} {b}")).collect();
    let added: Vec<Value> = t
        .special
        .iter()
        .map(|(s, id)| json!({"id": id, "content": s, "special": true}))
        .collect();
    let pre = if t.split_digits {
        json!({"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true}, {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}]})
    } else {
        json!({"type": "ByteLevel", "add_prefix_space": false, "use_regex": true})
    };
    let tokenizer = json!({"version": "1.0", "added_tokens": added, "pre_tokenizer": pre,
        "decoder": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": vocab, "merges": merges}});
    std::fs::write(
        dir.join("tokenizer.json"),
        serde_json::to_string(&tokenizer)?,
    )?;
    let config = json!({"eos_token": t.tokens[t.eos as usize], "bos_token": t.bos.map(|b| t.tokens[b as usize].clone()), "chat_template": t.chat_template});
    std::fs::write(
        dir.join("tokenizer_config.json"),
        serde_json::to_string_pretty(&config)?,
    )?;
    Ok(())
}

/// Writes the toy tokenizer's marker.
pub fn save_toy_tokenizer(dir: &Path) -> anyhow::Result<()> {
    std::fs::write(
        dir.join(TOY_MARKER),
        json!({"tokenizer": "toy_chars", "alphabet": crate::tokenizer::chars::TOY_ALPHABET})
            .to_string(),
    )?;
    Ok(())
}

/// Writes `config.json` and `model.safetensors` (f32) into `dir`.
pub fn save_weights(
    dir: &Path,
    w: &ModelWeights<f32>,
    metadata: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut config = serde_json::to_value(&w.config)?;
    config["architectures"] = json!(["LlamaForCausalLM"]);
    config["model_type"] = json!("llama");
    config["head_dim"] = json!(w.config.head_dim());
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_string_pretty(&config)?,
    )?;
    let tensors: Vec<(String, Vec<usize>, &[f32])> = w
        .tensors()
        .into_iter()
        .map(|(n, s, t)| (n, s, t.as_slice()))
        .collect();
    safetensors::write(&dir.join("model.safetensors"), &tensors, metadata)
}
