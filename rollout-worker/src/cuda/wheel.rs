//! NVRTC from the package registry's `nvidia-cuda-nvrtc` wheel, for machines without a CUDA
//! toolkit (CI): fetched with pip (pinned version, wheel and libraries sha256-checked), the two
//! shared libraries extracted into the cache, never into the repository.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context};

use crate::load::fetch::{cache_dir, sha256_file};

pub const PACKAGE: &str = "nvidia-cuda-nvrtc";
/// The newest 13.x release when this was pinned (2 December 2026).
pub const VERSION: &str = "13.5.37";
pub const WHEEL_NAME: &str =
    "nvidia_cuda_nvrtc-13.5.37-py3-none-manylinux2010_x86_64.manylinux_2_12_x86_64.whl";
pub const WHEEL_SHA256: &str = "86b4d68058807988b7d9af5b44917a0601e9c337f35ccd657bfb3c759ff8d8bc";
/// The libraries inside the wheel and their sha256; libnvrtc finds its builtins next to itself
/// (its RPATH is `$ORIGIN`).
pub const LIBRARIES: [(&str, &str); 2] = [
    (
        "nvidia/cu13/lib/libnvrtc.so.13",
        "98a317ff5d2176dee5a04235c6663f8d553d5ed95b3104cbf7fb198cbf76a10d",
    ),
    (
        "nvidia/cu13/lib/libnvrtc-builtins.so.13.5",
        "6cecb2fd3e562bab1cb1c6e192f8f828157683c8febb22a00e178f9faf4e7f6a",
    ),
];

fn verified(path: &std::path::Path, sha: &str) -> anyhow::Result<bool> {
    Ok(path.exists() && sha256_file(path)? == sha)
}

/// The path of the verified `libnvrtc.so.13`, fetching and extracting the wheel on first use.
/// Fails (with pip's message) where the registry cannot be reached.
pub fn libnvrtc() -> anyhow::Result<PathBuf> {
    let dir = cache_dir().join(format!("nvrtc-{VERSION}"));
    let file_name = |member: &str| member.rsplit('/').next().unwrap_or(member).to_string();
    let target = |member: &str| dir.join(file_name(member));
    let partial = |member: &str| dir.join(format!("{}.partial", file_name(member)));
    let mut all = true;
    for (member, sha) in LIBRARIES {
        all &= verified(&target(member), sha)?;
    }
    if all {
        return Ok(target(LIBRARIES[0].0));
    }
    let wheels = cache_dir().join("wheels");
    std::fs::create_dir_all(&wheels)?;
    let wheel = wheels.join(WHEEL_NAME);
    if !verified(&wheel, WHEEL_SHA256)? {
        eprintln!(
            "fetching {PACKAGE}=={VERSION} with pip into {}",
            wheels.display()
        );
        let out = Command::new("python3")
            .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
            .args(["--platform", "manylinux_2_12_x86_64", "-d"])
            .arg(&wheels)
            .arg(format!("{PACKAGE}=={VERSION}"))
            .output()
            .context("could not run python3 -m pip (install Python 3 with pip)")?;
        if !out.status.success() {
            bail!(
                "pip download {PACKAGE}=={VERSION} failed (no network?): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let got = sha256_file(&wheel)
            .with_context(|| format!("pip did not leave {}", wheel.display()))?;
        if got != WHEEL_SHA256 {
            bail!(
                "{} has sha256 {got}, expected {WHEEL_SHA256}: refusing to use it",
                wheel.display()
            );
        }
    }
    std::fs::create_dir_all(&dir)?;
    // A wheel is a zip archive; Python's zipfile (always there with pip) extracts the members.
    let script = "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1]) as z:\n    for m, out in zip(sys.argv[2::2], sys.argv[3::2]):\n        open(out, 'wb').write(z.read(m))\n";
    let mut cmd = Command::new("python3");
    cmd.args(["-c", script]).arg(&wheel);
    for (member, _) in LIBRARIES {
        cmd.arg(member).arg(partial(member));
    }
    let out = cmd
        .output()
        .context("could not run python3 to unzip the wheel")?;
    if !out.status.success() {
        bail!(
            "extracting NVRTC from {}: {}",
            wheel.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    for (member, sha) in LIBRARIES {
        let got = sha256_file(&partial(member))?;
        if got != sha {
            bail!("extracted {member} has sha256 {got}, expected {sha}");
        }
        std::fs::rename(partial(member), target(member))?;
    }
    Ok(target(LIBRARIES[0].0))
}
