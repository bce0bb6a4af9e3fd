//! Reading /proc: the only source of truth for what existed before the probes, and
//! what the model heals from (proc(5)).
use std::{
    ffi::{CStr, CString},
    fs,
    os::unix::ffi::OsStringExt,
};

use crate::{
    clock::Clock,
    model::{
        Access,
        snapshot::{FdSnapshot, ProcSnapshot},
    },
};

/// O_CLOEXEC as fdinfo's octal `flags:` shows it (x86-64).
const O_CLOEXEC: u32 = 0o2000000;

/// /proc/PID/stat split into the comm and the fields after it. comm may contain
/// spaces and ')', so it is what lies between the first '(' and the last ')'
/// (proc_pid_stat(5)); it is any bytes the process set (prctl(PR_SET_NAME)), not
/// necessarily UTF-8, so the file is read as bytes: such a name must not make the
/// process unreadable.
fn read_stat(pid: u32) -> Option<(Vec<u8>, String)> {
    let stat = fs::read(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let comm = stat.get(open + 1..close)?.to_vec();
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?.to_owned();
    Some((comm, rest))
}

/// Parent pid and comm (as bytes) from /proc/PID/stat.
pub fn stat(pid: u32) -> Option<(u32, Vec<u8>)> {
    let (comm, rest) = read_stat(pid)?;
    // proc_pid_stat(5): after the comm come state (3), ppid (4), ...
    let ppid = rest.split_whitespace().nth(1)?.parse().ok()?;
    Some((ppid, comm))
}

/// What `--pid` checks of a task (a process or a thread id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskStatus {
    /// comm from stat (the kernel escapes it in /proc/PID/status, not in stat), as text:
    /// a byte that is not UTF-8 is U+FFFD. Output escapes it (sinks/escape.rs).
    pub name: String,
    /// The thread group (process) the task belongs to.
    pub tgid: u32,
    /// State Z: exited, waiting to be reaped.
    pub zombie: bool,
    /// PF_KTHREAD in the task's flags (include/linux/sched.h): a kernel thread.
    pub kernel_thread: bool,
}

/// PF_KTHREAD, include/linux/sched.h.
const PF_KTHREAD: u64 = 0x0020_0000;

/// A task's status from /proc/PID/stat (state, flags) and /proc/PID/status (Tgid).
/// Thread ids work too: /proc/TID exists for every thread, though readdir skips it.
pub fn status(pid: u32) -> Option<TaskStatus> {
    let (comm, rest) = read_stat(pid)?;
    let name = String::from_utf8_lossy(&comm).into_owned();
    // proc_pid_stat(5): after the comm come state (3), ppid (4), ..., flags (9).
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = *fields.first()?;
    let flags: u64 = fields.get(6)?.parse().ok()?;
    // Its Name: line escapes only some bytes: one that is not UTF-8 stays raw.
    let status = String::from_utf8_lossy(&fs::read(format!("/proc/{pid}/status")).ok()?).into_owned();
    let tgid = status.lines().find_map(|l| l.strip_prefix("Tgid:"))?.trim().parse().ok()?;
    Some(TaskStatus { name, tgid, zombie: state == "Z", kernel_thread: flags & PF_KTHREAD != 0 })
}

/// The target of /proc/PID/exe, as bytes (a path need not be UTF-8).
pub fn exe(pid: u32) -> Option<Vec<u8>> {
    fs::read_link(format!("/proc/{pid}/exe")).ok().map(|p| p.into_os_string().into_vec())
}

/// /proc/PID/cmdline: the argument strings, NUL-separated (empty for a kernel thread).
pub fn cmdline(pid: u32) -> Option<Vec<u8>> {
    fs::read(format!("/proc/{pid}/cmdline")).ok()
}

pub fn parent_of(pid: u32) -> Option<u32> {
    stat(pid).map(|(ppid, _)| ppid)
}

/// What /proc/PID/fd/N points to now, as bytes (a path need not be UTF-8).
pub fn fd_link(pid: u32, fd: i32) -> Option<Vec<u8>> {
    fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok().map(|p| p.into_os_string().into_vec())
}

/// Every pid in /proc.
pub fn pids() -> Vec<u32> {
    fs::read_dir("/proc")
        .map(|dir| dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default()
}

/// Extend `pids` with all their living descendants.
pub fn add_descendants(pids: &mut Vec<u32>) {
    let parents: Vec<(u32, u32)> = self::pids().into_iter().filter_map(|p| Some((p, parent_of(p)?))).collect();
    let mut i = 0;
    while i < pids.len() {
        let parent = pids[i];
        for &(child, ppid) in &parents {
            if ppid == parent && !pids.contains(&child) {
                pids.push(child);
            }
        }
        i += 1;
    }
}

/// `flags:` (octal), `ino:` and, for a pty master, `tty-index:` (ptm_show_fdinfo in
/// drivers/tty/pty.c) of /proc/PID/fdinfo/N.
fn parse_fdinfo(text: &str) -> (u32, u64, Option<u32>) {
    let mut flags = 0;
    let mut ino = 0;
    let mut tty_index = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("flags:") {
            flags = u32::from_str_radix(v.trim(), 8).unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("ino:") {
            ino = v.trim().parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("tty-index:") {
            tty_index = v.trim().parse().ok();
        }
    }
    (flags, ino, tty_index)
}

/// An open directory fd, closed on drop.
struct Dir(libc::c_int);

impl Dir {
    fn open(path: &CStr) -> Option<Dir> {
        // SAFETY: path is NUL-terminated; the fd is owned by the returned Dir.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC) };
        (fd >= 0).then_some(Dir(fd))
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: we own the fd.
        unsafe { libc::close(self.0) };
    }
}

/// readlinkat(dir, name) into `buf`; the link text.
fn readlink_at<'b>(dir: &Dir, name: &CStr, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    // SAFETY: buf is writable for its length; name is NUL-terminated.
    let n = unsafe { libc::readlinkat(dir.0, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (n > 0).then(|| &buf[..n as usize])
}

/// The whole (small) file `name` in `dir` into `buf`.
fn read_at<'b>(dir: &Dir, name: &CStr, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    // SAFETY: as above; the fd is closed before returning.
    unsafe {
        let fd = libc::openat(dir.0, name.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return None;
        }
        let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd);
        (n > 0).then(|| &buf[..n as usize])
    }
}

/// Read one process's fds. None if it is gone (or was never there). Fds that vanish
/// while being read are skipped: the reading is as of `read_at_ns`, and later events
/// correct it. Each fd costs a readlinkat and an openat/read/close of its fdinfo,
/// relative to directory fds so that no path is walked twice.
pub fn snapshot(pid: u32) -> Option<ProcSnapshot> {
    let read_at_ns = Clock::monotonic_now_ns();
    let (ppid, comm) = stat(pid)?;
    let exe = exe(pid);
    let fd_dir = Dir::open(&CString::new(format!("/proc/{pid}/fd")).ok()?)?;
    let info_dir = Dir::open(&CString::new(format!("/proc/{pid}/fdinfo")).ok()?)?;
    let entries = fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    let mut fds = Vec::new();
    let mut link_buf = [0u8; 4096];
    let mut info_buf = [0u8; 1024];
    let mut name = Vec::with_capacity(16);
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(fd) = file_name.to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        name.clear();
        name.extend_from_slice(file_name.as_encoded_bytes());
        name.push(0);
        let Ok(cname) = CStr::from_bytes_with_nul(&name) else { continue };
        let Some(link) = readlink_at(&fd_dir, cname, &mut link_buf) else { continue };
        let link = link.to_vec();
        let Some(info) = read_at(&info_dir, cname, &mut info_buf) else { continue };
        let (flags, ino, tty_index) = parse_fdinfo(&String::from_utf8_lossy(info));
        let access = Access::of_flags(flags);
        fds.push(FdSnapshot { fd, link, cloexec: flags & O_CLOEXEC != 0, access, ino, tty_index });
    }
    fds.sort_by_key(|f| f.fd);
    Some(ProcSnapshot { pid, ppid, comm, exe, args: cmdline(pid), read_at_ns, fds })
}

/// Snapshots of many processes, read on every core (the reading is syscall-bound).
pub fn snapshots(pids: &[u32]) -> Vec<ProcSnapshot> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    if threads <= 1 || pids.len() < 2 {
        return pids.iter().filter_map(|&p| snapshot(p)).collect();
    }
    // Interleave pids so one huge process does not leave the other threads idle.
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    pids.iter().skip(t).step_by(threads).filter_map(|&p| snapshot(p)).collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap_or_default()).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name that is not UTF-8 (any user may set one) must not make a task unreadable:
    /// stat keeps its bytes, status gives it as text.
    #[test]
    fn a_comm_that_is_not_utf8_is_read() {
        const NAME: &[u8] = b"a\n\xff)b\0";
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes from
            // NAME; gettid has no preconditions.
            let tid = unsafe {
                libc::prctl(libc::PR_SET_NAME, NAME.as_ptr());
                libc::gettid()
            };
            tx.send(tid as u32).unwrap();
            let _ = done_rx.recv();
        });
        let tid = rx.recv().unwrap();
        let stat = stat(tid);
        let status = status(tid);
        done_tx.send(()).unwrap();
        thread.join().unwrap();
        assert_eq!(stat.map(|(_, comm)| comm), Some(b"a\n\xff)b".to_vec()));
        let status = status.expect("the thread's status");
        assert_eq!((status.name.as_str(), status.tgid), ("a\n\u{fffd})b", std::process::id()));
    }

    #[test]
    fn our_parent_is_known() {
        let me = std::process::id();
        assert_eq!(parent_of(me), Some(std::os::unix::process::parent_id()));
    }

    #[test]
    fn descendants_include_a_child() {
        let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
        let mut pids = vec![std::process::id()];
        add_descendants(&mut pids);
        let _ = child.kill();
        let _ = child.wait();
        assert!(pids.contains(&child.id()), "{pids:?}");
    }

    #[test]
    fn fdinfo_flags_and_inode() {
        assert_eq!(parse_fdinfo("pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1234\n"), (0o2000002, 1234, None));
        assert_eq!(parse_fdinfo("pos:\t0\nflags:\t02\nmnt_id:\t25\nino:\t2\ntty-index:\t4\n"), (2, 2, Some(4)));
    }

    #[test]
    fn snapshot_of_self_sees_a_pipe_with_its_flags() {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two fds into the array.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        let snap = snapshot(std::process::id()).expect("own /proc entry");
        let read_end = snap.fds.iter().find(|f| f.fd == fds[0]).expect("read end listed");
        let write_end = snap.fds.iter().find(|f| f.fd == fds[1]).expect("write end listed");
        assert!(read_end.link.starts_with(b"pipe:["), "{read_end:?}");
        assert_eq!(read_end.link, write_end.link);
        assert!(read_end.cloexec && write_end.cloexec);
        assert_eq!((read_end.access, write_end.access), (Access::Read, Access::Write));
        assert_ne!(read_end.ino, 0);
        // SAFETY: closing the fds we opened.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
    }
}
