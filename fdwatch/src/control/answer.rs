//! A query's reply, rendered from the fd model in the collector loop: `fd` records (one
//! home for their shape: model/describe.rs, as SIGUSR1 dumps them) and the `end`
//! record. Pure: the model, the clock and the host name in, bytes out, at most
//! [`MAX_REPLY_BYTES`] of records before the end (a reply is held in memory until the
//! client took it).
use std::collections::BTreeSet;

use super::protocol::{Request, Target};
use crate::{
    clock::Clock,
    model::{FdEntry, InodeKey, Model, ObjectKind, Pid, describe},
    outputs::record::SCHEMA_VERSION,
    sinks::json,
};

/// Records of one reply at most, in bytes (about 40k fd records): past it the reply
/// ends with `truncated: true`.
pub const MAX_REPLY_BYTES: usize = 16 << 20;

/// Where a reply came from (`source` of the `end` record).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The agent's fd model, with provenance.
    Agent,
    /// A reading of /proc by the client (no agent answered): no provenance.
    Proc,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Agent => "agent",
            Source::Proc => "proc",
        }
    }
}

/// The fds a request is about: (pid, fd), by pid and fd.
pub fn matches(model: &Model, request: &Request) -> Vec<(Pid, i32)> {
    match request {
        Request::Fds { pid } => {
            let mut fds: Vec<(Pid, i32)> =
                model.table_of(*pid).map(|t| t.fds.keys().map(|fd| (*pid, fd)).collect()).unwrap_or_default();
            fds.sort_unstable();
            fds
        }
        Request::Holders { object } => {
            let ids = match object {
                Target::Pipe(ino) => {
                    model.object_by_inode(InodeKey::Pipe(*ino)).map(|(id, _)| id).into_iter().collect()
                }
                Target::Socket(ino) => {
                    model.object_by_inode(InodeKey::Socket(*ino)).map(|(id, _)| id).into_iter().collect()
                }
                Target::Anon(name) => model
                    .objects
                    .iter()
                    .filter(|(_, o)| matches!(&o.kind, ObjectKind::Anon { name: n } if **n == **name))
                    .map(|(id, _)| id)
                    .collect(),
                Target::File { ino, .. } => model
                    .objects
                    .iter()
                    .filter(|(_, o)| {
                        o.ino == *ino
                            && matches!(
                                o.kind,
                                ObjectKind::File { .. }
                                    | ObjectKind::Tty { .. }
                                    | ObjectKind::PtyMaster { .. }
                                    | ObjectKind::DevNull
                            )
                    })
                    .map(|(id, _)| id)
                    .collect::<Vec<_>>(),
            };
            let all: BTreeSet<(Pid, i32)> = ids
                .into_iter()
                .flat_map(|id| model.holders(id))
                .map(|(pid, fd, _): (Pid, i32, &FdEntry)| (pid, fd))
                .collect();
            all.into_iter().collect()
        }
    }
}

/// The pids whose cgroup the reply shows (the collector resolves them first).
pub fn pids(fds: &[(Pid, i32)]) -> Vec<Pid> {
    let mut pids: Vec<Pid> = fds.iter().map(|(p, _)| *p).collect();
    pids.dedup();
    pids
}

/// A reply being rendered: the collector renders a slice of it per turn of its loop
/// ([`Reply::render_some`]), so a process with a hundred thousand fds never holds the
/// ring drain back for the whole of it. An fd closed between slices is left out, as a
/// reading of /proc would.
pub struct Reply {
    request: Request,
    fds: Vec<(Pid, i32)>,
    next: usize,
    out: Vec<u8>,
    records: usize,
    ts: String,
    host: String,
    source: Source,
    done: bool,
}

impl Reply {
    /// The reply to `request` about `fds` (from [`matches`]). A process the model does
    /// not know is an error for `fds` (the reply is then complete at once); no holder
    /// is an empty answer for `holders`.
    pub fn new(
        model: &Model,
        request: Request,
        fds: Vec<(Pid, i32)>,
        clock: &Clock,
        host: &str,
        source: Source,
    ) -> Self {
        let ts = clock.rfc3339(Clock::monotonic_now_ns());
        let mut reply = Reply {
            request,
            fds,
            next: 0,
            out: Vec::new(),
            records: 0,
            ts,
            host: host.to_owned(),
            source,
            done: false,
        };
        if let Request::Fds { pid } = reply.request {
            if model.process(pid).is_none() {
                let why = format!("no process with pid {pid} in the fd model");
                reply.finish(Some(&why), false);
            }
        }
        reply
    }

    /// Render up to `budget` more records; true once the reply is complete (its `end`
    /// record written).
    pub fn render_some(&mut self, model: &Model, clock: &Clock, budget: usize) -> bool {
        if self.done {
            return true;
        }
        let until = self.next.saturating_add(budget).min(self.fds.len());
        while self.next < until {
            if self.out.len() >= MAX_REPLY_BYTES {
                self.finish(None, true);
                return true;
            }
            let (pid, fd) = self.fds[self.next];
            self.next += 1;
            let Some(fields) = describe::fd_fields(model, pid, fd, clock, None) else { continue };
            let mut obj = header(&mut self.out, "fd", &self.ts, &self.host);
            for (k, v) in &fields {
                obj.value(k, v);
            }
            obj.end();
            self.records += 1;
        }
        if self.next >= self.fds.len() {
            self.finish(None, false);
        }
        self.done
    }

    fn finish(&mut self, error: Option<&str>, truncated: bool) {
        let e = End { records: self.records, truncated, error };
        end(&mut self.out, &self.ts, &self.host, &self.request, self.source, e);
        self.done = true;
    }

    /// The reply's bytes (complete once `render_some` returned true).
    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }
}

/// The whole reply to `request` at once (the query commands' /proc fallback).
pub fn render(
    model: &Model,
    request: &Request,
    fds: &[(Pid, i32)],
    clock: &Clock,
    host: &str,
    source: Source,
) -> Vec<u8> {
    let mut reply = Reply::new(model, request.clone(), fds.to_vec(), clock, host, source);
    reply.render_some(model, clock, usize::MAX);
    reply.into_bytes()
}

/// What the `end` record says besides the request.
pub struct End<'a> {
    pub records: usize,
    pub truncated: bool,
    pub error: Option<&'a str>,
}

/// `{"type":KIND,"ts":..,"host":..,"v":1` of a reply record, as every record starts.
fn header<'a>(out: &'a mut Vec<u8>, kind: &str, ts: &str, host: &str) -> json::Obj<'a> {
    let mut obj = json::Obj::new(out);
    obj.str("type", kind).str("ts", ts).str("host", host).int("v", SCHEMA_VERSION as i64);
    obj
}

/// The `end` record of a reply (`request` None: the request could not be read).
pub fn end(out: &mut Vec<u8>, ts: &str, host: &str, request: &Request, source: Source, e: End<'_>) {
    let mut obj = header(out, "end", ts, host);
    obj.str("query", request.name());
    match request {
        Request::Fds { pid } => obj.int("pid", i64::from(*pid)),
        Request::Holders { object } => obj.str("object", &object.proc_name()),
    };
    obj.str("source", source.name())
        .int("records", e.records as i64)
        .value("truncated", &crate::value::Value::Bool(e.truncated));
    if let Some(why) = e.error {
        obj.str("error", why);
    }
    obj.end();
}

/// The `end` record of a request that was refused or could not be read: it names no
/// query.
pub fn refusal(ts: &str, host: &str, why: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut obj = header(&mut out, "end", ts, host);
    obj.str("source", Source::Agent.name()).int("records", 0).value("truncated", &crate::value::Value::Bool(false));
    obj.str("error", why);
    obj.end();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        Access, Step,
        snapshot::{FdSnapshot, ProcSnapshot},
    };

    fn model() -> Model {
        let fd = |fd, link: &[u8], ino| FdSnapshot {
            fd,
            link: link.to_vec(),
            cloexec: false,
            access: Access::Write,
            ino,
            tty_index: None,
        };
        let mut m = Model::default();
        for (pid, comm) in [(10u32, &b"parent"[..]), (11, b"\x1b]0;evil\x07")] {
            m.load_snapshot(
                &ProcSnapshot {
                    pid,
                    ppid: 1,
                    comm: comm.to_vec(),
                    exe: None,
                    args: None,
                    read_at_ns: 0,
                    fds: vec![fd(1, b"pipe:[77]", 77), fd(4, b"/etc/hosts", 555), fd(5, b"anon_inode:[eventfd]", 0)],
                },
                Step::PresentAtStart,
            );
        }
        m
    }

    fn records(out: &[u8]) -> Vec<serde_json::Value> {
        assert!(out.ends_with(b"\n"));
        out.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap()).collect()
    }

    fn reply(m: &Model, r: Request) -> Vec<serde_json::Value> {
        let fds = matches(m, &r);
        records(&render(m, &r, &fds, &Clock::fixed(0), "h", Source::Agent))
    }

    #[test]
    fn holders_of_a_pipe_a_file_and_an_anon_inode_are_every_fd_on_them() {
        let m = model();
        for target in
            [Target::Pipe(77), Target::File { path: "/etc/hosts".into(), ino: 555 }, Target::Anon("[eventfd]".into())]
        {
            let r = reply(&m, Request::Holders { object: target.clone() });
            let fds: Vec<(i64, i64)> = r
                .iter()
                .filter(|v| v["type"] == "fd")
                .map(|v| (v["pid"].as_i64().unwrap(), v["fd"].as_i64().unwrap()))
                .collect();
            assert_eq!(fds.len(), 2, "{target:?}: {r:?}");
            assert_eq!(fds.iter().map(|f| f.0).collect::<Vec<_>>(), [10, 11]);
            let end = r.last().unwrap();
            assert_eq!(end["type"], "end");
            assert_eq!(end["records"], 2);
            assert_eq!(end["object"], target.proc_name());
            assert_eq!(end["v"], 1);
            assert!(r.iter().all(|v| v["host"] == "h" && v["ts"].is_string()));
        }
        let none = reply(&m, Request::Holders { object: Target::Socket(77) });
        assert_eq!(none.len(), 1, "a pipe's inode is not a socket's: {none:?}");
        assert!(none[0]["error"].is_null());
    }

    #[test]
    fn fds_of_a_process_in_fd_order_and_an_unknown_pid_is_an_error() {
        let m = model();
        let r = reply(&m, Request::Fds { pid: 11 });
        let fds: Vec<i64> = r.iter().filter(|v| v["type"] == "fd").map(|v| v["fd"].as_i64().unwrap()).collect();
        assert_eq!(fds, [1, 4, 5]);
        assert_eq!(r[0]["comm"], "\x1b]0;evil\x07", "JSON escapes it; the text client escapes it again");
        assert_eq!(r[0]["origin"][0]["step"], "present_at_start");
        let r = reply(&m, Request::Fds { pid: 12 });
        assert_eq!(r.len(), 1);
        assert!(r[0]["error"].as_str().unwrap().contains("no process with pid 12"));
    }

    #[test]
    fn a_reply_rendered_in_slices_is_the_reply_rendered_at_once_less_what_closed_between() {
        let mut m = model();
        let r = Request::Fds { pid: 10 };
        let fds = matches(&m, &r);
        let whole = render(&m, &r, &fds, &Clock::fixed(0), "h", Source::Agent);
        let mut reply = Reply::new(&m, r.clone(), fds.clone(), &Clock::fixed(0), "h", Source::Agent);
        assert!(!reply.render_some(&m, &Clock::fixed(0), 1));
        assert!(!reply.render_some(&m, &Clock::fixed(0), 1));
        assert!(reply.render_some(&m, &Clock::fixed(0), 1));
        let sliced = reply.into_bytes();
        let strip_ts = |b: &[u8]| {
            records(b)
                .into_iter()
                .map(|mut v| {
                    v["ts"] = serde_json::Value::Null;
                    v
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(strip_ts(&sliced), strip_ts(&whole));
        // fd 4 closes between two slices: left out, and the end counts what was sent.
        let mut reply = Reply::new(&m, r.clone(), fds, &Clock::fixed(0), "h", Source::Agent);
        assert!(!reply.render_some(&m, &Clock::fixed(0), 1));
        m.load_snapshot(
            &ProcSnapshot { pid: 10, ppid: 1, comm: b"parent".to_vec(), fds: vec![], ..Default::default() },
            Step::Resynced,
        );
        assert!(reply.render_some(&m, &Clock::fixed(0), 10));
        let r = records(&reply.into_bytes());
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(r[1]["records"], 1);
    }

    #[test]
    fn refusal_is_one_end_record() {
        let r = records(&refusal("t", "h", "no"));
        assert_eq!(r.len(), 1);
        assert_eq!(r[0]["type"], "end");
        assert_eq!(r[0]["error"], "no");
    }
}
