//! The whole-host reading of fds: the task_file iterator's records, completed from
//! /proc only where the kernel record lacks something a person needs (a file's path,
//! a process's parent and name). Turns into the same snapshots the model loads from
//! /proc, so startup and healing share one path into the model.
use std::collections::BTreeMap;

use fdwatch_common::{
    TaskFile,
    object::{CharDevice, FileType},
};

use crate::{
    clock::Clock,
    model::snapshot::{FdSnapshot, ProcSnapshot},
    procfs,
};

/// The /proc/PID/fd link text of a record, or None when only /proc knows it (paths).
fn link_of(record: &TaskFile) -> Option<String> {
    let o = &record.object;
    let name_end = record.name.iter().position(|&b| b == 0).unwrap_or(record.name.len());
    let name = String::from_utf8_lossy(&record.name[..name_end]);
    match o.file_type() {
        FileType::Fifo => Some(format!("pipe:[{}]", o.ino)),
        FileType::Socket => Some(format!("socket:[{}]", o.ino)),
        // Anonymous inodes carry no file type; their dentry is named like /proc shows
        // them after "anon_inode:" ("[eventfd]", "inotify", ...).
        FileType::Anonymous => Some(format!("anon_inode:{name}")),
        // Other devices need their path.
        FileType::CharDevice if CharDevice::of(o.rdev()) == CharDevice::Null => Some("/dev/null".to_owned()),
        _ => None,
    }
}

/// Group iterator records by process and complete them.
pub fn snapshots(records: &[TaskFile], only: Option<&[u32]>) -> Vec<ProcSnapshot> {
    let read_at_ns = Clock::monotonic_now_ns();
    let me = std::process::id();
    let mut by_pid: BTreeMap<u32, Vec<&TaskFile>> = BTreeMap::new();
    for r in records {
        if r.pid != me && only.is_none_or(|pids| pids.contains(&r.pid)) {
            by_pid.entry(r.pid).or_default().push(r);
        }
    }
    // Processes without any fd are processes too.
    for pid in only.map(<[u32]>::to_vec).unwrap_or_else(procfs::pids) {
        if pid != me {
            by_pid.entry(pid).or_default();
        }
    }
    let mut out = Vec::with_capacity(by_pid.len());
    for (pid, records) in by_pid {
        let Some((ppid, comm)) = procfs::stat(pid) else { continue };
        let exe = procfs::exe(pid);
        let mut fds = Vec::with_capacity(records.len());
        for r in records {
            let link = match link_of(r) {
                Some(link) => link.into_bytes(),
                None => match procfs::fd_link(pid, r.fd) {
                    Some(path) => path,
                    None => continue, // closed since: later events tell the rest
                },
            };
            fds.push(FdSnapshot {
                fd: r.fd,
                link,
                cloexec: r.cloexec != 0,
                access: r.object.access(),
                ino: r.object.ino,
                tty_index: u32::try_from(r.tty_index).ok(),
            });
        }
        fds.sort_by_key(|f| f.fd);
        out.push(ProcSnapshot { pid, ppid, comm, exe, args: procfs::cmdline(pid), read_at_ns, fds });
    }
    out
}

#[cfg(test)]
mod tests {
    use fdwatch_common::{DENTRY_NAME_LEN, FdObject};

    use super::*;

    fn record(mode: u16, rdev: u32, name: &str) -> TaskFile {
        let mut n = [0u8; DENTRY_NAME_LEN];
        n[..name.len()].copy_from_slice(name.as_bytes());
        TaskFile {
            pid: 1,
            fd: 3,
            object: FdObject { ino: 42, mode, rdev, valid: 1, ..Default::default() },
            cloexec: 1,
            tty_index: -1,
            name: n,
        }
    }

    #[test]
    fn links_match_what_proc_shows() {
        assert_eq!(link_of(&record(0o010600, 0, "pipe:")).as_deref(), Some("pipe:[42]"));
        assert_eq!(link_of(&record(0o140777, 0, "")).as_deref(), Some("socket:[42]"));
        assert_eq!(link_of(&record(0o600, 0, "[eventfd]")).as_deref(), Some("anon_inode:[eventfd]"));
        assert_eq!(link_of(&record(0o020666, 1 << 20 | 3, "null")).as_deref(), Some("/dev/null"));
        assert_eq!(link_of(&record(0o020620, 136 << 20 | 1, "1")), None, "a tty needs its path");
        assert_eq!(link_of(&record(0o100644, 0, "passwd")), None, "a file needs its path");
    }
}
