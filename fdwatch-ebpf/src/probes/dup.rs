//! fcntl(2)'s F_DUPFD / F_DUPFD_CLOEXEC / F_SETFD and ioctl(2)'s FIOCLEX / FIONCLEX:
//! the commands that put an open file on another fd number or change CLOEXEC (Python's
//! os.set_inheritable uses the ioctls). dup(2), dup2(2) and dup3(2) need no
//! payload and go through `plain`.
use fdwatch_common::Kind;

use super::{new_fd, plain};
use crate::emit::Call;

/// include/uapi/linux/fcntl.h and asm-generic/fcntl.h.
const F_DUPFD: u64 = 0;
const F_SETFD: u64 = 2;
const F_DUPFD_CLOEXEC: u64 = 1030;

/// fcntl is mostly F_GETFL/F_SETFL traffic; only the fd-table commands matter here, so
/// the rest is dropped before anything is reserved.
#[inline(always)]
pub fn fcntl(call: &Call) {
    if matches!(call.args[1] & 0xffff_ffff, F_DUPFD | F_SETFD | F_DUPFD_CLOEXEC) {
        plain(call);
    }
}

/// FIONCLEX / FIOCLEX (include/uapi/asm-generic/ioctls.h).
const FIONCLEX: u64 = 0x5450;
const FIOCLEX: u64 = 0x5451;
/// TIOCGPTPEER, _IO('T', 0x41) (include/uapi/asm-generic/ioctls.h): opens a pty
/// master's slave and returns the new fd; glibc's openpty(3) uses it.
const TIOCGPTPEER: u64 = 0x5441;

/// ioctl is busy traffic (terminals, sockets, devices); only the two CLOEXEC requests
/// and the one that creates an fd are kept.
#[inline(always)]
pub fn ioctl(call: &Call) {
    match call.args[1] & 0xffff_ffff {
        FIONCLEX | FIOCLEX => plain(call),
        TIOCGPTPEER => new_fd(&Call { kind: Kind::IoctlPtyPeer, ..*call }),
        _ => {}
    }
}
