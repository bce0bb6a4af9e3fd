//! What /proc says about a process, and how the model takes it in: at startup for
//! every process ("present at start"), and later to heal ("resynced").
use super::{
    Access, FdEntry, Model, Pid, Process,
    object::{ObjectKind, kind_from_proc_link},
    origin::{Origin, Step},
};

/// One process as read from /proc (procfs.rs does the reading). Names are the bytes
/// /proc gave (not necessarily UTF-8); the model keeps them as text.
#[derive(Clone, Debug, Default)]
pub struct ProcSnapshot {
    pub pid: Pid,
    pub ppid: Pid,
    pub comm: Vec<u8>,
    pub exe: Option<Vec<u8>>,
    /// /proc/PID/cmdline: argv, NUL-separated.
    pub args: Option<Vec<u8>>,
    /// Monotonic ns when the reading started: events before it are part of it.
    pub read_at_ns: u64,
    pub fds: Vec<FdSnapshot>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FdSnapshot {
    pub fd: i32,
    /// The /proc/PID/fd/N link: `pipe:[N]`, `socket:[N]`, a path, `anon_inode:[x]`.
    pub link: Vec<u8>,
    /// From /proc/PID/fdinfo/N `flags:` (O_CLOEXEC, O_ACCMODE) and `ino:`.
    pub cloexec: bool,
    pub access: Access,
    pub ino: u64,
    /// A pty master's slave number (fdinfo `tty-index:`).
    pub tty_index: Option<u32>,
}

impl Model {
    /// Make the model agree with `snap` for its process. An fd whose object is still the
    /// same keeps its provenance; anything else starts over with `step`
    /// (PresentAtStart or Resynced). Returns how many fds differed.
    pub fn load_snapshot(&mut self, snap: &ProcSnapshot, step: Step) -> usize {
        let pid = snap.pid;
        if !self.processes.contains_key(&pid) {
            let table = self.new_table(vec![pid]);
            let process = Process { ppid: snap.ppid, comm: "".into(), exe: None, args: None, table, synced_at_ns: 0 };
            self.processes.insert(pid, process);
        }
        // A reading is of this process alone: stop sharing a table with anyone.
        let Some(table) = self.unshare(pid) else { return 0 };
        if let Some(p) = self.processes.get_mut(&pid) {
            p.ppid = snap.ppid;
            p.comm = String::from_utf8_lossy(&snap.comm).into();
            if let Some(exe) = &snap.exe {
                p.exe = Some(String::from_utf8_lossy(exe).into());
            }
            if let Some(args) = &snap.args {
                p.args = Some(crate::decode::args::split_args(args));
            }
            p.synced_at_ns = snap.read_at_ns;
        }
        let mut differed = 0;
        let root = Origin::root(step, pid, snap.read_at_ns);
        let listed: std::collections::HashSet<i32> = snap.fds.iter().map(|f| f.fd).collect();
        let stale: Vec<i32> = self
            .tables
            .get(&table)
            .map(|t| t.fds.keys().filter(|fd| !listed.contains(fd)).collect())
            .unwrap_or_default();
        for fd in stale {
            self.remove(table, fd);
            differed += 1;
        }
        for f in &snap.fds {
            let (kind, link_ino) = match kind_from_proc_link(&String::from_utf8_lossy(&f.link)) {
                (ObjectKind::PtyMaster { .. }, ino) => (ObjectKind::PtyMaster { index: f.tty_index }, ino),
                other => other,
            };
            let ino = if f.ino != 0 { f.ino } else { link_ino };
            let same = self.fd(pid, f.fd).is_some_and(|(entry, object)| {
                object.kind.type_name() == kind.type_name()
                    && object.ino == ino
                    && entry.access == f.access
                    && (!matches!(kind, ObjectKind::Anon { .. }) || object.kind == kind)
                    && object.kind.pty_index() == kind.pty_index()
            });
            if same {
                if let Some(e) = self.tables.get_mut(&table).and_then(|t| t.fds.get_mut(f.fd)) {
                    if e.cloexec != f.cloexec {
                        e.cloexec = f.cloexec;
                        differed += 1;
                    }
                }
                continue;
            }
            if self.fd(pid, f.fd).is_some() || step == Step::Resynced {
                differed += 1;
            }
            let object = self.intern_object(kind, ino);
            self.install(table, f.fd, FdEntry { object, cloexec: f.cloexec, access: f.access, origin: root.clone() });
        }
        differed
    }
}
