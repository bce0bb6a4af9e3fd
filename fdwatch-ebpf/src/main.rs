//! fdwatch's eBPF programs: one module per syscall family under `probes/`.
//!
//! Hook type: BTF raw tracepoints (tp_btf) only. They need no tracefs (not mounted on a
//! fresh machine), call the program directly with typed arguments, and are far cheaper
//! than classic syscall tracepoints. This kernel refuses fentry/fexit (EPERM at load;
//! bpftrace's kfunc probes fail the same way) and has no kprobes.
//! - sys_exit (raw_syscalls): the fd and socket syscalls, see probes/mod.rs.
//! - sched_process_fork/exec/exit: every variant of fork, exec and exit; fork fires
//!   before the child runs, so its record precedes anything the child does.
#![no_std]
#![no_main]

// Imports only point down: probes -> emit -> clock -> {maps, regs, task, user} -> {config, report}.
mod clock;
mod config;
mod emit;
mod maps;
mod probes;
mod regs;
mod report;
mod task;
mod user;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

/// GPL-compatible, so the probes may call bpf_probe_read_{kernel,user}.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
