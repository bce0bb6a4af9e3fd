//! Live queries (issue 16): `fdwatch fds` and `fdwatch holders` asking a real host-wide
//! agent on its own control socket (a path under this test's temp dir, so parallel tests
//! and other agents on the host do not meet), about real processes that made their fds
//! after the agent started; the /proc fallback without an agent; and the socket refusing
//! a client that is not root.
use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, ExitStatus},
    time::{Duration, Instant},
};

use fdwatch_tests::{agent::TempDir, alerts::*, model_check::*, *};

/// A host-wide agent (no --events: only the model matters here) listening on `socket`.
fn agent(socket: &Path) -> Fdwatch {
    let fw = Fdwatch::until_ready(Fdwatch::spawn_raw(&["--json", "--control-socket", socket.to_str().unwrap()]));
    assert!(socket.exists(), "the agent is ready but {} does not exist; stderr: {}", socket.display(), fw.stderr());
    fw
}

struct Asked {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Asked {
    /// The JSON lines of `--json`: the fd records and the end record.
    fn records(&self) -> (Vec<Value>, Value) {
        let mut v: Vec<Value> = self
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}\n{}", self.stdout)))
            .collect();
        let end = v.pop().unwrap_or_else(|| panic!("no records; stderr: {}", self.stderr));
        assert_eq!(end["type"], "end", "the last record is the end record: {end}");
        if let Some(why) = schema::violations(&end) {
            panic!("the end record breaks docs/schema.json: {why}: {end}");
        }
        assert_eq!(end["records"], v.len(), "the end record counts the records: {end}");
        (v, end)
    }
}

/// `fdwatch ARGS` (a query command), run by `runner` (e.g. setpriv) if given.
fn ask_with(runner: &[&str], bin: &Path, args: &[&str]) -> Asked {
    let mut command = match runner.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    let out = command.args(args).output().unwrap_or_else(|e| panic!("cannot run fdwatch {args:?}: {e}"));
    Asked {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ask(args: &[&str]) -> Asked {
    ask_with(&[], &fdwatch_bin(), args)
}

/// Each step of an fd record's history as (step, pid, from_pid or from_fd).
fn steps(record: &Value) -> Vec<(String, i64, i64)> {
    record["origin"]
        .as_array()
        .unwrap_or_else(|| panic!("no origin: {record}"))
        .iter()
        .map(|s| {
            let from = s["from_pid"].as_i64().or(s["from_fd"].as_i64()).unwrap_or(-1);
            (s["step"].as_str().unwrap_or("?").to_owned(), s["pid"].as_i64().unwrap_or(-1), from)
        })
        .collect()
}

fn fd_of(records: &[Value], fd: i64) -> &Value {
    records.iter().find(|r| r["fd"] == fd).unwrap_or_else(|| panic!("no fd {fd} in {records:#?}"))
}

/// Asks `fdwatch fds --pid PID --json` until the agent's fd set equals /proc's (the
/// model takes the events in within a turn or two of the collector's loop).
fn fds_matching_proc(socket: &str, pid: i64) -> Vec<Value> {
    let until = Instant::now() + DEADLINE;
    loop {
        let asked = ask(&["fds", "--pid", &pid.to_string(), "--json", "--control-socket", socket]);
        assert!(asked.status.success(), "fdwatch fds failed: {}", asked.stderr);
        assert!(asked.stderr.is_empty(), "the agent answers, nothing to say on stderr: {}", asked.stderr);
        let (records, end) = asked.records();
        assert_eq!(
            (end["source"].as_str(), end["query"].as_str(), end["pid"].as_i64()),
            (Some("agent"), Some("fds"), Some(pid))
        );
        let agent: Vec<i64> = records.iter().map(|r| r["fd"].as_i64().unwrap()).collect();
        let proc: Vec<i64> = proc_fds(pid).expect("the process is there").keys().map(|&fd| i64::from(fd)).collect();
        if agent == proc {
            return records;
        }
        assert!(Instant::now() < until, "pid {pid}: the agent's fds {agent:?} never equalled /proc's {proc:?}");
        std::thread::sleep(POLL);
    }
}

#[test]
fn fds_of_processes_made_after_the_agent_started_equal_proc_and_tell_their_history() {
    let dir = TempDir::new("queries-fds");
    let socket = dir.path("ctl/control.sock");
    let s = socket.to_str().unwrap();
    let fw = agent(&socket);
    // helpers/model_procs.c `chain`: P makes a pipe, a socket, a dup of it, an eventfd
    // ...; forks C1, which execs and forks C2, which execs sleep (model_exec_chain.rs).
    let mut tree = Tree::spawn(&["chain"]);
    let p = tree.pid();
    tree.send("go");
    let fds = tree.expect_ev("fds");
    let c1 = tree.expect_ev("paused")["child"].as_i64().unwrap();
    let c2 = tree.expect_ev("mid")["child"].as_i64().unwrap();
    let fd = |k: &str| fds[k].as_i64().unwrap_or_else(|| panic!("no {k} in {fds}"));
    let (sock, dupfd, efd) = (fd("socket"), fd("dup"), fd("eventfd"));
    wait_for("C2 to sleep in sleep", DEADLINE, || match proc_stat(c2) {
        Some((_, comm, _)) if comm == "sleep" && asleep(c2) => Ok(()),
        other => Err(format!("{other:?}")),
    });

    let c1_fds = fds_matching_proc(s, c1);
    let c2_fds = fds_matching_proc(s, c2);
    let st = |step: &str, pid: i64, from: i64| (step.to_owned(), pid, from);
    // Inherited at fork, kept across exec.
    assert_eq!(
        steps(fd_of(&c1_fds, sock)),
        [st("created", p, -1), st("inherited", c1, p), st("survived_exec", c1, -1)],
        "C1's socket: {}",
        fd_of(&c1_fds, sock)
    );
    assert_eq!(fd_of(&c1_fds, sock)["origin"][0]["syscall"], "socket");
    // Dup'd in P, then inherited and kept.
    assert_eq!(
        steps(fd_of(&c1_fds, dupfd)),
        [st("created", p, -1), st("dup", p, sock), st("inherited", c1, p), st("survived_exec", c1, -1)],
        "C1's dup: {}",
        fd_of(&c1_fds, dupfd)
    );
    // Two generations down.
    assert_eq!(
        steps(fd_of(&c2_fds, efd)),
        [
            st("created", p, -1),
            st("inherited", c1, p),
            st("survived_exec", c1, -1),
            st("inherited", c2, c1),
            st("survived_exec", c2, -1)
        ],
        "C2's eventfd: {}",
        fd_of(&c2_fds, efd)
    );
    assert_eq!(fd_of(&c2_fds, efd)["comm"], "sleep");

    // The text table says the same, one line per fd.
    let text = ask(&["fds", "--pid", &c2.to_string(), "--control-socket", s]);
    assert!(text.status.success() && text.stderr.is_empty(), "{}", text.stderr);
    let line = text
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{efd} ")))
        .unwrap_or_else(|| panic!("no line for fd {efd}:\n{}", text.stdout));
    assert!(
        line.ends_with(&format!(
            "eventfd2() in {p} > inherited from {p} by {c1} > kept across exec in {c1} > inherited from {c1} by {c2} > kept across exec in {c2}"
        )),
        "{line}"
    );
    assert_eq!(text.stdout.lines().count(), 2 + c2_fds.len(), "{}", text.stdout);
    assert!(text.stdout.starts_with(&format!("pid {c2} (sleep) ")), "{}", text.stdout);

    // A file by its path: P's /dev/null is among its holders, opened by P.
    let null = ask(&["holders", "/dev/null", "--json", "--control-socket", s]);
    assert!(null.status.success() && null.stderr.is_empty(), "{}", null.stderr);
    let (records, end) = null.records();
    assert_eq!(end["source"], "agent", "{end}");
    let devnull = fd("devnull");
    let mine = records
        .iter()
        .find(|r| r["pid"] == p && r["fd"] == devnull)
        .unwrap_or_else(|| panic!("P {p} fd {devnull} is not among /dev/null's holders: {records:#?}"));
    assert_eq!(steps(mine), [st("created", p, -1)], "{mine}");
    assert!(records.iter().all(|r| r["object"]["type"] == "null"), "only /dev/null: {records:#?}");

    // A pid the host does not have: the agent says so, the fallback finds none either.
    let gone = ask(&["fds", "--pid", "4194304", "--control-socket", s]);
    assert_eq!(gone.status.code(), Some(2), "{}", gone.stderr);
    drop(tree);
    let (status, records) = fw.stop();
    assert!(status.success(), "{status}");
    let stats = records.iter().rev().find(|r| r["type"] == "stats").expect("a last stats record");
    assert!(stats["queries"]["answered"].as_u64().unwrap_or(0) >= 3, "{stats}");
    assert!(!socket.exists(), "the agent removes its socket at exit");
}

#[test]
fn holders_of_the_seed_003_pipe_name_the_daemon_and_how_it_inherited_the_write_end() {
    let dir = TempDir::new("queries-holders");
    let socket = dir.path("ctl/control.sock");
    let s = socket.to_str().unwrap();
    let fw = agent(&socket);
    // Python's Popen(stdout=PIPE) runs a shell that starts `sleep 30 &` and exits; the
    // sleep keeps the write end, Python's read never ends (alert_pipe.rs).
    let mut py = Proc::run(&python(), &[&helper("pipe_leak.py"), "sleep 30 & echo $!", "1", "0"], "pipe_leak.py");
    let pid = py.pid();
    py.send("go");
    let popen = py.line("popen ");
    let (sh, rfd, ino) = (Proc::field(&popen, "pid"), Proc::field(&popen, "fd"), Proc::field(&popen, "ino"));
    let sleep = Proc::field(&py.line("first "), "line");
    py.also_kill(sleep);
    wait_for("sh to exit", DEADLINE, || if alive(sh) { Err("alive".into()) } else { Ok(()) });
    let pipe = format!("pipe:[{ino}]");

    let until = Instant::now() + DEADLINE;
    let records = loop {
        let asked = ask(&["holders", &pipe, "--json", "--control-socket", s]);
        assert!(asked.status.success() && asked.stderr.is_empty(), "{}", asked.stderr);
        let (records, end) = asked.records();
        assert_eq!((end["source"].as_str(), end["object"].as_str()), (Some("agent"), Some(pipe.as_str())));
        let holders: Vec<(i64, i64)> =
            records.iter().map(|r| (r["pid"].as_i64().unwrap(), r["fd"].as_i64().unwrap())).collect();
        if holders == [(pid, rfd), (sleep, 1)] || holders == [(sleep, 1), (pid, rfd)] {
            break records;
        }
        assert!(
            Instant::now() < until,
            "{pipe}: holders {holders:?}, expected python {pid} fd {rfd} and sleep {sleep} fd 1"
        );
        std::thread::sleep(POLL);
    };
    let daemon = records.iter().find(|r| r["pid"] == sleep).unwrap();
    assert_eq!(
        (daemon["comm"].as_str(), daemon["object"]["access"].as_str()),
        (Some("sleep"), Some("write")),
        "{daemon}"
    );
    let chain = steps(daemon);
    // It was made in python, reached sh at its fork, and the daemon from sh at its own:
    // (created in python ... inherited from sh by sleep, kept across sleep's exec).
    assert_eq!(chain.first().map(|s| (s.0.as_str(), s.1)), Some(("created", pid)), "{daemon}");
    assert!(chain.contains(&("inherited".to_owned(), sleep, sh)), "the daemon inherited it from sh {sh}: {daemon}");
    assert_eq!(chain.last(), Some(&("survived_exec".to_owned(), sleep, -1)), "{daemon}");
    let reader = records.iter().find(|r| r["pid"] == pid).unwrap();
    assert_eq!(reader["object"]["access"], "read", "{reader}");

    let text = ask(&["holders", &pipe, "--control-socket", s]);
    assert!(text.status.success() && text.stderr.is_empty(), "{}", text.stderr);
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert_eq!(lines[0], format!("{pipe}: held by 2 fds"), "{}", text.stdout);
    let line =
        lines.iter().find(|l| l.contains(&format!("pid {sleep} (sleep)"))).unwrap_or_else(|| panic!("{}", text.stdout));
    assert!(line.contains("fd 1 write: ") && line.contains(&format!("inherited from {sh} by {sleep}")), "{line}");
    eprintln!("fdwatch holders {pipe}:\n{}", text.stdout);
    drop(py);
    let _ = fw.stop();
}

#[test]
fn without_an_agent_fds_and_holders_read_proc_and_say_so() {
    let dir = TempDir::new("queries-none");
    let socket = dir.path("nobody-listens.sock");
    let s = socket.to_str().unwrap();
    let mut child = Command::new("sleep").arg("30").stdout(std::process::Stdio::piped()).spawn().expect("run sleep");
    let pid = i64::from(child.id());
    let ino = fd_ino(pid, 1).expect("sleep's stdout");
    wait_for("sleep to sleep (its fds settled)", DEADLINE, || if asleep(pid) { Ok(()) } else { Err("not yet".into()) });

    let fds = ask(&["fds", "--pid", &pid.to_string(), "--json", "--control-socket", s]);
    assert!(fds.status.success(), "{}", fds.stderr);
    assert_eq!(fds.stderr.lines().count(), 1, "one line says why: {}", fds.stderr);
    assert!(
        fds.stderr.contains(&format!("no fdwatch agent answers on {s}"))
            && fds.stderr.contains("reading /proc instead"),
        "{}",
        fds.stderr
    );
    let (records, end) = fds.records();
    assert_eq!(end["source"], "proc");
    let got: Vec<i64> = records.iter().map(|r| r["fd"].as_i64().unwrap()).collect();
    let proc: Vec<i64> = proc_fds(pid).unwrap().keys().map(|&fd| i64::from(fd)).collect();
    assert_eq!(got, proc);

    let pipe = format!("pipe:[{ino}]");
    let holders = ask(&["holders", &pipe, "--json", "--control-socket", s]);
    assert!(holders.status.success(), "{}", holders.stderr);
    assert!(holders.stderr.contains("reading every process's fds in /proc instead"), "{}", holders.stderr);
    let (records, end) = holders.records();
    assert_eq!(end["source"], "proc");
    let holders: Vec<(i64, i64)> =
        records.iter().map(|r| (r["pid"].as_i64().unwrap(), r["fd"].as_i64().unwrap())).collect();
    assert!(holders.contains(&(pid, 1)), "{holders:?}");
    // A path: this test's own binary, which it holds open nowhere; /proc/self/exe is
    // not an fd, so nobody holds it... but /dev/null is held by many.
    let null = ask(&["holders", "/dev/null", "--json", "--control-socket", s]);
    assert!(null.status.success(), "{}", null.stderr);
    let (records, _) = null.records();
    assert!(records.iter().all(|r| r["object"]["type"] == "null"), "{records:#?}");
    let _ = child.kill();
    let _ = child.wait();
}

/// A copy of the binary that nobody can run.
fn binary_for_anyone(dir: &TempDir) -> PathBuf {
    let bin = dir.path("fdwatch");
    std::fs::copy(fdwatch_bin(), &bin).expect("copy the binary");
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod the copy");
    bin
}

#[test]
fn the_control_socket_refuses_a_client_that_is_not_root() {
    let dir = TempDir::new("queries-refuse");
    let socket = dir.path("ctl/control.sock");
    let s = socket.to_str().unwrap();
    let fw = agent(&socket);
    let meta = std::fs::metadata(&socket).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "the socket is 0600");
    assert_eq!(std::fs::metadata(dir.path("ctl")).unwrap().permissions().mode() & 0o777, 0o700);
    let bin = binary_for_anyone(&dir);
    let nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];

    // As nobody: the directory and the socket's mode keep it out.
    let plain = ask_with(&nobody, &bin, &["holders", "pipe:[1]", "--json", "--control-socket", s]);
    assert!(
        plain.stderr.contains(&format!("cannot connect to the fdwatch agent on {s}"))
            && plain.stderr.contains("ermission denied"),
        "{}",
        plain.stderr
    );
    // As nobody past the file modes (CAP_DAC_OVERRIDE): SO_PEERCRED says uid 65534.
    let past = [&nobody[..], &["--inh-caps=+dac_override", "--ambient-caps=+dac_override"]].concat();
    let refused = ask_with(&past, &bin, &["holders", "pipe:[1]", "--json", "--control-socket", s]);
    assert!(refused.stderr.contains("refused: uid 65534 is not root"), "{}", refused.stderr);
    let (records, end) = refused.records();
    assert_eq!(end["source"], "proc", "it fell back to /proc: {end}");
    let _ = records;
    let said = Instant::now() + DEADLINE;
    while !fw.stderr().contains("refused a client of uid 65534") {
        assert!(Instant::now() < said, "the agent did not report the refusal: {}", fw.stderr());
        std::thread::sleep(POLL);
    }
    // Root is answered.
    let root = ask(&["holders", "pipe:[1]", "--json", "--control-socket", s]);
    assert_eq!(root.records().1["source"], "agent", "{}", root.stderr);
    let (_, records) = fw.stop();
    let stats = records.iter().rev().find(|r| r["type"] == "stats").unwrap();
    assert_eq!(stats["queries"]["refused"], 1, "{stats}");
}

#[test]
fn a_second_agent_leaves_a_live_socket_alone_and_a_stale_one_is_replaced() {
    let dir = TempDir::new("queries-second");
    let socket = dir.path("ctl/control.sock");
    let s = socket.to_str().unwrap();
    let first = agent(&socket);
    let second = Fdwatch::until_ready(Fdwatch::spawn_raw(&["--json", "--control-socket", s]));
    assert!(second.stderr().contains("another fdwatch answers on it; this one does not listen"), "{}", second.stderr());
    let _ = second.stop();
    assert!(socket.exists(), "the second agent leaves the first one's socket");
    assert_eq!(ask(&["holders", "pipe:[1]", "--json", "--control-socket", s]).records().1["source"], "agent");
    // SIGKILL: the first agent leaves its socket behind.
    let pid = first.pid() as i32;
    // SAFETY: kill has no memory-safety preconditions; the pid is our child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let _ = first.wait_done(Duration::from_secs(10));
    assert!(socket.exists(), "a killed agent leaves its socket");
    let third = agent(&socket);
    // Nothing about its socket (other lines, e.g. a process gone before its cgroup was
    // read, are not this test's business).
    assert!(!third.stderr().contains("control socket"), "{}", third.stderr());
    assert_eq!(ask(&["holders", "pipe:[1]", "--json", "--control-socket", s]).records().1["source"], "agent");
    let _ = third.stop();
}

#[test]
fn a_silent_client_is_dropped_after_its_deadline_and_holds_nobody_up() {
    use std::{
        io::{Read, Write},
        os::unix::net::UnixStream,
    };
    let dir = TempDir::new("queries-silent");
    let socket = dir.path("ctl/control.sock");
    let s = socket.to_str().unwrap();
    let fw = agent(&socket);
    // Connects and says nothing; another sends half a line and stops.
    let mut silent = UnixStream::connect(&socket).expect("connect");
    let mut half = UnixStream::connect(&socket).expect("connect");
    half.write_all(br#"{"v":1,"query":"#).unwrap();
    // Meanwhile a query is answered at once.
    let asked_at = Instant::now();
    let (_, end) = ask(&["holders", "pipe:[1]", "--json", "--control-socket", s]).records();
    assert_eq!(end["source"], "agent", "{end}");
    assert!(asked_at.elapsed() < Duration::from_secs(3), "answered only after {:?}", asked_at.elapsed());
    // A request that is not JSON is answered with why.
    let mut bad = UnixStream::connect(&socket).expect("connect");
    bad.write_all(b"rm -rf /\n").unwrap();
    let mut reply = String::new();
    bad.read_to_string(&mut reply).unwrap();
    assert!(reply.contains("\"error\":\"not a request"), "{reply}");
    // The silent ones are let go at their deadline (5 s): the agent closes on them.
    for (what, conn) in [("silent", &mut silent), ("half", &mut half)] {
        conn.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut buf = Vec::new();
        let started = Instant::now();
        let n = conn.read_to_end(&mut buf).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(n, 0, "{what}: nothing is sent to a client that asked nothing");
        assert!(started.elapsed() < DEADLINE, "{what}: still open");
    }
    let (_, records) = fw.stop();
    let stats = records.iter().rev().find(|r| r["type"] == "stats").unwrap();
    assert_eq!(stats["queries"]["dropped"], 2, "{stats}");
    assert_eq!(stats["queries"]["answered"], 2, "{stats}");
}

#[test]
fn a_process_with_thousands_of_fds_is_answered_whole_in_slices() {
    // helpers/model_procs.c `many`: 5000 fds of every kind, made after the agent
    // started; the reply spans five turns of the collector (control/turns.rs).
    let dir = TempDir::new("queries-many");
    let socket = dir.path("ctl/control.sock");
    let s = socket.to_str().unwrap();
    let fw = agent(&socket);
    let mut tree = Tree::spawn(&["many", "5000"]);
    let pid = tree.pid();
    tree.send("go");
    tree.expect_ev_within("paused", DEADLINE * 3);
    let records = fds_matching_proc(s, pid);
    assert!(records.len() > 4500, "{} fds", records.len());
    assert_eq!(steps(fd_of(&records, 3)), [("created".to_owned(), pid, -1)]);
    assert_eq!(fd_of(&records, 3)["origin"][0]["syscall"], "openat");
    drop(tree);
    let _ = fw.stop();
}
