//! Ring-buffer bytes -> [`Event`]. The only place that interprets wire layouts, and so
//! the place where every value from the kernel is checked: arguments are cut to the
//! types the kernel takes them as (abi.rs), lengths and counts are bounded by the
//! buffers they count, flags are 0 or 1, and a return value no traced syscall can
//! return makes the record undecodable. Every field of every record is treated as
//! hostile: arguments are whatever a program put in its registers, and paths, socket
//! addresses and poll entries are read from its memory, which it may rewrite at will.
use std::mem::size_of;

use fdwatch_common::{
    ADDR_LEN, ARGS_LEN, AcceptPayload, AddrPayload, COMM_LEN, ExecEvent, ExitEvent, FdObject, FdPair, ForkEvent,
    Header, Kind, NewFd, NoPayload, OpenPayload, PATH_LEN, POLL_ENTRIES, Path, RECV_FDS, Received, RestartPayload,
    SignalEvent, SleepPayload, SockAddr, SyscallEvent, WaitPayload, kind::PayloadShape, record_size,
};

use super::{abi, ticks::Timebase};

/// One decoded record. Plain data, no allocation: payloads stay in their wire form and
/// are read through accessors.
#[derive(Clone, Copy, Debug)]
pub struct Event {
    pub kind: Kind,
    pub header: Header,
    pub body: Body,
}

#[derive(Clone, Copy, Debug)]
pub enum Body {
    Syscall { ret: i64, args: [u64; 6], payload: Payload },
    Fork(ForkEvent),
    Exec(ExecEvent),
    Exit(ExitEvent),
    Signal(SignalEvent),
}

#[derive(Clone, Copy, Debug)]
pub enum Payload {
    None,
    NewFd(NewFd),
    FdPair(FdPair),
    Addr(AddrPayload),
    Accept(AcceptPayload),
    Open(OpenPayload),
    Wait(WaitPayload),
    Received(Received),
    Sleep(SleepPayload),
    Restart(RestartPayload),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    Short {
        len: usize,
    },
    UnknownKind(u32),
    Truncated {
        kind: Kind,
        len: usize,
        want: usize,
    },
    /// A value the kernel cannot have written, e.g. a return value outside the `int`
    /// every traced syscall returns.
    OutOfRange {
        kind: Kind,
        field: &'static str,
        value: i64,
    },
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Short { len } => write!(f, "record of {len} bytes is shorter than a header"),
            DecodeError::UnknownKind(k) => write!(f, "unknown record kind {k}"),
            DecodeError::Truncated { kind, len, want } => {
                write!(f, "{} record of {len} bytes, expected {want}", kind.name())
            }
            DecodeError::OutOfRange { kind, field, value } => {
                write!(f, "{} record with {field} {value}, which the kernel cannot return", kind.name())
            }
        }
    }
}

/// Read a `T` from the start of `bytes`; the caller checked the length.
fn read<T: Copy>(bytes: &[u8]) -> T {
    debug_assert!(bytes.len() >= size_of::<T>());
    // SAFETY: length checked by the caller; T is a #[repr(C)] plain-data wire type, and
    // read_unaligned copes with the ring buffer's 8-byte (not T-aligned) placement.
    unsafe { bytes.as_ptr().cast::<T>().read_unaligned() }
}

/// One record as the ring buffer holds it; `timebase` reads agent mode's tick-count
/// timestamps (ticks.rs).
pub fn decode(bytes: &[u8], timebase: &Timebase) -> Result<Event, DecodeError> {
    if bytes.len() < size_of::<Header>() {
        return Err(DecodeError::Short { len: bytes.len() });
    }
    let mut header: Header = read(bytes);
    let kind = Kind::from_u32(header.kind).ok_or(DecodeError::UnknownKind(header.kind))?;
    let want = record_size(kind);
    if bytes.len() < want {
        return Err(DecodeError::Truncated { kind, len: bytes.len(), want });
    }
    bound_header(&mut header, kind, timebase)?;
    fn syscall<P: Copy>(kind: Kind, bytes: &[u8], wrap: fn(P) -> Payload) -> Result<Body, DecodeError> {
        let e: SyscallEvent<P> = read(bytes);
        // Every traced syscall returns an `int` (an fd, a count, 0) or -errno: the
        // kernel sign-extends it into the return register, so anything wider is not
        // from the kernel, and `ret as i32` above decode is exact.
        if i32::try_from(e.ret).is_err() {
            return Err(DecodeError::OutOfRange { kind, field: "return value", value: e.ret });
        }
        let mut payload = wrap(e.payload);
        bound_payload(&mut payload);
        Ok(Body::Syscall { ret: e.ret, args: abi::normalise_args(kind, e.args), payload })
    }
    let body = match kind.payload() {
        PayloadShape::None => syscall::<NoPayload>(kind, bytes, |_| Payload::None)?,
        PayloadShape::NewFd => syscall(kind, bytes, Payload::NewFd)?,
        PayloadShape::FdPair => syscall(kind, bytes, Payload::FdPair)?,
        PayloadShape::Addr => syscall(kind, bytes, Payload::Addr)?,
        PayloadShape::Accept => syscall(kind, bytes, Payload::Accept)?,
        PayloadShape::Open => syscall(kind, bytes, Payload::Open)?,
        PayloadShape::Wait => syscall(kind, bytes, Payload::Wait)?,
        PayloadShape::Received => syscall(kind, bytes, Payload::Received)?,
        PayloadShape::Sleep => syscall(kind, bytes, Payload::Sleep)?,
        PayloadShape::Restart => syscall(kind, bytes, Payload::Restart)?,
        PayloadShape::Fork => {
            let mut f: ForkEvent = read(bytes);
            bound_header(&mut f.header, kind, timebase)?;
            f.shares_files = flag(f.shares_files);
            f.is_thread = flag(f.is_thread);
            Body::Fork(f)
        }
        PayloadShape::Exec => {
            let mut e: ExecEvent = read(bytes);
            bound_header(&mut e.header, kind, timebase)?;
            bound_path(&mut e.filename);
            if e.args_len as usize > ARGS_LEN {
                e.args_len = ARGS_LEN as u32;
                e.args_truncated = 1;
            }
            e.args_truncated = flag(e.args_truncated);
            Body::Exec(e)
        }
        PayloadShape::Exit => {
            let mut e: ExitEvent = read(bytes);
            bound_header(&mut e.header, kind, timebase)?;
            e.group_dead = flag(e.group_dead);
            Body::Exit(e)
        }
        PayloadShape::Signal => {
            let mut s: SignalEvent = read(bytes);
            bound_header(&mut s.header, kind, timebase)?;
            s.group = flag(s.group);
            Body::Signal(s)
        }
    };
    Ok(Event { kind, header, body })
}

/// A 0/1 field (the probes write 0 or 1): anything else counts as 1, as `!= 0` would.
fn flag(v: u32) -> u32 {
    (v != 0) as u32
}

/// `comm` is NUL-terminated within TASK_COMM_LEN (include/linux/sched.h); bytes after
/// the NUL are cleared so two records of one thread compare equal. One without a NUL
/// (16 bytes of name) is taken whole, as `comm()` reads it. The timestamp becomes ns
/// here, whichever clock stamped it (ticks.rs).
fn bound_header(h: &mut Header, kind: Kind, timebase: &Timebase) -> Result<(), DecodeError> {
    let ts = h.ts_ns;
    h.ts_ns = timebase.ns_of(ts).ok_or(DecodeError::OutOfRange { kind, field: "timestamp", value: ts as i64 })?;
    if let Some(end) = h.comm.iter().position(|&b| b == 0) {
        h.comm[end..].fill(0);
    }
    debug_assert_eq!(h.comm.len(), COMM_LEN);
    Ok(())
}

/// A path's length counts bytes of its buffer: no more than the buffer, and one that
/// claims more is cut and marked truncated.
fn bound_path(p: &mut Path) {
    if p.len as usize > PATH_LEN {
        p.len = PATH_LEN as u32;
        p.truncated = 1;
    }
    p.truncated = flag(p.truncated);
}

/// A socket address's length counts bytes of its buffer (the probe copies at most
/// `ADDR_LEN`, sizeof(struct sockaddr_storage)).
fn bound_addr(a: &mut SockAddr) {
    a.len = a.len.min(ADDR_LEN as u32);
}

fn bound_object(o: &mut FdObject) {
    o.valid = (o.valid != 0) as u16;
}

fn bound_payload(payload: &mut Payload) {
    match payload {
        Payload::None => {}
        Payload::NewFd(p) => bound_object(&mut p.object),
        Payload::FdPair(p) => p.objects.iter_mut().for_each(bound_object),
        Payload::Addr(p) => bound_addr(&mut p.addr),
        Payload::Accept(p) => {
            bound_object(&mut p.object);
            bound_addr(&mut p.addr);
        }
        Payload::Open(p) => {
            bound_object(&mut p.object);
            bound_path(&mut p.path);
        }
        // poll/ppoll report at most POLL_ENTRIES entries; select's count is 0.
        Payload::Wait(w) => {
            w.nentries = w.nentries.min(POLL_ENTRIES as u32);
            w.has_timeout = flag(w.has_timeout);
        }
        // The count is the probe's, bounded by the arrays it counts.
        Payload::Received(r) => {
            r.nfds = r.nfds.min(RECV_FDS as u32);
            r.objects.iter_mut().for_each(bound_object);
        }
        Payload::Sleep(s) => {
            s.has_timeout = flag(u32::from(s.has_timeout)) as u16;
            s.has_rem = flag(u32::from(s.has_rem)) as u16;
        }
        Payload::Restart(_) => {}
    }
}

impl Event {
    /// The process name, up to its NUL.
    pub fn comm(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.comm_bytes())
    }

    /// The process name's bytes, up to its NUL (task->comm: not necessarily UTF-8).
    pub fn comm_bytes(&self) -> &[u8] {
        let end = self.header.comm.iter().position(|&b| b == 0).unwrap_or(self.header.comm.len());
        &self.header.comm[..end]
    }

    /// The return value of a syscall record.
    pub fn ret(&self) -> Option<i64> {
        match self.body {
            Body::Syscall { ret, .. } => Some(ret),
            _ => None,
        }
    }

    /// The other process a record is about: a signal's target, ptrace's tracee (as the
    /// caller named it: a thread id stands for its process only for a main thread).
    pub fn target(&self) -> Option<u32> {
        match (&self.body, self.kind) {
            (Body::Signal(s), _) => Some(s.target_pid),
            (Body::Syscall { args, .. }, Kind::Ptrace) => Some(args[1] as u32),
            _ => None,
        }
    }

    /// Whether `other` is this record, byte for byte. Evidence drops repeats by it: the
    /// time alone no longer tells two calls apart, since every call in one tick has
    /// the same tick-count timestamp (agent mode, ticks.rs).
    pub fn same_record(&self, other: &Event) -> bool {
        self.kind == other.kind && self.header == other.header && encode(self) == encode(other)
    }

    /// errno of a failed syscall (the kernel returns -errno, errno < 4096).
    pub fn errno(&self) -> Option<i32> {
        match self.ret() {
            Some(ret) if (-4095..0).contains(&ret) => Some(-ret as i32),
            _ => None,
        }
    }
}

/// `event` as the probes write it, the inverse of [`decode`]: for tests and the fuzz
/// target (fuzz/), which build records as events and feed the pipeline their bytes.
pub fn encode(event: &Event) -> Vec<u8> {
    let header = Header { kind: event.kind as u32, ..event.header };
    match &event.body {
        &Body::Syscall { ret, args, payload } => match payload {
            Payload::None => wire_bytes(&SyscallEvent { header, ret, args, payload: NoPayload {} }),
            Payload::NewFd(payload) => wire_bytes(&SyscallEvent { header, ret, args, payload }),
            Payload::FdPair(payload) => wire_bytes(&SyscallEvent { header, ret, args, payload }),
            Payload::Addr(payload) => wire_bytes(&SyscallEvent { header, ret, args, payload }),
            Payload::Accept(payload) => wire_bytes(&SyscallEvent { header, ret, args, payload }),
            Payload::Open(payload) => wire_bytes(&SyscallEvent { header, ret, args, payload }),
            Payload::Wait(payload) => wire_bytes(&SyscallEvent { header, ret, args, payload }),
            Payload::Received(payload) => wire_bytes(&SyscallEvent { header, ret, args, payload }),
            Payload::Sleep(payload) => wire_bytes(&SyscallEvent { header, ret, args, payload }),
            Payload::Restart(payload) => wire_bytes(&SyscallEvent { header, ret, args, payload }),
        },
        Body::Fork(f) => wire_bytes(&ForkEvent { header, ..*f }),
        Body::Exec(e) => wire_bytes(&ExecEvent { header, ..*e }),
        Body::Exit(e) => wire_bytes(&ExitEvent { header, ..*e }),
        Body::Signal(s) => wire_bytes(&SignalEvent { header, ..*s }),
    }
}

/// The bytes of a wire record. Private: only for fdwatch-common's record types, which
/// have no padding (their sizes, asserted there, are the sums of their fields), so
/// every byte is initialised.
fn wire_bytes<T: Copy>(record: &T) -> Vec<u8> {
    // SAFETY: T is one of the #[repr(C)] wire records without padding (above); we only
    // read its bytes, within its size.
    unsafe { std::slice::from_raw_parts((record as *const T).cast::<u8>(), size_of::<T>()) }.to_vec()
}

#[cfg(test)]
mod tests {
    use fdwatch_common::{ADDR_LEN, FdObject, PATH_LEN, Path, PollFd, SockAddr};

    use super::*;

    fn header(kind: Kind) -> Header {
        let mut comm = [0u8; 16];
        comm[..4].copy_from_slice(b"test");
        Header { kind: kind as u32, ppid: 1, ts_ns: 42, pid: 100, tid: 101, cgroup_id: 0x1_0000_0042, comm }
    }

    fn object(ino: u64) -> FdObject {
        FdObject { ino, dev: 8, rdev: 0, file_flags: 1, mode: 0o10600, valid: 1 }
    }

    #[test]
    fn every_kind_round_trips() {
        for kind in Kind::ALL {
            let args = [1, 2, 3, 4, 5, 6];
            let bytes = match kind.payload() {
                PayloadShape::None => {
                    wire_bytes(&SyscallEvent { header: header(kind), ret: -9, args, payload: NoPayload {} })
                }
                PayloadShape::NewFd => wire_bytes(&SyscallEvent {
                    header: header(kind),
                    ret: 3,
                    args,
                    payload: NewFd { object: object(7) },
                }),
                PayloadShape::FdPair => wire_bytes(&SyscallEvent {
                    header: header(kind),
                    ret: 0,
                    args,
                    payload: FdPair { fds: [3, 4], objects: [object(7), object(7)] },
                }),
                PayloadShape::Addr => {
                    let mut addr = SockAddr { len: 16, ..Default::default() };
                    addr.bytes[0] = 2;
                    wire_bytes(&SyscallEvent { header: header(kind), ret: -111, args, payload: AddrPayload { addr } })
                }
                PayloadShape::Accept => wire_bytes(&SyscallEvent {
                    header: header(kind),
                    ret: 5,
                    args,
                    payload: AcceptPayload {
                        object: object(9),
                        addr: SockAddr { len: 2, _pad: 0, bytes: [1; ADDR_LEN] },
                    },
                }),
                PayloadShape::Open => {
                    let mut path = Path { len: 4, truncated: 0, bytes: [0; PATH_LEN] };
                    path.bytes[..4].copy_from_slice(b"/tmp");
                    wire_bytes(&SyscallEvent {
                        header: header(kind),
                        ret: 3,
                        args,
                        payload: OpenPayload { object: object(11), how: [1, 2, 3], tty_index: 4, _pad: 0, path },
                    })
                }
                PayloadShape::Wait => {
                    let mut wait = WaitPayload {
                        timeout_sec: 7,
                        timeout_subsec: 5,
                        has_timeout: 1,
                        nentries: 1,
                        ..Default::default()
                    };
                    wait.fds[0] = PollFd { fd: 9, events: 1, revents: 0x20 };
                    wire_bytes(&SyscallEvent { header: header(kind), ret: 1, args, payload: wait })
                }
                PayloadShape::Fork => wire_bytes(&ForkEvent {
                    header: header(kind),
                    child_pid: 200,
                    child_tid: 200,
                    shares_files: 0,
                    is_thread: 0,
                }),
                PayloadShape::Exec => {
                    wire_bytes(&ExecEvent { header: header(kind), old_tid: 100, ..Default::default() })
                }
                PayloadShape::Exit => wire_bytes(&ExitEvent { header: header(kind), exit_code: 256, group_dead: 1 }),
                PayloadShape::Received => {
                    let mut r = Received { nfds: 2, more: 1, ..Default::default() };
                    r.fds[..2].copy_from_slice(&[0, 7]);
                    r.objects[0] = object(13);
                    wire_bytes(&SyscallEvent { header: header(kind), ret: 5, args, payload: r })
                }
                PayloadShape::Sleep => wire_bytes(&SyscallEvent {
                    header: header(kind),
                    ret: -516,
                    args,
                    payload: SleepPayload {
                        timeout_sec: 5,
                        timeout_nsec: 6,
                        rem_sec: 3,
                        rem_nsec: 4,
                        expires_ns: 99,
                        clockid: 1,
                        has_timeout: 1,
                        has_rem: 1,
                    },
                }),
                PayloadShape::Restart => wire_bytes(&SyscallEvent {
                    header: header(kind),
                    ret: -1,
                    args,
                    payload: RestartPayload { seccomp_mode: 2, seccomp_filters: 1 },
                }),
                PayloadShape::Signal => wire_bytes(&SignalEvent {
                    header: header(kind),
                    sig: 19,
                    result: 0,
                    target_pid: 300,
                    target_tid: 301,
                    group: 1,
                    _pad: 0,
                }),
            };
            assert_eq!(bytes.len(), record_size(kind), "{kind:?}");
            let event = decode(&bytes, &Timebase::default()).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            assert_eq!(event.kind, kind);
            assert_eq!(event.header, header(kind));
            assert_eq!(event.header.cgroup_id, 0x1_0000_0042, "all 64 bits of the cgroup id cross the wire");
            assert_eq!(event.comm(), "test");
            match (kind.payload(), event.body) {
                (PayloadShape::None, Body::Syscall { ret, args: a, payload: Payload::None }) => {
                    assert_eq!((ret, a), (-9, abi::normalise_args(kind, args)));
                    assert_eq!(event.errno(), Some(9));
                }
                (PayloadShape::NewFd, Body::Syscall { payload: Payload::NewFd(p), .. }) => {
                    assert_eq!(p.object, object(7))
                }
                (PayloadShape::FdPair, Body::Syscall { payload: Payload::FdPair(p), .. }) => assert_eq!(p.fds, [3, 4]),
                (PayloadShape::Addr, Body::Syscall { payload: Payload::Addr(p), .. }) => {
                    assert_eq!((p.addr.len, p.addr.bytes[0]), (16, 2))
                }
                (PayloadShape::Accept, Body::Syscall { ret, payload: Payload::Accept(p), .. }) => {
                    assert_eq!((ret, p.object.ino, p.addr.len), (5, 9, 2));
                    assert_eq!(event.errno(), None);
                }
                (PayloadShape::Open, Body::Syscall { payload: Payload::Open(p), .. }) => {
                    assert_eq!((&p.path.bytes[..4], p.how, p.tty_index), (&b"/tmp"[..], [1, 2, 3], 4));
                }
                (PayloadShape::Received, Body::Syscall { payload: Payload::Received(r), .. }) => {
                    assert_eq!((r.nfds, r.more, r.fds[1], r.objects[0].ino), (2, 1, 7, 13));
                }
                (PayloadShape::Sleep, Body::Syscall { ret, payload: Payload::Sleep(p), .. }) => {
                    assert_eq!((ret, p.timeout_sec, p.rem_nsec, p.expires_ns, p.clockid), (-516, 5, 4, 99, 1));
                }
                (PayloadShape::Restart, Body::Syscall { payload: Payload::Restart(p), .. }) => {
                    assert_eq!((p.seccomp_mode, p.seccomp_filters), (2, 1));
                }
                (PayloadShape::Signal, Body::Signal(s)) => {
                    assert_eq!((s.sig, s.target_pid, s.target_tid, s.group), (19, 300, 301, 1))
                }
                (PayloadShape::Wait, Body::Syscall { payload: Payload::Wait(p), .. }) => {
                    assert_eq!((p.timeout_sec, p.fds[0].revents), (7, 0x20));
                }
                (PayloadShape::Fork, Body::Fork(f)) => assert_eq!(f.child_pid, 200),
                (PayloadShape::Exec, Body::Exec(e)) => assert_eq!(e.old_tid, 100),
                (PayloadShape::Exit, Body::Exit(e)) => assert_eq!((e.exit_code, e.group_dead), (256, 1)),
                (shape, body) => panic!("{kind:?}: shape {shape:?} decoded as {body:?}"),
            }
        }
    }

    #[test]
    fn rejects_short_unknown_and_truncated_records() {
        assert_eq!(decode(&[0; 10], &Timebase::default()).unwrap_err(), DecodeError::Short { len: 10 });
        let mut bytes = wire_bytes(&header(Kind::Dup2));
        bytes[0] = 99;
        assert_eq!(decode(&bytes, &Timebase::default()).unwrap_err(), DecodeError::UnknownKind(99));
        let bytes = wire_bytes(&header(Kind::Dup2));
        assert_eq!(
            decode(&bytes, &Timebase::default()).unwrap_err(),
            DecodeError::Truncated { kind: Kind::Dup2, len: 48, want: 104 }
        );
    }

    #[test]
    fn kind_ids_are_stable() {
        for (i, kind) in Kind::ALL.iter().enumerate() {
            assert_eq!(*kind as u32, i as u32 + 1);
            assert_eq!(Kind::from_u32(*kind as u32), Some(*kind));
        }
        assert_eq!(Kind::from_u32(0), None);
        assert_eq!(Kind::from_u32(Kind::ALL.len() as u32 + 1), None);
    }

    fn syscall_bytes<P: Copy>(kind: Kind, ret: i64, args: [u64; 6], payload: P) -> Vec<u8> {
        wire_bytes(&SyscallEvent { header: header(kind), ret, args, payload })
    }

    #[test]
    fn arguments_are_decoded_as_the_kernel_takes_them() {
        // The register says 0x100000001; sys_close(unsigned int fd) closed fd 1.
        let bytes = syscall_bytes(Kind::Close, 0, [0x1_0000_0001, 0xdead, 0xbeef, 1, 2, 3], NoPayload {});
        let Body::Syscall { args, .. } = decode(&bytes, &Timebase::default()).unwrap().body else { panic!() };
        assert_eq!(args, [1, 0, 0, 0, 0, 0]);
        let bytes = syscall_bytes(Kind::Dup2, 1, [0xffff_0000_0003, 0x7_0000_0001, 9, 9, 9, 9], NoPayload {});
        let Body::Syscall { args, .. } = decode(&bytes, &Timebase::default()).unwrap().body else { panic!() };
        assert_eq!(args, [3, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn a_return_value_no_traced_syscall_returns_is_rejected() {
        for ret in [i64::MAX, i64::MIN, 0x1_0000_0001, i32::MIN as i64 - 1] {
            let bytes = syscall_bytes(Kind::Dup, ret, [3, 0, 0, 0, 0, 0], NoPayload {});
            assert_eq!(
                decode(&bytes, &Timebase::default()).unwrap_err(),
                DecodeError::OutOfRange { kind: Kind::Dup, field: "return value", value: ret }
            );
        }
        // fcntl(F_GETOWN) may return a negative process group below -4095: an int.
        let bytes = syscall_bytes(Kind::Fcntl, -5000, [3, 9, 0, 0, 0, 0], NoPayload {});
        assert_eq!(decode(&bytes, &Timebase::default()).unwrap().ret(), Some(-5000));
    }

    #[test]
    fn lengths_and_counts_are_bounded_by_their_buffers() {
        let addr = SockAddr { len: u32::MAX, _pad: 0, bytes: [7; ADDR_LEN] };
        let bytes = syscall_bytes(Kind::Connect, 0, [3, 0, 16, 0, 0, 0], AddrPayload { addr });
        let Body::Syscall { payload: Payload::Addr(p), .. } = decode(&bytes, &Timebase::default()).unwrap().body else {
            panic!()
        };
        assert_eq!(p.addr.len as usize, ADDR_LEN);

        let path = Path { len: 100_000, truncated: 0, bytes: [b'a'; PATH_LEN] };
        let open =
            OpenPayload { object: FdObject { valid: 7, ..object(1) }, how: [0; 3], tty_index: -1, _pad: 0, path };
        let bytes = syscall_bytes(Kind::Openat, 3, [0; 6], open);
        let Body::Syscall { payload: Payload::Open(p), .. } = decode(&bytes, &Timebase::default()).unwrap().body else {
            panic!()
        };
        assert_eq!((p.path.len as usize, p.path.truncated, p.object.valid), (PATH_LEN, 1, 1));

        let wait = WaitPayload { nentries: u32::MAX, has_timeout: 9, ..Default::default() };
        let bytes = syscall_bytes(Kind::Poll, 1, [0, 1, 0, 0, 0, 0], wait);
        let Body::Syscall { payload: Payload::Wait(w), .. } = decode(&bytes, &Timebase::default()).unwrap().body else {
            panic!()
        };
        assert_eq!((w.nentries as usize, w.has_timeout), (POLL_ENTRIES, 1));

        let mut h = header(Kind::Exec);
        h.comm = *b"sh\0garbage-here!";
        let filename = Path { len: 4096, truncated: 0, bytes: [b'/'; PATH_LEN] };
        let exec =
            ExecEvent { header: h, old_tid: 1, filename, args_len: 9999, args_truncated: 5, ..Default::default() };
        let bytes = wire_bytes(&exec);
        let event = decode(&bytes, &Timebase::default()).unwrap();
        assert_eq!(event.header.comm, *b"sh\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
        let Body::Exec(e) = event.body else { panic!() };
        assert_eq!((e.header.comm, e.filename.len as usize, e.filename.truncated), (event.header.comm, PATH_LEN, 1));
        assert_eq!((e.args_len as usize, e.args_truncated), (ARGS_LEN, 1));

        let received = Received { nfds: 1000, ..Default::default() };
        let bytes = syscall_bytes(Kind::Recvmsg, 1, [3, 0, 0, 0, 0, 0], received);
        let Body::Syscall { payload: Payload::Received(r), .. } = decode(&bytes, &Timebase::default()).unwrap().body
        else {
            panic!()
        };
        assert_eq!(r.nfds as usize, RECV_FDS);

        let bytes = wire_bytes(&ExitEvent { header: header(Kind::Exit), exit_code: 0, group_dead: 0x100 });
        assert!(matches!(
            decode(&bytes, &Timebase::default()).unwrap().body,
            Body::Exit(ExitEvent { group_dead: 1, .. })
        ));
    }

    #[test]
    fn encode_writes_what_decode_reads() {
        let close = Event {
            kind: Kind::Close,
            header: header(Kind::Close),
            body: Body::Syscall { ret: 0, args: [5, 0, 0, 0, 0, 0], payload: Payload::None },
        };
        let bytes = encode(&close);
        assert_eq!(bytes.len(), record_size(Kind::Close));
        let back = decode(&bytes, &Timebase::default()).unwrap();
        assert_eq!((back.kind, back.header, back.ret()), (Kind::Close, close.header, Some(0)));
        let exit = Event {
            kind: Kind::Exit,
            header: header(Kind::Exit),
            body: Body::Exit(ExitEvent { header: header(Kind::Exit), exit_code: 9, group_dead: 1 }),
        };
        assert!(matches!(
            decode(&encode(&exit), &Timebase::default()).unwrap().body,
            Body::Exit(ExitEvent { exit_code: 9, .. })
        ));
    }

    #[test]
    fn a_tick_count_timestamp_is_read_through_the_calibration_in_every_header() {
        use fdwatch_common::clock::{ClockMark, TS_JIFFIES};
        // CONFIG_HZ=250, 6.7 h up (ticks.rs).
        let mark = ClockMark { jiffies: 4_300_960_897, ns: 24_274_664_367_157 };
        let timebase = Timebase::calibrated(mark).unwrap();
        let stamped = |kind| Header { ts_ns: (mark.jiffies + 1) | TS_JIFFIES, ..header(kind) };
        let close = Event {
            kind: Kind::Close,
            header: stamped(Kind::Close),
            body: Body::Syscall { ret: 0, args: [5, 0, 0, 0, 0, 0], payload: Payload::None },
        };
        assert_eq!(decode(&encode(&close), &timebase).unwrap().header.ts_ns, mark.ns + 8_000_000);
        let exit = Event {
            kind: Kind::Exit,
            header: stamped(Kind::Exit),
            body: Body::Exit(ExitEvent { header: stamped(Kind::Exit), exit_code: 0, group_dead: 1 }),
        };
        let Body::Exit(e) = decode(&encode(&exit), &timebase).unwrap().body else { panic!() };
        assert_eq!(e.header.ts_ns, mark.ns + 8_000_000, "the body's own header too");
        // Without a calibration the record cannot be placed in time: refused, not misread.
        let ts = stamped(Kind::Close).ts_ns;
        assert_eq!(
            decode(&encode(&close), &Timebase::default()).unwrap_err(),
            DecodeError::OutOfRange { kind: Kind::Close, field: "timestamp", value: ts as i64 }
        );
    }
}
