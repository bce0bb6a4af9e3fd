//! An event's arguments under their man-page names, with values made readable. Both
//! sinks (JSON and text) and, later, alert evidence render from this one description.
use std::borrow::Cow;

use smallvec::{SmallVec, smallvec};

use fdwatch_common::{FdObject, Kind, PollFd, SockAddr, object::Dev};

use crate::value::Value;

use super::{
    event::{Body, Event, Payload},
    names::{
        flags,
        sockaddr::{format_sockaddr, unix_path},
    },
};

/// An event's fields: a handful, kept inline (no allocation per event; most syscalls
/// have one to four arguments).
pub type EventFields = SmallVec<[(&'static str, Value); 4]>;

fn fd(raw: u64) -> Value {
    Value::Int(raw as i32 as i64)
}

fn int(raw: u64) -> Value {
    Value::Int(raw as i64)
}

fn uint32(raw: u64) -> Value {
    Value::Int(raw as u32 as i64)
}

fn text(s: String) -> Value {
    Value::Str(Cow::Owned(s))
}

fn addr(a: &SockAddr) -> Value {
    let len = (a.len as usize).min(a.bytes.len());
    let bytes = &a.bytes[..len];
    // A socket file's path is a file name like `pathname`: kept as bytes.
    if let Some(path) = unix_path(bytes) {
        return Value::Bytes(path.to_vec());
    }
    format_sockaddr(bytes).map_or(Value::Null, text)
}

/// A dirfd: the number, or AT_FDCWD (-100, include/uapi/linux/fcntl.h) by name.
fn dirfd(raw: u64) -> Value {
    match raw as i32 {
        -100 => Value::Str(Cow::Borrowed("AT_FDCWD")),
        fd => Value::Int(fd as i64),
    }
}

fn mode(raw: u64) -> Value {
    text(format!("{:04o}", raw & 0o7777))
}

/// `{ sec, usec|nsec }` the kernel wrote back into the caller's timeout (the time not
/// slept), or null when the caller passed none (wait forever).
fn timeout(has: u32, sec: i64, subsec: i64, unit: &'static str) -> Value {
    if has == 0 { Value::Null } else { Value::Object(vec![("sec", Value::Int(sec)), (unit, Value::Int(subsec))]) }
}

fn poll_fds(entries: &[PollFd], show_revents: bool) -> Value {
    Value::List(
        entries
            .iter()
            .map(|p| {
                let mut o = vec![("fd", Value::Int(p.fd as i64)), ("events", text(flags::poll_events(p.events)))];
                if show_revents {
                    o.push(("revents", text(flags::poll_events(p.revents))));
                }
                Value::Object(o)
            })
            .collect(),
    )
}

/// A `struct timespec` the caller passed or got back, or null when there was none.
fn timespec(has: u16, sec: i64, nsec: i64) -> Value {
    if has == 0 { Value::Null } else { Value::Object(vec![("sec", Value::Int(sec)), ("nsec", Value::Int(nsec))]) }
}

fn dev_text(dev: Dev) -> String {
    format!("{}:{}", dev.major(), dev.minor())
}

/// The object a syscall installed, typed as the fd model and `fd` records type it
/// (pipe, socket, file, tty, null, anon), so events and dumps agree.
fn object(o: &FdObject, kind: Kind) -> Value {
    if o.valid == 0 {
        return Value::Null;
    }
    let type_name = match kind {
        // pidfs inodes look like regular files inside; /proc shows anon_inode:[pidfd].
        Kind::PidfdOpen => "anon",
        _ => o.type_name(),
    };
    let mut fields = vec![("type", Value::Str(Cow::Borrowed(type_name))), ("ino", Value::Int(o.ino as i64))];
    match type_name {
        "pipe" => fields.push(("end", Value::Str(Cow::Borrowed(o.access().name())))),
        "tty" | "null" => fields.push(("rdev", text(dev_text(o.rdev())))),
        _ => fields.push(("dev", text(dev_text(o.dev())))),
    }
    Value::Object(fields)
}

/// The arguments (and for creators, the objects) of `event`, in man-page order.
pub fn describe(event: &Event) -> EventFields {
    let (args, payload, ret) = match &event.body {
        Body::Syscall { args, payload, ret } => (args, payload, *ret),
        Body::Fork(f) => {
            return smallvec![
                ("child_pid", Value::Int(f.child_pid as i64)),
                ("child_tid", Value::Int(f.child_tid as i64)),
                ("thread", Value::Bool(f.is_thread != 0)),
                ("files_shared", Value::Bool(f.shares_files != 0)),
            ];
        }
        Body::Exec(e) => {
            let len = (e.filename.len as usize).min(e.filename.bytes.len());
            let n = (e.args_len as usize).min(e.args.len());
            let argv = split_args(&e.args[..n]);
            let mut f: EventFields = smallvec![
                ("filename", Value::Bytes(e.filename.bytes[..len].to_vec())),
                ("argv", Value::List(argv.iter().map(|a| Value::Str(Cow::Owned(a.to_string()))).collect())),
                ("old_tid", Value::Int(e.old_tid as i64)),
            ];
            if e.args_truncated != 0 {
                f.push(("argv_truncated", Value::Bool(true)));
            }
            return f;
        }
        Body::Exit(e) => return exit_fields(e.exit_code, e.group_dead != 0),
        // "pid" is the record's own field (the sender), so the target is target_pid.
        Body::Signal(s) => {
            return smallvec![
                ("sig", text(flags::signal_name(s.sig as i32))),
                ("target_pid", Value::Int(s.target_pid as i64)),
                ("target_tid", Value::Int(s.target_tid as i64)),
                ("group", Value::Bool(s.group != 0)),
                ("result", text(flags::signal_result(s.result))),
            ];
        }
    };
    let a = args;
    let ok = ret >= 0;
    match (event.kind, payload) {
        (Kind::Dup, _) => smallvec![("oldfd", fd(a[0]))],
        (Kind::Dup2, _) => smallvec![("oldfd", fd(a[0])), ("newfd", fd(a[1]))],
        (Kind::Dup3, _) => {
            smallvec![("oldfd", fd(a[0])), ("newfd", fd(a[1])), ("flags", text(flags::dup3_flags(a[2])))]
        }
        (Kind::Close, _) => smallvec![("fd", fd(a[0]))],
        // Only FIOCLEX / FIONCLEX are traced (ioctl_fionclex-like requests, ioctl(2)).
        (Kind::Ioctl, _) => {
            let request = match a[1] & 0xffff_ffff {
                0x5450 => "FIONCLEX".into(),
                0x5451 => "FIOCLEX".into(),
                other => format!("{other:#x}"),
            };
            smallvec![("fd", fd(a[0])), ("request", text(request))]
        }
        (Kind::CloseRange, _) => {
            smallvec![("first", uint32(a[0])), ("last", uint32(a[1])), ("flags", text(flags::close_range_flags(a[2]))),]
        }
        (Kind::Fcntl, _) => {
            let cmd = a[1] & 0xffff_ffff;
            let arg = if cmd == libc::F_SETFD as u64 { text(flags::fd_flags(a[2])) } else { fd(a[2]) };
            smallvec![("fd", fd(a[0])), ("cmd", text(flags::fcntl_cmd(cmd))), ("arg", arg)]
        }
        // socket(2)'s `type` is named socket_type: "type" is the record's own field.
        (Kind::Socket, Payload::NewFd(p)) => smallvec![
            ("domain", text(flags::socket_domain(a[0]))),
            ("socket_type", text(flags::socket_type(a[1]))),
            ("protocol", text(flags::socket_protocol(a[0], a[2]))),
            ("object", object(&p.object, event.kind)),
        ],
        (Kind::Socketpair, Payload::FdPair(p)) => smallvec![
            ("domain", text(flags::socket_domain(a[0]))),
            ("socket_type", text(flags::socket_type(a[1]))),
            ("protocol", text(flags::socket_protocol(a[0], a[2]))),
            ("sv", pair(ok, p.fds)),
            ("objects", Value::List(p.objects.iter().map(|o| object(o, event.kind)).collect())),
        ],
        (Kind::Pipe | Kind::Pipe2, Payload::FdPair(p)) => {
            let mut f = smallvec![("pipefd", pair(ok, p.fds))];
            if event.kind == Kind::Pipe2 {
                f.push(("flags", text(flags::pipe2_flags(a[1]))));
            }
            f.push(("objects", Value::List(p.objects.iter().map(|o| object(o, event.kind)).collect())));
            f
        }
        (Kind::Open | Kind::Openat | Kind::Openat2 | Kind::Creat, Payload::Open(p)) => {
            let len = (p.path.len as usize).min(p.path.bytes.len());
            let path = Value::Bytes(p.path.bytes[..len].to_vec());
            let mut f = EventFields::new();
            match event.kind {
                Kind::Open => {
                    f.push(("pathname", path));
                    f.push(("flags", text(flags::open_flags(a[1]))));
                    f.push(("mode", mode(a[2])));
                }
                // creat(pathname, mode) is open(pathname, O_CREAT|O_WRONLY|O_TRUNC, mode).
                Kind::Creat => {
                    f.push(("pathname", path));
                    f.push(("mode", mode(a[1])));
                }
                Kind::Openat => {
                    f.push(("dirfd", dirfd(a[0])));
                    f.push(("pathname", path));
                    f.push(("flags", text(flags::open_flags(a[2]))));
                    f.push(("mode", mode(a[3])));
                }
                _ => {
                    f.push(("dirfd", dirfd(a[0])));
                    f.push(("pathname", path));
                    f.push((
                        "how",
                        Value::Object(vec![
                            ("flags", text(flags::open_flags(p.how[0]))),
                            ("mode", mode(p.how[1])),
                            ("resolve", text(flags::resolve_flags(p.how[2]))),
                        ]),
                    ));
                }
            }
            if p.path.truncated != 0 {
                f.push(("pathname_truncated", Value::Bool(true)));
            }
            f.push(("object", object(&p.object, event.kind)));
            if p.tty_index >= 0 {
                f.push(("tty_index", Value::Int(p.tty_index as i64)));
            }
            f
        }
        (Kind::Accept | Kind::Accept4, Payload::Accept(p)) => {
            let mut f = smallvec![("sockfd", fd(a[0])), ("addr", addr(&p.addr))];
            if event.kind == Kind::Accept4 {
                f.push(("flags", text(flags::sock_flags(a[3]))));
            }
            f.push(("object", object(&p.object, event.kind)));
            f
        }
        (Kind::Connect, Payload::Addr(p)) => {
            smallvec![("sockfd", fd(a[0])), ("addr", addr(&p.addr)), ("addrlen", uint32(a[2]))]
        }
        (Kind::Sendto, Payload::Addr(p)) => smallvec![
            ("sockfd", fd(a[0])),
            ("len", int(a[2])),
            ("flags", text(flags::msg_flags(a[3]))),
            ("addr", addr(&p.addr)),
            ("addrlen", uint32(a[5])),
        ],
        (Kind::Sendmsg, Payload::Addr(p)) => {
            smallvec![("sockfd", fd(a[0])), ("flags", text(flags::msg_flags(a[2]))), ("addr", addr(&p.addr)),]
        }
        (Kind::Sendmmsg, Payload::Addr(p)) => smallvec![
            ("sockfd", fd(a[0])),
            ("vlen", uint32(a[2])),
            ("flags", text(flags::msg_flags(a[3]))),
            ("addr", addr(&p.addr)),
        ],
        (Kind::Select | Kind::Pselect6, Payload::Wait(w)) => {
            let unit = if event.kind == Kind::Select { "usec" } else { "nsec" };
            smallvec![
                ("nfds", fd(a[0])),
                ("timeout_left", timeout(w.has_timeout, w.timeout_sec, w.timeout_subsec, unit)),
            ]
        }
        (Kind::Poll | Kind::Ppoll, Payload::Wait(w)) => {
            // poll's timeout is an int of milliseconds; ppoll's is written back.
            let t = if event.kind == Kind::Poll {
                ("timeout", fd(a[2]))
            } else {
                ("timeout_left", timeout(w.has_timeout, w.timeout_sec, w.timeout_subsec, "nsec"))
            };
            let n = (w.nentries as usize).min(w.fds.len());
            smallvec![("nfds", uint32(a[1])), t, ("fds", poll_fds(&w.fds[..n], ok))]
        }
        // ioctl(fd, TIOCGPTPEER, flags) (ioctl_tty(2)): opens the master's slave.
        (Kind::IoctlPtyPeer, Payload::NewFd(p)) => smallvec![
            ("fd", fd(a[0])),
            ("request", Value::Str(Cow::Borrowed("TIOCGPTPEER"))),
            ("flags", text(flags::open_flags(a[2]))),
            ("object", object(&p.object, event.kind)),
        ],
        // recvmsg(sockfd, msg, flags); recvmmsg(sockfd, msgvec, vlen, flags, timeout):
        // the fds SCM_RIGHTS installed (cmsg(3)), and what they are.
        (Kind::Recvmsg | Kind::Recvmmsg, Payload::Received(r)) => {
            let mut f = smallvec![("sockfd", fd(a[0]))];
            if event.kind == Kind::Recvmmsg {
                f.push(("vlen", uint32(a[2])));
                f.push(("flags", text(flags::msg_flags(a[3]))));
            } else {
                f.push(("flags", text(flags::msg_flags(a[2]))));
            }
            let n = (r.nfds as usize).min(r.fds.len());
            f.push(("scm_rights", Value::List(r.fds[..n].iter().map(|&x| Value::Int(x as i64)).collect())));
            f.push(("objects", Value::List(r.objects[..n].iter().map(|o| object(o, event.kind)).collect())));
            if r.more > 0 {
                f.push(("scm_rights_more", Value::Int(r.more as i64)));
            }
            f
        }
        (Kind::Nanosleep, Payload::Sleep(p)) => smallvec![
            ("req", timespec(p.has_timeout, p.timeout_sec, p.timeout_nsec)),
            ("rem", timespec(p.has_rem, p.rem_sec, p.rem_nsec)),
        ],
        (Kind::ClockNanosleep, Payload::Sleep(p)) => smallvec![
            ("clockid", text(flags::clock_id(a[0]))),
            ("flags", text(flags::clock_flags(a[1]))),
            ("request", timespec(p.has_timeout, p.timeout_sec, p.timeout_nsec)),
            ("remain", timespec(p.has_rem, p.rem_sec, p.rem_nsec)),
        ],
        // epoll_wait(epfd, events, maxevents, timeout): timeout in ms; epoll_pwait2's
        // is a struct timespec.
        (Kind::EpollWait | Kind::EpollPwait | Kind::EpollPwait2, Payload::Sleep(p)) => {
            let timeout = if event.kind == Kind::EpollPwait2 {
                timespec(p.has_timeout, p.timeout_sec, p.timeout_nsec)
            } else {
                fd(a[3])
            };
            smallvec![("epfd", fd(a[0])), ("maxevents", fd(a[2])), ("timeout", timeout)]
        }
        // restart_syscall(2) takes no arguments; what decides its fate is the caller's
        // seccomp state (seccomp(2)).
        (Kind::RestartSyscall, Payload::Restart(p)) => smallvec![
            ("seccomp_mode", text(flags::seccomp_mode(p.seccomp_mode))),
            ("seccomp_filters", Value::Int(p.seccomp_filters as i64)),
        ],
        // ptrace(request, pid, addr, data); PTRACE_CONT/DETACH's data is a signal to
        // deliver (0: none).
        (Kind::Ptrace, _) => {
            let request = a[0];
            let mut f = smallvec![("request", text(flags::ptrace_request(request))), ("target_pid", fd(a[1]))];
            if matches!(request, 7 | 17) {
                f.push(("sig", if a[3] == 0 { Value::Int(0) } else { text(flags::signal_name(a[3] as i32)) }));
            }
            f
        }
        (kind, Payload::NewFd(p)) if kind.is_other_fd_creator() => {
            let mut f: EventFields =
                other_fd_creator_args(kind).iter().zip(a).map(|(name, &raw)| (*name, int(raw))).collect();
            f.push(("object", object(&p.object, event.kind)));
            f
        }
        // A kind whose payload shape disagrees cannot come out of decode(); show the
        // raw registers rather than nothing.
        _ => smallvec![("args", Value::List(a.iter().map(|&x| int(x)).collect()))],
    }
}

/// Argument names of the other fd creators, from their man pages; values are shown as
/// numbers (the model only needs the new fd and its object).
fn other_fd_creator_args(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::EpollCreate => &["size"],
        Kind::EpollCreate1 | Kind::InotifyInit1 | Kind::Userfaultfd => &["flags"],
        Kind::Eventfd => &["initval"],
        Kind::Eventfd2 => &["initval", "flags"],
        Kind::TimerfdCreate => &["clockid", "flags"],
        Kind::Signalfd => &["fd", "mask", "sizemask"],
        Kind::Signalfd4 => &["fd", "mask", "sizemask", "flags"],
        Kind::MemfdCreate => &["name", "flags"],
        // "pid" is the record's own field (the caller), so the target is target_pid.
        Kind::PidfdOpen => &["target_pid", "flags"],
        Kind::PidfdGetfd => &["pidfd", "targetfd", "flags"],
        Kind::FanotifyInit => &["flags", "event_f_flags"],
        Kind::PerfEventOpen => &["attr", "target_pid", "cpu", "group_fd", "flags"],
        Kind::IoUringSetup => &["entries", "params"],
        Kind::OpenByHandleAt => &["mount_fd", "handle", "flags"],
        _ => &[],
    }
}

fn pair(ok: bool, fds: [i32; 2]) -> Value {
    if ok { Value::List(vec![Value::Int(fds[0] as i64), Value::Int(fds[1] as i64)]) } else { Value::Null }
}

/// wait(2) status: exited with a code, or killed by a signal.
fn exit_fields(status: u32, group_dead: bool) -> EventFields {
    let mut f = smallvec![("group_dead", Value::Bool(group_dead))];
    let signal = status & 0x7f;
    if signal == 0 {
        f.push(("exit_code", Value::Int(((status >> 8) & 0xff) as i64)));
    } else {
        f.push(("signal", text(signal_name(signal as i32))));
    }
    f
}

fn signal_name(signal: i32) -> String {
    flags::signal_name(signal)
}

/// argv from NUL-separated bytes (an exec record's, /proc/PID/cmdline).
pub fn split_args(bytes: &[u8]) -> Box<[Box<str>]> {
    let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    if bytes.is_empty() {
        return Box::new([]);
    }
    bytes.split(|&b| b == 0).map(|a| String::from_utf8_lossy(a).into()).collect()
}

#[cfg(test)]
mod tests {
    use fdwatch_common::{Header, NewFd, WaitPayload};

    use super::*;

    fn event(kind: Kind, ret: i64, args: [u64; 6], payload: Payload) -> Event {
        Event {
            kind,
            header: Header { kind: kind as u32, ..Default::default() },
            body: Body::Syscall { ret, args, payload },
        }
    }

    /// Every record's own fields: an argument must never repeat one (JSON keys are unique).
    const RECORD_FIELDS: [&str; 11] =
        ["type", "ts", "host", "pid", "tid", "ppid", "comm", "syscall", "ret", "errno", "kind"];

    #[test]
    fn no_argument_name_collides_with_a_record_field() {
        for kind in Kind::ALL {
            let payload = match kind.payload() {
                fdwatch_common::kind::PayloadShape::NewFd => Payload::NewFd(NewFd::default()),
                fdwatch_common::kind::PayloadShape::FdPair => Payload::FdPair(Default::default()),
                fdwatch_common::kind::PayloadShape::Addr => Payload::Addr(Default::default()),
                fdwatch_common::kind::PayloadShape::Accept => Payload::Accept(Default::default()),
                fdwatch_common::kind::PayloadShape::Open => Payload::Open(Default::default()),
                fdwatch_common::kind::PayloadShape::Wait => Payload::Wait(Default::default()),
                fdwatch_common::kind::PayloadShape::Received => Payload::Received(Default::default()),
                fdwatch_common::kind::PayloadShape::Sleep => Payload::Sleep(Default::default()),
                fdwatch_common::kind::PayloadShape::Restart => Payload::Restart(Default::default()),
                _ => Payload::None,
            };
            let fields = describe(&event(kind, 0, [0; 6], payload));
            for (name, _) in &fields {
                assert!(!RECORD_FIELDS.contains(name), "{kind:?} has an argument named {name}");
            }
            // Every syscall kind has its own arguments, not the raw-register fallback.
            if !matches!(kind, Kind::Fork | Kind::Exec | Kind::Exit | Kind::Signal) {
                assert!(fields.first().is_none_or(|(n, _)| *n != "args"), "{kind:?} falls back to raw registers");
            }
        }
    }

    #[test]
    fn the_other_creators_name_exactly_the_arguments_their_syscalls_take() {
        // decode zeroes registers a syscall does not take (abi.rs): a name past them
        // would show a 0 the caller never passed.
        for kind in Kind::ALL.into_iter().filter(|k| k.is_other_fd_creator()) {
            let taken =
                crate::decode::abi::args_of(kind).iter().filter(|a| **a != crate::decode::abi::Arg::None).count();
            assert_eq!(other_fd_creator_args(kind).len(), taken, "{kind:?}");
        }
    }

    #[test]
    fn dup2_names_its_arguments() {
        let e = event(Kind::Dup2, 0, [3, 0, 0, 0, 0, 0], Payload::None);
        assert_eq!(describe(&e).to_vec(), vec![("oldfd", Value::Int(3)), ("newfd", Value::Int(0))]);
    }

    #[test]
    fn negative_fds_stay_negative() {
        let e = event(Kind::Close, -9, [u32::MAX as u64, 0, 0, 0, 0, 0], Payload::None);
        assert_eq!(describe(&e).to_vec(), vec![("fd", Value::Int(-1))]);
    }

    #[test]
    fn socket_shows_names_and_object() {
        let object =
            FdObject { ino: 77, dev: 8, rdev: 0, file_flags: 2, mode: libc::S_IFSOCK as u16 | 0o777, valid: 1 };
        let e = event(Kind::Socket, 3, [2, 2 | 0o2000000, 0, 0, 0, 0], Payload::NewFd(NewFd { object }));
        let d = describe(&e);
        assert_eq!(d[0], ("domain", Value::Str("AF_INET".into())));
        assert_eq!(d[1], ("socket_type", Value::Str("SOCK_DGRAM|SOCK_CLOEXEC".into())));
        let Value::Object(o) = &d[3].1 else { panic!("{d:?}") };
        assert_eq!(o[0], ("type", Value::Str("socket".into())));
        assert_eq!(o[1], ("ino", Value::Int(77)));
    }

    #[test]
    fn poll_shows_revents_only_on_success() {
        let mut w = WaitPayload { nentries: 1, ..Default::default() };
        w.fds[0] = PollFd { fd: 7, events: libc::POLLIN, revents: libc::POLLNVAL };
        let ok = describe(&event(Kind::Poll, 1, [0, 1, 100, 0, 0, 0], Payload::Wait(w)));
        assert_eq!(ok[1], ("timeout", Value::Int(100)));
        let Value::List(fds) = &ok[2].1 else { panic!() };
        assert_eq!(
            fds[0],
            Value::Object(vec![
                ("fd", Value::Int(7)),
                ("events", Value::Str("POLLIN".into())),
                ("revents", Value::Str("POLLNVAL".into())),
            ])
        );
        let failed = describe(&event(Kind::Poll, -4, [0, 1, 100, 0, 0, 0], Payload::Wait(w)));
        let Value::List(fds) = &failed[2].1 else { panic!() };
        assert_eq!(fds[0], Value::Object(vec![("fd", Value::Int(7)), ("events", Value::Str("POLLIN".into()))]));
    }

    #[test]
    fn select_timeout_null_means_forever() {
        let w = WaitPayload { has_timeout: 0, ..Default::default() };
        let d = describe(&event(Kind::Select, 0, [1100, 0, 0, 0, 0, 0], Payload::Wait(w)));
        assert_eq!(d[0], ("nfds", Value::Int(1100)));
        assert_eq!(d[1], ("timeout_left", Value::Null));
        let w = WaitPayload { has_timeout: 1, timeout_sec: 2, timeout_subsec: 5, ..Default::default() };
        let d = describe(&event(Kind::Pselect6, 0, [5, 0, 0, 0, 0, 0], Payload::Wait(w)));
        assert_eq!(d[1], ("timeout_left", Value::Object(vec![("sec", Value::Int(2)), ("nsec", Value::Int(5))])));
    }

    #[test]
    fn exit_status_decodes_code_and_signal() {
        assert_eq!(exit_fields(3 << 8, true)[1], ("exit_code", Value::Int(3)));
        assert_eq!(exit_fields(9, false)[1], ("signal", Value::Str("SIGKILL".into())));
    }

    #[test]
    fn pipe_ends_are_named() {
        let read_end = FdObject {
            ino: 5,
            mode: libc::S_IFIFO as u16 | 0o600,
            file_flags: libc::O_RDONLY as u32,
            valid: 1,
            ..Default::default()
        };
        let Value::Object(o) = object(&read_end, Kind::Pipe) else { panic!() };
        assert_eq!(o[2], ("end", Value::Str("read".into())));
        let write_end = FdObject { file_flags: libc::O_WRONLY as u32, ..read_end };
        let Value::Object(o) = object(&write_end, Kind::Pipe) else { panic!() };
        assert_eq!(o[2], ("end", Value::Str("write".into())));
        assert_eq!(object(&FdObject::default(), Kind::Pipe), Value::Null);
    }
}
