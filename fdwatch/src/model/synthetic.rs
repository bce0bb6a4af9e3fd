//! Synthetic events and models for unit tests (no root, no kernel): the wire records
//! the probes would write, built by hand.
use fdwatch_common::{ExecEvent, ExitEvent, FdObject, FdPair, ForkEvent, Header, Kind, NewFd, PATH_LEN, Path};

use super::{
    Access, Model, Step,
    snapshot::{FdSnapshot, ProcSnapshot},
};
use crate::decode::{Body, Event, Payload};

pub use fdwatch_common::{RestartPayload, SleepPayload};

pub const PIPE: u16 = 0o010600;
pub const SOCK: u16 = 0o140777;
pub const O_CLOEXEC: u64 = 0o2000000;

pub fn header(kind: Kind, pid: u32, ts: u64) -> Header {
    let mut comm = [0u8; 16];
    comm[..4].copy_from_slice(b"test");
    Header { kind: kind as u32, pid, tid: pid, ts_ns: ts, ..Default::default() }.with_comm(comm)
}

pub trait WithComm {
    fn with_comm(self, comm: [u8; 16]) -> Self;
}
impl WithComm for Header {
    fn with_comm(mut self, comm: [u8; 16]) -> Self {
        self.comm = comm;
        self
    }
}

pub fn call(kind: Kind, pid: u32, ts: u64, ret: i64, args: &[u64], payload: Payload) -> Event {
    let mut a = [0u64; 6];
    a[..args.len()].copy_from_slice(args);
    Event { kind, header: header(kind, pid, ts), body: Body::Syscall { ret, args: a, payload } }
}

pub fn pipe(pid: u32, ts: u64, fds: [i32; 2], ino: u64, flags: u64) -> Event {
    let o = |f| FdObject { ino, mode: PIPE, file_flags: f, valid: 1, ..Default::default() };
    call(Kind::Pipe2, pid, ts, 0, &[0, flags], Payload::FdPair(FdPair { fds, objects: [o(0), o(1)] }))
}

pub fn socket(pid: u32, ts: u64, fd: i32, ino: u64, cloexec: bool) -> Event {
    let object = FdObject { ino, mode: SOCK, file_flags: 2, valid: 1, ..Default::default() };
    let ty = 1 | if cloexec { O_CLOEXEC } else { 0 };
    call(Kind::Socket, pid, ts, fd as i64, &[2, ty, 0], Payload::NewFd(NewFd { object }))
}

pub fn fork(parent: u32, child: u32, ts: u64, thread: bool, shares: bool) -> Event {
    Event {
        kind: Kind::Fork,
        header: header(Kind::Fork, parent, ts),
        body: Body::Fork(ForkEvent {
            header: header(Kind::Fork, parent, ts),
            child_pid: if thread { parent } else { child },
            child_tid: child,
            shares_files: (thread || shares) as u32,
            is_thread: thread as u32,
        }),
    }
}

pub fn exec(pid: u32, ts: u64, file: &str) -> Event {
    let mut filename = Path { len: file.len() as u32, truncated: 0, bytes: [0; PATH_LEN] };
    filename.bytes[..file.len()].copy_from_slice(file.as_bytes());
    let h = header(Kind::Exec, pid, ts);
    Event {
        kind: Kind::Exec,
        header: h,
        body: Body::Exec(ExecEvent { header: h, old_tid: pid, filename, ..Default::default() }),
    }
}

/// An exec with its argv.
pub fn exec_args(pid: u32, ts: u64, file: &str, args: &[&str]) -> Event {
    let mut e = exec(pid, ts, file);
    let comm = file.rsplit('/').next().unwrap_or(file).as_bytes();
    let mut c = [0u8; 16];
    c[..comm.len().min(15)].copy_from_slice(&comm[..comm.len().min(15)]);
    e.header.comm = c;
    if let Body::Exec(x) = &mut e.body {
        x.header.comm = c;
        let mut n = 0;
        for a in args {
            x.args[n..n + a.len()].copy_from_slice(a.as_bytes());
            n += a.len() + 1;
        }
        x.args_len = n as u32;
    }
    e
}

/// recvmsg(sockfd, msg, flags) that installed `fds`, each on a socket of inode `ino`.
pub fn recvmsg(pid: u32, ts: u64, sockfd: i32, fds: &[i32], ino: u64) -> Event {
    let mut r = fdwatch_common::Received { nfds: fds.len() as u32, ..Default::default() };
    for (i, &fd) in fds.iter().enumerate() {
        r.fds[i] = fd;
        r.objects[i] = FdObject { ino, mode: SOCK, file_flags: 2, valid: 1, ..Default::default() };
    }
    call(Kind::Recvmsg, pid, ts, 1, &[sockfd as u64, 0, 0], Payload::Received(r))
}

/// The signal_generate record of `sender` sending `sig` to `target`.
pub fn signal(sender: u32, ts: u64, sig: u32, target: u32) -> Event {
    let h = header(Kind::Signal, sender, ts);
    let s = fdwatch_common::SignalEvent {
        header: h,
        sig,
        result: 0,
        target_pid: target,
        target_tid: target,
        group: 0,
        _pad: 0,
    };
    Event { kind: Kind::Signal, header: h, body: Body::Signal(s) }
}

pub fn exit(pid: u32, ts: u64) -> Event {
    let h = header(Kind::Exit, pid, ts);
    Event { kind: Kind::Exit, header: h, body: Body::Exit(ExitEvent { header: h, exit_code: 0, group_dead: 1 }) }
}

/// A model with process `pid` holding fds 0-2 on a tty, as read at startup.
pub fn model_with(pid: u32) -> Model {
    let mut m = Model::default();
    let fds = (0..3)
        .map(|fd| FdSnapshot {
            fd,
            link: "/dev/pts/0".into(),
            cloexec: false,
            access: Access::ReadWrite,
            ino: 3,
            tty_index: None,
        })
        .collect();
    let snap = ProcSnapshot {
        pid,
        ppid: 1,
        comm: "sh".into(),
        exe: Some("/bin/sh".into()),
        args: Some(b"sh\0".to_vec()),
        read_at_ns: 0,
        fds,
    };
    m.load_snapshot(&snap, Step::PresentAtStart);
    m
}
