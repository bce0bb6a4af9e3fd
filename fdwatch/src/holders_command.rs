//! `fdwatch holders OBJECT`: every process and fd holding a pipe, a socket, an
//! anonymous inode (as /proc/PID/fd names them: `pipe:[123]`) or a file (a path), and
//! how each got it, asked of the running agent; without one, found by reading every
//! process's fds in /proc (no history before now), saying so in one stderr line.
use std::{os::unix::fs::MetadataExt, path::Path};

use serde_json::Value;

use crate::{
    clock::Clock,
    control::{
        answer::{self, Source},
        client,
        protocol::{Request, Target},
        view,
    },
    error::{Failure, report},
    fds_command::{json_lines, print, split},
    model::{Model, Step},
    procfs,
    sinks::hostname,
};

/// What OBJECT names: the target, and for a file its device (the model keeps only
/// inode numbers: the holders found are checked against the device here).
fn target(object: &str) -> Result<(Target, Option<u64>), Failure> {
    if let Some(t) = Target::parse_proc_name(object).map_err(Failure::usage)? {
        return Ok((t, None));
    }
    let meta = std::fs::metadata(object).map_err(|e| {
        Failure::usage(format!(
            "{object:?}: not pipe:[N], socket:[N], anon_inode:NAME, nor a file that can be looked at ({e})"
        ))
    })?;
    let path = std::fs::canonicalize(object).map_or_else(|_| object.to_owned(), |p| p.to_string_lossy().into_owned());
    Ok((Target::File { path, ino: meta.ino() }, Some(meta.dev())))
}

pub fn run(object: &str, as_json: bool, socket: Option<&Path>) -> Result<(), Failure> {
    let (target, dev) = target(object)?;
    let request = Request::Holders { object: target.clone() };
    let (mut records, mut end) = match socket.map(|s| client::ask(s, &request)) {
        Some(Ok(reply)) => (reply.records, reply.end),
        asked => {
            if let Some(Err(why)) = asked {
                report(format_args!("{why}; reading every process's fds in /proc instead: no fd history"));
            }
            from_proc(&request)
        }
    };
    if let (Target::File { ino, .. }, Some(dev)) = (&target, dev) {
        // A file on another filesystem with the same inode number is not this one.
        records.retain(|r| same_file(r, dev, *ino));
        end["records"] = Value::from(records.len());
    }
    let mut out = Vec::new();
    if as_json {
        json_lines(&mut out, &records, &end);
    } else {
        view::holders(&mut out, &target.proc_name(), &records);
    }
    print(&out)
}

/// Whether fd `record` still refers to the file (dev, ino), by stat(2) through /proc.
fn same_file(record: &Value, dev: u64, ino: u64) -> bool {
    let (Some(pid), Some(fd)) = (record["pid"].as_u64(), record["fd"].as_u64()) else { return false };
    std::fs::metadata(format!("/proc/{pid}/fd/{fd}")).is_ok_and(|m| m.dev() == dev && m.ino() == ino)
}

/// The reply a reading of every process gives (all but this one).
fn from_proc(request: &Request) -> (Vec<Value>, Value) {
    let me = std::process::id();
    let pids: Vec<u32> = procfs::pids().into_iter().filter(|&p| p != me).collect();
    let mut model = Model::default();
    for snap in procfs::snapshots(&pids) {
        model.load_snapshot(&snap, Step::Resynced);
    }
    let fds = answer::matches(&model, request);
    split(&answer::render(&model, request, &fds, &Clock::sample(), &hostname(), Source::Proc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_proc_names_or_paths() {
        assert_eq!(target("pipe:[12]").unwrap().0, Target::Pipe(12));
        assert_eq!(target("socket:[13]").unwrap().0, Target::Socket(13));
        assert_eq!(target("anon_inode:[eventfd]").unwrap().0, Target::Anon("[eventfd]".into()));
        let (t, dev) = target("/").unwrap();
        assert!(matches!(t, Target::File { ref path, ino } if path == "/" && ino != 0), "{t:?}");
        assert!(dev.is_some());
        for bad in ["pipe:[x]", "/no/such/file", "socket:"] {
            let e = target(bad).unwrap_err();
            assert_eq!(e.code, crate::error::ExitCode::Usage, "{bad}");
        }
    }
}
