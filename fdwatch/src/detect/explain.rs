//! Model facts in words: what an object is, and how an fd came to be where it is, the
//! way a person would tell it after reading /proc and strace.

use super::alert::Fact;
use crate::{
    clock::Clock,
    decode::names::flags,
    model::{FdEntry, Model, Object, ObjectKind, Origin, Pid, Step, describe},
    value::Value,
};

/// `pid 4711 (monitor)`, or `pid 4711` when the model does not know its name.
pub fn who(model: &Model, pid: Pid) -> String {
    who_at(model, pid, u64::MAX)
}

/// `pid 4711 (monitor)` for the process `pid` was at `ts_ns`, even if it has exited
/// since (a step of an fd's history).
pub fn who_at(model: &Model, pid: Pid, ts_ns: u64) -> String {
    match model.comm_at(pid, ts_ns) {
        Some(comm) => format!("pid {pid} ({comm})"),
        None => format!("pid {pid}"),
    }
}

/// `an AF_INET SOCK_STREAM socket connected to 127.0.0.1:4444 (socket:[123])`.
pub fn object(o: &Object) -> String {
    match &o.kind {
        ObjectKind::Socket { domain, sock_type, peer, .. } => {
            let mut s = if *domain != 0 {
                format!("an {} {} socket", flags::socket_domain(*domain as u64), flags::socket_type(*sock_type as u64))
            } else {
                "a socket".to_owned()
            };
            if let Some(peer) = peer {
                s.push_str(&format!(" connected to {peer}"));
            }
            format!("{s} ({})", o.proc_name())
        }
        ObjectKind::Pipe => o.proc_name(),
        ObjectKind::File { path } => format!("the file {path}"),
        ObjectKind::Tty { path } if path.starts_with("/dev/pts/") => format!("the pseudo-terminal {path}"),
        ObjectKind::Tty { path } => format!("the terminal {path}"),
        ObjectKind::PtyMaster { index: Some(n) } => format!("the master of the pseudo-terminal /dev/pts/{n}"),
        ObjectKind::PtyMaster { .. } => "a pseudo-terminal master (/dev/ptmx)".to_owned(),
        ObjectKind::DevNull => "/dev/null".to_owned(),
        ObjectKind::Anon { .. } | ObjectKind::Other { .. } => o.proc_name(),
    }
}

/// How an fd got where it is, step by step in a few words: `created by socket() in
/// pid 7 (monitor), inherited from pid 7 (monitor), kept across exec without
/// CLOEXEC`. Repeated execs are told once; a long chain keeps its ends.
pub fn story(model: &Model, origin: &Origin) -> String {
    let mut phrases: Vec<String> = Vec::new();
    for o in origin.chain() {
        let phrase = match o.step {
            Step::Created(kind) => format!("created by {}() in {}", kind.name(), who_at(model, o.pid, o.ts_ns)),
            Step::PresentAtStart => "open when fdwatch started".to_owned(),
            Step::Resynced => "found in /proc".to_owned(),
            Step::Dup { kind, from_fd } => format!("moved from fd {from_fd} by {}()", kind.name()),
            Step::Inherited { from_pid } => format!("inherited from {}", who_at(model, from_pid, o.ts_ns)),
            Step::SurvivedExec => "kept across exec without CLOEXEC".to_owned(),
            Step::Elided { steps } => format!("{steps} more steps"),
            Step::Received { kind, via_fd, from_pid: 0 } => {
                format!(
                    "received over a unix socket (fd {via_fd}) by {}() in {}",
                    kind.name(),
                    who_at(model, o.pid, o.ts_ns)
                )
            }
            Step::Received { kind, via_fd, from_pid } => format!(
                "sent by {} and received over a unix socket (fd {via_fd}) by {}() in {}",
                who_at(model, from_pid, o.ts_ns),
                kind.name(),
                who_at(model, o.pid, o.ts_ns)
            ),
        };
        if phrases.last() != Some(&phrase) {
            phrases.push(phrase);
        }
    }
    if phrases.len() > 6 {
        let tail = phrases.split_off(phrases.len() - 3);
        phrases.truncate(2);
        phrases.push("...".to_owned());
        phrases.extend(tail);
    }
    phrases.join(", ")
}

/// A fact about fd `fd` of `pid`: the sentence, and the object and origin chain as
/// structured fields. `None` if the model does not know the fd.
pub fn fd_fact(model: &Model, clock: &Clock, pid: Pid, fd: i32, text: String) -> Option<Fact> {
    let (entry, obj) = model.fd(pid, fd)?;
    Some(entry_fact(clock, pid, fd, entry, obj, text))
}

pub fn entry_fact(clock: &Clock, pid: Pid, fd: i32, entry: &FdEntry, obj: &Object, text: String) -> Fact {
    Fact {
        ts_ns: entry.origin.last().ts_ns,
        pid,
        text,
        fields: vec![
            ("fd", Value::Int(fd as i64)),
            ("object", describe::object(obj, entry, None)),
            ("origin", describe::origin(entry, clock)),
        ],
    }
}

/// Readable duration: `850 ms`, `12.3 s`.
pub fn duration(ns: u64) -> String {
    if ns < 1_000_000_000 { format!("{} ms", ns / 1_000_000) } else { format!("{:.1} s", ns as f64 / 1e9) }
}

/// `0`, `0 and 1`, `0, 1 and 2`.
pub fn list<T: std::fmt::Display>(items: &[T]) -> String {
    let words: Vec<String> = items.iter().map(ToString::to_string).collect();
    match words.len() {
        0 => String::new(),
        1 => words[0].clone(),
        n => format!("{} and {}", words[..n - 1].join(", "), words[n - 1]),
    }
}

/// `stdin`, `stdout`, `stderr` for fds 0, 1, 2.
pub fn stdio_name(fd: i32) -> String {
    match fd {
        0 => "stdin (fd 0)".to_owned(),
        1 => "stdout (fd 1)".to_owned(),
        2 => "stderr (fd 2)".to_owned(),
        n => format!("fd {n}"),
    }
}
