//! Blocking calls cut short, and their restart: nanosleep(2), clock_nanosleep(2),
//! epoll_wait(2)/epoll_pwait(2)/epoll_pwait2(2), restart_syscall(2). (poll, ppoll,
//! select and pselect6 are reported on every return, wait.rs.)
//!
//! At sys_exit a call a signal or a stop interrupted still shows the kernel-internal
//! code (include/linux/errno.h): the signal is handled, and the call restarted or
//! turned into EINTR, after this tracepoint (syscall_exit_work runs before
//! exit_to_user_mode_loop, kernel/entry/common.c). A sleep returns
//! -ERESTART_RESTARTBLOCK and leaves its deadline in `current->restart_block`
//! (kernel/time/hrtimer.c, do_nanosleep); without a handler the task then calls
//! restart_syscall, which a seccomp filter can refuse. epoll_wait returns -EINTR, even
//! after a stop (fs/eventpoll.c, ep_poll; signal(7): "not restarted after a stop").
//! Only those returns are reported: sleeps and waits that end normally cost nothing
//! beyond the syscall-number dispatch and one comparison.
use fdwatch_common::{Kind, RestartPayload, SleepPayload};

use super::wait::ERESTART_RESTARTBLOCK;
use crate::{
    emit::{self, Call},
    task, user,
};

const EINTR: i64 = 4;
/// ERESTARTSYS (512) .. ERESTART_RESTARTBLOCK (516); 515 is ENOIOCTLCMD.
const ERESTARTSYS: i64 = 512;

/// Whether a call of these kinds returned early: checked before anything else.
#[inline(always)]
pub fn cut_short(ret: i64) -> bool {
    ret == -EINTR || ((-ERESTART_RESTARTBLOCK..=-ERESTARTSYS).contains(&ret) && ret != -515)
}

#[inline(always)]
pub fn exit(call: &Call) {
    let Some(mut entry) = emit::syscall_record::<SleepPayload>(call) else { return };
    let a = &call.args;
    // Where the caller's `struct __kernel_timespec` timeout and the `rem` it gets back
    // are: nanosleep(req, rem); clock_nanosleep(clockid, flags, req, rem);
    // epoll_pwait2(epfd, events, maxevents, timeout, sigmask, sigsetsize).
    let (timeout, rem) = match call.kind {
        Kind::Nanosleep => (a[0], a[1]),
        Kind::ClockNanosleep => (a[2], a[3]),
        Kind::EpollPwait2 => (a[3], 0),
        _ => (0, 0),
    };
    let payload = emit::payload(&mut entry);
    let ([sec, nsec], has_timeout) = user::read_time(timeout, true);
    (payload.timeout_sec, payload.timeout_nsec, payload.has_timeout) = (sec, nsec, u16::from(has_timeout));
    // do_nanosleep wrote `rem` before returning -ERESTART_RESTARTBLOCK
    // (nanosleep_copyout); a failed read just leaves it out.
    let ([sec, nsec], has_rem) = user::read_time(rem, false);
    (payload.rem_sec, payload.rem_nsec, payload.has_rem) = (sec, nsec, u16::from(has_rem));
    let sleeps = matches!(call.kind, Kind::Nanosleep | Kind::ClockNanosleep);
    let (clockid, expires) =
        if sleeps && call.ret == -ERESTART_RESTARTBLOCK { task::restart_nanosleep() } else { (-1, 0) };
    payload.clockid = clockid;
    payload.expires_ns = expires;
    emit::submit(entry);
}

/// restart_syscall(2): the kernel resuming an interrupted sleep or poll. Rare (it only
/// follows a -ERESTART_RESTARTBLOCK), so every one is reported, with the seccomp state
/// that decides whether it may run.
#[inline(always)]
pub fn restart(call: &Call) {
    let Some(mut entry) = emit::syscall_record::<RestartPayload>(call) else { return };
    let (mode, filters) = task::seccomp();
    let payload = emit::payload(&mut entry);
    payload.seccomp_mode = mode;
    payload.seccomp_filters = filters;
    emit::submit(entry);
}
