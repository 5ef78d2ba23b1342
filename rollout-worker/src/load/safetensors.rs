//! The safetensors format: an 8-byte little-endian header length, a JSON header naming each
//! tensor's dtype, shape and byte range, then the raw data. We read F32, F16 and BF16, and write F32.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context};
use serde_json::{json, Value};

use super::quant::f16_to_f32;

/// Tensors by name: shape and f32 values.
pub type Tensors = HashMap<String, (Vec<usize>, Vec<f32>)>;

/// Every tensor in a file, as f32, with its shape.
pub fn read(path: &Path) -> anyhow::Result<Tensors> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    anyhow::ensure!(
        bytes.len() >= 8,
        "{} is too short for safetensors",
        path.display()
    );
    let header_len = u64::from_le_bytes(bytes[..8].try_into()?) as usize;
    let header_end = 8usize
        .checked_add(header_len)
        .filter(|&e| e <= bytes.len())
        .context("safetensors header is truncated")?;
    let header: BTreeMap<String, Value> = serde_json::from_slice(&bytes[8..header_end])?;
    let data = &bytes[header_end..];
    let mut out = HashMap::new();
    for (name, info) in header {
        if name == "__metadata__" {
            continue;
        }
        let dtype = info["dtype"].as_str().unwrap_or("");
        let shape: Vec<usize> = serde_json::from_value(info["shape"].clone())?;
        let offsets: Vec<usize> = serde_json::from_value(info["data_offsets"].clone())?;
        let raw = data
            .get(offsets[0]..offsets[1])
            .with_context(|| format!("tensor {name} lies outside the file"))?;
        let values: Vec<f32> = match dtype {
            "F32" => raw
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            "F16" => raw
                .chunks_exact(2)
                .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
                .collect(),
            "BF16" => raw
                .chunks_exact(2)
                .map(|b| f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16))
                .collect(),
            other => bail!("tensor {name}: dtype {other} is not supported (F32, F16, BF16 are)"),
        };
        anyhow::ensure!(
            values.len() == shape.iter().product::<usize>(),
            "tensor {name}: size does not match its shape"
        );
        out.insert(name, (shape, values));
    }
    Ok(out)
}

/// Writes named f32 tensors (in the given order) with string metadata.
pub fn write(
    path: &Path,
    tensors: &[(String, Vec<usize>, &[f32])],
    metadata: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), json!(metadata));
    let mut offset = 0;
    for (name, shape, data) in tensors {
        let end = offset + data.len() * 4;
        header.insert(
            name.clone(),
            json!({"dtype": "F32", "shape": shape, "data_offsets": [offset, end]}),
        );
        offset = end;
    }
    let mut text = serde_json::to_vec(&header)?;
    while text.len() % 8 != 0 {
        text.push(b' ');
    }
    let partial = path.with_extension("partial");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&partial)?);
    file.write_all(&(text.len() as u64).to_le_bytes())?;
    file.write_all(&text)?;
    for (_, _, data) in tensors {
        for x in data.iter() {
            file.write_all(&x.to_le_bytes())?;
        }
    }
    file.flush()?;
    drop(file);
    std::fs::rename(partial, path)?;
    Ok(())
}
