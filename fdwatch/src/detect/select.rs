//! select_high_fd: select(2)/pselect6 with nfds > FD_SETSIZE. select(2): "An fd_set is
//! a fixed size buffer. Executing FD_CLR() or FD_SET() with a value of fd that is
//! negative or is equal to or larger than FD_SETSIZE will result in undefined
//! behavior." With nfds above 1024 the kernel (fs/select.c core_sys_select) reads and
//! writes nfds bits of each set; glibc's fd_set is 1024 bits (128 bytes), so for a
//! program using it readiness is bogus and whatever follows the set in memory is
//! overwritten. A program may allocate larger sets (fdwatch cannot see their size), so
//! the message says so as a condition.
use std::collections::BTreeMap;

use fdwatch_common::Kind;

use super::{
    alert::{Alert, AlertKind, Evidence, Fact, Severity},
    explain,
    outbox::{FdMatch, Key, Outbox, SymptomRule},
};
use crate::{
    clock::Clock,
    decode::{Body, Event},
    model::{Model, Pid},
    value::Value,
};

/// glibc's FD_SETSIZE, in fdwatch-common: agent mode's kernel filter compares with it too.
pub use fdwatch_common::agent::FD_SETSIZE;
/// What follows a select that lied about readiness: connect() on a socket still
/// connecting (EALREADY, incident 2), or I/O that would block (EAGAIN).
const SYMPTOMS: &[i32] = &[libc::EALREADY, libc::EAGAIN];

pub fn check(model: &Model, clock: &Clock, outbox: &mut Outbox, event: &Event) {
    if !matches!(event.kind, Kind::Select | Kind::Pselect6) {
        return;
    }
    let Body::Syscall { args, .. } = &event.body else { return };
    let nfds = args[0] as i32;
    if nfds <= FD_SETSIZE {
        return;
    }
    let pid = event.header.pid;
    let key = Key { kind: AlertKind::SelectHighFd, pid, object: 0, variant: 0 };
    if outbox.repeat(key) {
        return;
    }
    let alert = build(model, clock, event, nfds);
    let rule = SymptomRule { pid, fds: FdMatch::AtLeast(FD_SETSIZE), errnos: SYMPTOMS };
    outbox.raise(key, alert, Some(rule));
}

/// fds of one kind of object with the same story.
struct Group {
    type_name: &'static str,
    story: String,
    fds: Vec<i32>,
    example: i32,
}

/// The process's fds grouped by object type and story, largest group first.
fn groups(model: &Model, pid: Pid, fds: impl Iterator<Item = i32>) -> Vec<Group> {
    let mut by: BTreeMap<(&'static str, String), Vec<i32>> = BTreeMap::new();
    for fd in fds {
        let Some((entry, obj)) = model.fd(pid, fd) else { continue };
        by.entry((obj.kind.type_name(), explain::story(model, &entry.origin))).or_default().push(fd);
    }
    let mut groups: Vec<Group> = by
        .into_iter()
        .map(|((type_name, story), mut fds)| {
            fds.sort_unstable();
            Group { type_name, story, example: fds[fds.len() - 1], fds }
        })
        .collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.fds.len()));
    groups
}

/// `1024-1029, 1043`.
fn ranges(fds: &[i32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < fds.len() {
        let mut j = i;
        while j + 1 < fds.len() && fds[j + 1] == fds[j] + 1 {
            j += 1;
        }
        parts.push(if j > i { format!("{}-{}", fds[i], fds[j]) } else { fds[i].to_string() });
        i = j + 1;
        if parts.len() == 8 && i < fds.len() {
            parts.push("...".to_owned());
            break;
        }
    }
    parts.join(", ")
}

/// The libc function: `select` or `pselect`.
fn function(event: &Event) -> &'static str {
    if called(event).starts_with("pselect(") { "pselect" } else { "select" }
}

/// The call as the program knows it. glibc's select() is the pselect6 system call with
/// no signal mask argument (sysdeps/unix/sysv/linux/select.c passes NULL as its sixth
/// argument); pselect() always passes one (a pointer to {sigmask, size}).
fn called(event: &Event) -> &'static str {
    match (event.kind, &event.body) {
        (Kind::Pselect6, Body::Syscall { args, .. }) if args[5] == 0 => "select() (the pselect6 system call)",
        (Kind::Pselect6, _) => "pselect()",
        _ => "select()",
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

fn build(model: &Model, clock: &Clock, event: &Event, nfds: i32) -> Alert {
    let pid = event.header.pid;
    let process = model.process(pid);
    let comm = process.map_or_else(|| event.comm().into_owned(), |p| p.comm.to_string());
    let all: Vec<i32> = model.table_of(pid).map(|t| t.fds.keys().collect()).unwrap_or_default();
    let high: Vec<i32> = all.iter().copied().filter(|&fd| fd >= FD_SETSIZE).collect();
    let mut evidence = vec![Evidence::Event(*event)];

    for g in groups(model, pid, high.iter().copied()) {
        let text =
            format!("fd {} ({}) at or above FD_SETSIZE: {}", ranges(&g.fds), plural(g.fds.len(), g.type_name), g.story);
        if let Some(fact) = explain::fd_fact(model, clock, pid, g.example, text) {
            evidence.push(Evidence::Fact(fact));
        }
    }
    // Why the numbers are that high: what fills the table below them.
    let biggest = groups(model, pid, all.iter().copied()).into_iter().next();
    let mut why = String::new();
    if let Some(g) = biggest.filter(|g| g.fds.len() * 2 >= all.len() && all.len() as i32 >= FD_SETSIZE / 2) {
        why = format!("; {} of its {} fds are {}s {}", g.fds.len(), all.len(), g.type_name, g.story);
        let text = format!(
            "{} of the {} fds of {} are {}s {}",
            g.fds.len(),
            all.len(),
            explain::who(model, pid),
            g.type_name,
            g.story
        );
        if let Some(fact) = explain::fd_fact(model, clock, pid, g.example, text) {
            evidence.push(Evidence::Fact(Fact { ts_ns: event.header.ts_ns, ..fact }));
        }
    }
    let message = format!(
        "pid {pid} ({comm}) called {} with nfds={nfds}, above FD_SETSIZE ({FD_SETSIZE}): the kernel reads and writes \
         {nfds} bits of each fd_set it was given, so if the program's sets are the standard {FD_SETSIZE}-bit fd_set \
         (glibc's), readiness is bogus and the memory after them is overwritten; it holds {} at or above \
         {FD_SETSIZE}{why}",
        called(event),
        plural(high.len(), "fd"),
    );
    Alert {
        id: 0,
        kind: AlertKind::SelectHighFd,
        severity: Severity::Critical,
        pid,
        comm,
        exe: process.and_then(|p| p.exe.as_ref().map(|e| e.to_string())),
        cgroup: process.and_then(|p| p.cgroup.clone()),
        message,
        evidence,
        fields: vec![
            ("syscall", Value::Str(event.kind.name().into())),
            ("function", Value::Str(function(event).into())),
            ("nfds", Value::Int(nfds as i64)),
            ("high_fds", Value::Int(high.len() as i64)),
            ("fds_total", Value::Int(all.len() as i64)),
        ],
        ts_ns: event.header.ts_ns,
    }
}

#[cfg(test)]
mod tests {
    use super::ranges;

    #[test]
    fn ranges_compress_runs() {
        assert_eq!(ranges(&[1024, 1025, 1026, 1030, 1043, 1044]), "1024-1026, 1030, 1043-1044");
        assert_eq!(ranges(&[7]), "7");
        assert_eq!(ranges(&[]), "");
    }
}
