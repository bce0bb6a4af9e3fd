//! Where things are in the workspace, and building the release fdwatch binary that both
//! `test` and `run` need.

use std::path::PathBuf;

use anyhow::anyhow;

use crate::cmd::{self, Result};

/// The workspace root: xtask always runs from its own source tree, so its manifest
/// directory's parent is the root, whatever the current directory is.
pub fn root() -> PathBuf {
    let xtask_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    xtask_dir.parent().map(PathBuf::from).unwrap_or(xtask_dir)
}

/// cargo's target directory: CARGO_TARGET_DIR if set (relative to the root, where we run
/// cargo), else `<root>/target`.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

/// `cargo build --release -p fdwatch`; returns the absolute path of the binary.
pub fn build_fdwatch() -> Result<PathBuf> {
    eprintln!("build: release fdwatch (its build script also builds the eBPF programs)");
    cmd::run(cmd::cargo().current_dir(root()).args(["build", "--release", "-p", "fdwatch"]))?;
    let bin = target_dir().join("release").join("fdwatch");
    if bin.is_file() { Ok(bin) } else { Err(anyhow!("cargo built fdwatch but {} does not exist", bin.display())) }
}

/// Puts `$CARGO_HOME/bin` (default `~/.cargo/bin`) at the front of PATH if it is not on it.
/// That is where rustup and `cargo install bpf-linker` put their programs; a shell that
/// never sourced `~/.cargo/env` would otherwise miss a bpf-linker that is installed, and
/// aya-build finds bpf-linker through PATH.
pub fn put_cargo_bin_on_path() {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    let Some(bin) = cargo_home.map(|home| home.join("bin")) else {
        return;
    };
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    if dirs.contains(&bin) {
        return;
    }
    dirs.insert(0, bin);
    if let Ok(new_path) = std::env::join_paths(dirs) {
        // SAFETY: called first thing in main, before any other thread exists, so nothing
        // reads the environment concurrently.
        unsafe { std::env::set_var("PATH", new_path) };
    }
}
