//! A mixed benign workload of at least 30 seconds under system-wide fdwatch (`--json`,
//! alerts only) must raise no alert at all (issue 4, "Done when"): shell scripts
//! (helpers/benign.sh under sh and bash), a cargo build of a small dependency-free crate
//! (offline), Python subprocess use (helpers/subprocess_mix.py, both close_fds), a
//! Python daemon on /dev/null, Popen with a short background job, and sockets on
//! loopback (a TCP server with concurrent clients, UDP datagrams) in this process.
//!
//! System-wide means every process of the host counts: any alert is printed in full, as
//! it is either a false positive or a real finding on this host.
use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream, UdpSocket},
    process::Command,
    thread,
    time::{Duration, Instant},
};

use fdwatch_tests::{alerts::*, *};

const MIN_RUN: Duration = Duration::from_secs(30);

/// How long one step of the workload may take: a cargo build on a loaded machine.
const STEP_DEADLINE: Duration = Duration::from_secs(120);

#[track_caller]
fn run_ok(cmd: Command, what: &str) {
    let (status, stdout, stderr) = child::run_to_end(cmd, what, STEP_DEADLINE);
    assert!(
        status.success(),
        "{what} failed ({status}):\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
}

/// A crate with no dependencies, in a fresh directory.
fn small_crate(dir: &std::path::Path) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"fdwatch-benign\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("src/main.rs"),
        r#"use std::collections::BTreeMap;
use std::io::Write;

fn main() {
    let mut counts = BTreeMap::new();
    for word in "a b c a b a".split(' ') {
        *counts.entry(word).or_insert(0u32) += 1;
    }
    let out = std::process::Command::new("echo").arg("child").output().expect("echo");
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{counts:?} {}", String::from_utf8_lossy(&out.stdout).trim()).unwrap();
}
"#,
    )
    .unwrap();
}

/// One round of loopback traffic: a TCP server thread answering `clients` concurrent
/// clients, and UDP datagrams between two sockets.
fn loopback_round(clients: usize) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        for _ in 0..clients {
            let (mut s, _) = listener.accept().unwrap();
            thread::spawn(move || {
                let mut buf = [0u8; 64];
                let n = s.read(&mut buf).unwrap();
                s.write_all(&buf[..n]).unwrap();
            });
        }
    });
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            thread::spawn(move || {
                let mut c = TcpStream::connect(addr).unwrap();
                c.set_read_timeout(Some(DEADLINE)).unwrap();
                let msg = format!("hello {i}");
                c.write_all(msg.as_bytes()).unwrap();
                let mut buf = vec![0u8; msg.len()];
                c.read_exact(&mut buf).unwrap();
                assert_eq!(buf, msg.as_bytes());
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    server.join().unwrap();
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    b.set_read_timeout(Some(DEADLINE)).unwrap();
    a.connect(b.local_addr().unwrap()).unwrap();
    for _ in 0..20 {
        a.send(b"statsd.counter:1|c").unwrap();
        let mut buf = [0u8; 64];
        b.recv_from(&mut buf).unwrap();
    }
}

#[test]
fn thirty_seconds_of_benign_work_raise_no_alert() {
    let fw = Fdwatch::spawn_raw(&["--json"]);
    fw.expect("the ready record", START_DEADLINE, |r| r["type"] == "ready");

    let dir = TempPath::new("benign-crate");
    small_crate(&dir.0);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target = dir.0.join("target");
    let started = Instant::now();
    let mut rounds = 0;
    while started.elapsed() < MIN_RUN || rounds < 2 {
        rounds += 1;
        for shell in ["/bin/sh", "/usr/bin/bash"] {
            let mut cmd = Command::new(shell);
            cmd.arg(helper("benign.sh"));
            run_ok(cmd, &format!("{shell} benign.sh"));
        }
        let _ = std::fs::remove_dir_all(&target);
        let mut build = Command::new(&cargo);
        build
            .args(["build", "--offline", "--quiet"])
            .current_dir(&dir.0)
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("RUSTFLAGS");
        run_ok(build, "cargo build --offline of a small crate");
        run_ok(Command::new(target.join("debug/fdwatch-benign")), "the small crate's binary");
        for close_fds in ["1", "0"] {
            let mut py = Proc::run(&python(), &[&helper("subprocess_mix.py"), close_fds], "subprocess_mix.py");
            py.send("go");
            py.line("done");
            py.finish_ok();
        }
        let mut py = Proc::run(
            &python(),
            &[&helper("pipe_leak.py"), "sleep 0.2 & echo $!", "1", "0"],
            "pipe_leak.py with a short background job",
        );
        py.send("go");
        py.line("eof ");
        py.finish_ok();
        let mut daemon = Proc::run(&python(), &[&helper("daemon.py"), "0.2"], "daemon.py");
        let dpid = Proc::field(&daemon.line("daemon "), "pid");
        daemon.also_kill(dpid);
        daemon.finish_ok();
        model_check::wait_for("the daemon to finish", DEADLINE, || {
            if alive(dpid) { Err("alive".to_string()) } else { Ok(()) }
        });
        loopback_round(16);
    }
    let ran = started.elapsed();
    assert!(ran >= MIN_RUN);
    let records = stop(fw);
    let alerts = alert_records(&records);
    if !alerts.is_empty() {
        for a in &alerts {
            eprintln!("ALERT: {a}");
        }
    }
    assert!(
        alerts.is_empty(),
        "{} alert/repeat/resolved records during {ran:?} ({rounds} rounds) of benign work; all of them:\n{}",
        alerts.len(),
        alerts.iter().map(|a| format!("  {a}")).collect::<Vec<_>>().join("\n")
    );
    // fdwatch saw the work: --json without --events writes no events, but its stats
    // count them.
    let stats = records.iter().rev().find(|r| r["type"] == "stats").expect("a stats record at the end");
    assert!(stats["events"].as_i64().unwrap_or(0) > 1000, "fdwatch saw little of the workload: {stats}");
    assert!(records.iter().all(|r| r["type"] != "event"), "--json without --events writes no event records");
}
