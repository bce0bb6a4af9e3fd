//! The text the query commands print from `fd` records (the agent's, or those made
//! from /proc): a table like lsof's with each fd's history on its line. Everything in
//! it came from other processes (comms, paths), so each line goes out through
//! escape::line.
use std::io::Write as _;

use serde_json::Value;

use crate::escape;

/// One step of a history, short: `pipe2() in 400`, `dup2 from fd 3 in 400`,
/// `inherited from 400 by 401`, `kept across exec in 401`, `received from 400 over fd 5
/// (recvmsg) by 401`.
fn step(s: &Value) -> String {
    let pid = &s["pid"];
    match s["step"].as_str().unwrap_or("?") {
        "present_at_start" => format!("open in {pid} when fdwatch started"),
        "resynced" => format!("re-read from /proc in {pid}"),
        "created" => format!("{}() in {pid}", s["syscall"].as_str().unwrap_or("?")),
        "dup" => format!("{} from fd {} in {pid}", s["syscall"].as_str().unwrap_or("?"), s["from_fd"]),
        "inherited" => format!("inherited from {} by {pid}", s["from_pid"]),
        "survived_exec" => format!("kept across exec in {pid}"),
        // SCM_RIGHTS: passed over a unix socket (unix(7)).
        "received" => match s["from_pid"].as_i64() {
            Some(from) => format!("received from {from} over fd {} ({}) by {pid}", s["via_fd"], text(&s["syscall"])),
            None => format!("received over fd {} ({}) by {pid}", s["via_fd"], text(&s["syscall"])),
        },
        "elided" => format!("({} steps)", s["steps"]),
        other => other.to_owned(),
    }
}

/// A whole history, oldest step first: `pipe2() in 400 > inherited from 400 by 401`.
pub fn origin(record: &Value) -> String {
    let steps: Vec<String> = record["origin"].as_array().map(|a| a.iter().map(step).collect()).unwrap_or_default();
    steps.join(" > ")
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// ` @3f2a9c1e0b7d (docker)` for a process in a container, else nothing.
fn container(record: &Value) -> String {
    let c = &record["container"];
    match c["id"].as_str() {
        Some(id) => format!(" @{} ({})", id.get(..12).unwrap_or(id), text(&c["runtime"])),
        None => String::new(),
    }
}

/// `fdwatch fds`: a header naming the process, then a line per fd. `link` gives a
/// file's current name as /proc shows it, in its bytes (JSON carries text only, and a
/// file may have been renamed since it was opened), as SIGUSR1 dumps do.
pub fn fd_table(
    out: &mut Vec<u8>,
    pid: u32,
    comm: &[u8],
    exe: &[u8],
    records: &[Value],
    link: &dyn Fn(i32) -> Option<Vec<u8>>,
) {
    let mut line = Vec::new();
    let _ = write!(line, "pid {pid} (");
    line.extend_from_slice(comm);
    line.extend_from_slice(b") ");
    line.extend_from_slice(exe);
    if let Some(first) = records.first() {
        line.extend_from_slice(container(first).as_bytes());
    }
    escape::line(out, &line);
    line.clear();
    let _ = write!(line, "{:>6}  {:<7}  {:<10}  {:<6}  {:<24}  ORIGIN", "FD", "CLOEXEC", "ACCESS", "TYPE", "OBJECT");
    escape::line(out, &line);
    for r in records {
        line.clear();
        let o = &r["object"];
        let _ = write!(
            line,
            "{:>6}  {:<7}  {:<10}  {:<6}  ",
            text(&r["fd"]),
            if r["cloexec"] == true { "yes" } else { "no" },
            text(&o["access"]),
            text(&o["type"]),
        );
        let fd = r["fd"].as_i64().and_then(|fd| i32::try_from(fd).ok());
        let name = match (fd, o["type"].as_str()) {
            (Some(fd), Some("file" | "tty")) => link(fd),
            _ => None,
        };
        let name = name.unwrap_or_else(|| text(&o["name"]).into_bytes());
        let pad = 24usize.saturating_sub(name.len());
        line.extend_from_slice(&name);
        line.resize(line.len() + pad, b' ');
        let _ = write!(line, "  {}", origin(r));
        escape::line(out, &line);
    }
}

/// `fdwatch holders`: who holds `object`, one line per fd with how it got there.
pub fn holders(out: &mut Vec<u8>, object: &str, records: &[Value]) {
    let mut line = Vec::new();
    match records.len() {
        0 => {
            let _ = write!(line, "{object}: no process holds it");
            escape::line(out, &line);
            return;
        }
        n => {
            let _ = write!(line, "{object}: held by {n} fd{}", if n == 1 { "" } else { "s" });
        }
    }
    escape::line(out, &line);
    for r in records {
        line.clear();
        let _ = write!(
            line,
            "  pid {} ({}){} fd {} {}{}: {}",
            text(&r["pid"]),
            text(&r["comm"]),
            container(r),
            text(&r["fd"]),
            text(&r["object"]["access"]),
            if r["cloexec"] == true { " cloexec" } else { "" },
            origin(r)
        );
        escape::line(out, &line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_reads_oldest_first_and_hostile_names_stay_on_their_line() {
        let r = serde_json::json!({
            "pid": 401, "comm": "evil\n\x1b[2J", "fd": 1, "cloexec": false,
            "container": {"id": "3f2a9c1e0b7d11112222", "runtime": "docker"},
            "object": {"type": "pipe", "name": "pipe:[9]", "access": "write"},
            "origin": [
                {"step": "created", "syscall": "pipe2", "pid": 400},
                {"step": "dup", "syscall": "dup2", "from_fd": 4, "pid": 400},
                {"step": "inherited", "from_pid": 400, "pid": 401},
                {"step": "survived_exec", "pid": 401},
                {"step": "received", "syscall": "recvmsg", "via_fd": 5, "from_pid": 399, "pid": 401},
            ],
        });
        assert_eq!(
            origin(&r),
            "pipe2() in 400 > dup2 from fd 4 in 400 > inherited from 400 by 401 > kept across exec in 401 > received \
             from 399 over fd 5 (recvmsg) by 401"
        );
        let mut out = Vec::new();
        holders(&mut out, "pipe:[9]", std::slice::from_ref(&r));
        assert!(escape::is_clean(&out));
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.contains(r"pid 401 (evil\n\x1b[2J) @3f2a9c1e0b7d (docker) fd 1 write: pipe2()"), "{text}");
        let mut out = Vec::new();
        fd_table(&mut out, 401, b"x\ry", b"/bin/x", &[r], &|_| None);
        assert!(escape::is_clean(&out));
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 3);
    }
}
