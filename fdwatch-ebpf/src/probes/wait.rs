//! select(2), pselect6(2), poll(2), ppoll(2): nfds, the timeout the kernel wrote back
//! (the time not slept: select(2) NOTES, ppoll(2)), and poll's returned events of the
//! first entries (POLLNVAL: not an open fd). nfds above FD_SETSIZE (1024) means
//! select's fd_set is overrun (select(2) BUGS).
use fdwatch_common::{Kind, POLL_ENTRIES, PollFd, WaitPayload};

use crate::{
    emit::{self, Call},
    task, user,
};

/// include/linux/errno.h: a call the kernel will resume through restart_syscall(2).
pub const ERESTART_RESTARTBLOCK: i64 = 516;

#[inline(always)]
pub fn exit(call: &Call) {
    let Some(mut record) = emit::syscall_record::<WaitPayload>(call) else { return };
    let a = &call.args;
    // Which argument points to `{ i64 sec; i64 usec|nsec }`: struct __kernel_old_timeval
    // for select(nfds, r, w, e, timeout), struct __kernel_timespec for
    // pselect6(nfds, r, w, e, timeout, sigmask) and ppoll(fds, nfds, tmo_p, ...).
    // poll(fds, nfds, int timeout) passes milliseconds in the arguments themselves.
    let timeout_ptr = match call.kind {
        Kind::Select | Kind::Pselect6 => a[4],
        Kind::Ppoll => a[2],
        _ => 0,
    };
    let payload = emit::payload(&mut record);
    let ([sec, subsec], has_timeout) = user::read_time(timeout_ptr, call.succeeded());
    (payload.timeout_sec, payload.timeout_subsec, payload.has_timeout) = (sec, subsec, u32::from(has_timeout));
    // Interrupted by a signal or a stop, poll keeps the end of its timeout for
    // restart_syscall (fs/select.c, sys_poll: set_restart_fn(.., do_restart_poll)).
    payload.deadline_ns =
        if call.kind == Kind::Poll && call.ret == -ERESTART_RESTARTBLOCK { task::restart_poll_deadline() } else { 0 };
    payload.nentries = 0;
    if matches!(call.kind, Kind::Poll | Kind::Ppoll) {
        // poll(struct pollfd *fds, nfds_t nfds, ...)
        for i in 0..POLL_ENTRIES {
            if (i as u64) < a[1] {
                payload.fds[i] =
                    user::read::<PollFd>(a[0].wrapping_add(8 * i as u64), call.succeeded()).unwrap_or_default();
                payload.nentries = i as u32 + 1;
            }
        }
    }
    emit::submit(record);
}
