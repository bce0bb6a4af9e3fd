//! Events -> model changes, one syscall at a time, with the kernel's semantics (each
//! arm cites its man page). Failed syscalls change nothing. When an event contradicts
//! the model (an fd it does not know, a number already taken) the model still takes
//! what the kernel did, and asks for the process to be re-read from /proc.
use fdwatch_common::Kind;

use super::{
    Access, FdEntry, Model, Pid, Process, TableId,
    object::{ObjectKind, kind_from_kernel},
    origin::{Origin, Step},
};
use crate::decode::{Body, Event, Payload, names::sockaddr::format_sockaddr};

/// What applying an event did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    Changed,
    /// Nothing to change: a failed call, a thread, a call that opens nothing, or an event
    /// already reflected in the process's last /proc reading.
    Unchanged,
    /// The model cannot be sure about `pid`: read it again from /proc.
    Resync {
        pid: Pid,
        reason: &'static str,
    },
}

/// O_CLOEXEC, which is also SOCK_CLOEXEC, EFD_CLOEXEC, EPOLL_CLOEXEC, TFD_CLOEXEC,
/// IN_CLOEXEC, SFD_CLOEXEC (x86-64: 0o2000000).
const O_CLOEXEC: u64 = 0o2000000;
/// SOCK_TYPE_MASK (include/linux/net.h): the type without SOCK_NONBLOCK/SOCK_CLOEXEC.
const SOCK_TYPE_MASK: u64 = 0xf;
const F_DUPFD: u64 = 0;
const F_SETFD: u64 = 2;
const F_DUPFD_CLOEXEC: u64 = 1030;
const FD_CLOEXEC: u64 = 1;
/// include/uapi/asm-generic/ioctls.h
const FIOCLEX: u64 = 0x5451;
/// include/uapi/linux/close_range.h
const CLOSE_RANGE_UNSHARE: u64 = 1 << 1;
const CLOSE_RANGE_CLOEXEC: u64 = 1 << 2;
const EINPROGRESS: i64 = 115;
/// MSG_CMSG_CLOEXEC (include/linux/socket.h): received fds get close-on-exec.
const MSG_CMSG_CLOEXEC: u64 = 0x4000_0000;
const AF_UNSPEC: u16 = 0;

impl Model {
    pub fn apply(&mut self, event: &Event) -> Applied {
        let h = &event.header;
        let pid = h.pid;
        self.last_ts_ns = self.last_ts_ns.max(h.ts_ns);
        // Calls that open and close nothing: the detectors read them, the model has
        // nothing to do (and no reason to re-read a process it does not know).
        if matches!(
            event.kind,
            Kind::Signal
                | Kind::Ptrace
                | Kind::RestartSyscall
                | Kind::Nanosleep
                | Kind::ClockNanosleep
                | Kind::EpollWait
                | Kind::EpollPwait
                | Kind::EpollPwait2
        ) {
            return Applied::Unchanged;
        }
        if let Body::Fork(f) = &event.body {
            return self.fork(pid, f.child_pid, f.is_thread != 0, f.shares_files != 0, h.ts_ns);
        }
        let Some(process) = self.processes.get(&pid) else {
            return match event.kind {
                Kind::Exit => Applied::Unchanged,
                _ => Applied::Resync { pid, reason: "event from a process the model does not know" },
            };
        };
        if h.ts_ns < process.synced_at_ns {
            return Applied::Unchanged;
        }
        let table = process.table;
        match &event.body {
            Body::Fork(_) => Applied::Unchanged,
            Body::Exec(e) => {
                let len = (e.filename.len as usize).min(e.filename.bytes.len());
                let exe = String::from_utf8_lossy(&e.filename.bytes[..len]).into_owned();
                let args = crate::decode::args::split_args(&e.args[..(e.args_len as usize).min(e.args.len())]);
                self.exec(pid, exe, args, event.comm().into_owned(), h.ts_ns)
            }
            Body::Exit(e) if e.group_dead != 0 => {
                self.remove_process(pid);
                Applied::Changed
            }
            Body::Exit(_) | Body::Signal(_) => Applied::Unchanged,
            Body::Syscall { ret, args, payload } => self.syscall(event.kind, pid, table, *ret, args, payload, h.ts_ns),
        }
    }

    /// fork(2)/clone(2): a thread shares everything; CLONE_FILES shares the table;
    /// otherwise the child gets a copy of every fd, CLOEXEC included (fork(2)).
    fn fork(&mut self, parent: Pid, child: Pid, is_thread: bool, shares: bool, ts: u64) -> Applied {
        if is_thread {
            return Applied::Unchanged;
        }
        // The child's pid may be a reused one whose exit we did not see.
        self.remove_process(child);
        let Some(p) = self.processes.get(&parent).cloned() else {
            return Applied::Resync { pid: child, reason: "fork from a process the model does not know" };
        };
        let table = if shares {
            if let Some(t) = self.tables.get_mut(&p.table) {
                t.users.push(child);
            }
            p.table
        } else {
            let copy: Vec<(i32, FdEntry)> = self
                .tables
                .get(&p.table)
                .map(|t| t.fds.iter().map(|(fd, e)| (fd, e.clone())).collect())
                .unwrap_or_default();
            let new = self.new_table(vec![child]);
            for (fd, entry) in copy {
                let origin = entry.origin.then(Step::Inherited { from_pid: parent }, child, ts);
                self.install(new, fd, FdEntry { origin, ..entry });
            }
            new
        };
        let process = Process { ppid: parent, comm: p.comm, exe: p.exe, args: p.args, table, synced_at_ns: 0 };
        self.processes.insert(child, process);
        Applied::Changed
    }

    /// execve(2): the table is unshared, CLOEXEC fds are closed, the rest stay.
    fn exec(&mut self, pid: Pid, exe: String, args: Box<[Box<str>]>, comm: String, ts: u64) -> Applied {
        let Some(table) = self.unshare(pid) else { return Applied::Unchanged };
        let fds: Vec<(i32, bool)> =
            self.tables.get(&table).map(|t| t.fds.iter().map(|(fd, e)| (fd, e.cloexec)).collect()).unwrap_or_default();
        for (fd, cloexec) in fds {
            if cloexec {
                self.remove(table, fd);
            } else if let Some(e) = self.tables.get_mut(&table).and_then(|t| t.fds.get_mut(fd)) {
                e.origin = e.origin.then(Step::SurvivedExec, pid, ts);
            }
        }
        if let Some(p) = self.processes.get_mut(&pid) {
            p.exe = Some(exe.into());
            p.args = Some(args);
            p.comm = comm.into();
        }
        Applied::Changed
    }

    #[allow(clippy::too_many_arguments)]
    fn syscall(
        &mut self,
        kind: Kind,
        pid: Pid,
        table: TableId,
        ret: i64,
        a: &[u64; 6],
        payload: &Payload,
        ts: u64,
    ) -> Applied {
        // connect(2): a non-blocking connect that returns EINPROGRESS has its peer set.
        if kind == Kind::Connect && (ret == 0 || ret == -EINPROGRESS) {
            if let Payload::Addr(p) = payload {
                self.set_peer(table, a[0] as i32, &p.addr);
            }
            return Applied::Changed;
        }
        if ret < 0 {
            return Applied::Unchanged;
        }
        let fd = ret as i32;
        let arg_fd = |i: usize| a[i] as i32;
        match (kind, payload) {
            // dup(2): lowest free fd, CLOEXEC off. dup2: same, onto newfd, closing it
            // first; oldfd == newfd does nothing. dup3: O_CLOEXEC may be set.
            (Kind::Dup, _) => self.dup(pid, table, arg_fd(0), fd, false, kind, ts),
            (Kind::Dup2, _) if arg_fd(0) == arg_fd(1) => Applied::Unchanged,
            (Kind::Dup2, _) => self.dup(pid, table, arg_fd(0), arg_fd(1), false, kind, ts),
            (Kind::Dup3, _) => self.dup(pid, table, arg_fd(0), arg_fd(1), a[2] & O_CLOEXEC != 0, kind, ts),
            // fcntl(2)
            (Kind::Fcntl, _) => match a[1] & 0xffff_ffff {
                F_DUPFD => self.dup(pid, table, arg_fd(0), fd, false, kind, ts),
                F_DUPFD_CLOEXEC => self.dup(pid, table, arg_fd(0), fd, true, kind, ts),
                F_SETFD => match self.tables.get_mut(&table).and_then(|t| t.fds.get_mut(arg_fd(0))) {
                    Some(e) => {
                        e.cloexec = a[2] & FD_CLOEXEC != 0;
                        Applied::Changed
                    }
                    None => Applied::Resync { pid, reason: "F_SETFD on an fd the model does not know" },
                },
                _ => Applied::Unchanged,
            },
            // ioctl(2) FIOCLEX / FIONCLEX set or clear close-on-exec, like F_SETFD.
            (Kind::Ioctl, _) => {
                let cloexec = a[1] & 0xffff_ffff == FIOCLEX;
                match self.tables.get_mut(&table).and_then(|t| t.fds.get_mut(arg_fd(0))) {
                    Some(e) => {
                        e.cloexec = cloexec;
                        Applied::Changed
                    }
                    None => Applied::Resync { pid, reason: "FIOCLEX/FIONCLEX on an fd the model does not know" },
                }
            }
            (Kind::Close, _) => match self.remove(table, arg_fd(0)) {
                Some(_) => Applied::Changed,
                None => Applied::Resync { pid, reason: "close of an fd the model does not know" },
            },
            (Kind::CloseRange, _) => self.close_range(pid, a[0] as u32, a[1] as u32, a[2]),
            (Kind::Socket, Payload::NewFd(p)) => {
                let kind_ = ObjectKind::Socket {
                    domain: a[0] as u16,
                    sock_type: (a[1] & SOCK_TYPE_MASK) as u16,
                    protocol: a[2] as u16,
                    peer: None,
                };
                self.create(pid, table, fd, kind_, p.object.ino, a[1] & O_CLOEXEC != 0, Access::ReadWrite, kind, ts)
            }
            // socketpair(2): two connected sockets, each its own inode.
            (Kind::Socketpair, Payload::FdPair(p)) => {
                let mut result = Applied::Changed;
                for (i, &end) in p.fds.iter().enumerate() {
                    let kind_ = ObjectKind::Socket {
                        domain: a[0] as u16,
                        sock_type: (a[1] & SOCK_TYPE_MASK) as u16,
                        protocol: a[2] as u16,
                        peer: None,
                    };
                    let r = self.create(
                        pid,
                        table,
                        end,
                        kind_,
                        p.objects[i].ino,
                        a[1] & O_CLOEXEC != 0,
                        Access::ReadWrite,
                        kind,
                        ts,
                    );
                    if r != Applied::Changed {
                        result = r;
                    }
                }
                result
            }
            // pipe(2)/pipe2(2): one pipe, fds[0] its read end, fds[1] its write end.
            (Kind::Pipe | Kind::Pipe2, Payload::FdPair(p)) => {
                let cloexec = kind == Kind::Pipe2 && a[1] & O_CLOEXEC != 0;
                let ino = p.objects[0].ino;
                let created = Origin::root(Step::Created(kind), pid, ts);
                let object = self.intern_object(ObjectKind::Pipe, ino);
                let mut result = Applied::Changed;
                for (end, access) in [(p.fds[0], Access::Read), (p.fds[1], Access::Write)] {
                    let r = self.put_new(pid, table, end, FdEntry { object, cloexec, access, origin: created.clone() });
                    if r != Applied::Changed {
                        result = r;
                    }
                }
                result
            }
            (Kind::Open | Kind::Openat | Kind::Openat2 | Kind::Creat, Payload::Open(p)) => {
                let len = (p.path.len as usize).min(p.path.bytes.len());
                let path = String::from_utf8_lossy(&p.path.bytes[..len]);
                let flags = match kind {
                    Kind::Open => a[1],
                    Kind::Openat => a[2],
                    Kind::Openat2 => p.how[0],
                    _ => 0, // creat(2) is O_CREAT|O_WRONLY|O_TRUNC
                };
                let kind_ = match kind_from_kernel(&p.object, Some(&path), "") {
                    // posix_openpt(3): a new master, numbered like its slave.
                    ObjectKind::PtyMaster { .. } => ObjectKind::PtyMaster { index: u32::try_from(p.tty_index).ok() },
                    other => other,
                };
                let access = p.object.access();
                self.create(pid, table, fd, kind_, p.object.ino, flags & O_CLOEXEC != 0, access, kind, ts)
            }
            // ioctl(master, TIOCGPTPEER, flags) (ioctl_tty(2)): the slave of that master.
            (Kind::IoctlPtyPeer, Payload::NewFd(p)) => {
                let kind_ = kind_from_kernel(&p.object, None, "");
                if let Some(index) = kind_.pty_index() {
                    self.number_master(table, arg_fd(0), index);
                }
                let access = p.object.access();
                self.create(pid, table, fd, kind_, p.object.ino, a[2] & O_CLOEXEC != 0, access, kind, ts)
            }
            // recvmsg(2)/recvmmsg(2) with SCM_RIGHTS (unix(7)): each fd a new number for
            // an object another process sent, CLOEXEC with MSG_CMSG_CLOEXEC.
            (Kind::Recvmsg | Kind::Recvmmsg, Payload::Received(r)) => {
                let flags = if kind == Kind::Recvmmsg { a[3] } else { a[2] };
                let cloexec = flags & MSG_CMSG_CLOEXEC != 0;
                let n = (r.nfds as usize).min(r.fds.len());
                let mut result = if r.more > 0 {
                    Applied::Resync { pid, reason: "more fds received than one event reports" }
                } else {
                    Applied::Changed
                };
                for i in 0..n {
                    let res = self.receive(pid, table, r.fds[i], &r.objects[i], arg_fd(0), cloexec, kind, ts);
                    if res != Applied::Changed {
                        result = res;
                    }
                }
                result
            }
            // accept(2)/accept4(2): a socket like the listener, connected to the peer.
            (Kind::Accept | Kind::Accept4, Payload::Accept(p)) => {
                let (domain, sock_type, protocol) = match self.fd_kind(table, arg_fd(0)) {
                    Some(ObjectKind::Socket { domain, sock_type, protocol, .. }) => (*domain, *sock_type, *protocol),
                    _ => (0, 0, 0),
                };
                let len = (p.addr.len as usize).min(p.addr.bytes.len());
                let peer = format_sockaddr(&p.addr.bytes[..len]).map(Into::into);
                let kind_ = ObjectKind::Socket { domain, sock_type, protocol, peer };
                let cloexec = kind == Kind::Accept4 && a[3] & O_CLOEXEC != 0;
                self.create(pid, table, fd, kind_, p.object.ino, cloexec, Access::ReadWrite, kind, ts)
            }
            (k, Payload::NewFd(p)) if k.is_other_fd_creator() => {
                let (anon, cloexec) = other_creator(k, a);
                let kind_ = match (k, kind_from_kernel(&p.object, None, anon)) {
                    // pidfs inodes look like regular files inside; /proc shows
                    // anon_inode:[pidfd].
                    (Kind::PidfdOpen, _) => ObjectKind::Anon { name: "[pidfd]".into() },
                    // memfd_create(2) makes a regular file with no path.
                    (_, ObjectKind::File { .. }) => ObjectKind::File { path: format!("/{anon}").into() },
                    (_, other) => other,
                };
                let access = p.object.access();
                self.create(pid, table, fd, kind_, p.object.ino, cloexec, access, kind, ts)
            }
            _ => Applied::Unchanged,
        }
    }

    /// A received fd: the object another process held, with the history of one of its
    /// holders (most likely the sender's) and this step added.
    #[allow(clippy::too_many_arguments)]
    fn receive(
        &mut self,
        pid: Pid,
        table: TableId,
        fd: i32,
        o: &fdwatch_common::FdObject,
        via_fd: i32,
        cloexec: bool,
        kind: Kind,
        ts: u64,
    ) -> Applied {
        if fd < 0 || o.valid == 0 {
            return Applied::Resync { pid, reason: "received an fd the probe could not read" };
        }
        let probe = kind_from_kernel(o, None, "");
        let known = super::Object { kind: probe.clone(), ino: o.ino, holders: Default::default() }
            .inode_key()
            .and_then(|key| self.object_by_inode(key).map(|(id, _)| id));
        let (object, origin) = match known {
            Some(id) => {
                let sender =
                    self.holders(id).into_iter().find(|(p, _, _)| *p != pid).map(|(p, _, e)| (p, e.origin.clone()));
                match sender {
                    Some((from_pid, origin)) => (id, origin.then(Step::Received { kind, via_fd, from_pid }, pid, ts)),
                    None => (id, Origin::root(Step::Received { kind, via_fd, from_pid: 0 }, pid, ts)),
                }
            }
            None => {
                let id = self.intern_object(probe, o.ino);
                (id, Origin::root(Step::Received { kind, via_fd, from_pid: 0 }, pid, ts))
            }
        };
        let access = o.access();
        self.put_new(pid, table, fd, FdEntry { object, cloexec, access, origin })
    }

    /// Learn a pty master's number from its slave (TIOCGPTPEER on it).
    fn number_master(&mut self, table: TableId, master_fd: i32, index: u32) {
        let Some(id) = self.tables.get(&table).and_then(|t| t.fds.get(master_fd)).map(|e| e.object) else { return };
        let Some(o) = self.objects.get_mut(id) else { return };
        if let ObjectKind::PtyMaster { index: slot @ None } = &mut o.kind {
            *slot = Some(index);
            if let Some(key) = o.inode_key() {
                self.by_inode.insert(key, id);
            }
        }
    }

    fn fd_kind(&self, table: TableId, fd: i32) -> Option<&ObjectKind> {
        let entry = self.tables.get(&table)?.fds.get(fd)?;
        Some(&self.objects.get(entry.object)?.kind)
    }

    fn set_peer(&mut self, table: TableId, fd: i32, addr: &fdwatch_common::SockAddr) {
        let Some(id) = self.tables.get(&table).and_then(|t| t.fds.get(fd)).map(|e| e.object) else { return };
        let len = (addr.len as usize).min(addr.bytes.len());
        let family = if len >= 2 { u16::from_ne_bytes([addr.bytes[0], addr.bytes[1]]) } else { AF_UNSPEC };
        if let Some(ObjectKind::Socket { peer, .. }) = self.objects.get_mut(id).map(|o| &mut o.kind) {
            // connect(2): AF_UNSPEC dissolves a datagram socket's association.
            *peer = if family == AF_UNSPEC { None } else { format_sockaddr(&addr.bytes[..len]).map(Into::into) };
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn dup(&mut self, pid: Pid, table: TableId, old: i32, new: i32, cloexec: bool, kind: Kind, ts: u64) -> Applied {
        if new < 0 {
            return Applied::Resync { pid, reason: "dup onto an fd the kernel cannot have given (negative)" };
        }
        let Some(src) = self.tables.get(&table).and_then(|t| t.fds.get(old)).cloned() else {
            return Applied::Resync { pid, reason: "dup of an fd the model does not know" };
        };
        let origin = src.origin.then(Step::Dup { kind, from_fd: old }, pid, ts);
        self.install(table, new, FdEntry { object: src.object, cloexec, access: src.access, origin });
        Applied::Changed
    }

    #[allow(clippy::too_many_arguments)]
    fn create(
        &mut self,
        pid: Pid,
        table: TableId,
        fd: i32,
        kind_: ObjectKind,
        ino: u64,
        cloexec: bool,
        access: Access,
        kind: Kind,
        ts: u64,
    ) -> Applied {
        let created = Origin::root(Step::Created(kind), pid, ts);
        let object = self.intern_object(kind_, ino);
        self.put_new(pid, table, fd, FdEntry { object, cloexec, access, origin: created })
    }

    /// Install a newly created fd. The kernel only hands out free numbers, so a taken
    /// one means the model missed a close. pipe(2) and socketpair(2) write their fds to
    /// the caller's memory, where the probe reads them back after the call: a program
    /// can overwrite them in between, so a negative one is not installed but read
    /// from /proc.
    fn put_new(&mut self, pid: Pid, table: TableId, fd: i32, entry: FdEntry) -> Applied {
        if fd < 0 {
            self.release_if_unheld(entry.object);
            return Applied::Resync { pid, reason: "new fd the kernel cannot have given (negative)" };
        }
        let taken = self.tables.get(&table).is_some_and(|t| t.fds.contains_key(fd));
        self.install(table, fd, entry);
        if taken {
            Applied::Resync { pid, reason: "new fd on a number the model thought was open" }
        } else {
            Applied::Changed
        }
    }

    /// close_range(2): close, or with CLOSE_RANGE_CLOEXEC mark close-on-exec, every open
    /// fd in [first, last]; CLOSE_RANGE_UNSHARE first unshares the table.
    fn close_range(&mut self, pid: Pid, first: u32, last: u32, flags: u64) -> Applied {
        let table = if flags & CLOSE_RANGE_UNSHARE != 0 {
            self.unshare(pid)
        } else {
            self.processes.get(&pid).map(|p| p.table)
        };
        let Some(table) = table else { return Applied::Unchanged };
        let in_range: Vec<i32> = self
            .tables
            .get(&table)
            .map(|t| t.fds.keys().filter(|&fd| fd >= 0 && (fd as u32) >= first && (fd as u32) <= last).collect())
            .unwrap_or_default();
        for fd in in_range {
            if flags & CLOSE_RANGE_CLOEXEC != 0 {
                if let Some(e) = self.tables.get_mut(&table).and_then(|t| t.fds.get_mut(fd)) {
                    e.cloexec = true;
                }
            } else {
                self.remove(table, fd);
            }
        }
        Applied::Changed
    }
}

/// Name (as /proc shows the anonymous inode after `anon_inode:`, the names given to
/// anon_inode_getfd() in the kernel) and CLOEXEC of the other fd creators, from each
/// man page's flags.
fn other_creator(kind: Kind, a: &[u64; 6]) -> (&'static str, bool) {
    let flag = |i: usize, bit: u64| a[i] & bit != 0;
    match kind {
        Kind::EpollCreate => ("[eventpoll]", false),
        Kind::EpollCreate1 => ("[eventpoll]", flag(0, O_CLOEXEC)),
        Kind::Eventfd => ("[eventfd]", false),
        Kind::Eventfd2 => ("[eventfd]", flag(1, O_CLOEXEC)),
        Kind::TimerfdCreate => ("[timerfd]", flag(1, O_CLOEXEC)),
        Kind::Signalfd => ("[signalfd]", false),
        Kind::Signalfd4 => ("[signalfd]", flag(3, O_CLOEXEC)),
        // fs/notify/inotify/inotify_user.c names it without brackets.
        Kind::InotifyInit => ("inotify", false),
        Kind::InotifyInit1 => ("inotify", flag(0, O_CLOEXEC)),
        // MFD_CLOEXEC is 1 (include/uapi/linux/memfd.h).
        Kind::MemfdCreate => ("memfd", flag(1, 1)),
        // pidfd_open(2), pidfd_getfd(2): "The close-on-exec flag is set".
        Kind::PidfdOpen | Kind::PidfdGetfd => ("[pidfd]", true),
        // FAN_CLOEXEC is 1 (include/uapi/linux/fanotify.h).
        Kind::FanotifyInit => ("[fanotify]", flag(0, 1)),
        Kind::Userfaultfd => ("[userfaultfd]", flag(0, O_CLOEXEC)),
        // PERF_FLAG_FD_CLOEXEC is 8 (include/uapi/linux/perf_event.h).
        Kind::PerfEventOpen => ("[perf_event]", flag(4, 8)),
        // io_uring_setup installs its fd with O_CLOEXEC (io_uring/io_uring.c).
        Kind::IoUringSetup => ("[io_uring]", true),
        Kind::OpenByHandleAt => ("handle", flag(2, O_CLOEXEC)),
        _ => ("unknown", false),
    }
}
