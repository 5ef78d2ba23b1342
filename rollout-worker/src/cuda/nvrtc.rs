//! NVRTC, loaded at run time through cudarc: compiling the kernel sources to PTX (the CI check,
//! for a virtual architecture such as `compute_80`) or to a cubin for the device at hand (what
//! the backend loads: a cubin needs no PTX JIT, so a toolkit newer than the driver still works
//! within CUDA 13), and pointing cudarc at a libnvrtc that is not on the loader's search path.

use std::ffi::{CStr, CString};
use std::path::Path;

use anyhow::{bail, Context};
use cudarc::nvrtc::{result, sys};

use super::kernels::{full_source, KernelSource};

/// Loads `path` (a `libnvrtc.so.13`) once, globally, before cudarc looks for NVRTC. cudarc
/// opens the library by name (`libnvrtc.so.13` among its candidates), and glibc's `dlopen`
/// answers a bare name with an already-loaded library whose soname matches, so this is how a
/// library outside `LD_LIBRARY_PATH` (which glibc reads only at start-up) gets used.
pub fn preload(path: &Path) -> anyhow::Result<()> {
    let c_path = CString::new(path.as_os_str().as_encoded_bytes())?;
    // SAFETY: dlopen with a valid C string; the handle is kept for the process's lifetime
    // (never closed), as cudarc keeps its own.
    let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
    if handle.is_null() {
        // SAFETY: dlerror returns a thread-local C string or null.
        let why = unsafe {
            let e = libc::dlerror();
            if e.is_null() {
                "unknown error".to_string()
            } else {
                CStr::from_ptr(e).to_string_lossy().into_owned()
            }
        };
        bail!("could not load {}: {why}", path.display());
    }
    Ok(())
}

/// Whether cudarc can find a libnvrtc (by its usual names on the loader's search path, or one
/// [`preload`]ed).
pub fn available() -> bool {
    // SAFETY: only tries to open the library.
    unsafe { sys::is_culib_present() }
}

/// The NVRTC version, `(major, minor)`.
pub fn version() -> anyhow::Result<(i32, i32)> {
    anyhow::ensure!(available(), "no NVRTC library found (libnvrtc.so.13)");
    let (mut major, mut minor) = (0, 0);
    // SAFETY: two valid out-pointers.
    unsafe { sys::nvrtcVersion(&mut major, &mut minor) }
        .result()
        .context("nvrtcVersion")?;
    Ok((major, minor))
}

/// What to compile to.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// PTX for a virtual architecture, e.g. 80 for `compute_80`.
    Ptx(u32),
    /// A cubin for a real one, e.g. 90 for `sm_90`.
    Cubin(u32),
}

/// Compiles one source (with the shared prelude) and returns the PTX text or the cubin bytes.
pub fn compile(source: &KernelSource, target: Target) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(available(), "no NVRTC library found (libnvrtc.so.13)");
    let arch = match target {
        Target::Ptx(sm) => format!("--gpu-architecture=compute_{sm}"),
        Target::Cubin(sm) => format!("--gpu-architecture=sm_{sm}"),
    };
    let src = CString::new(full_source(source))?;
    let name = CString::new(source.name)?;
    let prog = result::create_program(&src, Some(&name)).context("nvrtcCreateProgram")?;
    // The program is destroyed on every path out below.
    let out = (|| {
        // No --use_fast_math: the results are compared with the CPU's libm to 1e-4.
        let options = [arch.clone(), "--std=c++17".to_string()];
        // SAFETY: `prog` is a live program; the options are valid strings.
        if let Err(e) = unsafe { result::compile_program(prog, &options) } {
            // SAFETY: as above.
            let log = unsafe { result::get_program_log(prog) }.unwrap_or_default();
            let log: Vec<u8> = log
                .iter()
                .map(|&c| c as u8)
                .take_while(|&c| c != 0)
                .collect();
            bail!(
                "NVRTC could not compile {} ({arch}): {e:?}\n{}",
                source.name,
                String::from_utf8_lossy(&log)
            );
        }
        match target {
            Target::Ptx(_) => {
                // SAFETY: the program compiled.
                let ptx = unsafe { result::get_ptx(prog) }.context("nvrtcGetPTX")?;
                Ok(ptx
                    .iter()
                    .map(|&c| c as u8)
                    .take_while(|&c| c != 0)
                    .collect())
            }
            Target::Cubin(_) => {
                let mut size = 0usize;
                // SAFETY: the program compiled; `size` is a valid out-pointer and the buffer
                // has the size NVRTC reported.
                unsafe {
                    sys::nvrtcGetCUBINSize(prog, &mut size)
                        .result()
                        .context("nvrtcGetCUBINSize")?;
                    let mut cubin = vec![0u8; size];
                    sys::nvrtcGetCUBIN(prog, cubin.as_mut_ptr().cast())
                        .result()
                        .context("nvrtcGetCUBIN")?;
                    Ok(cubin)
                }
            }
        }
    })();
    // SAFETY: `prog` came from create_program and is destroyed once.
    unsafe { result::destroy_program(prog) }.context("nvrtcDestroyProgram")?;
    out
}

/// The entry points a PTX text declares (`.entry name(`), to check that every kernel is there.
pub fn ptx_entries(ptx: &str) -> Vec<String> {
    ptx.lines()
        .filter_map(|l| {
            let rest = l.trim_start();
            let rest = rest
                .strip_prefix(".visible .entry ")
                .or_else(|| rest.strip_prefix(".entry "))?;
            Some(rest.split('(').next()?.trim().to_string())
        })
        .collect()
}
