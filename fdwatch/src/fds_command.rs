//! `fdwatch fds --pid N`: a process's fd table with each fd's history, asked of the
//! running agent (control/); without one, read from /proc (no history before now),
//! saying so in one stderr line. Text like lsof, or `--json`: the `fd` records and the
//! `end` record as the agent sent them.
use std::path::Path;

use serde_json::Value;

use crate::{
    clock::Clock,
    control::{
        answer::{self, Source},
        client,
        protocol::Request,
        view,
    },
    error::{Failure, report},
    model::{Model, Step, snapshot::ProcSnapshot},
    procfs,
    sinks::hostname,
};

/// `socket`: the agent's control socket, None to read /proc without asking.
pub fn run(pid: u32, as_json: bool, socket: Option<&Path>) -> Result<(), Failure> {
    let request = Request::Fds { pid };
    let (records, end) = match socket.map(|s| client::ask(s, &request)) {
        Some(Ok(reply)) => (reply.records, reply.end),
        asked => {
            let snap = procfs::snapshot(pid).ok_or_else(|| {
                Failure::usage(format!(
                    "no process with pid {pid} (or its /proc/{pid}/fd is not readable: try as root)"
                ))
            })?;
            if let Some(Err(why)) = asked {
                report(format_args!("{why}; reading /proc instead: no fd history"));
            }
            from_proc(&snap, &request, &Clock::sample())
        }
    };
    let mut out = Vec::new();
    if as_json {
        json_lines(&mut out, &records, &end);
    } else {
        // The name as the process set it, bytes and all (escape::line shows them), else
        // the agent's text of it.
        let comm = procfs::stat(pid).map(|s| s.1);
        let comm = comm.or_else(|| records.first().and_then(|r| r["comm"].as_str()).map(|c| c.as_bytes().to_vec()));
        let comm = comm.unwrap_or_default();
        let link = |fd| procfs::fd_link(pid, fd);
        view::fd_table(&mut out, pid, &comm, &procfs::exe(pid).unwrap_or_default(), &records, &link);
    }
    print(&out)
}

/// The reply a /proc reading gives: the same records the agent would send, each fd's
/// history starting at the reading.
fn from_proc(snap: &ProcSnapshot, request: &Request, clock: &Clock) -> (Vec<Value>, Value) {
    let mut model = Model::default();
    model.load_snapshot(snap, Step::Resynced);
    let fds = answer::matches(&model, request);
    let bytes = answer::render(&model, request, &fds, clock, &hostname(), Source::Proc);
    split(&bytes)
}

/// Records and the end record of a rendered reply (ours: well-formed by construction).
pub fn split(bytes: &[u8]) -> (Vec<Value>, Value) {
    let mut records: Vec<Value> =
        bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).filter_map(|l| serde_json::from_slice(l).ok()).collect();
    let end = records.pop().unwrap_or(Value::Null);
    (records, end)
}

/// `--json`: one record per line, the end record last.
pub fn json_lines(out: &mut Vec<u8>, records: &[Value], end: &Value) {
    for r in records.iter().chain(std::iter::once(end)) {
        // serde_json escapes every control character: each record stays one line.
        if serde_json::to_writer(&mut *out, r).is_ok() {
            out.push(b'\n');
        }
    }
}

/// Write `out` to standard output; a closed one (`| head`) is not an error.
pub fn print(out: &[u8]) -> Result<(), Failure> {
    use std::io::Write as _;
    match crate::outputs::stdout::Stdout::new().write_all(out) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::output(format!("cannot write to standard output: {e}")))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        escape,
        model::{Access, snapshot::FdSnapshot},
    };

    fn hostile() -> ProcSnapshot {
        let fd = |fd, link: &[u8]| FdSnapshot {
            fd,
            link: link.to_vec(),
            cloexec: false,
            access: Access::Read,
            ino: 0,
            tty_index: None,
        };
        ProcSnapshot {
            pid: 42,
            ppid: 1,
            comm: b"\x1b[31m\r\x07\nx\xe2\x80\xae".to_vec(),
            exe: Some(b"/tmp/a\nb\xff/c".to_vec()),
            args: None,
            read_at_ns: 0,
            fds: vec![fd(0, b"/dev/null"), fd(3, b"/tmp/f\n\x1b\xff"), fd(4, b"pipe:[7]")],
        }
    }

    #[test]
    fn text_table_escapes_every_name_one_line_per_fd() {
        let snap = hostile();
        let (records, end) = from_proc(&snap, &Request::Fds { pid: 42 }, &Clock::fixed(0));
        assert_eq!(end["source"], "proc");
        let mut out = Vec::new();
        let link = |fd| snap.fds.iter().find(|f| f.fd == fd).map(|f| f.link.clone());
        view::fd_table(&mut out, 42, &snap.comm, snap.exe.as_deref().unwrap(), &records, &link);
        assert!(escape::is_clean(&out), "{}", String::from_utf8_lossy(&out));
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2 + 3, "{text}");
        assert_eq!(lines[0], r"pid 42 (\x1b[31m\r\x07\nx\u{202e}) /tmp/a\nb\xff/c");
        assert!(lines[3].contains(r"  file    /tmp/f\n\x1b\xff  "), "{}", lines[3]);
        assert!(lines[4].contains("  pipe    pipe:[7]"), "{}", lines[4]);
        assert!(lines[4].ends_with("re-read from /proc in 42"), "{}", lines[4]);
    }

    #[test]
    fn json_table_keeps_names_as_text_and_ends_with_the_end_record() {
        let (records, end) = from_proc(&hostile(), &Request::Fds { pid: 42 }, &Clock::fixed(0));
        let mut out = Vec::new();
        json_lines(&mut out, &records, &end);
        let (records, end) = split(&out);
        assert_eq!(records.len(), 3);
        assert_eq!(records[0]["comm"], "\x1b[31m\r\x07\nx\u{202e}");
        assert_eq!(records[1]["object"]["name"], "/tmp/f\n\x1b\u{fffd}");
        assert_eq!((end["type"].as_str(), end["records"].as_u64()), (Some("end"), Some(3)));
    }
}
