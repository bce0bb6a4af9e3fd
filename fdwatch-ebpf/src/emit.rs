//! The path every probe shares: filter, reserve, fill the header, submit.
use aya_ebpf::{
    bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::bpf_get_current_ancestor_cgroup_id,
    maps::ring_buf::RingBufEntry,
};
use fdwatch_common::{Header, Kind, SyscallEvent, agent, config::mode};

use crate::{
    clock, config,
    maps::{EVENTS, LOST, MODE, WATCHED},
    task,
};

/// A traced syscall at exit: who made it, with what, and what it returned.
#[derive(Clone, Copy)]
pub struct Call {
    pub kind: Kind,
    /// The calling task (`task::current_btf`), which fills the header.
    pub task: *const u8,
    pub tgid: u32,
    pub tid: u32,
    pub args: [u64; 6],
    pub ret: i64,
}

impl Call {
    /// The syscall succeeded, so the kernel has just used the memory its pointer
    /// arguments name (see user.rs).
    #[inline(always)]
    pub fn succeeded(&self) -> bool {
        self.ret >= 0
    }
}

/// The current task (`task::current_btf`) and its (tgid, tid) if its events are wanted:
/// not fdwatch itself, watched when `--pid` filters, and in the container's cgroups
/// when `--container` does. Checked before anything is reserved. The ids are two loads
/// through the task pointer the header needs anyway: bpf_get_current_pid_tgid, a helper
/// call of its own, was 6% of the program's time (perf, the dup2/close loop).
#[inline(always)]
pub fn wanted() -> Option<(*const u8, u32, u32)> {
    let task = task::current_btf();
    let (tgid, tid) = task::ids_btf(task);
    if tgid == config::own_tgid() || !watched(tgid) || !in_container() {
        return None;
    }
    Some((task, tgid, tid))
}

/// Agent mode drops what the alerts never need (fdwatch_common::agent), before the
/// task is looked at or anything reserved. MODE is a one-element array map, whose
/// lookup the verifier inlines: no helper call.
#[inline(always)]
pub fn unneeded(kind: Kind, ret: i64, arg0: u64) -> bool {
    agent::alerts_never_need(kind, ret, arg0) && MODE.get(0).is_some_and(|m| *m & mode::ALERTS_ONLY != 0)
}

/// Like `wanted` for a call that concerns another process too (ptrace's tracee, a
/// signal's target): wanted when either is watched (`--pid`). With `--container` the
/// caller must be in the container, like every record's process: the record is the
/// caller's, with its cgroup (a signal into the container from outside is not its).
#[inline(always)]
pub fn wanted_with(other_tgid: u32) -> Option<(*const u8, u32, u32)> {
    let task = task::current_btf();
    let (tgid, tid) = task::ids_btf(task);
    if tgid == config::own_tgid() || !(watched(tgid) || watched(other_tgid)) || !in_container() {
        return None;
    }
    Some((task, tgid, tid))
}

#[inline(always)]
pub fn watched(tgid: u32) -> bool {
    // Only the key's presence matters; the value is never read.
    !config::filter_watched() || WATCHED.get_ptr(tgid).is_some()
}

/// Whether the current task is in the `--container` cgroup or below it (always, without
/// `--container`: the constant 0 from frozen .rodata lets the verifier drop the call).
/// The helper returns the id of the current task's unified-hierarchy ancestor at that
/// level, or 0 if the task's cgroup is shallower (kernel/bpf/helpers.c,
/// bpf_get_current_ancestor_cgroup_id: cgroup_ancestor()): one comparison covers the
/// container's own cgroup and any cgroup created under it later, and processes that
/// join it later (`runc exec`) are in it from their first syscall there.
#[inline(always)]
pub fn in_container() -> bool {
    let want = config::container_cgroup();
    // SAFETY: the helper takes a level (any int; out-of-range levels give 0) and reads
    // only the current task's cgroup under RCU.
    want == 0 || unsafe { bpf_get_current_ancestor_cgroup_id(config::container_level() as i32) } == want
}

/// Reserve a record for `kind`, counting the loss when the ring buffer is full.
#[inline(always)]
pub fn reserve<T: 'static>(kind: Kind) -> Option<RingBufEntry<T>> {
    let entry = EVENTS.reserve::<T>(0);
    if entry.is_none() {
        if let Some(count) = LOST.get_ptr_mut(kind as u32) {
            // SAFETY: a non-NULL lookup result points at this CPU's u64 for `kind` in a
            // per-CPU array, whose elements live as long as the map. Only our programs
            // write it, and they do not interleave on one CPU: tracing programs run with
            // migration disabled and a program is skipped, not nested, when it would
            // recurse (__bpf_trace_run, kernel/trace/bpf_trace.c). The collector only
            // reads it.
            unsafe { *count += 1 };
        }
    }
    entry
}

/// Submit, waking the reader once when the bytes waiting cross config::WAKEUP_BYTES.
/// Waking on every record above the mark (as this first did) made every event pay an
/// irq_work while the reader was still on its way: measured 3449 -> 1933 ns per
/// dup2+close pair. A crossing missed because two CPUs reserved at once costs at most
/// the reader's 10 ms timer, not events.
#[inline(always)]
pub fn submit<T>(entry: RingBufEntry<T>) {
    // The pending count includes this record (reserved, not yet committed) and its
    // 8-byte ring-buffer header.
    let len = (core::mem::size_of::<T>() as u64 + 8 + 7) & !7;
    let pending = EVENTS.query(BPF_RB_AVAIL_DATA as u64);
    let mark = config::wakeup_bytes();
    let crossed = pending >= mark && pending.saturating_sub(len) < mark;
    entry.submit(if crossed { BPF_RB_FORCE_WAKEUP } else { BPF_RB_NO_WAKEUP } as u64);
}

/// Fill an event's header for the current task, `task` (from `task::current_btf`).
///
/// # Safety
/// `header` must point to a `Header` inside a ring-buffer record this program reserved
/// and has not submitted yet (writable, 8-byte aligned, ours alone).
#[inline(always)]
pub unsafe fn fill_header(header: *mut Header, kind: Kind, task: *const u8, tgid: u32, tid: u32) {
    // SAFETY: `header` is valid for writes of a Header (the caller's contract). The
    // verifier also checks every store against the reserved record's size at load time.
    unsafe {
        (*header).kind = kind as u32;
        (*header).ts_ns = clock::now();
        (*header).pid = tgid;
        (*header).tid = tid;
        (*header).ppid = task::parent_tgid_btf(task);
        (*header).cgroup_id = task::cgroup_id_btf(task);
        // The comm is 8-byte aligned in Header (fdwatch-common), as in task_struct.
        (&raw mut (*header).comm).cast::<[u64; 2]>().write(task::comm_btf(task));
    }
}

/// Reserve and fill everything but the payload of a syscall record; the caller fills
/// the payload in place (payloads are too large for the 512-byte BPF stack) and submits.
#[inline(always)]
pub fn syscall_record<P: 'static>(call: &Call) -> Option<RingBufEntry<SyscallEvent<P>>> {
    let mut entry = reserve::<SyscallEvent<P>>(call.kind)?;
    let record = entry.as_mut_ptr();
    // SAFETY: `record` points at the record just reserved for a SyscallEvent<P>: 8-byte
    // aligned (ring-buffer records are), writable, and ours until submit.
    unsafe {
        fill_header(&raw mut (*record).header, call.kind, call.task, call.tgid, call.tid);
        (*record).ret = call.ret;
        (*record).args = call.args;
    }
    Some(entry)
}

/// The payload of a record from `syscall_record`, to fill in place before `submit`.
/// Its bytes start out as whatever the ring buffer held (bpf_ringbuf_reserve does not
/// zero them).
#[inline(always)]
pub fn payload<P>(entry: &mut RingBufEntry<SyscallEvent<P>>) -> &mut P {
    // SAFETY: the entry is a reserved, not yet submitted record of a SyscallEvent<P>:
    // aligned (ring-buffer records are 8-byte aligned), writable, and borrowed from the
    // entry, so it cannot be submitted while the payload is in use. Payloads are plain
    // integers and arrays of them, only written through this borrow.
    unsafe { &mut (*entry.as_mut_ptr()).payload }
}
