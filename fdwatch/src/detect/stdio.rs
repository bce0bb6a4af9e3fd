//! stdio_hijack: fds 0, 1 and 2 are where a program, and every program it runs, reads
//! its input and writes its output and errors. Three shapes go wrong:
//! - a socket dup2'd onto them: a reverse shell's shape (`bash -i >& /dev/tcp/...`);
//! - fd 0/1/2 closed, then a socket, anonymous inode or file given that number by a
//!   creating call: the kernel hands out the lowest free fd (open(2): "the lowest-
//!   numbered file descriptor not currently open"), so the program's own object is now
//!   also its stdio, and whatever writes to stderr writes into it;
//! - such an object then overwritten by dup2/dup3 (the statsd incident): the code still
//!   using "its" fd now talks to something else and fails with EISCONN, ENOTSOCK, ...
//!
//! Pipes, files, ttys and /dev/null put there by dup2 are what shells and daemons do
//! all day, and are not alerts.
use rustc_hash::FxHashMap as HashMap;

use fdwatch_common::Kind;

use super::{
    Config,
    alert::{Alert, AlertKind, Evidence, Severity},
    explain,
    outbox::{FdMatch, Key, Outbox, Seen, SymptomRule},
};
use crate::{
    clock::Clock,
    decode::{Body, Event, Payload},
    model::{Access, FdEntry, Model, Object, ObjectKind, Pid, Step},
    value::Value,
};

const SOCKET_ONTO: u8 = 0;
const LANDED: u8 = 1;
const CLOBBERED: u8 = 2;

/// What a call on an fd that now refers to the wrong object fails with (incident 1:
/// sendto() with an address on a connected stream socket gives EISCONN; a non-socket
/// gives ENOTSOCK; a read-only file EBADF; ...).
const SYMPTOMS: &[i32] = &[
    libc::EISCONN,
    libc::ENOTSOCK,
    libc::EBADF,
    libc::EINVAL,
    libc::ENOTCONN,
    libc::EDESTADDRREQ,
    libc::EOPNOTSUPP,
    libc::EAGAIN,
    libc::EPIPE,
    libc::ECONNREFUSED,
    libc::EAFNOSUPPORT,
];

const CLOSE_RANGE_CLOEXEC: u64 = 1 << 2;

#[derive(Default)]
pub struct Stdio {
    /// The call that last closed fd 0, 1 or 2 of a process: the first link of a
    /// landed_on_stdio chain.
    closes: HashMap<Pid, [Option<Event>; 3]>,
}

fn ok(event: &Event) -> Option<&[u64; 6]> {
    match &event.body {
        Body::Syscall { ret, args, .. } if *ret >= 0 => Some(args),
        _ => None,
    }
}

fn is_stdio(fd: i32) -> bool {
    (0..=2).contains(&fd)
}

/// Objects that have no business on stdio fd `fd` unless put there on purpose.
/// A file opened the way the stdio number is used is a shell's `close(1); open(f)`
/// redirection (bash does exactly that for `> f`); a file opened the other way, say
/// a database opened read-write that got fd 1, is where stray printfs will land.
fn foreign(fd: i32, entry: &FdEntry, o: &Object) -> bool {
    match o.kind {
        ObjectKind::Socket { .. } | ObjectKind::Anon { .. } | ObjectKind::Other { .. } => true,
        ObjectKind::File { .. } => match entry.access {
            Access::Read => fd != 0,
            Access::Write => fd == 0,
            Access::ReadWrite => true,
        },
        ObjectKind::Pipe | ObjectKind::Tty { .. } | ObjectKind::DevNull => false,
    }
}

/// A foreign object created on this very number (not moved here by a dup), kept
/// across forks and execs: it landed on a freed stdio number. A history cut short
/// (`Elided`) may have hidden a dup, so it does not count as landed.
fn landed(fd: i32, entry: &FdEntry, o: &Object) -> bool {
    let chain = entry.origin.chain();
    foreign(fd, entry, o)
        && chain.first().is_some_and(|s| matches!(s.step, Step::Created(_)))
        && !chain.iter().any(|s| matches!(s.step, Step::Dup { .. } | Step::Elided { .. }))
}

fn allowed(model: &Model, config: &Config, pid: Pid) -> bool {
    let Some(p) = model.process(pid) else { return false };
    config.allow.iter().any(|name| {
        if name.contains('/') { p.exe.as_deref() == Some(name.as_str()) } else { &*p.comm == name.as_str() }
    })
}

fn stdio_list(fds: &[i32]) -> String {
    explain::list(&fds.iter().map(|&fd| explain::stdio_name(fd)).collect::<Vec<_>>())
}

fn fds_value(fds: &[i32]) -> Value {
    Value::List(fds.iter().map(|&fd| Value::Int(fd as i64)).collect())
}

fn fds_of(alert: &Alert) -> Vec<i32> {
    match alert.fields.iter().find(|(k, _)| *k == "fds") {
        Some((_, Value::List(items))) => {
            items.iter().filter_map(|v| if let Value::Int(i) = v { Some(*i as i32) } else { None }).collect()
        }
        _ => Vec::new(),
    }
}

fn set_field(alert: &mut Alert, name: &'static str, value: Value) {
    match alert.fields.iter_mut().find(|(k, _)| *k == name) {
        Some((_, v)) => *v = value,
        None => alert.fields.push((name, value)),
    }
}

fn new_alert(
    model: &Model,
    event: &Event,
    severity: Severity,
    message: String,
    fields: Vec<(&'static str, Value)>,
) -> Alert {
    let pid = event.header.pid;
    let process = model.process(pid);
    Alert {
        id: 0,
        kind: AlertKind::StdioHijack,
        severity,
        pid,
        comm: process.map_or_else(|| event.comm().into_owned(), |p| p.comm.to_string()),
        exe: process.and_then(|p| p.exe.as_ref().map(|e| e.to_string())),
        message,
        evidence: Vec::new(),
        fields,
        ts_ns: event.header.ts_ns,
    }
}

fn object_value(entry: &FdEntry, o: &Object) -> Value {
    crate::model::describe::object(o, entry, None)
}

fn onto_message(pid: Pid, comm: &str, what: &str, fds: &[i32], kind: Kind) -> String {
    format!(
        "pid {pid} ({comm}) put {what} on its {} with {}(): it, and every program it runs, now reads input from and \
         writes output to the socket's peer (a reverse shell looks like this; inetd-style services do it by design, \
         see --allow)",
        stdio_list(fds),
        kind.name()
    )
}

/// Landings are one alert per process and stdio number: a program started with its
/// stdout closed lands every file it opens there.
fn landed_key(pid: Pid, fd: i32) -> Key {
    Key { kind: AlertKind::StdioHijack, pid, object: fd as u64, variant: LANDED }
}

/// Whether `entry` is a copy of one of the process's own stdio fds (bash saves fd 2
/// with F_DUPFD before a redirection and dup2s it back after): putting it back is
/// no new hijack.
fn saved_stdio(entry: &FdEntry, pid: Pid) -> bool {
    entry.origin.chain().iter().any(|o| o.pid == pid && matches!(o.step, Step::Dup { from_fd: 0..=2, .. }))
}

fn rule(pid: Pid, fds: Vec<i32>) -> Option<SymptomRule> {
    Some(SymptomRule { pid, fds: FdMatch::AnyOf(fds), errnos: SYMPTOMS })
}

impl Stdio {
    /// Before the model applies `event`: what is about to be overwritten or closed.
    pub fn before(&mut self, model: &Model, clock: &Clock, config: &Config, outbox: &mut Outbox, event: &Event) {
        let pid = event.header.pid;
        match event.kind {
            Kind::Dup2 | Kind::Dup3 => {
                let Some(a) = ok(event) else { return };
                let (old, new) = (a[0] as i32, a[1] as i32);
                if is_stdio(new) && old != new {
                    self.dup_onto(model, clock, config, outbox, event, old, new);
                }
            }
            Kind::Close => {
                // The fd as close(2) took it: an `unsigned int`, the register's low 32
                // bits (decode/abi.rs). Indexing with the register itself let
                // close(0x100000001), which closes stdout, index far past the three.
                let Some(fd) = ok(event).map(|a| a[0] as i32).filter(|&fd| is_stdio(fd)) else { return };
                self.record_close(pid, fd, event);
                // Opened and closed again within the window (a program started with
                // stdout closed reading its libraries): nothing could use it.
                outbox.cancel(landed_key(pid, fd));
            }
            Kind::CloseRange => {
                let Some(a) = ok(event) else { return };
                if a[2] & CLOSE_RANGE_CLOEXEC == 0 {
                    for fd in (a[0] as u32).min(3)..=(a[1] as u32).min(2) {
                        self.record_close(pid, fd as i32, event);
                        outbox.cancel(landed_key(pid, fd as i32));
                    }
                }
            }
            Kind::Exit => {
                self.closes.remove(&pid);
            }
            _ => {}
        }
    }

    /// Remember `event` as the last close of stdio fd `fd` of `pid`.
    fn record_close(&mut self, pid: Pid, fd: i32, event: &Event) {
        if let Some(slot) = usize::try_from(fd).ok().and_then(|i| self.closes.entry(pid).or_default().get_mut(i)) {
            *slot = Some(*event);
        }
    }

    /// The last close of stdio fd `fd` of `pid`, if one was seen.
    fn last_close(&self, pid: Pid, fd: i32) -> Option<Event> {
        *self.closes.get(&pid)?.get(usize::try_from(fd).ok()?)?
    }

    /// After the model applied `event`: what landed on a stdio number.
    pub fn after(&mut self, model: &Model, clock: &Clock, config: &Config, outbox: &mut Outbox, event: &Event) {
        let creates = matches!(
            event.kind,
            Kind::Socket
                | Kind::Socketpair
                | Kind::Open
                | Kind::Openat
                | Kind::Openat2
                | Kind::Creat
                | Kind::Accept
                | Kind::Accept4
        ) || event.kind.is_other_fd_creator();
        if !creates {
            return;
        }
        let Body::Syscall { ret, payload, .. } = &event.body else { return };
        if *ret < 0 {
            return;
        }
        let fds = match payload {
            Payload::FdPair(p) => p.fds.to_vec(),
            _ => vec![*ret as i32],
        };
        for fd in fds.into_iter().filter(|&fd| is_stdio(fd)) {
            self.landed_on(model, clock, config, outbox, event, fd);
        }
    }

    fn landed_on(&self, model: &Model, clock: &Clock, config: &Config, outbox: &mut Outbox, event: &Event, fd: i32) {
        let pid = event.header.pid;
        let Some((entry, o)) = model.fd(pid, fd) else { return };
        if !foreign(fd, entry, o) || allowed(model, config, pid) {
            return;
        }
        let key = landed_key(pid, fd);
        if outbox.repeat(key) {
            return;
        }
        let what = explain::object(o);
        let harm = if fd == 0 {
            "whatever reads stdin now reads from it"
        } else {
            "whatever writes to it as stdout or stderr (error messages, a library's logging, programs it runs) now writes into it"
        };
        let message = format!(
            "pid {pid} ({}) got {what} as its {} from {}(), because fd {fd} had been closed: {harm}, and a later dup2 onto \
             fd {fd} would silently replace it",
            model.process(pid).map_or_else(|| event.comm().into_owned(), |p| p.comm.to_string()),
            explain::stdio_name(fd),
            event.kind.name()
        );
        let fields = vec![
            ("shape", Value::Str("landed_on_stdio".into())),
            ("fds", fds_value(&[fd])),
            ("object", object_value(entry, o)),
        ];
        let mut alert = new_alert(model, event, Severity::Warning, message, fields);
        if let Some(close) = self.last_close(pid, fd) {
            alert.evidence.push(Evidence::Event(close));
        }
        alert.evidence.push(Evidence::Event(*event));
        let text =
            format!("fd {fd} of {} is {what}, {}", explain::who(model, pid), explain::story(model, &entry.origin));
        alert.evidence.push(Evidence::Fact(explain::entry_fact(clock, pid, fd, entry, o, text)));
        outbox.raise(key, alert, rule(pid, vec![fd]));
    }

    #[allow(clippy::too_many_arguments)]
    fn dup_onto(
        &self,
        model: &Model,
        clock: &Clock,
        config: &Config,
        outbox: &mut Outbox,
        event: &Event,
        old: i32,
        new: i32,
    ) {
        let pid = event.header.pid;
        let Some((src_entry, src)) = model.fd(pid, old) else { return };
        let dst = model.fd(pid, new);
        if let Some((dst_entry, dst)) = dst {
            // Already there (bash restoring a saved stderr that was the socket anyway).
            if dst_entry.object == src_entry.object {
                return;
            }
            if landed(new, dst_entry, dst) {
                self.clobbered(model, clock, outbox, event, new, (dst_entry, dst), (old, src_entry, src));
                return;
            }
        }
        if !matches!(src.kind, ObjectKind::Socket { .. }) || saved_stdio(src_entry, pid) || allowed(model, config, pid)
        {
            return;
        }
        let key = Key { kind: AlertKind::StdioHijack, pid, object: src_entry.object.0, variant: SOCKET_ONTO };
        let what = explain::object(src);
        match outbox.seen(key) {
            Seen::Repeated => {}
            // `bash -i >& /dev/tcp/h/p 0>&1` is three dup2s: one alert naming all three.
            Seen::Pending(alert) => {
                let mut fds = fds_of(alert);
                if !fds.contains(&new) {
                    fds.push(new);
                    fds.sort_unstable();
                }
                alert.message = onto_message(pid, &alert.comm, &what, &fds, event.kind);
                set_field(alert, "fds", fds_value(&fds));
                alert.evidence.push(Evidence::Event(*event));
            }
            Seen::New => {
                let comm = model.process(pid).map_or_else(|| event.comm().into_owned(), |p| p.comm.to_string());
                let fields = vec![
                    ("shape", Value::Str("socket_onto_stdio".into())),
                    ("fds", fds_value(&[new])),
                    ("object", object_value(src_entry, src)),
                ];
                let mut alert = new_alert(
                    model,
                    event,
                    Severity::Critical,
                    onto_message(pid, &comm, &what, &[new], event.kind),
                    fields,
                );
                let text = format!(
                    "fd {old} of {} is {what}, {}",
                    explain::who(model, pid),
                    explain::story(model, &src_entry.origin)
                );
                alert.evidence.push(Evidence::Fact(explain::entry_fact(clock, pid, old, src_entry, src, text)));
                alert.evidence.push(Evidence::Event(*event));
                outbox.raise(key, alert, rule(pid, vec![0, 1, 2]));
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn clobbered(
        &self,
        model: &Model,
        clock: &Clock,
        outbox: &mut Outbox,
        event: &Event,
        fd: i32,
        (dst_entry, dst): (&FdEntry, &Object),
        (old, src_entry, src): (i32, &FdEntry, &Object),
    ) {
        let pid = event.header.pid;
        let comm = model.process(pid).map_or_else(|| event.comm().into_owned(), |p| p.comm.to_string());
        let (was, now) = (explain::object(dst), explain::object(src));
        let created = match dst_entry.origin.chain().first().map(|s| s.step) {
            Some(Step::Created(kind)) => format!("{}()", kind.name()),
            _ => "a creating call".to_owned(),
        };
        let message = format!(
            "pid {pid} ({comm}) overwrote its {} with {}(): fd {fd} held {was}, which {created} had put there after fd \
             {fd} was closed and which its code still uses as fd {fd}; those calls now reach {now} instead, and fail or \
             talk to the wrong peer",
            explain::stdio_name(fd),
            event.kind.name()
        );
        let now_fact = {
            let text = format!(
                "fd {old} of {} is {now}, {}",
                explain::who(model, pid),
                explain::story(model, &src_entry.origin)
            );
            explain::entry_fact(clock, pid, old, src_entry, src, text)
        };
        let key = Key { kind: AlertKind::StdioHijack, pid, object: dst_entry.object.0, variant: CLOBBERED };
        // Still waiting as a landing warning: it becomes this alert, one chain from the
        // close to the symptoms (and closing fd 0 later no longer cancels it).
        if let Some(alert) = outbox.rekey(landed_key(pid, fd), key) {
            alert.severity = Severity::Critical;
            alert.message = message;
            set_field(alert, "shape", Value::Str("stdio_clobbered".into()));
            set_field(alert, "object", object_value(src_entry, src));
            set_field(alert, "clobbered", object_value(dst_entry, dst));
            alert.evidence.push(Evidence::Fact(now_fact));
            alert.evidence.push(Evidence::Event(*event));
            return;
        }
        if outbox.repeat(key) {
            return;
        }
        let fields = vec![
            ("shape", Value::Str("stdio_clobbered".into())),
            ("fds", fds_value(&[fd])),
            ("object", object_value(src_entry, src)),
            ("clobbered", object_value(dst_entry, dst)),
        ];
        let mut alert = new_alert(model, event, Severity::Critical, message, fields);
        if let Some(close) = self.last_close(pid, fd) {
            alert.evidence.push(Evidence::Event(close));
        }
        let text =
            format!("fd {fd} of {} was {was}, {}", explain::who(model, pid), explain::story(model, &dst_entry.origin));
        alert.evidence.push(Evidence::Fact(explain::entry_fact(clock, pid, fd, dst_entry, dst, text)));
        alert.evidence.push(Evidence::Fact(now_fact));
        alert.evidence.push(Evidence::Event(*event));
        outbox.raise(key, alert, rule(pid, vec![fd]));
    }
}
