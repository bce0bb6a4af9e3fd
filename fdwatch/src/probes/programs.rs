//! Every eBPF program fdwatch attaches: its name in fdwatch-ebpf and the BTF raw
//! tracepoint it hooks (see fdwatch-ebpf/src/main.rs for why this hook type).

pub struct Program {
    pub name: &'static str,
    pub tracepoint: &'static str,
}

const fn tp_btf(name: &'static str, tracepoint: &'static str) -> Program {
    Program { name, tracepoint }
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
