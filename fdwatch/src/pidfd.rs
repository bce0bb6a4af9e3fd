//! Process file descriptors (pidfd_open(2)): a handle on one process that stays valid,
//! and keeps naming that process, after it exits and its pid is reused.
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::model::Pid;

/// A pidfd for `pid` (close-on-exec, as pidfd_open(2) always sets it).
pub fn open(pid: Pid) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; it reads no
    // memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0u32) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just handed us this fd; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Whether the process has exited: a pidfd polls readable once it has (pidfd_open(2),
/// "the file descriptor becomes readable when the process terminates"), zombie or not.
pub fn exited(pidfd: &OwnedFd) -> bool {
    let mut pfd = libc::pollfd { fd: pidfd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one pollfd, valid for the call; a zero timeout never blocks.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n > 0 && pfd.revents & libc::POLLIN != 0
}
