//! One GPU: the cudarc context and stream, cuBLAS, and the kernels of [`super::kernels`]
//! compiled for this device. Opening it checks, in order, for the driver, a GPU, NVRTC and
//! cuBLAS, and says which is missing instead of letting cudarc panic on a missing library.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use cudarc::cublas::{sys::cublasOperation_t, CudaBlas, Gemm, GemmConfig};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, DevicePtr, DevicePtrMut, LaunchConfig,
};
use cudarc::nvrtc::Ptx;

use super::kernels::SOURCES;
use super::nvrtc::{self, Target};

/// The environment variable naming a `libnvrtc.so.13` to use when none is on the loader's path
/// (`scripts/gpu-check.sh` sets it to the machine's CUDA install or a carried wheel's library).
pub const NVRTC_ENV: &str = "ROLLOUT_WORKER_NVRTC";

pub struct Gpu {
    pub ctx: Arc<CudaContext>,
    pub stream: Arc<CudaStream>,
    pub blas: CudaBlas,
    functions: HashMap<&'static str, CudaFunction>,
    /// e.g. "NVIDIA H200 (sm_90)".
    pub description: String,
}

/// Why no GPU can be used here, or `Ok` when the driver reports at least one device.
pub fn probe() -> anyhow::Result<usize> {
    // SAFETY: only tries to open the library.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        bail!("no CUDA driver found: libcuda.so.1 is not on the loader's path (the NVIDIA driver is not installed)");
    }
    cudarc::driver::result::init()
        .map_err(|e| anyhow!("no CUDA driver found: cuInit failed: {e:?}"))?;
    let count = CudaContext::device_count()
        .map_err(|e| anyhow!("no CUDA GPU: cuDeviceGetCount failed: {e:?}"))?;
    if count <= 0 {
        bail!("no CUDA GPU: the driver reports no device");
    }
    Ok(count as usize)
}

impl Gpu {
    /// Opens device `ordinal` and compiles every kernel for it.
    pub fn open(ordinal: usize) -> anyhow::Result<Gpu> {
        let count = probe()?;
        anyhow::ensure!(
            ordinal < count,
            "no CUDA GPU {ordinal}: the driver reports {count}"
        );
        if let Some(path) = std::env::var_os(NVRTC_ENV) {
            nvrtc::preload(Path::new(&path)).context(NVRTC_ENV)?;
        }
        if !nvrtc::available() {
            bail!("no NVRTC found: put CUDA 13's lib64 on LD_LIBRARY_PATH or set {NVRTC_ENV}=/path/to/libnvrtc.so.13");
        }
        // SAFETY: only tries to open the library.
        if !unsafe { cudarc::cublas::sys::is_culib_present() } {
            bail!("no cuBLAS found: put CUDA 13's lib64 (libcublas.so.13) on LD_LIBRARY_PATH");
        }
        let ctx = CudaContext::new(ordinal).map_err(|e| anyhow!("cuCtxCreate: {e:?}"))?;
        let (major, minor) = ctx
            .compute_capability()
            .map_err(|e| anyhow!("compute capability: {e:?}"))?;
        let sm = (major * 10 + minor) as u32;
        let name = ctx.name().unwrap_or_else(|_| "unknown GPU".into());
        let stream = ctx.default_stream();
        let blas = CudaBlas::new(stream.clone()).map_err(|e| anyhow!("cublasCreate: {e:?}"))?;
        let mut functions = HashMap::new();
        for source in SOURCES {
            let cubin = nvrtc::compile(source, Target::Cubin(sm))?;
            let module = ctx
                .load_module(Ptx::from_binary(cubin))
                .map_err(|e| anyhow!("loading {} for sm_{sm}: {e:?}", source.name))?;
            for &kernel in source.kernels {
                let f = module
                    .load_function(kernel)
                    .map_err(|e| anyhow!("{kernel} in {}: {e:?}", source.name))?;
                functions.insert(kernel, f);
            }
        }
        let (nv_major, nv_minor) = nvrtc::version()?;
        Ok(Gpu {
            ctx,
            stream,
            blas,
            functions,
            description: format!("{name} (sm_{sm}, NVRTC {nv_major}.{nv_minor})"),
        })
    }

    pub fn func(&self, name: &str) -> &CudaFunction {
        self.functions
            .get(name)
            .unwrap_or_else(|| panic!("kernel {name} is not in kernels::SOURCES"))
    }

    pub fn upload<T: cudarc::driver::DeviceRepr>(
        &self,
        host: &[T],
    ) -> anyhow::Result<CudaSlice<T>> {
        self.stream
            .clone_htod(host)
            .map_err(|e| anyhow!("copy to GPU: {e:?}"))
    }

    pub fn download(&self, dev: &CudaSlice<f32>) -> anyhow::Result<Vec<f32>> {
        self.stream
            .clone_dtoh(dev)
            .map_err(|e| anyhow!("copy from GPU: {e:?}"))
    }

    pub fn zeros<T: cudarc::driver::DeviceRepr + cudarc::driver::ValidAsZeroBits>(
        &self,
        n: usize,
    ) -> anyhow::Result<CudaSlice<T>> {
        self.stream
            .alloc_zeros(n.max(1))
            .map_err(|e| anyhow!("GPU allocation of {n} elements: {e:?}"))
    }

    pub fn sync(&self) -> anyhow::Result<()> {
        self.stream.synchronize().map_err(|e| anyhow!("GPU: {e:?}"))
    }

    /// `y (rows x out) = x (rows x in) W^T + beta y`, `W` stored `out x in` row-major (as
    /// [`crate::real::linear`]). cuBLAS is column-major, where a row-major `M` reads as `M^T`:
    /// `y^T = W x^T` with `W` read transposed from its `in x out` column-major view.
    #[allow(clippy::too_many_arguments)]
    pub fn linear(
        &self,
        x: &impl DevicePtr<f32>,
        rows: usize,
        w: &impl DevicePtr<f32>,
        in_dim: usize,
        out_dim: usize,
        y: &mut impl DevicePtrMut<f32>,
        beta: f32,
    ) -> anyhow::Result<()> {
        let cfg = gemm(
            (
                cublasOperation_t::CUBLAS_OP_T,
                cublasOperation_t::CUBLAS_OP_N,
            ),
            (out_dim, rows, in_dim),
            (in_dim, in_dim, out_dim),
            beta,
        );
        // SAFETY: the dimensions describe the buffers (checked by `check_len`).
        check_len("linear x", x.len(), rows * in_dim)?;
        check_len("linear W", w.len(), out_dim * in_dim)?;
        check_len("linear y", y.len(), rows * out_dim)?;
        unsafe { self.blas.gemm(cfg, w, x, y) }.map_err(|e| anyhow!("cublasSgemm: {e:?}"))
    }

    /// Backward of [`Self::linear`] ([`crate::real::linear_backward`]): `dx = dy W + beta_dx dx`
    /// and `d_w += dy^T x`.
    #[allow(clippy::too_many_arguments)]
    pub fn linear_backward(
        &self,
        dy: &impl DevicePtr<f32>,
        x: &impl DevicePtr<f32>,
        rows: usize,
        w: &impl DevicePtr<f32>,
        d_w: &mut impl DevicePtrMut<f32>,
        in_dim: usize,
        out_dim: usize,
        dx: &mut impl DevicePtrMut<f32>,
        beta_dx: f32,
    ) -> anyhow::Result<()> {
        check_len("linear_backward dy", dy.len(), rows * out_dim)?;
        check_len("linear_backward x", x.len(), rows * in_dim)?;
        check_len("linear_backward W", w.len(), out_dim * in_dim)?;
        check_len("linear_backward dW", d_w.len(), out_dim * in_dim)?;
        check_len("linear_backward dx", dx.len(), rows * in_dim)?;
        use cublasOperation_t::{CUBLAS_OP_N as N, CUBLAS_OP_T as T};
        // dx^T (in x rows) = W^T (in x out, W's own column-major view) dy^T (out x rows).
        let cfg = gemm(
            (N, N),
            (in_dim, rows, out_dim),
            (in_dim, out_dim, in_dim),
            beta_dx,
        );
        // SAFETY: the dimensions describe the buffers (checked above).
        unsafe { self.blas.gemm(cfg, w, dy, dx) }.map_err(|e| anyhow!("cublasSgemm: {e:?}"))?;
        // dW^T (in x out) += x^T (in x rows) dy (rows x out, dy^T's view transposed).
        let cfg = gemm(
            (N, T),
            (in_dim, out_dim, rows),
            (in_dim, out_dim, in_dim),
            1.0,
        );
        // SAFETY: as above.
        unsafe { self.blas.gemm(cfg, x, dy, d_w) }.map_err(|e| anyhow!("cublasSgemm: {e:?}"))
    }
}

fn check_len(what: &str, have: usize, need: usize) -> anyhow::Result<()> {
    anyhow::ensure!(have >= need, "{what}: buffer of {have}, need {need}");
    Ok(())
}

fn gemm(
    (transa, transb): (cublasOperation_t, cublasOperation_t),
    (m, n, k): (usize, usize, usize),
    (lda, ldb, ldc): (usize, usize, usize),
    beta: f32,
) -> GemmConfig<f32> {
    GemmConfig {
        transa,
        transb,
        m: m as i32,
        n: n as i32,
        k: k as i32,
        alpha: 1.0,
        lda: lda as i32,
        ldb: ldb as i32,
        beta,
        ldc: ldc as i32,
    }
}

/// A launch of `blocks` blocks of `threads` threads (grid-stride kernels: blocks capped, the
/// kernels loop over the rest).
pub fn blocks(n: usize, threads: u32) -> LaunchConfig {
    let blocks = n.div_ceil(threads as usize).clamp(1, 1 << 16) as u32;
    LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (threads, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// One block of `threads` threads per `(x, y)` of the grid.
pub fn grid(x: usize, y: usize, threads: u32) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (x.max(1) as u32, y.max(1) as u32, 1),
        block_dim: (threads, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// Launches kernel `$name` of `$gpu` with `$cfg` and the arguments, in one expression so that
/// temporaries (`&(n as i32)`) live until the launch. The argument list must match the
/// kernel's signature in `kernels.rs`.
#[macro_export]
#[doc(hidden)]
macro_rules! launch {
    ($gpu:expr, $name:literal, $cfg:expr; $($arg:expr),* $(,)?) => {{
        use cudarc::driver::PushKernelArg as _;
        // SAFETY: the arguments match the kernel's parameter list (see kernels.rs) and the
        // launch configuration's bounds are checked by the kernel.
        unsafe {
            $gpu.stream
                .launch_builder($gpu.func($name))
                $(.arg($arg))*
                .launch($cfg)
        }
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("launching {}: {e:?}", $name))
    }};
}
