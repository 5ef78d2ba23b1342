//! Every CUDA kernel compiles: NVRTC from the package registry's pinned `nvidia-cuda-nvrtc` 13.x
//! wheel (fetched with pip, sha256-checked, cached) compiles each source to PTX for sm_80 and
//! sm_90, every declared kernel is an entry point of the result, and each source also builds as
//! an sm_90 cubin (what the backend loads at run time). Needs no GPU, so it runs
//! everywhere CI does; without the network (the first time) it fails, it does not skip.

use rollout_worker::cuda::kernels::{kernel_count, SOURCES};
use rollout_worker::cuda::{nvrtc, wheel};

#[test]
fn every_kernel_compiles_to_ptx_for_sm80_and_sm90() {
    let lib = wheel::libnvrtc().unwrap_or_else(|e| {
        panic!(
            "the NVRTC check needs {}=={} from the package registry and could not get it: {e:#}",
            wheel::PACKAGE,
            wheel::VERSION
        )
    });
    nvrtc::preload(&lib).expect("loading the wheel's libnvrtc");
    let (major, minor) = nvrtc::version().expect("NVRTC version");
    // cudarc must have picked up the wheel's library, not another one on the search path.
    assert_eq!(
        format!("{major}.{minor}"),
        wheel::VERSION.rsplit_once('.').unwrap().0,
        "cudarc loaded a different libnvrtc than {}",
        lib.display()
    );
    for sm in [80, 90] {
        for source in SOURCES {
            let ptx =
                nvrtc::compile(source, nvrtc::Target::Ptx(sm)).unwrap_or_else(|e| panic!("{e:#}"));
            let ptx = String::from_utf8(ptx).expect("PTX is text");
            assert!(
                ptx.contains(&format!(".target sm_{sm}")),
                "{} for compute_{sm}: no `.target sm_{sm}` in the PTX",
                source.name
            );
            let entries = nvrtc::ptx_entries(&ptx);
            for kernel in source.kernels {
                assert!(
                    entries.iter().any(|e| e == kernel),
                    "{}: kernel {kernel} missing from the PTX for sm_{sm} (entries: {entries:?})",
                    source.name
                );
            }
            println!(
                "nvrtc: {} -> PTX for sm_{sm}: {} ({} bytes)",
                source.name,
                source.kernels.join(", "),
                ptx.len()
            );
        }
    }
    // What the backend itself loads on an H200: a cubin for sm_90 (an ELF image).
    for source in SOURCES {
        let cubin =
            nvrtc::compile(source, nvrtc::Target::Cubin(90)).unwrap_or_else(|e| panic!("{e:#}"));
        assert!(
            cubin.starts_with(b"\x7fELF"),
            "{}: the sm_90 cubin is not an ELF image",
            source.name
        );
    }
    println!(
        "nvrtc: compiled {} kernels in {} sources to PTX for sm_80, sm_90 (NVRTC {major}.{minor}, {}=={})",
        kernel_count(),
        SOURCES.len(),
        wheel::PACKAGE,
        wheel::VERSION
    );
}
