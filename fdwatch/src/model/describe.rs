//! Model facts as readable values, for `fd` records, `fdwatch fds`, and alert evidence.
use std::borrow::Cow;

use super::{FdEntry, Model, Object, ObjectKind, Pid, Step, StepAt};
use crate::{clock::Clock, decode::names::flags, value::Value};

fn s(text: impl Into<String>) -> Value {
    Value::Str(Cow::Owned(text.into()))
}

/// `name` overrides the object's own (a file's current path, as /proc gave its bytes).
pub fn object(object: &Object, entry: &FdEntry, name: Option<Vec<u8>>) -> Value {
    let mut f = vec![
        ("type", Value::Str(Cow::Borrowed(object.kind.type_name()))),
        ("name", name.map_or_else(|| s(object.proc_name()), Value::Bytes)),
        ("ino", Value::Int(object.ino as i64)),
        ("access", Value::Str(Cow::Borrowed(entry.access.name()))),
    ];
    if let Some(index) = object.kind.pty_index() {
        f.push(("tty_index", Value::Int(index as i64)));
    }
    if let ObjectKind::Socket { domain, sock_type, protocol, peer } = &object.kind {
        if *domain != 0 {
            f.push(("domain", s(flags::socket_domain(*domain as u64))));
            f.push(("socket_type", s(flags::socket_type(*sock_type as u64))));
            f.push(("protocol", s(flags::socket_protocol(*domain as u64, *protocol as u64))));
        }
        if let Some(peer) = peer {
            f.push(("peer", s(peer.to_string())));
        }
    }
    Value::Object(f)
}

fn step(origin: &StepAt, clock: &Clock) -> Value {
    let mut f: Vec<(&'static str, Value)> = Vec::with_capacity(5);
    match origin.step {
        Step::PresentAtStart => f.push(("step", s("present_at_start"))),
        Step::Resynced => f.push(("step", s("resynced"))),
        Step::Created(kind) => {
            f.push(("step", s("created")));
            f.push(("syscall", Value::Str(Cow::Borrowed(kind.name()))));
        }
        Step::Dup { kind, from_fd } => {
            f.push(("step", s("dup")));
            f.push(("syscall", Value::Str(Cow::Borrowed(kind.name()))));
            f.push(("from_fd", Value::Int(from_fd as i64)));
        }
        Step::Inherited { from_pid } => {
            f.push(("step", s("inherited")));
            f.push(("from_pid", Value::Int(from_pid as i64)));
        }
        Step::SurvivedExec => f.push(("step", s("survived_exec"))),
        // A history longer than MAX_STEPS: how many steps are left out here.
        Step::Elided { steps } => {
            f.push(("step", s("elided")));
            f.push(("steps", Value::Int(steps as i64)));
        }
        Step::Received { kind, via_fd, from_pid } => {
            f.push(("step", s("received")));
            f.push(("syscall", Value::Str(Cow::Borrowed(kind.name()))));
            f.push(("via_fd", Value::Int(via_fd as i64)));
            if from_pid != 0 {
                f.push(("from_pid", Value::Int(from_pid as i64)));
            }
        }
    }
    f.push(("pid", Value::Int(origin.pid as i64)));
    f.push(("ts", s(clock.rfc3339(origin.ts_ns))));
    Value::Object(f)
}

/// The provenance chain, oldest step first.
pub fn origin(entry: &FdEntry, clock: &Clock) -> Value {
    Value::List(entry.origin.chain().iter().map(|o| step(o, clock)).collect())
}

/// The fields of an `fd` record for `fd` of `pid`; `name` as for [`object`].
pub fn fd_fields(
    model: &Model,
    pid: Pid,
    fd: i32,
    clock: &Clock,
    name: Option<Vec<u8>>,
) -> Option<Vec<(&'static str, Value)>> {
    let (entry, obj) = model.fd(pid, fd)?;
    let comm = model.process(pid).map(|p| p.comm.to_string()).unwrap_or_default();
    Some(vec![
        ("pid", Value::Int(pid as i64)),
        ("comm", s(comm)),
        ("fd", Value::Int(fd as i64)),
        ("object", object(obj, entry, name)),
        ("cloexec", Value::Bool(entry.cloexec)),
        ("origin", origin(entry, clock)),
    ])
}
