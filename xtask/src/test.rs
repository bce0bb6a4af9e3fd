//! `cargo xtask test`: setup, a release build of fdwatch, then every test with FDWATCH_BIN
//! pointing at that build (the integration tests in tests/ run it; they need root because
//! fdwatch loads eBPF programs).

use std::ffi::OsString;

use crate::cmd::{self, Result};
use crate::{setup, workspace};

pub fn test(extra: &[OsString]) -> Result<()> {
    setup::setup()?;
    let bin = workspace::build_fdwatch()?;
    eprintln!("test: every test in the workspace, with FDWATCH_BIN={}", bin.display());
    // Every member except fdwatch-ebpf: it only builds for bpfel-unknown-none (fdwatch's
    // build script does that), not for the host. This is the workspace's default-members,
    // spelled out so it does not change if someone edits that list.
    cmd::run(
        cmd::cargo()
            .current_dir(workspace::root())
            .args([
                "test",
                "--workspace",
                "--exclude",
                "fdwatch-ebpf",
                "--release",
                // Run every test binary even if one fails: one failure must not hide others.
                "--no-fail-fast",
            ])
            .args(extra)
            .env("FDWATCH_BIN", &bin),
    )
}
