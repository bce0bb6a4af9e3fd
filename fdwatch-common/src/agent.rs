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
//!   nfds above it, whatever the result.
//!
//! Failed calls are always delivered: the detectors take failures as symptoms, a
//! non-blocking connect's EINPROGRESS sets a peer, and a wait cut short by a stop is
//! what interrupted-wait detection starts from.
use crate::Kind;

/// glibc's FD_SETSIZE (include/uapi/linux/posix_types.h __FD_SETSIZE): select's fd_set
/// holds this many bits.
pub const FD_SETSIZE: i32 = 1024;

/// Whether agent mode can do without this call: its kind, return value and first
/// argument (select's nfds) as the syscall got them.
#[inline(always)]
pub fn alerts_never_need(kind: Kind, ret: i64, arg0: u64) -> bool {
    if ret < 0 {
        return false;
    }
    match kind {
        Kind::Sendto | Kind::Sendmsg | Kind::Sendmmsg | Kind::Poll | Kind::Ppoll => true,
        // select(int nfds, ...): the low 32 bits of the register (include/linux/syscalls.h).
        Kind::Select | Kind::Pselect6 => arg0 as i32 <= FD_SETSIZE,
        _ => false,
    }
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
        assert!(!alerts_never_need(Kind::Sendto, -32, 5), "failures are symptoms");
        assert!(!alerts_never_need(Kind::Poll, -4, 0));
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
}
