//! Builds the eBPF programs (fdwatch-ebpf) for bpfel-unknown-none with the nightly
//! toolchain and bpf-linker, and leaves the object in OUT_DIR for `include_bytes_aligned!`.
//! `AYA_BUILD_SKIP=1` skips it (clippy, docs).
use std::path::PathBuf;

use anyhow::{Context as _, anyhow};
use aya_build::{Package, Toolchain};

fn main() -> anyhow::Result<()> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").context("CARGO_MANIFEST_DIR")?);
    let ebpf_dir =
        manifest_dir.parent().ok_or_else(|| anyhow!("fdwatch/ has no parent directory"))?.join("fdwatch-ebpf");
    let root_dir = ebpf_dir.to_str().ok_or_else(|| anyhow!("non-UTF-8 path {}", ebpf_dir.display()))?;
    // With AYA_BUILD_SKIP (clippy, docs) leave an empty object so the crate still
    // compiles; loading it would fail with a clear error.
    if std::env::var_os("AYA_BUILD_SKIP").is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true")) {
        let out = PathBuf::from(std::env::var("OUT_DIR").context("OUT_DIR")?).join("fdwatch");
        if !out.exists() {
            std::fs::write(&out, b"").context("writing the placeholder eBPF object")?;
        }
    }
    aya_build::build_ebpf([Package { name: "fdwatch-ebpf", root_dir, ..Default::default() }], Toolchain::default())
}
