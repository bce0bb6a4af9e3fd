//! Builds the eBPF programs (fdwatch-ebpf) for bpfel-unknown-none with the nightly
//! toolchain and bpf-linker, and leaves the object in OUT_DIR for `include_bytes_aligned!`.
//! `AYA_BUILD_SKIP=1` skips it (clippy, docs).
use anyhow::{Context as _, anyhow};
use aya_build::{Package, Toolchain};

fn main() -> anyhow::Result<()> {
    let metadata = aya_build::cargo_metadata::MetadataCommand::new()
        .no_deps()
        .exec()
        .context("cargo metadata")?;
    let ebpf = metadata
        .packages
        .iter()
        .find(|p| p.name.as_str() == "fdwatch-ebpf")
        .ok_or_else(|| anyhow!("fdwatch-ebpf package not found in the workspace"))?;
    let root_dir = ebpf
        .manifest_path
        .parent()
        .ok_or_else(|| anyhow!("fdwatch-ebpf has no manifest directory"))?;
    aya_build::build_ebpf(
        [Package { name: "fdwatch-ebpf", root_dir: root_dir.as_str(), ..Default::default() }],
        Toolchain::default(),
    )
}
