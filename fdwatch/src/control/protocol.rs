//! The control protocol, version 1: the client writes one JSON object on one line, the
//! agent answers with JSON lines (`fd` records, the shape of docs/schema.json's `fd`)
//! and always ends with one `end` record, which says how many records came before it,
//! whether the reply was cut at its size limit, and the error if the request failed.
//!
//! Requests:
//! - `{"v":1,"query":"fds","pid":N}`: every fd of process N;
//! - `{"v":1,"query":"holders","object":"pipe:[N]"}` (or `socket:[N]`,
//!   `anon_inode:NAME`, as /proc/PID/fd names them): every fd, in every process, that
//!   refers to the object;
//! - `{"v":1,"query":"holders","object":"/path","ino":N}`: the fds on files whose inode
//!   is N (the client resolves the path with stat(2) and checks the device itself: the
//!   model keeps no device numbers).
use serde::Deserialize;
use tokio::sync::oneshot;

use crate::model::Pid;

/// A request line longer than this is refused unread: requests are a few dozen bytes.
pub const MAX_REQUEST_BYTES: usize = 4096;

/// The protocol version this agent speaks (the `v` of requests and records).
pub const VERSION: u32 = crate::outputs::record::SCHEMA_VERSION;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Fds { pid: Pid },
    Holders { object: Target },
}

/// An object as a holders query names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Pipe(u64),
    Socket(u64),
    /// All anonymous inodes of a kind share one inode (fs/anon_inodes.c): the name
    /// (`[eventfd]`, `inotify`, ...) is all there is to match.
    Anon(String),
    /// A file, tty or device by inode number; `path` is what the client named.
    File {
        path: String,
        ino: u64,
    },
}

impl Request {
    /// The `query` field's value.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Fds { .. } => "fds",
            Request::Holders { .. } => "holders",
        }
    }

    /// The request line, newline included (the client's side).
    pub fn to_line(&self) -> String {
        let v = match self {
            Request::Fds { pid } => serde_json::json!({"v": VERSION, "query": "fds", "pid": pid}),
            Request::Holders { object: Target::File { path, ino } } => {
                serde_json::json!({"v": VERSION, "query": "holders", "object": path, "ino": ino})
            }
            Request::Holders { object } => {
                serde_json::json!({"v": VERSION, "query": "holders", "object": object.proc_name()})
            }
        };
        format!("{v}\n")
    }
}

impl Target {
    /// As /proc/PID/fd shows it (for a file: the path the client named).
    pub fn proc_name(&self) -> String {
        match self {
            Target::Pipe(ino) => format!("pipe:[{ino}]"),
            Target::Socket(ino) => format!("socket:[{ino}]"),
            Target::Anon(name) => format!("anon_inode:{name}"),
            Target::File { path, .. } => path.clone(),
        }
    }

    /// `pipe:[N]`, `socket:[N]`, `anon_inode:NAME` as /proc names them; None for
    /// anything else (a path, resolved by the caller).
    pub fn parse_proc_name(name: &str) -> Result<Option<Target>, String> {
        fn bracketed(s: &str, prefix: &str) -> Option<Result<u64, String>> {
            let inner = s.strip_prefix(prefix)?;
            let n = inner.strip_prefix('[').and_then(|s| s.strip_suffix(']'));
            Some(
                n.and_then(|n| n.parse::<u64>().ok()).filter(|&n| n != 0).ok_or_else(|| {
                    format!("{s:?} is not {prefix}[N] with N an inode number (as /proc/PID/fd shows it)")
                }),
            )
        }
        if let Some(ino) = bracketed(name, "pipe:") {
            return ino.map(|n| Some(Target::Pipe(n)));
        }
        if let Some(ino) = bracketed(name, "socket:") {
            return ino.map(|n| Some(Target::Socket(n)));
        }
        if let Some(anon) = name.strip_prefix("anon_inode:") {
            if anon.is_empty() {
                return Err(format!("{name:?}: no name after anon_inode:"));
            }
            return Ok(Some(Target::Anon(anon.to_owned())));
        }
        Ok(None)
    }
}

/// A request as written; unknown fields are an error, not ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    v: u32,
    query: String,
    pid: Option<i64>,
    object: Option<String>,
    ino: Option<u64>,
}

/// One request line (without its newline). The error is what the `end` record says.
pub fn parse(line: &[u8]) -> Result<Request, String> {
    let wire: Wire = serde_json::from_slice(line).map_err(|e| format!("not a request: {e}"))?;
    if wire.v != VERSION {
        return Err(format!("protocol version {} is not spoken here (this agent speaks {VERSION})", wire.v));
    }
    match wire.query.as_str() {
        "fds" => {
            let pid = wire.pid.ok_or("fds: no pid")?;
            // Only looked up in the model's map: any positive 32-bit pid is safe to ask.
            let pid = u32::try_from(pid).ok().filter(|&p| p > 0).ok_or_else(|| format!("fds: pid {pid}: not a pid"))?;
            if wire.object.is_some() || wire.ino.is_some() {
                return Err("fds: takes a pid only".into());
            }
            Ok(Request::Fds { pid })
        }
        "holders" => {
            let object = wire.object.ok_or("holders: no object")?;
            if wire.pid.is_some() {
                return Err("holders: takes an object, not a pid".into());
            }
            let target = match (Target::parse_proc_name(&object)?, wire.ino) {
                (Some(t), None) => t,
                (Some(_), Some(_)) => return Err(format!("holders: {object:?} takes no ino")),
                (None, Some(ino)) if ino != 0 && object.starts_with('/') => Target::File { path: object, ino },
                (None, _) => {
                    return Err(format!(
                        "holders: {object:?} is not pipe:[N], socket:[N], anon_inode:NAME, or an absolute path with \
                         its ino"
                    ));
                }
            };
            Ok(Request::Holders { object: target })
        }
        other => Err(format!("unknown query {other:?} (fds, holders)")),
    }
}

/// A request for the collector, with where its reply goes.
pub struct Query {
    pub request: Request,
    pub reply: oneshot::Sender<Vec<u8>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_through_their_line() {
        for r in [
            Request::Fds { pid: 42 },
            Request::Holders { object: Target::Pipe(7) },
            Request::Holders { object: Target::Socket(8) },
            Request::Holders { object: Target::Anon("[eventfd]".into()) },
            Request::Holders { object: Target::File { path: "/tmp/x y".into(), ino: 9 } },
        ] {
            let line = r.to_line();
            assert!(line.ends_with('\n') && line.matches('\n').count() == 1, "{line}");
            assert_eq!(parse(line.trim_end().as_bytes()), Ok(r));
        }
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        for (line, says) in [
            (&b"{"[..], "not a request"),
            (b"\xff\xfe", "not a request"),
            (br#"{"v":2,"query":"fds","pid":1}"#, "version 2"),
            (br#"{"v":1,"query":"fds"}"#, "no pid"),
            (br#"{"v":1,"query":"fds","pid":0}"#, "pid 0"),
            (br#"{"v":1,"query":"fds","pid":-5}"#, "pid -5"),
            (br#"{"v":1,"query":"fds","pid":99999999999}"#, "pid 99999999999"),
            (br#"{"v":1,"query":"fds","pid":1,"extra":1}"#, "unknown field"),
            (br#"{"v":1,"query":"holders","object":"pipe:[x]"}"#, "not pipe:[N]"),
            (br#"{"v":1,"query":"holders","object":"pipe:[0]"}"#, "not pipe:[N]"),
            (br#"{"v":1,"query":"holders","object":"relative"}"#, "absolute path"),
            (br#"{"v":1,"query":"holders","object":"/x"}"#, "absolute path"),
            (br#"{"v":1,"query":"holders","object":"pipe:[3]","ino":3}"#, "takes no ino"),
            (br#"{"v":1,"query":"holders","object":"anon_inode:"}"#, "no name"),
            (br#"{"v":1,"query":"rm -rf"}"#, "unknown query"),
        ] {
            let err = parse(line).expect_err(&String::from_utf8_lossy(line));
            assert!(err.contains(says), "{}: {err}", String::from_utf8_lossy(line));
        }
    }
}
