//! Project tasks, run as `cargo xtask <task>` (alias in .cargo/config.toml):
//! `setup` installs the toolchain pieces, `test` runs every test, `run` runs fdwatch,
//! `bench` measures fdwatch's overhead against its peers and writes BENCHMARKS.md,
//! `fuzz` runs the fuzz target.
//! Progress goes to stderr, like cargo's own, so fdwatch's stdout (e.g. --json) stays clean.

mod bench;
mod cmd;
mod fuzz;
mod run;
mod setup;
mod test;
mod workspace;

use std::ffi::OsString;
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <task>
  setup                 check the build tools (nightly + rust-src, LLVM 22, bpf-linker, gcc,
                        python3, cargo-fuzz) and install what is missing
  test [-- ARGS...]     setup, the gates (cargo fmt --check, clippy -D warnings on every
                        crate), build release fdwatch, cargo test with FDWATCH_BIN set;
                        ARGS go to cargo test (needs root: the tests load eBPF programs);
                        then `fuzz` for 60 s (FDWATCH_FUZZ_SECONDS=N: N s, 0: not at all)
  fuzz [--seconds N]    setup, build the fuzz target (fuzz/), replay its regression inputs,
                        fuzz the whole collector pipeline for N s (default 60); fails on a finding
  run -- ARGS...        setup, build release fdwatch, run it as root with ARGS
  bench [--quick] [--rounds N]
                        setup, build release fdwatch, install the peers (bpftrace, perf,
                        strace, bpftool), measure fdwatch against them, write BENCHMARKS.md
                        (needs root; --quick: short loops, 3 rounds; default 5 rounds)
env: FDWATCH_SETUP_DRY_RUN=1 prints setup's install commands instead of running them";

fn main() -> ExitCode {
    workspace::put_cargo_bin_on_path();
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let task = if args.is_empty() { OsString::new() } else { args.remove(0) };
    // `cargo xtask test -- X` reaches us as `test -- X`; the `--` only separates.
    if args.first().is_some_and(|a| a == "--") {
        args.remove(0);
    }
    let result = match task.to_str().unwrap_or("") {
        "setup" if args.is_empty() => setup::setup().map(|()| ExitCode::SUCCESS),
        "test" => test::test(&args).map(|()| ExitCode::SUCCESS),
        "run" => run::run(&args),
        "bench" => bench::bench(&args).map(|()| ExitCode::SUCCESS),
        "fuzz" => fuzz::fuzz(&args).map(|()| ExitCode::SUCCESS),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
