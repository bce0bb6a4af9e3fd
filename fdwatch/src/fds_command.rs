//! `fdwatch fds --pid N`: a process's fd table, as the model sees it, read from /proc
//! (an agent query comes later). Objects are decoded; CLOEXEC is shown.
use std::io::Write as _;

use crate::{
    clock::Clock,
    error::Failure,
    escape,
    model::{Model, Step, describe, snapshot::ProcSnapshot},
    procfs,
    sinks::json,
};

pub fn run(pid: u32, as_json: bool) -> Result<(), Failure> {
    let snap = procfs::snapshot(pid).ok_or_else(|| {
        Failure::usage(format!("no process with pid {pid} (or its /proc/{pid}/fd is not readable: try as root)"))
    })?;
    let out = render(&snap, as_json, &Clock::sample());
    match crate::sinks::stdout::Stdout::new().write_all(&out) {
        // A closed stdout (e.g. `| head`) is not an error worth a message.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::output(format!("cannot write to standard output: {e}")))
        }
        _ => Ok(()),
    }
}

/// The table of `snap`'s process: `fd` records, or text lines (each through
/// escape::line: the names are the process's own bytes).
fn render(snap: &ProcSnapshot, as_json: bool, clock: &Clock) -> Vec<u8> {
    let pid = snap.pid;
    let mut model = Model::default();
    model.load_snapshot(snap, Step::PresentAtStart);
    let mut out = Vec::new();
    let mut line = Vec::new();
    if !as_json {
        let _ = write!(line, "pid {pid} (");
        line.extend_from_slice(&snap.comm);
        line.extend_from_slice(b") ");
        line.extend_from_slice(snap.exe.as_deref().unwrap_or_default());
        escape::line(&mut out, &line);
        line.clear();
        let _ = write!(line, "{:>6}  {:<7}  {:<10}  {:<6}  OBJECT", "FD", "CLOEXEC", "ACCESS", "TYPE");
        escape::line(&mut out, &line);
    }
    for f in &snap.fds {
        let Some((entry, object)) = model.fd(pid, f.fd) else { continue };
        if as_json {
            let Some(fields) = describe::fd_fields(&model, pid, f.fd, clock, None) else { continue };
            let mut obj = json::Obj::new(&mut out);
            obj.str("type", "fd");
            for (k, v) in &fields {
                obj.value(k, v);
            }
            obj.end();
        } else {
            line.clear();
            let _ = write!(
                line,
                "{:>6}  {:<7}  {:<10}  {:<6}  ",
                f.fd,
                if entry.cloexec { "yes" } else { "no" },
                entry.access.name(),
                object.kind.type_name()
            );
            // The link as /proc shows it, which is the object's name (Object::proc_name),
            // in the bytes the model would keep only as text.
            line.extend_from_slice(&f.link);
            escape::line(&mut out, &line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Access, snapshot::FdSnapshot};

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
        let out = render(&hostile(), false, &Clock::fixed(0));
        assert!(escape::is_clean(&out), "{}", String::from_utf8_lossy(&out));
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2 + 3, "{text}");
        assert_eq!(lines[0], r"pid 42 (\x1b[31m\r\x07\nx\u{202e}) /tmp/a\nb\xff/c");
        assert!(lines[3].ends_with(r"  file    /tmp/f\n\x1b\xff"), "{}", lines[3]);
        assert!(lines[4].ends_with("  pipe    pipe:[7]"), "{}", lines[4]);
    }

    #[test]
    fn json_table_keeps_names_as_text() {
        let out = render(&hostile(), true, &Clock::fixed(0));
        let records: Vec<serde_json::Value> =
            out.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap()).collect();
        assert_eq!(records.len(), 3);
        assert_eq!(records[0]["comm"], "\x1b[31m\r\x07\nx\u{202e}");
        assert_eq!(records[1]["object"]["name"], "/tmp/f\n\x1b\u{fffd}");
    }
}
