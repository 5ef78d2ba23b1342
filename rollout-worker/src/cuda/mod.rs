//! The CUDA backend, on `cudarc` with dynamic loading (the binary builds and runs where no CUDA
//! is installed): kernels as CUDA C sources compiled at run time by NVRTC.
//!
//! - [`kernels`]: every kernel's source, each mirroring a CPU reference formula;
//! - [`nvrtc`]: compiling them (PTX for the CI check, a cubin for the device), loading libnvrtc;
//! - [`wheel`]: NVRTC from the package registry's pinned `nvidia-cuda-nvrtc` wheel (CI).

pub mod kernels;
pub mod nvrtc;
pub mod wheel;
