//! Which processes fdwatch watches: the whole host, or chosen processes (with
//! `--follow`, their descendants too). Built once from the command line and passed on
//! as one value; the collector keeps the live membership in [`Watch`].
//!
//! A pid is only a number: the process it names can exit and the number be handed to
//! an unrelated process at any time, including while fdwatch starts. So each chosen
//! process is pinned by a pidfd (pidfd_open(2)) from the moment it is checked: once the
//! probes are attached, any pinned process that exited meanwhile leaves the kernel's
//! watch list (the exit probe removes the later ones), and the collector only reports
//! pids that are members of [`Watch`], which a pid joins by being chosen or, with
//! `--follow`, by being forked by a member, and leaves at its exit.
use std::{collections::BTreeSet, os::fd::OwnedFd};

use rustc_hash::FxHashSet as HashSet;

use crate::{
    containers::{
        cache::SystemSource,
        cgroup_path::path_in,
        find::{self, Found},
        layout::Layout,
    },
    error::Failure,
    model::Pid,
    procfs,
};

/// The processes to watch, as the user chose them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every process on the host but fdwatch itself.
    Host,
    /// These processes (thread-group leaders), and with `follow` their descendants.
    Processes { pids: BTreeSet<Pid>, follow: bool },
    /// One container's processes, present and future: the kernel reports the tasks in
    /// its unified-hierarchy cgroup or below it (containers/find.rs).
    Container(Box<Found>),
}

impl Scope {
    pub fn is_host(&self) -> bool {
        matches!(self, Scope::Host)
    }

    /// `--container`'s container and cgroup.
    pub fn container(&self) -> Option<&Found> {
        match self {
            Scope::Container(found) => Some(found),
            _ => None,
        }
    }

    pub fn follow(&self) -> bool {
        matches!(self, Scope::Processes { follow: true, .. })
    }

    /// The chosen pids (empty for the whole host).
    pub fn pids(&self) -> Vec<Pid> {
        match self {
            Scope::Host | Scope::Container(_) => Vec::new(),
            Scope::Processes { pids, .. } => pids.iter().copied().collect(),
        }
    }
}

/// A chosen process, pinned so that its exit is noticed even if its pid is reused.
pub struct Pinned {
    pub pid: Pid,
    pidfd: OwnedFd,
}

impl Pinned {
    /// Whether the process has exited (it may still be a zombie).
    pub fn exited(&self) -> bool {
        crate::pidfd::exited(&self.pidfd)
    }
}

/// What `resolve` decided, with the notes the user should read (one line each).
pub struct Resolved {
    pub scope: Scope,
    pub pinned: Vec<Pinned>,
    pub notes: Vec<String>,
}

/// `--pid` and `--follow` as given -> the scope. A pid must name a live user-space
/// process: a thread id stands for its thread group (said in a note); a kernel thread,
/// a zombie or a missing pid is a usage error naming it. With `follow`, the
/// descendants alive now are pinned and watched too (later ones join at fork).
pub fn resolve(pids: &[Pid], follow: bool) -> Result<Resolved, Failure> {
    if pids.is_empty() {
        return Ok(Resolved { scope: Scope::Host, pinned: Vec::new(), notes: Vec::new() });
    }
    let mut notes = Vec::new();
    let mut chosen = BTreeSet::new();
    let mut pinned = Vec::new();
    for &pid in pids {
        let leader = check(pid, &mut notes)?;
        if chosen.insert(leader) {
            pinned.push(pin(leader).map_err(|e| Failure::usage(format!("--pid {pid}: {e}")))?);
        }
    }
    if follow {
        let mut all: Vec<Pid> = chosen.iter().copied().collect();
        procfs::add_descendants(&mut all);
        for pid in all {
            // A descendant that is already gone, or a kernel thread (none should be),
            // is simply not watched: it cannot make another syscall.
            if !chosen.contains(&pid) {
                if let Ok(p) = pin(pid) {
                    chosen.insert(pid);
                    pinned.push(p);
                }
            }
        }
    }
    Ok(Resolved { scope: Scope::Processes { pids: chosen, follow }, pinned, notes })
}

/// `--container PREFIX` -> the scope: the one running container the prefix names (a
/// usage error if none or several do), by its cgroup in the unified hierarchy (an
/// environment error without one: the kernel could not tell its processes apart).
pub fn container(prefix: &str, layout: &Layout) -> Result<Resolved, Failure> {
    let usage = |why: String| Failure::usage(format!("--container {prefix}: {why}"));
    find::check_prefix(prefix).map_err(usage)?;
    let Some(mount) = &layout.unified else {
        return Err(Failure::env(format!(
            "--container {prefix}: this host mounts no unified (cgroup2) hierarchy, which the kernel's filter by              container needs; watch the container's processes with --pid PID --follow instead"
        )));
    };
    let found = find::find(mount, &mut SystemSource::new(layout), prefix).map_err(usage)?;
    Ok(Resolved { scope: Scope::Container(Box::new(found)), pinned: Vec::new(), notes: Vec::new() })
}

/// The processes in the unified-hierarchy cgroup `top` or below it now.
pub fn pids_in_cgroup(top: &str) -> Vec<Pid> {
    let me = std::process::id();
    procfs::pids()
        .into_iter()
        .filter(|&pid| pid != me)
        .filter(|&pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
                .is_ok_and(|text| path_in(&text, 0).is_some_and(|p| find::in_subtree(p, top)))
        })
        .collect()
}

/// The thread-group leader `pid` stands for, or why it cannot be watched.
fn check(pid: Pid, notes: &mut Vec<String>) -> Result<Pid, Failure> {
    let usage = |why: String| Failure::usage(format!("--pid {pid}: {why}"));
    if pid == 0 {
        return Err(usage("pid 0 is the kernel's idle task, not a process".into()));
    }
    let status = procfs::status(pid).ok_or_else(|| usage(format!("no process with pid {pid}")))?;
    // Quoted as it is: report() escapes the line.
    let comm = &status.name;
    if status.kernel_thread {
        return Err(usage(format!(
            "pid {pid} ({comm}) is a kernel thread: it has no file descriptors of its own to watch"
        )));
    }
    if status.zombie {
        return Err(usage(format!("pid {pid} ({comm}) has already exited (a zombie waiting for its parent)")));
    }
    if status.tgid != pid {
        notes.push(format!(
            "pid {pid} is a thread of process {} ({comm}); watching process {}, which all its threads share",
            status.tgid, status.tgid
        ));
    }
    Ok(status.tgid)
}

/// A pidfd for `pid`, taken after the checks: if the process exits between the two,
/// the pidfd reports it and the startup prunes it.
fn pin(pid: Pid) -> std::io::Result<Pinned> {
    Ok(Pinned { pid, pidfd: crate::pidfd::open(pid)? })
}

/// The live membership of the scope while fdwatch runs. Plain data: the collector
/// feeds it forks and exits.
#[derive(Debug)]
pub struct Watch {
    follow: bool,
    /// None: the whole host, or a container's cgroup (the kernel tells its processes).
    members: Option<HashSet<Pid>>,
    /// `--container`: its cgroup's path in the unified hierarchy.
    cgroup: Option<Box<str>>,
}

impl Watch {
    pub fn new(scope: &Scope) -> Self {
        match scope {
            Scope::Host => Self { follow: false, members: None, cgroup: None },
            Scope::Processes { pids, follow } => {
                Self { follow: *follow, members: Some(pids.iter().copied().collect()), cgroup: None }
            }
            Scope::Container(found) => Self { follow: false, members: None, cgroup: Some(found.path.as_str().into()) },
        }
    }

    pub fn is_host(&self) -> bool {
        self.members.is_none() && self.cgroup.is_none()
    }

    /// `--container`'s cgroup (its processes are the kernel's to tell: every event that
    /// arrives is one of them).
    pub fn cgroup(&self) -> Option<&str> {
        self.cgroup.as_deref()
    }

    pub fn follow(&self) -> bool {
        self.follow
    }

    /// Whether events of `pid` are reported.
    pub fn admits(&self, pid: Pid) -> bool {
        self.members.as_ref().is_none_or(|m| m.contains(&pid))
    }

    /// A member forked a new process (not a thread): with follow, it is a member too.
    pub fn forked(&mut self, parent: Pid, child: Pid) {
        if let Some(m) = self.members.as_mut() {
            if self.follow && m.contains(&parent) {
                m.insert(child);
            }
        }
    }

    /// A descendant of a member found in /proc (with follow, after lost events).
    pub fn adopt(&mut self, pid: Pid) {
        if let Some(m) = self.members.as_mut() {
            m.insert(pid);
        }
    }

    /// `pid` exited (its last thread): its number may be reused by anyone now.
    pub fn exited(&mut self, pid: Pid) {
        if let Some(m) = self.members.as_mut() {
            m.remove(&pid);
        }
    }

    /// The members now, sorted (empty for the whole host).
    pub fn members(&self) -> Vec<Pid> {
        let mut pids: Vec<Pid> = self.members.iter().flatten().copied().collect();
        pids.sort_unstable();
        pids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn processes(pids: &[Pid], follow: bool) -> Scope {
        Scope::Processes { pids: pids.iter().copied().collect(), follow }
    }

    #[test]
    fn a_container_is_the_kernels_to_filter_and_its_cgroup_the_startup_scans() {
        use crate::containers::{Container, ContainerRef, Details, Runtime};
        let container = Container::new(
            ContainerRef { id: "rt1".into(), runtime: Runtime::Runc, pod_uid: None, qos: None },
            Details::default(),
        );
        let scope = Scope::Container(Box::new(Found { container, path: "/rt1".into(), cgroup_id: 9, level: 1 }));
        assert!(scope.pids().is_empty() && !scope.follow() && !scope.is_host());
        assert_eq!(scope.container().map(|f| (f.cgroup_id, f.level)), Some((9, 1)));
        let mut w = Watch::new(&scope);
        assert!(!w.is_host() && w.admits(1234) && w.cgroup() == Some("/rt1"));
        w.forked(1234, 1235);
        w.exited(1234);
        assert!(w.members().is_empty() && w.admits(1235), "the kernel tells who is in the container");
        // Nothing is in a cgroup that does not exist.
        assert!(pids_in_cgroup("/fdwatch-no-such-cgroup").is_empty());
    }

    #[test]
    fn the_whole_host_admits_everyone() {
        let mut w = Watch::new(&Scope::Host);
        assert!(w.is_host() && w.admits(1) && w.admits(4_000_000));
        w.exited(1);
        assert!(w.admits(1));
        assert!(w.members().is_empty());
    }

    #[test]
    fn a_member_that_exits_is_gone_even_if_its_pid_comes_back() {
        let mut w = Watch::new(&processes(&[100, 200], false));
        assert!(w.admits(100) && w.admits(200) && !w.admits(300));
        w.exited(100);
        assert!(!w.admits(100), "a reused pid 100 is somebody else");
        assert_eq!(w.members(), [200]);
    }

    #[test]
    fn children_join_only_with_follow_and_only_from_members() {
        let mut w = Watch::new(&processes(&[100], false));
        w.forked(100, 101);
        assert!(!w.admits(101));
        let mut w = Watch::new(&processes(&[100], true));
        w.forked(100, 101);
        w.forked(101, 102);
        w.forked(555, 556);
        assert_eq!(w.members(), [100, 101, 102]);
    }

    #[test]
    fn resolving_checks_every_pid() {
        let me = std::process::id();
        let r = resolve(&[me], false).expect("this process can be watched");
        assert_eq!(r.scope, processes(&[me], false));
        assert_eq!(r.pinned.len(), 1);
        assert!(!r.pinned[0].exited());
        assert!(r.notes.is_empty());
        assert!(resolve(&[0], false).is_err());
        // pid_max is at most 2^22 (PID_MAX_LIMIT, include/linux/threads.h).
        let missing = resolve(&[4_194_305], false).err().expect("no such pid");
        assert!(missing.message.contains("no process with pid 4194305"), "{}", missing.message);
        // kthreadd is pid 2 on every Linux since 2.6.22 (kernel/kthread.c).
        let kthread = resolve(&[2], false).err().expect("a kernel thread");
        assert!(kthread.message.contains("kernel thread"), "{}", kthread.message);
    }

    #[test]
    fn a_thread_id_stands_for_its_process_with_a_note() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            tx.send(unsafe { libc::gettid() } as Pid).unwrap();
            let _ = done_rx.recv();
        });
        let tid = rx.recv().unwrap();
        let r = resolve(&[tid], false).expect("a thread id resolves");
        drop(done_tx);
        thread.join().unwrap();
        assert_eq!(r.scope.pids(), [std::process::id()]);
        assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
        assert!(r.notes[0].contains(&format!("pid {tid} is a thread of process {}", std::process::id())));
    }

    #[test]
    fn a_zombie_is_refused() {
        let child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Not waited for: once it exits it stays a zombie until `child` is reaped.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !procfs::status(pid).is_some_and(|s| s.zombie) {
            assert!(std::time::Instant::now() < deadline, "pid {pid} never became a zombie");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let err = resolve(&[pid], false).err().expect("a zombie");
        assert!(err.message.contains("already exited"), "{}", err.message);
        let mut child = child;
        let _ = child.wait();
    }
}
