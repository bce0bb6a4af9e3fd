//! `fdwatch fds --pid N`: a process's fd table, as the model sees it, read from /proc
//! (an agent query comes later). Objects are decoded; CLOEXEC is shown.
use std::io::Write as _;

use crate::{
    clock::Clock,
    decode::args::Value,
    error::Failure,
    model::{Model, Step, describe},
    procfs,
    sinks::{json, text},
};

pub fn run(pid: u32, as_json: bool) -> Result<(), Failure> {
    let snap = procfs::snapshot(pid).ok_or_else(|| {
        Failure::usage(format!("no process with pid {pid} (or its /proc/{pid}/fd is not readable: try as root)"))
    })?;
    let mut model = Model::default();
    model.load_snapshot(&snap, Step::PresentAtStart);
    let clock = Clock::sample();
    let mut out = Vec::new();
    if !as_json {
        let _ = writeln!(out, "pid {pid} ({}) {}", snap.comm, snap.exe.as_deref().unwrap_or(""));
        let _ = writeln!(out, "{:>6}  {:<7}  {:<10}  {:<6}  OBJECT", "FD", "CLOEXEC", "ACCESS", "TYPE");
    }
    for f in &snap.fds {
        let Some((entry, object)) = model.fd(pid, f.fd) else { continue };
        if as_json {
            let Some(fields) = describe::fd_fields(&model, pid, f.fd, &clock, None) else { continue };
            let mut obj = json::Obj::new(&mut out);
            obj.str("type", "fd");
            for (k, v) in &fields {
                obj.value(k, v);
            }
            obj.end();
        } else {
            let mut name = String::new();
            text::write_value(&mut name, &Value::Str(object.proc_name().into()));
            let _ = writeln!(
                out,
                "{:>6}  {:<7}  {:<10}  {:<6}  {name}",
                f.fd,
                if entry.cloexec { "yes" } else { "no" },
                entry.access.name(),
                object.kind.type_name()
            );
        }
    }
    // A closed stdout (e.g. `| head`) is not an error worth a message.
    let _ = std::io::stdout().write_all(&out);
    Ok(())
}
