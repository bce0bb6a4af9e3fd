//! `cargo xtask test`: setup, the gates (rustfmt and clippy over every crate), a release
//! build of fdwatch, then every test with FDWATCH_BIN pointing at that build (the
//! integration tests in tests/ run it; they need root because fdwatch loads eBPF programs),
//! then the fuzz target for a minute (fuzz.rs).

use std::ffi::OsString;
use std::process::Command;

use crate::cmd::{self, Result};
use crate::{setup, workspace};

pub fn test(extra: &[OsString]) -> Result<()> {
    setup::setup()?;
    gates()?;
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
    )?;
    // Then the fuzz target over the whole pipeline, for a bounded time.
    match crate::fuzz::test_seconds()? {
        0 => {
            eprintln!("test: FDWATCH_FUZZ_SECONDS=0: not fuzzing");
            Ok(())
        }
        seconds => crate::fuzz::run(seconds),
    }
}

/// Formatting and lints, before anything slow, so that a slip fails in seconds. Lint
/// levels live in Cargo.toml (`[workspace.lints]`); here every warning is an error.
fn gates() -> Result<()> {
    eprintln!("test: gates: rustfmt, clippy on the host crates, clippy on the eBPF crate");
    let root = workspace::root();
    cmd::run(cmd::cargo().current_dir(&root).args(["fmt", "--all", "--", "--check"]))?;
    // The host crates, tests and xtask included. AYA_BUILD_SKIP: fdwatch's build script
    // leaves an empty eBPF object, which is enough to type-check; the eBPF crate gets its
    // own run below. Clippy uses the dev profile, so this does not touch the release
    // build the tests use.
    cmd::run(
        cmd::cargo()
            .current_dir(&root)
            .args(["clippy", "--workspace", "--exclude", "fdwatch-ebpf", "--all-targets", "--", "-D", "warnings"])
            .env("AYA_BUILD_SKIP", "1"),
    )?;
    // The eBPF crate only builds for bpfel-unknown-none, with nightly and core built from
    // source, as aya-build builds it (and as aya-template's CI lints it). RUSTC and
    // RUSTC_WORKSPACE_WRAPPER would name the stable tools running this cargo; aya-build
    // drops them for the same reason.
    cmd::run(
        Command::new("rustup")
            .current_dir(&root)
            .args(["run", "nightly", "cargo", "clippy", "--package", "fdwatch-ebpf"])
            .args(["--target", "bpfel-unknown-none", "-Z", "build-std=core", "--release", "--", "-D", "warnings"])
            .env_remove("RUSTC")
            .env_remove("RUSTC_WORKSPACE_WRAPPER"),
    )
}
