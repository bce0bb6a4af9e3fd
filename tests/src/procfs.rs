//! Reading /proc, as the tests compare fdwatch with it: a process's fds (name, CLOEXEC,
//! inode, access mode), its parent, comm and state, a process tree.
use std::collections::BTreeMap;

/// One fd as /proc shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcFd {
    /// readlink /proc/PID/fd/N
    pub name: String,
    /// fdinfo `flags:` & O_CLOEXEC
    pub cloexec: bool,
    /// fdinfo `ino:`
    pub ino: u64,
    /// fdinfo `flags:` & O_ACCMODE: "read", "write", "read-write"
    pub access: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcProcess {
    pub comm: String,
    pub fds: BTreeMap<i32, ProcFd>,
}

/// A process's fds from /proc; None if it is gone (or a zombie: no fd directory left
/// to read).
pub fn proc_fds(pid: i64) -> Option<BTreeMap<i32, ProcFd>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).ok()? {
        let entry = entry.ok()?;
        let Some(fd) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        let Ok(link) = std::fs::read_link(entry.path()) else { continue };
        let Ok(info) = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")) else { continue };
        let mut flags = 0u32;
        let mut ino = 0u64;
        for line in info.lines() {
            if let Some(v) = line.strip_prefix("flags:") {
                flags = u32::from_str_radix(v.trim(), 8).expect("fdinfo flags are octal");
            } else if let Some(v) = line.strip_prefix("ino:") {
                ino = v.trim().parse().expect("fdinfo ino is a number");
            }
        }
        let access = match flags & 0o3 {
            0 => "read",
            1 => "write",
            _ => "read-write",
        };
        out.insert(
            fd,
            ProcFd {
                name: link.to_string_lossy().into_owned(),
                cloexec: flags & 0o2000000 != 0,
                ino,
                access: access.into(),
            },
        );
    }
    Some(out)
}

/// (ppid, comm, state) from /proc/PID/stat.
pub fn proc_stat(pid: i64) -> Option<(i64, String, char)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_string();
    let mut rest = stat[close + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((ppid, comm, state))
}

/// `root` and all its living descendants.
pub fn tree_pids(root: i64) -> Vec<i64> {
    let all: Vec<(i64, i64)> = std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i64>().ok())
        .filter_map(|p| Some((p, proc_stat(p)?.0)))
        .collect();
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        for &(child, ppid) in &all {
            if ppid == parent && !out.contains(&child) {
                out.push(child);
            }
        }
        i += 1;
    }
    out.sort_unstable();
    out
}

/// Every living process of the tree under `root` with its fds, as /proc shows them.
pub fn proc_tree(root: i64) -> BTreeMap<i64, ProcProcess> {
    let mut out = BTreeMap::new();
    for pid in tree_pids(root) {
        let Some((_, comm, state)) = proc_stat(pid) else { continue };
        if state == 'Z' {
            continue;
        }
        let Some(fds) = proc_fds(pid) else { continue };
        out.insert(pid, ProcProcess { comm, fds });
    }
    out
}

/// The children of `pid` (by /proc/*/stat ppid).
pub fn children_of(pid: i64) -> Vec<i64> {
    tree_pids(pid).into_iter().filter(|&p| proc_stat(p).is_some_and(|s| s.0 == pid)).collect()
}

/// readlink /proc/PID/fd/FD.
pub fn fd_link(pid: i64, fd: i64) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok().map(|p| p.to_string_lossy().into_owned())
}

/// The inode of a socket or pipe fd ("socket:[123]" -> 123).
pub fn fd_ino(pid: i64, fd: i64) -> Option<i64> {
    let link = fd_link(pid, fd)?;
    let inner = link.split_once(":[")?.1.strip_suffix(']')?;
    inner.parse().ok()
}

/// readlink /proc/PID/exe.
pub fn exe_of(pid: i64) -> String {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .unwrap_or_else(|e| panic!("readlink /proc/{pid}/exe: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// /proc/PID/comm.
pub fn comm_of(pid: i64) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/comm: {e}"))
        .trim_end()
        .to_string()
}

/// Whether `pid` is blocked in a sleep: the first field of /proc/PID/syscall is
/// nanosleep (35) or clock_nanosleep (230) (arch/x86/entry/syscalls/syscall_64.tbl). A
/// freshly exec'd `sleep` opens and closes its locale files first: its fd set is
/// settled only once it sleeps.
pub fn asleep(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/syscall"))
        .is_ok_and(|s| matches!(s.split(' ').next(), Some("35" | "230")))
}

/// Whether `pid` exists and is not a zombie.
pub fn alive(pid: i64) -> bool {
    proc_stat(pid).is_some_and(|s| s.2 != 'Z')
}
