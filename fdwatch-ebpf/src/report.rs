//! Rare failures of the probes, reported as aya-log records: aya-log-ebpf writes them to
//! a ring buffer of its own (AYA_LOGS, 128 KiB), and the collector prints one line each
//! on stderr (fdwatch/src/probes/kernel_log.rs). Losses are not reported here: every
//! failed reservation is already counted in LOST.
//!
//! Each report is an `#[inline(never)]` function, a BPF-to-BPF call made only on a
//! failure path: the probes carry one untaken branch to it per site and none of
//! aya-log's record encoding, so runs that report nothing cost what they did without it.
use aya_ebpf::helpers::bpf_get_current_pid_tgid;
use aya_log_ebpf::warn;

/// aya-log-ebpf 0.2's macros take the program's context but only evaluate it (`let _ =
/// ctx` in aya-log-ebpf-macros' expand.rs); these functions have none, and need none.
const NO_CONTEXT: () = ();

/// The current task's tgid: whose syscall (or fork) the failed read served.
#[inline(always)]
fn tgid() -> u32 {
    (bpf_get_current_pid_tgid() >> 32) as u32
}

/// bpf_probe_read_kernel gave up on a field of an object the kernel had just handed us
/// (task.rs): the field's offset from the running kernel's BTF is wrong, or the object
/// was freed meanwhile. The event goes out with that field zeroed.
#[inline(never)]
pub fn kernel_read_failed(offset: u32, err: i32) {
    warn!(
        &NO_CONTEXT,
        "pid {}: reading a kernel struct field at offset {} failed (error {}); the event lacks it",
        tgid(),
        offset,
        err
    );
}

/// bpf_probe_read_kernel_str gave up on exec's `bprm->filename`.
#[inline(never)]
pub fn exec_filename_failed(err: i64) {
    warn!(&NO_CONTEXT, "pid {}: reading the exec filename failed (error {}); the exec event lacks it", tgid(), err);
}

/// bpf_probe_read_kernel_str gave up on a dentry name during the startup scan (the
/// name tells anonymous inodes apart: "[eventfd]", "inotify", ...).
#[inline(never)]
pub fn dentry_name_failed(err: i64) {
    warn!(&NO_CONTEXT, "startup scan: reading a file's dentry name failed (error {})", err);
}

/// bpf_probe_read_user gave up on memory the syscall had just used successfully (user.rs).
#[inline(never)]
pub fn user_read_failed(addr: u64, err: i64) {
    warn!(
        &NO_CONTEXT,
        "pid {}: reading its memory at {:x} failed (error {}) although the syscall used it; the event lacks it",
        tgid(),
        addr,
        err
    );
}

/// `--follow` could not add a child to WATCHED (-E2BIG: all 65536 entries are taken).
#[inline(never)]
pub fn follow_failed(child: u32, parent: u32, err: i32) {
    warn!(
        &NO_CONTEXT,
        "--follow: pid {} (child of watched pid {}) is not watched: adding it failed (error {})", child, parent, err
    );
}
