//! Standard output as the sinks write it: straight to fd 1 (the sink already buffers
//! whole lines; std's line-buffered `Stdout` would copy and split them again), with
//! the two guarantees the README makes of it:
//! - no partial last line: a write that fails part-way through (a full disk takes
//!   what fits, then says ENOSPC) is cut back to the last complete line when stdout is
//!   a regular file (ftruncate(2)); pipes and ttys take whole lines or nothing here,
//!   as the sink writes at most 128 KiB at a time and a failed pipe write is EPIPE;
//! - a reader that goes away is noticed even while nothing is written: poll(2)
//!   reports POLLERR on a pipe whose read end is closed and POLLHUP on a hung-up tty
//!   or socket, whatever events were asked for.
use std::{
    io::{self, Write},
    os::fd::RawFd,
};

const STDOUT: RawFd = libc::STDOUT_FILENO;

pub struct Stdout {
    /// A regular file: a cut line can be taken back.
    regular: bool,
    /// A pipe, socket or tty: its reader can go away.
    can_hang_up: bool,
}

impl Stdout {
    pub fn new() -> Self {
        // SAFETY: struct stat is plain integers, for which all-zero bytes are a value.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat writes into the struct we pass, which outlives the call; fd 1 may
        // be closed, in which case the call fails and we assume nothing about it.
        let mode = if unsafe { libc::fstat(STDOUT, &mut st) } == 0 { st.st_mode & libc::S_IFMT } else { 0 };
        Self {
            regular: mode == libc::S_IFREG,
            can_hang_up: matches!(mode, libc::S_IFIFO | libc::S_IFSOCK | libc::S_IFCHR),
        }
    }

    /// Whether the reader has gone away (a closed pipe, a hung-up terminal or socket).
    /// Costs one poll(2) with a zero timeout; call it at the drain interval.
    pub fn hung_up(&self) -> bool {
        if !self.can_hang_up {
            return false;
        }
        let mut pfd = libc::pollfd { fd: STDOUT, events: 0, revents: 0 };
        // SAFETY: one pollfd, valid for the call; a zero timeout never blocks.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        n > 0 && pfd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0
    }

    /// After `written` bytes of `buf` went out and the rest failed: cut the file back
    /// to the end of the last whole line, so a reader never sees half a record.
    fn take_back_partial_line(&self, buf: &[u8], written: usize) {
        let whole = buf[..written].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let cut = (written - whole) as libc::off_t;
        if cut == 0 || !self.regular {
            return;
        }
        // SAFETY: lseek and ftruncate on fd 1 take no pointers.
        unsafe {
            let end = libc::lseek(STDOUT, 0, libc::SEEK_CUR);
            if end >= cut && libc::ftruncate(STDOUT, end - cut) == 0 {
                libc::lseek(STDOUT, end - cut, libc::SEEK_SET);
            }
        }
    }
}

impl Default for Stdout {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: buf is readable for its length.
        let n = unsafe { libc::write(STDOUT, buf.as_ptr().cast(), buf.len()) };
        if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut written = 0;
        while written < buf.len() {
            match self.write(&buf[written..]) {
                Ok(0) => {
                    self.take_back_partial_line(buf, written);
                    return Err(io::ErrorKind::WriteZero.into());
                }
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.take_back_partial_line(buf, written);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
