//! The fd model: for every process, its open fds, what object each refers to, and where
//! it came from. Plain data with methods and no I/O: events go in through `apply`
//! (apply.rs), /proc snapshots through `load_snapshot` (snapshot.rs), and when the
//! model cannot trust itself it says which process to re-read instead of guessing.
//!
//! The queries (fd, holders, object_by_inode) are what the detectors read.
pub mod apply;
pub mod describe;
pub mod fd_map;
pub mod holders;
pub mod object;
pub mod object_store;
pub mod origin;
pub mod snapshot;
#[cfg(test)]
pub mod synthetic;

// FxHash: the model hashes small integer keys on every event; SipHash's DoS resistance
// buys nothing here (keys come from the kernel) and cost 13% of the collector's time.
use rustc_hash::FxHashMap as HashMap;

pub use apply::Applied;
pub use fd_map::FdMap;
pub use holders::{HolderLists, Holders};
pub use object::{InodeKey, Object, ObjectId, ObjectKind};
pub use object_store::Objects;
pub use origin::{Origin, Step, StepAt};

pub use fdwatch_common::object::Access;

pub type Pid = u32;

#[derive(Clone, Debug)]
pub struct FdEntry {
    pub object: ObjectId,
    pub cloexec: bool,
    pub access: Access,
    pub origin: Origin,
}

/// An fd table. Threads, and processes cloned with CLONE_FILES, share one.
#[derive(Debug, Default)]
pub struct Table {
    pub fds: FdMap,
    /// Processes using this table.
    pub users: Vec<Pid>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableId(pub u64);

#[derive(Debug, Clone)]
pub struct Process {
    pub ppid: Pid,
    pub comm: Box<str>,
    /// The program it runs, from exec or /proc/PID/exe.
    pub exe: Option<Box<str>>,
    /// Its argument strings (argv), from exec or /proc/PID/cmdline; the last one may be
    /// cut (the exec record carries the first 128 bytes).
    pub args: Option<Box<[Box<str>]>>,
    pub table: TableId,
    /// When its fds were last read from /proc (monotonic ns); older events for it are
    /// already part of that reading.
    pub synced_at_ns: u64,
}

/// Limits that keep the model's memory bounded.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Tracked fds at most; beyond it new fds are not tracked and counted as dropped.
    pub max_fds: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_fds: 4 << 20 }
    }
}

#[derive(Debug, Default)]
pub struct Model {
    pub processes: HashMap<Pid, Process>,
    pub tables: HashMap<TableId, Table>,
    pub objects: Objects,
    holder_lists: HolderLists,
    by_inode: HashMap<InodeKey, ObjectId>,
    next_table: u64,
    tracked_fds: usize,
    /// fds not tracked because of `Limits::max_fds`, since the last `take_dropped`.
    dropped_fds: u64,
    limits: Limits,
    /// Names of processes gone, so provenance through them keeps its words.
    gone: Gone,
    /// The newest event time applied (monotonic ns).
    last_ts_ns: u64,
}

/// The names of the last `GONE_MAX` processes that left the model, with when they left:
/// an fd's history names the processes it passed through, and most of them have exited
/// by the time an alert tells it (pipe_leak's writer, a relay's parent). A pid the
/// kernel has reused since is told apart by time.
#[derive(Debug, Default)]
struct Gone {
    by_pid: HashMap<Pid, Vec<(u64, Box<str>)>>,
    order: std::collections::VecDeque<Pid>,
}

/// How many exited processes keep their name: ~40 bytes each.
const GONE_MAX: usize = 16384;

impl Gone {
    fn push(&mut self, pid: Pid, ts_ns: u64, comm: Box<str>) {
        self.by_pid.entry(pid).or_default().push((ts_ns, comm));
        self.order.push_back(pid);
        while self.order.len() > GONE_MAX {
            let Some(old) = self.order.pop_front() else { break };
            if let Some(list) = self.by_pid.get_mut(&old) {
                list.remove(0);
                if list.is_empty() {
                    self.by_pid.remove(&old);
                }
            }
        }
    }

    /// The name of the process `pid` that was there at `ts_ns` and has left since.
    fn at(&self, pid: Pid, ts_ns: u64) -> Option<&str> {
        self.by_pid.get(&pid)?.iter().find(|(left, _)| *left >= ts_ns).map(|(_, comm)| &**comm)
    }

    fn latest(&self, pid: Pid) -> Option<&str> {
        self.by_pid.get(&pid)?.last().map(|(_, comm)| &**comm)
    }
}

impl Model {
    pub fn new(limits: Limits) -> Self {
        Self { limits, ..Default::default() }
    }

    pub fn process(&self, pid: Pid) -> Option<&Process> {
        self.processes.get(&pid)
    }

    /// The name of process `pid` as it was at `ts_ns`: a process that has exited since
    /// (if the model saw it go), else the one there now, else the last one that left.
    pub fn comm_at(&self, pid: Pid, ts_ns: u64) -> Option<&str> {
        if let Some(comm) = self.gone.at(pid, ts_ns) {
            return Some(comm);
        }
        match self.processes.get(&pid) {
            Some(p) => Some(&p.comm),
            None => self.gone.latest(pid),
        }
    }

    /// Whether process `pid` refers to `object` through an fd other than `fd`, opened
    /// for `access`. Allocates nothing: the pipe-leak detector asks it on every close
    /// of a pipe's write end.
    pub fn holds_another(&self, pid: Pid, object: ObjectId, fd: i32, access: Access) -> bool {
        let Some(table) = self.processes.get(&pid).map(|p| p.table) else { return false };
        let (Some(o), Some(t)) = (self.objects.get(object), self.tables.get(&table)) else { return false };
        o.holders.iter(&self.holder_lists).any(|(holder, other)| {
            holder == table && other != fd && t.fds.get(other).is_some_and(|e| e.access == access)
        })
    }

    pub fn table_of(&self, pid: Pid) -> Option<&Table> {
        self.tables.get(&self.processes.get(&pid)?.table)
    }

    /// The entry for `fd` of process `pid` and the object it refers to.
    pub fn fd(&self, pid: Pid, fd: i32) -> Option<(&FdEntry, &Object)> {
        let entry = self.table_of(pid)?.fds.get(fd)?;
        Some((entry, self.objects.get(entry.object)?))
    }

    pub fn object_by_inode(&self, key: InodeKey) -> Option<(ObjectId, &Object)> {
        let id = *self.by_inode.get(&key)?;
        Some((id, self.objects.get(id)?))
    }

    /// Processes holding `object`, with the fds and the entries through which they do.
    pub fn holders(&self, object: ObjectId) -> Vec<(Pid, i32, &FdEntry)> {
        let Some(o) = self.objects.get(object) else { return Vec::new() };
        let mut out = Vec::new();
        for (table, fd) in o.holders.iter(&self.holder_lists) {
            let Some(t) = self.tables.get(&table) else { continue };
            let Some(entry) = t.fds.get(fd) else { continue };
            for &pid in &t.users {
                out.push((pid, fd, entry));
            }
        }
        out.sort_by_key(|(pid, fd, _)| (*pid, *fd));
        out
    }

    pub fn tracked_fds(&self) -> usize {
        self.tracked_fds
    }

    /// Give back the slack left by growing the tables and maps (up to half of each),
    /// and what processes that held many fds left behind. After the startup reading
    /// (the slack sits in heap pages already touched, so it would stay resident) and
    /// every `heap::TRIM_EVERY`.
    pub fn shrink_to_fit(&mut self) {
        for table in self.tables.values_mut() {
            table.fds.shrink_to_fit();
        }
        self.objects.shrink_to_fit();
        self.holder_lists.shrink_to_fit();
        crate::heap::shrink_map(&mut self.processes);
        crate::heap::shrink_map(&mut self.tables);
        crate::heap::shrink_map(&mut self.by_inode);
    }

    /// fds left untracked because of the limit since the last call.
    pub fn take_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.dropped_fds)
    }

    // ---- building blocks for apply.rs and snapshot.rs ----

    fn new_table(&mut self, users: Vec<Pid>) -> TableId {
        self.next_table += 1;
        let id = TableId(self.next_table);
        self.tables.insert(id, Table { fds: FdMap::default(), users });
        id
    }

    /// A new object, or the existing one with the same inode (pipes, sockets).
    fn intern_object(&mut self, kind: ObjectKind, ino: u64) -> ObjectId {
        let probe = Object { kind, ino, holders: Default::default() };
        let key = probe.inode_key();
        if let Some(&id) = key.as_ref().and_then(|k| self.by_inode.get(k)) {
            return id;
        }
        let id = self.objects.insert(probe);
        if let Some(key) = key {
            self.by_inode.insert(key, id);
        }
        id
    }

    /// Put `entry` on `fd` of `table`, closing whatever was there.
    fn install(&mut self, table: TableId, fd: i32, entry: FdEntry) {
        self.remove(table, fd);
        if self.tracked_fds >= self.limits.max_fds {
            self.dropped_fds += 1;
            self.release_if_unheld(entry.object);
            return;
        }
        if let Some(o) = self.objects.get_mut(entry.object) {
            o.holders.push(&mut self.holder_lists, (table, fd));
        }
        if let Some(t) = self.tables.get_mut(&table) {
            t.fds.insert(fd, entry);
            self.tracked_fds += 1;
        }
    }

    /// Close `fd` of `table`; returns the entry if it was open.
    fn remove(&mut self, table: TableId, fd: i32) -> Option<FdEntry> {
        let entry = self.tables.get_mut(&table)?.fds.remove(fd)?;
        self.tracked_fds -= 1;
        if let Some(o) = self.objects.get_mut(entry.object) {
            o.holders.remove(&mut self.holder_lists, (table, fd));
        }
        self.release_if_unheld(entry.object);
        Some(entry)
    }

    fn release_if_unheld(&mut self, id: ObjectId) {
        if self.objects.get(id).is_some_and(|o| o.holders.is_empty()) {
            if let Some(o) = self.objects.remove(id) {
                if let Some(key) = o.inode_key() {
                    self.by_inode.remove(&key);
                }
            }
        }
    }

    /// Drop `pid` from its table's users, and the table with its holds if unused.
    fn leave_table(&mut self, pid: Pid, table: TableId) {
        let Some(t) = self.tables.get_mut(&table) else { return };
        t.users.retain(|&p| p != pid);
        if t.users.is_empty() {
            let fds: Vec<i32> = t.fds.keys().collect();
            for fd in fds {
                self.remove(table, fd);
            }
            self.tables.remove(&table);
        }
    }

    /// Give `pid` a private copy of its table if it shares one (exec, CLOSE_RANGE_UNSHARE:
    /// the kernel's unshare_files()). Provenance carries over unchanged.
    fn unshare(&mut self, pid: Pid) -> Option<TableId> {
        let table = self.processes.get(&pid)?.table;
        if self.tables.get(&table)?.users.len() <= 1 {
            return Some(table);
        }
        let copy: Vec<(i32, FdEntry)> = self.tables.get(&table)?.fds.iter().map(|(fd, e)| (fd, e.clone())).collect();
        self.leave_table(pid, table);
        let new = self.new_table(vec![pid]);
        for (fd, entry) in copy {
            self.install(new, fd, entry);
        }
        if let Some(p) = self.processes.get_mut(&pid) {
            p.table = new;
        }
        Some(new)
    }

    /// Forget a process (exit, or replaced by a fresh reading); its name stays known
    /// for the histories that pass through it.
    pub fn remove_process(&mut self, pid: Pid) {
        if let Some(p) = self.processes.remove(&pid) {
            self.gone.push(pid, self.last_ts_ns, p.comm);
            self.leave_table(pid, p.table);
        }
    }
}
#[cfg(test)]
mod tests;
