//! Every eBPF program fdwatch attaches and the hook each uses: the one place the loader
//! chooses hooks (`load::attach` acts on `Hook`). The eBPF side declares the same hook
//! in each program's attribute (fdwatch-ebpf/src/probes/); a mismatch fails at load,
//! naming the program and the hook.
//!
//! Why BTF raw tracepoints only (fdwatch-ebpf/src/main.rs): fentry/fexit on the fd
//! syscalls would run for the traced calls alone instead of at every syscall's exit,
//! but this kernel refuses trampoline programs at load (EPERM, even an empty one).
//! `cargo xtask bench` asks the running kernel every time: bench/emptyprog.c loads and
//! attaches an empty fexit program on do_dup2 and a BPF LSM program on file_open, and
//! BENCHMARKS.md's "Hook floor" section prints "attached" or the kernel's refusal. On a
//! kernel that takes them, the move is a `Hook` variant here and fexit programs on the
//! syscalls' functions that build the same `emit::Call` the sys_exit dispatch does.

/// How a program attaches.
#[derive(Clone, Copy, Debug)]
pub enum Hook {
    /// A BTF raw tracepoint (tp_btf), by the tracepoint's name.
    TpBtf(&'static str),
}

pub struct Program {
    pub name: &'static str,
    pub hook: Hook,
}

const fn tp_btf(name: &'static str, tracepoint: &'static str) -> Program {
    Program { name, hook: Hook::TpBtf(tracepoint) }
}

/// Process lifecycle first, so that no fd event arrives for a process whose fork the
/// collector could not have seen.
pub const PROGRAMS: &[Program] = &[
    tp_btf("sched_process_fork", "sched_process_fork"),
    tp_btf("sched_process_exec", "sched_process_exec"),
    tp_btf("sched_process_exit", "sched_process_exit"),
    tp_btf("sys_exit", "sys_exit"),
    tp_btf("signal_generate", "signal_generate"),
];
