//! `cargo xtask fuzz [--seconds N]`: builds the fuzz target (fuzz/, cargo-fuzz with
//! nightly, address sanitizer, debug assertions and overflow checks), runs the committed
//! regression inputs once, then fuzzes for N seconds (default 60) from the committed seed
//! corpus. Any crash, overflow, leak or timeout is a failure, with the input saved under
//! fuzz/artifacts/ and the command that replays it. `cargo xtask test` runs it after the
//! tests. New inputs go to fuzz/corpus-run/ (not committed); the committed corpus only
//! changes when someone minimises into it (fuzz/README.md).

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, anyhow, bail};

use crate::cmd::{self, Result};
use crate::{setup, workspace};

/// How long `cargo xtask test` fuzzes, unless FDWATCH_FUZZ_SECONDS says otherwise.
pub const TEST_SECONDS: u64 = 60;
const TARGET: &str = "pipeline";
/// The cargo-fuzz release this was written against (`cargo install --locked`).
const CARGO_FUZZ_VERSION: &str = "0.13.2";

pub fn fuzz(args: &[OsString]) -> Result<()> {
    let seconds = match args {
        [] => TEST_SECONDS,
        [flag, n] if flag == "--seconds" => {
            n.to_str().and_then(|n| n.parse().ok()).ok_or_else(|| anyhow!("--seconds wants a number, got {n:?}"))?
        }
        _ => bail!("usage: cargo xtask fuzz [--seconds N]"),
    };
    setup::setup()?;
    run(seconds)
}

/// The seconds `cargo xtask test` fuzzes: FDWATCH_FUZZ_SECONDS, else [`TEST_SECONDS`];
/// 0 skips fuzzing.
pub fn test_seconds() -> Result<u64> {
    match std::env::var("FDWATCH_FUZZ_SECONDS") {
        Ok(s) => s.parse().map_err(|_| anyhow!("FDWATCH_FUZZ_SECONDS must be a number of seconds, got {s:?}")),
        Err(_) => Ok(TEST_SECONDS),
    }
}

/// Build, replay the regressions, fuzz for `seconds`. Needs what setup installs.
pub fn run(seconds: u64) -> Result<()> {
    let root = workspace::root();
    let fuzz_dir = root.join("fuzz");
    // Its own workspace, so `cargo fmt --all` (the gate of `test`) does not see it.
    eprintln!("fuzz: rustfmt on the fuzz crate");
    cmd::run(cmd::cargo().current_dir(&root).args(["fmt", "--manifest-path", "fuzz/Cargo.toml", "--", "--check"]))?;
    eprintln!("fuzz: build the {TARGET} target (nightly, address sanitizer, debug assertions)");
    cmd::run(cargo_fuzz(&root).args(["build", TARGET]))?;

    let regressions = fuzz_dir.join("regressions").join(TARGET);
    eprintln!("fuzz: replay every input that once crashed the collector ({})", regressions.display());
    cmd::run(cargo_fuzz(&root).args(["run", TARGET]).arg(&regressions).args(["--", "-runs=0"]))
        .context("an input that once crashed the collector fails again")?;

    // libFuzzer writes new inputs into the first corpus directory: a scratch one, so the
    // committed seeds stay as they are.
    let scratch = fuzz_dir.join("corpus-run");
    std::fs::create_dir_all(&scratch).with_context(|| format!("cannot create {}", scratch.display()))?;
    let seeds = fuzz_dir.join("corpus").join(TARGET);
    if !seeds.is_dir() {
        bail!("the seed corpus {} is missing (it is committed: restore it)", seeds.display());
    }
    let artifacts = fuzz_dir.join("artifacts").join(TARGET);
    let before = files_in(&artifacts);
    eprintln!("fuzz: {TARGET} for {seconds} s from {} (new inputs in {})", seeds.display(), scratch.display());
    let status = cmd::status(
        cargo_fuzz(&root)
            .args(["run", TARGET])
            .args([&scratch, &seeds, &regressions])
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            // Inputs are scripts of many records (fuzz/src/lib.rs): let them be long.
            .args(["-max_len=4096", "-timeout=10", "-print_final_stats=1"]),
    )?;
    if status.success() {
        return Ok(());
    }
    let found: Vec<String> = files_in(&artifacts).into_iter().filter(|f| !before.contains(f)).collect();
    if found.is_empty() {
        bail!("the fuzz run failed ({status}) without saving an input; see its output above");
    }
    bail!(
        "the fuzz target found a failure ({status}): {}; replay it with `AYA_BUILD_SKIP=1 rustup run nightly cargo \
         fuzz run {TARGET} <that file>`, and once fixed add it to {} (fuzz/README.md)",
        found.join(", "),
        regressions.display()
    )
}

/// The paths of the files in `dir` (none if it does not exist).
fn files_in(dir: &Path) -> Vec<String> {
    let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
    entries.map(|e| e.path().display().to_string()).collect()
}

/// `rustup run nightly cargo fuzz ...` in the workspace root, without the eBPF build
/// (the target needs the collector's userspace only).
fn cargo_fuzz(root: &Path) -> Command {
    let mut command = Command::new("rustup");
    command.current_dir(root).args(["run", "nightly", "cargo", "fuzz"]).env("AYA_BUILD_SKIP", "1");
    command
}

/// The setup step for cargo-fuzz, in setup's words: checked every time, installed with
/// cargo if missing (about 3 minutes).
pub fn setup_cargo_fuzz(dry_run: bool) -> Result<()> {
    let what = "cargo-fuzz (builds and runs the fuzz target)";
    if let Some(version) = cmd::probe("cargo-fuzz", &["--version"]) {
        eprintln!("setup: {what}: ok ({})", version.trim());
        return Ok(());
    }
    eprintln!("setup: {what}: missing, installing with cargo (about 3 minutes)");
    let mut install = cmd::cargo();
    install.args(["install", "cargo-fuzz", "--locked", "--version", CARGO_FUZZ_VERSION]);
    if dry_run {
        eprintln!("+ (dry run, not run) {}", cmd::display(&install));
        return Ok(());
    }
    cmd::run(&mut install)?;
    if cmd::probe("cargo-fuzz", &["--version"]).is_none() {
        bail!("cargo-fuzz was installed but `cargo-fuzz --version` still fails");
    }
    Ok(())
}
