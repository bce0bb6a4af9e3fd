//! Compiles the C test helpers into OUT_DIR and hands their paths to the crate:
//! tests/helpers/fdops.c (the process the integration tests run under fdwatch) as
//! FDOPS_BIN, tests/helpers/monitor.c (the fd-pool monitor of the select incident) as
//! MONITOR_BIN, tests/helpers/hostile.c (a process with hostile names) as HOSTILE_BIN,
//! tests/helpers/hostile_abi.c (an unprivileged process's abuse of the syscall ABI) as
//! HOSTILE_ABI_BIN, tests/helpers/model_procs.c (the process trees of the model tests)
//! as MODEL_PROCS_BIN, tests/helpers/slowlog.c (seed 002: a worker's sleep stopped by a
//! tracer under a seccomp filter that refuses restart_syscall) as SLOWLOG_BIN. The C
//! compiler is $CC, else `cc` (the one rustc links with), else `gcc`; `cargo xtask setup`
//! installs gcc.
use std::{env, path::PathBuf, process::Command};

fn main() {
    println!("cargo:rerun-if-env-changed=CC");
    // The file name is the process's comm, which the tests expect ("fdops", "monitor",
    // "model_procs").
    build("fdops", "FDOPS_BIN");
    build("monitor", "MONITOR_BIN");
    build("hostile", "HOSTILE_BIN");
    build("hostile_abi", "HOSTILE_ABI_BIN");
    build("model_procs", "MODEL_PROCS_BIN");
    build("slowlog", "SLOWLOG_BIN");
}

fn build(name: &str, env_name: &str) {
    let src = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join(format!("helpers/{name}.c"));
    println!("cargo:rerun-if-changed={}", src.display());
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join(name);
    let compilers: Vec<String> = match env::var("CC") {
        Ok(cc) if !cc.is_empty() => vec![cc],
        _ => vec!["cc".into(), "gcc".into()],
    };
    let mut tried = Vec::new();
    for cc in &compilers {
        let status = Command::new(cc)
            .args(["-O1", "-g", "-Wall", "-Wextra", "-Werror", "-pthread", "-o"])
            .arg(&out)
            .arg(&src)
            .status();
        match status {
            Ok(s) if s.success() => {
                println!("cargo:rustc-env={env_name}={}", out.display());
                return;
            }
            Ok(s) => panic!("{cc} failed to compile {} ({s}); see the compiler output above", src.display()),
            Err(e) => tried.push(format!("{cc}: {e}")),
        }
    }
    panic!(
        "no C compiler to build the test helper {} ({}); install gcc (cargo xtask setup does)",
        src.display(),
        tried.join(", ")
    );
}
