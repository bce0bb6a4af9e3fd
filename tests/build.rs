//! Compiles tests/helpers/fdops.c (the process the integration tests run under fdwatch)
//! into OUT_DIR and hands its path to the crate as FDOPS_BIN. The C compiler is $CC, else
//! `cc` (the one rustc links with), else `gcc`; `cargo xtask setup` installs gcc.
use std::{env, path::PathBuf, process::Command};

fn main() {
    let src = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("helpers/fdops.c");
    println!("cargo:rerun-if-changed={}", src.display());
    println!("cargo:rerun-if-env-changed=CC");
    // The file name is the process's comm, which the tests expect to be "fdops".
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("fdops");
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
                println!("cargo:rustc-env=FDOPS_BIN={}", out.display());
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
