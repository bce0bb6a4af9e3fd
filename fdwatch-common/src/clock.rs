//! The probes' two clocks. With `--events` every record is stamped with
//! `bpf_ktime_get_ns()` (CLOCK_MONOTONIC, ns). In agent mode it carries the kernel's
//! tick counter instead, `bpf_jiffies64()`, which the verifier inlines into one load
//! (kernel/bpf/verifier.c, do_misc_fixups), while bpf_ktime_get_ns is a helper call
//! that reads the TSC through the clocksource's indirect call: on this machine (AMD,
//! retpolines and Safe-RET) it was 57 ns of the ~185 ns a traced syscall costs above
//! the empty-hook floor. Alerts need milliseconds, not nanoseconds; the tick is 1-10 ms
//! (CONFIG_HZ 1000-100).
//!
//! The collector turns a tick count into CLOCK_MONOTONIC ns with one calibration
//! ([`ClockMark`]): jiffies and ktime read together in the kernel, asked for by the
//! collector's own doorbell syscall, [`DOORBELL_NR`].

/// Bit 63 of `Header::ts_ns` set: the rest is `jiffies_64`, not ns (a monotonic ns
/// count reaches bit 63 after 292 years of uptime).
pub const TS_JIFFIES: u64 = 1 << 63;

/// The syscall the collector makes to have the probes fill the CLOCK map: `tuxcall`
/// (arch/x86/entry/syscalls/syscall_64.tbl, 184), one of the syscalls Linux never
/// implemented (syscalls(2), "Unimplemented system calls"): it fails with ENOSYS, but
/// sys_exit still sees it, and no program has a reason to make it. Only the
/// collector's own call counts (the probe checks the tgid).
pub const DOORBELL_NR: u64 = 184;

/// One calibration: `jiffies_64` and CLOCK_MONOTONIC ns, read one after the other in
/// the probe that answered the doorbell.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClockMark {
    pub jiffies: u64,
    pub ns: u64,
}
