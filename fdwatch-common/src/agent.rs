//! Agent mode: fdwatch without `--events` writes alerts (and stats), not events. The
//! calls below are then dropped in the kernel, before anything is reserved: no
//! detector and no fd-model rule ever reads them, so the collector would decode each
//! and throw it away. With `--events` every call is delivered. The probes and the
//! collector's tests share this one rule (fdwatch/src/detect/tests.rs replays the
//! incidents with and without the dropped calls and expects the same output).
//!
//! Why each is never needed (fdwatch/src/model/apply.rs, fdwatch/src/detect/):
//! - a successful sendto/sendmsg/sendmmsg: the fd table does not change (fds passed
//!   with SCM_RIGHTS change the receiver's table, not the sender's), and the detectors
//!   read sends only as symptoms, which are failures;
//! - a successful poll/ppoll: no fd changes, no detector reads it;
//! - a successful select/pselect6 with nfds <= FD_SETSIZE: select_high_fd needs
//!   nfds above it, whatever the result;
//! - a failed call, but for the few a detector or the model reads (`failure_needed`):
//!   a failure changes no fd (apply.rs) except connect's EINPROGRESS, which sets the
//!   peer; the detectors read failures only as symptoms of a pending alert
//!   (detect/outbox.rs), on an fd the call takes first that is stdio (0-2, the stdio
//!   alerts) or at least FD_SETSIZE (select_high_fd), and select_high_fd reads a
//!   select above FD_SETSIZE whatever it returned; interrupted_wait
//!   (fdwatch/src/detect/interrupted.rs) reads every failed wait (a stop cuts it short
//!   with an ERESTART* code, include/linux/errno.h) and the failed restart that follows
//!   (restart_syscall, or the wait run again): rare, so all of them are kept.
use crate::Kind;

/// glibc's FD_SETSIZE (include/uapi/linux/posix_types.h __FD_SETSIZE): select's fd_set
/// holds this many bits.
pub const FD_SETSIZE: i32 = 1024;

/// connect(2) on a non-blocking socket that is still connecting
/// (include/uapi/asm-generic/errno.h).
const EINPROGRESS: i64 = 115;

/// Whether agent mode can do without this call: its kind, return value and first
/// argument (an fd, or select's nfds) as the syscall got them.
#[inline(always)]
pub fn alerts_never_need(kind: Kind, ret: i64, arg0: u64) -> bool {
    if ret < 0 {
        return !failure_needed(kind, ret, arg0);
    }
    match kind {
        Kind::Sendto | Kind::Sendmsg | Kind::Sendmmsg | Kind::Poll | Kind::Ppoll => true,
        // select(int nfds, ...): the low 32 bits of the register (include/linux/syscalls.h).
        Kind::Select | Kind::Pselect6 => arg0 as i32 <= FD_SETSIZE,
        _ => false,
    }
}

/// The failures the model or a detector reads (see the module comment).
#[inline(always)]
fn failure_needed(kind: Kind, ret: i64, arg0: u64) -> bool {
    // An fd argument is a C int: the low 32 bits of the register.
    let fd = arg0 as i32;
    match kind {
        Kind::Connect if ret == -EINPROGRESS => true,
        _ if interrupted_wait_reads(kind) => true,
        _ if takes_fd_first(kind) => failure_on_fd_kept(fd),
        _ => false,
    }
}

/// The waits a stop can cut short, and the restart of a sleep or a poll: their
/// failures are what interrupted_wait is made of (a select above FD_SETSIZE is also
/// select_high_fd's, whatever it returned).
#[inline(always)]
fn interrupted_wait_reads(kind: Kind) -> bool {
    kind.is_blocking_wait() || matches!(kind, Kind::RestartSyscall)
}

/// The fds whose failed calls (of a `takes_fd_first` kind) agent mode delivers: the
/// only fds a symptom rule names, stdio (the stdio alerts) and FD_SETSIZE on
/// (select_high_fd). The collector checks every rule against this.
#[inline(always)]
pub fn failure_on_fd_kept(fd: i32) -> bool {
    (0..=2).contains(&fd) || fd >= FD_SETSIZE
}

/// The traced calls whose first argument is the fd they act on: the calls that can be
/// a symptom of an alert on that fd (fdwatch/src/detect/outbox.rs).
#[inline(always)]
pub fn takes_fd_first(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Connect
            | Kind::Sendto
            | Kind::Sendmsg
            | Kind::Sendmmsg
            | Kind::Accept
            | Kind::Accept4
            | Kind::Close
            | Kind::Dup
            | Kind::Dup2
            | Kind::Dup3
            | Kind::Fcntl
            | Kind::Ioctl
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_successful_sends_polls_and_small_selects() {
        assert!(alerts_never_need(Kind::Sendto, 3, 5));
        assert!(alerts_never_need(Kind::Sendmmsg, 0, 5));
        assert!(alerts_never_need(Kind::Ppoll, 0, 0));
        assert!(alerts_never_need(Kind::Select, 1, 1024));
        assert!(!alerts_never_need(Kind::Select, 1, 1025));
        // A wider register whose low 32 bits are above FD_SETSIZE is such a select.
        assert!(!alerts_never_need(Kind::Pselect6, 0, (1 << 32) | 2000));
        for kind in Kind::ALL {
            let waits_or_sends = matches!(
                kind,
                Kind::Sendto
                    | Kind::Sendmsg
                    | Kind::Sendmmsg
                    | Kind::Poll
                    | Kind::Ppoll
                    | Kind::Select
                    | Kind::Pselect6
            );
            assert_eq!(alerts_never_need(kind, 0, 0), waits_or_sends, "{kind:?}");
        }
    }

    const EBADF: i64 = 9;
    const EALREADY: i64 = 114;

    #[test]
    fn failures_kept_only_where_a_symptom_or_the_model_may_read_them() {
        // Symptoms: a call on its first-argument fd, stdio or at least FD_SETSIZE.
        for fd in [0, 1, 2, 1024, 5000] {
            assert!(!alerts_never_need(Kind::Sendto, -EBADF, fd), "sendto on fd {fd}");
            assert!(!alerts_never_need(Kind::Connect, -EALREADY, fd), "connect on fd {fd}");
        }
        // A register whose low 32 bits are a stdio fd is that fd.
        assert!(!alerts_never_need(Kind::Close, -EBADF, (1 << 32) | 1));
        // -1 (e.g. fcntl(-1, ...)) is neither: no symptom rule matches it.
        assert!(alerts_never_need(Kind::Fcntl, -EBADF, u64::MAX));
        for fd in [3, 100, 1023] {
            assert!(alerts_never_need(Kind::Close, -EBADF, fd), "close on fd {fd}");
            assert!(alerts_never_need(Kind::Accept4, -11, fd), "accept4 on fd {fd}");
            // A non-blocking connect in progress sets the peer, on any fd.
            assert!(!alerts_never_need(Kind::Connect, -EINPROGRESS, fd));
        }
        // select_high_fd reads a select above FD_SETSIZE whatever it returned.
        assert!(!alerts_never_need(Kind::Select, -EBADF, 1025));
        // interrupted_wait reads every failed wait and restart: a stop's ERESTART*, and
        // the EPERM of a restart a seccomp filter refused.
        const ERESTARTNOHAND: i64 = 514;
        const ERESTART_RESTARTBLOCK: i64 = 516;
        const EPERM: i64 = 1;
        assert!(!alerts_never_need(Kind::Pselect6, -ERESTARTNOHAND, 4));
        assert!(!alerts_never_need(Kind::Poll, -ERESTART_RESTARTBLOCK, 0));
        assert!(!alerts_never_need(Kind::Nanosleep, -ERESTART_RESTARTBLOCK, 0));
        assert!(!alerts_never_need(Kind::RestartSyscall, -EPERM, 0));
        assert!(!alerts_never_need(Kind::EpollWait, -4, 5));
        // Calls that take no fd first are never symptoms, and a failure changes no fd.
        for kind in [Kind::Openat, Kind::Open, Kind::Socket, Kind::Pipe2, Kind::CloseRange, Kind::Eventfd2] {
            assert!(alerts_never_need(kind, -2, 0), "{kind:?}");
        }
    }
}
