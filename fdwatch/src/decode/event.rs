//! Ring-buffer bytes -> [`Event`]. The only place that interprets wire layouts.
use std::mem::size_of;

use fdwatch_common::{
    AcceptPayload, AddrPayload, ExecEvent, ExitEvent, FdPair, ForkEvent, Header, Kind, NewFd, NoPayload, OpenPayload,
    SyscallEvent, WaitPayload, kind::PayloadShape, record_size,
};

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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    Short { len: usize },
    UnknownKind(u32),
    Truncated { kind: Kind, len: usize, want: usize },
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Short { len } => write!(f, "record of {len} bytes is shorter than a header"),
            DecodeError::UnknownKind(k) => write!(f, "unknown record kind {k}"),
            DecodeError::Truncated { kind, len, want } => {
                write!(f, "{} record of {len} bytes, expected {want}", kind.name())
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

pub fn decode(bytes: &[u8]) -> Result<Event, DecodeError> {
    if bytes.len() < size_of::<Header>() {
        return Err(DecodeError::Short { len: bytes.len() });
    }
    let header: Header = read(bytes);
    let kind = Kind::from_u32(header.kind).ok_or(DecodeError::UnknownKind(header.kind))?;
    let want = record_size(kind);
    if bytes.len() < want {
        return Err(DecodeError::Truncated { kind, len: bytes.len(), want });
    }
    fn syscall<P: Copy>(bytes: &[u8], wrap: fn(P) -> Payload) -> Body {
        let e: SyscallEvent<P> = read(bytes);
        Body::Syscall { ret: e.ret, args: e.args, payload: wrap(e.payload) }
    }
    let body = match kind.payload() {
        PayloadShape::None => syscall::<NoPayload>(bytes, |_| Payload::None),
        PayloadShape::NewFd => syscall(bytes, Payload::NewFd),
        PayloadShape::FdPair => syscall(bytes, Payload::FdPair),
        PayloadShape::Addr => syscall(bytes, Payload::Addr),
        PayloadShape::Accept => syscall(bytes, Payload::Accept),
        PayloadShape::Open => syscall(bytes, Payload::Open),
        PayloadShape::Wait => syscall(bytes, Payload::Wait),
        PayloadShape::Fork => Body::Fork(read(bytes)),
        PayloadShape::Exec => Body::Exec(read(bytes)),
        PayloadShape::Exit => Body::Exit(read(bytes)),
    };
    Ok(Event { kind, header, body })
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

    /// errno of a failed syscall (the kernel returns -errno, errno < 4096).
    pub fn errno(&self) -> Option<i32> {
        match self.ret() {
            Some(ret) if (-4095..0).contains(&ret) => Some(-ret as i32),
            _ => None,
        }
    }
}

/// The wire bytes of a record, as the probes write them (for tests and fuzzing).
#[cfg(test)]
pub fn encode<T: Copy>(record: &T) -> Vec<u8> {
    // SAFETY: T is a #[repr(C)] wire type; we only view its bytes.
    unsafe { std::slice::from_raw_parts((record as *const T).cast::<u8>(), size_of::<T>()) }.to_vec()
}

#[cfg(test)]
mod tests {
    use fdwatch_common::{ADDR_LEN, FdObject, PATH_LEN, Path, PollFd, SockAddr};

    use super::*;

    fn header(kind: Kind) -> Header {
        let mut comm = [0u8; 16];
        comm[..4].copy_from_slice(b"test");
        Header { kind: kind as u32, cpu: 1, ts_ns: 42, pid: 100, tid: 101, ppid: 1, _pad: 0, comm }
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
                    encode(&SyscallEvent { header: header(kind), ret: -9, args, payload: NoPayload {} })
                }
                PayloadShape::NewFd => {
                    encode(&SyscallEvent { header: header(kind), ret: 3, args, payload: NewFd { object: object(7) } })
                }
                PayloadShape::FdPair => encode(&SyscallEvent {
                    header: header(kind),
                    ret: 0,
                    args,
                    payload: FdPair { fds: [3, 4], objects: [object(7), object(7)] },
                }),
                PayloadShape::Addr => {
                    let mut addr = SockAddr { len: 16, ..Default::default() };
                    addr.bytes[0] = 2;
                    encode(&SyscallEvent { header: header(kind), ret: -111, args, payload: AddrPayload { addr } })
                }
                PayloadShape::Accept => encode(&SyscallEvent {
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
                    encode(&SyscallEvent {
                        header: header(kind),
                        ret: 3,
                        args,
                        payload: OpenPayload { object: object(11), how: [1, 2, 3], path },
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
                    encode(&SyscallEvent { header: header(kind), ret: 1, args, payload: wait })
                }
                PayloadShape::Fork => encode(&ForkEvent {
                    header: header(kind),
                    child_pid: 200,
                    child_tid: 200,
                    shares_files: 0,
                    is_thread: 0,
                }),
                PayloadShape::Exec => {
                    encode(&ExecEvent { header: header(kind), old_tid: 100, _pad: 0, filename: Path::default() })
                }
                PayloadShape::Exit => encode(&ExitEvent { header: header(kind), exit_code: 256, group_dead: 1 }),
            };
            assert_eq!(bytes.len(), record_size(kind), "{kind:?}");
            let event = decode(&bytes).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            assert_eq!(event.kind, kind);
            assert_eq!(event.header, header(kind));
            assert_eq!(event.comm(), "test");
            match (kind.payload(), event.body) {
                (PayloadShape::None, Body::Syscall { ret, args: a, payload: Payload::None }) => {
                    assert_eq!((ret, a), (-9, args));
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
                    assert_eq!((&p.path.bytes[..4], p.how), (&b"/tmp"[..], [1, 2, 3]));
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
        assert_eq!(decode(&[0; 10]).unwrap_err(), DecodeError::Short { len: 10 });
        let mut bytes = encode(&header(Kind::Dup2));
        bytes[0] = 99;
        assert_eq!(decode(&bytes).unwrap_err(), DecodeError::UnknownKind(99));
        let bytes = encode(&header(Kind::Dup2));
        assert_eq!(decode(&bytes).unwrap_err(), DecodeError::Truncated { kind: Kind::Dup2, len: 48, want: 104 });
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
}
