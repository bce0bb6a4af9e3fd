//! pipe_leak: a reader sees EOF only when every write end of its pipe is closed
//! (pipe(7): "If all file descriptors referring to the write end of a pipe have been
//! closed, then an attempt to read(2) from the pipe will see end-of-file"). Incident 3:
//! Python (R) gave the write end to its child sh (W) as stdout; sh started a daemon (H)
//! in the background, which inherited it (fork(2) copies every fd; execve(2) keeps those
//! without FD_CLOEXEC); sh exited, yet R's read blocked for as long as H lived.
//!
//! When W lets go of a write end (exit, close, exec with CLOEXEC, dup2 over it) and
//! processes that inherited it from W still hold it, the reader is a suspect; after a
//! grace period (daemons that merely linger a moment are normal) it is an alert, and
//! when the last holder lets go, a `resolved` record says how long R waited.
use fdwatch_common::Kind;

use super::{
    alert::{Alert, AlertKind, Evidence, Output, Severity},
    explain,
    outbox::{Key, Outbox},
};
use crate::{
    clock::Clock,
    decode::{Body, Event},
    model::{Access, FdEntry, InodeKey, Model, ObjectId, ObjectKind, Pid, Step},
    value::Value,
};

const CLOSE_RANGE_CLOEXEC: u64 = 1 << 2;

/// A write end its holder is about to let go of (seen before the model applies it).
#[derive(Clone)]
struct Letting {
    writer: Pid,
    writer_comm: String,
    object: ObjectId,
    fd: i32,
    entry: FdEntry,
    event: Event,
}

/// A reader whose writer let go while others still hold the write end.
struct Suspect {
    reader: Pid,
    ino: u64,
    letting: Letting,
    due_ns: u64,
}

/// An alert written, waiting for its end.
struct Leak {
    key: Key,
    reader: Pid,
    reader_comm: String,
    ino: u64,
    since_ns: u64,
}

#[derive(Default)]
pub struct PipeLeaks {
    letting: Vec<Letting>,
    suspects: Vec<Suspect>,
    leaks: Vec<Leak>,
}

fn is_pipe_write(model: &Model, entry: &FdEntry) -> bool {
    entry.access == Access::Write && model.objects.get(entry.object).is_some_and(|o| o.kind == ObjectKind::Pipe)
}

/// Whether this fd came to its holder through a fork of `from` (anywhere in its chain).
fn inherited_from(entry: &FdEntry, from: Pid) -> bool {
    entry.origin.chain().iter().any(|o| o.step == Step::Inherited { from_pid: from })
}

/// Whether `reader` handed the fd to `writer`: a fork from the reader into the writer.
fn handed(entry: &FdEntry, reader: Pid, writer: Pid) -> bool {
    entry.origin.chain().iter().any(|o| o.step == Step::Inherited { from_pid: reader } && o.pid == writer)
}

/// The write-end holders that got it from `writer`, by pid with their fds.
fn leaked_holders(model: &Model, object: ObjectId, writer: Pid, reader: Pid) -> Vec<(Pid, Vec<i32>)> {
    let mut out: Vec<(Pid, Vec<i32>)> = Vec::new();
    for (pid, fd, entry) in model.holders(object) {
        if pid == writer || pid == reader || entry.access != Access::Write || !inherited_from(entry, writer) {
            continue;
        }
        match out.last_mut() {
            Some((p, fds)) if *p == pid => fds.push(fd),
            _ => out.push((pid, vec![fd])),
        }
    }
    out
}

/// `pid`'s fds on `object` with `access`.
fn fds_with(model: &Model, object: ObjectId, pid: Pid, access: Access) -> Vec<i32> {
    model.holders(object).into_iter().filter(|(p, _, e)| *p == pid && e.access == access).map(|(_, fd, _)| fd).collect()
}

impl PipeLeaks {
    /// Before the model applies `event`: the pipe write ends it is about to release.
    pub fn before(&mut self, model: &Model, event: &Event) {
        // Most events release nothing: decide by kind before any lookup.
        if !matches!(event.kind, Kind::Close | Kind::Dup2 | Kind::Dup3 | Kind::CloseRange | Kind::Exec | Kind::Exit) {
            return;
        }
        let pid = event.header.pid;
        let Some(table) = model.table_of(pid) else { return };
        let ok_args = match &event.body {
            Body::Syscall { ret, args, .. } if *ret >= 0 => Some(args),
            _ => None,
        };
        // close and dup2 release one fd: if the process keeps another copy of that write
        // end, nothing is let go. Checked here, without building a `Letting`, because a
        // loop of `dup2(1, 100); close(100)` with stdout on a pipe (any shell pipeline)
        // takes this path twice per iteration: measured 0.48 -> 0.70 us of collector CPU
        // per event when the bench captured its producer's stdout through a pipe.
        let one_fd = matches!(event.kind, Kind::Close | Kind::Dup2 | Kind::Dup3);
        let mut release = |fd: i32| {
            let Some(entry) = table.fds.get(fd) else { return };
            if !is_pipe_write(model, entry) || one_fd && model.holds_another(pid, entry.object, fd, Access::Write) {
                return;
            }
            let writer_comm = model.process(pid).map(|p| p.comm.to_string()).unwrap_or_default();
            self.letting.push(Letting {
                writer: pid,
                writer_comm,
                object: entry.object,
                fd,
                entry: entry.clone(),
                event: *event,
            });
        };
        // close and dup2 (per event on the hot path) release one fd, with no list built.
        match (event.kind, ok_args, &event.body) {
            (Kind::Close, Some(a), _) => release(a[0] as i32),
            (Kind::Dup2 | Kind::Dup3, Some(a), _) if a[0] != a[1] => release(a[1] as i32),
            (Kind::CloseRange, Some(a), _) if a[2] & CLOSE_RANGE_CLOEXEC == 0 => {
                let (first, last) = (a[0] as u32, a[1] as u32);
                table.fds.keys().filter(|&fd| fd >= 0 && (first..=last).contains(&(fd as u32))).for_each(release);
            }
            (Kind::Exec, _, _) => table.fds.iter().filter(|(_, e)| e.cloexec).for_each(|(fd, _)| release(fd)),
            // A table shared with another process (CLONE_FILES) outlives this one.
            (Kind::Exit, _, Body::Exit(e)) if e.group_dead != 0 && table.users.len() == 1 => {
                table.fds.keys().for_each(release)
            }
            _ => {}
        }
    }

    /// After the model applied it: who is left holding what.
    pub fn after(&mut self, model: &Model, outbox: &mut Outbox, grace_ns: u64, event: &Event) {
        for letting in std::mem::take(&mut self.letting) {
            let Some(object) = model.objects.get(letting.object) else { continue };
            let writer = letting.writer;
            if !fds_with(model, letting.object, writer, Access::Write).is_empty() {
                continue; // it still holds another copy
            }
            let ino = object.ino;
            let readers: Vec<Pid> = model
                .holders(letting.object)
                .into_iter()
                .filter(|(p, _, e)| e.access == Access::Read && *p != writer && handed(&letting.entry, *p, writer))
                .map(|(p, _, _)| p)
                .collect();
            for reader in readers {
                let tracked = self.suspects.iter().any(|s| s.reader == reader && s.ino == ino)
                    || self.leaks.iter().any(|l| l.reader == reader && l.ino == ino);
                if tracked || leaked_holders(model, letting.object, writer, reader).is_empty() {
                    continue;
                }
                // Saturating: a record's time near the end of the clock must not wrap
                // round to a grace period already over.
                let due_ns = letting.event.header.ts_ns.saturating_add(grace_ns);
                self.suspects.push(Suspect { reader, ino, letting: letting.clone(), due_ns });
            }
        }
        if !self.leaks.is_empty()
            && matches!(event.kind, Kind::Close | Kind::CloseRange | Kind::Exit | Kind::Exec | Kind::Dup2 | Kind::Dup3)
        {
            self.resolve(model, outbox, event.header.ts_ns);
        }
    }

    /// Suspects past their grace become alerts if the leak is still there (written by
    /// the outbox's tick, which runs right after this).
    pub fn tick(&mut self, model: &Model, clock: &Clock, outbox: &mut Outbox, grace_ns: u64, now_ns: u64) {
        let (due, waiting): (Vec<Suspect>, Vec<Suspect>) =
            std::mem::take(&mut self.suspects).into_iter().partition(|s| s.due_ns <= now_ns);
        self.suspects = waiting;
        for s in due {
            let Some((object, _)) = model.object_by_inode(InodeKey::Pipe(s.ino)) else { continue };
            let reader_fds = fds_with(model, object, s.reader, Access::Read);
            let holders = leaked_holders(model, object, s.letting.writer, s.reader);
            if reader_fds.is_empty()
                || holders.is_empty()
                || !fds_with(model, object, s.reader, Access::Write).is_empty()
            {
                continue;
            }
            let key = Key { kind: AlertKind::PipeLeak, pid: s.reader, object: s.ino, variant: 0 };
            if outbox.repeat(key) {
                continue;
            }
            let alert = build(model, clock, &s, object, &reader_fds, &holders, grace_ns, now_ns);
            let reader_comm = alert.comm.clone();
            outbox.raise(key, alert, None);
            self.leaks.push(Leak {
                key,
                reader: s.reader,
                reader_comm,
                ino: s.ino,
                since_ns: s.letting.event.header.ts_ns,
            });
        }
        if !self.leaks.is_empty() {
            self.resolve(model, outbox, now_ns);
        }
    }

    /// Leaks whose last holder let go, or whose reader gave up.
    fn resolve(&mut self, model: &Model, outbox: &mut Outbox, now_ns: u64) {
        self.leaks.retain(|l| {
            let object = model.object_by_inode(InodeKey::Pipe(l.ino)).map(|(id, _)| id);
            let writers =
                object.map_or(0, |o| model.holders(o).iter().filter(|(_, _, e)| e.access == Access::Write).count());
            let reading = object.is_some_and(|o| !fds_with(model, o, l.reader, Access::Read).is_empty());
            let waited = explain::duration(now_ns.saturating_sub(l.since_ns));
            let message = if writers == 0 {
                format!(
                    "pid {} ({}) can see EOF on pipe:[{}] now: the last holder of its write end let go after {waited}",
                    l.reader, l.reader_comm, l.ino
                )
            } else if !reading {
                format!(
                    "pid {} ({}) stopped reading pipe:[{}] after waiting {waited} for EOF; the write end is still held",
                    l.reader, l.reader_comm, l.ino
                )
            } else {
                return true;
            };
            outbox.push(Output::Resolved {
                id: outbox.id_of(l.key).unwrap_or(0),
                kind: AlertKind::PipeLeak,
                pid: l.reader,
                comm: l.reader_comm.clone(),
                message,
                waited_ns: now_ns.saturating_sub(l.since_ns),
                ts_ns: now_ns,
            });
            false
        });
    }
}

fn fd_list(fds: &[i32]) -> String {
    let words: Vec<String> = fds.iter().map(|fd| format!("fd {fd}")).collect();
    explain::list(&words)
}

#[allow(clippy::too_many_arguments)]
fn build(
    model: &Model,
    clock: &Clock,
    s: &Suspect,
    object: ObjectId,
    reader_fds: &[i32],
    holders: &[(Pid, Vec<i32>)],
    grace_ns: u64,
    now_ns: u64,
) -> Alert {
    let reader = model.process(s.reader);
    let reader_comm = reader.map(|p| p.comm.to_string()).unwrap_or_default();
    let w = &s.letting;
    let let_go = match w.event.kind {
        Kind::Exit => "exited",
        Kind::Exec => "closed it at exec",
        _ => "closed it",
    };
    let who_hold: Vec<String> =
        holders.iter().map(|(pid, fds)| format!("{} as {}", explain::who(model, *pid), fd_list(fds))).collect();
    let message = format!(
        "pid {} ({reader_comm}) will not see EOF on pipe:[{}]: its writer pid {} ({}) {let_go}, but the write end is still \
         held by {}, which inherited it from pid {} ({}), so a read of it blocks for as long as they live",
        s.reader,
        s.ino,
        w.writer,
        w.writer_comm,
        explain::list(&who_hold),
        w.writer,
        w.writer_comm
    );
    let mut evidence = Vec::new();
    if let Some((fd, (entry, o))) = reader_fds.first().and_then(|&fd| Some((fd, model.fd(s.reader, fd)?))) {
        let text = format!(
            "{} reads pipe:[{}] through fd {fd}, {}",
            explain::who(model, s.reader),
            s.ino,
            explain::story(model, &entry.origin)
        );
        evidence.push(Evidence::Fact(explain::entry_fact(clock, s.reader, fd, entry, o, text)));
    }
    if let Some(o) = model.objects.get(object) {
        let text = format!(
            "pid {} ({}) had the write end as fd {}, {}",
            w.writer,
            w.writer_comm,
            w.fd,
            explain::story(model, &w.entry.origin)
        );
        let mut fact = explain::entry_fact(clock, w.writer, w.fd, &w.entry, o, text);
        // Its last step is when it got the fd; the event that ends it follows.
        fact.ts_ns = w.entry.origin.last().ts_ns;
        evidence.push(Evidence::Fact(fact));
    }
    evidence.push(Evidence::Event(w.event));
    for (pid, fds) in holders {
        for &fd in fds {
            if let Some((entry, o)) = model.fd(*pid, fd) {
                let text = format!(
                    "{} holds the write end as fd {fd}, {}",
                    explain::who(model, *pid),
                    explain::story(model, &entry.origin)
                );
                evidence.push(Evidence::Fact(explain::entry_fact(clock, *pid, fd, entry, o, text)));
            }
        }
    }
    let holder_values = Value::List(
        holders
            .iter()
            .map(|(pid, fds)| {
                let process = model.process(*pid);
                let mut f = vec![
                    ("pid", Value::Int(*pid as i64)),
                    ("comm", Value::Str(process.map(|p| p.comm.to_string()).unwrap_or_default().into())),
                    ("fds", Value::List(fds.iter().map(|&fd| Value::Int(fd as i64)).collect())),
                ];
                // A holder in another container than the reader is the usual surprise.
                if let Some(c) = process.and_then(|p| p.cgroup.as_ref()).and_then(|c| c.container.as_ref()) {
                    f.push(("container", c.value()));
                }
                Value::Object(f)
            })
            .collect(),
    );
    Alert {
        id: 0,
        kind: AlertKind::PipeLeak,
        severity: Severity::Warning,
        pid: s.reader,
        comm: reader_comm.clone(),
        exe: reader.and_then(|p| p.exe.as_ref().map(|e| e.to_string())),
        cgroup: reader.and_then(|p| p.cgroup.clone()),
        message,
        evidence,
        fields: vec![
            ("pipe", Value::Str(format!("pipe:[{}]", s.ino).into())),
            ("ino", Value::Int(s.ino as i64)),
            (
                "reader",
                Value::Object(vec![
                    ("pid", Value::Int(s.reader as i64)),
                    ("comm", Value::Str(reader_comm.into())),
                    ("fd", Value::Int(reader_fds[0] as i64)),
                ]),
            ),
            (
                "writer",
                Value::Object(vec![
                    ("pid", Value::Int(w.writer as i64)),
                    ("comm", Value::Str(w.writer_comm.clone().into())),
                    ("let_go", Value::Str(let_go.into())),
                ]),
            ),
            ("holders", holder_values),
            ("grace_ms", Value::Int((grace_ns / 1_000_000) as i64)),
        ],
        ts_ns: now_ns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode::Payload, model::synthetic::*};

    #[test]
    fn closing_one_of_two_copies_of_a_write_end_lets_nothing_go() {
        let mut model = model_with(100);
        model.apply(&pipe(100, 1, [3, 4], 777, 0));
        model.apply(&call(Kind::Dup2, 100, 2, 100, &[4, 100], Payload::None));
        let mut leaks = PipeLeaks::default();
        let close = |fd: u64, ts| call(Kind::Close, 100, ts, 0, &[fd], Payload::None);
        leaks.before(&model, &close(100, 3));
        assert!(leaks.letting.is_empty(), "fd 4 is still a write end of the pipe");
        model.apply(&close(100, 3));
        leaks.before(&model, &close(3, 4));
        assert!(leaks.letting.is_empty(), "fd 3 is the read end");
        leaks.before(&model, &close(4, 4));
        assert_eq!(leaks.letting.iter().map(|l| l.fd).collect::<Vec<_>>(), [4], "the last write end");
    }
}
