//! select(2), pselect6(2), poll(2), ppoll(2). The entry half stashes the start time and
//! the timeout as passed (the kernel overwrites the caller's timeout with the time
//! left: select(2) NOTES, ppoll(2)); the exit half joins them into one record, with
//! poll's returned events of the first entries (POLLNVAL: not an open fd).
//! nfds above FD_SETSIZE (1024) means select's fd_set is overrun (select(2) BUGS).
use aya_ebpf::helpers::bpf_ktime_get_ns;
use fdwatch_common::{Kind, POLL_ENTRIES, PollFd, WaitPayload};

use super::Call;
use crate::{
    emit,
    maps::{ENTRY, Entry},
    user,
};

#[inline(always)]
pub fn enter(regs: *const u8, kind: Kind) {
    let Some((_, tid)) = emit::wanted() else { return };
    let args = emit::syscall_args(regs);
    // Which argument points to `{ i64 sec; i64 usec|nsec }`: struct __kernel_old_timeval
    // for select(nfds, r, w, e, timeout), struct __kernel_timespec for
    // pselect6(nfds, r, w, e, timeout, sigmask) and ppoll(fds, nfds, tmo_p, ...).
    // poll(fds, nfds, int timeout) passes milliseconds in the arguments themselves.
    let timeout_ptr = match kind {
        Kind::Select | Kind::Pselect6 => args[4],
        Kind::Ppoll => args[2],
        _ => 0,
    };
    let mut entry = Entry {
        start_ns: unsafe { bpf_ktime_get_ns() },
        timeout_sec: 0,
        timeout_subsec: 0,
        has_timeout: 0,
    };
    if let Some([sec, subsec]) = user::read::<[i64; 2]>(timeout_ptr) {
        entry.timeout_sec = sec;
        entry.timeout_subsec = subsec;
        entry.has_timeout = 1;
    }
    let _ = ENTRY.insert(&tid, &entry, 0);
}

#[inline(always)]
pub fn exit(call: &Call) {
    let now = unsafe { bpf_ktime_get_ns() };
    let stashed = unsafe { ENTRY.get(&call.tid) }.copied();
    let _ = ENTRY.remove(&call.tid);
    let Some(mut record) = emit::syscall_record::<WaitPayload>(call) else { return };
    let out = record.as_mut_ptr();
    unsafe {
        let payload = &raw mut (*out).payload;
        let e = stashed.unwrap_or(Entry { start_ns: now, timeout_sec: 0, timeout_subsec: 0, has_timeout: 0 });
        (*payload).duration_ns = now.wrapping_sub(e.start_ns);
        (*payload).timeout_sec = e.timeout_sec;
        (*payload).timeout_subsec = e.timeout_subsec;
        (*payload).has_timeout = e.has_timeout as u32;
        (*payload).nentries = 0;
        if matches!(call.kind, Kind::Poll | Kind::Ppoll) {
            // poll(struct pollfd *fds, nfds_t nfds, ...)
            let base = call.args[0];
            let nfds = call.args[1];
            for i in 0..POLL_ENTRIES {
                if (i as u64) < nfds {
                    (*payload).fds[i] =
                        user::read::<PollFd>(base.wrapping_add(8 * i as u64)).unwrap_or_default();
                    (*payload).nentries = i as u32 + 1;
                }
            }
        }
    }
    emit::submit(record);
}
