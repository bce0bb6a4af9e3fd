//! Reading /proc: the only source of truth for what existed before the probes, and
//! what the model heals from (proc(5)).
use std::{fs, io::Read as _};

use crate::{
    clock::Clock,
    model::{Access, snapshot::{FdSnapshot, ProcSnapshot}},
};

/// O_CLOEXEC as fdinfo's octal `flags:` shows it (x86-64).
const O_CLOEXEC: u32 = 0o2000000;

/// Parent pid and comm from /proc/PID/stat. comm may contain spaces and ')', so it is
/// the text between the first '(' and the last ')' (proc_pid_stat(5)).
pub fn stat(pid: u32) -> Option<(u32, String)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_owned();
    let ppid = stat[close + 1..].split_whitespace().nth(1)?.parse().ok()?;
    Some((ppid, comm))
}

pub fn parent_of(pid: u32) -> Option<u32> {
    stat(pid).map(|(ppid, _)| ppid)
}

/// Every pid in /proc.
pub fn pids() -> Vec<u32> {
    fs::read_dir("/proc")
        .map(|dir| dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default()
}

/// Extend `pids` with all their living descendants.
pub fn add_descendants(pids: &mut Vec<u32>) {
    let parents: Vec<(u32, u32)> =
        self::pids().into_iter().filter_map(|p| Some((p, parent_of(p)?))).collect();
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

/// `flags:` (octal) and `ino:` of /proc/PID/fdinfo/N.
fn parse_fdinfo(text: &str) -> (u32, u64) {
    let mut flags = 0;
    let mut ino = 0;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("flags:") {
            flags = u32::from_str_radix(v.trim(), 8).unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("ino:") {
            ino = v.trim().parse().unwrap_or(0);
        }
    }
    (flags, ino)
}

fn access_of(flags: u32) -> Access {
    match flags & 0o3 {
        0 => Access::Read,
        1 => Access::Write,
        _ => Access::ReadWrite,
    }
}

/// Read one process's fds. None if it is gone (or was never there). Fds that vanish
/// while being read are skipped: the reading is as of `read_at_ns`, and later events
/// correct it.
pub fn snapshot(pid: u32) -> Option<ProcSnapshot> {
    let read_at_ns = Clock::monotonic_now_ns();
    let (ppid, comm) = stat(pid)?;
    let exe = fs::read_link(format!("/proc/{pid}/exe")).ok().map(|p| p.to_string_lossy().into_owned());
    let dir = fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    let mut fds = Vec::new();
    let mut info = String::with_capacity(256);
    for entry in dir.flatten() {
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let Ok(link) = fs::read_link(entry.path()) else { continue };
        info.clear();
        let Ok(mut file) = fs::File::open(format!("/proc/{pid}/fdinfo/{fd}")) else { continue };
        if file.read_to_string(&mut info).is_err() {
            continue;
        }
        let (flags, ino) = parse_fdinfo(&info);
        fds.push(FdSnapshot {
            fd,
            link: link.to_string_lossy().into_owned(),
            cloexec: flags & O_CLOEXEC != 0,
            access: access_of(flags),
            ino,
        });
    }
    fds.sort_by_key(|f| f.fd);
    Some(ProcSnapshot { pid, ppid, comm, exe, read_at_ns, fds })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(parse_fdinfo("pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1234\n"), (0o2000002, 1234));
    }

    #[test]
    fn snapshot_of_self_sees_a_pipe_with_its_flags() {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two fds into the array.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        let snap = snapshot(std::process::id()).expect("own /proc entry");
        let read_end = snap.fds.iter().find(|f| f.fd == fds[0]).expect("read end listed");
        let write_end = snap.fds.iter().find(|f| f.fd == fds[1]).expect("write end listed");
        assert!(read_end.link.starts_with("pipe:["), "{read_end:?}");
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
