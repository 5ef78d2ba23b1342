//! The prompts file: JSON lines, each a `prompt` plus the fields of a verifier sample other than
//! `completion` (`task`, and optionally `components`, `weight`, `limits`), e.g.
//! `{"prompt": "3+4=", "task": {"kind": "math", "answer": "7"}}`.

use std::path::Path;

use anyhow::{bail, Context};
use graders::contract::Sample;
use serde_json::{Map, Value};

pub struct PromptRecord {
    pub prompt: String,
    /// The sample's fields without `prompt`; `completion`, `id` and `group_id` are filled in.
    pub sample_fields: Map<String, Value>,
}

impl PromptRecord {
    /// The sample to grade for one completion of this prompt.
    pub fn sample(
        &self,
        id: String,
        group_id: String,
        completion: String,
    ) -> anyhow::Result<Sample> {
        let mut fields = self.sample_fields.clone();
        fields.insert("id".into(), Value::String(id));
        fields.insert("group_id".into(), Value::String(group_id));
        fields.insert("completion".into(), Value::String(completion));
        Sample::from_value(Value::Object(fields)).map_err(|e| anyhow::anyhow!("{}", e.message))
    }
}

pub fn load_prompts(path: &Path) -> anyhow::Result<Vec<PromptRecord>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading prompts file {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let where_ = || format!("{}:{}", path.display(), n + 1);
        let mut fields: Map<String, Value> = serde_json::from_str(line).with_context(where_)?;
        let prompt = match fields.remove("prompt") {
            Some(Value::String(p)) => p,
            _ => bail!("{}: each line needs a string `prompt`", where_()),
        };
        let record = PromptRecord {
            prompt,
            sample_fields: fields,
        };
        // Check the task now rather than at the first step.
        record
            .sample("check".into(), "check".into(), String::new())
            .with_context(where_)?;
        out.push(record);
    }
    if out.is_empty() {
        bail!("{} holds no prompts", path.display());
    }
    Ok(out)
}
