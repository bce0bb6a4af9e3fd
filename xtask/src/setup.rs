//! `cargo xtask setup`: checks each tool fdwatch's build and tests need and installs what is
//! missing, one line per step. With everything present it only runs local `--version`-style
//! probes, so it is fast and needs no network; `test` and `run` call it every time.
//!
//! FDWATCH_SETUP_DRY_RUN=1 prints the install commands instead of running them (the checks,
//! including "apt needs root", still run), so the detection logic can be tried on a machine
//! that already has everything, e.g. with a reduced PATH.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, anyhow};

use crate::cmd::{self, Result};

const LLVM_PREFIX: &str = "/usr/lib/llvm-22";
const LLVM_PACKAGES: &[&str] = &["llvm-22-dev", "libpolly-22-dev", "libzstd-dev", "zlib1g-dev", "libxml2-dev"];

pub fn setup() -> Result<()> {
    let mut s = Setup {
        dry_run: std::env::var_os("FDWATCH_SETUP_DRY_RUN").is_some_and(|v| v != "0" && !v.is_empty()),
        root: cmd::is_root(),
        apt_updated: false,
    };
    if s.dry_run {
        eprintln!("setup: FDWATCH_SETUP_DRY_RUN is set: install commands are printed, not run");
    }
    // `cargo xtask test` runs `cargo fmt --check` and `cargo clippy` before the tests.
    s.component(None, "rustfmt", "rustfmt (the formatting gate of `cargo xtask test`)")?;
    s.component(None, "clippy", "clippy (the lint gate of `cargo xtask test`)")?;
    s.nightly()?;
    s.component(Some("nightly"), "rust-src", "rust-src for nightly (-Z build-std=core)")?;
    s.component(Some("nightly"), "clippy", "clippy for nightly (lints the eBPF crate)")?;
    // Checked before LLVM: LLVM 22 dev files are only needed to build bpf-linker.
    let linker = bpf_linker_version();
    s.llvm(linker.is_some())?;
    s.bpf_linker(linker)?;
    s.apt_tool("gcc", "--version", "gcc")?;
    s.apt_tool("python3", "--version", "python3")?;
    // The select_high_fd tests make a tun device where SYNs vanish.
    s.apt_tool("ip", "-V", "iproute2")?;
    // The agent tests (tests/tests/agent_*.rs) run fdwatch with the real log and
    // monitoring stack: rsyslogd, logrotate, prometheus, socat as a TCP collector,
    // systemd-analyze (verify the unit) and setpriv (run it with the unit's capabilities).
    s.apt_tool("rsyslogd", "-v", "rsyslog")?;
    s.apt_tool("logrotate", "--version", "logrotate")?;
    s.apt_tool("prometheus", "--version", "prometheus")?;
    s.apt_tool("socat", "-V", "socat")?;
    s.apt_tool("systemd-analyze", "--version", "systemd")?;
    s.apt_tool("setpriv", "--version", "util-linux")?;
    // The stdio_hijack tests run the real relays of reverse and bind shells (ncat -e,
    // socat EXEC, nc with a FIFO, nc.traditional -e; socat is above) and a terminal
    // multiplexer (tmux).
    s.apt_tool("ncat", "--version", "ncat")?;
    s.apt_tool("nc.openbsd", "-h", "netcat-openbsd")?;
    s.apt_tool("nc.traditional", "-h", "netcat-traditional")?;
    s.apt_tool("tmux", "-V", "tmux")?;
    // `cargo xtask fuzz` and the end of `cargo xtask test` run the fuzz target.
    crate::fuzz::setup_cargo_fuzz(s.dry_run)?;
    Ok(())
}

struct Setup {
    dry_run: bool,
    root: bool,
    /// `apt-get update` runs at most once, and only before the first apt install.
    apt_updated: bool,
}

impl Setup {
    fn nightly(&mut self) -> Result<()> {
        let what = "rustup toolchain nightly (builds the eBPF crate)";
        let list = cmd::probe("rustup", &["toolchain", "list"]).ok_or_else(no_rustup)?;
        if has_nightly(&list) {
            return ok(what);
        }
        missing(what, "rustup");
        self.exec(Command::new("rustup").args(["toolchain", "install", "nightly", "--profile", "minimal"]))
    }

    /// A rustup component of `toolchain` (None: the toolchain running xtask).
    fn component(&mut self, toolchain: Option<&str>, component: &str, what: &str) -> Result<()> {
        let toolchain: &[&str] = match toolchain {
            Some(name) => &["--toolchain", name],
            None => &[],
        };
        let installed = cmd::probe("rustup", &[&["component", "list", "--installed"], toolchain].concat());
        if installed.is_some_and(|installed| has_component(&installed, component)) {
            return ok(what);
        }
        missing(what, "rustup");
        self.exec(Command::new("rustup").args(["component", "add", component]).args(toolchain))
    }

    fn llvm(&mut self, linker_works: bool) -> Result<()> {
        let what = "LLVM 22 dev files (to build bpf-linker)";
        let lib = format!("{LLVM_PREFIX}/lib/libLLVM.so");
        if Path::new(&lib).exists() || cmd::probe("dpkg", &["-s", "llvm-22-dev"]).is_some() {
            return ok(what);
        }
        if linker_works {
            eprintln!("setup: {what}: absent, not needed: bpf-linker already works");
            return Ok(());
        }
        self.apt_install(what, LLVM_PACKAGES)
    }

    fn bpf_linker(&mut self, version: Option<String>) -> Result<()> {
        let what = "bpf-linker (links the eBPF programs)";
        if let Some(version) = version {
            eprintln!("setup: {what}: ok ({})", version.trim());
            return Ok(());
        }
        missing(what, "cargo (about 4 minutes)");
        // bpf-linker's default feature wants LLVM 23 and a download; rustc here uses LLVM 22,
        // and without LLVM_PREFIX its build script looks in /usr/lib64 and fails.
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![Path::new(LLVM_PREFIX).join("bin")];
        dirs.extend(std::env::split_paths(&path));
        let path = std::env::join_paths(dirs).context("bad PATH")?;
        self.exec(
            cmd::cargo()
                .args(["install", "bpf-linker", "--version", "0.13.0"])
                .args(["--no-default-features", "--features", "llvm-22"])
                .env("LLVM_PREFIX", LLVM_PREFIX)
                .env("PATH", path),
        )?;
        if !self.dry_run && bpf_linker_version().is_none() {
            return Err(anyhow!("bpf-linker was installed but `bpf-linker --version` still fails"));
        }
        Ok(())
    }

    /// A host tool the integration tests run (gcc compiles their C helpers, python3 runs
    /// scripts, ip makes network devices), installed from its Debian package.
    fn apt_tool(&mut self, program: &str, version_flag: &str, package: &str) -> Result<()> {
        let what = format!("{program} (used by the integration tests)");
        if cmd::probe(program, &[version_flag]).is_some() {
            return ok(&what);
        }
        self.apt_install(&what, &[package])
    }

    /// Checks that apt can run here before saying it installs anything, so a non-root user
    /// gets one line naming what is missing and the command to run as root.
    fn apt_install(&mut self, what: &str, packages: &[&str]) -> Result<()> {
        let mut install = Command::new("apt-get");
        install.env("DEBIAN_FRONTEND", "noninteractive").args(["install", "-y"]).args(packages);
        if !self.root {
            return Err(anyhow!(
                "{what} is missing and installing it needs root; as root run: apt-get update && {}",
                cmd::display(&install)
            ));
        }
        if !cmd::on_path("apt-get") {
            return Err(anyhow!(
                "{what} is missing and apt-get was not found; install {} with your package manager",
                packages.join(" ")
            ));
        }
        missing(what, "apt");
        if !self.apt_updated {
            self.exec(Command::new("apt-get").arg("update"))?;
            self.apt_updated = true;
        }
        self.exec(&mut install)
    }

    fn exec(&mut self, command: &mut Command) -> Result<()> {
        if self.dry_run {
            eprintln!("+ (dry run, not run) {}", cmd::display(command));
            Ok(())
        } else {
            cmd::run(command)
        }
    }
}

fn ok(what: &str) -> Result<()> {
    eprintln!("setup: {what}: ok");
    Ok(())
}

fn missing(what: &str, with: &str) {
    eprintln!("setup: {what}: missing, installing with {with}");
}

fn no_rustup() -> anyhow::Error {
    anyhow!("rustup not found on PATH; install it from https://rustup.rs, then run `. \"$HOME/.cargo/env\"`")
}

/// `bpf-linker --version` output if it runs. PATH already includes ~/.cargo/bin (see
/// `workspace::put_cargo_bin_on_path`), where `cargo install` puts it.
fn bpf_linker_version() -> Option<String> {
    cmd::probe("bpf-linker", &["--version"])
}

/// Whether `rustup toolchain list` shows the toolchain `rustup run nightly` would use:
/// `nightly-<host>` or a custom `nightly`, not a dated `nightly-2026-05-19-<host>`.
fn has_nightly(list: &str) -> bool {
    list.lines().filter_map(|line| line.split_whitespace().next()).any(|name| {
        name == "nightly"
            || name.strip_prefix("nightly-").is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_digit()))
    })
}

/// Whether `rustup component list --installed` shows `component`: with the target
/// appended (`clippy-x86_64-unknown-linux-gnu`) or, for rust-src, without.
fn has_component(installed: &str, component: &str) -> bool {
    installed.lines().any(|line| {
        let name = line.split_whitespace().next().unwrap_or("");
        name.strip_prefix(component).is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nightly_detection() {
        assert!(has_nightly("stable-x86_64-unknown-linux-gnu (active, default)\nnightly-x86_64-unknown-linux-gnu\n"));
        assert!(!has_nightly(
            "stable-x86_64-unknown-linux-gnu (default)\nnightly-2026-05-19-x86_64-unknown-linux-gnu\n"
        ));
        assert!(!has_nightly("stable-x86_64-unknown-linux-gnu (default)\n1.95.0-x86_64-unknown-linux-gnu\n"));
        assert!(!has_nightly(""));
    }

    #[test]
    fn component_detection() {
        let installed = "cargo-x86_64-unknown-linux-gnu\nclippy-x86_64-unknown-linux-gnu\nrust-src\n";
        assert!(has_component(installed, "rust-src"));
        assert!(has_component(installed, "clippy"));
        assert!(!has_component(installed, "rustfmt"));
        assert!(!has_component("cargo-x86_64-unknown-linux-gnu\nrust-std-x86_64-unknown-linux-gnu\n", "rust-src"));
    }
}
