//! What the collector keeps of cgroups and containers, and the reads that fill it.
//!
//! Each event carries the unified hierarchy's cgroup id. The first event of a cgroup id
//! costs a lookup of its path (by the id itself: `open_by_handle_at` on the cgroup2
//! mount, so no pid can race it; else the process's /proc/PID/cgroup, checked against
//! the id) and, if the path is a container's, one read of the runtime's state file;
//! after that the id maps to the same `Rc<Cgroup>`, which the model keeps per process
//! (a fork copies it), so an event costs one comparison of ids. A process whose
//! unified cgroup is the root, on a host with v1 hierarchies, is looked up once in the
//! v1 hierarchy (layout.rs). Entries nobody refers to any more (the container exited)
//! go at the next `sweep`.
//!
//! A path that cannot be read leaves the record with the id alone (or, for the v1
//! look-up, with the unified root's path); all are counted (`stats`:
//! `cgroups_unresolved`), and the first whose process was still alive is said once on
//! stderr (a process that exited first is the common, harmless case).
use std::{
    ffi::CString,
    os::fd::{AsRawFd, OwnedFd},
    path::PathBuf,
    rc::Rc,
};

use rustc_hash::FxHashMap as HashMap;

use super::{
    Cgroup, Container, ContainerRef, Details, Hierarchy,
    cgroup_path::{self, path_in},
    layout::Layout,
    runtime_state,
};

/// A process id (the model's `Pid`; containers/ sits below the model, which keeps each
/// process's `Cgroup`, so it does not import it).
type Pid = u32;

/// Where the cache's reads go: the running system ([`SystemSource`]), or the fuzz
/// target's answers. By default a source can tell nothing (unit tests' hosts).
pub trait Source {
    /// The text of /proc/PID/cgroup.
    fn proc_cgroup(&mut self, _pid: Pid) -> Option<String> {
        None
    }
    /// Whether process `pid` has exited (its /proc directory is gone, or it is a zombie
    /// its parent has not reaped yet), so that its files could not be read.
    fn gone(&mut self, _pid: Pid) -> bool {
        false
    }
    /// The unified hierarchy's path of the cgroup with kernel id `id`.
    fn unified_path(&mut self, _id: u64) -> Option<String> {
        None
    }
    /// The kernel id of the unified hierarchy's cgroup at `path`.
    fn unified_id(&mut self, _path: &str) -> Option<u64> {
        None
    }
    /// Name, image and pod from the runtime's state (runtime_state.rs); may correct the
    /// runtime a kubepods path left open.
    fn details(&mut self, _container: &mut ContainerRef) -> Details {
        Details::default()
    }
    /// A container a path names only through a runtime's state (runtime_state::probe).
    fn probe(&mut self, _path: &str) -> Option<(ContainerRef, Details)> {
        None
    }
}

/// The running system: /proc, the cgroup2 mount, the runtimes' state directories.
pub struct SystemSource {
    unified: Option<PathBuf>,
    /// The cgroup2 mount, open, for `open_by_handle_at` (None: not mounted, or not
    /// openable).
    mount: Option<OwnedFd>,
}

impl SystemSource {
    pub fn new(layout: &Layout) -> Self {
        let mount = layout.unified.as_ref().and_then(|p| std::fs::File::open(p).ok().map(OwnedFd::from));
        SystemSource { unified: layout.unified.clone(), mount }
    }
}

/// `FILEID_KERNFS` (include/linux/exportfs.h): kernfs file handles are the node's
/// 64-bit id, which for cgroupfs is the cgroup id (fs/kernfs/mount.c, kernfs_encode_fh).
const FILEID_KERNFS: i32 = 0xfe;

impl Source for SystemSource {
    fn proc_cgroup(&mut self, pid: Pid) -> Option<String> {
        std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()
    }

    fn gone(&mut self, pid: Pid) -> bool {
        // Gone, or a zombie (state Z or X after the comm's closing parenthesis,
        // proc_pid_stat(5)): an exited task's /proc/PID/cgroup no longer reads.
        match std::fs::read(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => {
                let after = stat.iter().rposition(|&b| b == b')').map_or(&stat[..0], |i| &stat[i + 1..]);
                matches!(after.iter().find(|b| !b.is_ascii_whitespace()), Some(b'Z' | b'X'))
            }
        }
    }

    fn unified_path(&mut self, id: u64) -> Option<String> {
        let (mount, root) = (self.mount.as_ref()?, self.unified.as_ref()?);
        #[repr(C)]
        struct Handle {
            bytes: u32,
            kind: i32,
            id: u64,
        }
        let mut handle = Handle { bytes: 8, kind: FILEID_KERNFS, id };
        // SAFETY: `handle` is a struct file_handle (include/uapi/linux/fcntl.h... its
        // header then `handle_bytes` bytes of handle) that lives across the call; the
        // kernel reads it and writes nothing. The mount fd is open. It needs
        // CAP_DAC_READ_SEARCH (fs/fhandle.c), which fdwatch asks for (README).
        let fd = unsafe {
            libc::open_by_handle_at(
                mount.as_raw_fd(),
                (&raw mut handle).cast(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return None;
        }
        // SAFETY: open_by_handle_at returned a new fd that nothing else owns.
        let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        let at = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
        let rel = at.strip_prefix(root).ok()?;
        Some(format!("/{}", rel.to_string_lossy()))
    }

    fn unified_id(&mut self, path: &str) -> Option<u64> {
        use std::os::unix::fs::MetadataExt as _;
        let root = self.unified.as_ref()?;
        let full = root.join(path.trim_start_matches('/'));
        // No path from a process may leave the mount: `..` is not a cgroup name.
        if path.split('/').any(|p| p == "..") || CString::new(full.as_os_str().as_encoded_bytes()).is_err() {
            return None;
        }
        std::fs::metadata(full).ok().map(|m| m.ino())
    }

    fn details(&mut self, container: &mut ContainerRef) -> Details {
        runtime_state::details(container)
    }

    fn probe(&mut self, path: &str) -> Option<(ContainerRef, Details)> {
        runtime_state::probe(path)
    }
}

/// Counters of what could not be resolved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unresolved {
    /// Cgroups whose path could not be read (the process was gone, /proc unreadable).
    pub cgroups: u64,
}

/// A cgroup whose container (or its details) a runtime's state may tell a moment later:
/// runc writes its state.json once the container's first process is already in the
/// cgroup, so the first event can come before it.
struct Retry {
    key: Key,
    path: String,
    attempts: u32,
}

#[derive(Clone, PartialEq, Eq)]
enum Key {
    Id(u64),
    V1(Box<str>),
}

/// How often (one per `retry` call, every second) a cgroup's container is looked for
/// again before it is taken as not a container's (or without a name and image).
const RETRIES: u32 = 5;

pub struct Cache {
    /// Whether a unified hierarchy is mounted: without one every process is in its root.
    unified: bool,
    /// The v1 hierarchy looked in for processes in the unified root: (id, name).
    v1: Option<(u32, Box<str>)>,
    by_id: HashMap<u64, Rc<Cgroup>>,
    by_v1_path: HashMap<Box<str>, Rc<Cgroup>>,
    unresolved: Unresolved,
    /// The first failure, for the caller to say once on stderr.
    first_failure: Option<String>,
    said: bool,
    retries: Vec<Retry>,
}

impl Cache {
    pub fn new(layout: &Layout) -> Self {
        Cache {
            unified: layout.unified.is_some(),
            v1: layout.v1.as_ref().map(|v| (v.id, v.name.clone().into())),
            by_id: HashMap::default(),
            by_v1_path: HashMap::default(),
            unresolved: Unresolved::default(),
            first_failure: None,
            said: false,
            retries: Vec::new(),
        }
    }

    /// The cgroup of process `pid`, whose event carries unified cgroup id `id`.
    /// Reads only for an id (or, in the unified root, a process) not seen before:
    /// callers keep the result per process and ask again only when the id changes.
    pub fn resolve(&mut self, src: &mut dyn Source, pid: Pid, id: u64) -> Rc<Cgroup> {
        let unified = match self.by_id.get(&id) {
            Some(c) => Rc::clone(c),
            None => {
                let c = Rc::new(self.unified_cgroup(src, pid, id));
                // A path that could not be read is not cached: the next process in it
                // may tell.
                if let Some(path) = &c.path {
                    self.by_id.insert(id, Rc::clone(&c));
                    self.retry_later(Key::Id(id), path, c.container.as_ref());
                }
                c
            }
        };
        if unified.path.as_deref() == Some("/") {
            if let Some(v1) = self.v1_cgroup(src, pid, id) {
                return v1;
            }
        }
        unified
    }

    /// The cgroup of `pid` when no event of it said its id (a process present at start,
    /// queried or dumped): its /proc/PID/cgroup, then as `resolve`.
    pub fn resolve_pid(&mut self, src: &mut dyn Source, pid: Pid) -> Option<Rc<Cgroup>> {
        let text = src.proc_cgroup(pid)?;
        let id = if self.unified {
            let path = path_in(&text, 0)?;
            src.unified_id(path)?
        } else {
            // No unified hierarchy: every process is in its root, id 1 (the root's
            // kernfs node, kernel/cgroup/cgroup.c: cgroup_setup_root()).
            1
        };
        Some(self.resolve(src, pid, id))
    }

    fn unified_cgroup(&mut self, src: &mut dyn Source, pid: Pid, id: u64) -> Cgroup {
        if !self.unified {
            return Cgroup::new(id, Some("/".into()), Hierarchy::Unified, None);
        }
        let path = src.unified_path(id).or_else(|| {
            // Without CAP_DAC_READ_SEARCH: the process's own file, if it is still in
            // the cgroup the event was made in.
            let text = src.proc_cgroup(pid)?;
            let path = path_in(&text, 0)?.to_owned();
            (src.unified_id(&path) == Some(id)).then_some(path)
        });
        let Some(path) = path else {
            let gone = src.gone(pid);
            self.failed(format!("the path of cgroup {id} (of pid {pid}) could not be read"), gone);
            return Cgroup::new(id, None, Hierarchy::Unified, None);
        };
        let container = self.container_of(src, &path);
        Cgroup::new(id, Some(path), Hierarchy::Unified, container)
    }

    /// A process in the unified root, on a host with a v1 hierarchy: its v1 path, if
    /// that says more than the root.
    fn v1_cgroup(&mut self, src: &mut dyn Source, pid: Pid, id: u64) -> Option<Rc<Cgroup>> {
        let (hierarchy, name) = self.v1.clone()?;
        let Some(text) = src.proc_cgroup(pid) else {
            let gone = src.gone(pid);
            self.failed(format!("/proc/{pid}/cgroup could not be read"), gone);
            return None;
        };
        let path = path_in(&text, hierarchy)?;
        if path == "/" {
            return None;
        }
        if let Some(c) = self.by_v1_path.get(path) {
            // The same v1 cgroup is the same container; the unified id is the root's.
            if c.id == id {
                return Some(Rc::clone(c));
            }
        }
        let container = self.container_of(src, path);
        let c = Rc::new(Cgroup::new(id, Some(path.to_owned()), Hierarchy::V1(name), container));
        self.by_v1_path.insert(path.into(), Rc::clone(&c));
        self.retry_later(Key::V1(path.into()), path, c.container.as_ref());
        Some(c)
    }

    fn container_of(&mut self, src: &mut dyn Source, path: &str) -> Option<Container> {
        container_of(src, path)
    }

    /// Look again later if a runtime's state may still say more of `path`'s container.
    fn retry_later(&mut self, key: Key, path: &str, container: Option<&Container>) {
        let more = match container {
            None => probed(path),
            Some(c) => more_to_say(c),
        };
        if more && !self.retries.iter().any(|r| r.key == key) {
            self.retries.push(Retry { key, path: path.to_owned(), attempts: 0 });
        }
    }

    /// Look once more for the containers runtimes had not written their state of yet
    /// (call every second). Returns the cgroups that changed, old and new: the caller
    /// gives its processes the new one.
    pub fn retry(&mut self, src: &mut dyn Source) -> Vec<(Rc<Cgroup>, Rc<Cgroup>)> {
        let mut changed = Vec::new();
        for mut r in std::mem::take(&mut self.retries) {
            let old = match &r.key {
                Key::Id(id) => self.by_id.get(id),
                Key::V1(path) => self.by_v1_path.get(path),
            };
            // Swept (nobody in it any more): nothing to look for.
            let Some(old) = old.cloned() else { continue };
            r.attempts += 1;
            let container = self.container_of(src, &r.path);
            let done = match &container {
                None => r.attempts >= RETRIES,
                Some(c) => r.attempts >= RETRIES || !more_to_say(c),
            };
            if container != old.container {
                let new = Rc::new(Cgroup::new(
                    old.id,
                    old.path.as_deref().map(str::to_owned),
                    old.hierarchy.clone(),
                    container,
                ));
                match &r.key {
                    Key::Id(id) => self.by_id.insert(*id, Rc::clone(&new)),
                    Key::V1(path) => self.by_v1_path.insert(path.clone(), Rc::clone(&new)),
                };
                changed.push((old, new));
            }
            if !done {
                self.retries.push(r);
            }
        }
        changed
    }

    /// Counts a cgroup not resolved, and keeps the first failure to say on stderr unless
    /// the process had already exited: short-lived processes often exit before the
    /// collector reads their /proc/PID/cgroup (every new process in the unified root of
    /// a hybrid host is read once), which is counted but says nothing about fdwatch.
    fn failed(&mut self, why: String, process_gone: bool) {
        self.unresolved.cgroups += 1;
        if !process_gone && self.first_failure.is_none() && !self.said {
            self.first_failure = Some(why);
        }
    }

    /// The first failure, once: the caller says it on stderr.
    pub fn take_first_failure(&mut self) -> Option<String> {
        let first = self.first_failure.take();
        if first.is_some() {
            self.said = true;
        }
        first
    }

    pub fn unresolved(&self) -> Unresolved {
        self.unresolved
    }

    /// Cgroups and v1 paths known now.
    pub fn len(&self) -> usize {
        self.by_id.len() + self.by_v1_path.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forget the cgroups no process refers to any more (only the cache holds them):
    /// an exited container leaves nothing behind.
    pub fn sweep(&mut self) {
        self.by_id.retain(|_, c| Rc::strong_count(c) > 1);
        self.by_v1_path.retain(|_, c| Rc::strong_count(c) > 1);
        crate::heap::shrink_map(&mut self.by_id);
        crate::heap::shrink_map(&mut self.by_v1_path);
    }
}

/// The container cgroup `path` is (or is nested in), by the path itself, else by the
/// runtimes' state.
pub fn container_of(src: &mut dyn Source, path: &str) -> Option<Container> {
    if let Some(mut r) = cgroup_path::parse(path) {
        let d = src.details(&mut r);
        return Some(Container::new(r, d));
    }
    // A cgroup a container's processes made under its own (systemd inside, or a process
    // moved there) is the container's: its state names only the top one.
    let mut at = path;
    for _ in 0..=MAX_NESTED {
        if probed(at) {
            if let Some((r, d)) = src.probe(at) {
                return Some(Container::new(r, d));
            }
        }
        at = match at.rsplit_once('/') {
            Some((parent, _)) if !parent.is_empty() => parent,
            _ => return None,
        };
    }
    None
}

/// How many levels above a cgroup its container's own cgroup is looked for.
const MAX_NESTED: usize = 3;

/// Whether a path that names no container by itself is worth asking the runtimes'
/// state about: not the root, and not a systemd unit (the units runtimes make are
/// recognised by name; the host's own services are not containers).
fn probed(path: &str) -> bool {
    let last = path.rsplit('/').find(|p| !p.is_empty()).unwrap_or("");
    !last.is_empty()
        && ![".service", ".slice", ".scope", ".mount", ".socket", ".swap", ".target"].iter().any(|s| last.ends_with(s))
}

/// Whether a runtime's state may still add a name or image to `c`: runtime_state.rs
/// reads the state of these runtimes only.
fn more_to_say(c: &Container) -> bool {
    use super::Runtime::*;
    c.name.is_none() && c.image.is_none() && matches!(c.runtime, Docker | Containerd | CriO | Cri | Runc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containers::{Runtime, layout::V1};

    const ID: &str = "3f2a9c1e0b7d4c5e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e";

    /// Answers from tables, counting the reads.
    #[derive(Default)]
    struct Fake {
        proc: HashMap<Pid, String>,
        paths: HashMap<u64, String>,
        /// Paths whose runc state exists (besides /fdwatch/c1, always).
        states: Vec<String>,
        /// Processes that have exited.
        gone: Vec<Pid>,
        reads: usize,
    }

    impl Source for Fake {
        fn proc_cgroup(&mut self, pid: Pid) -> Option<String> {
            self.reads += 1;
            self.proc.get(&pid).cloned()
        }
        fn unified_path(&mut self, id: u64) -> Option<String> {
            self.reads += 1;
            self.paths.get(&id).cloned()
        }
        fn unified_id(&mut self, path: &str) -> Option<u64> {
            self.paths.iter().find(|(_, p)| *p == path).map(|(id, _)| *id)
        }
        fn gone(&mut self, pid: Pid) -> bool {
            self.gone.contains(&pid)
        }
        fn details(&mut self, c: &mut ContainerRef) -> Details {
            self.reads += 1;
            if c.runtime == Runtime::Docker {
                Details { image: Some("app:1.4".into()), ..Details::default() }
            } else {
                Details::default()
            }
        }
        fn probe(&mut self, path: &str) -> Option<(ContainerRef, Details)> {
            self.reads += 1;
            (path == "/fdwatch/c1" || self.states.iter().any(|s| s == path)).then(|| {
                let id = path.rsplit('/').next().unwrap_or_default().into();
                (ContainerRef { id, runtime: Runtime::Runc, pod_uid: None, qos: None }, Details::default())
            })
        }
    }

    fn hybrid() -> Layout {
        Layout {
            unified: Some("/sys/fs/cgroup/unified".into()),
            v1: Some(V1 { name: "name=systemd".into(), id: 9, mount: "/sys/fs/cgroup/systemd".into() }),
        }
    }

    #[test]
    fn an_id_is_resolved_once_and_names_its_container() {
        let mut src = Fake::default();
        src.paths.insert(7, format!("/docker/{ID}"));
        src.paths.insert(8, "/fdwatch/c1".into());
        let mut cache = Cache::new(&hybrid());
        let a = cache.resolve(&mut src, 100, 7);
        let reads = src.reads;
        let b = cache.resolve(&mut src, 101, 7);
        assert!(Rc::ptr_eq(&a, &b));
        assert_eq!(src.reads, reads, "the second process of the cgroup costs nothing");
        let c = a.container.as_ref().unwrap();
        assert_eq!((c.id.as_ref(), c.runtime, c.image.as_deref()), (ID, Runtime::Docker, Some("app:1.4")));
        assert_eq!(c.short_id(), &ID[..12]);
        // A path only a runtime's state names.
        let runc = cache.resolve(&mut src, 102, 8);
        assert_eq!(runc.container.as_ref().map(|c| (c.id.as_ref(), c.runtime)), Some(("c1", Runtime::Runc)));
    }

    #[test]
    fn the_unified_root_is_looked_up_in_v1_once_per_process() {
        let mut src = Fake::default();
        src.paths.insert(1, "/".into());
        src.proc.insert(200, format!("9:name=systemd:/docker/{ID}\n0::/\n"));
        src.proc.insert(201, "9:name=systemd:/\n0::/\n".into());
        let mut cache = Cache::new(&hybrid());
        let v1 = cache.resolve(&mut src, 200, 1);
        assert_eq!(v1.hierarchy, Hierarchy::V1("name=systemd".into()));
        assert_eq!(v1.path.as_deref(), Some(&*format!("/docker/{ID}")));
        assert_eq!(v1.container.as_ref().map(|c| c.runtime), Some(Runtime::Docker));
        let host = cache.resolve(&mut src, 201, 1);
        assert_eq!(
            (host.path.as_deref(), &host.hierarchy, host.container.is_none()),
            (Some("/"), &Hierarchy::Unified, true)
        );
        // A v2-only host never reads v1.
        let mut v2 = Cache::new(&Layout { v1: None, ..hybrid() });
        let before = src.reads;
        let root = v2.resolve(&mut src, 200, 1);
        assert!(root.container.is_none());
        assert_eq!(src.reads, before + 1, "only the id's path");
    }

    #[test]
    fn a_container_whose_state_comes_later_is_found_by_retrying() {
        let mut src = Fake::default();
        src.paths.insert(9, "/fdwatch/late".into());
        let mut cache = Cache::new(&hybrid());
        let before = cache.resolve(&mut src, 100, 9);
        assert!(before.container.is_none(), "no state yet");
        assert!(cache.retry(&mut src).is_empty(), "still none");
        // runc wrote its state meanwhile.
        src.states.push("/fdwatch/late".into());
        let changed = cache.retry(&mut src);
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].1.container.as_ref().map(|c| c.id.as_ref()), Some("late"));
        assert!(Rc::ptr_eq(&cache.resolve(&mut src, 101, 9), &changed[0].1), "the cache has the new one");
        // Nested in a container's cgroup: the container's.
        src.paths.insert(10, "/fdwatch/c1/sub/init.scope".into());
        let nested = cache.resolve(&mut src, 102, 10);
        assert_eq!(nested.container.as_ref().map(|c| c.id.as_ref()), Some("c1"));
        // A systemd service is never asked about; retries end.
        assert!(!probed("/system.slice/ssh.service") && probed("/fdwatch/c1") && !probed("/"));
        for _ in 0..RETRIES {
            cache.retry(&mut src);
        }
        assert!(cache.retries.is_empty());
        drop(before);
    }

    #[test]
    fn failures_are_counted_and_said_once_and_exited_containers_swept() {
        let mut src = Fake::default();
        let mut cache = Cache::new(&hybrid());
        // A process that exited before its cgroup was read: counted, not said.
        src.gone.push(299);
        cache.resolve(&mut src, 299, 97);
        assert_eq!((cache.unresolved().cgroups, cache.take_first_failure()), (1, None));
        let lost = cache.resolve(&mut src, 300, 99);
        assert_eq!((lost.id, lost.path.as_deref()), (99, None));
        cache.resolve(&mut src, 301, 98);
        assert_eq!(cache.unresolved().cgroups, 3);
        assert!(cache.take_first_failure().unwrap().contains("cgroup 99"));
        assert_eq!(cache.take_first_failure(), None, "said once");
        src.paths.insert(7, format!("/docker/{ID}"));
        let held = cache.resolve(&mut src, 100, 7);
        assert_eq!(cache.len(), 1);
        cache.sweep();
        assert_eq!(cache.len(), 1, "a process still refers to it");
        drop(held);
        cache.sweep();
        assert!(cache.is_empty(), "nothing left of an exited container");
        // resolve_pid: from /proc, by the unified path's id.
        src.proc.insert(400, format!("0:/docker/{ID}\n0::/docker/{ID}\n"));
        assert_eq!(cache.resolve_pid(&mut src, 400).map(|c| c.id), Some(7));
    }
}
