//! Which cgroup hierarchies the host mounts, read once at startup from
//! /proc/self/mountinfo and /proc/self/cgroup (proc(5), cgroups(7)).
//!
//! - cgroup v2 only (`cgroup2` at /sys/fs/cgroup): the unified hierarchy is the only one,
//!   and the id every event carries tells every cgroup apart.
//! - hybrid (v1 controllers, and `cgroup2` at /sys/fs/cgroup/unified, as systemd's
//!   "hybrid" mode and Debian/Ubuntu hosts before 2021 have): runtimes built on
//!   libcontainer (runc >= 1.0, so Docker, containerd, CRI-O) also place containers in
//!   the unified hierarchy, so the id still tells them apart; a process whose unified
//!   cgroup is the root is looked up in a v1 hierarchy too, once.
//! - v1 only (no `cgroup2` mount): every process's unified cgroup is the root, so the
//!   id says nothing and each process is looked up in a v1 hierarchy, once.
//!
//! The v1 hierarchy used is `name=systemd` when mounted (every runtime that uses the
//! systemd driver, and Docker's cgroupfs driver, put containers there), else the first
//! of pids, memory, cpu, ... that is.
use std::path::PathBuf;

/// A v1 hierarchy: what /proc/PID/cgroup calls it, its hierarchy id there, its mount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct V1 {
    /// `name=systemd`, `memory`, `cpu,cpuacct`, as /proc/PID/cgroup writes it.
    pub name: String,
    /// The first field of its /proc/PID/cgroup lines.
    pub id: u32,
    pub mount: PathBuf,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// Where cgroup2 is mounted, if it is.
    pub unified: Option<PathBuf>,
    /// The v1 hierarchy processes are looked up in when their unified cgroup is the
    /// root, if any v1 hierarchy is mounted.
    pub v1: Option<V1>,
}

/// v1 hierarchies in the order they are preferred (see the module documentation).
const PREFERRED: &[&str] = &["name=systemd", "pids", "memory", "cpu", "cpuacct", "devices", "freezer", "blkio"];

impl Layout {
    /// This host's layout (an unreadable file reads as nothing mounted).
    pub fn read() -> Layout {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        Layout::parse(&mountinfo, &cgroup)
    }

    /// From the text of /proc/self/mountinfo and /proc/self/cgroup.
    pub fn parse(mountinfo: &str, self_cgroup: &str) -> Layout {
        let mut unified = None;
        let mut v1: Vec<(Vec<String>, PathBuf)> = Vec::new();
        for line in mountinfo.lines() {
            // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
            let Some((left, right)) = line.split_once(" - ") else { continue };
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            let (Some(root), Some(point), Some(fstype)) = (left.get(3), left.get(4), right.first()) else { continue };
            // A mount of a subtree (a container's cgroup namespace, a bind mount) does
            // not show the hierarchy's paths at the place they name.
            if *root != "/" {
                continue;
            }
            let point = PathBuf::from(unescape_octal(point));
            match *fstype {
                "cgroup2" if unified.is_none() => unified = Some(point),
                "cgroup" => {
                    let names: Vec<String> = right
                        .get(2)
                        .unwrap_or(&"")
                        .split(',')
                        .filter(|o| is_controller(o) || o.starts_with("name="))
                        .map(str::to_owned)
                        .collect();
                    if !names.is_empty() && !v1.iter().any(|(n, _)| same_set(n, &names)) {
                        v1.push((names, point));
                    }
                }
                _ => {}
            }
        }
        // /proc/self/cgroup names each hierarchy with its id: `9:name=systemd:/`.
        let ids: Vec<(u32, Vec<String>, String)> = self_cgroup
            .lines()
            .filter_map(super::cgroup_path::proc_line)
            .filter(|(id, _, _)| *id != 0)
            .map(|(id, names, _)| (id, names.split(',').map(str::to_owned).collect(), names.to_owned()))
            .collect();
        let pick = |want: &str| {
            v1.iter().find(|(names, _)| names.iter().any(|n| n == want)).and_then(|(names, mount)| {
                let (id, _, shown) = ids.iter().find(|(_, n, _)| same_set(n, names))?;
                Some(V1 { name: shown.clone(), id: *id, mount: mount.clone() })
            })
        };
        let chosen = PREFERRED.iter().find_map(|want| pick(want)).or_else(|| {
            v1.iter().find_map(|(names, mount)| {
                let (id, _, shown) = ids.iter().find(|(_, n, _)| same_set(n, names))?;
                Some(V1 { name: shown.clone(), id: *id, mount: mount.clone() })
            })
        });
        Layout { unified, v1: chosen }
    }

    /// `v2`, `hybrid`, `v1`, or `none`: what the `ready` record and the README call it.
    pub fn mode(&self) -> &'static str {
        match (&self.unified, &self.v1) {
            (Some(_), None) => "v2",
            (Some(_), Some(_)) => "hybrid",
            (None, Some(_)) => "v1",
            (None, None) => "none",
        }
    }
}

/// The v1 controllers of Linux (kernel/cgroup, `SUBSYS()` in include/linux/cgroup_subsys.h).
fn is_controller(s: &str) -> bool {
    matches!(
        s,
        "cpu"
            | "cpuacct"
            | "cpuset"
            | "memory"
            | "devices"
            | "freezer"
            | "net_cls"
            | "blkio"
            | "perf_event"
            | "net_prio"
            | "hugetlb"
            | "pids"
            | "rdma"
            | "misc"
    )
}

fn same_set(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}

/// mountinfo writes space, tab, newline and backslash in paths as `\ooo` (fs/proc_namespace.c,
/// mangle()).
fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine's kind: v1 controllers, and cgroup2 at /sys/fs/cgroup/unified.
    const HYBRID_MOUNTS: &str = "\
25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 25 0:27 / /sys/fs/cgroup rw,relatime shared:9 - tmpfs tmpfs rw,mode=755
32 31 0:28 / /sys/fs/cgroup/cpu rw,relatime shared:10 - cgroup cgroup rw,cpu
33 31 0:29 / /sys/fs/cgroup/memory rw,relatime shared:11 - cgroup cgroup rw,memory
34 31 0:30 / /sys/fs/cgroup/systemd rw,relatime shared:12 - cgroup cgroup rw,xattr,name=systemd
35 31 0:31 / /sys/fs/cgroup/unified rw,relatime shared:13 - cgroup2 cgroup2 rw
";
    const HYBRID_SELF: &str = "9:name=systemd:/\n4:memory:/x\n1:cpu:/\n0::/\n";

    #[test]
    fn a_hybrid_host_has_both_and_uses_name_systemd() {
        let l = Layout::parse(HYBRID_MOUNTS, HYBRID_SELF);
        assert_eq!(l.unified, Some(PathBuf::from("/sys/fs/cgroup/unified")));
        assert_eq!(l.v1, Some(V1 { name: "name=systemd".into(), id: 9, mount: "/sys/fs/cgroup/systemd".into() }));
        assert_eq!(l.mode(), "hybrid");
    }

    #[test]
    fn a_v2_host_and_a_v1_host() {
        let v2 =
            "30 25 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";
        let l = Layout::parse(v2, "0::/user.slice/user-0.slice/session-1.scope\n");
        assert_eq!((l.unified.as_deref(), l.v1.is_none(), l.mode()), (Some("/sys/fs/cgroup".as_ref()), true, "v2"));
        // v1 without name=systemd: pids is preferred; combined controllers as one hierarchy.
        let v1 = "\
32 31 0:28 / /sys/fs/cgroup/cpu,cpuacct rw shared:10 - cgroup cgroup rw,cpu,cpuacct
33 31 0:29 / /sys/fs/cgroup/pids rw shared:11 - cgroup cgroup rw,pids
";
        let l = Layout::parse(v1, "3:pids:/\n2:cpuacct,cpu:/\n");
        assert_eq!(l.v1, Some(V1 { name: "pids".into(), id: 3, mount: "/sys/fs/cgroup/pids".into() }));
        assert_eq!(l.mode(), "v1");
        let l = Layout::parse(v1.lines().next().unwrap(), "2:cpuacct,cpu:/\n");
        assert_eq!(l.v1.map(|v| (v.name, v.id)), Some(("cpuacct,cpu".into(), 2)), "the same set in another order");
    }

    #[test]
    fn subtree_mounts_and_escapes() {
        // A container's view (cgroupns): the root field is not "/".
        let inner = "40 39 0:31 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(Layout::parse(inner, "0::/\n").unified, None);
        let odd = "40 39 0:31 / /mnt/cg\\040v2 rw - cgroup2 cgroup2 rw\n";
        assert_eq!(Layout::parse(odd, "0::/\n").unified, Some(PathBuf::from("/mnt/cg v2")));
        assert_eq!(Layout::parse("", "").mode(), "none");
    }
}
