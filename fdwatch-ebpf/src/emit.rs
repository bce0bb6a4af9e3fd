//! The path every probe shares: filter, reserve, fill the header, submit.
use aya_ebpf::{
    bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::{bpf_get_current_pid_tgid, bpf_get_smp_processor_id, bpf_ktime_get_ns},
    maps::ring_buf::RingBufEntry,
};
use fdwatch_common::{Header, Kind, SyscallEvent};

use crate::{
    config,
    maps::{EVENTS, LOST, WATCHED},
    probes::Call,
    task,
};

/// The current task's (tgid, tid) if its events are wanted: not fdwatch itself, and
/// watched when `--pid` filters. Checked before anything is reserved or read.
#[inline(always)]
pub fn wanted() -> Option<(u32, u32)> {
    let id = bpf_get_current_pid_tgid();
    let tgid = (id >> 32) as u32;
    if tgid == config::own_tgid() || !watched(tgid) {
        return None;
    }
    Some((tgid, id as u32))
}

#[inline(always)]
pub fn watched(tgid: u32) -> bool {
    !config::filter_watched() || unsafe { WATCHED.get(&tgid) }.is_some()
}

/// Reserve a record for `kind`, counting the loss when the ring buffer is full.
#[inline(always)]
pub fn reserve<T: 'static>(kind: Kind) -> Option<RingBufEntry<T>> {
    let entry = EVENTS.reserve::<T>(0);
    if entry.is_none() {
        if let Some(count) = LOST.get_ptr_mut(kind as u32) {
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

#[inline(always)]
pub fn fill_header(header: *mut Header, kind: Kind, tgid: u32, tid: u32) {
    unsafe {
        (*header).kind = kind as u32;
        (*header).cpu = bpf_get_smp_processor_id();
        (*header).ts_ns = bpf_ktime_get_ns();
        (*header).pid = tgid;
        (*header).tid = tid;
        let task = task::current_btf();
        (*header).ppid = task::parent_tgid_btf(task);
        (*header)._pad = 0;
        // The comm is 8-byte aligned in Header (fdwatch-common), as in task_struct.
        (&raw mut (*header).comm).cast::<[u64; 2]>().write(task::comm_btf(task));
    }
}

/// Syscall arguments in ABI order from the `struct pt_regs` the syscall was entered
/// with (arch/x86/include/asm/ptrace.h): di, si, dx, r10, r8, r9.
#[inline(always)]
pub fn syscall_args(regs: *const u8) -> [u64; 6] {
    // tp_btf's pt_regs pointer is BTF-typed: the verifier turns these into checked
    // direct loads, cheaper than a bpf_probe_read_kernel helper call.
    let at = |offset: usize| unsafe { *(regs.add(offset).cast::<u64>()) };
    // Offsets in pt_regs: r10 56, r9 64, r8 72, dx 96, si 104, di 112.
    [at(112), at(104), at(96), at(56), at(72), at(64)]
}

/// Reserve and fill everything but the payload of a syscall record; the caller fills
/// the payload in place (payloads are too large for the 512-byte BPF stack) and submits.
#[inline(always)]
pub fn syscall_record<P: 'static>(call: &Call) -> Option<RingBufEntry<SyscallEvent<P>>> {
    let mut entry = reserve::<SyscallEvent<P>>(call.kind)?;
    let record = entry.as_mut_ptr();
    unsafe {
        fill_header(&raw mut (*record).header, call.kind, call.tgid, call.tid);
        (*record).ret = call.ret;
        (*record).args = call.args;
    }
    Some(entry)
}
