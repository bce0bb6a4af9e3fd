//! Rebuild the probes when bpf-linker changes (it is what links them), as aya-template does.
use which::which;

fn main() {
    if let Ok(linker) = which("bpf-linker") {
        println!("cargo:rerun-if-changed={}", linker.display());
    }
}
